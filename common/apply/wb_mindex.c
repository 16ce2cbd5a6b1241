/*
 * wb_mindex: the packed index of a group's current members (see wb_mindex.h): records in one
 * array, SIDs and DNs in one byte buffer, two open-addressing tables (by GUID, by SID) of
 * record numbers, FNV-1a hashed, doubled at half load.
 */
#include "wb_mindex.h"
#include "wb_id.h"
#include "wb_mem.h"

#include <ldap.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* One current member value. */
struct cmem {
    unsigned char guid[WB_ID_GUID_BIN_SIZE];
    uint32_t sid; /* offset + 1 of [length byte][binary SID] in cur->bytes; 0: none */
    uint32_t dn;  /* offset + 1 of the DN in cur->bytes, kept only without a GUID; 0: none */
    bool has_guid;
    bool matched; /* an exact step wants it (so it is not removed) */
};

struct wb_mindex_s {
    struct cmem *v;
    size_t n, cap;
    unsigned char *bytes; /* SIDs and DNs */
    size_t blen, bcap;
    uint32_t *by_guid, *by_sid; /* index + 1 into v; 0 = empty */
    size_t nslots;              /* power of two */
};

wb_mindex_t *wb_mindex_new(void)
{
    wb_mindex_t *c = wb_calloc(1, sizeof(*c));

    c->nslots = 16;
    c->by_guid = wb_calloc(c->nslots, sizeof(*c->by_guid));
    c->by_sid = wb_calloc(c->nslots, sizeof(*c->by_sid));
    return c;
}

void wb_mindex_destroy(wb_mindex_t *c)
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

static const unsigned char *cmem_sid(const wb_mindex_t *c, const struct cmem *m, size_t *len)
{
    *len = m->sid ? c->bytes[m->sid - 1] : 0;
    return m->sid ? c->bytes + m->sid : NULL;
}

/* Slot of the member with this GUID (sid NULL) or SID, or the empty slot where it would go. */
static size_t cur_slot(const wb_mindex_t *c, const unsigned char *guid, const unsigned char *sid,
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

static void cur_index(wb_mindex_t *c, size_t idx)
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

static uint32_t cur_bytes(wb_mindex_t *c, const void *p, size_t n)
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
void wb_mindex_put(wb_mindex_t *c, const unsigned char *guid, const unsigned char *sid,
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

/* Adds one current member (an extended DN value: "<GUID=...>;<SID=...>;dn") to the index. */
static wb_err_t packed_add(const char *v, size_t len, void *ctx)
{
    wb_mindex_t *c = ctx;
    char guid[WB_ID_GUID_STR_SIZE], sid[WB_ID_SID_STR_SIZE], *dn;
    unsigned char gbin[WB_ID_GUID_BIN_SIZE], sbin[WB_ID_SID_BIN_MAX];
    size_t sl = 0;
    const char *dnp = v + wb_id_extdn_parse(v, len, guid, sid);

    if (sid[0])
        sl = wb_id_sid_from_str(sid, sbin);
    if (guid[0] && wb_id_guid_from_str(guid, gbin)) {
        wb_mindex_put(c, gbin, sl ? sbin : NULL, sl, NULL);
        return WB_OK;
    }
    dn = wb_strndup(dnp, len - (size_t)(dnp - v));
    wb_mindex_put(c, NULL, sl ? sbin : NULL, sl, dn);
    free(dn);
    return WB_OK;
}

int wb_mindex_read(wb_ldap_t *ld, const char *dn, size_t window, wb_mindex_t **out)
{
    wb_mindex_t *c = wb_mindex_new();
    int rc;

    wb_ldap_read_values(ld, dn, "member", window, WB_LDAP_READ_EXTDN, packed_add, c, NULL);
    rc = wb_ldap_last_rc(ld);
    *out = NULL;
    if (rc != LDAP_SUCCESS) {
        wb_mindex_destroy(c);
        return rc;
    }
    *out = c;
    return LDAP_SUCCESS;
}

size_t wb_mindex_find(const wb_mindex_t *ix, const unsigned char *sid, size_t sidlen,
                      const unsigned char *guid)
{
    size_t k;

    if (sid && sidlen) {
        k = ix->by_sid[cur_slot(ix, NULL, sid, sidlen)];
        if (k)
            return k;
    }
    if (guid)
        return ix->by_guid[cur_slot(ix, guid, NULL, 0)];
    return 0;
}

size_t wb_mindex_count(const wb_mindex_t *ix)
{
    return ix->n;
}

void wb_mindex_mark(wb_mindex_t *ix, size_t rec)
{
    ix->v[rec - 1].matched = true;
}

char *wb_mindex_unwanted(const wb_mindex_t *ix, size_t rec)
{
    const struct cmem *c = &ix->v[rec - 1];
    char guid[WB_ID_GUID_STR_SIZE];

    if (c->matched)
        return NULL;
    if (!c->has_guid)
        return wb_strdup((const char *)ix->bytes + c->dn - 1);
    wb_id_guid_to_str(c->guid, guid);
    return wb_asprintf("<GUID=%s>", guid);
}
