/*
 * wb_ckpt: the producer checkpoint and its JSON records in topic.state (read back by
 * wb_state.h, which also reads the operator commands of wb_command.h).
 *
 * Records (keys are "<tenant>/<name>", values JSON, written in the round's transaction):
 *   <tenant>/checkpoint    {"v":1, "round":N, "deltaLink":"..."|null,
 *                           "usersDeltaLink":"..."|null, "resync":false,
 *                           "scope":"<fingerprint>", "commandOffset":-1, "parts":P,
 *                           "inScopeCount":n, "inScope":[ids], "stagedDeletes":[ids],
 *                           "stagedUnscoped":[ids], "nested":["parent/child",...]}
 *   <tenant>/checkpoint/K  (1 <= K < P, only for large tenants) {"v":1, "round":N, "part":K,
 *                           "inScope":[...], "stagedDeletes":[...], "stagedUnscoped":[...],
 *                           "nested":[...]}:
 *                           the id lists continue here, at most WB_CKPT_IDS_PER_RECORD ids a
 *                           record, so that no record nears Kafka's 1 MB message limit.
 *   <tenant>/command       written by writebackctl, read by the producer, applied once each
 *                           (the checkpoint remembers the offset of the last one applied);
 *                           the codec is common/wb_command.h.
 * A null value (tombstone) for <tenant>/checkpoint resets the producer to a first full sync.
 * usersDeltaLink is absent from checkpoints written before it was kept: it then reads as null.
 */
#ifndef WB_CKPT_H
#define WB_CKPT_H

#include "wb_err.h"
#include "wb_idmap.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WB_CKPT_IDS_PER_RECORD 10000

/* Values of the staged map. */
#define WB_CKPT_STAGED_DELETE   ((void *)1)
#define WB_CKPT_STAGED_UNSCOPED ((void *)2)

struct wb_ckpt {
    uint64_t round;         /* rounds committed so far */
    char *delta_link;       /* groups deltaLink; NULL: the next round is a full sync */
    char *users_link;       /* users deltaLink of the same round; NULL: none (an older
                             * checkpoint, or dropped as dead): the next round is full */
    bool resync;            /* a full resync is due */
    char *scope;            /* scope fingerprint the in-scope set was computed with */
    int64_t command_offset; /* offset of the last applied command record, -1: none */
    wb_idmap_t *in_scope;   /* set of in-scope group ids */
    wb_idmap_t *staged;     /* id -> WB_CKPT_STAGED_* */
    wb_idmap_t *nested;     /* in-scope parent id -> struct wb_kids *: its nested groups (in
                             * scope or not), so a child entering scope reaches its parents */
};

/* The group members of one parent group. */
struct wb_kids {
    size_t n, cap;
    struct wb_idkey *ids;
};

/* Nested-group edges. */
void wb_ckpt_nested_add(struct wb_ckpt *c, const struct wb_idkey *parent,
                        const struct wb_idkey *child);
void wb_ckpt_nested_del(struct wb_ckpt *c, const struct wb_idkey *parent,
                        const struct wb_idkey *child);
void wb_ckpt_nested_clear(struct wb_ckpt *c, const struct wb_idkey *parent);
/* A deep copy of src's edges into dst's (dst's are dropped first). */
void wb_ckpt_nested_copy(struct wb_ckpt *dst, const struct wb_ckpt *src);

/* Empty checkpoint (first run). */
void wb_ckpt_init(struct wb_ckpt *c);
void wb_ckpt_free(struct wb_ckpt *c);

/* Encodes c as n records (header first); keys and values are caller-owned arrays of
 * caller-owned strings (free each, then the arrays). ids_per_record 0 means the default. */
size_t wb_ckpt_encode(const struct wb_ckpt *c, const char *tenant, size_t ids_per_record,
                      char ***keys, char ***values);

/* Decodes a header record into *c (which is reinitialised); *parts receives P. WB_ERR_INVALID
 * with reason on anything malformed (c is then empty). */
wb_err_t wb_ckpt_decode(struct wb_ckpt *c, const char *json, size_t len, unsigned *parts,
                        char *reason, size_t reasonsz);

/* Adds part K (1 <= K < P) to *c; the part must carry the header's round. */
wb_err_t wb_ckpt_decode_part(struct wb_ckpt *c, unsigned k, const char *json, size_t len,
                             char *reason, size_t reasonsz);

#endif
