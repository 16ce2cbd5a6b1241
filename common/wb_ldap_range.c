/*
 * wb_ldap_range: ranged retrieval of a large multi-valued attribute (member;range=lo-hi),
 * optionally in AD's extended DN form, streaming the values to a callback chunk by chunk,
 * and the strict parser of the range a server answers.
 */
#include "wb_ldap_int.h"

#include <ldap.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wb_log.h"
#include "wb_mem.h"

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
            err = wb_ldap_local_error(ld, LDAP_DECODING_ERROR,
                                      "server answered an unexpected value range");
            wb_log(LOG_WARNING, "LDAP", "read %s of %s: asked for %zu-, got \"%s\"", rr->attr,
                   rr->dn, rr->lo, a);
            goto out;
        }
        found = 1;
        bv = ldap_get_values_len(ld->l, e, a);
        n = bv ? (size_t)ldap_count_values_len(bv) : 0;
        if (kind == 1 && rhi != SIZE_MAX && n != rhi - rlo + 1) {
            err = wb_ldap_local_error(ld, LDAP_DECODING_ERROR,
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
            wb_ldap_local_error(ld, LDAP_SUCCESS, "stopped by the value callback");
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
        err =
            wb_ldap_local_error(ld, LDAP_PARAM_ERROR, "read values: bad DN, attribute or callback");
        goto out;
    }
    if (window == 0)
        window = 1000;
    while (!rr.done) {
        char *attrs[2];
        LDAPMessage *e;
        int rc;

        if (wb_ldap_not_connected(ld, "search")) {
            err = WB_ERR_TRANSIENT;
            goto out;
        }
        free(desc);
        desc = wb_asprintf("%s;range=%zu-%zu", attr, rr.lo, rr.lo + window - 1);
        rr.desc = desc;
        attrs[0] = desc;
        attrs[1] = NULL;
        rc = wb_ldap_hooked_search(ld, dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs,
                                   (flags & WB_LDAP_READ_EXTDN) ? ctrls : NULL, 0, &res);
        requests++;
        if (rc != LDAP_SUCCESS) {
            err = wb_err_from_ldap(rc); /* recorded by wb_ldap_hooked_search */
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
    wb_ldap_set_result(ld, LDAP_SUCCESS);
    wb_dbg("ldap", "LDAP", "read %s of %s: %zu values in %zu requests", attr, dn, rr.delivered,
           requests);

out:
    if (count)
        *count = rr.delivered;
    ldap_msgfree(res);
    free(desc);
    return err;
}
