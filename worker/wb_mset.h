/*
 * wb_mset: a hash set of member references keyed by kind and Entra id ("u:<id>", "g:<id>"),
 * each with a mark (add or remove). The worker folds member deltas and snapshot chunks into
 * these sets; the last operation on a member wins. Single-threaded; entries own their copies.
 */
#ifndef WB_MSET_H
#define WB_MSET_H

#include "wb_event.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct wb_mset_s wb_mset_t;

enum wb_mset_op {
    WB_MSET_ADD = 1,
    WB_MSET_REMOVE = 2,
};

/* One entry: a caller-visible copy of the member and its mark. Owned by the set. */
struct wb_mset_entry {
    struct wb_member m;
    enum wb_mset_op op;
};

/* A new empty set. Never NULL. */
wb_mset_t *wb_mset_new(void);
/* Frees the set and its entries. NULL does nothing. */
void wb_mset_destroy(wb_mset_t *s);

/* Marks member m (borrowed; copied when new) with op, replacing an earlier mark. A member
 * with the same kind and id but a new sid/guid takes the new identity. */
void wb_mset_put(wb_mset_t *s, const struct wb_member *m, enum wb_mset_op op);

/* The entry for kind + Entra id, or NULL. */
const struct wb_mset_entry *wb_mset_get(const wb_mset_t *s, enum wb_member_kind kind,
                                        const char *id);

/* Number of entries (with either mark). */
size_t wb_mset_count(const wb_mset_t *s);

/* Iteration: *pos starts at 0; returns the next entry or NULL at the end. Entries come out in
 * insertion order. The set must not change during an iteration. */
const struct wb_mset_entry *wb_mset_next(const wb_mset_t *s, size_t *pos);

/* Copies every entry of src into dst with its mark (dst's marks are replaced). */
void wb_mset_merge(wb_mset_t *dst, const wb_mset_t *src);

/* Removes every entry. */
void wb_mset_clear(wb_mset_t *s);

#endif
