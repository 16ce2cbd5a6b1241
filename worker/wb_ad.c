/*
 * wb_ad: the worker's LDAP session (see wb_ad.h). Connecting is wb_ldap's (the one checked
 * connect path: TLS verification pinned on the handle); the connection is re-established
 * lazily by the next operation after a code that means it is gone.
 */
#include "wb_ad.h"
#include "wb_ldap.h"
#include "wb_log.h"
#include "wb_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FAC "LDAP"

struct wb_ad_s {
    wb_ldap_t *conn; /* settings and connection: the one checked connect path */
    char *uri;
    int timeout_ms;
    unsigned connections; /* successful binds so far */
    struct timespec t0;   /* start of the operation in progress */
    struct wb_wmetrics *wm;
    char *msg, *matched;
    LDAP *ld; /* wb_ldap_handle(conn), NULL while disconnected */
};

/* Counts and times one operation sent to the server (wb_ldap's hook, and ours). */
static void op_done(const char *op, int rc, double seconds, void *opaque)
{
    wb_ad_t *ad = opaque;

    wb_wmetrics_ldap(ad->wm, op, rc == LDAP_SUCCESS, true);
    wb_wmetrics_ldap_time(ad->wm, op, seconds);
}

wb_ad_t *wb_ad_new(const struct wb_ldap_opts *o, struct wb_wmetrics *wm, char *errstr, size_t errsz)
{
    struct wb_ldap_opts lo = *o;
    wb_ad_t *ad = NULL;
    wb_ldap_t *conn;

    if (!o->uri || !*o->uri || !o->bind_dn || !o->password) {
        snprintf(errstr, errsz, "ldap.uri, ldap.bind_dn and ldap.password_file must be set");
        goto out;
    }
    lo.timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 30000;
    lo.lazy = 1;
    conn = wb_ldap_new(&lo, errstr, errsz);
    if (!conn)
        goto out;
    ad = wb_calloc(1, sizeof(*ad));
    ad->conn = conn;
    ad->uri = wb_strdup(o->uri);
    ad->timeout_ms = lo.timeout_ms;
    ad->wm = wm;
    ad->msg = wb_strdup("");
    ad->matched = wb_strdup("");
    wb_ldap_set_op_hook(conn, op_done, ad);

out:
    return ad;
}

void wb_ad_disconnect(wb_ad_t *ad)
{
    if (ad && ad->ld) {
        wb_ldap_disconnect(ad->conn);
        ad->ld = NULL;
    }
}

void wb_ad_destroy(wb_ad_t *ad)
{
    if (!ad)
        return;
    wb_ldap_destroy(ad->conn);
    free(ad->uri);
    free(ad->msg);
    free(ad->matched);
    free(ad);
}

unsigned wb_ad_connections(const wb_ad_t *ad)
{
    return ad->connections;
}

bool wb_ad_connected(const wb_ad_t *ad)
{
    return ad->ld != NULL;
}

LDAP *wb_ad_handle(wb_ad_t *ad)
{
    return ad->ld;
}

const char *wb_ad_last_message(const wb_ad_t *ad)
{
    return ad->msg;
}

const char *wb_ad_last_matched(const wb_ad_t *ad)
{
    return ad->matched;
}

static void set_diag(wb_ad_t *ad, const char *msg, const char *matched)
{
    free(ad->msg);
    free(ad->matched);
    ad->msg = wb_strdup(msg ? msg : "");
    ad->matched = wb_strdup(matched ? matched : "");
}

/* Reads the handle's diagnostic message (after a failed operation). */
static void diag_from_handle(wb_ad_t *ad, LDAP *ld)
{
    char *msg = NULL;

    ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &msg);
    set_diag(ad, msg, NULL);
    ldap_memfree(msg);
}

wb_err_t wb_ad_connect(wb_ad_t *ad, char *errstr, size_t errsz)
{
    wb_err_t err;

    if (ad->ld)
        return WB_OK;
    /* wb_ldap checks every option, pins TLS verification on the handle and logs a failure. */
    err = wb_ldap_reconnect(ad->conn);
    if (err != WB_OK) {
        snprintf(errstr, errsz, "%s", wb_ldap_last_error(ad->conn));
        set_diag(ad, wb_ldap_last_error(ad->conn), NULL);
        return err;
    }
    ad->ld = wb_ldap_handle(ad->conn);
    ad->connections++;
    wb_log(LOG_INFO, FAC, "connected to %s", ad->uri);
    return WB_OK;
}

/* Connect if needed; on failure the operation answers LDAP_SERVER_DOWN (or the bind code). */
static int ensure(wb_ad_t *ad)
{
    char err[512];

    clock_gettime(CLOCK_MONOTONIC, &ad->t0);
    if (ad->ld)
        return LDAP_SUCCESS;
    if (wb_ad_connect(ad, err, sizeof(err)) != WB_OK)
        return LDAP_SERVER_DOWN; /* wb_ldap logged why; ad->msg says it too */
    return LDAP_SUCCESS;
}

static struct timeval op_timeout(const wb_ad_t *ad)
{
    struct timeval tv = {ad->timeout_ms / 1000, (ad->timeout_ms % 1000) * 1000};

    return tv;
}

/* Reads code, message and matched DN of a result, frees nothing. */
static int result_of(wb_ad_t *ad, int rc, LDAPMessage *res)
{
    char *matched = NULL, *msg = NULL;
    int code = rc;

    if (res && ldap_parse_result(ad->ld, res, &code, &matched, &msg, NULL, NULL, 0) != LDAP_SUCCESS)
        code = rc;
    if (!res)
        diag_from_handle(ad, ad->ld);
    else
        set_diag(ad, msg, matched);
    ldap_memfree(matched);
    ldap_memfree(msg);
    return code;
}

static int finish_sent(wb_ad_t *ad, const char *op, int rc, bool sent)
{
    if (wb_ldap_conn_gone(rc)) {
        wb_log(LOG_WARNING, FAC, "%s: %s (%s); reconnecting", op, ldap_err2string(rc), ad->msg);
        wb_ad_disconnect(ad);
    }
    if (sent) {
        struct timespec t1;

        clock_gettime(CLOCK_MONOTONIC, &t1);
        op_done(op, rc,
                (double)(t1.tv_sec - ad->t0.tv_sec) + (double)(t1.tv_nsec - ad->t0.tv_nsec) / 1e9,
                ad);
    } else {
        wb_wmetrics_ldap(ad->wm, op, rc == LDAP_SUCCESS, false);
    }
    return rc;
}

static int finish(wb_ad_t *ad, const char *op, int rc)
{
    return finish_sent(ad, op, rc, true);
}

int wb_ad_search(wb_ad_t *ad, const char *base, int scope, const char *filter,
                 const char *const *attrs, LDAPControl **ctrls, LDAPMessage **res)
{
    struct timeval tv = op_timeout(ad);
    int rc;

    *res = NULL;
    rc = ensure(ad);
    if (rc != LDAP_SUCCESS) {
        return finish_sent(ad, "search", rc, false);
    }
    rc =
        ldap_search_ext_s(ad->ld, base, scope, filter, (char **)attrs, 0, ctrls, NULL, &tv, 0, res);
    if (rc != LDAP_SUCCESS)
        diag_from_handle(ad, ad->ld);
    else
        set_diag(ad, NULL, NULL);
    return finish(ad, "search", rc);
}

/* Waits for the result of a write sent as msgid (msgid_rc: how sending went). */
static int write_op(wb_ad_t *ad, const char *op, int msgid_rc, int msgid)
{
    struct timeval tv = op_timeout(ad);
    LDAPMessage *res = NULL;
    int rc;

    if (msgid_rc != LDAP_SUCCESS) {
        diag_from_handle(ad, ad->ld);
        return finish_sent(ad, op, msgid_rc, false);
    }
    rc = ldap_result(ad->ld, msgid, LDAP_MSG_ALL, &tv, &res);
    if (rc == 0) {
        ldap_abandon_ext(ad->ld, msgid, NULL, NULL);
        set_diag(ad, "timed out waiting for the result", NULL);
        rc = LDAP_TIMEOUT;
    } else if (rc < 0) {
        ldap_get_option(ad->ld, LDAP_OPT_RESULT_CODE, &rc);
        diag_from_handle(ad, ad->ld);
        if (rc == LDAP_SUCCESS)
            rc = LDAP_SERVER_DOWN;
    } else {
        rc = result_of(ad, rc, res);
    }
    ldap_msgfree(res);
    return finish(ad, op, rc);
}

int wb_ad_add(wb_ad_t *ad, const char *dn, LDAPMod **mods)
{
    int msgid = 0, rc = ensure(ad);

    if (rc != LDAP_SUCCESS)
        return finish_sent(ad, "add", rc, false);
    rc = ldap_add_ext(ad->ld, dn, mods, NULL, NULL, &msgid);
    return write_op(ad, "add", rc, msgid);
}

int wb_ad_modify(wb_ad_t *ad, const char *dn, LDAPMod **mods, bool permissive)
{
    LDAPControl ctrl = {WB_LDAP_PERMISSIVE_MODIFY_OID, {0, NULL}, 0};
    LDAPControl *ctrls[2] = {&ctrl, NULL};
    int msgid = 0, rc = ensure(ad);

    if (rc != LDAP_SUCCESS)
        return finish_sent(ad, "modify", rc, false);
    rc = ldap_modify_ext(ad->ld, dn, mods, permissive ? ctrls : NULL, NULL, &msgid);
    return write_op(ad, "modify", rc, msgid);
}

int wb_ad_rename(wb_ad_t *ad, const char *dn, const char *newrdn, const char *newsuperior)
{
    int msgid = 0, rc = ensure(ad);

    if (rc != LDAP_SUCCESS)
        return finish_sent(ad, "modrdn", rc, false);
    rc = ldap_rename(ad->ld, dn, newrdn, newsuperior, 1, NULL, NULL, &msgid);
    return write_op(ad, "modrdn", rc, msgid);
}

int wb_ad_delete(wb_ad_t *ad, const char *dn)
{
    int msgid = 0, rc = ensure(ad);

    if (rc != LDAP_SUCCESS)
        return finish_sent(ad, "delete", rc, false);
    rc = ldap_delete_ext(ad->ld, dn, NULL, NULL, &msgid);
    return write_op(ad, "delete", rc, msgid);
}

/* The outcome of a wb_ldap call on the connection: its code and diagnostic, and a connection
 * that is gone dropped, as the other operations do. */
static int after_wb_ldap(wb_ad_t *ad)
{
    int rc = wb_ldap_last_rc(ad->conn);

    set_diag(ad, rc == LDAP_SUCCESS ? NULL : wb_ldap_last_error(ad->conn), NULL);
    if (wb_ldap_conn_gone(rc)) {
        wb_log(LOG_WARNING, FAC, "search: %s (%s); reconnecting", ldap_err2string(rc), ad->msg);
        wb_ad_disconnect(ad);
    }
    return rc;
}

int wb_ad_search_paged(wb_ad_t *ad, const char *base, const char *filter, const char *const *attrs,
                       int page_size, wb_ldap_entry_cb cb, void *opaque)
{
    if (!ad->ld)
        return LDAP_SERVER_DOWN;
    wb_ldap_search_paged(ad->conn, base, WB_LDAP_SCOPE_SUB, filter, attrs, page_size, cb, opaque);
    return after_wb_ldap(ad);
}

int wb_ad_read_members(wb_ad_t *ad, const char *dn, size_t window, wb_ldap_value_cb cb,
                       void *opaque)
{
    int rc = ensure(ad);

    if (rc != LDAP_SUCCESS)
        return finish_sent(ad, "search", rc, false);
    /* wb_ldap counts and times each request through op_done. */
    wb_ldap_read_values(ad->conn, dn, "member", window, WB_LDAP_READ_EXTDN, cb, opaque, NULL);
    return after_wb_ldap(ad);
}
