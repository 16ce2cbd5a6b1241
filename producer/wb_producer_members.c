/*
 * wb_producer_members.c: the member lists and users a round's plan still needs: whole member
 * lists of groups entering scope, unknown users resolved with getByIds, groups sent whole
 * because a removed member cannot be named, and the groups of users whose on-premises identity
 * changed.
 */
#include "wb_producer_int.h"

#include "wb_log.h"
#include "wb_mem.h"

#include <stdlib.h>
#include <string.h>

/* Reads the whole member list of every group in set into its round entry. A group deleted
 * meanwhile is taken out of set and of also (when given): the next round reports it. */
static wb_err_t read_members(wb_producer_t *p, struct plan *pl, wb_idmap_t *set, wb_idmap_t *also)
{
    struct wb_idkey *keys;
    size_t n, i;
    wb_err_t err = WB_OK;
    char id[37];

    keys = wb_idmap_keys_sorted(set, &n);
    for (i = 0; i < n && err == WB_OK; i++) {
        struct wb_rgroup *rg = *wb_idmap_get(pl->r.groups, &keys[i]);
        bool gone = false;

        wb_idkey_format(&keys[i], id);
        rg->nm = 0;
        err = wb_round_members(p->g, id, rg, &gone);
        if (err != WB_OK && gone) {
            wb_idmap_del(set, &keys[i]);
            if (also)
                wb_idmap_del(also, &keys[i]);
            err = WB_OK;
        }
    }
    free(keys);
    return err;
}

/* Resolves the unknown user members of the round's groups in scope (only those in only, when
 * given) with getByIds. */
static wb_err_t resolve_unknown(wb_producer_t *p, struct plan *pl, const wb_idmap_t *only)
{
    struct wb_idkey k, *ids = NULL;
    size_t pos = 0, n = 0, cap = 0, i;
    void *v;
    wb_err_t err = WB_OK;

    while (wb_idmap_next(pl->r.groups, &pos, &k, &v)) {
        struct wb_rgroup *rg = v;

        if (!wb_idmap_has(pl->s1, &k) && !wb_idmap_has(pl->both, &k))
            continue;
        if (only && !wb_idmap_has(only, &k))
            continue;
        wb_rgroup_net(rg);
        for (i = 0; i < rg->nm; i++) {
            if (rg->m[i].kind != WB_MK_USER)
                continue;
            if (wb_users_get(p->users, &rg->m[i].id))
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 256;
                ids = wb_realloc(ids, cap * sizeof(*ids));
            }
            ids[n++] = rg->m[i].id;
        }
    }
    if (n) {
        wb_dbg("producer", "PRODUCER", "resolving %zu unknown member ids with getByIds", n);
        err = wb_users_resolve(p->users, ids, n);
    }
    free(ids);
    return err;
}

/* An incremental round that removes a user member nobody can name any more (deleted in
 * Entra: the users delta, or a restart's full users round, no longer lists it, and getByIds
 * does not return it) cannot say which AD member value to remove. Such a group's whole member
 * list is read and sent as a snapshot instead, which removes whatever AD holds beyond it. */
static wb_err_t resnap_unnamed(wb_producer_t *p, struct plan *pl)
{
    struct wb_idkey k;
    size_t pos = 0, i;
    void *v;
    wb_err_t err = WB_OK;
    char id[37];
    const wb_idmap_t *moved = wb_users_moved(p->users);

    while (wb_idmap_next(pl->r.groups, &pos, &k, &v)) {
        struct wb_rgroup *rg = v;
        size_t unnamed = 0, changed = 0;

        if (!wb_idmap_has(pl->s1, &k) || wb_idmap_has(pl->snap, &k))
            continue;
        for (i = 0; i < rg->nm; i++) {
            const struct wb_uident *ui;

            if (rg->m[i].kind != WB_MK_USER || rg->m[i].added)
                continue;
            ui = wb_users_get(p->users, &rg->m[i].id);
            /* a removed placeholder without SID: deleted before the map ever held it (while
             * the producer was down) */
            if (!ui || ui->missing || (ui->removed && !ui->sid))
                unnamed++;
            /* its identity changed this round (made cloud-only, a new SID, or anything while
             * the producer was down): the value AD holds is not the one the map has now, and
             * memberOf no longer lists this group for wb_producer_follow_moves */
            else if (wb_idmap_has(moved, &rg->m[i].id))
                changed++;
        }
        if (unnamed || changed) {
            wb_idmap_add(pl->resnap, &k);
            wb_idkey_format(&k, id);
            wb_log(LOG_INFO, "PRODUCER",
                   "group %s: %zu removed member(s) no longer known to Graph (deleted users), "
                   "%zu whose identity changed; sending its whole member list",
                   id, unnamed, changed);
        }
    }
    err = read_members(p, pl, pl->resnap, NULL);
    if (err == WB_OK && wb_idmap_count(pl->resnap))
        err = resolve_unknown(p, pl, pl->resnap);
    return err;
}

static bool sid_eq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* The round's group in pl->r for id, created without properties when the round did not carry
 * it. */
struct wb_rgroup *wb_producer_round_group(struct plan *pl, const struct wb_idkey *id)
{
    void **slot = wb_idmap_put(pl->r.groups, id, NULL);

    if (!*slot) {
        struct wb_rgroup *rg = wb_calloc(1, sizeof(*rg));

        wb_gprops_init(&rg->props);
        *slot = rg;
    }
    return *slot;
}

/*
 * Users whose on-premises identity changed (wb_users_moved) stay members of the same Entra
 * groups, so the groups delta reports nothing, yet the AD groups must change: a user made
 * cloud-only leaves them, one made synced joins them, one with a new SID moves. For each such
 * user the groups that hold it are listed (memberOf) and every one in scope that the round
 * does not send whole anyway gets a member change: a removal of the old identity or an
 * addition of the new one (wb_emit_members), or, for a new SID (one entry per member cannot
 * both remove and add), its whole member list as a snapshot. Incremental rounds only: a full
 * round sends every member list whole with the current identities.
 */
wb_err_t wb_producer_follow_moves(wb_producer_t *p, struct plan *pl)
{
    const wb_idmap_t *moved = wb_users_moved(p->users);
    struct wb_idkey *ids;
    size_t n, i;
    wb_err_t err = WB_OK;

    if (pl->r.full || !wb_idmap_count(moved))
        return WB_OK;
    ids = wb_idmap_keys_sorted(moved, &n);
    for (i = 0; i < n && err == WB_OK; i++) {
        const struct wb_uident *was = wb_users_before(p->users, &ids[i]);
        const struct wb_uident *now = wb_users_get(p->users, &ids[i]);
        wb_idmap_t *groups;
        struct wb_idkey g;
        size_t pos = 0, changed = 0, whole = 0;
        bool gone = false;
        char uid[37];

        if (!now || now->missing || (!was->unknown && sid_eq(was->sid, now->sid)))
            continue;
        groups = wb_idmap_new();
        err = wb_users_member_of(p->users, &ids[i], groups, &gone);
        if (err != WB_OK && gone)
            err = WB_OK; /* deleted meanwhile: the groups delta reports the removals */
        while (err == WB_OK && wb_idmap_next(groups, &pos, &g, NULL)) {
            if (!wb_idmap_has(pl->s1, &g) || wb_idmap_has(pl->snap, &g) ||
                wb_idmap_has(pl->resnap, &g))
                continue;
            if (was->unknown || (was->sid && now->sid)) {
                /* the value AD holds is unknown, or one entry cannot both remove and add */
                wb_producer_round_group(pl, &g);
                wb_idmap_add(pl->resnap, &g);
                whole++;
            } else {
                struct wb_rgroup *rg = wb_producer_round_group(pl, &g);

                wb_rgroup_push(rg, &ids[i], WB_MK_USER, now->sid != NULL, pl->r.seq++);
                wb_rgroup_net(rg);
                changed++;
            }
        }
        wb_idmap_destroy(groups, NULL);
        wb_idkey_format(&ids[i], uid);
        if (err == WB_OK)
            wb_log(LOG_INFO, "PRODUCER",
                   "user %s %s: member change in %zu group(s) in scope, whole member list of "
                   "%zu",
                   uid,
                   was->unknown ? "changed while the producer was down"
                   : !now->sid  ? "made cloud-only"
                   : !was->sid  ? "made synced"
                                : "has a new onPremisesSecurityIdentifier",
                   changed, whole);
    }
    free(ids);
    if (err == WB_OK && p->m_moves) {
        const char *v[] = {"memberof"};

        wb_metrics_inc(p->m_moves, v, (double)n);
    }
    return err;
}

/* Member lists of groups entering scope incrementally; unknown users. */
wb_err_t wb_producer_complete(wb_producer_t *p, struct plan *pl)
{
    wb_err_t err = WB_OK;

    if (!pl->r.full) {
        err = read_members(p, pl, pl->snap, pl->s1);
        if (err != WB_OK)
            return err;
    }
    err = resolve_unknown(p, pl, NULL);
    if (err == WB_OK && !pl->r.full)
        err = resnap_unnamed(p, pl);
    return err;
}
