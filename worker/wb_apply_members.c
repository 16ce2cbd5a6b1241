/*
 * wb_apply_members: member changes of one SYNC step. Users are written as <SID=…> (or
 * <GUID=…>), nested groups by the DN their anchor resolves to. Values go out in chunks with
 * the permissive-modify control; Samba honours it only for single-value changes, so a 68/53
 * answer makes us read the current members (ranged, extended DN) and send the real difference.
 * Current members are held packed (binary GUID and SID, one record a member, a flag for "wanted
 * by the snapshot"): a 60,000-member group costs ~4 MB instead of ~23 MB as member sets.
 */
#include "wb_apply_int.h"
#include "wb_id.h"
#include "wb_ldap.h"
#include "wb_log.h"
#include "wb_map.h"
#include "wb_mem.h"

#include <ctype.h>
#include <lber.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ANCHOR_BATCH 100

/* One member value to send, and how to find it among the current members: by SID first, then
 * by GUID (a user known by both), or the current member it was made from. */
struct mval {
    enum wb_member_kind kind;
    char *id;    /* Entra id for log lines, or NULL (values made from current members) */
    char *value; /* <SID=…>, <GUID=…> or a DN */
    unsigned char sid[WB_ID_SID_BIN_MAX];
    size_t sidlen; /* 0: no SID */
    unsigned char guid[WB_ID_GUID_BIN_SIZE];
    bool has_guid;
    size_t rec; /* index + 1 of the current member it names, or 0 */
};

struct mlist {
    struct mval *v;
    size_t n, cap;
};

static void mval_free(struct mval *v)
{
    free(v->id);
    free(v->value);
}

/* Appends *mv (its strings handed over). */
static void mlist_push(struct mlist *l, const struct mval *mv)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = wb_realloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = *mv;
}

static void mlist_free(struct mlist *l)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        mval_free(&l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* --- current members, packed --- */

/* One current member value. */
struct cmem {
    unsigned char guid[WB_ID_GUID_BIN_SIZE];
    uint32_t sid; /* offset + 1 of [length byte][binary SID] in cur->bytes; 0: none */
    uint32_t dn;  /* offset + 1 of the DN in cur->bytes, kept only without a GUID; 0: none */
    bool has_guid;
    bool matched; /* an exact step wants it (so it is not removed) */
};

struct cur {
    struct cmem *v;
    size_t n, cap;
    unsigned char *bytes; /* SIDs and DNs */
    size_t blen, bcap;
    uint32_t *by_guid, *by_sid; /* index + 1 into v; 0 = empty */
    size_t nslots;              /* power of two */
};

static struct cur *cur_new(void)
{
    struct cur *c = wb_calloc(1, sizeof(*c));

    c->nslots = 16;
    c->by_guid = wb_calloc(c->nslots, sizeof(*c->by_guid));
    c->by_sid = wb_calloc(c->nslots, sizeof(*c->by_sid));
    return c;
}

static void cur_destroy(struct cur *c)
{
    if (!c)
        return;
    free(c->v);
    free(c->bytes);
    free(c->by_guid);
    free(c->by_sid);
    free(c);
}

static uint64_t hash_bytes(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static const unsigned char *cmem_sid(const struct cur *c, const struct cmem *m, size_t *len)
{
    *len = m->sid ? c->bytes[m->sid - 1] : 0;
    return m->sid ? c->bytes + m->sid : NULL;
}

/* Slot of the member with this GUID (sid NULL) or SID, or the empty slot where it would go. */
static size_t cur_slot(const struct cur *c, const unsigned char *guid, const unsigned char *sid,
                       size_t sidlen)
{
    const uint32_t *tab = sid ? c->by_sid : c->by_guid;
    size_t mask = c->nslots - 1;
    size_t i =
        (size_t)(sid ? hash_bytes(sid, sidlen) : hash_bytes(guid, WB_ID_GUID_BIN_SIZE)) & mask;

    for (;;) {
        const struct cmem *m;
        const unsigned char *ms;
        size_t ml;

        if (tab[i] == 0)
            return i;
        m = &c->v[tab[i] - 1];
        if (sid) {
            ms = cmem_sid(c, m, &ml);
            if (ml == sidlen && memcmp(ms, sid, sidlen) == 0)
                return i;
        } else if (memcmp(m->guid, guid, WB_ID_GUID_BIN_SIZE) == 0) {
            return i;
        }
        i = (i + 1) & mask;
    }
}

static void cur_index(struct cur *c, size_t idx)
{
    const struct cmem *m = &c->v[idx];
    const unsigned char *sid;
    size_t sl;

    if (m->has_guid) {
        size_t g = cur_slot(c, m->guid, NULL, 0);

        if (!c->by_guid[g])
            c->by_guid[g] = (uint32_t)(idx + 1);
    }
    sid = cmem_sid(c, m, &sl);
    if (sid) {
        size_t k = cur_slot(c, NULL, sid, sl);

        if (!c->by_sid[k])
            c->by_sid[k] = (uint32_t)(idx + 1);
    }
}

static uint32_t cur_bytes(struct cur *c, const void *p, size_t n)
{
    uint32_t at;

    if (c->blen + n > c->bcap) {
        while (c->blen + n > c->bcap)
            c->bcap = c->bcap ? c->bcap * 2 : 4096;
        if (c->bcap > UINT32_MAX)
            abort(); /* 32-bit offsets: far beyond any group */
        c->bytes = wb_realloc(c->bytes, c->bcap);
    }
    at = (uint32_t)c->blen;
    memcpy(c->bytes + c->blen, p, n);
    c->blen += n;
    return at;
}

/* Adds one member: guid (NULL: none), sid (NULL: none), dn (kept only without guid). A value
 * whose GUID is already held is not added twice. */
static void cur_put(struct cur *c, const unsigned char *guid, const unsigned char *sid,
                    size_t sidlen, const char *dn)
{
    struct cmem *m;
    size_t i;

    if (guid && c->by_guid[cur_slot(c, guid, NULL, 0)])
        return;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->v = wb_realloc(c->v, c->cap * sizeof(*c->v));
    }
    m = &c->v[c->n];
    memset(m, 0, sizeof(*m));
    if (guid) {
        memcpy(m->guid, guid, WB_ID_GUID_BIN_SIZE);
        m->has_guid = true;
    }
    if (sid) {
        unsigned char l = (unsigned char)sidlen;

        m->sid = cur_bytes(c, &l, 1) + 1;
        cur_bytes(c, sid, sidlen);
    }
    if (!guid)
        m->dn = cur_bytes(c, dn, strlen(dn) + 1) + 1;
    c->n++;
    if (c->n * 2 > c->nslots) {
        free(c->by_guid);
        free(c->by_sid);
        c->nslots *= 2;
        c->by_guid = wb_calloc(c->nslots, sizeof(*c->by_guid));
        c->by_sid = wb_calloc(c->nslots, sizeof(*c->by_sid));
        for (i = 0; i < c->n; i++)
            cur_index(c, i);
    } else {
        cur_index(c, c->n - 1);
    }
}

static char *lower(char *s)
{
    char *p;

    for (p = s; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return s;
}

/* --- reading current members --- */

/* "<GUID=…>;<SID=…>;dn" (string or hex forms) into guid/sid strings and the DN. */
static void parse_extdn(const char *v, size_t len, char guid[WB_ID_GUID_STR_SIZE],
                        char sid[WB_ID_SID_STR_SIZE], const char **dn)
{
    *dn = v + wb_id_extdn_parse(v, len, guid, sid);
}

/* Adds one current member (extended DN value) to the member set ctx (the public reader). */
static wb_err_t mset_add(const char *v, size_t len, void *ctx)
{
    wb_mset_t *cur = ctx;
    char guid[WB_ID_GUID_STR_SIZE], sid[WB_ID_SID_STR_SIZE], *dn, *key;
    const char *dnp;
    struct wb_member m = {WB_MEMBER_USER, NULL, NULL, NULL};

    parse_extdn(v, len, guid, sid, &dnp);
    dn = wb_strndup(dnp, len - (size_t)(dnp - v));
    /* Internal reuse: the member's DN, kept only when there is no GUID to name it by (a
     * snapshot of a 60,000-member group would otherwise hold every DN twice). */
    m.sid = guid[0] ? NULL : dn;
    m.guid = guid[0] ? guid : NULL;
    key = guid[0] ? wb_asprintf("g:%s", guid) : wb_asprintf("d:%s", dn);
    m.id = key;
    wb_mset_put(cur, &m, WB_MSET_ADD);
    free(key);
    if (sid[0]) {
        key = wb_asprintf("s:%s", sid);
        m.id = key;
        wb_mset_put(cur, &m, WB_MSET_ADD);
        free(key);
    }
    free(dn);
    return WB_OK;
}

/* Adds one current member (extended DN value) to the packed struct cur. */
static wb_err_t packed_add(const char *v, size_t len, void *ctx)
{
    struct cur *c = ctx;
    char guid[WB_ID_GUID_STR_SIZE], sid[WB_ID_SID_STR_SIZE], *dn;
    unsigned char gbin[WB_ID_GUID_BIN_SIZE], sbin[WB_ID_SID_BIN_MAX];
    size_t sl = 0;
    const char *dnp;

    parse_extdn(v, len, guid, sid, &dnp);
    if (sid[0])
        sl = wb_id_sid_from_str(sid, sbin);
    if (guid[0] && wb_id_guid_from_str(guid, gbin)) {
        cur_put(c, gbin, sl ? sbin : NULL, sl, NULL);
        return WB_OK;
    }
    dn = wb_strndup(dnp, len - (size_t)(dnp - v));
    cur_put(c, NULL, sl ? sbin : NULL, sl, dn);
    free(dn);
    return WB_OK;
}

int wb_apply_read_members(wb_apply_t *ap, const char *dn, wb_mset_t **out)
{
    wb_mset_t *cur = wb_mset_new();
    int rc = wb_ad_read_members(ap->ad, dn, (size_t)ap->cfg.range_window, mset_add, cur);

    *out = NULL;
    if (rc != LDAP_SUCCESS) {
        wb_mset_destroy(cur);
        return rc;
    }
    *out = cur;
    return LDAP_SUCCESS;
}

/* The current members of dn, packed, into *out (NULL on failure). Returns an LDAP code. */
static int read_cur(wb_apply_t *ap, const char *dn, struct cur **out)
{
    struct cur *c = cur_new();
    int rc = wb_ad_read_members(ap->ad, dn, (size_t)ap->cfg.range_window, packed_add, c);

    *out = NULL;
    if (rc != LDAP_SUCCESS) {
        cur_destroy(c);
        return rc;
    }
    *out = c;
    return LDAP_SUCCESS;
}

/* The current member v names, or NULL: by SID, else by GUID, as "s:"/"g:" keys did. */
static struct cmem *present(struct cur *cur, const struct mval *v)
{
    size_t k;

    if (v->rec)
        return &cur->v[v->rec - 1];
    if (v->sidlen) {
        k = cur->by_sid[cur_slot(cur, NULL, v->sid, v->sidlen)];
        if (k)
            return &cur->v[k - 1];
    }
    if (v->has_guid) {
        k = cur->by_guid[cur_slot(cur, v->guid, NULL, 0)];
        if (k)
            return &cur->v[k - 1];
    }
    return NULL;
}

/* --- nested groups --- */

/* Resolves the anchors of the nested group members of set into groups (kind GROUP, id = Entra
 * id, sid = DN, guid = objectGUID). Returns an LDAP code. */
static int resolve_groups(wb_apply_t *ap, const wb_mset_t *set, wb_mset_t *groups)
{
    static const char *const attrs[] = {"msDS-ExternalDirectoryObjectId", "objectGUID", NULL};
    const struct wb_mset_entry *e;
    size_t pos = 0, n = 0;
    char *filter = NULL;
    int rc = LDAP_SUCCESS;

    for (;;) {
        e = wb_mset_next(set, &pos);
        if (e && e->m.kind == WB_MEMBER_GROUP) {
            char *anchor = wb_map_anchor(e->m.id), *esc, *f;

            if (!anchor)
                continue;
            esc = wb_id_filter_escape(anchor, strlen(anchor));
            f = wb_asprintf("%s(msDS-ExternalDirectoryObjectId=%s)", filter ? filter : "", esc);
            free(filter);
            filter = f;
            free(esc);
            free(anchor);
            n++;
        }
        if (n > 0 && (!e || n == ANCHOR_BATCH)) {
            char *full = wb_asprintf("(&(objectClass=group)(|%s))", filter);
            LDAPMessage *res = NULL, *r;
            LDAP *ld;

            rc = wb_ad_search(ap->ad, ap->cfg.base_dn, LDAP_SCOPE_SUBTREE, full, attrs, NULL, &res);
            free(full);
            free(filter);
            filter = NULL;
            n = 0;
            if (rc != LDAP_SUCCESS) {
                ldap_msgfree(res);
                break;
            }
            ld = wb_ad_handle(ap->ad);
            for (r = ldap_first_entry(ld, res); r; r = ldap_next_entry(ld, r)) {
                char *ext = apply_first_value(ld, r, "msDS-ExternalDirectoryObjectId");
                struct berval **g = ldap_get_values_len(ld, r, "objectGUID");
                char *dn = ldap_get_dn(ld, r);
                char guid[WB_ID_GUID_STR_SIZE];

                if (ext && strlen(ext) > 6 && g && g[0] && g[0]->bv_len == 16 && dn) {
                    struct wb_member m = {WB_MEMBER_GROUP, lower(ext + 6), dn, guid};

                    wb_id_guid_to_str((const unsigned char *)g[0]->bv_val, guid);
                    if (!wb_mset_get(groups, WB_MEMBER_GROUP, m.id))
                        wb_mset_put(groups, &m, WB_MSET_ADD);
                }
                ldap_memfree(dn);
                ldap_value_free_len(g);
                free(ext);
            }
            ldap_msgfree(res);
        }
        if (!e)
            break;
    }
    free(filter);
    return rc;
}

/* --- sending --- */

static wb_err_t send_list(wb_apply_t *ap, const struct wb_apply_ctx *cx, const char *dn, int op,
                          struct mval **v, size_t n, struct cur **cur, struct wb_apply_result *res);

static int modify_values(wb_apply_t *ap, const struct wb_apply_ctx *cx, const char *dn, int op,
                         struct mval **v, size_t n, struct wb_apply_result *res)
{
    struct berval *bvs = wb_calloc(n, sizeof(*bvs));
    struct berval **bvp = wb_calloc(n + 1, sizeof(*bvp));
    LDAPMod mod = {0}, *mods[2] = {&mod, NULL};
    char attrs[64];
    size_t i;
    int rc;

    for (i = 0; i < n; i++) {
        bvs[i].bv_val = v[i]->value;
        bvs[i].bv_len = strlen(v[i]->value);
        bvp[i] = &bvs[i];
    }
    mod.mod_op = op | LDAP_MOD_BVALUES;
    mod.mod_type = "member";
    mod.mod_bvalues = bvp;
    res->writes++;
    rc = ap->cfg.dry_run ? LDAP_SUCCESS : wb_ad_modify(ap->ad, dn, mods, true);
    if (rc == LDAP_SUCCESS) {
        snprintf(attrs, sizeof(attrs), "member(%c%zu)", op == LDAP_MOD_ADD ? '+' : '-', n);
        apply_audit(ap, cx, "modify", dn, attrs);
    }
    free(bvp);
    free(bvs);
    return rc;
}

/* Which user values of v do not exist in AD (32 on a member add). */
static int find_missing_users(wb_apply_t *ap, struct mval **v, size_t n, bool *missing,
                              size_t *nmissing)
{
    size_t i;

    *nmissing = 0;
    for (i = 0; i < n; i++) {
        LDAPMessage *res = NULL;
        int rc;

        missing[i] = false;
        if (v[i]->kind != WB_MEMBER_USER)
            continue;
        rc = wb_ad_search(ap->ad, v[i]->value, LDAP_SCOPE_BASE, "(objectClass=*)",
                          (const char *const[]){"1.1", NULL}, NULL, &res);
        ldap_msgfree(res);
        if (rc == LDAP_NO_SUCH_OBJECT) {
            missing[i] = true;
            (*nmissing)++;
        } else if (rc != LDAP_SUCCESS) {
            return rc;
        }
    }
    return LDAP_SUCCESS;
}

/* A member add the server refused although no value was already present: find the user
 * values that do not exist in AD (Samba answers 32 or 53 for a <SID=…> it cannot resolve),
 * retry later or, on the final attempt, skip them and send the rest. */
static wb_err_t add_missing_users(wb_apply_t *ap, const struct wb_apply_ctx *cx, const char *dn,
                                  struct mval **v, size_t n, int rc, struct cur **cur,
                                  struct wb_apply_result *res)
{
    struct mval **keep = NULL;
    bool *missing = wb_calloc(n, sizeof(*missing));
    size_t nkeep = 0, nmissing = 0, i;
    int frc = find_missing_users(ap, v, n, missing, &nmissing);
    wb_err_t err = WB_OK;

    if (frc != LDAP_SUCCESS) {
        err = apply_ldap_fail(ap, res, WB_REASON_RESOLVE_FAILED, frc, dn);
        goto out;
    }
    if (nmissing == 0) {
        wb_log(LOG_WARNING, "WORKER", "group=%s: member add on %s failed: %s (%s)", cx->group, dn,
               ldap_err2string(rc), wb_ad_last_message(ap->ad));
        err = apply_ldap_fail(ap, res, WB_REASON_MEMBER_MODIFY_FAILED, rc, dn);
        goto out;
    }
    if (!cx->final_attempt) {
        wb_log(LOG_WARNING, "WORKER",
               "group=%s: %zu member user(s) not found in AD; will retry partition=%d "
               "offset=%lld",
               cx->group, nmissing, (int)cx->partition, (long long)cx->offset);
        err = apply_fail(ap, res, WB_ERR_DEPENDENCY, WB_REASON_USER_NOT_FOUND, rc, dn);
        goto out;
    }
    keep = wb_calloc(n, sizeof(*keep));
    for (i = 0; i < n; i++) {
        if (!missing[i]) {
            keep[nkeep++] = v[i];
            continue;
        }
        wb_log(LOG_WARNING, "WORKER",
               "group=%s: skipping member user %s (%s): not found in AD after retries "
               "partition=%d offset=%lld",
               cx->group, v[i]->id ? v[i]->id : "-", v[i]->value, (int)cx->partition,
               (long long)cx->offset);
        wb_wmetrics_skipped(ap->wm, wb_reason_tag(WB_REASON_USER_NOT_FOUND), 1);
    }
    if (nkeep > 0)
        err = send_list(ap, cx, dn, LDAP_MOD_ADD, keep, nkeep, cur, res);
out:
    free(keep);
    free(missing);
    return err;
}

static wb_err_t send_chunk(wb_apply_t *ap, const struct wb_apply_ctx *cx, const char *dn, int op,
                           struct mval **v, size_t n, struct cur **cur, struct wb_apply_result *res)
{
    struct mval **keep = NULL;
    size_t nkeep = 0, i;
    int rc = modify_values(ap, cx, dn, op, v, n, res);
    wb_err_t err = WB_OK;

    if (rc == LDAP_SUCCESS)
        goto out;
    if (rc == LDAP_ALREADY_EXISTS || rc == LDAP_UNWILLING_TO_PERFORM ||
        rc == LDAP_NO_SUCH_ATTRIBUTE || rc == LDAP_TYPE_OR_VALUE_EXISTS) {
        /* Samba ignores permissive modify for several values: send the real difference. */
        wb_dbg("worker", "WORKER", "group=%s: member %s of %zu values answered %d; reading members",
               cx->group, op == LDAP_MOD_ADD ? "add" : "delete", n, rc);
        if (!*cur) {
            int rrc = read_cur(ap, dn, cur);

            if (rrc != LDAP_SUCCESS) {
                err = apply_ldap_fail(ap, res, WB_REASON_READ_MEMBERS_FAILED, rrc, dn);
                goto out;
            }
        }
        keep = wb_calloc(n, sizeof(*keep));
        for (i = 0; i < n; i++)
            if ((present(*cur, v[i]) != NULL) == (op == LDAP_MOD_DELETE))
                keep[nkeep++] = v[i];
        if (nkeep == 0)
            goto out;
        if (nkeep < n) {
            err = send_list(ap, cx, dn, op, keep, nkeep, cur, res);
            goto out;
        }
        /* Nothing to drop, yet refused: not the permissive case. */
    }
    if (op == LDAP_MOD_ADD && !wb_ldap_conn_gone(rc)) {
        err = add_missing_users(ap, cx, dn, v, n, rc, cur, res);
        goto out;
    }
    wb_log(LOG_WARNING, "WORKER", "group=%s: member %s on %s failed: %s (%s)", cx->group,
           op == LDAP_MOD_ADD ? "add" : "delete", dn, ldap_err2string(rc),
           wb_ad_last_message(ap->ad));
    err = apply_ldap_fail(ap, res, WB_REASON_MEMBER_MODIFY_FAILED, rc, dn);
out:
    free(keep);
    return err;
}

static wb_err_t send_list(wb_apply_t *ap, const struct wb_apply_ctx *cx, const char *dn, int op,
                          struct mval **v, size_t n, struct cur **cur, struct wb_apply_result *res)
{
    size_t chunk = (size_t)ap->cfg.member_chunk, i;
    wb_err_t err = WB_OK;

    for (i = 0; i < n && err == WB_OK; i += chunk)
        err = send_chunk(ap, cx, dn, op, v + i, n - i < chunk ? n - i : chunk, cur, res);
    return err;
}

/* The value of entry e into *mv (owned strings); false when it has none to send (a nested
 * group not in AD, a user without an on-prem identity). */
static bool make_value(wb_apply_t *ap, const struct wb_apply_ctx *cx, const struct wb_mset_entry *e,
                       const wb_mset_t *groups, struct mval *mv)
{
    memset(mv, 0, sizeof(*mv));
    mv->kind = e->m.kind;
    if (e->m.kind == WB_MEMBER_GROUP) {
        const struct wb_mset_entry *g = wb_mset_get(groups, WB_MEMBER_GROUP, e->m.id);

        if (!g)
            return false; /* handled by check_groups (add) or not a member (remove) */
        mv->has_guid = wb_id_guid_from_str(g->m.guid, mv->guid);
        mv->value = wb_strdup(g->m.sid);
        mv->id = wb_strdup(e->m.id);
        return true;
    }
    if (e->m.sid) {
        mv->sidlen = wb_id_sid_from_str(e->m.sid, mv->sid);
        if (!mv->sidlen)
            return false; /* the decoder vetted it; belt and braces */
        mv->value = wb_id_sid_dn(e->m.sid);
        /* The GUID finds a user AD lists under another SID form only if it parses (a "g:" key
         * of an invalid GUID never matched either). */
        mv->has_guid = e->m.guid && wb_id_guid_from_str(e->m.guid, mv->guid);
        mv->id = wb_strdup(e->m.id);
        return true;
    }
    if (e->m.guid && wb_id_guid_from_str(e->m.guid, mv->guid)) {
        mv->has_guid = true;
        mv->value = wb_id_guid_dn(e->m.guid);
        mv->id = wb_strdup(e->m.id);
        return true;
    }
    wb_log(LOG_WARNING, "WORKER", "group=%s: member user %s has no SID or GUID; skipped", cx->group,
           e->m.id);
    wb_wmetrics_skipped(ap->wm, wb_reason_tag(WB_REASON_NO_ONPREM_IDENTITY), 1);
    return false;
}

/* Nested groups to add that are not in AD: a dependency failure, or on the final attempt
 * given up (res->dead_members). Checked before anything is written. */
static wb_err_t check_groups(wb_apply_t *ap, const struct wb_apply_ctx *cx, const wb_mset_t *set,
                             const wb_mset_t *groups, struct wb_apply_result *res)
{
    const struct wb_mset_entry *e;
    size_t pos = 0;

    while ((e = wb_mset_next(set, &pos)) != NULL) {
        if (e->op != WB_MSET_ADD || e->m.kind != WB_MEMBER_GROUP ||
            wb_mset_get(groups, WB_MEMBER_GROUP, e->m.id))
            continue;
        if (!cx->final_attempt) {
            wb_log(LOG_WARNING, "WORKER",
                   "group=%s: nested group %s is not in AD yet; will retry partition=%d "
                   "offset=%lld",
                   cx->group, e->m.id, (int)cx->partition, (long long)cx->offset);
            return apply_fail(ap, res, WB_ERR_DEPENDENCY, WB_REASON_MEMBER_GROUP_NOT_FOUND, -1,
                              NULL);
        }
        wb_log(LOG_WARNING, "WORKER",
               "group=%s: nested group %s still not in AD after retries; dead-lettering its "
               "events partition=%d offset=%lld",
               cx->group, e->m.id, (int)cx->partition, (long long)cx->offset);
        if (!res->dead_members)
            res->dead_members = wb_mset_new();
        wb_mset_put(res->dead_members, &e->m, WB_MSET_ADD);
    }
    return WB_OK;
}

/* Fills l (emptied first) with up to max values of the entries of set marked op, from *pos on.
 * cur non-NULL: adds skip values present (flagged matched when mark), removes skip values
 * absent. */
static void fill_chunk(wb_apply_t *ap, const struct wb_apply_ctx *cx, const wb_mset_t *set,
                       size_t *pos, enum wb_mset_op op, const wb_mset_t *groups, struct cur *cur,
                       bool mark, size_t max, struct mlist *l)
{
    const struct wb_mset_entry *e;
    struct mval mv;

    mlist_free(l);
    while (l->n < max && (e = wb_mset_next(set, pos)) != NULL) {
        struct cmem *c;

        if (e->op != op || !make_value(ap, cx, e, groups, &mv))
            continue;
        c = cur ? present(cur, &mv) : NULL;
        if (cur && (op == WB_MSET_ADD ? c != NULL : c == NULL)) {
            if (c && mark)
                c->matched = true;
            mval_free(&mv);
            continue;
        }
        mlist_push(l, &mv);
    }
}

/* Sends the values of l (at most one chunk) with op. */
static wb_err_t send_mlist(wb_apply_t *ap, const struct wb_apply_ctx *cx, const char *dn, int op,
                           struct mlist *l, struct cur **cur, struct wb_apply_result *res)
{
    struct mval **v;
    size_t i;
    wb_err_t err;

    if (l->n == 0)
        return WB_OK;
    v = wb_calloc(l->n, sizeof(*v));
    for (i = 0; i < l->n; i++)
        v[i] = &l->v[i];
    err = send_list(ap, cx, dn, op, v, l->n, cur, res);
    free(v);
    return err;
}

/* Creates the group create->dn with the values of l in the add; when the add is refused for
 * what may be a bad member value, creates it bare and sends l through the member path. */
static wb_err_t create_with(wb_apply_t *ap, const struct wb_apply_ctx *cx,
                            const struct wb_map_group *create, struct mlist *l, bool *ours,
                            struct cur **cur, struct wb_apply_result *res)
{
    struct berval *bvs = wb_calloc(l->n + 1, sizeof(*bvs));
    struct berval **bvp = wb_calloc(l->n + 1, sizeof(*bvp));
    size_t i;
    int outcome;
    wb_err_t err;

    for (i = 0; i < l->n; i++) {
        bvs[i].bv_val = l->v[i].value;
        bvs[i].bv_len = strlen(l->v[i].value);
        bvp[i] = &bvs[i];
    }
    err = apply_create(ap, cx, create, bvp, l->n, &outcome, res);
    if (outcome == APPLY_CREATE_MEMBER_REFUSED) {
        err = apply_create(ap, cx, create, NULL, 0, &outcome, res);
        if (err == WB_OK && outcome == APPLY_CREATE_DONE)
            err = send_mlist(ap, cx, create->dn, LDAP_MOD_ADD, l, cur, res);
    }
    if (err == WB_OK && outcome == APPLY_CREATE_OURS)
        *ours = true;
    free(bvp);
    free(bvs);
    return err;
}

wb_err_t apply_members(wb_apply_t *ap, const struct wb_apply_ctx *cx, const struct wb_step *st,
                       const char *dn, const struct wb_map_group *create, bool *ours,
                       struct wb_apply_result *res)
{
    const wb_mset_t *set = st->desired ? st->desired : st->delta;
    bool exact = st->desired != NULL, fresh = create != NULL;
    wb_mset_t *groups = wb_mset_new();
    struct cur *cur = NULL;
    struct mlist chunk = {0};
    size_t max = (size_t)ap->cfg.member_chunk, pos = 0;
    wb_err_t err = WB_OK;
    int rc;

    if (ours)
        *ours = false;
    if (set && wb_mset_count(set) == 0 && !exact && !fresh)
        goto out;
    if (set) {
        rc = resolve_groups(ap, set, groups);
        if (rc != LDAP_SUCCESS) {
            err = apply_ldap_fail(ap, res, WB_REASON_RESOLVE_FAILED, rc, ap->cfg.base_dn);
            goto out;
        }
        err = check_groups(ap, cx, set, groups, res);
    }
    if (fresh) {
        /* A group created here has no members (and in a dry run, no entry to read). */
        cur = cur_new();
        if (err == WB_OK && set)
            fill_chunk(ap, cx, set, &pos, WB_MSET_ADD, groups, NULL, false, max, &chunk);
        if (err != WB_OK) {
            /* Created even so; the dependency is retried with the group in place. */
            wb_err_t cerr;

            mlist_free(&chunk);
            cerr = create_with(ap, cx, create, &chunk, ours, &cur, res);
            if (cerr != WB_OK)
                err = cerr;
            goto out;
        }
        err = create_with(ap, cx, create, &chunk, ours, &cur, res);
        if (err != WB_OK || *ours || !set)
            goto out;
    } else if (err != WB_OK || !set) {
        goto out;
    } else if (exact || ap->cfg.read_before_write) {
        rc = read_cur(ap, dn, &cur);
        if (rc != LDAP_SUCCESS) {
            err = apply_ldap_fail(ap, res, WB_REASON_READ_MEMBERS_FAILED, rc, dn);
            goto out;
        }
    }

    /* Adds, one chunk of values at a time. */
    for (;;) {
        fill_chunk(ap, cx, set, &pos, WB_MSET_ADD, groups, fresh ? NULL : cur, exact, max, &chunk);
        if (chunk.n == 0)
            break;
        err = send_mlist(ap, cx, dn, LDAP_MOD_ADD, &chunk, &cur, res);
        if (err != WB_OK)
            goto out;
    }
    if (fresh)
        goto out;

    if (exact) {
        /* Everything present that the snapshot does not want goes (by GUID, else by DN). */
        wb_mset_destroy(groups);
        groups = NULL;
        pos = 0;
        for (;;) {
            mlist_free(&chunk);
            while (chunk.n < max && pos < cur->n) {
                const struct cmem *c = &cur->v[pos++];
                struct mval mv = {0};
                char guid[WB_ID_GUID_STR_SIZE];

                if (c->matched)
                    continue;
                mv.kind = WB_MEMBER_USER;
                mv.rec = pos;
                if (c->has_guid) {
                    wb_id_guid_to_str(c->guid, guid);
                    mv.value = wb_asprintf("<GUID=%s>", guid);
                } else {
                    mv.value = wb_strdup((const char *)cur->bytes + c->dn - 1);
                }
                mlist_push(&chunk, &mv);
            }
            if (chunk.n == 0)
                break;
            err = send_mlist(ap, cx, dn, LDAP_MOD_DELETE, &chunk, &cur, res);
            if (err != WB_OK)
                goto out;
        }
    } else {
        pos = 0;
        for (;;) {
            fill_chunk(ap, cx, set, &pos, WB_MSET_REMOVE, groups, cur, false, max, &chunk);
            if (chunk.n == 0)
                break;
            err = send_mlist(ap, cx, dn, LDAP_MOD_DELETE, &chunk, &cur, res);
            if (err != WB_OK)
                goto out;
        }
    }
out:
    mlist_free(&chunk);
    cur_destroy(cur);
    wb_mset_destroy(groups);
    return err;
}
