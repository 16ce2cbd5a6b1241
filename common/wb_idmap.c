/*
 * wb_idmap: open-addressing hash map of GUID keys. GUIDs are random (v4) in their first bytes,
 * so the key's first 8 bytes mixed once are a good hash. Deletion shifts later entries back
 * instead of leaving tombstones, so lookups never degrade after many removals.
 */
#include "wb_idmap.h"

#include "wb_mem.h"

#include <stdlib.h>
#include <string.h>

struct slot {
    struct wb_idkey key;
    void *val;
    unsigned char used;
};

struct wb_idmap_s {
    struct slot *slots;
    size_t cap; /* power of two */
    size_t count;
};

static uint64_t hash(const struct wb_idkey *k)
{
    uint64_t h;

    memcpy(&h, k->b, 8);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

wb_idmap_t *wb_idmap_new(void)
{
    wb_idmap_t *m = wb_calloc(1, sizeof(*m));

    m->cap = 16;
    m->slots = wb_calloc(m->cap, sizeof(*m->slots));
    return m;
}

void wb_idmap_destroy(wb_idmap_t *m, void (*free_val)(void *))
{
    size_t i;

    if (!m)
        return;
    if (free_val)
        for (i = 0; i < m->cap; i++)
            if (m->slots[i].used && m->slots[i].val)
                free_val(m->slots[i].val);
    free(m->slots);
    free(m);
}

size_t wb_idmap_count(const wb_idmap_t *m)
{
    return m->count;
}

static size_t find(const wb_idmap_t *m, const struct wb_idkey *key, bool *found)
{
    size_t mask = m->cap - 1, i = (size_t)hash(key) & mask;

    while (m->slots[i].used) {
        if (memcmp(m->slots[i].key.b, key->b, 16) == 0) {
            *found = true;
            return i;
        }
        i = (i + 1) & mask;
    }
    *found = false;
    return i;
}

static void grow(wb_idmap_t *m)
{
    struct slot *old = m->slots;
    size_t oldcap = m->cap, i;

    m->cap *= 2;
    m->slots = wb_calloc(m->cap, sizeof(*m->slots));
    for (i = 0; i < oldcap; i++) {
        bool found;
        size_t j;

        if (!old[i].used)
            continue;
        j = find(m, &old[i].key, &found);
        m->slots[j] = old[i];
    }
    free(old);
}

void **wb_idmap_get(const wb_idmap_t *m, const struct wb_idkey *key)
{
    bool found;
    size_t i = find(m, key, &found);

    return found ? &m->slots[i].val : NULL;
}

void **wb_idmap_put(wb_idmap_t *m, const struct wb_idkey *key, bool *created)
{
    bool found;
    size_t i;

    if ((m->count + 1) * 4 > m->cap * 3)
        grow(m);
    i = find(m, key, &found);
    if (!found) {
        m->slots[i].used = 1;
        m->slots[i].key = *key;
        m->slots[i].val = NULL;
        m->count++;
    }
    if (created)
        *created = !found;
    return &m->slots[i].val;
}

void *wb_idmap_del(wb_idmap_t *m, const struct wb_idkey *key)
{
    size_t mask = m->cap - 1, i, j;
    bool found;
    void *val;

    i = find(m, key, &found);
    if (!found)
        return NULL;
    val = m->slots[i].val;
    m->slots[i].used = 0;
    m->count--;
    /* Backward shift: move later entries of the probe run into the hole when their home
     * slot does not lie cyclically in (hole, j]. */
    j = i;
    for (;;) {
        size_t home;

        j = (j + 1) & mask;
        if (!m->slots[j].used)
            break;
        home = (size_t)hash(&m->slots[j].key) & mask;
        if (i <= j ? (home > i && home <= j) : (home > i || home <= j))
            continue;
        m->slots[i] = m->slots[j];
        m->slots[j].used = 0;
        i = j;
    }
    return val;
}

bool wb_idmap_next(const wb_idmap_t *m, size_t *pos, struct wb_idkey *key, void **val)
{
    while (*pos < m->cap) {
        size_t i = (*pos)++;

        if (m->slots[i].used) {
            if (key)
                *key = m->slots[i].key;
            if (val)
                *val = m->slots[i].val;
            return true;
        }
    }
    return false;
}

bool wb_idmap_has(const wb_idmap_t *m, const struct wb_idkey *key)
{
    void **v = wb_idmap_get(m, key);

    return v && *v;
}

void wb_idmap_add(wb_idmap_t *m, const struct wb_idkey *key)
{
    void **v = wb_idmap_put(m, key, NULL);

    if (!*v)
        *v = WB_IDMAP_PRESENT;
}

struct wb_idkey *wb_idmap_keys_sorted(const wb_idmap_t *m, size_t *n)
{
    struct wb_idkey *keys = wb_malloc((m->count ? m->count : 1) * sizeof(*keys));
    size_t pos = 0, k = 0;

    while (wb_idmap_next(m, &pos, &keys[k], NULL))
        k++;
    qsort(keys, k, sizeof(*keys), wb_idkey_cmp);
    *n = k;
    return keys;
}
