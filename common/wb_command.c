/*
 * wb_command: the operator-command codec (see wb_command.h).
 */
#include "wb_command.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

wb_err_t wb_command_decode(struct wb_command *cmd, const char *json, size_t len, char *reason,
                           size_t sz)
{
    cJSON *j = cJSON_ParseWithLength(json, len);
    const cJSON *rs, *al;
    wb_err_t err = WB_ERR_INVALID;

    memset(cmd, 0, sizeof(*cmd));
    if (!cJSON_IsObject(j)) {
        wb_err_invalid(reason, sz, "not a JSON object");
        goto out;
    }
    rs = cJSON_GetObjectItemCaseSensitive(j, "resync");
    al = cJSON_GetObjectItemCaseSensitive(j, "allowDeletes");
    if (rs && !cJSON_IsBool(rs)) {
        wb_err_invalid(reason, sz, "resync is not a boolean");
        goto out;
    }
    cmd->resync = cJSON_IsTrue(rs);
    if (cJSON_IsString(al) && strcmp(al->valuestring, "all") == 0) {
        cmd->allow_all = true;
    } else if (cJSON_IsArray(al)) {
        const cJSON *e;

        cmd->allow = wb_idmap_new();
        cJSON_ArrayForEach(e, al)
        {
            struct wb_idkey k;

            if (!cJSON_IsString(e) || !wb_idkey_parse(e->valuestring, &k)) {
                wb_err_invalid(reason, sz, "allowDeletes holds a non-GUID");
                goto out;
            }
            wb_idmap_add(cmd->allow, &k);
        }
    } else if (al) {
        wb_err_invalid(reason, sz, "allowDeletes must be a list of ids or \"all\"");
        goto out;
    }
    err = WB_OK;
out:
    if (err != WB_OK)
        wb_command_free(cmd);
    cJSON_Delete(j);
    return err;
}

void wb_command_free(struct wb_command *cmd)
{
    if (!cmd)
        return;
    wb_idmap_destroy(cmd->allow, NULL);
    memset(cmd, 0, sizeof(*cmd));
}

/* {"v":1, name: item} as compact JSON; takes item. */
static char *encode(const char *name, cJSON *item)
{
    cJSON *j = cJSON_CreateObject();
    char *txt;

    cJSON_AddNumberToObject(j, "v", 1);
    cJSON_AddItemToObject(j, name, item);
    txt = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!txt)
        abort(); /* out of memory, as wb_mem */
    return txt;
}

char *wb_command_encode_resync(void)
{
    return encode("resync", cJSON_CreateTrue());
}

char *wb_command_encode_allow(const struct wb_idkey *ids, size_t n)
{
    cJSON *arr;
    size_t i;

    if (!ids)
        return encode("allowDeletes", cJSON_CreateString("all"));
    arr = cJSON_CreateArray();
    for (i = 0; i < n; i++) {
        char id[37];

        wb_idkey_format(&ids[i], id);
        cJSON_AddItemToArray(arr, cJSON_CreateString(id));
    }
    return encode("allowDeletes", arr);
}

char *wb_command_encode_pause(int64_t until_ms)
{
    return encode("until", cJSON_CreateNumber((double)until_ms));
}

wb_err_t wb_command_decode_pause(const char *json, size_t len, int64_t *until_ms, char *reason,
                                 size_t sz)
{
    cJSON *j = cJSON_ParseWithLength(json, len);
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "until");
    wb_err_t err = WB_ERR_INVALID;

    *until_ms = 0;
    if (!cJSON_IsObject(j))
        wb_err_invalid(reason, sz, "not a JSON object");
    else if (!cJSON_IsNumber(u) || u->valuedouble < 0 || u->valuedouble > 9.0e15)
        wb_err_invalid(reason, sz, "until is not a time in unix milliseconds");
    else
        err = WB_OK;
    if (err == WB_OK)
        *until_ms = (int64_t)u->valuedouble;
    cJSON_Delete(j);
    return err;
}
