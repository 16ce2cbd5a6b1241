/*
 * wb_aenv: failure and audit reporting shared by the parts of the apply path (see wb_aenv.h).
 */
#include "wb_aenv.h"
#include "wb_log.h"
#include "wb_mem.h"

#include <ldap.h>
#include <stdlib.h>

wb_err_t wb_aenv_fail(const struct wb_aenv *env, struct wb_apply_result *res, wb_err_t err,
                      enum wb_reason reason, int rc, const char *dn)
{
    res->err = err;
    res->reason = wb_reason_tag(reason);
    res->ldap_rc = rc;
    free(res->ldap_message);
    free(res->matched_dn);
    res->ldap_message = rc >= 0 ? wb_strdup(wb_ldap_last_error(env->ld)) : NULL;
    res->matched_dn = dn ? wb_strdup(dn) : NULL;
    return err;
}

wb_err_t wb_aenv_ldap_fail(const struct wb_aenv *env, struct wb_apply_result *res,
                           enum wb_reason reason, int rc, const char *dn)
{
    wb_err_t err = wb_err_from_ldap(rc);

    if (err == WB_OK)
        err = WB_ERR_TRANSIENT;
    return wb_aenv_fail(env, res, err, reason, rc, dn);
}

/* The audit line's op= of each kind (the LDAP operation). */
static const char *const op_names[] = {
    [WB_APPLY_OP_CREATE] = "add",
    [WB_APPLY_OP_MODIFY] = "modify",
    [WB_APPLY_OP_RENAME] = "modrdn",
    [WB_APPLY_OP_ADOPT] = "adopt",
    [WB_APPLY_OP_DELETE] = "delete",
    [WB_APPLY_OP_ADD_MEMBERS] = "modify",
    [WB_APPLY_OP_REMOVE_MEMBERS] = "modify",
};

void wb_aenv_audit(const struct wb_aenv *env, const struct wb_apply_ctx *cx,
                   enum wb_apply_op_kind kind, const char *dn, const char *attrs, size_t members)
{
    struct wb_apply_op op = {kind, cx->group, dn, attrs, members};

    wb_log(LOG_NOTICE, env->cfg.dry_run ? "DRYRUN" : "AUDIT",
           "op=%s group=%s dn=\"%s\" attrs=%s partition=%d offset=%lld", op_names[kind], cx->group,
           dn, attrs, (int)cx->partition, (long long)cx->offset);
    if (env->obs)
        env->obs(&op, env->obs_opaque);
}

void wb_aenv_skipped(const struct wb_aenv *env, enum wb_reason reason, double n)
{
    const char *lv[1] = {wb_reason_tag(reason)};

    if (env->skipped)
        wb_metrics_inc(env->skipped, lv, n);
}

int wb_aenv_write_rc(const struct wb_aenv *env)
{
    return env->cfg.dry_run ? LDAP_SUCCESS : wb_ldap_last_rc(env->ld);
}
