/*
 * wb_apply_int: what the two halves of wb_apply (object, members) share. Not a public API.
 */
#ifndef WB_APPLY_INT_H
#define WB_APPLY_INT_H

#include "wb_apply.h"

struct wb_apply_s {
    wb_ad_t *ad;
    struct wb_wmetrics *wm;
    struct wb_apply_cfg cfg; /* base_dn and target_ou owned */
};

/* Fills res with a failure and returns err. rc < 0: no LDAP code; dn may be NULL. */
wb_err_t apply_fail(wb_apply_t *ap, struct wb_apply_result *res, wb_err_t err, const char *reason,
                    int rc, const char *dn);
/* As apply_fail with the class of LDAP code rc (never WB_OK). */
wb_err_t apply_ldap_fail(wb_apply_t *ap, struct wb_apply_result *res, const char *reason, int rc,
                         const char *dn);
/* One audit (or DRYRUN) line. */
void apply_audit(wb_apply_t *ap, const struct wb_apply_ctx *cx, const char *op, const char *dn,
                 const char *attrs);
/* First value of attr in entry e, caller-owned, or NULL. */
char *apply_first_value(LDAP *ld, LDAPMessage *e, const char *attr);
bool apply_dn_equal(const char *a, const char *b);

/* Member changes of a SYNC step on the group at dn; fresh: the group was just created (no
 * members yet). */
wb_err_t apply_members(wb_apply_t *ap, const struct wb_apply_ctx *cx, const struct wb_step *st,
                       const char *dn, bool fresh, struct wb_apply_result *res);

#endif
