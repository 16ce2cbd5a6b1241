/*
 * wb_ldap: the LDAP handle, its session and the bookkeeping every operation shares: settings
 * checked and copied, connect and reconnect on demand (the connection itself is opened in
 * wb_ldap_open.c), the outcome of the last call (rc, server diagnostic, matchedDN) kept on the
 * handle for logs and dead-letter headers, and the op hook that times every request. The
 * operations are in wb_ldap_search.c, wb_ldap_write.c and wb_ldap_range.c.
 */
#include "wb_ldap_int.h"

#include <ldap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wb_log.h"
#include "wb_mem.h"

/* Records the outcome of the last call: the server's diagnostic (or libldap's text) and the
 * matchedDN, read from the handle where the synchronous calls leave them. */
void wb_ldap_set_result(wb_ldap_t *ld, int rc)
{
    char *diag = NULL;
    char *matched = NULL;

    free(ld->last_error);
    free(ld->last_matched);
    ld->last_rc = rc;
    if (ld->l && rc != LDAP_SUCCESS) {
        ldap_get_option(ld->l, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
        ldap_get_option(ld->l, LDAP_OPT_MATCHED_DN, &matched);
    }
    if (rc == LDAP_SUCCESS)
        ld->last_error = wb_strdup("");
    else if (diag && *diag)
        ld->last_error = wb_strdup(diag);
    else
        ld->last_error = wb_strdup(ldap_err2string(rc));
    ld->last_matched = wb_strdup(matched ? matched : "");
    ldap_memfree(diag);
    ldap_memfree(matched);
}

/* A request we refuse before sending it: recorded like a server answer. */
wb_err_t wb_ldap_local_error(wb_ldap_t *ld, int rc, const char *msg)
{
    free(ld->last_error);
    free(ld->last_matched);
    ld->last_rc = rc;
    ld->last_error = wb_strdup(msg);
    ld->last_matched = wb_strdup("");
    return wb_err_from_ldap(rc);
}

int wb_ldap_conn_gone(int rc)
{
    return rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR || rc == LDAP_TIMEOUT ||
           rc == LDAP_UNAVAILABLE || rc == LDAP_BUSY;
}

void wb_ldap_opts_from_conf(const wb_conf_t *conf, struct wb_ldap_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->uri = wb_conf_get_str(conf, "ldap.uri");
    o->bind_dn = wb_conf_get_str(conf, "ldap.bind_dn");
    o->password = wb_conf_secret(conf, "ldap.password_file");
    o->ca_file = wb_conf_get_str(conf, "ldap.ca_file");
    o->starttls = wb_conf_get_bool(conf, "ldap.starttls");
    o->allow_insecure = wb_conf_get_bool(conf, "ldap.allow_insecure");
    o->timeout_ms = (int)wb_conf_get_int(conf, "ldap.timeout_ms");
}

wb_ldap_t *wb_ldap_new(const struct wb_ldap_opts *o, char *errstr, size_t errsz)
{
    wb_ldap_t *ld = NULL;
    enum uri_kind kind;
    char dummy[1];

    if (!errstr || errsz == 0) {
        errstr = dummy;
        errsz = sizeof(dummy);
    }
    errstr[0] = '\0';
    if (!o || !o->uri || !*o->uri) {
        snprintf(errstr, errsz, "ldap: no URI given");
        goto out;
    }
    kind = wb_ldap_uri_kind(o->uri);
    if (kind == URI_BAD || kind == URI_MIXED) {
        snprintf(errstr, errsz, "%s: %s", o->uri,
                 kind == URI_BAD ? "not a list of ldap://, ldaps:// or ldapi:// URIs"
                                 : "mixes URI schemes; use one of ldap://, ldaps://, ldapi://");
        goto out;
    }
    if (!o->bind_dn || !*o->bind_dn || !o->password || !*o->password) {
        /* An empty password is an unauthenticated bind (RFC 4513 5.1.2) that servers accept
         * without checking anything: never send one. */
        snprintf(errstr, errsz, "%s: a bind DN and a non-empty password are required", o->uri);
        goto out;
    }
    if (o->timeout_ms < 0) {
        snprintf(errstr, errsz, "%s: timeout_ms must not be negative", o->uri);
        goto out;
    }
    ld = wb_calloc(1, sizeof(*ld));
    ld->uri = wb_strdup(o->uri);
    ld->bind_dn = wb_strdup(o->bind_dn);
    ld->password = wb_strdup(o->password);
    ld->ca_file = o->ca_file && *o->ca_file ? wb_strdup(o->ca_file) : NULL;
    ld->starttls = o->starttls;
    ld->allow_insecure = o->allow_insecure;
    ld->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : WB_LDAP_DEFAULT_TIMEOUT_MS;
    ld->reconnect = o->reconnect;
    ld->last_error = wb_strdup("");
    ld->last_matched = wb_strdup("");
    if (o->lazy)
        goto out;
    if (wb_ldap_open(ld, errstr, errsz) != LDAP_SUCCESS) {
        wb_ldap_destroy(ld);
        ld = NULL;
        goto out;
    }
    ld->connections++;
    wb_dbg("ldap", "LDAP", "connected to %s as %s%s", o->uri, o->bind_dn,
           kind == URI_LDAP && !o->starttls ? " WITHOUT TLS (allow_insecure)" : "");

out:
    return ld;
}

void wb_ldap_destroy(wb_ldap_t *ld)
{
    if (!ld)
        return;
    if (ld->l)
        ldap_unbind_ext_s(ld->l, NULL, NULL);
    if (ld->password) {
        explicit_bzero(ld->password, strlen(ld->password));
        free(ld->password);
    }
    free(ld->uri);
    free(ld->bind_dn);
    free(ld->ca_file);
    free(ld->last_error);
    free(ld->last_matched);
    free(ld);
}

void wb_ldap_disconnect(wb_ldap_t *ld)
{
    if (ld && ld->l) {
        ldap_unbind_ext_s(ld->l, NULL, NULL);
        ld->l = NULL;
    }
}

struct ldap *wb_ldap_handle(wb_ldap_t *ld)
{
    return ld->l;
}

wb_err_t wb_ldap_reconnect(wb_ldap_t *ld)
{
    char errstr[512];
    int rc;

    wb_ldap_disconnect(ld);
    errstr[0] = '\0';
    rc = wb_ldap_open(ld, errstr, sizeof(errstr));
    if (rc != LDAP_SUCCESS) {
        wb_log(LOG_WARNING, "LDAP", "reconnect: %s", errstr);
        return wb_ldap_local_error(ld, rc, errstr);
    }
    ld->connections++;
    wb_log(LOG_INFO, "LDAP", "connected to %s", ld->uri);
    return wb_ldap_local_error(ld, LDAP_SUCCESS, "");
}

wb_err_t wb_ldap_connect(wb_ldap_t *ld)
{
    return ld->l ? WB_OK : wb_ldap_reconnect(ld);
}

unsigned wb_ldap_connections(const wb_ldap_t *ld)
{
    return ld->connections;
}

int wb_ldap_last_rc(const wb_ldap_t *ld)
{
    return ld->last_rc;
}

const char *wb_ldap_last_error(const wb_ldap_t *ld)
{
    return ld->last_error ? ld->last_error : "";
}

const char *wb_ldap_last_matched(const wb_ldap_t *ld)
{
    return ld->last_matched ? ld->last_matched : "";
}

void wb_ldap_set_op_hook(wb_ldap_t *ld, wb_ldap_op_hook hook, void *opaque)
{
    ld->hook = hook;
    ld->hook_opaque = opaque;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/*
 * The end of one request: its outcome recorded (wb_ldap_set_result, before anything drops the
 * connection), reported to the op hook, and on a handle that reconnects by itself
 * (opts.reconnect) a connection that is gone dropped, so that the next operation connects
 * again. Returns rc.
 */
int wb_ldap_op_end(wb_ldap_t *ld, const char *op, int rc, const struct timespec *t0)
{
    wb_ldap_set_result(ld, rc);
    if (ld->hook)
        ld->hook(op, rc, 1, seconds_since(t0), ld->hook_opaque);
    if (ld->reconnect && wb_ldap_conn_gone(rc)) {
        wb_log(LOG_WARNING, "LDAP", "%s: %s (%s); reconnecting", op, ldap_err2string(rc),
               ld->last_error);
        wb_ldap_disconnect(ld);
    }
    return rc;
}

/* A search with the handle's timeout, ended by wb_ldap_op_end. Returns the LDAP code. */
int wb_ldap_hooked_search(wb_ldap_t *ld, const char *base, int scope, const char *filter,
                          char **attrs, LDAPControl **ctrls, int sizelimit, LDAPMessage **res)
{
    struct timeval tv = ms_to_tv(ld->timeout_ms);
    struct timespec t0;
    int rc;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = ldap_search_ext_s(ld->l, base, scope, filter, attrs, 0, ctrls, NULL, &tv, sizelimit, res);
    return wb_ldap_op_end(ld, "search", rc, &t0);
}

/*
 * Operations on a handle without a connection. With opts.reconnect the handle connects first
 * (wb_ldap_connect logs why it cannot; the operation then answers LDAP_SERVER_DOWN, a retry,
 * whatever the bind said, and the op hook hears of it as not sent); else it answers
 * LDAP_SERVER_DOWN until wb_ldap_reconnect succeeds.
 */
int wb_ldap_not_connected(wb_ldap_t *ld, const char *op)
{
    if (ld->l)
        return 0;
    if (ld->reconnect && wb_ldap_connect(ld) == WB_OK)
        return 0;
    if (ld->reconnect)
        ld->last_rc = LDAP_SERVER_DOWN;
    else
        wb_ldap_local_error(ld, LDAP_SERVER_DOWN, "not connected (reconnect failed)");
    if (ld->hook)
        ld->hook(op, LDAP_SERVER_DOWN, 0, 0.0, ld->hook_opaque);
    return 1;
}
