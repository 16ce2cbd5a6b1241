/*
 * wb_apply_int: what the two halves of wb_apply (object, members) share. Not a public API.
 */
#ifndef WB_APPLY_INT_H
#define WB_APPLY_INT_H

#include "wb_apply.h"
#include "wb_map.h"
#include "wb_reason.h"

struct wb_apply_s {
    wb_ad_t *ad;
    struct wb_wmetrics *wm;
    struct wb_apply_cfg cfg; /* base_dn and target_ou owned */
    /* Set by the locate search of the current SYNC step (cleared after it): whether the DN
     * the group would be created at is taken, and by whom its sAMAccountName (owned), so
     * apply_create needs no search of its own. */
    bool create_checked;
    bool create_dn_taken;
    char *create_sam_holder;
    /* Groups written by Connect Sync writeback (adminDescription=Group_<id>, no anchor), so
     * that a create needs no unindexed adminDescription search (wb_apply.c, wbv2_*). */
    struct {
        char **anchors;    /* their adminDescription values, sorted case-insensitively */
        size_t n, cap;     /* entries used and allocated */
        long long usn;     /* highestCommittedUSN read before the last listing; < 0: none */
        long long scanned; /* monotonic ms of the last full scan */
        unsigned conn;     /* wb_ad_connections() at the last listing */
    } wbv2;
};

/* Fills res with a failure (res->reason: the tag of reason) and returns err. rc < 0: no LDAP
 * code; dn may be NULL. */
wb_err_t apply_fail(wb_apply_t *ap, struct wb_apply_result *res, wb_err_t err,
                    enum wb_reason reason, int rc, const char *dn);
/* As apply_fail with the class of LDAP code rc (never WB_OK). */
wb_err_t apply_ldap_fail(wb_apply_t *ap, struct wb_apply_result *res, enum wb_reason reason, int rc,
                         const char *dn);
/* One audit (or DRYRUN) line. */
void apply_audit(wb_apply_t *ap, const struct wb_apply_ctx *cx, const char *op, const char *dn,
                 const char *attrs);
/* First value of attr in entry e, caller-owned, or NULL. */
char *apply_first_value(LDAP *ld, LDAPMessage *e, const char *attr);
bool apply_dn_equal(const char *a, const char *b);

/* Outcomes of apply_create. */
enum {
    APPLY_CREATE_DONE = 0,          /* created (or the failure is in res) */
    APPLY_CREATE_OURS = 1,          /* the DN holds our anchor already (created meanwhile) */
    APPLY_CREATE_MEMBER_REFUSED = 2 /* refused; a bad member value may explain it */
};
/* Adds group m with the member values vals (NULL-terminated, n of them; n may be 0). */
wb_err_t apply_create(wb_apply_t *ap, const struct wb_apply_ctx *cx, const struct wb_map_group *m,
                      struct berval **vals, size_t n, int *outcome, struct wb_apply_result *res);

/* Member changes of a SYNC step on the group at dn. create non-NULL: the group does not exist
 * yet; it is created here (with the first chunk of members in the add) at create->dn, and
 * *ours is set when an object with our anchor turned out to hold that DN (nothing else done). */
wb_err_t apply_members(wb_apply_t *ap, const struct wb_apply_ctx *cx, const struct wb_step *st,
                       const char *dn, const struct wb_map_group *create, bool *ours,
                       struct wb_apply_result *res);

#endif
