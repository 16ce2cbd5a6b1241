/*
 * wb_gprops: a group's Graph properties as the producer keeps them, merged from the group
 * objects of a round (Graph repeats a group across pages) and fingerprinted to see whether a
 * group changed between rounds.
 */
#include "wb_gprops.h"

#include "wb_fnv.h"
#include "wb_mem.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void wb_gprops_init(struct wb_gprops *p)
{
    memset(p, 0, sizeof(*p));
    p->security_enabled = p->mail_enabled = p->onprem_sync = -1;
}

void wb_gprops_free(struct wb_gprops *p)
{
    size_t i;

    if (!p)
        return;
    free(p->display_name);
    free(p->description);
    for (i = 0; i < p->ngroup_types; i++)
        free(p->group_types[i]);
    free(p->group_types);
    cJSON_Delete(p->extra);
    wb_gprops_init(p);
}

static int tri(const cJSON *v)
{
    if (cJSON_IsTrue(v))
        return 1;
    if (cJSON_IsFalse(v))
        return 0;
    return -1;
}

wb_err_t wb_gprops_merge(struct wb_gprops *p, const cJSON *obj, char *reason, size_t reasonsz)
{
    const cJSON *it;

    if (!cJSON_IsObject(obj))
        return wb_err_invalid(reason, reasonsz, "group is not a JSON object");
    cJSON_ArrayForEach(it, obj)
    {
        const char *k = it->string;

        if (!k || strcmp(k, "id") == 0 || k[0] == '@' || strcmp(k, "members@delta") == 0 ||
            strstr(k, "@odata.") != NULL)
            continue;
        if (strcmp(k, "displayName") == 0 || strcmp(k, "description") == 0) {
            bool is_dn = k[1] == 'i';
            char **dst = is_dn ? &p->display_name : &p->description;

            if (!cJSON_IsString(it) && !cJSON_IsNull(it))
                return wb_err_invalid(reason, reasonsz, "%s is not a string", k);
            free(*dst);
            *dst = cJSON_IsString(it) ? wb_strdup(it->valuestring) : NULL;
            p->present |= is_dn ? WB_GP_DISPLAY_NAME : WB_GP_DESCRIPTION;
        } else if (strcmp(k, "securityEnabled") == 0 || strcmp(k, "mailEnabled") == 0 ||
                   strcmp(k, "onPremisesSyncEnabled") == 0) {
            if (!cJSON_IsBool(it) && !cJSON_IsNull(it))
                return wb_err_invalid(reason, reasonsz, "%s is not a boolean", k);
            if (k[0] == 's') {
                p->security_enabled = tri(it);
                p->present |= WB_GP_SECURITY;
            } else if (k[0] == 'm') {
                p->mail_enabled = tri(it);
                p->present |= WB_GP_MAIL;
            } else {
                p->onprem_sync = tri(it);
                p->present |= WB_GP_ONPREM_SYNC;
            }
        } else if (strcmp(k, "groupTypes") == 0) {
            const cJSON *e;
            size_t n = 0, i;

            if (!cJSON_IsArray(it) && !cJSON_IsNull(it))
                return wb_err_invalid(reason, reasonsz, "groupTypes is not an array");
            cJSON_ArrayForEach(e, it)
            {
                if (!cJSON_IsString(e))
                    return wb_err_invalid(reason, reasonsz, "groupTypes holds a non-string");
            }
            for (i = 0; i < p->ngroup_types; i++)
                free(p->group_types[i]);
            free(p->group_types);
            p->group_types = NULL;
            p->ngroup_types = 0;
            n = (size_t)cJSON_GetArraySize(it);
            if (n) {
                p->group_types = wb_calloc(n, sizeof(char *));
                cJSON_ArrayForEach(e, it)
                {
                    p->group_types[p->ngroup_types++] = wb_strdup(e->valuestring);
                }
            }
            p->present |= WB_GP_GROUP_TYPES;
        } else {
            cJSON *dup = cJSON_Duplicate(it, 1);

            if (!dup)
                abort();
            if (!p->extra)
                p->extra = cJSON_CreateObject();
            if (cJSON_GetObjectItemCaseSensitive(p->extra, k))
                cJSON_ReplaceItemInObjectCaseSensitive(p->extra, k, dup);
            else
                cJSON_AddItemToObject(p->extra, k, dup);
        }
    }
    return WB_OK;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
    if (!s)
        return wb_fnv(h, "\x01", 1);
    return wb_fnv(wb_fnv(h, s, strlen(s)), "\0", 1);
}

uint64_t wb_gprops_hash(const struct wb_gprops *p)
{
    uint64_t h = WB_FNV_OFFSET;
    int b[3] = {p->security_enabled, p->mail_enabled, p->onprem_sync};
    size_t i;

    h = fnv_str(h, p->display_name);
    h = fnv_str(h, p->description);
    h = wb_fnv(h, b, sizeof(b));
    for (i = 0; i < p->ngroup_types; i++)
        h = fnv_str(h, p->group_types[i]);
    if (p->extra) {
        char *s = cJSON_PrintUnformatted(p->extra);

        h = fnv_str(h, s);
        free(s);
    }
    return h ? h : 1;
}
