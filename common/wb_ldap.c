/*
 * wb_ldap: connection, bind and the handful of operations the worker and writebackctl make,
 * on libldap's synchronous calls with timeouts. Every result is freed with ldap_msgfree whatever
 * the return code; every function has one exit. The outcome of the last call (rc, server
 * diagnostic, matchedDN) stays on the handle for logs and dead-letter headers.
 */
#include "wb_ldap.h"

#include <errno.h>
#include <ldap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "wb_id.h"
#include "wb_log.h"
#include "wb_mem.h"

enum uri_kind { URI_BAD, URI_LDAP, URI_LDAPS, URI_LDAPI, URI_MIXED };

struct wb_ldap_s {
    LDAP *l; /* NULL while disconnected (after a failed reconnect) */
    char *uri;
    char *bind_dn;
    char *password;
    char *ca_file;
    int starttls;
    int allow_insecure;
    int timeout_ms;
    int reconnect;        /* opts.reconnect: connect on demand, drop a connection gone */
    unsigned connections; /* successful binds so far */
    int last_rc;
    char *last_error;
    char *last_matched;
    wb_ldap_op_hook hook;
    void *hook_opaque;
};

/* The scheme every URI of a space/comma-separated list shares. */
static enum uri_kind uri_kind_of(const char *uri)
{
    enum uri_kind kind = URI_BAD;
    const char *p = uri;

    while (*p) {
        enum uri_kind k;
        size_t n;

        p += strspn(p, " \t,");
        n = strcspn(p, " \t,");
        if (n == 0)
            break;
        if (n > 8 && strncasecmp(p, "ldaps://", 8) == 0)
            k = URI_LDAPS;
        else if (n > 7 && strncasecmp(p, "ldap://", 7) == 0)
            k = URI_LDAP;
        else if (n >= 8 && strncasecmp(p, "ldapi://", 8) == 0)
            k = URI_LDAPI;
        else
            return URI_BAD;
        if (kind != URI_BAD && kind != k)
            return URI_MIXED;
        kind = k;
        p += n;
    }
    return kind;
}

/* Records the outcome of the last call: the server's diagnostic (or libldap's text) and the
 * matchedDN, read from the handle where the synchronous calls leave them. */
static void set_result(wb_ldap_t *ld, int rc)
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
static wb_err_t set_local_error(wb_ldap_t *ld, int rc, const char *msg)
{
    free(ld->last_error);
    free(ld->last_matched);
    ld->last_rc = rc;
    ld->last_error = wb_strdup(msg);
    ld->last_matched = wb_strdup("");
    return wb_err_from_ldap(rc);
}

static struct timeval ms_to_tv(int ms)
{
    struct timeval tv;

    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    return tv;
}

/*
 * On its first call libldap builds process-wide defaults, and a process-wide TLS context that a
 * handle falls back to when its own cannot be built, from ldap.conf, ~/.ldaprc, ./ldaprc and
 * LDAP* variables (LDAPTLS_REQCERT=never, LDAPTLS_CACERT=...). LDAPNOINIT makes it skip them
 * all; set_tls also sets every option that decides verification on the handle and checks that
 * the handle's own context was built, so a library initialised before us changes nothing.
 */
static void no_global_defaults(void)
{
    static int done;

    if (!done) {
        setenv("LDAPNOINIT", "1", 1);
        done = 1;
    }
}

/* The system trust store libldap would otherwise take from Debian's /etc/ldap/ldap.conf:
 * libldap 2.5 with GnuTLS has no built-in default, and ldap.conf is no longer read. */
#define SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"

/* Whether f holds a PEM certificate (libldap takes a file without one and then trusts
 * nothing, which fails later with a less helpful message). */
static int has_pem_cert(FILE *f)
{
    char line[256];

    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "-----BEGIN CERTIFICATE-----", 27) == 0)
            return 1;
    return 0;
}

/*
 * TLS settings of one handle, every result checked, then a fresh TLS context built from them
 * (LDAP_OPT_X_TLS_NEWCTX, which is also where libldap reads the CA file). ca_file NULL means
 * the system trust store. Returns LDAP_SUCCESS, or LDAP_CONFIDENTIALITY_REQUIRED (a
 * configuration error: fatal, never retried) with errstr filled.
 */
static int set_tls(LDAP *l, const char *ca_file, char *errstr, size_t errsz)
{
    int demand = LDAP_OPT_X_TLS_DEMAND;
    int san = LDAP_OPT_X_TLS_ALLOW;
    int tls_min = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2;
    int zero = 0;
    const char *ca = ca_file ? ca_file : SYSTEM_CA_FILE;
    const char *what = NULL;
    FILE *f = NULL;
    int rc = LDAP_CONFIDENTIALITY_REQUIRED;

    f = fopen(ca, "r");
    if (!f) {
        snprintf(errstr, errsz, "%s %s: cannot read it (%s): refusing to connect",
                 ca_file ? "ldap.ca_file" : "system trust store", ca, strerror(errno));
        goto out;
    }
    if (!has_pem_cert(f)) {
        snprintf(errstr, errsz, "%s %s: no PEM certificate in it: refusing to connect",
                 ca_file ? "ldap.ca_file" : "system trust store", ca);
        goto out;
    }
    if (ldap_set_option(l, LDAP_OPT_X_TLS_CACERTFILE, ca) != LDAP_OPT_SUCCESS)
        what = "CA file";
    else if (ldap_set_option(l, LDAP_OPT_X_TLS_CACERTDIR, NULL) != LDAP_OPT_SUCCESS)
        what = "CA directory";
    else if (ldap_set_option(l, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) != LDAP_OPT_SUCCESS)
        what = "certificate verification (demand)";
    else if (ldap_set_option(l, LDAP_OPT_X_TLS_REQUIRE_SAN, &san) != LDAP_OPT_SUCCESS)
        what = "subjectAltName check";
    else if (ldap_set_option(l, LDAP_OPT_X_TLS_PROTOCOL_MIN, &tls_min) != LDAP_OPT_SUCCESS)
        what = "TLS 1.2 minimum";
    else if (ldap_set_option(l, LDAP_OPT_X_TLS_CIPHER_SUITE, NULL) != LDAP_OPT_SUCCESS)
        what = "default cipher suites";
    else if (ldap_set_option(l, LDAP_OPT_X_TLS_NEWCTX, &zero) != LDAP_OPT_SUCCESS)
        what = "TLS context (is the CA file PEM certificates?)";
    if (what) {
        snprintf(errstr, errsz, "TLS setup failed: %s; CA file %s: refusing to connect", what, ca);
        goto out;
    }
    rc = LDAP_SUCCESS;

out:
    if (f)
        fclose(f);
    return rc;
}

/* The URI and TLS settings of ld that forbid connecting: fills errstr and returns the LDAP
 * code to answer, or LDAP_SUCCESS. */
static int refuse_settings(const wb_ldap_t *ld, enum uri_kind kind, char *errstr, size_t errsz)
{
    if (kind == URI_LDAP && !ld->starttls && !ld->allow_insecure) {
        snprintf(errstr, errsz,
                 "%s: refusing a simple bind over plain ldap:// without TLS: use ldaps://, "
                 "StartTLS (ldap.starttls=true), or ldap.allow_insecure=true for tests",
                 ld->uri);
        return LDAP_CONFIDENTIALITY_REQUIRED;
    }
    if (ld->starttls && kind != URI_LDAP) {
        snprintf(errstr, errsz, "%s: StartTLS needs ldap:// URIs", ld->uri);
        return LDAP_PARAM_ERROR;
    }
    return LDAP_SUCCESS;
}

/* Protocol version, no referrals, and the handle's timeouts on l. 0, or -1 when one fails. */
static int set_options(LDAP *l, int timeout_ms)
{
    struct timeval tv = ms_to_tv(timeout_ms);
    int version = LDAP_VERSION3;
    int timelimit = (timeout_ms + 999) / 1000;

    if (ldap_set_option(l, LDAP_OPT_PROTOCOL_VERSION, &version) != LDAP_OPT_SUCCESS ||
        ldap_set_option(l, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) != LDAP_OPT_SUCCESS ||
        ldap_set_option(l, LDAP_OPT_NETWORK_TIMEOUT, &tv) != LDAP_OPT_SUCCESS ||
        ldap_set_option(l, LDAP_OPT_TIMEOUT, &tv) != LDAP_OPT_SUCCESS ||
        ldap_set_option(l, LDAP_OPT_TIMELIMIT, &timelimit) != LDAP_OPT_SUCCESS)
        return -1;
    return 0;
}

/* The message of a failed connect step: the URI, the step, the result code and the server's
 * (or libldap's) diagnostic read from l (NULL when there is no handle yet), with a hint on
 * what to check when a TLS handshake is the likely cause. */
static void connect_error(const wb_ldap_t *ld, LDAP *l, int tls, const char *step, int rc,
                          char *errstr, size_t errsz)
{
    char *diag = NULL;
    int tls_hint;

    if (!l) {
        snprintf(errstr, errsz, "%s: %s failed: %s (%d)", ld->uri, step, ldap_err2string(rc), rc);
        return;
    }
    ldap_get_option(l, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
    /* GnuTLS-built libldap reports a failed verification as "Can't contact LDAP server" with an
     * unhelpful diagnostic: say what to check. */
    tls_hint = tls && (rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR) && diag && *diag;
    snprintf(errstr, errsz, "%s: %s as %s failed: %s (%d)%s%s%s%s%s", ld->uri, step, ld->bind_dn,
             ldap_err2string(rc), rc, diag && *diag ? ": " : "", diag ? diag : "",
             tls_hint ? "; TLS handshake failed: is the server certificate issued by a CA in " : "",
             tls_hint ? (ld->ca_file ? ld->ca_file : "the system trust store") : "",
             tls_hint ? " and for the host named in the URI?" : "");
    ldap_memfree(diag);
}

/* Connects, sets TLS and timeouts, binds. Returns an LDAP result code (LDAP_SUCCESS, a
 * server's answer, or a negative client code) and fills errstr on failure. The handle's
 * previous connection must already be gone. */
static int do_connect(wb_ldap_t *ld, char *errstr, size_t errsz)
{
    LDAP *l = NULL;
    const char *step = "initialize";
    struct berval cred;
    enum uri_kind kind = uri_kind_of(ld->uri);
    int tls = kind == URI_LDAPS || ld->starttls;
    int have_msg = 1;
    int rc;

    rc = refuse_settings(ld, kind, errstr, errsz);
    if (rc != LDAP_SUCCESS)
        goto out;
    have_msg = 0;
    no_global_defaults();
    rc = ldap_initialize(&l, ld->uri);
    if (rc != LDAP_SUCCESS)
        goto out;
    step = "set options";
    if (set_options(l, ld->timeout_ms) != 0) {
        rc = LDAP_LOCAL_ERROR;
        goto out;
    }
    if (tls) {
        step = "TLS options";
        rc = set_tls(l, ld->ca_file, errstr, errsz);
        have_msg = rc != LDAP_SUCCESS;
        if (rc != LDAP_SUCCESS)
            goto out;
    }
    if (ld->starttls) {
        step = "StartTLS";
        rc = ldap_start_tls_s(l, NULL, NULL);
        if (rc != LDAP_SUCCESS)
            goto out;
    }
    step = "bind";
    cred.bv_val = ld->password;
    cred.bv_len = strlen(ld->password);
    rc = ldap_sasl_bind_s(l, ld->bind_dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
    if (rc != LDAP_SUCCESS)
        goto out;
    ld->l = l;
    l = NULL;

out:
    if (rc != LDAP_SUCCESS && !have_msg) /* else errstr already says why */
        connect_error(ld, l, tls, step, rc, errstr, errsz);
    if (l)
        ldap_unbind_ext_s(l, NULL, NULL);
    return rc;
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
    kind = uri_kind_of(o->uri);
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
    if (do_connect(ld, errstr, errsz) != LDAP_SUCCESS) {
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
    rc = do_connect(ld, errstr, sizeof(errstr));
    if (rc != LDAP_SUCCESS) {
        wb_log(LOG_WARNING, "LDAP", "reconnect: %s", errstr);
        return set_local_error(ld, rc, errstr);
    }
    ld->connections++;
    wb_log(LOG_INFO, "LDAP", "connected to %s", ld->uri);
    return set_local_error(ld, LDAP_SUCCESS, "");
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
 * The end of one request: its outcome recorded (set_result, before anything drops the
 * connection), reported to the op hook, and on a handle that reconnects by itself
 * (opts.reconnect) a connection that is gone dropped, so that the next operation connects
 * again. Returns rc.
 */
static int op_end(wb_ldap_t *ld, const char *op, int rc, const struct timespec *t0)
{
    set_result(ld, rc);
    if (ld->hook)
        ld->hook(op, rc, 1, seconds_since(t0), ld->hook_opaque);
    if (ld->reconnect && wb_ldap_conn_gone(rc)) {
        wb_log(LOG_WARNING, "LDAP", "%s: %s (%s); reconnecting", op, ldap_err2string(rc),
               ld->last_error);
        wb_ldap_disconnect(ld);
    }
    return rc;
}

/* A search with the handle's timeout, ended by op_end. Returns the LDAP code. */
static int hooked_search(wb_ldap_t *ld, const char *base, int scope, const char *filter,
                         char **attrs, LDAPControl **ctrls, int sizelimit, LDAPMessage **res)
{
    struct timeval tv = ms_to_tv(ld->timeout_ms);
    struct timespec t0;
    int rc;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = ldap_search_ext_s(ld->l, base, scope, filter, attrs, 0, ctrls, NULL, &tv, sizelimit, res);
    return op_end(ld, "search", rc, &t0);
}

/* Waits up to the handle's timeout for the result of the write sent as msgid (send_rc: how
 * sending went), abandoning it on timeout. Returns the LDAP code; the diagnostic stays on the
 * handle for set_result. */
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

/*
 * Operations on a handle without a connection. With opts.reconnect the handle connects first
 * (wb_ldap_connect logs why it cannot; the operation then answers LDAP_SERVER_DOWN, a retry,
 * whatever the bind said, and the op hook hears of it as not sent); else it answers
 * LDAP_SERVER_DOWN until wb_ldap_reconnect succeeds.
 */
static int disconnected(wb_ldap_t *ld, const char *op)
{
    if (ld->l)
        return 0;
    if (ld->reconnect && wb_ldap_connect(ld) == WB_OK)
        return 0;
    if (ld->reconnect)
        ld->last_rc = LDAP_SERVER_DOWN;
    else
        set_local_error(ld, LDAP_SERVER_DOWN, "not connected (reconnect failed)");
    if (ld->hook)
        ld->hook(op, LDAP_SERVER_DOWN, 0, 0.0, ld->hook_opaque);
    return 1;
}

void wb_ldap_entry_free(struct wb_ldap_entry *e)
{
    size_t i, j;

    if (!e)
        return;
    for (i = 0; i < e->nattrs; i++) {
        for (j = 0; j < e->attrs[i].nvals; j++)
            free(e->attrs[i].vals[j].data);
        free(e->attrs[i].vals);
        free(e->attrs[i].name);
    }
    free(e->attrs);
    free(e->dn);
    free(e);
}

const struct wb_ldap_val *wb_ldap_entry_get(const struct wb_ldap_entry *e, const char *name)
{
    size_t i;

    if (!e || !name)
        return NULL;
    for (i = 0; i < e->nattrs; i++) {
        if (strcasecmp(e->attrs[i].name, name) == 0 && e->attrs[i].nvals > 0)
            return &e->attrs[i].vals[0];
    }
    return NULL;
}

static char *dup_bytes(const char *p, size_t n)
{
    char *s = wb_malloc(n + 1);

    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* Copies one search entry into a caller-owned wb_ldap_entry. LDAP_SIZELIMIT_EXCEEDED when an
 * attribute has more values than we hold in memory. */
static int copy_entry(LDAP *l, LDAPMessage *msg, struct wb_ldap_entry **out)
{
    struct wb_ldap_entry *e = wb_calloc(1, sizeof(*e));
    BerElement *ber = NULL;
    struct berval **bv = NULL;
    char *dn = NULL;
    char *a = NULL;
    size_t cap = 0;
    int rc = LDAP_SUCCESS;

    dn = ldap_get_dn(l, msg);
    if (!dn) {
        rc = LDAP_DECODING_ERROR;
        goto out;
    }
    e->dn = wb_strdup(dn);
    for (a = ldap_first_attribute(l, msg, &ber); a; a = ldap_next_attribute(l, msg, ber)) {
        struct wb_ldap_entry_attr *at;
        size_t n, i;

        bv = ldap_get_values_len(l, msg, a);
        n = bv ? (size_t)ldap_count_values_len(bv) : 0;
        if (n > WB_LDAP_ENTRY_MAX_VALUES) {
            rc = LDAP_SIZELIMIT_EXCEEDED;
            goto out;
        }
        if (e->nattrs == cap) {
            cap = cap ? 2 * cap : 8;
            e->attrs = wb_realloc(e->attrs, cap * sizeof(*e->attrs));
        }
        at = &e->attrs[e->nattrs++];
        at->name = wb_strdup(a);
        at->nvals = n;
        at->vals = wb_calloc(n ? n : 1, sizeof(*at->vals));
        for (i = 0; i < n; i++) {
            at->vals[i].data = dup_bytes(bv[i]->bv_val, bv[i]->bv_len);
            at->vals[i].len = bv[i]->bv_len;
        }
        ldap_value_free_len(bv);
        bv = NULL;
        ldap_memfree(a);
    }
    *out = e;
    e = NULL;

out:
    ldap_value_free_len(bv);
    ldap_memfree(a);
    ber_free(ber, 0);
    ldap_memfree(dn);
    wb_ldap_entry_free(e);
    return rc;
}

/* Copies entry msg for the caller (copy_entry), recording why it cannot: an attribute with too
 * many values is WB_ERR_INVALID. */
static wb_err_t take_entry(wb_ldap_t *ld, LDAPMessage *msg, struct wb_ldap_entry **out)
{
    int rc = copy_entry(ld->l, msg, out);

    if (rc == LDAP_SIZELIMIT_EXCEEDED) {
        set_local_error(ld, rc, "an attribute has more values than a search may hold");
        return WB_ERR_INVALID;
    }
    if (rc != LDAP_SUCCESS)
        return set_local_error(ld, rc, "cannot decode the entry");
    return WB_OK;
}

static const int scope_map[] = {LDAP_SCOPE_BASE, LDAP_SCOPE_ONELEVEL, LDAP_SCOPE_SUBTREE};

wb_err_t wb_ldap_search_unique(wb_ldap_t *ld, const char *base, enum wb_ldap_scope scope,
                               const char *filter, const char *const *attrs,
                               struct wb_ldap_entry **out)
{
    static char *no_attrs[] = {LDAP_NO_ATTRS, NULL};
    LDAPMessage *res = NULL;
    LDAPMessage *msg;
    int nentries = 0;
    int rc;
    wb_err_t err;

    *out = NULL;
    if (!base || !filter || (unsigned)scope > WB_LDAP_SCOPE_SUB) {
        err = set_local_error(ld, LDAP_PARAM_ERROR, "search: no base, no filter or bad scope");
        goto out;
    }
    if (disconnected(ld, "search")) {
        err = WB_ERR_TRANSIENT;
        goto out;
    }
    /* Size limit 2: enough to tell "one" from "more than one". */
    rc = hooked_search(ld, base, scope_map[scope], filter, attrs ? (char **)attrs : no_attrs, NULL,
                       2, &res);
    for (msg = res && ld->l ? ldap_first_entry(ld->l, res) : NULL; msg;
         msg = ldap_next_entry(ld->l, msg))
        nentries++;
    wb_dbg("ldap", "LDAP", "search %s (%s): rc=%d, %d entries", base, filter, rc, nentries);
    if (nentries > 1) {
        set_local_error(ld, LDAP_SIZELIMIT_EXCEEDED, "more than one entry matches");
        err = WB_ERR_CONFLICT;
        goto out;
    }
    if (rc == LDAP_NO_SUCH_OBJECT && scope == WB_LDAP_SCOPE_BASE) {
        set_result(ld, LDAP_SUCCESS);
        err = WB_OK;
        goto out;
    }
    if (rc != LDAP_SUCCESS) {
        err = wb_err_from_ldap(rc); /* recorded by hooked_search */
        goto out;
    }
    if (nentries == 1) {
        err = take_entry(ld, ldap_first_entry(ld->l, res), out);
        if (err != WB_OK)
            goto out;
    }
    set_result(ld, LDAP_SUCCESS);
    err = WB_OK;

out:
    ldap_msgfree(res);
    return err;
}

/* Sends the search for the page after cookie (without the control when page_size is 0) and
 * waits for it. WB_OK, or the class of the failure (recorded). */
static wb_err_t request_page(wb_ldap_t *ld, const char *base, int scope, const char *filter,
                             char **attrs, int page_size, struct berval *cookie, LDAPMessage **res)
{
    LDAPControl *pc = NULL, *ctrls[2] = {NULL, NULL};
    int rc;

    if (page_size > 0 && ldap_create_page_control(ld->l, page_size, cookie, 0, &pc) != LDAP_SUCCESS)
        return set_local_error(ld, LDAP_SERVER_DOWN, "cannot build the paged results control");
    ctrls[0] = pc;
    rc = hooked_search(ld, base, scope, filter, attrs, pc ? ctrls : NULL, 0, res);
    ldap_control_free(pc);
    return rc == LDAP_SUCCESS ? WB_OK : wb_err_from_ldap(rc); /* recorded by hooked_search */
}

/* Passes every entry of the page res to cb. WB_OK, or what stopped it (recorded). */
static wb_err_t page_entries(wb_ldap_t *ld, LDAPMessage *res, wb_ldap_entry_cb cb, void *opaque)
{
    LDAPMessage *msg;
    wb_err_t err = WB_OK;

    for (msg = ldap_first_entry(ld->l, res); msg && err == WB_OK;
         msg = ldap_next_entry(ld->l, msg)) {
        struct wb_ldap_entry *e = NULL;

        err = take_entry(ld, msg, &e);
        if (err == WB_OK) {
            err = cb(e, opaque);
            if (err != WB_OK)
                set_local_error(ld, LDAP_SUCCESS, "stopped by the entry callback");
        }
        wb_ldap_entry_free(e);
    }
    return err;
}

/* The result code of the page res, and in *next the server's cookie for the page after it
 * (empty after the last page). */
static int page_result(wb_ldap_t *ld, LDAPMessage *res, struct berval *next)
{
    LDAPControl **rctrls = NULL;
    ber_int_t total = 0;
    int rc = LDAP_SUCCESS;

    if (ldap_parse_result(ld->l, res, &rc, NULL, NULL, NULL, &rctrls, 0) == LDAP_SUCCESS) {
        LDAPControl *c = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, rctrls, NULL);

        if (c)
            ldap_parse_pageresponse_control(ld->l, c, &total, next);
        ldap_controls_free(rctrls);
    }
    return rc;
}

wb_err_t wb_ldap_search_paged(wb_ldap_t *ld, const char *base, enum wb_ldap_scope scope,
                              const char *filter, const char *const *attrs, int page_size,
                              wb_ldap_entry_cb cb, void *opaque)
{
    static char *no_attrs[] = {LDAP_NO_ATTRS, NULL};
    struct berval cookie = {0, NULL};
    LDAPMessage *res = NULL;
    wb_err_t err = WB_OK;

    if (!base || !filter || !cb || (unsigned)scope > WB_LDAP_SCOPE_SUB) {
        err = set_local_error(ld, LDAP_PARAM_ERROR, "paged search: no base, filter or callback");
        goto out;
    }
    for (;;) {
        struct berval next = {0, NULL};
        int rc;

        if (disconnected(ld, "search")) {
            err = WB_ERR_TRANSIENT;
            goto out;
        }
        err = request_page(ld, base, scope_map[scope], filter, attrs ? (char **)attrs : no_attrs,
                           page_size, &cookie, &res);
        if (err == WB_OK)
            err = page_entries(ld, res, cb, opaque);
        if (err != WB_OK)
            goto out;
        rc = page_result(ld, res, &next);
        ldap_msgfree(res);
        res = NULL;
        ber_memfree(cookie.bv_val);
        cookie = next;
        if (rc != LDAP_SUCCESS) {
            set_result(ld, rc);
            err = wb_err_from_ldap(rc);
            goto out;
        }
        if (!cookie.bv_val || cookie.bv_len == 0)
            break;
    }
    set_result(ld, LDAP_SUCCESS);

out:
    ldap_msgfree(res);
    ber_memfree(cookie.bv_val);
    return err;
}

wb_err_t wb_ldap_find_anchor(wb_ldap_t *ld, const char *base, const char *object_id,
                             const char *const *attrs, struct wb_ldap_entry **out)
{
    char *esc = NULL;
    char *filter = NULL;
    wb_err_t err;

    *out = NULL;
    if (!object_id || !*object_id) {
        err = set_local_error(ld, LDAP_PARAM_ERROR, "find anchor: no object id");
        goto out;
    }
    esc = wb_id_filter_escape(object_id, strlen(object_id));
    filter = wb_asprintf("(%s=%s%s)", WB_LDAP_ANCHOR_ATTR, WB_LDAP_ANCHOR_PREFIX, esc);
    err = wb_ldap_search_unique(ld, base, WB_LDAP_SCOPE_SUB, filter, attrs, out);
    if (err == WB_ERR_CONFLICT)
        wb_log(LOG_WARNING, "LDAP", "%s%s is carried by more than one object under %s",
               WB_LDAP_ANCHOR_PREFIX, object_id, base);

out:
    free(filter);
    free(esc);
    return err;
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
 * (write_result), ended by op_end. Returns the class of the result code. */
static wb_err_t write_op(wb_ldap_t *ld, const struct write_req *w)
{
    static const char *const ops[] = {"add", "modify", "modrdn", "delete"};
    const char *op = ops[w->kind];
    struct timespec t0;
    int msgid = 0;
    int rc;

    if (disconnected(ld, op))
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
    rc = op_end(ld, op, write_result(ld, rc, msgid), &t0);
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
        err = set_local_error(ld, LDAP_PARAM_ERROR,
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
        return set_local_error(ld, LDAP_PARAM_ERROR, "rename: no DN or new RDN");
    return write_op(ld, &w);
}

wb_err_t wb_ldap_delete(wb_ldap_t *ld, const char *dn)
{
    struct write_req w = {W_DELETE, dn, NULL, NULL, NULL, NULL};

    if (!dn || !*dn)
        return set_local_error(ld, LDAP_PARAM_ERROR, "delete: no DN");
    return write_op(ld, &w);
}

/* Decimal digits at *p up to a value of max, no sign, no space; advances *p. -1 when there are
 * none or the value exceeds max. */
static int range_num(const char **p, size_t max, size_t *out)
{
    const char *q = *p;
    size_t v = 0;

    if (*q < '0' || *q > '9')
        return -1;
    for (; *q >= '0' && *q <= '9'; q++) {
        size_t d = (size_t)(*q - '0');

        if (v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *p = q;
    *out = v;
    return 0;
}

int wb_ldap_parse_range(const char *desc, const char *attr, size_t *lo, size_t *hi)
{
    size_t alen = strlen(attr);
    const char *p;

    if (strncasecmp(desc, attr, alen) != 0)
        return 0;
    if (desc[alen] == '\0')
        return 2;
    if (desc[alen] != ';')
        return 0;
    /* Options may come in any order (";binary;range=..."): find the range option. */
    for (p = desc + alen; p && *p; p = strchr(p + 1, ';')) {
        if (strncasecmp(p, ";range=", 7) == 0)
            break;
    }
    if (!p || !*p)
        return 0;
    p += 7;
    if (range_num(&p, WB_LDAP_RANGE_MAX, lo) != 0 || *p++ != '-')
        return -1;
    if (*p == '*') {
        *hi = SIZE_MAX;
        p++;
    } else if (range_num(&p, WB_LDAP_RANGE_MAX, hi) != 0 || *hi < *lo) {
        return -1;
    }
    if (*p != '\0' && *p != ';')
        return -1;
    return 1;
}

/* One ranged read in progress (wb_ldap_read_values). */
struct range_read {
    const char *dn, *attr, *desc;
    size_t lo;        /* first index of the chunk asked for */
    size_t delivered; /* values passed to cb so far */
    int done;         /* the last chunk was read */
    wb_ldap_value_cb cb;
    void *opaque;
};

/* Passes the values entry e holds for rr->attr (the chunk at rr->lo) to the callback, then
 * sets rr->done on the last chunk or moves rr->lo past this one. A range other than the one
 * asked for, or a partial window, is LDAP_DECODING_ERROR (taking it would skip values). */
static wb_err_t read_chunk(wb_ldap_t *ld, LDAPMessage *e, struct range_read *rr)
{
    BerElement *ber = NULL;
    struct berval **bv = NULL;
    char *a = NULL;
    int found = 0;
    wb_err_t err = WB_OK;

    for (a = ldap_first_attribute(ld->l, e, &ber); a && !found;
         a = ldap_next_attribute(ld->l, e, ber)) {
        size_t rlo = 0, rhi = 0, i, n;
        int kind = wb_ldap_parse_range(a, rr->attr, &rlo, &rhi);

        if (kind == 0) {
            ldap_memfree(a);
            continue;
        }
        if (kind < 0 || (kind == 1 && (rlo != rr->lo || rhi < rlo))) {
            err = set_local_error(ld, LDAP_DECODING_ERROR,
                                  "server answered an unexpected value range");
            wb_log(LOG_WARNING, "LDAP", "read %s of %s: asked for %zu-, got \"%s\"", rr->attr,
                   rr->dn, rr->lo, a);
            goto out;
        }
        found = 1;
        bv = ldap_get_values_len(ld->l, e, a);
        n = bv ? (size_t)ldap_count_values_len(bv) : 0;
        if (kind == 1 && rhi != SIZE_MAX && n != rhi - rlo + 1) {
            err = set_local_error(ld, LDAP_DECODING_ERROR,
                                  "server answered fewer or more values than its range");
            wb_log(LOG_WARNING, "LDAP", "read %s of %s: \"%s\" with %zu values", rr->attr, rr->dn,
                   a, n);
            goto out;
        }
        for (i = 0; i < n && err == WB_OK; i++) {
            err = rr->cb(bv[i]->bv_val, bv[i]->bv_len, rr->opaque);
            if (err == WB_OK)
                rr->delivered++;
        }
        wb_dbg("ldap", "LDAP", "read %s of %s: %s, %zu values", rr->desc, rr->dn, a, n);
        if (err != WB_OK) {
            set_local_error(ld, LDAP_SUCCESS, "stopped by the value callback");
            goto out;
        }
        if (kind == 2 || rhi == SIZE_MAX)
            rr->done = 1;
        else
            rr->lo = rhi + 1;
        ldap_value_free_len(bv);
        bv = NULL;
        ldap_memfree(a);
    }
    /* No (more) values: the attribute is absent or empty. */
    if (!found)
        rr->done = 1;

out:
    ldap_value_free_len(bv);
    ldap_memfree(a);
    ber_free(ber, 0);
    return err;
}

wb_err_t wb_ldap_read_values(wb_ldap_t *ld, const char *dn, const char *attr, size_t window,
                             unsigned flags, wb_ldap_value_cb cb, void *opaque, size_t *count)
{
    /* Extended DN control, string form: SEQUENCE { INTEGER 1 }. */
    static char extdn_val[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    LDAPControl extdn = {"1.2.840.113556.1.4.529", {sizeof(extdn_val), extdn_val}, 0};
    LDAPControl *ctrls[2] = {&extdn, NULL};
    struct range_read rr = {dn, attr, NULL, 0, 0, 0, cb, opaque};
    LDAPMessage *res = NULL;
    char *desc = NULL;
    size_t requests = 0;
    wb_err_t err = WB_OK;

    if (!dn || !attr || !*attr || !cb || strchr(attr, ';')) {
        err = set_local_error(ld, LDAP_PARAM_ERROR, "read values: bad DN, attribute or callback");
        goto out;
    }
    if (window == 0)
        window = 1000;
    while (!rr.done) {
        char *attrs[2];
        LDAPMessage *e;
        int rc;

        if (disconnected(ld, "search")) {
            err = WB_ERR_TRANSIENT;
            goto out;
        }
        free(desc);
        desc = wb_asprintf("%s;range=%zu-%zu", attr, rr.lo, rr.lo + window - 1);
        rr.desc = desc;
        attrs[0] = desc;
        attrs[1] = NULL;
        rc = hooked_search(ld, dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs,
                           (flags & WB_LDAP_READ_EXTDN) ? ctrls : NULL, 0, &res);
        requests++;
        if (rc != LDAP_SUCCESS) {
            err = wb_err_from_ldap(rc); /* recorded by hooked_search */
            goto out;
        }
        e = ldap_first_entry(ld->l, res);
        if (e)
            err = read_chunk(ld, e, &rr);
        else
            rr.done = 1;
        if (err != WB_OK)
            goto out;
        ldap_msgfree(res);
        res = NULL;
    }
    set_result(ld, LDAP_SUCCESS);
    wb_dbg("ldap", "LDAP", "read %s of %s: %zu values in %zu requests", attr, dn, rr.delivered,
           requests);

out:
    if (count)
        *count = rr.delivered;
    ldap_msgfree(res);
    free(desc);
    return err;
}
