/*
 * wb_round: delta paging and merging. A page is checked completely before anything in it is
 * applied, so a page that is fetched again after a malformed answer is never half-applied.
 */
#include "wb_round.h"

#include "wb_log.h"
#include "wb_mem.h"

#include <stdlib.h>
#include <string.h>

#define GROUP_SELECT                                                                               \
    "id,displayName,description,securityEnabled,mailEnabled,groupTypes,onPremisesSyncEnabled,"     \
    "members"

static void rgroup_free(void *p)
{
    struct wb_rgroup *rg = p;

    wb_gprops_free(&rg->props);
    free(rg->m);
    free(rg);
}

void wb_round_init(struct wb_round *r)
{
    memset(r, 0, sizeof(*r));
    r->groups = wb_idmap_new();
}

void wb_round_free(struct wb_round *r)
{
    if (!r)
        return;
    wb_idmap_destroy(r->groups, rgroup_free);
    free(r->delta_link);
    memset(r, 0, sizeof(*r));
}

char *wb_round_initial_url(const char *const *extra)
{
    size_t i, len = strlen(GROUP_SELECT) + 64;
    char *url;

    for (i = 0; extra && extra[i]; i++)
        len += strlen(extra[i]) + 1;
    url = wb_malloc(len);
    snprintf(url, len, "/v1.0/groups/delta?$select=%s", GROUP_SELECT);
    for (i = 0; extra && extra[i]; i++) {
        char *needle = wb_asprintf(",%s,", extra[i]);
        bool have = strstr("," GROUP_SELECT ",", needle) != NULL;

        free(needle);
        if (have) /* the base list already has it */
            continue;
        strcat(url, ",");
        strcat(url, extra[i]);
    }
    return url;
}

static int member_kind(const cJSON *e)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "@odata.type");

    if (!cJSON_IsString(t))
        return WB_MK_OTHER;
    if (strcmp(t->valuestring, "#microsoft.graph.user") == 0)
        return WB_MK_USER;
    if (strcmp(t->valuestring, "#microsoft.graph.group") == 0)
        return WB_MK_GROUP;
    return WB_MK_OTHER;
}

/* Checks a page's objects; returns NULL or why it is malformed. */
static const char *check_page(const cJSON *value)
{
    const cJSON *o;

    cJSON_ArrayForEach(o, value)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id"), *md, *e;
        struct wb_idkey k;
        struct wb_gprops tmp;
        char reason[128];
        wb_err_t err;

        if (!cJSON_IsObject(o) || !cJSON_IsString(id) || !wb_idkey_parse(id->valuestring, &k))
            return "object without a GUID id";
        if (cJSON_GetObjectItemCaseSensitive(o, "@removed"))
            continue;
        wb_gprops_init(&tmp);
        err = wb_gprops_merge(&tmp, o, reason, sizeof(reason));
        wb_gprops_free(&tmp);
        if (err != WB_OK)
            return "group property of the wrong type";
        md = cJSON_GetObjectItemCaseSensitive(o, "members@delta");
        if (md && !cJSON_IsArray(md))
            return "members@delta is not an array";
        cJSON_ArrayForEach(e, md)
        {
            const cJSON *mid = cJSON_GetObjectItemCaseSensitive(e, "id");

            if (!cJSON_IsString(mid) || !wb_idkey_parse(mid->valuestring, &k))
                return "member without a GUID id";
        }
    }
    return NULL;
}

static void apply_page(struct wb_round *r, const cJSON *value)
{
    const cJSON *o;

    cJSON_ArrayForEach(o, value)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id"), *md, *e;
        struct wb_rgroup *rg;
        struct wb_idkey k;
        void **slot;
        bool has_props = false;

        wb_idkey_parse(id->valuestring, &k);
        slot = wb_idmap_put(r->groups, &k, NULL);
        if (!*slot) {
            rg = wb_calloc(1, sizeof(*rg));
            wb_gprops_init(&rg->props);
            *slot = rg;
        }
        rg = *slot;
        r->objects++;
        if (cJSON_GetObjectItemCaseSensitive(o, "@removed")) {
            rg->removed = true;
            continue;
        }
        rg->removed = false;
        cJSON_ArrayForEach(e, o)
        {
            if (e->string && strcmp(e->string, "id") != 0 &&
                strcmp(e->string, "members@delta") != 0 && e->string[0] != '@')
                has_props = true;
        }
        if (has_props) {
            wb_gprops_merge(&rg->props, o, NULL, 0);
            rg->have_props = true;
        }
        md = cJSON_GetObjectItemCaseSensitive(o, "members@delta");
        cJSON_ArrayForEach(e, md)
        {
            struct wb_idkey mk;

            wb_idkey_parse(cJSON_GetObjectItemCaseSensitive(e, "id")->valuestring, &mk);
            wb_rgroup_push(rg, &mk, member_kind(e),
                           !cJSON_GetObjectItemCaseSensitive(e, "@removed"), r->seq++);
        }
    }
}

static void round_apply(void *ctx, const cJSON *value)
{
    struct wb_round *r = ctx;

    apply_page(r, value);
    r->pages++;
}

static void round_restart(void *ctx)
{
    struct wb_round *r = ctx;
    size_t pages = r->pages;

    wb_round_free(r);
    wb_round_init(r);
    r->pages = pages; /* pages fetched, discarded ones included */
}

static const struct wb_delta_ops round_ops = {check_page, round_apply, round_restart};

const char *wb_round_page(struct wb_round *r, const cJSON *page, char **next)
{
    const char *why = NULL, *nl, *dl;

    *next = NULL;
    if (!wb_graph_page_ok(page, WB_GRAPH_DELTA, &why))
        return why;
    why = wb_delta_page(&round_ops, r, page, &nl, &dl);
    if (why)
        return why;
    if (nl) {
        *next = wb_strdup(nl);
    } else {
        free(r->delta_link);
        r->delta_link = wb_strdup(dl);
    }
    return NULL;
}

wb_err_t wb_round_fetch(wb_delta_t *d, struct wb_round *r, struct wb_delta_result *res)
{
    struct wb_delta_result tmp;
    wb_err_t err = wb_delta_round(d, &round_ops, r, &tmp);

    r->full = tmp.full;
    if (err == WB_OK)
        r->delta_link = wb_strdup(wb_delta_link(d));
    if (res)
        *res = tmp;
    return err;
}

struct members_ctx {
    struct wb_rgroup *rg;
    uint32_t seq;
};

static void member_push(void *ctx, const cJSON *o)
{
    struct members_ctx *c = ctx;
    const cJSON *mid = cJSON_GetObjectItemCaseSensitive(o, "id");
    struct wb_idkey mk;

    if (cJSON_IsString(mid) && wb_idkey_parse(mid->valuestring, &mk))
        wb_rgroup_push(c->rg, &mk, member_kind(o), 1, c->seq++);
}

wb_err_t wb_round_members(wb_graph_t *g, const char *id, struct wb_rgroup *rg, bool *gone)
{
    char *url = wb_asprintf("/v1.0/groups/%s/members?$select=id&$top=999", id);
    struct members_ctx c = {rg, 0};
    long status = 0;
    wb_err_t err;

    err = wb_graph_list(g, url, member_push, &c, &status);
    free(url);
    *gone = err != WB_OK && status == 404;
    return err;
}
