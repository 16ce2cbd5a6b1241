/*
 * wb_plan: coalescing. The events of one poll batch are grouped by Entra group (in partition
 * order) and folded into steps: one SYNC step per run of upsert/members/snapshot events (last
 * attributes win, member changes netted, a completed snapshot turns the step exact), and one
 * DELETE or UNSCOPED step per delete or unscoped event; either takes the SYNC step just
 * before it over (moot once the group is deleted; see delete_step in wb_plan.c). A snapshot
 * spanning batches is kept in a wb_snapstore until its last chunk arrives; its first chunk's offset
 * holds the partition.
 */
#ifndef WB_PLAN_H
#define WB_PLAN_H

#include "wb_event.h"
#include "wb_mset.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wb_snapstore_s wb_snapstore_t;
typedef struct wb_plan_s wb_plan_t;

/* One input event of a batch. ev NULL: not decodable (the worker dead-letters it). */
struct wb_plan_in {
    int32_t partition;
    int64_t offset;
    const struct wb_event *ev; /* borrowed until wb_plan_destroy */
};

enum wb_step_kind {
    WB_STEP_SYNC = 1, /* create/update/rename + member changes */
    WB_STEP_DELETE,   /* group.delete (and the moot SYNC step before it, folded in) */
    WB_STEP_UNSCOPED, /* group.unscoped; delta non-NULL: the SYNC step before it, folded in,
                       * written only when worker.out_of_scope=keep */
};

struct wb_step {
    enum wb_step_kind kind;
    /* SYNC: attributes of the last upsert in the run (borrowed from its event), or NULL when
     * the run has only member events (the group must then exist). */
    const struct wb_group_attrs *attrs;
    /* SYNC: net member changes to send with permissive modify. Never NULL for SYNC. */
    wb_mset_t *delta;
    /* SYNC: when a snapshot completed in this run, the exact membership wanted (ADD entries;
     * REMOVE entries are later removals); the apply removes everything else. Else NULL. */
    wb_mset_t *desired;
    /* SYNC: id of the snapshot this step completes (release it from the store once the step
     * is done), or NULL. */
    char *snapshot;
    /* SYNC: the last chunk arrived but earlier chunks are missing: adds only, no removal. */
    bool snapshot_incomplete;
    size_t *events; /* indexes into the batch input, in order */
    size_t nevents;
};

/* The steps of one group within the batch. */
struct wb_gplan {
    char *group; /* Entra objectId (lower case) */
    int32_t partition;
    int64_t first_offset; /* offset of its first event in this batch */
    size_t first;         /* index of that event in the input */
    struct wb_step *steps;
    size_t nsteps;
    size_t done; /* steps already applied (the worker's progress through this batch) */
};

/* Store of snapshots in flight, by group. Never NULL. */
wb_snapstore_t *wb_plan_snapstore_new(void);
void wb_plan_snapstore_destroy(wb_snapstore_t *ss);
/* Forgets the snapshot of group if its id is snapshot (NULL: whatever id). */
void wb_plan_snapstore_release(wb_snapstore_t *ss, const char *group, const char *snapshot);
/* Forgets every snapshot read from partition (a revoked or lost partition). */
void wb_plan_snapstore_drop_partition(wb_snapstore_t *ss, int32_t partition);
/* Lowest first-chunk offset of the snapshots in flight on partition, or -1 for none: the
 * partition's stored offset must not pass it. */
int64_t wb_plan_snapstore_hold(const wb_snapstore_t *ss, int32_t partition);
/* Snapshots in flight (all partitions). */
size_t wb_plan_snapstore_count(const wb_snapstore_t *ss);

/*
 * Builds the plan of a batch. in[0..n) must be in consumption order (per partition ascending
 * offsets). Snapshot chunks are recorded in ss (idempotently: a replayed chunk changes
 * nothing). Never NULL.
 */
wb_plan_t *wb_plan_build(const struct wb_plan_in *in, size_t n, wb_snapstore_t *ss);
/* As wb_plan_build, but the events must be writable: each one's user-only member arrays
 * (add, remove, members) are freed and emptied once folded into the plan, which keeps its own
 * copies, so that a batch does not hold a big snapshot twice. Arrays naming a nested group are
 * kept (the worker matches them against dead members). */
wb_plan_t *wb_plan_build_drop(const struct wb_plan_in *in, size_t n, wb_snapstore_t *ss);
/* Group plans in order of their first event. */
size_t wb_plan_count(const wb_plan_t *p);
struct wb_gplan *wb_plan_get(wb_plan_t *p, size_t i);
void wb_plan_destroy(wb_plan_t *p);

#endif
