/*
 * wb_users: user identities from Graph. Only id, onPremisesSecurityIdentifier and
 * onPremisesObjectIdentifier are selected: a million users then fit in well under 200 MB.
 * A SID or GUID that does not parse is treated as absent (and logged), never passed on.
 */
#include "wb_users.h"

#include "wb_id.h"
#include "wb_log.h"
#include "wb_mem.h"

#include <stdlib.h>
#include <string.h>

#define USER_SELECT "id,onPremisesSecurityIdentifier,onPremisesObjectIdentifier"
#define USERS_URL   "/v1.0/users/delta?$select=" USER_SELECT
#define BATCH       1000

struct wb_users_s {
    wb_graph_t *g;
    wb_delta_t *delta;
    wb_idmap_t *map;
    wb_idmap_t *old;   /* during a full round: the map it replaces */
    wb_idmap_t *moved; /* id -> struct wb_uident *: the identity before a pending change */
    size_t changed;
    char *resume; /* the committed deltaLink to catch up from after a start */
    bool listed;  /* a full round of this process built the map */
    bool catchup; /* applying the catch-up round: every user reported changed meanwhile */
    bool blind;   /* the catch-up link was dead */
};

static void uident_free(void *p)
{
    struct wb_uident *ui = p;

    free(ui->sid);
    free(ui->guid);
    free(ui);
}

static void uident_free_maybe(void *p)
{
    if (p)
        uident_free(p);
}

wb_users_t *wb_users_new(wb_graph_t *g, int max_retries, wb_metrics_t *metrics)
{
    wb_users_t *u = wb_calloc(1, sizeof(*u));

    u->g = g;
    u->delta = wb_delta_new(g, "users", USERS_URL, max_retries, metrics);
    u->map = wb_idmap_new();
    u->moved = wb_idmap_new();
    return u;
}

void wb_users_destroy(wb_users_t *u)
{
    if (!u)
        return;
    wb_idmap_destroy(u->map, uident_free);
    wb_idmap_destroy(u->old, uident_free_maybe);
    wb_idmap_destroy(u->moved, uident_free);
    wb_delta_destroy(u->delta);
    free(u->resume);
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

static bool str_eq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* Remembers the identity id had before its first pending change (the one AD holds). */
static void note_move(wb_users_t *u, const struct wb_idkey *k, const struct wb_uident *was)
{
    void **slot = wb_idmap_put(u->moved, k, NULL);
    struct wb_uident *c;

    if (*slot)
        return;
    c = wb_calloc(1, sizeof(*c));
    c->sid = was->sid ? wb_strdup(was->sid) : NULL;
    c->guid = was->guid ? wb_strdup(was->guid) : NULL;
    *slot = c;
}

/* A user the catch-up round reports: it changed while the producer was down, from an identity
 * nobody recorded. */
static void note_unknown(wb_users_t *u, const struct wb_idkey *k)
{
    void **slot = wb_idmap_put(u->moved, k, NULL);

    if (!*slot)
        *slot = wb_calloc(1, sizeof(struct wb_uident));
    ((struct wb_uident *)*slot)->unknown = true;
}

/* Stores one user object; removed users keep their last identity. A known user whose SID
 * changes (cleared, set or replaced) is noted in u->moved. */
static void store(wb_users_t *u, const cJSON *o)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    const cJSON *sid = cJSON_GetObjectItemCaseSensitive(o, "onPremisesSecurityIdentifier");
    const cJSON *guid = cJSON_GetObjectItemCaseSensitive(o, "onPremisesObjectIdentifier");
    const struct wb_uident *prev;
    struct wb_uident *ui;
    struct wb_idkey k;
    void **slot, **was;

    if (!cJSON_IsString(id) || !wb_idkey_parse(id->valuestring, &k)) {
        wb_log(LOG_WARNING, "GRAPH", "user object without a GUID id ignored");
        return;
    }
    slot = wb_idmap_put(u->map, &k, NULL);
    if (cJSON_GetObjectItemCaseSensitive(o, "@removed")) {
        if (*slot) {
            ((struct wb_uident *)*slot)->missing = false;
        } else {
            *slot = wb_calloc(1, sizeof(struct wb_uident));
            ((struct wb_uident *)*slot)->removed = true;
        }
        return;
    }
    if (u->catchup)
        note_unknown(u, &k);
    ui = *slot;
    /* the identity before this object: during a rebuild it is in the replaced map; a user
     * seen for the first time, or known only as missing, has none */
    was = u->old ? wb_idmap_get(u->old, &k) : NULL;
    prev = u->old ? (was ? *was : NULL) : ui;
    if (prev && prev->missing)
        prev = NULL;
    if (!ui)
        ui = *slot = wb_calloc(1, sizeof(*ui));
    ui->missing = ui->removed = false;
    /* absent properties (a minimal delta) leave the stored value alone */
    if (sid) {
        char *nsid = NULL;

        if (cJSON_IsString(sid) && *sid->valuestring) {
            if (wb_id_sid_valid(sid->valuestring))
                nsid = wb_strdup(sid->valuestring);
            else
                wb_log(LOG_WARNING, "GRAPH", "user %s: onPremisesSecurityIdentifier is not a SID",
                       id->valuestring);
        }
        if (prev && !u->catchup && !str_eq(prev->sid, nsid))
            note_move(u, &k, prev);
        free(ui->sid);
        ui->sid = nsid;
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

static void users_apply(void *ctx, const cJSON *value)
{
    wb_users_t *u = ctx;
    const cJSON *o;

    cJSON_ArrayForEach(o, value)
    {
        store(u, o);
        u->changed++;
    }
}

/* A full round rebuilds the map from Graph's listing: the current map is set aside and only
 * consulted, at the end, for the users the listing lacks (deleted meanwhile). */
static void users_restart(void *ctx)
{
    wb_users_t *u = ctx;

    u->catchup = false; /* a catch-up round reset to a full listing catches nothing up */
    if (!u->old) {
        u->old = u->map;
        u->map = wb_idmap_new();
    } else {
        wb_idmap_destroy(u->map, uident_free);
        u->map = wb_idmap_new();
    }
}

/* Ends a rebuild: users the listing no longer shows keep their last identity, so that the
 * removals of their memberships that the groups delta reports can still name them. */
static size_t rebuild_finish(wb_users_t *u)
{
    struct wb_idkey k;
    void *v;
    size_t pos = 0, kept = 0;

    if (!u->old)
        return 0;
    while (wb_idmap_next(u->old, &pos, &k, &v)) {
        struct wb_uident *ui = v, *now;
        void **slot;

        if (!ui || ui->missing || (!ui->sid && !ui->guid))
            continue;
        slot = wb_idmap_put(u->map, &k, NULL);
        now = *slot;
        /* absent, or only a placeholder for an @removed entry of the listing (a listed user
         * without SID and GUID is cloud-only now: that is its identity) */
        if (now && !now->removed)
            continue;
        if (now)
            uident_free(now);
        *slot = ui;
        *wb_idmap_get(u->old, &k) = NULL; /* moved */
        kept++;
    }
    wb_idmap_destroy(u->old, uident_free_maybe);
    u->old = NULL;
    return kept;
}

static const struct wb_delta_ops users_ops = {NULL, users_apply, users_restart};

static wb_err_t one_round(wb_users_t *u, struct wb_delta_result *res)
{
    wb_err_t err;
    size_t kept;

    u->changed = 0;
    err = wb_delta_round(u->delta, &users_ops, u, res);
    /* a failed rebuild keeps the identities it replaced, so nothing is lost meanwhile */
    kept = rebuild_finish(u);
    if (err == WB_OK)
        wb_dbg("graph", "GRAPH",
               "users delta: %s round, %zu pages, %zu users changed, %zu known (%zu no longer "
               "listed, identities kept)",
               res->full ? "full" : "incremental", res->pages, u->changed, wb_idmap_count(u->map),
               kept);
    return err;
}

/*
 * After a start: the full round that builds the map comes first, so that the map is complete
 * for every later round; then the catch-up round from the committed link, whose users changed
 * while the producer was down (its deltaLink, later than the listing's, is the one kept).
 */
static wb_err_t catch_up(wb_users_t *u)
{
    struct wb_delta_result res;
    wb_err_t err;

    if (!u->listed) {
        wb_delta_set_link(u->delta, NULL);
        err = one_round(u, &res);
        if (err != WB_OK)
            return err;
        u->listed = true;
    }
    wb_delta_set_link(u->delta, u->resume);
    u->catchup = true;
    err = one_round(u, &res);
    u->catchup = false;
    if (res.resets) {
        wb_log(LOG_WARNING, "GRAPH",
               "users delta: the committed deltaLink is dead; identity changes made while the "
               "producer was down cannot be followed one by one");
        u->blind = true;
    }
    if (err == WB_OK || res.resets) {
        if (err == WB_OK && !res.resets)
            wb_log(LOG_INFO, "GRAPH",
                   "users delta resumed from the checkpoint: %zu user(s) changed or deleted "
                   "while the producer was down",
                   u->changed);
        free(u->resume);
        u->resume = NULL;
    }
    return err;
}

wb_err_t wb_users_refresh(wb_users_t *u)
{
    struct wb_delta_result res;

    if (u->resume)
        return catch_up(u);
    return one_round(u, &res);
}

void wb_users_resync(wb_users_t *u)
{
    wb_delta_set_link(u->delta, NULL);
    free(u->resume);
    u->resume = NULL;
    u->blind = false;
}

void wb_users_resume(wb_users_t *u, const char *link)
{
    char *copy = link ? wb_strdup(link) : NULL;

    free(u->resume);
    u->resume = copy;
}

bool wb_users_take_blind(wb_users_t *u)
{
    bool was = u->blind;

    u->blind = false;
    return was;
}

const char *wb_users_link(const wb_users_t *u)
{
    return wb_delta_link(u->delta);
}

unsigned long wb_users_resets(const wb_users_t *u)
{
    return wb_delta_resets(u->delta);
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

const wb_idmap_t *wb_users_moved(const wb_users_t *u)
{
    return u->moved;
}

const struct wb_uident *wb_users_before(const wb_users_t *u, const struct wb_idkey *id)
{
    void **v = wb_idmap_get(u->moved, id);

    return v ? *v : NULL;
}

void wb_users_moved_clear(wb_users_t *u)
{
    wb_idmap_destroy(u->moved, uident_free);
    u->moved = wb_idmap_new();
}

static void group_add(void *ctx, const cJSON *o)
{
    const cJSON *gid = cJSON_GetObjectItemCaseSensitive(o, "id");
    struct wb_idkey gk;

    if (cJSON_IsString(gid) && wb_idkey_parse(gid->valuestring, &gk))
        wb_idmap_add(ctx, &gk);
}

wb_err_t wb_users_member_of(wb_users_t *u, const struct wb_idkey *id, wb_idmap_t *groups,
                            bool *gone)
{
    char s[37], *url;
    long status = 0;
    wb_err_t err;

    wb_idkey_format(id, s);
    url = wb_asprintf("/v1.0/users/%s/memberOf/microsoft.graph.group?$select=id&$top=999", s);
    err = wb_graph_list(u->g, url, group_add, groups, &status);
    free(url);
    *gone = err != WB_OK && status == 404;
    return err;
}
