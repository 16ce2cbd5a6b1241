/*
 * wb_ckpt: the checkpoint records of topic.state (see wb_ckpt.h).
 */
#include "wb_ckpt.h"

#include "wb_kafka.h"
#include "wb_log.h"
#include "wb_mem.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void wb_ckpt_init(struct wb_ckpt *c)
{
    memset(c, 0, sizeof(*c));
    c->command_offset = -1;
    c->in_scope = wb_idmap_new();
    c->staged = wb_idmap_new();
    c->nested = wb_idmap_new();
}

static void kids_free(void *p)
{
    struct wb_kids *k = p;

    free(k->ids);
    free(k);
}

void wb_ckpt_free(struct wb_ckpt *c)
{
    if (!c)
        return;
    free(c->delta_link);
    free(c->users_link);
    free(c->scope);
    wb_idmap_destroy(c->in_scope, NULL);
    wb_idmap_destroy(c->staged, NULL);
    wb_idmap_destroy(c->nested, kids_free);
    memset(c, 0, sizeof(*c));
}

void wb_ckpt_nested_add(struct wb_ckpt *c, const struct wb_idkey *parent,
                        const struct wb_idkey *child)
{
    void **slot = wb_idmap_put(c->nested, parent, NULL);
    struct wb_kids *k = *slot;
    size_t i;

    if (!k)
        k = *slot = wb_calloc(1, sizeof(*k));
    for (i = 0; i < k->n; i++)
        if (memcmp(k->ids[i].b, child->b, 16) == 0)
            return;
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 4;
        k->ids = wb_realloc(k->ids, k->cap * sizeof(*k->ids));
    }
    k->ids[k->n++] = *child;
}

void wb_ckpt_nested_del(struct wb_ckpt *c, const struct wb_idkey *parent,
                        const struct wb_idkey *child)
{
    void **slot = wb_idmap_get(c->nested, parent);
    struct wb_kids *k = slot ? *slot : NULL;
    size_t i;

    if (!k)
        return;
    for (i = 0; i < k->n; i++)
        if (memcmp(k->ids[i].b, child->b, 16) == 0) {
            k->ids[i] = k->ids[--k->n];
            break;
        }
    if (k->n == 0)
        kids_free(wb_idmap_del(c->nested, parent));
}

void wb_ckpt_nested_clear(struct wb_ckpt *c, const struct wb_idkey *parent)
{
    void *v = wb_idmap_del(c->nested, parent);

    if (v)
        kids_free(v);
}

void wb_ckpt_nested_copy(struct wb_ckpt *dst, const struct wb_ckpt *src)
{
    struct wb_idkey k;
    void *v;
    size_t pos = 0, i;

    wb_idmap_destroy(dst->nested, kids_free);
    dst->nested = wb_idmap_new();
    while (wb_idmap_next(src->nested, &pos, &k, &v)) {
        const struct wb_kids *kids = v;

        for (i = 0; i < kids->n; i++)
            wb_ckpt_nested_add(dst, &k, &kids->ids[i]);
    }
}

/* Every edge as a parent/child pair, sorted by parent: 2 * *n keys, caller-owned. */
static struct wb_idkey *nested_pairs(const struct wb_ckpt *c, size_t *n)
{
    struct wb_idkey *parents, *out;
    size_t np, i, j, k = 0, total = 0;

    parents = wb_idmap_keys_sorted(c->nested, &np);
    for (i = 0; i < np; i++)
        total += ((struct wb_kids *)*wb_idmap_get(c->nested, &parents[i]))->n;
    out = wb_malloc((total ? total : 1) * 2 * sizeof(*out));
    for (i = 0; i < np; i++) {
        const struct wb_kids *kids = *wb_idmap_get(c->nested, &parents[i]);

        for (j = 0; j < kids->n; j++) {
            out[2 * k] = parents[i];
            out[2 * k + 1] = kids->ids[j];
            k++;
        }
    }
    free(parents);
    *n = k;
    return out;
}

static void add_id(cJSON *arr, const struct wb_idkey *k)
{
    char s[37];

    wb_idkey_format(k, s);
    cJSON_AddItemToArray(arr, cJSON_CreateString(s));
}

static struct wb_idkey *staged_keys(const wb_idmap_t *m, void *kind, size_t *n)
{
    struct wb_idkey *all = NULL, *out;
    size_t na, i, k = 0;

    all = wb_idmap_keys_sorted(m, &na);
    out = wb_malloc((na ? na : 1) * sizeof(*out));
    for (i = 0; i < na; i++)
        if (*wb_idmap_get(m, &all[i]) == kind)
            out[k++] = all[i];
    free(all);
    *n = k;
    return out;
}

/* name: s, or null when s is NULL. */
static void add_str_or_null(cJSON *j, const char *name, const char *s)
{
    if (s)
        cJSON_AddStringToObject(j, name, s);
    else
        cJSON_AddNullToObject(j, name);
}

/* The fields only the first record has: the links, the flags, the counts and the time. */
static void add_head(cJSON *j, const struct wb_ckpt *c, size_t nrec, const size_t *counts)
{
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;

    add_str_or_null(j, "deltaLink", c->delta_link);
    add_str_or_null(j, "usersDeltaLink", c->users_link);
    cJSON_AddBoolToObject(j, "resync", c->resync);
    cJSON_AddStringToObject(j, "scope", c->scope ? c->scope : "");
    cJSON_AddNumberToObject(j, "commandOffset", (double)c->command_offset);
    cJSON_AddNumberToObject(j, "parts", (double)nrec);
    cJSON_AddNumberToObject(j, "inScopeCount", (double)counts[0]);
    cJSON_AddNumberToObject(j, "stagedCount", (double)(counts[1] + counts[2]));
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddStringToObject(j, "ts", ts);
}

/* The four id lists of a checkpoint (nested holds parent/child pairs) and how far the records
 * written so far have taken them: list li, position pos. */
struct ckpt_lists {
    struct wb_idkey *lists[4];
    size_t counts[4];
    size_t li, pos;
};

static const char *const list_names[4] = {"inScope", "stagedDeletes", "stagedUnscoped", "nested"};

/* Adds the four arrays to record j, filled with the next per ids of cl. */
static void add_ids(cJSON *j, struct ckpt_lists *cl, size_t per)
{
    cJSON *arrs[4];
    size_t budget = per, a;

    for (a = 0; a < 4; a++)
        arrs[a] = cJSON_AddArrayToObject(j, list_names[a]);
    while (budget > 0 && cl->li < 4) {
        if (cl->pos >= cl->counts[cl->li]) {
            cl->li++;
            cl->pos = 0;
            continue;
        }
        if (cl->li == 3) {
            char pa[37], ch[37], both[80];

            wb_idkey_format(&cl->lists[3][2 * cl->pos], pa);
            wb_idkey_format(&cl->lists[3][2 * cl->pos + 1], ch);
            snprintf(both, sizeof(both), "%s/%s", pa, ch);
            cJSON_AddItemToArray(arrs[3], cJSON_CreateString(both));
            cl->pos++;
        } else {
            add_id(arrs[cl->li], &cl->lists[cl->li][cl->pos++]);
        }
        budget--;
    }
}

size_t wb_ckpt_encode(const struct wb_ckpt *c, const char *tenant, size_t per, char ***keys_out,
                      char ***values_out)
{
    struct ckpt_lists cl;
    size_t total, nrec, r;
    char **keys, **values;

    if (per == 0)
        per = WB_CKPT_IDS_PER_RECORD;
    memset(&cl, 0, sizeof(cl));
    cl.lists[0] = wb_idmap_keys_sorted(c->in_scope, &cl.counts[0]);
    cl.lists[1] = staged_keys(c->staged, WB_CKPT_STAGED_DELETE, &cl.counts[1]);
    cl.lists[2] = staged_keys(c->staged, WB_CKPT_STAGED_UNSCOPED, &cl.counts[2]);
    cl.lists[3] = nested_pairs(c, &cl.counts[3]);
    total = cl.counts[0] + cl.counts[1] + cl.counts[2] + cl.counts[3];
    nrec = total == 0 ? 1 : (total + per - 1) / per;
    keys = wb_calloc(nrec, sizeof(char *));
    values = wb_calloc(nrec, sizeof(char *));
    for (r = 0; r < nrec; r++) {
        cJSON *j = cJSON_CreateObject();

        cJSON_AddNumberToObject(j, "v", 1);
        cJSON_AddNumberToObject(j, "round", (double)c->round);
        if (r == 0) {
            keys[r] = wb_asprintf("%s/checkpoint", tenant);
            add_head(j, c, nrec, cl.counts);
        } else {
            keys[r] = wb_asprintf("%s/checkpoint/%zu", tenant, r);
            cJSON_AddNumberToObject(j, "part", (double)r);
        }
        add_ids(j, &cl, per);
        values[r] = cJSON_PrintUnformatted(j);
        if (!values[r])
            abort();
        cJSON_Delete(j);
    }
    for (r = 0; r < 4; r++)
        free(cl.lists[r]);
    *keys_out = keys;
    *values_out = values;
    return nrec;
}

static wb_err_t read_lists(struct wb_ckpt *c, const cJSON *j, char *reason, size_t sz)
{
    size_t a;

    for (a = 0; a < 4; a++) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, list_names[a]), *e;

        if (!arr)
            continue;
        if (!cJSON_IsArray(arr))
            return wb_err_invalid(reason, sz, "%s is not an array", list_names[a]);
        cJSON_ArrayForEach(e, arr)
        {
            struct wb_idkey k, ch;

            if (a == 3) {
                const char *slash = cJSON_IsString(e) ? strchr(e->valuestring, '/') : NULL;
                char pa[40];

                if (!slash || slash - e->valuestring != 36 || !wb_idkey_parse(slash + 1, &ch))
                    return wb_err_invalid(reason, sz, "nested holds a malformed edge");
                memcpy(pa, e->valuestring, 36);
                pa[36] = '\0';
                if (!wb_idkey_parse(pa, &k))
                    return wb_err_invalid(reason, sz, "nested holds a malformed edge");
                wb_ckpt_nested_add(c, &k, &ch);
                continue;
            }
            if (!cJSON_IsString(e) || !wb_idkey_parse(e->valuestring, &k))
                return wb_err_invalid(reason, sz, "%s holds a non-GUID", list_names[a]);
            if (a == 0)
                wb_idmap_add(c->in_scope, &k);
            else
                *wb_idmap_put(c->staged, &k, NULL) =
                    a == 1 ? WB_CKPT_STAGED_DELETE : WB_CKPT_STAGED_UNSCOPED;
        }
    }
    return WB_OK;
}

static bool get_uint(const cJSON *j, const char *name, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);

    if (!cJSON_IsNumber(v) || v->valuedouble < -1 || v->valuedouble > 9007199254740992.0)
        return false;
    *out = v->valuedouble;
    return true;
}

wb_err_t wb_ckpt_decode(struct wb_ckpt *c, const char *json, size_t len, unsigned *parts,
                        char *reason, size_t sz)
{
    cJSON *j = cJSON_ParseWithLength(json, len);
    const cJSON *dl, *ul, *sc, *rs;
    double v, round, cmd = -1, np = 1;
    wb_err_t err = WB_ERR_INVALID;

    wb_ckpt_free(c);
    wb_ckpt_init(c);
    if (!cJSON_IsObject(j)) {
        wb_err_invalid(reason, sz, "not a JSON object");
        goto out;
    }
    if (!get_uint(j, "v", &v) || v != 1) {
        wb_err_invalid(reason, sz, "unknown or missing v");
        goto out;
    }
    if (!get_uint(j, "round", &round) || round < 0) {
        wb_err_invalid(reason, sz, "bad round");
        goto out;
    }
    if (cJSON_GetObjectItemCaseSensitive(j, "commandOffset") &&
        !get_uint(j, "commandOffset", &cmd)) {
        wb_err_invalid(reason, sz, "bad commandOffset");
        goto out;
    }
    if (cJSON_GetObjectItemCaseSensitive(j, "parts") &&
        (!get_uint(j, "parts", &np) || np < 1 || np > 1000000)) {
        wb_err_invalid(reason, sz, "bad parts");
        goto out;
    }
    dl = cJSON_GetObjectItemCaseSensitive(j, "deltaLink");
    if (dl && !cJSON_IsString(dl) && !cJSON_IsNull(dl)) {
        wb_err_invalid(reason, sz, "deltaLink is not a string");
        goto out;
    }
    ul = cJSON_GetObjectItemCaseSensitive(j, "usersDeltaLink");
    if (ul && !cJSON_IsString(ul) && !cJSON_IsNull(ul)) {
        wb_err_invalid(reason, sz, "usersDeltaLink is not a string");
        goto out;
    }
    sc = cJSON_GetObjectItemCaseSensitive(j, "scope");
    rs = cJSON_GetObjectItemCaseSensitive(j, "resync");
    c->round = (uint64_t)round;
    c->command_offset = (int64_t)cmd;
    c->delta_link = cJSON_IsString(dl) && *dl->valuestring ? wb_strdup(dl->valuestring) : NULL;
    c->users_link = cJSON_IsString(ul) && *ul->valuestring ? wb_strdup(ul->valuestring) : NULL;
    c->scope = cJSON_IsString(sc) ? wb_strdup(sc->valuestring) : NULL;
    c->resync = cJSON_IsTrue(rs);
    err = read_lists(c, j, reason, sz);
    *parts = (unsigned)np;
out:
    if (err != WB_OK) {
        wb_ckpt_free(c);
        wb_ckpt_init(c);
    }
    cJSON_Delete(j);
    return err;
}

wb_err_t wb_ckpt_decode_part(struct wb_ckpt *c, unsigned k, const char *json, size_t len,
                             char *reason, size_t sz)
{
    cJSON *j = cJSON_ParseWithLength(json, len);
    double round, part;
    wb_err_t err = WB_ERR_INVALID;

    if (!cJSON_IsObject(j))
        wb_err_invalid(reason, sz, "part %u: not a JSON object", k);
    else if (!get_uint(j, "round", &round) || (uint64_t)round != c->round)
        wb_err_invalid(reason, sz, "part %u: belongs to another round", k);
    else if (!get_uint(j, "part", &part) || (unsigned)part != k)
        wb_err_invalid(reason, sz, "part %u: wrong part number", k);
    else
        err = read_lists(c, j, reason, sz);
    cJSON_Delete(j);
    return err;
}
