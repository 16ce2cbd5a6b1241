/*
 * wb_ldap_search: the searches of a wb_ldap handle: one entry (wb_ldap_search_unique and the
 * anchor search built on it) or a paged result streamed entry by entry, and the caller-owned
 * copies of the entries they return. Every result is freed with ldap_msgfree whatever the
 * return code.
 */
#include "wb_ldap_int.h"

#include <ldap.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wb_id.h"
#include "wb_log.h"
#include "wb_mem.h"

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
        wb_ldap_local_error(ld, rc, "an attribute has more values than a search may hold");
        return WB_ERR_INVALID;
    }
    if (rc != LDAP_SUCCESS)
        return wb_ldap_local_error(ld, rc, "cannot decode the entry");
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
        err = wb_ldap_local_error(ld, LDAP_PARAM_ERROR, "search: no base, no filter or bad scope");
        goto out;
    }
    if (wb_ldap_not_connected(ld, "search")) {
        err = WB_ERR_TRANSIENT;
        goto out;
    }
    /* Size limit 2: enough to tell "one" from "more than one". */
    rc = wb_ldap_hooked_search(ld, base, scope_map[scope], filter,
                               attrs ? (char **)attrs : no_attrs, NULL, 2, &res);
    for (msg = res && ld->l ? ldap_first_entry(ld->l, res) : NULL; msg;
         msg = ldap_next_entry(ld->l, msg))
        nentries++;
    wb_dbg("ldap", "LDAP", "search %s (%s): rc=%d, %d entries", base, filter, rc, nentries);
    if (nentries > 1) {
        wb_ldap_local_error(ld, LDAP_SIZELIMIT_EXCEEDED, "more than one entry matches");
        err = WB_ERR_CONFLICT;
        goto out;
    }
    if (rc == LDAP_NO_SUCH_OBJECT && scope == WB_LDAP_SCOPE_BASE) {
        wb_ldap_set_result(ld, LDAP_SUCCESS);
        err = WB_OK;
        goto out;
    }
    if (rc != LDAP_SUCCESS) {
        err = wb_err_from_ldap(rc); /* recorded by wb_ldap_hooked_search */
        goto out;
    }
    if (nentries == 1) {
        err = take_entry(ld, ldap_first_entry(ld->l, res), out);
        if (err != WB_OK)
            goto out;
    }
    wb_ldap_set_result(ld, LDAP_SUCCESS);
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
        return wb_ldap_local_error(ld, LDAP_SERVER_DOWN, "cannot build the paged results control");
    ctrls[0] = pc;
    rc = wb_ldap_hooked_search(ld, base, scope, filter, attrs, pc ? ctrls : NULL, 0, res);
    ldap_control_free(pc);
    return rc == LDAP_SUCCESS ? WB_OK
                              : wb_err_from_ldap(rc); /* recorded by wb_ldap_hooked_search */
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
                wb_ldap_local_error(ld, LDAP_SUCCESS, "stopped by the entry callback");
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
        err =
            wb_ldap_local_error(ld, LDAP_PARAM_ERROR, "paged search: no base, filter or callback");
        goto out;
    }
    for (;;) {
        struct berval next = {0, NULL};
        int rc;

        if (wb_ldap_not_connected(ld, "search")) {
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
            wb_ldap_set_result(ld, rc);
            err = wb_err_from_ldap(rc);
            goto out;
        }
        if (!cookie.bv_val || cookie.bv_len == 0)
            break;
    }
    wb_ldap_set_result(ld, LDAP_SUCCESS);

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
        err = wb_ldap_local_error(ld, LDAP_PARAM_ERROR, "find anchor: no object id");
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
