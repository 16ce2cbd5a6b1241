/*
 * wb_gstate: one owned group's state in AD as the drift watch sees it (DN, GUID, SID,
 * uSNChanged, the mapped attributes, members by objectGUID, the latest replPropertyMetaData
 * entry): read it, compare two of them, and write one back over the other with the least
 * LDAP writes. docs/drift.md.
 */
#include "wb_gstate.h"

#include "wb_log.h"
#include "wb_mem.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FAC "DRIFT"
/* Member values per repair modify (AD's MaxValRange is 1500 values per request). */
#define REPAIR_CHUNK 1000

const char *const wb_gstate_attrs[WB_GSTATE_NATTR] = {
    "displayName", "description", "adminDescription", "sAMAccountName", "groupType"};

void wb_gstate_free(struct wb_gstate *s)
{
    size_t i;

    free(s->dn);
    free(s->cn);
    free(s->when);
    for (i = 0; i < WB_GSTATE_NATTR; i++)
        free(s->attr[i]);
    for (i = 0; i < s->nm; i++)
        free(s->m[i].dn);
    free(s->m);
    memset(s, 0, sizeof(*s));
}

/* ------------------------------------------------------------------ reading AD */

static int member_cmp(const void *a, const void *b)
{
    return strcmp(((const struct wb_gmember *)a)->guid, ((const struct wb_gmember *)b)->guid);
}

static wb_err_t member_cb(const char *val, size_t len, void *opaque)
{
    struct wb_gstate *s = opaque;
    char guid[WB_ID_GUID_STR_SIZE], sid[WB_ID_SID_STR_SIZE];
    size_t off = wb_id_extdn_parse(val, len, guid, sid);

    if (!guid[0])
        return WB_OK; /* every AD object has a GUID; a value without one is not comparable */
    if (s->nm == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->m = wb_realloc(s->m, s->cap * sizeof(*s->m));
    }
    memcpy(s->m[s->nm].guid, guid, sizeof(guid));
    s->m[s->nm].dn = wb_strdup(off < len ? val + off : "");
    s->nm++;
    return WB_OK;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int64_t le64(const unsigned char *p)
{
    return (int64_t)((uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32);
}

/*
 * replPropertyMetaData (MS-DRSR PROPERTY_META_DATA_EXT_VECTOR, version 1): a 16-byte header
 * with the count at offset 8, then 48-byte entries: attid, version, originating time (seconds
 * since 1601), originating invocation id (16), originating USN, local USN.
 */
static void parse_meta(struct wb_gstate *s, const struct wb_ldap_val *v)
{
    const unsigned char *p = (const unsigned char *)v->data;
    uint32_t n, i;

    s->meta_usn = -1;
    if (v->len < 16 || le32(p) != 1)
        return;
    n = le32(p + 8);
    if (n > (v->len - 16) / 48)
        return;
    for (i = 0; i < n; i++) {
        const unsigned char *e = p + 16 + (size_t)i * 48;
        int64_t local = le64(e + 40);

        if (local > s->meta_usn) {
            s->meta_usn = local;
            memcpy(s->meta_inv, e + 16, 16);
            s->meta_time = le64(e + 8) - INT64_C(11644473600);
        }
    }
}

static char *val_dup(const struct wb_ldap_entry *e, const char *name)
{
    const struct wb_ldap_val *v = wb_ldap_entry_get(e, name);

    return v ? wb_strdup(v->data) : NULL;
}

/*
 * Reads group id from AD into *s (zeroed first). WB_OK with *found false when no object
 * carries its anchor; an LDAP failure is logged and returned.
 */
wb_err_t wb_gstate_read(wb_ldap_t *ld, const char *base_dn, const char *id, struct wb_gstate *s,
                        bool *found)
{
    static const char *const attrs[] = {"cn",          "objectGUID",           "objectSid",
                                        "uSNChanged",  "whenChanged",          "displayName",
                                        "description", "adminDescription",     "sAMAccountName",
                                        "groupType",   "replPropertyMetaData", NULL};
    struct wb_ldap_entry *e = NULL;
    const struct wb_ldap_val *v;
    wb_err_t err;
    size_t i;

    memset(s, 0, sizeof(*s));
    *found = false;
    err = wb_ldap_find_anchor(ld, base_dn, id, attrs, &e);
    if (err != WB_OK) {
        wb_log(LOG_WARNING, FAC, "group=%s: cannot read it: %s", id, wb_ldap_last_error(ld));
        goto out;
    }
    if (!e)
        goto out;
    *found = true;
    s->dn = wb_strdup(e->dn);
    s->cn = val_dup(e, "cn");
    s->when = val_dup(e, "whenChanged");
    v = wb_ldap_entry_get(e, "objectGUID");
    if (v && v->len == WB_ID_GUID_BIN_SIZE)
        wb_id_guid_to_str((const unsigned char *)v->data, s->guid);
    v = wb_ldap_entry_get(e, "objectSid");
    if (v && !wb_id_sid_to_str((const unsigned char *)v->data, v->len, s->sid))
        s->sid[0] = '\0';
    v = wb_ldap_entry_get(e, "uSNChanged");
    s->usn = v ? strtoll(v->data, NULL, 10) : 0;
    for (i = 0; i < WB_GSTATE_NATTR; i++)
        s->attr[i] = val_dup(e, wb_gstate_attrs[i]);
    s->meta_usn = -1;
    v = wb_ldap_entry_get(e, "replPropertyMetaData");
    if (v)
        parse_meta(s, v);
    err = wb_ldap_read_values(ld, s->dn, "member", 0, WB_LDAP_READ_EXTDN, member_cb, s, NULL);
    if (err != WB_OK) {
        wb_log(LOG_WARNING, FAC, "group=%s: cannot read the members of %s: %s", id, s->dn,
               wb_ldap_last_error(ld));
        goto out;
    }
    if (s->nm > 1) /* an empty group has no array (qsort must not get NULL) */
        qsort(s->m, s->nm, sizeof(*s->m), member_cmp);
out:
    wb_ldap_entry_free(e);
    if (err != WB_OK) {
        wb_gstate_free(s);
        *found = false;
    }
    return err;
}

/* The parent of dn (after the first unescaped comma), borrowed from dn; "" when none. */
static const char *dn_parent(const char *dn)
{
    const char *p;

    for (p = dn; *p; p++) {
        if (*p == '\\' && p[1])
            p++;
        else if (*p == ',')
            return p + 1;
    }
    return p;
}

static bool str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

void wb_gstate_diff_free(struct wb_gdiff *d)
{
    free(d->added);
    free(d->removed);
}

void wb_gstate_compare(const struct wb_gstate *base, const struct wb_gstate *cur,
                       struct wb_gdiff *d)
{
    size_t i = 0, j = 0;

    memset(d, 0, sizeof(*d));
    if (strcasecmp(dn_parent(base->dn), dn_parent(cur->dn)) != 0)
        d->moved = true;
    else if (strcasecmp(base->dn, cur->dn) != 0)
        d->renamed = true;
    d->count += d->moved || d->renamed;
    for (i = 0; i < WB_GSTATE_NATTR; i++) {
        d->attr[i] = !str_eq(base->attr[i], cur->attr[i]);
        d->count += d->attr[i];
    }
    d->added = wb_malloc((cur->nm + 1) * sizeof(*d->added));
    d->removed = wb_malloc((base->nm + 1) * sizeof(*d->removed));
    i = 0;
    while (i < base->nm || j < cur->nm) {
        int c = i == base->nm ? 1 : j == cur->nm ? -1 : strcmp(base->m[i].guid, cur->m[j].guid);

        if (c < 0)
            d->removed[d->nremoved++] = &base->m[i++];
        else if (c > 0)
            d->added[d->nadded++] = &cur->m[j++];
        else
            i++, j++;
    }
    d->count += (d->nadded > 0) + (d->nremoved > 0);
}

/* Adds (op ADD) or deletes (op DELETE) members list[0..n) of dn as <GUID=...> values, in
 * chunks. */
static wb_err_t write_members(wb_ldap_t *ld, const char *dn, enum wb_ldap_mod_op op,
                              struct wb_gmember *const *list, size_t n, size_t *writes)
{
    const char **vals = wb_malloc((n < REPAIR_CHUNK ? n : REPAIR_CHUNK) * sizeof(*vals) + 1);
    char(*buf)[48] = wb_malloc((n < REPAIR_CHUNK ? n : REPAIR_CHUNK) * sizeof(*buf) + 1);
    wb_err_t err = WB_OK;
    size_t i, k;

    for (i = 0; i < n && err == WB_OK; i += k) {
        struct wb_ldap_mod mod = {op, "member", vals, 0};

        for (k = 0; k < REPAIR_CHUNK && i + k < n; k++) {
            snprintf(buf[k], sizeof(buf[k]), "<GUID=%s>", list[i + k]->guid);
            vals[k] = buf[k];
        }
        mod.nvalues = k;
        err = wb_ldap_modify(ld, dn, &mod, 1, 0);
        (*writes)++;
    }
    free(vals);
    free(buf);
    return err;
}

/* Makes the group at cur->dn equal to the baseline again, writing only what differs. */
wb_err_t wb_gstate_repair(wb_ldap_t *ld, const struct wb_gstate *base, const struct wb_gstate *cur,
                          const struct wb_gdiff *d, size_t *writes)
{
    struct wb_ldap_mod mods[WB_GSTATE_NATTR];
    const char *vals[WB_GSTATE_NATTR];
    const char *dn = cur->dn;
    size_t i, n = 0;
    wb_err_t err = WB_OK;
    char *rdn = NULL;

    if (d->moved || d->renamed) {
        const char *parent = dn_parent(base->dn);
        size_t rlen = (size_t)(parent - base->dn);

        rdn = wb_strndup(base->dn, rlen && base->dn[rlen - 1] == ',' ? rlen - 1 : rlen);
        err = wb_ldap_rename(ld, cur->dn, rdn, d->moved ? parent : NULL);
        (*writes)++;
        if (err != WB_OK)
            goto out;
        dn = base->dn;
    }
    for (i = 0; i < WB_GSTATE_NATTR; i++) {
        if (!d->attr[i])
            continue;
        vals[n] = base->attr[i];
        mods[n] = (struct wb_ldap_mod){base->attr[i] ? WB_LDAP_MOD_REPLACE : WB_LDAP_MOD_DELETE,
                                       wb_gstate_attrs[i], &vals[n], base->attr[i] ? 1 : 0};
        n++;
    }
    if (n) {
        err = wb_ldap_modify(ld, dn, mods, n, 0);
        (*writes)++;
        if (err != WB_OK)
            goto out;
    }
    if (d->nadded)
        err = write_members(ld, dn, WB_LDAP_MOD_DELETE, d->added, d->nadded, writes);
    if (err == WB_OK && d->nremoved)
        err = write_members(ld, dn, WB_LDAP_MOD_ADD, d->removed, d->nremoved, writes);
out:
    free(rdn);
    return err;
}

/* Creates the deleted group again from the baseline: same DN, attributes and members. */
wb_err_t wb_gstate_recreate(wb_ldap_t *ld, const char *id, const struct wb_gstate *base,
                            size_t *writes)
{
    const struct wb_gstate *b = base;
    struct wb_ldap_mod attrs[WB_GSTATE_NATTR + 3];
    const char *vals[WB_GSTATE_NATTR + 3];
    char anchor[sizeof(WB_LDAP_ANCHOR_PREFIX) + WB_ID_GUID_STR_SIZE];
    struct wb_gmember **all = NULL;
    size_t i, n = 0;
    wb_err_t err;

    snprintf(anchor, sizeof(anchor), "%s%s", WB_LDAP_ANCHOR_PREFIX, id);
    vals[n] = "group";
    attrs[n] = (struct wb_ldap_mod){WB_LDAP_MOD_ADD, "objectClass", &vals[n], 1};
    n++;
    vals[n] = b->cn;
    attrs[n] = (struct wb_ldap_mod){WB_LDAP_MOD_ADD, "cn", &vals[n], 1};
    n += b->cn != NULL;
    vals[n] = anchor;
    attrs[n] = (struct wb_ldap_mod){WB_LDAP_MOD_ADD, WB_LDAP_ANCHOR_ATTR, &vals[n], 1};
    n++;
    for (i = 0; i < WB_GSTATE_NATTR; i++) {
        if (!b->attr[i])
            continue;
        vals[n] = b->attr[i];
        attrs[n] = (struct wb_ldap_mod){WB_LDAP_MOD_ADD, wb_gstate_attrs[i], &vals[n], 1};
        n++;
    }
    err = wb_ldap_add(ld, b->dn, attrs, n);
    (*writes)++;
    if (err == WB_OK && b->nm) {
        all = wb_malloc(b->nm * sizeof(*all));
        for (i = 0; i < b->nm; i++)
            all[i] = &b->m[i];
        err = write_members(ld, b->dn, WB_LDAP_MOD_ADD, all, b->nm, writes);
    }
    free(all);
    return err;
}
