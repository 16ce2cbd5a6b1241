/*
 * wb_ad: the worker's LDAP session to a domain controller: TLS-verified connect and simple
 * bind (LDAPS or StartTLS; plain only with allow_insecure), reconnect after a server restart,
 * and the handful of synchronous operations the apply needs, each with a timeout, counted in
 * metrics and leaving the server's diagnostics for the caller. Application thread only.
 */
#ifndef WB_AD_H
#define WB_AD_H

#include "wb_err.h"
#include "wb_ldap.h"
#include "wb_wmetrics.h"

#include <ldap.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct wb_ad_s wb_ad_t;

/* A session (not yet connected) with settings o (see wb_ldap_opts; o->lazy is ignored, every
 * string is copied). Returns NULL and fills errstr when the settings are unsafe
 * (plain ldap:// simple bind without starttls or allow_insecure) or incomplete. wm may be NULL
 * and is borrowed. */
wb_ad_t *wb_ad_new(const struct wb_ldap_opts *o, struct wb_wmetrics *wm, char *errstr,
                   size_t errsz);
/* Unbinds and frees; wipes the password. NULL does nothing. */
void wb_ad_destroy(wb_ad_t *ad);

/* Connects and binds unless already connected. WB_OK; WB_ERR_TRANSIENT (server unreachable,
 * busy: retry); WB_ERR_FATAL (bad credentials, TLS verification failure, strong auth
 * required) with a message naming the ldap.* key to fix in errstr. */
wb_err_t wb_ad_connect(wb_ad_t *ad, char *errstr, size_t errsz);
/* Drops the connection (the next operation reconnects). */
void wb_ad_disconnect(wb_ad_t *ad);
bool wb_ad_connected(const wb_ad_t *ad);
/* Successful binds so far: a change means a new connection, perhaps to another domain
 * controller (whose USNs are its own). */
unsigned wb_ad_connections(const wb_ad_t *ad);

/*
 * Operations. Each returns the LDAP result code (LDAP_SUCCESS = 0), connecting first if
 * needed (LDAP_SERVER_DOWN when that fails). Codes meaning the connection is gone drop it.
 * The server's diagnostic message and matched DN of the last operation are kept for
 * wb_ad_last_*. Strings are borrowed for the call.
 */
/* Search; *res is set (free with ldap_msgfree) whatever the code, possibly NULL. ctrls may be
 * NULL. sizelimit 0 = none. */
int wb_ad_search(wb_ad_t *ad, const char *base, int scope, const char *filter,
                 const char *const *attrs, LDAPControl **ctrls, LDAPMessage **res);
int wb_ad_add(wb_ad_t *ad, const char *dn, LDAPMod **mods);
/* Modify, with the permissive-modify control (WB_LDAP_PERMISSIVE_MODIFY_OID) when permissive. */
int wb_ad_modify(wb_ad_t *ad, const char *dn, LDAPMod **mods, bool permissive);
int wb_ad_rename(wb_ad_t *ad, const char *dn, const char *newrdn, const char *newsuperior);
int wb_ad_delete(wb_ad_t *ad, const char *dn);
/* A paged subtree search of base (wb_ldap_search_paged), each page counted like a search.
 * Answers LDAP_SERVER_DOWN without connecting when the session is disconnected. */
int wb_ad_search_paged(wb_ad_t *ad, const char *base, const char *filter, const char *const *attrs,
                       int page_size, wb_ldap_entry_cb cb, void *opaque);
/* Every value of dn's member attribute in extended DN form, window values per request
 * (wb_ldap_read_values with WB_LDAP_READ_EXTDN), each request counted like a search. */
int wb_ad_read_members(wb_ad_t *ad, const char *dn, size_t window, wb_ldap_value_cb cb,
                       void *opaque);

/* Diagnostics of the last operation ("" when none); borrowed until the next operation. */
const char *wb_ad_last_message(const wb_ad_t *ad);
const char *wb_ad_last_matched(const wb_ad_t *ad);

/* The raw handle, NULL when not connected (tests). */
LDAP *wb_ad_handle(wb_ad_t *ad);

#endif
