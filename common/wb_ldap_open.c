/*
 * wb_ldap_open: opening one connection of a wb_ldap handle: the URI schemes, the TLS settings
 * of the handle (certificate verification always on, libldap's process-wide defaults never
 * read), the timeouts, StartTLS and the simple bind, with a message that says what to check
 * when a step fails.
 */
#include "wb_ldap_int.h"

#include <errno.h>
#include <ldap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The scheme every URI of a space/comma-separated list shares. */
enum uri_kind wb_ldap_uri_kind(const char *uri)
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
int wb_ldap_open(wb_ldap_t *ld, char *errstr, size_t errsz)
{
    LDAP *l = NULL;
    const char *step = "initialize";
    struct berval cred;
    enum uri_kind kind = wb_ldap_uri_kind(ld->uri);
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
