/*
 * wb_producer_plan.c: a round's plan: the groups delta, the groups in scope after the round,
 * those entering scope, changed or leaving it (with the staged deletions and the delete
 * threshold), and the nested-group edges the checkpoint carries.
 */
#include "wb_producer_int.h"

#include "wb_log.h"
#include "wb_mem.h"

#include <inttypes.h>
#include <stdlib.h>

void wb_producer_plan_free(struct plan *pl)
{
    wb_round_free(&pl->r);
    wb_idmap_destroy(pl->s1, NULL);
    wb_idmap_destroy(pl->both, NULL);
    wb_idmap_destroy(pl->snap, NULL);
    wb_idmap_destroy(pl->resnap, NULL);
    wb_idmap_destroy(pl->upsert, NULL);
    wb_idmap_destroy(pl->gone, NULL);
    wb_idmap_destroy(pl->staged, NULL);
    wb_idmap_destroy(pl->release, NULL);
    wb_idmap_destroy(pl->allow, NULL);
    wb_idmap_destroy(pl->refused, NULL);
}

static wb_idmap_t *idmap_copy(const wb_idmap_t *src)
{
    wb_idmap_t *m = wb_idmap_new();
    struct wb_idkey k;
    void *v;
    size_t pos = 0;

    while (wb_idmap_next(src, &pos, &k, &v))
        *wb_idmap_put(m, &k, NULL) = v;
    return m;
}

/* Groups delta: through p->gdelta, which restarts it as a full round when Graph lost the
 * sync state (of the checkpoint's link or of a nextLink). */
static wb_err_t fetch(wb_producer_t *p, struct plan *pl, bool full)
{
    struct wb_delta_result res;
    wb_err_t err;

    wb_round_init(&pl->r);
    wb_delta_set_link(p->gdelta, full ? NULL : p->ck.delta_link);
    err = wb_round_fetch(p->gdelta, &pl->r, &res);
    if (p->m_pages)
        wb_metrics_inc(p->m_pages, NULL, (double)res.pages);
    if (res.resets && p->ck.delta_link) {
        free(p->ck.delta_link);
        p->ck.delta_link = NULL;
        p->ck.resync = true;
        wb_producer_persist_reset(p, "groups");
    }
    return err;
}

/* S1, the groups in scope after the round: S0 (none in a full round) with the round's
 * removals and scope changes. */
static void plan_scope(wb_producer_t *p, struct plan *pl)
{
    struct wb_idkey k;
    void *v;
    size_t pos = 0;
    char id[37];

    pl->s1 = pl->r.full ? wb_idmap_new() : idmap_copy(p->ck.in_scope);
    while (wb_idmap_next(pl->r.groups, &pos, &k, &v)) {
        struct wb_rgroup *rg = v;

        wb_idkey_format(&k, id);
        if (rg->removed) {
            wb_idmap_del(pl->s1, &k);
        } else if (rg->have_props) {
            if (wb_scope_match(p->scope, id, &rg->props))
                wb_idmap_add(pl->s1, &k);
            else
                wb_idmap_del(pl->s1, &k);
        }
    }
}

/* Groups entering scope (snap) and groups in scope whose properties changed (upsert). */
static void plan_changes(wb_producer_t *p, struct plan *pl)
{
    const wb_idmap_t *s0 = p->ck.in_scope;
    struct wb_idkey k;
    void *v;
    size_t pos = 0;

    while (wb_idmap_next(pl->r.groups, &pos, &k, &v)) {
        struct wb_rgroup *rg = v;
        void **h;

        if (!wb_idmap_has(pl->s1, &k))
            continue;
        if (pl->r.full || !wb_idmap_has(s0, &k)) {
            wb_idmap_add(pl->snap, &k);
            continue;
        }
        h = wb_idmap_get(p->hashes, &k);
        if (rg->have_props && (!h || (uintptr_t)*h != (uintptr_t)wb_gprops_hash(&rg->props)))
            wb_idmap_add(pl->upsert, &k);
    }
}

/* Groups leaving scope (gone: deleted in Graph, or out of scope), and the staged deletions:
 * released by a command, cancelled by a return to scope, or kept; more deletions than
 * graph.delete_threshold are staged instead of emitted. */
static void plan_leaving(wb_producer_t *p, struct plan *pl)
{
    const wb_idmap_t *s0 = p->ck.in_scope;
    struct wb_idkey k;
    void *v;
    size_t pos = 0;

    while (wb_idmap_next(s0, &pos, &k, NULL)) {
        void **rv;

        if (wb_idmap_has(pl->s1, &k))
            continue;
        rv = wb_idmap_get(pl->r.groups, &k);
        if (rv && *rv && !((struct wb_rgroup *)*rv)->removed)
            *wb_idmap_put(pl->gone, &k, NULL) = WB_CKPT_STAGED_UNSCOPED;
        else if (pl->r.full || (rv && *rv))
            *wb_idmap_put(pl->gone, &k, NULL) = WB_CKPT_STAGED_DELETE;
    }
    pl->staged = idmap_copy(p->ck.staged);
    pos = 0;
    while (wb_idmap_next(p->ck.staged, &pos, &k, &v)) {
        if (wb_idmap_has(pl->s1, &k)) {
            wb_idmap_del(pl->staged, &k);
        } else if (pl->allow_all || (pl->allow && wb_idmap_has(pl->allow, &k))) {
            *wb_idmap_put(pl->release, &k, NULL) = v;
            wb_idmap_del(pl->staged, &k);
        }
    }
    if (p->threshold > 0 && wb_idmap_count(pl->gone) > (size_t)p->threshold) {
        wb_log(LOG_WARNING, "PRODUCER",
               "%zu group deletions in one round exceed graph.delete_threshold=%" PRId64
               ": staged in the checkpoint, not emitted; release them with "
               "`writebackctl deletes allow`",
               wb_idmap_count(pl->gone), p->threshold);
        pos = 0;
        while (wb_idmap_next(pl->gone, &pos, &k, &v))
            *wb_idmap_put(pl->staged, &k, NULL) = v;
        wb_idmap_destroy(pl->gone, NULL);
        pl->gone = wb_idmap_new();
    }
}

/* Scope and the differences to the last checkpoint. */
static wb_err_t plan_round(wb_producer_t *p, struct plan *pl)
{
    struct wb_idkey k;
    size_t pos = 0;

    pl->snap = wb_idmap_new();
    pl->resnap = wb_idmap_new();
    pl->upsert = wb_idmap_new();
    pl->gone = wb_idmap_new();
    pl->release = wb_idmap_new();
    plan_scope(p, pl);
    plan_changes(p, pl);
    plan_leaving(p, pl);
    pl->both = idmap_copy(pl->s1);
    while (wb_idmap_next(p->ck.in_scope, &pos, &k, NULL))
        wb_idmap_add(pl->both, &k);
    return WB_OK;
}

/*
 * Nested-group edges of in-scope parents, carried in the checkpoint: a group entering scope
 * is added to the AD groups of its in-scope parents, and one leaving scope is removed from
 * them, although Graph reports no membership change of those parents.
 */
static void nested_update(wb_producer_t *p, struct plan *pl, struct wb_ckpt *nc)
{
    struct wb_idkey k, *keys;
    size_t pos = 0, n, i, j;
    void *v;

    if (!pl->r.full)
        wb_ckpt_nested_copy(nc, &p->ck);
    keys = wb_idmap_keys_sorted(nc->nested, &n);
    for (i = 0; i < n; i++)
        if (!wb_idmap_has(pl->s1, &keys[i]))
            wb_ckpt_nested_clear(nc, &keys[i]);
    free(keys);
    while (wb_idmap_next(pl->r.groups, &pos, &k, &v)) {
        struct wb_rgroup *rg = v;
        bool snap = wb_idmap_has(pl->snap, &k);

        if (!wb_idmap_has(pl->s1, &k))
            continue;
        if (snap)
            wb_ckpt_nested_clear(nc, &k);
        for (i = 0; i < rg->nm; i++) {
            if (rg->m[i].kind != WB_MK_GROUP)
                continue;
            if (rg->m[i].added)
                wb_ckpt_nested_add(nc, &k, &rg->m[i].id);
            else if (!snap)
                wb_ckpt_nested_del(nc, &k, &rg->m[i].id);
        }
    }
    if (pl->r.full)
        return;
    keys = wb_idmap_keys_sorted(nc->nested, &n);
    for (i = 0; i < n; i++) {
        const struct wb_kids *kids = *wb_idmap_get(nc->nested, &keys[i]);
        struct wb_rgroup *rg = NULL;

        if (wb_idmap_has(pl->snap, &keys[i]))
            continue;
        for (j = 0; j < kids->n; j++) {
            const struct wb_idkey *c = &kids->ids[j];
            int added = -1;

            if (wb_idmap_has(pl->snap, c))
                added = 1; /* entered scope */
            else if (wb_idmap_has(p->ck.in_scope, c) && !wb_idmap_has(pl->s1, c))
                added = 0; /* left scope */
            if (added < 0)
                continue;
            if (!rg)
                rg = wb_producer_round_group(pl, &keys[i]);
            wb_rgroup_push(rg, c, WB_MK_GROUP, added, pl->r.seq++);
        }
        if (rg)
            wb_rgroup_net(rg);
    }
    free(keys);
}

/* Fetches and plans the round: the groups delta, the memberOf lookups of users whose identity
 * changed, the member lists and user lookups it still needs, the nested-group state of nc.
 * *stage names the step that failed. */
wb_err_t wb_producer_gather(wb_producer_t *p, struct plan *pl, bool full, struct wb_ckpt *nc,
                            const char **stage)
{
    wb_err_t err;

    *stage = "groups delta";
    err = fetch(p, pl, full);
    if (err != WB_OK)
        return err;
    plan_round(p, pl);
    *stage = "memberof lookups of users whose identity changed";
    err = wb_producer_follow_moves(p, pl);
    if (err != WB_OK)
        return err;
    *stage = "member lists and user lookups";
    err = wb_producer_complete(p, pl);
    if (err != WB_OK)
        return err;
    nested_update(p, pl, nc);
    return WB_OK;
}
