/*
 * wb_apply: one step of one group against AD (see wb_apply.h), orchestrated top-down: locate
 * the group (wb_object's search, wb_wbv2 before an adoption search), then create it with its
 * first members (wb_object, wb_members), or update it and write the member difference, or
 * delete it. The parts below never call back up.
 */
#include "wb_apply.h"
#include "wb_aenv.h"
#include "wb_id.h"
#include "wb_log.h"
#include "wb_map.h"
#include "wb_mem.h"
#include "wb_members.h"
#include "wb_object.h"
#include "wb_wbv2.h"

#include <ldap.h>
#include <stdlib.h>
#include <string.h>

struct wb_apply_s {
    struct wb_aenv env;
    wb_wbv2_t *wbv2; /* the Connect Sync writeback groups, for adoption */
};

wb_apply_t *wb_apply_new(wb_ldap_t *ld, const struct wb_apply_cfg *cfg, wb_metric_t *skipped)
{
    wb_apply_t *ap = wb_calloc(1, sizeof(*ap));

    ap->env.ld = ld;
    ap->env.skipped = skipped;
    ap->env.cfg = *cfg;
    ap->env.cfg.base_dn = wb_strdup(cfg->base_dn);
    ap->env.cfg.target_ou = wb_strdup(cfg->target_ou);
    if (ap->env.cfg.member_chunk <= 0)
        ap->env.cfg.member_chunk = 1000;
    if (ap->env.cfg.range_window <= 0)
        ap->env.cfg.range_window = 1000;
    ap->wbv2 = wb_wbv2_new();
    return ap;
}

void wb_apply_destroy(wb_apply_t *ap)
{
    if (!ap)
        return;
    free((char *)ap->env.cfg.base_dn);
    free((char *)ap->env.cfg.target_ou);
    wb_wbv2_destroy(ap->wbv2);
    free(ap);
}

void wb_apply_set_observer(wb_apply_t *ap, wb_apply_observer obs, void *opaque)
{
    ap->env.obs = obs;
    ap->env.obs_opaque = opaque;
}

void wb_apply_result_free(struct wb_apply_result *res)
{
    if (!res)
        return;
    free(res->ldap_message);
    free(res->matched_dn);
    wb_mset_destroy(res->dead_members);
    memset(res, 0, sizeof(*res));
    res->ldap_rc = -1;
}

int wb_apply_find_anchor(wb_apply_t *ap, const char *anchor, char **dn, int *n)
{
    struct wb_object o = {0};
    int rc = wb_object_find(&ap->env, WB_LDAP_ANCHOR_ATTR, anchor, NULL, NULL, &o, n);

    *dn = NULL;
    if (rc == LDAP_SUCCESS && *n > 0)
        *dn = wb_strdup(o.dn ? o.dn : "");
    wb_object_free(&o);
    return rc;
}

/* Adds one current member (extended DN value) to the member set ctx, keyed "g:<guid>" (else
 * "d:<dn>") and "s:<sid>". */
static wb_err_t mset_add(const char *v, size_t len, void *ctx)
{
    wb_mset_t *cur = ctx;
    char guid[WB_ID_GUID_STR_SIZE], sid[WB_ID_SID_STR_SIZE], *dn, *key;
    const char *dnp = v + wb_id_extdn_parse(v, len, guid, sid);
    struct wb_member m = {WB_MEMBER_USER, NULL, NULL, NULL};

    dn = wb_strndup(dnp, len - (size_t)(dnp - v));
    /* Internal reuse: the member's DN, kept only when there is no GUID to name it by. */
    m.sid = guid[0] ? NULL : dn;
    m.guid = guid[0] ? guid : NULL;
    key = guid[0] ? wb_asprintf("g:%s", guid) : wb_asprintf("d:%s", dn);
    m.id = key;
    wb_mset_put(cur, &m, WB_MSET_ADD);
    free(key);
    if (sid[0]) {
        key = wb_asprintf("s:%s", sid);
        m.id = key;
        wb_mset_put(cur, &m, WB_MSET_ADD);
        free(key);
    }
    free(dn);
    return WB_OK;
}

int wb_apply_read_members(wb_apply_t *ap, const char *dn, wb_mset_t **out)
{
    wb_mset_t *cur = wb_mset_new();
    int rc;

    wb_ldap_read_values(ap->env.ld, dn, "member", (size_t)ap->env.cfg.range_window,
                        WB_LDAP_READ_EXTDN, mset_add, cur, NULL);
    rc = wb_ldap_last_rc(ap->env.ld);
    *out = NULL;
    if (rc != LDAP_SUCCESS) {
        wb_mset_destroy(cur);
        return rc;
    }
    *out = cur;
    return LDAP_SUCCESS;
}

static bool map_attrs(wb_apply_t *ap, const char *group, const struct wb_group_attrs *a,
                      struct wb_map_group *m, struct wb_apply_result *res)
{
    char err[256];
    const char *dn = a && a->display_name ? a->display_name : "";
    const char *desc = a ? a->description : NULL;

    if (!wb_map_group(m, dn, strlen(dn), desc, desc ? strlen(desc) : 0, group,
                      ap->env.cfg.target_ou, err, sizeof(err))) {
        wb_log(LOG_WARNING, "WORKER", "group=%s: cannot map attributes: %s", group, err);
        wb_aenv_fail(&ap->env, res, WB_ERR_INVALID, WB_REASON_BAD_ATTRIBUTES, -1, NULL);
        return false;
    }
    return true;
}

/*
 * Adoption: no object carries our anchor; one written by Connect Sync group writeback
 * (adminDescription=anchor) may be taken over. *found 1 when adopted (o filled); nc is
 * cleared when an object has the adminDescription (the create must not rely on it).
 */
static wb_err_t locate_adopt(wb_apply_t *ap, const struct wb_apply_ctx *cx, const char *anchor,
                             struct wb_object_names *nc, struct wb_object *o, int *found,
                             struct wb_apply_result *res)
{
    const struct wb_aenv *env = &ap->env;
    bool maybe = true;
    int rc, n = 0;

    rc = wb_wbv2_maybe(ap->wbv2, env->ld, env->cfg.base_dn, anchor, &maybe);
    if (rc != LDAP_SUCCESS)
        return wb_aenv_ldap_fail(env, res, WB_REASON_SEARCH_FAILED, rc, env->cfg.base_dn);
    if (!maybe)
        return WB_OK; /* no Connect-written group has it (nc still holds) */
    rc = wb_object_find(env, "adminDescription", anchor, NULL, NULL, o, &n);
    if (rc != LDAP_SUCCESS)
        return wb_aenv_ldap_fail(env, res, WB_REASON_SEARCH_FAILED, rc, env->cfg.base_dn);
    if (n == 0)
        return WB_OK;
    nc->checked = false;
    if (n > 1) {
        wb_log(LOG_WARNING, "WORKER", "group=%s: %d objects carry adminDescription=%s", cx->group,
               n, anchor);
        return wb_aenv_fail(env, res, WB_ERR_CONFLICT, WB_REASON_DUPLICATE_ANCHOR, -1, o->dn);
    }
    if (!env->cfg.adopt) {
        /* A conflict, not a skip: the dead letter shows it and can be re-driven once
         * worker.adopt_writeback_v2=true. The object is left untouched. */
        wb_log(LOG_WARNING, "WORKER",
               "group=%s: %s was written by Connect Sync group writeback (adminDescription=%s, "
               "no msDS-ExternalDirectoryObjectId); not touching it: set "
               "worker.adopt_writeback_v2=true to adopt it, then re-drive the dead letter",
               cx->group, o->dn, anchor);
        /* 68 as for a name taken (no write was sent): the object exists and is not ours. */
        return wb_aenv_fail(env, res, WB_ERR_CONFLICT, WB_REASON_UNOWNED_WRITEBACK_GROUP,
                            LDAP_ALREADY_EXISTS, o->dn);
    }
    if (wb_object_adopt(env, cx, o, anchor, res) != WB_OK)
        return res->err;
    *found = 1;
    return WB_OK;
}

/*
 * Finds our object: by msDS-ExternalDirectoryObjectId, else (may_adopt) by adminDescription.
 * m non-NULL (a step with attributes): the same search checks the names a create would take
 * (into nc). *found: 0 none, 1 found (o filled). Returns WB_OK or a failure in res.
 */
static wb_err_t locate(wb_apply_t *ap, const struct wb_apply_ctx *cx, const char *anchor,
                       bool may_adopt, const struct wb_map_group *m, struct wb_object_names *nc,
                       struct wb_object *o, int *found, struct wb_apply_result *res)
{
    int rc, n = 0;

    *found = 0;
    wb_object_names_clear(nc);
    rc = wb_object_find(&ap->env, WB_LDAP_ANCHOR_ATTR, anchor, m, nc, o, &n);
    if (rc != LDAP_SUCCESS)
        return wb_aenv_ldap_fail(&ap->env, res, WB_REASON_SEARCH_FAILED, rc, ap->env.cfg.base_dn);
    if (n > 1) {
        wb_log(LOG_WARNING, "WORKER", "group=%s: %d objects carry anchor %s (one is %s)", cx->group,
               n, anchor, o->dn);
        return wb_aenv_fail(&ap->env, res, WB_ERR_CONFLICT, WB_REASON_DUPLICATE_ANCHOR, -1, o->dn);
    }
    if (n == 1) {
        nc->checked = false;
        *found = 1;
        return WB_OK;
    }
    wb_object_free(o);
    if (!may_adopt)
        return WB_OK;
    return locate_adopt(ap, cx, anchor, nc, o, found, res);
}

/*
 * Creates group m with the first chunk of its members in the add; when the add is refused for
 * what may be a bad member value, creates it bare and sends that chunk through the member
 * path; then the remaining adds. A nested group missing (mb not prepared) still creates the
 * group, bare: the dependency is retried with the group in place. *ours: an object with our
 * anchor turned out to hold the DN (nothing else done).
 */
static wb_err_t create_group(wb_apply_t *ap, const struct wb_apply_ctx *cx,
                             const struct wb_map_group *m, const struct wb_object_names *nc,
                             wb_members_t *mb, bool *ours, struct wb_apply_result *res)
{
    const char *const *vals = NULL;
    enum wb_object_created outcome;
    wb_err_t perr = wb_members_prepare(mb, res), err;
    size_t n = perr == WB_OK ? wb_members_first(mb, &vals) : 0;

    err = wb_object_create(&ap->env, cx, m, nc, vals, n, &outcome, res);
    if (outcome == WB_OBJECT_MEMBER_REFUSED) {
        err = wb_object_create(&ap->env, cx, m, nc, NULL, 0, &outcome, res);
        if (err == WB_OK && outcome == WB_OBJECT_CREATED)
            err = wb_members_send_first(mb, m->dn, res);
    }
    *ours = err == WB_OK && outcome == WB_OBJECT_OURS;
    if (perr != WB_OK)
        return err != WB_OK ? err : perr;
    if (err != WB_OK || *ours)
        return err;
    return wb_members_apply(mb, m->dn, res);
}

static wb_err_t step_sync(wb_apply_t *ap, const struct wb_apply_ctx *cx, const struct wb_step *st,
                          struct wb_apply_result *res)
{
    struct wb_map_group m = {0};
    struct wb_object o = {0};
    struct wb_object_names nc = {0};
    char *anchor = wb_map_anchor(cx->group), *dn = NULL;
    wb_members_t *mb = NULL;
    int found = 0;
    bool ours = false;
    wb_err_t err;

    if (!anchor) {
        err = wb_aenv_fail(&ap->env, res, WB_ERR_INVALID, WB_REASON_BAD_GROUP_ID, -1, NULL);
        goto out;
    }
    if (st->attrs && !map_attrs(ap, cx->group, st->attrs, &m, res)) {
        err = res->err;
        goto out;
    }
    err = locate(ap, cx, anchor, true, st->attrs ? &m : NULL, &nc, &o, &found, res);
    if (err != WB_OK)
        goto out;
    if (!found) {
        if (!st->attrs) {
            wb_log(LOG_WARNING, "WORKER",
                   "group=%s: no AD group with anchor %s for a member change (partition=%d "
                   "offset=%lld)",
                   cx->group, anchor, (int)cx->partition, (long long)cx->offset);
            err =
                wb_aenv_fail(&ap->env, res, WB_ERR_DEPENDENCY, WB_REASON_GROUP_NOT_FOUND, -1, NULL);
            goto out;
        }
        mb = wb_members_new(&ap->env, cx, st, true);
        err = create_group(ap, cx, &m, &nc, mb, &ours, res);
        if (err != WB_OK || !ours)
            goto out;
        /* Our object took the name meanwhile: manage it as found. */
        wb_members_destroy(mb);
        mb = NULL;
        err = locate(ap, cx, anchor, false, NULL, &nc, &o, &found, res);
        if (err != WB_OK)
            goto out;
        if (!found) {
            err = wb_aenv_fail(&ap->env, res, WB_ERR_TRANSIENT, WB_REASON_SEARCH_FAILED, -1, m.dn);
            goto out;
        }
    }
    dn = wb_strdup(o.dn);
    if (st->attrs) {
        err = wb_object_update(&ap->env, cx, &o, &m, &dn, res);
        if (err != WB_OK)
            goto out;
    }
    mb = wb_members_new(&ap->env, cx, st, false);
    err = wb_members_prepare(mb, res);
    if (err == WB_OK)
        err = wb_members_apply(mb, dn, res);
out:
    wb_members_destroy(mb);
    wb_object_names_clear(&nc);
    free(dn);
    free(anchor);
    wb_object_free(&o);
    wb_map_group_free(&m);
    return err;
}

static wb_err_t step_delete(wb_apply_t *ap, const struct wb_apply_ctx *cx,
                            struct wb_apply_result *res)
{
    struct wb_object o = {0};
    struct wb_object_names nc = {0};
    char *anchor = wb_map_anchor(cx->group);
    int found = 0;
    wb_err_t err;

    if (!anchor) {
        err = wb_aenv_fail(&ap->env, res, WB_ERR_INVALID, WB_REASON_BAD_GROUP_ID, -1, NULL);
        goto out;
    }
    /* Only an object carrying our anchor is deleted; no adoption on the way out. */
    err = locate(ap, cx, anchor, false, NULL, &nc, &o, &found, res);
    if (err == WB_OK && found)
        err = wb_object_delete(&ap->env, cx, &o, res);
out:
    wb_object_names_clear(&nc);
    free(anchor);
    wb_object_free(&o);
    return err;
}

wb_err_t wb_apply_step(wb_apply_t *ap, const struct wb_apply_ctx *cx, const struct wb_step *st,
                       struct wb_apply_result *res)
{
    memset(res, 0, sizeof(*res));
    res->ldap_rc = -1;
    switch (st->kind) {
    case WB_STEP_SYNC:
        res->err = step_sync(ap, cx, st, res);
        break;
    case WB_STEP_DELETE:
        res->err = step_delete(ap, cx, res);
        break;
    case WB_STEP_UNSCOPED:
        if (!ap->env.cfg.keep_unscoped) {
            res->err = step_delete(ap, cx, res); /* changes folded in before it are moot */
            break;
        }
        /* Kept: the changes made before it left scope (folded in by wb_plan) still count. */
        if (st->delta && (res->err = step_sync(ap, cx, st, res)) != WB_OK)
            break;
        wb_log(LOG_INFO, "WORKER",
               "group=%s left scope; keeping its AD group (worker.out_of_scope=keep) "
               "partition=%d offset=%lld",
               cx->group, (int)cx->partition, (long long)cx->offset);
        if (!st->delta) {
            res->skipped = true;
            res->reason = wb_reason_tag(WB_REASON_OUT_OF_SCOPE_KEEP);
        }
        res->err = WB_OK;
        break;
    default:
        res->err = wb_aenv_fail(&ap->env, res, WB_ERR_INVALID, WB_REASON_UNKNOWN_STEP, -1, NULL);
        break;
    }
    return res->err;
}
