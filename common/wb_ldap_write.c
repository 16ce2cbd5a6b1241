/*
 * wb_ldap_write: the writes of a wb_ldap handle (add, modify with the permissive-modify
 * control, rename, delete), each sent asynchronously and awaited with the handle's timeout so
 * that a request without an answer is abandoned rather than waited for forever.
 */
#include "wb_ldap_int.h"

#include <ldap.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wb_log.h"
#include "wb_mem.h"

/* Waits up to the handle's timeout for the result of the write sent as msgid (send_rc: how
 * sending went), abandoning it on timeout. Returns the LDAP code; the diagnostic stays on the
 * handle for wb_ldap_set_result. */
static int write_result(wb_ldap_t *ld, int send_rc, int msgid)
{
    struct timeval tv = ms_to_tv(ld->timeout_ms);
    LDAPMessage *res = NULL;
    int rc = send_rc;

    if (rc != LDAP_SUCCESS)
        goto out;
    rc = ldap_result(ld->l, msgid, LDAP_MSG_ALL, &tv, &res);
    if (rc == 0) {
        ldap_abandon_ext(ld->l, msgid, NULL, NULL);
        rc = LDAP_TIMEOUT;
    } else if (rc < 0 || !res ||
               ldap_parse_result(ld->l, res, &rc, NULL, NULL, NULL, NULL, 0) != LDAP_SUCCESS) {
        ldap_get_option(ld->l, LDAP_OPT_RESULT_CODE, &rc);
        if (rc == LDAP_SUCCESS)
            rc = LDAP_SERVER_DOWN;
    }

out:
    ldap_msgfree(res);
    return rc;
}

/* LDAPMod arrays built from wb_ldap_mod, all in one place so one call frees them. */
struct mod_buf {
    LDAPMod *mods;
    LDAPMod **pmods;
    struct berval *bvs;
    struct berval **pbvs;
};

static void mod_buf_free(struct mod_buf *b)
{
    free(b->mods);
    free(b->pmods);
    free(b->bvs);
    free(b->pbvs);
}

/* Returns 0, or -1 with msg set when the caller's list is malformed. */
static int mod_buf_build(struct mod_buf *b, const struct wb_ldap_mod *in, size_t n, int for_add,
                         const char **msg)
{
    size_t i, j, total = 0, nb = 0, np = 0;

    memset(b, 0, sizeof(*b));
    if (n == 0 || !in) {
        *msg = "no attributes or modifications given";
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (!in[i].attr || !*in[i].attr || (in[i].nvalues && !in[i].values)) {
            *msg = "attribute without name, or values missing";
            return -1;
        }
        if ((for_add || in[i].op == WB_LDAP_MOD_ADD) && in[i].nvalues == 0) {
            *msg = "an added attribute needs at least one value";
            return -1;
        }
        if (!for_add && (unsigned)in[i].op > WB_LDAP_MOD_REPLACE) {
            *msg = "unknown modify operation";
            return -1;
        }
        for (j = 0; j < in[i].nvalues; j++) {
            if (!in[i].values[j]) {
                *msg = "NULL value";
                return -1;
            }
        }
        total += in[i].nvalues;
    }
    b->mods = wb_calloc(n, sizeof(*b->mods));
    b->pmods = wb_calloc(n + 1, sizeof(*b->pmods));
    b->bvs = wb_calloc(total ? total : 1, sizeof(*b->bvs));
    b->pbvs = wb_calloc(total + n, sizeof(*b->pbvs));
    for (i = 0; i < n; i++) {
        LDAPMod *m = &b->mods[i];

        if (for_add || in[i].op == WB_LDAP_MOD_ADD)
            m->mod_op = LDAP_MOD_ADD;
        else if (in[i].op == WB_LDAP_MOD_DELETE)
            m->mod_op = LDAP_MOD_DELETE;
        else
            m->mod_op = LDAP_MOD_REPLACE;
        m->mod_op |= LDAP_MOD_BVALUES;
        m->mod_type = (char *)in[i].attr;
        m->mod_bvalues = &b->pbvs[np];
        for (j = 0; j < in[i].nvalues; j++) {
            b->bvs[nb].bv_val = (char *)in[i].values[j];
            b->bvs[nb].bv_len = strlen(in[i].values[j]);
            b->pbvs[np++] = &b->bvs[nb++];
        }
        b->pbvs[np++] = NULL;
        b->pmods[i] = m;
    }
    return 0;
}

/* One write request, as wb_ldap_add, _modify, _rename and _delete send it. */
enum write_kind { W_ADD, W_MODIFY, W_RENAME, W_DELETE };

struct write_req {
    enum write_kind kind;
    const char *dn;
    LDAPMod **mods;                     /* add, modify */
    LDAPControl **ctrls;                /* modify: the permissive-modify control, or NULL */
    const char *new_rdn, *new_superior; /* rename */
};

/* Sends w on the connection (connecting first with opts.reconnect) and waits for its result
 * (write_result), ended by wb_ldap_op_end. Returns the class of the result code. */
static wb_err_t write_op(wb_ldap_t *ld, const struct write_req *w)
{
    static const char *const ops[] = {"add", "modify", "modrdn", "delete"};
    const char *op = ops[w->kind];
    struct timespec t0;
    int msgid = 0;
    int rc;

    if (wb_ldap_not_connected(ld, op))
        return WB_ERR_TRANSIENT;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (w->kind == W_ADD)
        rc = ldap_add_ext(ld->l, w->dn, w->mods, NULL, NULL, &msgid);
    else if (w->kind == W_MODIFY)
        rc = ldap_modify_ext(ld->l, w->dn, w->mods, w->ctrls, NULL, &msgid);
    else if (w->kind == W_RENAME)
        rc = ldap_rename(ld->l, w->dn, w->new_rdn, w->new_superior, 1, NULL, NULL, &msgid);
    else
        rc = ldap_delete_ext(ld->l, w->dn, NULL, NULL, &msgid);
    rc = wb_ldap_op_end(ld, op, write_result(ld, rc, msgid), &t0);
    wb_dbg("ldap", "LDAP", "%s %s%s%s%s%s%s: rc=%d %s", op, w->dn, w->new_rdn ? " to " : "",
           w->new_rdn ? w->new_rdn : "", w->new_superior ? "," : "",
           w->new_superior ? w->new_superior : "", w->ctrls ? " (permissive)" : "", rc,
           ld->last_error);
    return wb_err_from_ldap(rc);
}

/* An add (kind W_ADD) or modify of mods[0..n), built into libldap's form here. */
static wb_err_t write_mods(wb_ldap_t *ld, enum write_kind kind, const char *dn,
                           const struct wb_ldap_mod *mods, size_t n, LDAPControl **ctrls)
{
    struct mod_buf b;
    struct write_req w = {kind, dn, NULL, ctrls, NULL, NULL};
    const char *msg = NULL;
    wb_err_t err;

    memset(&b, 0, sizeof(b));
    if (!dn || mod_buf_build(&b, mods, n, kind == W_ADD, &msg) != 0) {
        err = wb_ldap_local_error(ld, LDAP_PARAM_ERROR,
                                  msg             ? msg
                                  : kind == W_ADD ? "add: no DN"
                                                  : "modify: no DN");
        goto out;
    }
    w.mods = b.pmods;
    err = write_op(ld, &w);

out:
    mod_buf_free(&b);
    return err;
}

wb_err_t wb_ldap_add(wb_ldap_t *ld, const char *dn, const struct wb_ldap_mod *attrs, size_t nattrs)
{
    return write_mods(ld, W_ADD, dn, attrs, nattrs, NULL);
}

wb_err_t wb_ldap_modify(wb_ldap_t *ld, const char *dn, const struct wb_ldap_mod *mods, size_t nmods,
                        int permissive)
{
    LDAPControl pm = {WB_LDAP_PERMISSIVE_MODIFY_OID, {0, NULL}, 0}; /* not critical */
    LDAPControl *ctrls[] = {&pm, NULL};

    return write_mods(ld, W_MODIFY, dn, mods, nmods, permissive ? ctrls : NULL);
}

wb_err_t wb_ldap_rename(wb_ldap_t *ld, const char *dn, const char *new_rdn,
                        const char *new_superior)
{
    struct write_req w = {W_RENAME, dn, NULL, NULL, new_rdn, new_superior};

    if (!dn || !new_rdn || !*new_rdn)
        return wb_ldap_local_error(ld, LDAP_PARAM_ERROR, "rename: no DN or new RDN");
    return write_op(ld, &w);
}

wb_err_t wb_ldap_delete(wb_ldap_t *ld, const char *dn)
{
    struct write_req w = {W_DELETE, dn, NULL, NULL, NULL, NULL};

    if (!dn || !*dn)
        return wb_ldap_local_error(ld, LDAP_PARAM_ERROR, "delete: no DN");
    return write_op(ld, &w);
}
