/*
 * wb_aenv: what the parts of the apply path share (the environment wb_apply hands down to
 * wb_object and wb_members): the connection, the settings, the metrics, the observer, and how
 * a step's failure and each write are reported. Application thread only.
 */
#ifndef WB_AENV_H
#define WB_AENV_H

#include "wb_apply.h"
#include "wb_err.h"
#include "wb_ldap.h"
#include "wb_metrics.h"
#include "wb_reason.h"

#include <stddef.h>

struct wb_aenv {
    wb_ldap_t *ld;           /* borrowed: the session every request goes through */
    wb_metric_t *skipped;    /* borrowed, may be NULL: member references skipped{reason} */
    struct wb_apply_cfg cfg; /* base_dn and target_ou owned by wb_apply */
    wb_apply_observer obs;   /* may be NULL */
    void *obs_opaque;        /* borrowed */
};

/* Fills res with a failure and returns err. rc < 0: no LDAP code (otherwise the message of
 * the last LDAP operation goes with it); dn may be NULL. */
wb_err_t wb_aenv_fail(const struct wb_aenv *env, struct wb_apply_result *res, wb_err_t err,
                      enum wb_reason reason, int rc, const char *dn);

/* As wb_aenv_fail with the class of LDAP code rc (never WB_OK). */
wb_err_t wb_aenv_ldap_fail(const struct wb_aenv *env, struct wb_apply_result *res,
                           enum wb_reason reason, int rc, const char *dn);

/* One write sent (or in a dry run, planned): the AUDIT (DRYRUN) line and the observer's call.
 * attrs is the audit line's attrs text; members the member values the write carries. */
void wb_aenv_audit(const struct wb_aenv *env, const struct wb_apply_ctx *cx,
                   enum wb_apply_op_kind kind, const char *dn, const char *attrs, size_t members);

/* n member references skipped for reason (a WB_REASON_KIND_SKIP reason), counted in
 * env->skipped. */
void wb_aenv_skipped(const struct wb_aenv *env, enum wb_reason reason, double n);

/* The LDAP code of env->ld's last operation, or LDAP_SUCCESS in a dry run (nothing sent). */
int wb_aenv_write_rc(const struct wb_aenv *env);

#endif
