/*
 * wb_ldap: the one LDAP connection module, on OpenLDAP libldap. Connects with certificate
 * verification always on (ldaps:// or ldap:// + StartTLS; a simple bind over plain ldap:// is
 * refused unless allow_insecure), binds, and offers the few operations writeback needs: find a
 * group by its anchor, add, modify (with the permissive-modify control), rename, delete, a
 * ranged read of large multi-valued attributes (member;range=, optionally in extended DN form)
 * that streams values, and a paged search that streams entries; an op hook lets the caller
 * count and time each request.
 */
#ifndef WB_LDAP_H
#define WB_LDAP_H

#include <stddef.h>

#include "wb_conf.h"
#include "wb_err.h"

typedef struct wb_ldap_s wb_ldap_t;

/* LDAP_SERVER_PERMISSIVE_MODIFY_OID (MS-ADTS 3.1.1.3.4.1.8). */
#define WB_LDAP_PERMISSIVE_MODIFY_OID "1.2.840.113556.1.4.1413"

/* The anchor attribute and its value prefix (docs/architecture.md, "Ownership"). */
#define WB_LDAP_ANCHOR_ATTR   "msDS-ExternalDirectoryObjectId"
#define WB_LDAP_ANCHOR_PREFIX "Group_"

/* Default of timeout_ms when it is 0 (ldap.timeout_ms). */
#define WB_LDAP_DEFAULT_TIMEOUT_MS 30000

/*
 * Connection settings; every string is borrowed for the duration of wb_ldap_new, which copies
 * what it keeps (the password too, wiped on destroy).
 *   uri: one or more URIs separated by spaces or commas, all ldaps://, all ldap://, or ldapi://
 *        (a local socket, accepted without TLS).
 *   bind_dn, password: simple bind; both required (an empty password would be an
 *        unauthenticated bind, which AD "accepts" without checking anything).
 *   ca_file: PEM CA bundle for this handle only; NULL uses the system trust store
 *        (/etc/ssl/certs/ca-certificates.crt). The server certificate is always verified
 *        (TLS_REQCERT demand) and must match the URI's host.
 *   starttls: upgrade ldap:// with StartTLS; failure to upgrade is an error.
 *   allow_insecure: permit a simple bind over ldap:// without TLS (tests only).
 *   timeout_ms: connect timeout and per-operation timeout; 0 = WB_LDAP_DEFAULT_TIMEOUT_MS.
 *   lazy: wb_ldap_new only checks and copies the settings; the first wb_ldap_connect (or,
 *        with reconnect, the first operation) connects.
 *   reconnect: the handle keeps itself connected (the worker's session): an operation on a
 *        handle without a connection connects first (answering LDAP_SERVER_DOWN, a retry,
 *        when that fails), and a result code meaning the connection is gone
 *        (wb_ldap_conn_gone) drops it, logged, so that the next operation connects again.
 *
 * This is the one connect path of every program (the worker and writebackctl). TLS settings are set
 * on each handle, every option result is checked, and libldap's process-wide defaults are never
 * read (LDAPNOINIT): LDAPTLS_* variables, ldap.conf and .ldaprc cannot weaken verification. An
 * unreadable ca_file is an error, never a fallback.
 */
struct wb_ldap_opts {
    const char *uri;
    const char *bind_dn;
    const char *password;
    const char *ca_file;
    int starttls;
    int allow_insecure;
    int timeout_ms;
    int lazy;
    int reconnect;
};

/*
 * Fills o from the ldap.* keys of conf (ldap.uri, ldap.bind_dn, the contents of
 * ldap.password_file, ldap.ca_file, ldap.starttls, ldap.allow_insecure, ldap.timeout_ms);
 * lazy and reconnect are 0. The strings are borrowed from conf and live as long as it does. Absent
 * keys are NULL: the caller says which of them it needs.
 */
void wb_ldap_opts_from_conf(const wb_conf_t *conf, struct wb_ldap_opts *o);

/*
 * Connects and binds. Returns a handle, or NULL with a one-line reason in errstr (which names
 * the URI and the LDAP result, never the password). o and errstr must not be NULL. The handle
 * is used from one thread at a time.
 */
wb_ldap_t *wb_ldap_new(const struct wb_ldap_opts *o, char *errstr, size_t errsz);

/* Unbinds and frees. NULL does nothing. */
void wb_ldap_destroy(wb_ldap_t *ld);

/* Unbinds; operations then answer WB_ERR_TRANSIENT until wb_ldap_reconnect succeeds. */
void wb_ldap_disconnect(wb_ldap_t *ld);

/*
 * libldap's handle of the current connection (NULL while disconnected), for requests this
 * module does not offer (the worker's asynchronous writes, searches returning many entries).
 * Borrowed until the next reconnect, disconnect or destroy; never unbind it.
 */
struct ldap *wb_ldap_handle(wb_ldap_t *ld);

/*
 * Drops the connection and connects and binds again with the same settings (after an
 * operation answered WB_ERR_TRANSIENT, for instance). On failure the reason is logged, the
 * handle stays usable for another reconnect, and operations on it return WB_ERR_TRANSIENT
 * (LDAP_SERVER_DOWN) until one succeeds. Returns the class of the failing step
 * (wb_err_from_ldap: unreachable or TLS failure → transient, bad credentials → fatal).
 */
wb_err_t wb_ldap_reconnect(wb_ldap_t *ld);

/* Connects and binds unless connected (wb_ldap_reconnect). WB_OK, or the class of the failing
 * step with the reason in wb_ldap_last_error (WB_ERR_FATAL: fix the ldap.* key it names). */
wb_err_t wb_ldap_connect(wb_ldap_t *ld);

/* Successful binds so far: a change means a new connection, perhaps to another domain
 * controller (whose USNs are its own). */
unsigned wb_ldap_connections(const wb_ldap_t *ld);

/*
 * True for the result codes that mean the connection is gone or the server cannot answer now
 * (server down, connect error, timeout, unavailable, busy): the caller drops the connection
 * and retries later, and never reads such a code as the server's verdict on the request.
 * Pure; any thread.
 */
int wb_ldap_conn_gone(int rc);

/*
 * Outcome of the last operation on ld: the LDAP result code (0 success, negative for
 * client-side errors such as LDAP_SERVER_DOWN -1 or LDAP_TIMEOUT -5), the server's diagnostic
 * message (AD's "00000562: UpdErr: ..." text) or libldap's text when the server sent none, and
 * the matchedDN. The strings are "" when absent, never NULL, and borrowed until the next
 * operation on ld. ld must not be NULL.
 */
int wb_ldap_last_rc(const wb_ldap_t *ld);
const char *wb_ldap_last_error(const wb_ldap_t *ld);
const char *wb_ldap_last_matched(const wb_ldap_t *ld);

/*
 * Called after each request any operation sends, with the operation ("search", "add",
 * "modify", "modrdn", "delete"), its LDAP result code and the seconds from request to result;
 * sent is 0 (and seconds 0) for an operation that could not be sent because there was no
 * connection. The caller's per-operation timing and counting (the worker's metrics). NULL
 * removes it. opaque is borrowed.
 */
typedef void (*wb_ldap_op_hook)(const char *op, int rc, int sent, double seconds, void *opaque);
void wb_ldap_set_op_hook(wb_ldap_t *ld, wb_ldap_op_hook hook, void *opaque);

/* One attribute value; data is NUL-terminated (values may still contain NUL, e.g. objectSid). */
struct wb_ldap_val {
    char *data;
    size_t len;
};

struct wb_ldap_entry_attr {
    char *name;
    struct wb_ldap_val *vals;
    size_t nvals;
};

/* A search result: the entry's DN and the attributes the server returned. Caller-owned. */
struct wb_ldap_entry {
    char *dn;
    struct wb_ldap_entry_attr *attrs;
    size_t nattrs;
};

/* Frees an entry and everything it holds. NULL does nothing. */
void wb_ldap_entry_free(struct wb_ldap_entry *e);

/* The first value of attribute name (case-insensitive), or NULL if absent. Borrowed from e. */
const struct wb_ldap_val *wb_ldap_entry_get(const struct wb_ldap_entry *e, const char *name);

#define WB_LDAP_ENTRY_MAX_VALUES 5000

enum wb_ldap_scope { WB_LDAP_SCOPE_BASE, WB_LDAP_SCOPE_ONE, WB_LDAP_SCOPE_SUB };

/*
 * Searches base with filter (already escaped by the caller, see wb_id_filter_escape) and
 * expects at most one entry. attrs is a NULL-terminated list of attribute names, or NULL for
 * the DN only. On WB_OK *out is the entry (caller-owned), or NULL when nothing matched; with
 * SCOPE_BASE a base that does not exist is also "nothing matched". Two or more matches return
 * WB_ERR_CONFLICT with *out NULL. Not for huge multi-valued attributes: an attribute with more
 * than WB_LDAP_ENTRY_MAX_VALUES values is WB_ERR_INVALID; use wb_ldap_read_values for member.
 */
wb_err_t wb_ldap_search_unique(wb_ldap_t *ld, const char *base, enum wb_ldap_scope scope,
                               const char *filter, const char *const *attrs,
                               struct wb_ldap_entry **out);

/*
 * Finds the object whose msDS-ExternalDirectoryObjectId is "Group_" + object_id anywhere under
 * base (the value is escaped per RFC 4515 here). As wb_ldap_search_unique: *out NULL when
 * absent; WB_ERR_CONFLICT when more than one object carries the anchor; WB_ERR_INVALID when
 * object_id is NULL or empty.
 */
wb_err_t wb_ldap_find_anchor(wb_ldap_t *ld, const char *base, const char *object_id,
                             const char *const *attrs, struct wb_ldap_entry **out);

/*
 * Called once per entry of wb_ldap_search_paged; e is borrowed for the call only. Return WB_OK
 * to continue; any other value stops the search and is returned by wb_ldap_search_paged.
 */
typedef wb_err_t (*wb_ldap_entry_cb)(const struct wb_ldap_entry *e, void *opaque);

/*
 * Searches base with the simple paged results control (RFC 2696), page_size entries per
 * request, passing every entry to cb as its page arrives, so a large result is never held at
 * once; page_size 0 sends one request without the control (a result known to be small). attrs as
 * wb_ldap_search_unique; an attribute with more than WB_LDAP_ENTRY_MAX_VALUES values is
 * WB_ERR_INVALID. Each request goes through the op hook as a "search".
 */
wb_err_t wb_ldap_search_paged(wb_ldap_t *ld, const char *base, enum wb_ldap_scope scope,
                              const char *filter, const char *const *attrs, int page_size,
                              wb_ldap_entry_cb cb, void *opaque);

/* One attribute of an add, or one change of a modify. values are borrowed C strings. */
enum wb_ldap_mod_op { WB_LDAP_MOD_ADD, WB_LDAP_MOD_DELETE, WB_LDAP_MOD_REPLACE };

struct wb_ldap_mod {
    enum wb_ldap_mod_op op; /* ignored by wb_ldap_add */
    const char *attr;
    const char *const *values;
    size_t nvalues; /* DELETE with 0 values deletes the attribute; ADD needs at least one */
};

/* Adds entry dn with the attributes in attrs[0..nattrs). */
wb_err_t wb_ldap_add(wb_ldap_t *ld, const char *dn, const struct wb_ldap_mod *attrs, size_t nattrs);

/*
 * Applies mods[0..nmods) to dn in one request. permissive attaches the permissive-modify
 * control (non-critical): on Windows AD, adding a present value or deleting an absent one then
 * succeeds, for every value. Samba 4.17.12 honours it for ordinary attributes but ignores it
 * for linked ones such as member, with one value or many: it answers 68 (a value exists) or 53
 * (a value is absent) and applies nothing (tests/ldap/0100-ldap-smoke.c). Member changes must
 * therefore handle both answers, e.g. by reading the members and sending only the difference.
 */
wb_err_t wb_ldap_modify(wb_ldap_t *ld, const char *dn, const struct wb_ldap_mod *mods, size_t nmods,
                        int permissive);

/*
 * Renames dn to new_rdn ("CN=..." already escaped), moving it under new_superior when that is
 * not NULL; the old RDN value is removed. Address dn by its real DN: Samba answers noSuchObject
 * to a modrdn of "<GUID=...>".
 */
wb_err_t wb_ldap_rename(wb_ldap_t *ld, const char *dn, const char *new_rdn,
                        const char *new_superior);

/* Deletes the leaf entry dn. */
wb_err_t wb_ldap_delete(wb_ldap_t *ld, const char *dn);

/* The largest index a ranged read accepts (far above any member count AD allows). */
#define WB_LDAP_RANGE_MAX ((size_t)1 << 40)

/*
 * Parses the attribute description a server returned for a ranged read of attr:
 * "<attr>;range=<lo>-<hi>" or "<attr>;range=<lo>-*", other options before or after (";binary").
 * Strict: decimal digits only (no sign, no space), each at most WB_LDAP_RANGE_MAX, lo <= hi.
 * Returns 1 for a range (*hi = SIZE_MAX for '*'), 2 for the bare attr (every value at once),
 * 0 for another attribute, -1 for a malformed range. Pure; any thread.
 */
int wb_ldap_parse_range(const char *desc, const char *attr, size_t *lo, size_t *hi);

/*
 * Called once per value; val is NUL-terminated and borrowed for the call only. Return WB_OK to
 * continue; any other value stops the read and is returned by wb_ldap_read_values.
 */
typedef wb_err_t (*wb_ldap_value_cb)(const char *val, size_t len, void *opaque);

/*
 * Reads every value of attr (normally "member") of dn with ranged retrieval: asks for
 * attr;range=lo-(lo+window-1) until the server answers a final attr;range=N-* chunk (or the
 * plain attribute, from a server that does not page values), passing each value to cb as it
 * arrives, so a 60,000-member group is never held in memory. window 0 means 1000 (the most
 * every AD version returns per request). An entry without the attribute yields no callback and
 * WB_OK; a missing dn is LDAP 32 (WB_ERR_DEPENDENCY). *count, when not NULL, receives the
 * number of values delivered (also on error). flags: WB_LDAP_READ_EXTDN asks for the values in
 * AD's extended DN form ("<GUID=...>;<SID=...>;CN=...", control 1.2.840.113556.1.4.529).
 */
#define WB_LDAP_READ_EXTDN 1u
wb_err_t wb_ldap_read_values(wb_ldap_t *ld, const char *dn, const char *attr, size_t window,
                             unsigned flags, wb_ldap_value_cb cb, void *opaque, size_t *count);

#endif
