/*
 * wb_wbv2: the Connect Sync writeback list (see wb_wbv2.h): sorted adminDescription values,
 * filled by a paged scan and kept fresh by uSNChanged.
 */
#include "wb_wbv2.h"
#include "wb_log.h"
#include "wb_mem.h"

#include <ldap.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct wb_wbv2_s {
    char **anchors;    /* their adminDescription values, sorted case-insensitively */
    size_t n, cap;     /* entries used and allocated */
    long long usn;     /* highestCommittedUSN read before the last listing; < 0: none */
    long long scanned; /* monotonic ms of the last full scan */
    unsigned conn;     /* wb_ldap_connections() at the last listing */
};

/*
 * Groups written by Connect Sync writeback carry adminDescription=Group_<id> and no anchor.
 * adminDescription is not indexed in AD, so looking for one before every create would scan the
 * directory each time (220 ms per create on a Samba DC holding 90,000 users, measured; 51 ms
 * restricted to objectClass=group with 1,000 groups). Instead the worker keeps the list of
 * those groups' adminDescription values: one paged scan fills it, and before each lookup the
 * groups changed since the previous one (uSNChanged above the server's highestCommittedUSN
 * read then; an indexed attribute) are added, which costs little because the window is short.
 * A value in the list is confirmed by the exact search, so the answer is as fresh as a full
 * search; entries gone stale (adopted, deleted) only cost that search. The list is scanned
 * afresh after WBV2_RESCAN_MS and after a reconnect (USNs belong to one domain controller).
 */
#define WBV2_RESCAN_MS (15 * 60 * 1000)
#define WBV2_PAGE      1000

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cmp_ci(const void *a, const void *b)
{
    return strcasecmp(*(char *const *)a, *(char *const *)b);
}

/* The server's highestCommittedUSN from the root DSE. */
static int read_usn(wb_ldap_t *ld, long long *usn)
{
    struct wb_ldap_entry *e = NULL;
    const struct wb_ldap_val *v;
    int rc;

    wb_ldap_search_unique(ld, "", WB_LDAP_SCOPE_BASE, "(objectClass=*)",
                          (const char *const[]){"highestCommittedUSN", NULL}, &e);
    rc = wb_ldap_last_rc(ld);
    v = wb_ldap_entry_get(e, "highestCommittedUSN");
    *usn = v ? strtoll(v->data, NULL, 10) : -1;
    wb_ldap_entry_free(e);
    if (rc == LDAP_SUCCESS && *usn < 0)
        rc = LDAP_NO_SUCH_ATTRIBUTE; /* not an AD domain controller */
    return rc;
}

/* Appends one Connect-written group's adminDescription to the list (wbv2_list's callback). */
static wb_err_t wbv2_add(const struct wb_ldap_entry *e, void *opaque)
{
    wb_wbv2_t *wc = opaque;
    const struct wb_ldap_val *a = wb_ldap_entry_get(e, "adminDescription");

    if (!a)
        return WB_OK;
    if (wc->n == wc->cap) {
        wc->cap = wc->cap ? wc->cap * 2 : 64;
        wc->anchors = wb_realloc(wc->anchors, wc->cap * sizeof(*wc->anchors));
    }
    wc->anchors[wc->n++] = wb_strndup(a->data, a->len);
    return WB_OK;
}

/* Appends to the list the Connect-written groups changed since USN since (all: -1), paged. */
static int wbv2_list(wb_wbv2_t *wc, wb_ldap_t *ld, const char *base_dn, long long since)
{
    char *filter;
    int rc;

    if (since < 0)
        filter = wb_asprintf("(&(objectClass=group)(adminDescription=Group_*)"
                             "(!(msDS-ExternalDirectoryObjectId=*)))");
    else
        filter = wb_asprintf("(&(objectClass=group)(uSNChanged>=%lld)(adminDescription=Group_*)"
                             "(!(msDS-ExternalDirectoryObjectId=*)))",
                             since);
    wb_ldap_search_paged(ld, base_dn, WB_LDAP_SCOPE_SUB, filter,
                         (const char *const[]){"adminDescription", NULL}, WBV2_PAGE, wbv2_add, wc);
    rc = wb_ldap_last_rc(ld);
    free(filter);
    return rc;
}

static void wbv2_forget(wb_wbv2_t *wc)
{
    size_t i;

    for (i = 0; i < wc->n; i++)
        free(wc->anchors[i]);
    free(wc->anchors);
    wc->anchors = NULL;
    wc->n = 0;
    wc->cap = 0;
    wc->usn = -1;
}

/* Brings the list up to date: a full scan when due, else the groups changed since the last
 * call. On failure the list is forgotten (the next call scans). Returns an LDAP code. */
static int wbv2_refresh(wb_wbv2_t *wc, wb_ldap_t *ld, const char *base_dn)
{
    long long usn, t0 = mono_ms();
    size_t before;
    unsigned conn;
    bool full = wc->usn < 0 || t0 - wc->scanned >= WBV2_RESCAN_MS ||
                wc->conn != wb_ldap_connections(ld) || !wb_ldap_handle(ld);
    int rc;

    if (full)
        wbv2_forget(wc);
    rc = read_usn(ld, &usn);
    conn = wb_ldap_connections(ld);
    before = wc->n;
    if (rc == LDAP_SUCCESS)
        rc = wbv2_list(wc, ld, base_dn, full ? -1 : wc->usn);
    if (rc == LDAP_SUCCESS && conn != wb_ldap_connections(ld))
        rc = LDAP_SERVER_DOWN; /* reconnected meanwhile: USNs may be another server's */
    if (rc != LDAP_SUCCESS) {
        wbv2_forget(wc);
        return rc;
    }
    if (wc->n > before && wc->n > 1)
        qsort(wc->anchors, wc->n, sizeof(*wc->anchors), cmp_ci);
    wc->usn = usn;
    wc->conn = conn;
    if (full) {
        wc->scanned = mono_ms();
        wb_dbg("worker", "WORKER", "%zu Connect-written groups listed in %lld ms (USN %lld)", wc->n,
               wc->scanned - t0, usn);
    }
    return LDAP_SUCCESS;
}

int wb_wbv2_maybe(wb_wbv2_t *wc, wb_ldap_t *ld, const char *base_dn, const char *anchor,
                  bool *maybe)
{
    int rc = wbv2_refresh(wc, ld, base_dn);

    *maybe = true;
    if (rc != LDAP_SUCCESS) {
        if (wb_err_from_ldap(rc) == WB_ERR_TRANSIENT)
            return rc;
        /* Not listable here (no USN, paging refused): the exact search decides. */
        wb_dbg("worker", "WORKER", "listing Connect-written groups failed: %s",
               ldap_err2string(rc));
        return LDAP_SUCCESS;
    }
    *maybe =
        wc->n > 0 && bsearch(&anchor, wc->anchors, wc->n, sizeof(*wc->anchors), cmp_ci) != NULL;
    return LDAP_SUCCESS;
}

wb_wbv2_t *wb_wbv2_new(void)
{
    wb_wbv2_t *wc = wb_calloc(1, sizeof(*wc));

    wc->usn = -1;
    return wc;
}

void wb_wbv2_destroy(wb_wbv2_t *wc)
{
    if (!wc)
        return;
    wbv2_forget(wc);
    free(wc);
}
