/*
 * wb_idmap: a hash map keyed by Entra object ids (GUIDs) held as their 16 binary bytes, with
 * a pointer-sized value. It holds the in-scope id set, the user identity map and the per-round
 * group table of the producer, so it must stay compact at a million entries: open addressing,
 * linear probing, backward-shift deletion, no per-entry allocation. One thread at a time.
 */
#ifndef WB_IDMAP_H
#define WB_IDMAP_H

#include "wb_idkey.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wb_idmap_s wb_idmap_t;

/* A new empty map. Never NULL. */
wb_idmap_t *wb_idmap_new(void);

/* Frees the map; free_val (may be NULL) is called on every non-NULL value first. NULL is a
 * no-op. */
void wb_idmap_destroy(wb_idmap_t *m, void (*free_val)(void *));

/* Number of entries. */
size_t wb_idmap_count(const wb_idmap_t *m);

/* The value slot of key, or NULL when absent. The slot is valid until the next put or del. */
void **wb_idmap_get(const wb_idmap_t *m, const struct wb_idkey *key);

/* The value slot of key, creating the entry (value NULL) when absent; *created (may be NULL)
 * says which. Valid until the next put or del. */
void **wb_idmap_put(wb_idmap_t *m, const struct wb_idkey *key, bool *created);

/* Removes key; returns its value (NULL when absent), which the caller now owns. */
void *wb_idmap_del(wb_idmap_t *m, const struct wb_idkey *key);

/* Iteration: start with *pos = 0; each call fills *key and *val and returns true, false at the
 * end. The map must not change during an iteration. key and val may be NULL. */
bool wb_idmap_next(const wb_idmap_t *m, size_t *pos, struct wb_idkey *key, void **val);

/* Set helpers: a present entry has a non-NULL value (WB_IDMAP_PRESENT when no value matters). */
#define WB_IDMAP_PRESENT ((void *)1)
bool wb_idmap_has(const wb_idmap_t *m, const struct wb_idkey *key);
void wb_idmap_add(wb_idmap_t *m, const struct wb_idkey *key);

/* Every key, sorted by their string form, as a caller-owned array of *n entries (free()). */
struct wb_idkey *wb_idmap_keys_sorted(const wb_idmap_t *m, size_t *n);

#endif
