/*
 * wb_mset: member sets. Entries are packed records in one growing byte buffer (insertion order,
 * cheap iteration, no allocation per string); an open-addressing table of indexes finds them by
 * kind + id. Entra ids are GUIDs, compared case-insensitively because the decoder accepts
 * either case. A 60,000-member snapshot is held this way at ~70 bytes a member instead of ~170
 * with three malloc'd strings per entry (measured with massif on the 0350 benchmark).
 */
#include "wb_mset.h"
#include "wb_id.h"
#include "wb_mem.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*
 * Record: kind (1 byte), op (1 byte), then three fields: id, sid, guid. A field is a tag byte
 * and its payload. GUID and SID forms are used only when decoding gives back the very same
 * string, so a view always equals what was put.
 */
enum {
    F_NULL = 0,
    F_GUID_LOWER, /* 16 bytes (wb_id_guid_from_str order) */
    F_GUID_UPPER, /* 16 bytes, string in upper case */
    F_SID,        /* length byte + binary SID (8..68 bytes) */
    F_STR,        /* 4-byte length + bytes + NUL */
};

struct wb_mset_s {
    unsigned char *buf; /* records */
    size_t len, cap;    /* bytes used, allocated */
    size_t dead;        /* bytes of replaced records (reclaimed by compact) */
    uint32_t *off;      /* entry i -> offset of its record in buf */
    size_t n, ncap;
    uint32_t *slots; /* index + 1 into off; 0 = empty */
    size_t nslots;   /* power of two */
    /* The view handed out by get/next (see wb_mset.h). */
    struct wb_mset_entry view;
    char *vbuf;
    size_t vcap;
};

/* A field to write, parsed from a string. */
struct fenc {
    unsigned char tag;
    unsigned char bin[WB_ID_SID_BIN_MAX];
    size_t binlen;
    const char *str;
    size_t len;
};

/* A key to look up: kind + id, with the id's binary GUID when it is one. */
struct probe {
    enum wb_member_kind kind;
    const char *id;
    bool is_guid;
    unsigned char bin[WB_ID_GUID_BIN_SIZE];
    char idbuf[WB_ID_GUID_STR_SIZE];
    uint64_t h;
};

static uint64_t hash_key(enum wb_member_kind kind, const char *id)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)kind;
    const unsigned char *p;

    for (p = (const unsigned char *)id; *p; p++) {
        h ^= (uint64_t)tolower(*p);
        h *= 1099511628211ULL;
    }
    return h;
}

static void fenc_make(struct fenc *f, const char *v, bool id)
{
    char str[WB_ID_SID_STR_SIZE];
    size_t i;

    memset(f, 0, sizeof(*f));
    if (!v) {
        f->tag = F_NULL;
        return;
    }
    if (wb_id_guid_from_str(v, f->bin)) {
        wb_id_guid_to_str(f->bin, str);
        f->binlen = WB_ID_GUID_BIN_SIZE;
        if (strcmp(str, v) == 0) {
            f->tag = F_GUID_LOWER;
            return;
        }
        for (i = 0; str[i]; i++)
            str[i] = (char)toupper((unsigned char)str[i]);
        if (strcmp(str, v) == 0) {
            f->tag = F_GUID_UPPER;
            return;
        }
    } else if (!id && v[0] == 'S') {
        f->binlen = wb_id_sid_from_str(v, f->bin);
        if (f->binlen && wb_id_sid_to_str(f->bin, f->binlen, str) && strcmp(str, v) == 0) {
            f->tag = F_SID;
            return;
        }
    }
    f->tag = F_STR;
    f->str = v;
    f->len = strlen(v);
}

static size_t fenc_size(const struct fenc *f)
{
    switch (f->tag) {
    case F_GUID_LOWER:
    case F_GUID_UPPER:
        return 1 + WB_ID_GUID_BIN_SIZE;
    case F_SID:
        return 2 + f->binlen;
    case F_STR:
        return 1 + 4 + f->len + 1;
    default:
        return 1;
    }
}

static unsigned char *fenc_write(const struct fenc *f, unsigned char *p)
{
    uint32_t l;

    *p++ = f->tag;
    switch (f->tag) {
    case F_GUID_LOWER:
    case F_GUID_UPPER:
        memcpy(p, f->bin, WB_ID_GUID_BIN_SIZE);
        return p + WB_ID_GUID_BIN_SIZE;
    case F_SID:
        *p++ = (unsigned char)f->binlen;
        memcpy(p, f->bin, f->binlen);
        return p + f->binlen;
    case F_STR:
        l = (uint32_t)f->len;
        memcpy(p, &l, 4);
        memcpy(p + 4, f->str, f->len + 1);
        return p + 4 + f->len + 1;
    default:
        return p;
    }
}

/* Size of the field at p, tag included. */
static size_t field_size(const unsigned char *p)
{
    uint32_t l;

    switch (p[0]) {
    case F_GUID_LOWER:
    case F_GUID_UPPER:
        return 1 + WB_ID_GUID_BIN_SIZE;
    case F_SID:
        return 2 + (size_t)p[1];
    case F_STR:
        memcpy(&l, p + 1, 4);
        return 1 + 4 + (size_t)l + 1;
    default:
        return 1;
    }
}

/* The string the field at p stands for (formatted into tmp, or in place for F_STR) and its
 * length; NULL for F_NULL. */
static const char *field_str(const unsigned char *p, char tmp[WB_ID_SID_STR_SIZE], size_t *len)
{
    size_t i;

    *len = 0;
    switch (p[0]) {
    case F_GUID_LOWER:
    case F_GUID_UPPER:
        wb_id_guid_to_str(p + 1, tmp);
        if (p[0] == F_GUID_UPPER)
            for (i = 0; tmp[i]; i++)
                tmp[i] = (char)toupper((unsigned char)tmp[i]);
        *len = WB_ID_GUID_STR_SIZE - 1;
        return tmp;
    case F_SID:
        wb_id_sid_to_str(p + 2, p[1], tmp); /* only SIDs that round-trip are stored so */
        *len = strlen(tmp);
        return tmp;
    case F_STR:
        *len = field_size(p) - 6;
        return (const char *)p + 5;
    default:
        return NULL;
    }
}

static size_t rec_size(const unsigned char *r)
{
    const unsigned char *p = r + 2;

    p += field_size(p);
    p += field_size(p);
    p += field_size(p);
    return (size_t)(p - r);
}

static void probe_str(struct probe *pr, enum wb_member_kind kind, const char *id)
{
    pr->kind = kind;
    pr->id = id;
    pr->is_guid = wb_id_guid_from_str(id, pr->bin);
    pr->h = hash_key(kind, id);
}

/* The probe of record r (its id decoded when it is a GUID). */
static void probe_rec(struct probe *pr, const unsigned char *r)
{
    const unsigned char *f = r + 2;

    pr->kind = (enum wb_member_kind)r[0];
    pr->is_guid = f[0] == F_GUID_LOWER || f[0] == F_GUID_UPPER;
    if (pr->is_guid) {
        memcpy(pr->bin, f + 1, WB_ID_GUID_BIN_SIZE);
        wb_id_guid_to_str(pr->bin, pr->idbuf); /* lower case: the hash folds case anyway */
        pr->id = pr->idbuf;
    } else {
        pr->id = (const char *)f + 5;
        /* a GUID kept as a string (mixed case) still matches its binary form */
        pr->is_guid = wb_id_guid_from_str(pr->id, pr->bin);
    }
    pr->h = hash_key(pr->kind, pr->id);
}

static bool rec_matches(const unsigned char *r, const struct probe *pr)
{
    const unsigned char *f = r + 2;

    if ((enum wb_member_kind)r[0] != pr->kind)
        return false;
    if (f[0] == F_GUID_LOWER || f[0] == F_GUID_UPPER)
        return pr->is_guid && memcmp(f + 1, pr->bin, WB_ID_GUID_BIN_SIZE) == 0;
    return strcasecmp((const char *)f + 5, pr->id) == 0;
}

wb_mset_t *wb_mset_new(void)
{
    wb_mset_t *s = wb_calloc(1, sizeof(*s));

    s->nslots = 16;
    s->slots = wb_calloc(s->nslots, sizeof(*s->slots));
    return s;
}

void wb_mset_clear(wb_mset_t *s)
{
    s->n = 0;
    s->len = 0;
    s->dead = 0;
    memset(s->slots, 0, s->nslots * sizeof(*s->slots));
}

void wb_mset_destroy(wb_mset_t *s)
{
    if (!s)
        return;
    free(s->buf);
    free(s->off);
    free(s->slots);
    free(s->vbuf);
    free(s);
}

/* Slot holding the probe's key, or the empty slot where it would go. */
static size_t find_slot(const wb_mset_t *s, const struct probe *pr)
{
    size_t mask = s->nslots - 1;
    size_t i = (size_t)pr->h & mask;

    for (;;) {
        uint32_t v = s->slots[i];

        if (v == 0)
            return i;
        if (rec_matches(s->buf + s->off[v - 1], pr))
            return i;
        i = (i + 1) & mask;
    }
}

static void grow(wb_mset_t *s)
{
    struct probe pr;
    size_t i;

    free(s->slots);
    s->nslots *= 2;
    s->slots = wb_calloc(s->nslots, sizeof(*s->slots));
    for (i = 0; i < s->n; i++) {
        probe_rec(&pr, s->buf + s->off[i]);
        s->slots[find_slot(s, &pr)] = (uint32_t)(i + 1);
    }
}

/* Room for need more bytes at the end of buf. */
static void reserve(wb_mset_t *s, size_t need)
{
    if (s->len + need <= s->cap)
        return;
    while (s->len + need > s->cap)
        s->cap = s->cap ? s->cap * 2 : 4096;
    if (s->cap > UINT32_MAX)
        abort(); /* offsets are 32-bit: 4 GiB of members is far beyond any group */
    s->buf = wb_realloc(s->buf, s->cap);
}

/* Drops replaced records once they are half the buffer. */
static void compact(wb_mset_t *s)
{
    unsigned char *nb;
    size_t i, len = 0;

    if (s->dead < 4096 || s->dead * 2 < s->len)
        return;
    nb = wb_malloc(s->len - s->dead);
    for (i = 0; i < s->n; i++) {
        const unsigned char *r = s->buf + s->off[i];
        size_t sz = rec_size(r);

        memcpy(nb + len, r, sz);
        s->off[i] = (uint32_t)len;
        len += sz;
    }
    free(s->buf);
    s->buf = nb;
    s->len = s->cap = len;
    s->dead = 0;
}

/*
 * Enters the record just written at buf[at..len) (the tentative tail): a new key keeps it; a
 * known key takes its op, and its sid/guid when the tail has either (the old id is kept). The
 * tail is dropped when it is not kept.
 */
static void put_tail(wb_mset_t *s, size_t at)
{
    struct probe pr;
    size_t slot, i, idsz, oldsz, idsz_new, ident;
    unsigned char *tail = s->buf + at, *old, *tmp;

    probe_rec(&pr, tail);
    slot = find_slot(s, &pr);
    if (!s->slots[slot]) {
        if (s->n == s->ncap) {
            s->ncap = s->ncap ? s->ncap * 2 : 16;
            s->off = wb_realloc(s->off, s->ncap * sizeof(*s->off));
        }
        s->off[s->n] = (uint32_t)at;
        s->slots[slot] = (uint32_t)++s->n;
        if (s->n * 2 > s->nslots)
            grow(s);
        return;
    }
    i = s->slots[slot] - 1;
    old = s->buf + s->off[i];
    old[1] = tail[1];
    idsz_new = field_size(tail + 2);
    ident = s->len - at - 2 - idsz_new; /* bytes of the tail's sid and guid fields */
    idsz = field_size(old + 2);
    oldsz = rec_size(old);
    /* A later event may carry a resolved identity the earlier one lacked. */
    if ((tail[2 + idsz_new] == F_NULL && tail[2 + idsz_new + 1] == F_NULL) ||
        (oldsz - 2 - idsz == ident && memcmp(old + 2 + idsz, tail + 2 + idsz_new, ident) == 0)) {
        s->len = at;
        return;
    }
    /* New identity: a new record with the old id, the tail's sid and guid. */
    tmp = wb_malloc(ident);
    memcpy(tmp, tail + 2 + idsz_new, ident);
    s->len = at;
    reserve(s, 2 + idsz + ident);
    old = s->buf + s->off[i];
    memcpy(s->buf + s->len, old, 2 + idsz);
    memcpy(s->buf + s->len + 2 + idsz, tmp, ident);
    free(tmp);
    s->off[i] = (uint32_t)s->len;
    s->len += 2 + idsz + ident;
    s->dead += oldsz;
    compact(s);
}

void wb_mset_put(wb_mset_t *s, const struct wb_member *m, enum wb_mset_op op)
{
    struct fenc id, sid, guid;
    size_t at = s->len;
    unsigned char *p;

    fenc_make(&id, m->id, true);
    fenc_make(&sid, m->sid, false);
    fenc_make(&guid, m->guid, false);
    reserve(s, 2 + fenc_size(&id) + fenc_size(&sid) + fenc_size(&guid));
    p = s->buf + at;
    *p++ = (unsigned char)m->kind;
    *p++ = (unsigned char)op;
    p = fenc_write(&id, p);
    p = fenc_write(&sid, p);
    p = fenc_write(&guid, p);
    s->len = (size_t)(p - s->buf);
    put_tail(s, at);
}

/* Decodes record i into the set's view. */
static const struct wb_mset_entry *view(const wb_mset_t *cs, size_t i)
{
    wb_mset_t *s = (wb_mset_t *)cs; /* the view is scratch space, not the set's content */
    const unsigned char *r = s->buf + s->off[i], *f = r + 2;
    char tmp[3][WB_ID_SID_STR_SIZE], *p,
        **out[3] = {&s->view.m.id, &s->view.m.sid, &s->view.m.guid};
    const char *v[3];
    size_t len[3], k;

    for (k = 0; k < 3; k++) {
        v[k] = field_str(f, tmp[k], &len[k]);
        f += field_size(f);
    }
    if (len[0] + len[1] + len[2] + 3 > s->vcap) {
        s->vcap = len[0] + len[1] + len[2] + 3 < 256 ? 256 : len[0] + len[1] + len[2] + 3;
        free(s->vbuf);
        s->vbuf = wb_malloc(s->vcap);
    }
    p = s->vbuf;
    for (k = 0; k < 3; k++) {
        *out[k] = NULL;
        if (!v[k])
            continue;
        memcpy(p, v[k], len[k]);
        p[len[k]] = '\0';
        *out[k] = p;
        p += len[k] + 1;
    }
    s->view.m.kind = (enum wb_member_kind)r[0];
    s->view.op = (enum wb_mset_op)r[1];
    return &s->view;
}

const struct wb_mset_entry *wb_mset_get(const wb_mset_t *s, enum wb_member_kind kind,
                                        const char *id)
{
    struct probe pr;
    size_t slot;

    probe_str(&pr, kind, id);
    slot = find_slot(s, &pr);
    return s->slots[slot] ? view(s, s->slots[slot] - 1) : NULL;
}

size_t wb_mset_count(const wb_mset_t *s)
{
    return s->n;
}

const struct wb_mset_entry *wb_mset_next(const wb_mset_t *s, size_t *pos)
{
    if (*pos >= s->n)
        return NULL;
    return view(s, (*pos)++);
}

void wb_mset_merge(wb_mset_t *dst, const wb_mset_t *src)
{
    size_t i;

    for (i = 0; i < src->n; i++) {
        const unsigned char *r = src->buf + src->off[i];
        size_t sz = rec_size(r), at = dst->len;

        reserve(dst, sz);
        memcpy(dst->buf + at, r, sz);
        dst->len += sz;
        put_tail(dst, at);
    }
}
