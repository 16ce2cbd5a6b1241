/*
 * wb_ad: the worker's LDAP session (see wb_ad.h). Certificates are always verified
 * (LDAP_OPT_X_TLS_DEMAND on a fresh TLS context); the connection is re-established lazily by
 * the next operation after a code that means it is gone.
 */
#include "wb_ad.h"
#include "wb_log.h"
#include "wb_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define FAC "LDAP"

struct wb_ad_s {
    char *uri, *bind_dn, *password, *ca_file;
    bool starttls, allow_insecure;
    int timeout_ms;
    LDAP *ld;
    unsigned connections; /* successful binds so far */
    struct timespec t0;   /* start of the operation in progress */
    struct wb_wmetrics *wm;
    char *msg, *matched;
};

static bool uri_is_plain(const char *uri)
{
    return strncasecmp(uri, "ldap://", 7) == 0;
}

wb_ad_t *wb_ad_new(const struct wb_ad_opts *o, struct wb_wmetrics *wm, char *errstr, size_t errsz)
{
    wb_ad_t *ad;

    if (!o->uri || !*o->uri || !o->bind_dn || !o->password) {
        snprintf(errstr, errsz, "ldap.uri, ldap.bind_dn and ldap.password_file must be set");
        return NULL;
    }
    if (uri_is_plain(o->uri) && !o->starttls && !o->allow_insecure) {
        snprintf(errstr, errsz,
                 "ldap.uri %s is plain LDAP: a simple bind would send the password in clear; "
                 "use ldaps://, set ldap.starttls=true, or (tests only) ldap.allow_insecure=true",
                 o->uri);
        return NULL;
    }
    ad = wb_calloc(1, sizeof(*ad));
    ad->uri = wb_strdup(o->uri);
    ad->bind_dn = wb_strdup(o->bind_dn);
    ad->password = wb_strdup(o->password);
    ad->ca_file = o->ca_file ? wb_strdup(o->ca_file) : NULL;
    ad->starttls = o->starttls;
    ad->allow_insecure = o->allow_insecure;
    ad->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 30000;
    ad->wm = wm;
    ad->msg = wb_strdup("");
    ad->matched = wb_strdup("");
    return ad;
}

void wb_ad_disconnect(wb_ad_t *ad)
{
    if (ad && ad->ld) {
        ldap_unbind_ext_s(ad->ld, NULL, NULL);
        ad->ld = NULL;
    }
}

void wb_ad_destroy(wb_ad_t *ad)
{
    if (!ad)
        return;
    wb_ad_disconnect(ad);
    if (ad->password) {
        memset(ad->password, 0, strlen(ad->password));
        free(ad->password);
    }
    free(ad->uri);
    free(ad->bind_dn);
    free(ad->ca_file);
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

/* Reads the handle's diagnostic message (after a failed bind or StartTLS). */
static void diag_from_handle(wb_ad_t *ad, LDAP *ld)
{
    char *msg = NULL;

    ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &msg);
    set_diag(ad, msg, NULL);
    ldap_memfree(msg);
}

static bool conn_gone(int rc)
{
    return rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR || rc == LDAP_TIMEOUT ||
           rc == LDAP_UNAVAILABLE || rc == LDAP_BUSY;
}

static wb_err_t classify_bind(int rc)
{
    switch (rc) {
    case LDAP_INVALID_CREDENTIALS:
    case LDAP_INAPPROPRIATE_AUTH:
    case LDAP_STRONG_AUTH_REQUIRED:
    case LDAP_CONFIDENTIALITY_REQUIRED:
    case LDAP_AUTH_METHOD_NOT_SUPPORTED:
    case LDAP_INSUFFICIENT_ACCESS:
    case LDAP_INVALID_DN_SYNTAX:
        return WB_ERR_FATAL;
    default:
        return WB_ERR_TRANSIENT;
    }
}

wb_err_t wb_ad_connect(wb_ad_t *ad, char *errstr, size_t errsz)
{
    struct timeval tv = {ad->timeout_ms / 1000, (ad->timeout_ms % 1000) * 1000};
    struct berval cred;
    int version = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND, zero = 0, rc;
    LDAP *ld = NULL;
    wb_err_t err = WB_OK;

    if (ad->ld)
        return WB_OK;
    rc = ldap_initialize(&ld, ad->uri);
    if (rc != LDAP_SUCCESS) {
        snprintf(errstr, errsz, "ldap.uri %s: %s", ad->uri, ldap_err2string(rc));
        err = WB_ERR_FATAL;
        goto out;
    }
    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv);
    ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
    if (ad->ca_file)
        ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, ad->ca_file);
    ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero);

    if (ad->starttls && uri_is_plain(ad->uri)) {
        rc = ldap_start_tls_s(ld, NULL, NULL);
        if (rc != LDAP_SUCCESS) {
            diag_from_handle(ad, ld);
            err = rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR ? WB_ERR_TRANSIENT
                                                                     : WB_ERR_FATAL;
            snprintf(errstr, errsz,
                     "StartTLS to %s failed: %s (%s); check ldap.uri, ldap.ca_file and "
                     "ldap.starttls",
                     ad->uri, ldap_err2string(rc), ad->msg);
            goto out;
        }
    }
    cred.bv_val = ad->password;
    cred.bv_len = strlen(ad->password);
    rc = ldap_sasl_bind_s(ld, ad->bind_dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
    if (rc != LDAP_SUCCESS) {
        diag_from_handle(ad, ld);
        err = classify_bind(rc);
        if (rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR)
            snprintf(errstr, errsz,
                     "cannot reach %s: %s (%s); if the server is up, check ldap.uri and "
                     "ldap.ca_file (certificate verification)",
                     ad->uri, ldap_err2string(rc), ad->msg);
        else
            snprintf(errstr, errsz, "bind to %s as %s failed: %s (%s); check %s", ad->uri,
                     ad->bind_dn, ldap_err2string(rc), ad->msg,
                     rc == LDAP_STRONG_AUTH_REQUIRED || rc == LDAP_CONFIDENTIALITY_REQUIRED
                         ? "ldap.uri (use ldaps://) or ldap.starttls"
                         : "ldap.bind_dn and ldap.password_file");
        goto out;
    }
    wb_log(LOG_INFO, FAC, "connected to %s as %s", ad->uri, ad->bind_dn);
    ad->ld = ld;
    ad->connections++;
    ld = NULL;
out:
    if (ld)
        ldap_unbind_ext_s(ld, NULL, NULL);
    return err;
}

/* Connect if needed; on failure the operation answers LDAP_SERVER_DOWN (or the bind code). */
static int ensure(wb_ad_t *ad)
{
    char err[512];

    clock_gettime(CLOCK_MONOTONIC, &ad->t0);
    if (ad->ld)
        return LDAP_SUCCESS;
    if (wb_ad_connect(ad, err, sizeof(err)) != WB_OK) {
        wb_log(LOG_WARNING, FAC, "%s", err);
        set_diag(ad, err, NULL);
        return LDAP_SERVER_DOWN;
    }
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
    if (conn_gone(rc)) {
        wb_log(LOG_WARNING, FAC, "%s: %s (%s); reconnecting", op, ldap_err2string(rc), ad->msg);
        wb_ad_disconnect(ad);
    }
    wb_wmetrics_ldap(ad->wm, op, rc == LDAP_SUCCESS, sent);
    if (sent) {
        struct timespec t1;

        clock_gettime(CLOCK_MONOTONIC, &t1);
        wb_wmetrics_ldap_time(ad->wm, op,
                              (double)(t1.tv_sec - ad->t0.tv_sec) +
                                  (double)(t1.tv_nsec - ad->t0.tv_nsec) / 1e9);
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
    LDAPControl ctrl = {"1.2.840.113556.1.4.1413", {0, NULL}, 0};
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
