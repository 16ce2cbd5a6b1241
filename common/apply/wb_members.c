/*
 * wb_members: the member difference of one SYNC step (see wb_members.h). The step's member
 * set is walked one chunk of values at a time; with the current members known (an exact step,
 * worker.read_before_write, or after a 68/53 answer) only the real difference is sent.
 */
#include "wb_members.h"
#include "wb_id.h"
#include "wb_log.h"
#include "wb_map.h"
#include "wb_mem.h"
#include "wb_mindex.h"
#include "wb_reason.h"

#include <ctype.h>
#include <ldap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANCHOR_BATCH 100

/* One member value to send, and how to find it among the current members: by SID first, then
 * by GUID (a user known by both), or the current member it was made from. */
struct mval {
    enum wb_member_kind kind;
    char *id;    /* Entra id for log lines, or NULL (values made from current members) */
    char *value; /* <SID=…>, <GUID=…> or a DN */
    unsigned char sid[WB_ID_SID_BIN_MAX];
    size_t sidlen; /* 0: no SID */
    unsigned char guid[WB_ID_GUID_BIN_SIZE];
    bool has_guid;
    size_t rec; /* index + 1 of the current member it names, or 0 */
};

struct mlist {
    struct mval *v;
    size_t n, cap;
};

struct wb_members_s {
    const struct wb_aenv *env;
    const struct wb_apply_ctx *cx;
    const wb_mset_t *set; /* the step's desired set (exact) or its delta; may be NULL */
    bool exact;           /* a completed snapshot: what it does not want goes */
    bool fresh;           /* the group is created by this step */
    bool idle;            /* nothing to do (an empty delta) */
    wb_mset_t *groups;    /* nested groups resolved to DNs */
    wb_mindex_t *cur;     /* current members, once read (fresh: empty) */
    struct mlist chunk;   /* the values of the chunk being sent */
    const char **vals;    /* wb_members_first's view of chunk */
    size_t pos;           /* position in set */
};

static void mval_free(struct mval *v)
{
    free(v->id);
    free(v->value);
}

/* Appends *mv (its strings handed over). */
static void mlist_push(struct mlist *l, const struct mval *mv)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = wb_realloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = *mv;
}

static void mlist_free(struct mlist *l)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        mval_free(&l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static char *lower(char *s)
{
    char *p;

    for (p = s; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return s;
}

/* The current member v names (a record of mb->cur), or 0: by SID, else by GUID. */
static size_t present(const wb_mindex_t *cur, const struct mval *v)
{
    if (v->rec)
        return v->rec;
    return wb_mindex_find(cur, v->sidlen ? v->sid : NULL, v->sidlen, v->has_guid ? v->guid : NULL);
}

/* --- nested groups --- */

/* Adds one group found by its anchor to groups (resolve_groups' callback). */
static wb_err_t group_found(const struct wb_ldap_entry *e, void *opaque)
{
    wb_mset_t *groups = opaque;
    const struct wb_ldap_val *ext = wb_ldap_entry_get(e, "msDS-ExternalDirectoryObjectId");
    const struct wb_ldap_val *g = wb_ldap_entry_get(e, "objectGUID");
    char guid[WB_ID_GUID_STR_SIZE];

    if (ext && ext->len > 6 && g && g->len == 16 && e->dn) {
        char *id = lower(wb_strndup(ext->data + 6, ext->len - 6));
        struct wb_member m = {WB_MEMBER_GROUP, id, e->dn, guid};

        wb_id_guid_to_str((const unsigned char *)g->data, guid);
        if (!wb_mset_get(groups, WB_MEMBER_GROUP, m.id))
            wb_mset_put(groups, &m, WB_MSET_ADD);
        free(id);
    }
    return WB_OK;
}

/* Resolves the anchors of the nested group members of the set into mb->groups (kind GROUP,
 * id = Entra id, sid = DN, guid = objectGUID), ANCHOR_BATCH anchors a search. Returns an LDAP
 * code. */
static int resolve_groups(wb_members_t *mb)
{
    static const char *const attrs[] = {"msDS-ExternalDirectoryObjectId", "objectGUID", NULL};
    const struct wb_mset_entry *e;
    size_t pos = 0, n = 0;
    char *filter = NULL;
    int rc = LDAP_SUCCESS;

    for (;;) {
        e = wb_mset_next(mb->set, &pos);
        if (e && e->m.kind == WB_MEMBER_GROUP) {
            char *anchor = wb_map_anchor(e->m.id), *esc, *f;

            if (!anchor)
                continue;
            esc = wb_id_filter_escape(anchor, strlen(anchor));
            f = wb_asprintf("%s(msDS-ExternalDirectoryObjectId=%s)", filter ? filter : "", esc);
            free(filter);
            filter = f;
            free(esc);
            free(anchor);
            n++;
        }
        if (n > 0 && (!e || n == ANCHOR_BATCH)) {
            char *full = wb_asprintf("(&(objectClass=group)(|%s))", filter);

            wb_ldap_search_paged(mb->env->ld, mb->env->cfg.base_dn, WB_LDAP_SCOPE_SUB, full, attrs,
                                 0, group_found, mb->groups);
            rc = wb_ldap_last_rc(mb->env->ld);
            free(full);
            free(filter);
            filter = NULL;
            n = 0;
            if (rc != LDAP_SUCCESS)
                break;
        }
        if (!e)
            break;
    }
    free(filter);
    return rc;
}

/* --- sending --- */

static wb_err_t send_list(wb_members_t *mb, const char *dn, enum wb_ldap_mod_op op, struct mval **v,
                          size_t n, struct wb_apply_result *res);

/* One member modify of the values v[0..n) (permissive); returns its LDAP code. */
static int modify_values(wb_members_t *mb, const char *dn, enum wb_ldap_mod_op op, struct mval **v,
                         size_t n, struct wb_apply_result *res)
{
    const char **vals = wb_calloc(n, sizeof(*vals));
    struct wb_ldap_mod mod = {op, "member", vals, n};
    char attrs[64];
    size_t i;
    int rc;

    for (i = 0; i < n; i++)
        vals[i] = v[i]->value;
    res->writes++;
    if (!mb->env->cfg.dry_run)
        wb_ldap_modify(mb->env->ld, dn, &mod, 1, 1);
    rc = wb_aenv_write_rc(mb->env);
    if (rc == LDAP_SUCCESS) {
        snprintf(attrs, sizeof(attrs), "member(%c%zu)", op == WB_LDAP_MOD_ADD ? '+' : '-', n);
        wb_aenv_audit(mb->env, mb->cx,
                      op == WB_LDAP_MOD_ADD ? WB_APPLY_OP_ADD_MEMBERS : WB_APPLY_OP_REMOVE_MEMBERS,
                      dn, attrs, n);
    }
    free(vals);
    return rc;
}

/* Which user values of v do not exist in AD (32 on a member add). */
static int find_missing_users(wb_members_t *mb, struct mval **v, size_t n, bool *missing,
                              size_t *nmissing)
{
    size_t i;

    *nmissing = 0;
    for (i = 0; i < n; i++) {
        struct wb_ldap_entry *e = NULL;
        wb_err_t err;

        missing[i] = false;
        if (v[i]->kind != WB_MEMBER_USER)
            continue;
        /* A base search of "<SID=...>": absent is "nothing matched". */
        err = wb_ldap_search_unique(mb->env->ld, v[i]->value, WB_LDAP_SCOPE_BASE, "(objectClass=*)",
                                    NULL, &e);
        if (err != WB_OK)
            return wb_ldap_last_rc(mb->env->ld);
        if (!e) {
            missing[i] = true;
            (*nmissing)++;
        }
        wb_ldap_entry_free(e);
    }
    return LDAP_SUCCESS;
}

/* A member add the server refused although no value was already present: find the user
 * values that do not exist in AD (Samba answers 32 or 53 for a <SID=…> it cannot resolve),
 * retry later or, on the final attempt, skip them and send the rest. */
static wb_err_t add_missing_users(wb_members_t *mb, const char *dn, struct mval **v, size_t n,
                                  int rc, struct wb_apply_result *res)
{
    struct mval **keep = NULL;
    bool *missing = wb_calloc(n, sizeof(*missing));
    size_t nkeep = 0, nmissing = 0, i;
    int frc = find_missing_users(mb, v, n, missing, &nmissing);
    wb_err_t err = WB_OK;

    if (frc != LDAP_SUCCESS) {
        err = wb_aenv_ldap_fail(mb->env, res, WB_REASON_RESOLVE_FAILED, frc, dn);
        goto out;
    }
    if (nmissing == 0) {
        wb_log(LOG_WARNING, "WORKER", "group=%s: member add on %s failed: %s (%s)", mb->cx->group,
               dn, ldap_err2string(rc), wb_ldap_last_error(mb->env->ld));
        err = wb_aenv_ldap_fail(mb->env, res, WB_REASON_MEMBER_MODIFY_FAILED, rc, dn);
        goto out;
    }
    if (!mb->cx->final_attempt) {
        wb_log(LOG_WARNING, "WORKER",
               "group=%s: %zu member user(s) not found in AD; will retry partition=%d "
               "offset=%lld",
               mb->cx->group, nmissing, (int)mb->cx->partition, (long long)mb->cx->offset);
        err = wb_aenv_fail(mb->env, res, WB_ERR_DEPENDENCY, WB_REASON_USER_NOT_FOUND, rc, dn);
        goto out;
    }
    keep = wb_calloc(n, sizeof(*keep));
    for (i = 0; i < n; i++) {
        if (!missing[i]) {
            keep[nkeep++] = v[i];
            continue;
        }
        wb_log(LOG_WARNING, "WORKER",
               "group=%s: skipping member user %s (%s): not found in AD after retries "
               "partition=%d offset=%lld",
               mb->cx->group, v[i]->id ? v[i]->id : "-", v[i]->value, (int)mb->cx->partition,
               (long long)mb->cx->offset);
        wb_aenv_skipped(mb->env, WB_REASON_USER_NOT_FOUND, 1);
    }
    if (nkeep > 0)
        err = send_list(mb, dn, WB_LDAP_MOD_ADD, keep, nkeep, res);
out:
    free(keep);
    free(missing);
    return err;
}

/*
 * A member delete refused although every value was read as present: the members were read
 * before a nested group member was deleted from AD (by another worker, at the same moment),
 * and Samba refuses to remove a DN it can no longer resolve ("Unable to find GUID for DN",
 * 53), while AD itself already dropped the link with the object. Each value is removed alone;
 * a value refused as unresolvable or absent (53, 16, 32) is no member any more.
 */
static wb_err_t delete_each(wb_members_t *mb, const char *dn, struct mval **v, size_t n,
                            struct wb_apply_result *res)
{
    size_t i;

    for (i = 0; i < n; i++) {
        int rc = modify_values(mb, dn, WB_LDAP_MOD_DELETE, &v[i], 1, res);

        if (rc == LDAP_SUCCESS)
            continue;
        if (rc == LDAP_UNWILLING_TO_PERFORM || rc == LDAP_NO_SUCH_ATTRIBUTE ||
            rc == LDAP_NO_SUCH_OBJECT) {
            wb_log(LOG_INFO, "WORKER", "group=%s: member %s of %s is gone already (%s)",
                   mb->cx->group, v[i]->value, dn, wb_ldap_last_error(mb->env->ld));
            continue;
        }
        wb_log(LOG_WARNING, "WORKER", "group=%s: member delete on %s failed: %s (%s)",
               mb->cx->group, dn, ldap_err2string(rc), wb_ldap_last_error(mb->env->ld));
        return wb_aenv_ldap_fail(mb->env, res, WB_REASON_MEMBER_MODIFY_FAILED, rc, dn);
    }
    return WB_OK;
}

static wb_err_t send_chunk(wb_members_t *mb, const char *dn, enum wb_ldap_mod_op op,
                           struct mval **v, size_t n, struct wb_apply_result *res)
{
    struct mval **keep = NULL;
    size_t nkeep = 0, i;
    int rc = modify_values(mb, dn, op, v, n, res);
    wb_err_t err = WB_OK;

    if (rc == LDAP_SUCCESS)
        goto out;
    if (rc == LDAP_ALREADY_EXISTS || rc == LDAP_UNWILLING_TO_PERFORM ||
        rc == LDAP_NO_SUCH_ATTRIBUTE || rc == LDAP_TYPE_OR_VALUE_EXISTS) {
        /* Samba ignores permissive modify for several values: send the real difference. */
        wb_dbg("worker", "WORKER", "group=%s: member %s of %zu values answered %d; reading members",
               mb->cx->group, op == WB_LDAP_MOD_ADD ? "add" : "delete", n, rc);
        if (!mb->cur) {
            int rrc = wb_mindex_read(mb->env->ld, dn, (size_t)mb->env->cfg.range_window, &mb->cur);

            if (rrc != LDAP_SUCCESS) {
                err = wb_aenv_ldap_fail(mb->env, res, WB_REASON_READ_MEMBERS_FAILED, rrc, dn);
                goto out;
            }
        }
        keep = wb_calloc(n, sizeof(*keep));
        for (i = 0; i < n; i++)
            if ((present(mb->cur, v[i]) != 0) == (op == WB_LDAP_MOD_DELETE))
                keep[nkeep++] = v[i];
        if (nkeep == 0)
            goto out;
        if (nkeep < n) {
            err = send_list(mb, dn, op, keep, nkeep, res);
            goto out;
        }
        /* Nothing to drop, yet refused: not the permissive case. */
        if (op == WB_LDAP_MOD_DELETE) {
            err = delete_each(mb, dn, v, n, res);
            goto out;
        }
    }
    if (op == WB_LDAP_MOD_ADD && !wb_ldap_conn_gone(rc)) {
        err = add_missing_users(mb, dn, v, n, rc, res);
        goto out;
    }
    wb_log(LOG_WARNING, "WORKER", "group=%s: member %s on %s failed: %s (%s)", mb->cx->group,
           op == WB_LDAP_MOD_ADD ? "add" : "delete", dn, ldap_err2string(rc),
           wb_ldap_last_error(mb->env->ld));
    err = wb_aenv_ldap_fail(mb->env, res, WB_REASON_MEMBER_MODIFY_FAILED, rc, dn);
out:
    free(keep);
    return err;
}

static wb_err_t send_list(wb_members_t *mb, const char *dn, enum wb_ldap_mod_op op, struct mval **v,
                          size_t n, struct wb_apply_result *res)
{
    size_t chunk = (size_t)mb->env->cfg.member_chunk, i;
    wb_err_t err = WB_OK;

    for (i = 0; i < n && err == WB_OK; i += chunk)
        err = send_chunk(mb, dn, op, v + i, n - i < chunk ? n - i : chunk, res);
    return err;
}

/* The value of entry e into *mv (owned strings); false when it has none to send (a nested
 * group not in AD, a user without an on-prem identity). */
static bool make_value(wb_members_t *mb, const struct wb_mset_entry *e, struct mval *mv)
{
    memset(mv, 0, sizeof(*mv));
    mv->kind = e->m.kind;
    if (e->m.kind == WB_MEMBER_GROUP) {
        const struct wb_mset_entry *g = wb_mset_get(mb->groups, WB_MEMBER_GROUP, e->m.id);

        if (!g)
            return false; /* handled by check_groups (add) or not a member (remove) */
        mv->has_guid = wb_id_guid_from_str(g->m.guid, mv->guid);
        mv->value = wb_strdup(g->m.sid);
        mv->id = wb_strdup(e->m.id);
        return true;
    }
    if (e->m.sid) {
        mv->sidlen = wb_id_sid_from_str(e->m.sid, mv->sid);
        if (!mv->sidlen)
            return false; /* the decoder vetted it; belt and braces */
        mv->value = wb_id_sid_dn(e->m.sid);
        /* The GUID finds a user AD lists under another SID form only if it parses (a "g:" key
         * of an invalid GUID never matched either). */
        mv->has_guid = e->m.guid && wb_id_guid_from_str(e->m.guid, mv->guid);
        mv->id = wb_strdup(e->m.id);
        return true;
    }
    if (e->m.guid && wb_id_guid_from_str(e->m.guid, mv->guid)) {
        mv->has_guid = true;
        mv->value = wb_id_guid_dn(e->m.guid);
        mv->id = wb_strdup(e->m.id);
        return true;
    }
    wb_log(LOG_WARNING, "WORKER", "group=%s: member user %s has no SID or GUID; skipped",
           mb->cx->group, e->m.id);
    wb_aenv_skipped(mb->env, WB_REASON_NO_ONPREM_IDENTITY, 1);
    return false;
}

/* Nested groups to add that are not in AD: a dependency failure, or on the final attempt
 * given up (res->dead_members). Checked before anything is written. */
static wb_err_t check_groups(wb_members_t *mb, struct wb_apply_result *res)
{
    const struct wb_mset_entry *e;
    size_t pos = 0;

    while ((e = wb_mset_next(mb->set, &pos)) != NULL) {
        if (e->op != WB_MSET_ADD || e->m.kind != WB_MEMBER_GROUP ||
            wb_mset_get(mb->groups, WB_MEMBER_GROUP, e->m.id))
            continue;
        if (!mb->cx->final_attempt) {
            wb_log(LOG_WARNING, "WORKER",
                   "group=%s: nested group %s is not in AD yet; will retry partition=%d "
                   "offset=%lld",
                   mb->cx->group, e->m.id, (int)mb->cx->partition, (long long)mb->cx->offset);
            return wb_aenv_fail(mb->env, res, WB_ERR_DEPENDENCY, WB_REASON_MEMBER_GROUP_NOT_FOUND,
                                -1, NULL);
        }
        wb_log(LOG_WARNING, "WORKER",
               "group=%s: nested group %s still not in AD after retries; dead-lettering its "
               "events partition=%d offset=%lld",
               mb->cx->group, e->m.id, (int)mb->cx->partition, (long long)mb->cx->offset);
        if (!res->dead_members)
            res->dead_members = wb_mset_new();
        wb_mset_put(res->dead_members, &e->m, WB_MSET_ADD);
    }
    return WB_OK;
}

/* Fills mb->chunk (emptied first) with up to one chunk of values of the entries of the set
 * marked op, from mb->pos on. by_cur: adds skip values present (flagged wanted when the step
 * is exact), removes skip values absent. */
static void fill_chunk(wb_members_t *mb, enum wb_mset_op op, bool by_cur)
{
    const struct wb_mset_entry *e;
    struct mval mv;
    size_t max = (size_t)mb->env->cfg.member_chunk;

    mlist_free(&mb->chunk);
    while (mb->chunk.n < max && (e = wb_mset_next(mb->set, &mb->pos)) != NULL) {
        size_t rec;

        if (e->op != op || !make_value(mb, e, &mv))
            continue;
        rec = by_cur ? present(mb->cur, &mv) : 0;
        if (by_cur && (op == WB_MSET_ADD ? rec != 0 : rec == 0)) {
            if (rec && mb->exact)
                wb_mindex_mark(mb->cur, rec);
            mval_free(&mv);
            continue;
        }
        mlist_push(&mb->chunk, &mv);
    }
}

/* Sends the values of l (at most one chunk) with op. */
static wb_err_t send_mlist(wb_members_t *mb, const char *dn, enum wb_ldap_mod_op op,
                           struct mlist *l, struct wb_apply_result *res)
{
    struct mval **v;
    size_t i;
    wb_err_t err;

    if (l->n == 0)
        return WB_OK;
    v = wb_calloc(l->n, sizeof(*v));
    for (i = 0; i < l->n; i++)
        v[i] = &l->v[i];
    err = send_list(mb, dn, op, v, l->n, res);
    free(v);
    return err;
}

/* --- the step --- */

wb_members_t *wb_members_new(const struct wb_aenv *env, const struct wb_apply_ctx *cx,
                             const struct wb_step *st, bool fresh)
{
    wb_members_t *mb = wb_calloc(1, sizeof(*mb));

    mb->env = env;
    mb->cx = cx;
    mb->set = st->desired ? st->desired : st->delta;
    mb->exact = st->desired != NULL;
    mb->fresh = fresh;
    mb->groups = wb_mset_new();
    /* A group created here has no members (and in a dry run, no entry to read). */
    if (fresh)
        mb->cur = wb_mindex_new();
    return mb;
}

void wb_members_destroy(wb_members_t *mb)
{
    if (!mb)
        return;
    mlist_free(&mb->chunk);
    free(mb->vals);
    wb_mindex_destroy(mb->cur);
    wb_mset_destroy(mb->groups);
    free(mb);
}

wb_err_t wb_members_prepare(wb_members_t *mb, struct wb_apply_result *res)
{
    int rc;

    if (!mb->set)
        return WB_OK;
    if (wb_mset_count(mb->set) == 0 && !mb->exact && !mb->fresh) {
        mb->idle = true;
        return WB_OK;
    }
    rc = resolve_groups(mb);
    if (rc != LDAP_SUCCESS)
        return wb_aenv_ldap_fail(mb->env, res, WB_REASON_RESOLVE_FAILED, rc, mb->env->cfg.base_dn);
    return check_groups(mb, res);
}

size_t wb_members_first(wb_members_t *mb, const char *const **vals)
{
    size_t i;

    *vals = NULL;
    if (!mb->set)
        return 0;
    fill_chunk(mb, WB_MSET_ADD, false);
    free(mb->vals);
    mb->vals = wb_calloc(mb->chunk.n + 1, sizeof(*mb->vals));
    for (i = 0; i < mb->chunk.n; i++)
        mb->vals[i] = mb->chunk.v[i].value;
    *vals = mb->vals;
    return mb->chunk.n;
}

wb_err_t wb_members_send_first(wb_members_t *mb, const char *dn, struct wb_apply_result *res)
{
    return send_mlist(mb, dn, WB_LDAP_MOD_ADD, &mb->chunk, res);
}

/* Exact: everything present that the snapshot does not want goes (by GUID, else by DN). */
static wb_err_t remove_unwanted(wb_members_t *mb, const char *dn, struct wb_apply_result *res)
{
    size_t max = (size_t)mb->env->cfg.member_chunk, rec = 0;
    wb_err_t err = WB_OK;

    wb_mset_destroy(mb->groups); /* no longer needed: its memory goes before the removes */
    mb->groups = NULL;
    for (;;) {
        mlist_free(&mb->chunk);
        while (mb->chunk.n < max && rec < wb_mindex_count(mb->cur)) {
            struct mval mv = {0};

            mv.value = wb_mindex_unwanted(mb->cur, ++rec);
            if (!mv.value)
                continue;
            mv.kind = WB_MEMBER_USER;
            mv.rec = rec;
            mlist_push(&mb->chunk, &mv);
        }
        if (mb->chunk.n == 0)
            break;
        err = send_mlist(mb, dn, WB_LDAP_MOD_DELETE, &mb->chunk, res);
        if (err != WB_OK)
            break;
    }
    return err;
}

/* Sends every value of the set marked op, one chunk at a time; with the current members known
 * (not for a fresh group) only those that differ. */
static wb_err_t send_marked(wb_members_t *mb, const char *dn, enum wb_mset_op op,
                            struct wb_apply_result *res)
{
    wb_err_t err = WB_OK;

    for (;;) {
        fill_chunk(mb, op, !mb->fresh && mb->cur);
        if (mb->chunk.n == 0)
            break;
        err = send_mlist(mb, dn, op == WB_MSET_ADD ? WB_LDAP_MOD_ADD : WB_LDAP_MOD_DELETE,
                         &mb->chunk, res);
        if (err != WB_OK)
            break;
    }
    return err;
}

wb_err_t wb_members_apply(wb_members_t *mb, const char *dn, struct wb_apply_result *res)
{
    wb_err_t err;
    int rc;

    if (!mb->set || mb->idle)
        return WB_OK;
    if (!mb->fresh && (mb->exact || mb->env->cfg.read_before_write)) {
        rc = wb_mindex_read(mb->env->ld, dn, (size_t)mb->env->cfg.range_window, &mb->cur);
        if (rc != LDAP_SUCCESS)
            return wb_aenv_ldap_fail(mb->env, res, WB_REASON_READ_MEMBERS_FAILED, rc, dn);
    }
    /* Adds (a fresh group's first chunk went with its add), then removes. */
    err = send_marked(mb, dn, WB_MSET_ADD, res);
    if (err != WB_OK || mb->fresh)
        return err;
    if (mb->exact)
        return remove_unwanted(mb, dn, res);
    mb->pos = 0;
    return send_marked(mb, dn, WB_MSET_REMOVE, res);
}
