/*
 * wb_mset: a hash set of member references keyed by kind and Entra id ("u:<id>", "g:<id>"),
 * each with a mark (add or remove). The worker folds member deltas and snapshot chunks into
 * these sets; the last operation on a member wins. Single-threaded. Entries are stored packed
 * (GUIDs and SIDs in binary when that round-trips to the same string) so that a set of 60,000
 * members costs about 70 bytes each; lookups hand out a decoded view of one entry.
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

/* One entry as handed out by wb_mset_get and wb_mset_next: a view owned by the set, valid
 * until the next wb_mset_get, wb_mset_next, wb_mset_put or wb_mset_clear on the same set (other
 * sets have their own view). Copy what must outlive that. */
struct wb_mset_entry {
    struct wb_member m;
    enum wb_mset_op op;
};

/* A new empty set. Never NULL. */
wb_mset_t *wb_mset_new(void);
/* Frees the set and its entries. NULL does nothing. */
void wb_mset_destroy(wb_mset_t *s);

/* Marks member m (borrowed; copied when new) with op, replacing an earlier mark. A member
 * with the same kind and id but a new sid/guid takes the new identity. m may be a view of this
 * set or another. */
void wb_mset_put(wb_mset_t *s, const struct wb_member *m, enum wb_mset_op op);

/* The entry for kind + Entra id (compared case-insensitively), or NULL. The view is valid as
 * said above. */
const struct wb_mset_entry *wb_mset_get(const wb_mset_t *s, enum wb_member_kind kind,
                                        const char *id);

/* Number of entries (with either mark). */
size_t wb_mset_count(const wb_mset_t *s);

/* Iteration: *pos starts at 0; returns the next entry or NULL at the end. Entries come out in
 * insertion order. The set must not change during an iteration (wb_mset_get on it is fine, but
 * it replaces the view). */
const struct wb_mset_entry *wb_mset_next(const wb_mset_t *s, size_t *pos);

/* Copies every entry of src into dst with its mark (dst's marks are replaced). dst != src. */
void wb_mset_merge(wb_mset_t *dst, const wb_mset_t *src);

/* Removes every entry (memory is kept for reuse). */
void wb_mset_clear(wb_mset_t *s);

#endif
