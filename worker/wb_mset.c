/*
 * wb_mset: member sets. Entries live in an array (insertion order, cheap iteration); an
 * open-addressing table of indexes finds them by kind + id. Entra ids are GUIDs, compared
 * case-insensitively because the decoder accepts either case.
 */
#include "wb_mset.h"
#include "wb_mem.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct wb_mset_s {
    struct wb_mset_entry *ents;
    size_t n, cap;
    size_t *slots; /* index + 1 into ents; 0 = empty */
    size_t nslots; /* power of two */
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

wb_mset_t *wb_mset_new(void)
{
    wb_mset_t *s = wb_calloc(1, sizeof(*s));

    s->nslots = 16;
    s->slots = wb_calloc(s->nslots, sizeof(*s->slots));
    return s;
}

static void member_free(struct wb_member *m)
{
    free(m->id);
    free(m->sid);
    free(m->guid);
    memset(m, 0, sizeof(*m));
}

void wb_mset_clear(wb_mset_t *s)
{
    size_t i;

    for (i = 0; i < s->n; i++)
        member_free(&s->ents[i].m);
    s->n = 0;
    memset(s->slots, 0, s->nslots * sizeof(*s->slots));
}

void wb_mset_destroy(wb_mset_t *s)
{
    if (!s)
        return;
    wb_mset_clear(s);
    free(s->ents);
    free(s->slots);
    free(s);
}

/* Slot holding kind + id, or the empty slot where it would go. */
static size_t find_slot(const wb_mset_t *s, enum wb_member_kind kind, const char *id)
{
    size_t mask = s->nslots - 1;
    size_t i = (size_t)hash_key(kind, id) & mask;

    for (;;) {
        size_t v = s->slots[i];

        if (v == 0)
            return i;
        if (s->ents[v - 1].m.kind == kind && strcasecmp(s->ents[v - 1].m.id, id) == 0)
            return i;
        i = (i + 1) & mask;
    }
}

static void grow(wb_mset_t *s)
{
    size_t i;

    free(s->slots);
    s->nslots *= 2;
    s->slots = wb_calloc(s->nslots, sizeof(*s->slots));
    for (i = 0; i < s->n; i++)
        s->slots[find_slot(s, s->ents[i].m.kind, s->ents[i].m.id)] = i + 1;
}

static char *dup_or_null(const char *v)
{
    return v ? wb_strdup(v) : NULL;
}

void wb_mset_put(wb_mset_t *s, const struct wb_member *m, enum wb_mset_op op)
{
    size_t slot = find_slot(s, m->kind, m->id);
    struct wb_mset_entry *e;

    if (s->slots[slot]) {
        e = &s->ents[s->slots[slot] - 1];
        e->op = op;
        /* A later event may carry a resolved identity the earlier one lacked. */
        if (m->sid || m->guid) {
            free(e->m.sid);
            free(e->m.guid);
            e->m.sid = dup_or_null(m->sid);
            e->m.guid = dup_or_null(m->guid);
        }
        return;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->ents = wb_realloc(s->ents, s->cap * sizeof(*s->ents));
    }
    e = &s->ents[s->n];
    e->m.kind = m->kind;
    e->m.id = wb_strdup(m->id);
    e->m.sid = dup_or_null(m->sid);
    e->m.guid = dup_or_null(m->guid);
    e->op = op;
    s->slots[slot] = ++s->n;
    if (s->n * 2 > s->nslots)
        grow(s);
}

const struct wb_mset_entry *wb_mset_get(const wb_mset_t *s, enum wb_member_kind kind,
                                        const char *id)
{
    size_t slot = find_slot(s, kind, id);

    return s->slots[slot] ? &s->ents[s->slots[slot] - 1] : NULL;
}

size_t wb_mset_count(const wb_mset_t *s)
{
    return s->n;
}

const struct wb_mset_entry *wb_mset_next(const wb_mset_t *s, size_t *pos)
{
    if (*pos >= s->n)
        return NULL;
    return &s->ents[(*pos)++];
}

void wb_mset_merge(wb_mset_t *dst, const wb_mset_t *src)
{
    size_t i;

    for (i = 0; i < src->n; i++)
        wb_mset_put(dst, &src->ents[i].m, src->ents[i].op);
}
