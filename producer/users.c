/*
 * wb_users: user identities from Graph. Only id, onPremisesSecurityIdentifier and
 * onPremisesObjectIdentifier are selected: a million users then fit in well under 200 MB.
 * A SID or GUID that does not parse is treated as absent (and logged), never passed on.
 */
#include "users.h"

#include "wb_id.h"
#include "wb_log.h"
#include "wb_mem.h"

#include <stdlib.h>
#include <string.h>

#define USER_SELECT "id,onPremisesSecurityIdentifier,onPremisesObjectIdentifier"
#define BATCH       1000

struct wb_users_s {
    wb_graph_t *g;
    wb_idmap_t *map;
    char *delta_link;
};

static void uident_free(void *p)
{
    struct wb_uident *ui = p;

    free(ui->sid);
    free(ui->guid);
    free(ui);
}

wb_users_t *wb_users_new(wb_graph_t *g)
{
    wb_users_t *u = wb_calloc(1, sizeof(*u));

    u->g = g;
    u->map = wb_idmap_new();
    return u;
}

void wb_users_destroy(wb_users_t *u)
{
    if (!u)
        return;
    wb_idmap_destroy(u->map, uident_free);
    free(u->delta_link);
    free(u);
}

size_t wb_users_count(const wb_users_t *u)
{
    return wb_idmap_count(u->map);
}

const struct wb_uident *wb_users_get(const wb_users_t *u, const struct wb_idkey *id)
{
    void **v = wb_idmap_get(u->map, id);

    return v ? *v : NULL;
}

/* Stores one user object; removed users keep their last identity. */
static void store(wb_users_t *u, const cJSON *o)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    const cJSON *sid = cJSON_GetObjectItemCaseSensitive(o, "onPremisesSecurityIdentifier");
    const cJSON *guid = cJSON_GetObjectItemCaseSensitive(o, "onPremisesObjectIdentifier");
    struct wb_uident *ui;
    struct wb_idkey k;
    void **slot;

    if (!cJSON_IsString(id) || !wb_idkey_parse(id->valuestring, &k)) {
        wb_log(LOG_WARNING, "GRAPH", "user object without a GUID id ignored");
        return;
    }
    slot = wb_idmap_put(u->map, &k, NULL);
    if (cJSON_GetObjectItemCaseSensitive(o, "@removed")) {
        if (*slot)
            ((struct wb_uident *)*slot)->missing = false;
        else
            *slot = wb_calloc(1, sizeof(struct wb_uident));
        return;
    }
    ui = *slot;
    if (!ui)
        ui = *slot = wb_calloc(1, sizeof(*ui));
    ui->missing = false;
    /* absent properties (a minimal delta) leave the stored value alone */
    if (sid) {
        free(ui->sid);
        ui->sid = NULL;
        if (cJSON_IsString(sid) && *sid->valuestring) {
            if (wb_id_sid_valid(sid->valuestring))
                ui->sid = wb_strdup(sid->valuestring);
            else
                wb_log(LOG_WARNING, "GRAPH", "user %s: onPremisesSecurityIdentifier is not a SID",
                       id->valuestring);
        }
    }
    if (guid) {
        free(ui->guid);
        ui->guid = NULL;
        if (cJSON_IsString(guid) && wb_id_guid_valid(guid->valuestring)) {
            size_t i;

            ui->guid = wb_strdup(guid->valuestring);
            for (i = 0; ui->guid[i]; i++)
                if (ui->guid[i] >= 'A' && ui->guid[i] <= 'F')
                    ui->guid[i] = (char)(ui->guid[i] - 'A' + 'a');
        }
    }
}

static wb_err_t run_delta(wb_users_t *u, const char *start)
{
    char *url = wb_strdup(start);
    wb_err_t err = WB_OK;
    size_t pages = 0, n = 0;

    for (;;) {
        cJSON *page = NULL;
        const cJSON *v, *o, *next, *delta;
        bool resync = false;

        err = wb_graph_request(u->g, "GET", url, NULL, WB_GRAPH_DELTA, &page, &resync, NULL);
        if (err != WB_OK && resync && strcmp(url, start) != 0) {
            /* the state behind our link is gone: start over with a full round */
            free(url);
            free(u->delta_link);
            u->delta_link = NULL;
            url = wb_strdup("/v1.0/users/delta?$select=" USER_SELECT);
            start = "/v1.0/users/delta?$select=" USER_SELECT;
            continue;
        }
        if (err != WB_OK)
            break;
        pages++;
        v = cJSON_GetObjectItemCaseSensitive(page, "value");
        cJSON_ArrayForEach(o, v)
        {
            store(u, o);
            n++;
        }
        next = cJSON_GetObjectItemCaseSensitive(page, "@odata.nextLink");
        delta = cJSON_GetObjectItemCaseSensitive(page, "@odata.deltaLink");
        free(url);
        url = NULL;
        if (cJSON_IsString(next)) {
            url = wb_strdup(next->valuestring);
            cJSON_Delete(page);
            continue;
        }
        free(u->delta_link);
        u->delta_link = wb_strdup(delta->valuestring);
        cJSON_Delete(page);
        break;
    }
    free(url);
    if (err == WB_OK)
        wb_dbg("graph", "GRAPH", "users delta: %zu pages, %zu users changed, %zu known", pages, n,
               wb_idmap_count(u->map));
    return err;
}

wb_err_t wb_users_refresh(wb_users_t *u)
{
    if (u->delta_link) {
        char *link = wb_strdup(u->delta_link);
        wb_err_t err = run_delta(u, link);

        free(link);
        return err;
    }
    return run_delta(u, "/v1.0/users/delta?$select=" USER_SELECT);
}

wb_err_t wb_users_resolve(wb_users_t *u, const struct wb_idkey *ids, size_t n)
{
    struct wb_idkey *todo = wb_malloc((n ? n : 1) * sizeof(*todo));
    size_t k = 0, i, b;
    wb_err_t err = WB_OK;

    for (i = 0; i < n; i++)
        if (!wb_idmap_get(u->map, &ids[i]) || !*wb_idmap_get(u->map, &ids[i]))
            todo[k++] = ids[i];
    for (b = 0; b < k && err == WB_OK; b += BATCH) {
        size_t end = b + BATCH < k ? b + BATCH : k;
        cJSON *req = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(req, "ids"), *types;
        cJSON *resp = NULL;
        char *body;
        bool resync;

        types = cJSON_AddArrayToObject(req, "types");
        cJSON_AddItemToArray(types, cJSON_CreateString("user"));
        for (i = b; i < end; i++) {
            char s[37];

            wb_idkey_format(&todo[i], s);
            cJSON_AddItemToArray(arr, cJSON_CreateString(s));
        }
        body = cJSON_PrintUnformatted(req);
        cJSON_Delete(req);
        err = wb_graph_request(u->g, "POST", "/v1.0/directoryObjects/getByIds?$select=" USER_SELECT,
                               body, WB_GRAPH_LIST, &resp, &resync, NULL);
        free(body);
        if (err == WB_OK) {
            const cJSON *o;

            cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(resp, "value"))
            {
                store(u, o);
            }
            for (i = b; i < end; i++) {
                void **slot = wb_idmap_put(u->map, &todo[i], NULL);

                if (!*slot) {
                    struct wb_uident *ui = wb_calloc(1, sizeof(*ui));

                    ui->missing = true;
                    *slot = ui;
                }
            }
        }
        cJSON_Delete(resp);
    }
    free(todo);
    return err;
}
