/*
 * wb_ldap_int.h: what the files of the wb_ldap module (wb_ldap.c, wb_ldap_open.c,
 * wb_ldap_search.c, wb_ldap_write.c, wb_ldap_range.c) share: the handle's struct and the
 * bookkeeping every operation goes through. Not for use outside the module.
 */
#ifndef WB_LDAP_INT_H
#define WB_LDAP_INT_H

#include <ldap.h>
#include <sys/time.h>
#include <time.h>

#include "wb_ldap.h"

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

static inline struct timeval ms_to_tv(int ms)
{
    struct timeval tv;

    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    return tv;
}

/* The scheme every URI of a space/comma-separated list shares (URI_MIXED when they differ). */
enum uri_kind wb_ldap_uri_kind(const char *uri);

/* Connects, sets TLS and timeouts, binds (wb_ldap_open.c). Returns an LDAP result code
 * (LDAP_SUCCESS, a server's answer, or a negative client code) and fills errstr on failure.
 * The handle's previous connection must already be gone. */
int wb_ldap_open(wb_ldap_t *ld, char *errstr, size_t errsz);

/* Records rc as the outcome of the last call, with the server's diagnostic (or libldap's text)
 * and the matchedDN read from the connection. */
void wb_ldap_set_result(wb_ldap_t *ld, int rc);

/* Records a request refused before it was sent, like a server answer; returns rc's class. */
wb_err_t wb_ldap_local_error(wb_ldap_t *ld, int rc, const char *msg);

/* The end of one request started at t0: outcome recorded, op hook told, a connection that is
 * gone dropped on a handle that reconnects by itself. Returns rc. */
int wb_ldap_op_end(wb_ldap_t *ld, const char *op, int rc, const struct timespec *t0);

/* A synchronous search with the handle's timeout, ended by wb_ldap_op_end. Returns the LDAP
 * code; *res is the caller's to ldap_msgfree. */
int wb_ldap_hooked_search(wb_ldap_t *ld, const char *base, int scope, const char *filter,
                          char **attrs, LDAPControl **ctrls, int sizelimit, LDAPMessage **res);

/* 1 when ld has no connection and cannot get one (the operation op then answers
 * LDAP_SERVER_DOWN, recorded), 0 when it is connected. */
int wb_ldap_not_connected(wb_ldap_t *ld, const char *op);

#endif
