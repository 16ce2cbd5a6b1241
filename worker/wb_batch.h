/*
 * wb_batch: one batch of the worker: collects messages from the consumer (what the last batch
 * left first), decodes them, plans them (wb_plan), applies each group's steps (wb_apply),
 * dead-letters what cannot be applied (wb_dlq), records where and why each partition stopped
 * and stores offsets up to there (wb_part). Called from the worker's one thread only.
 */
#ifndef WB_BATCH_H
#define WB_BATCH_H

#include "wb_apply.h"
#include "wb_err.h"
#include "wb_kafka.h"
#include "wb_part.h"
#include "wb_plan.h"
#include "wb_wmetrics.h"

#include <stddef.h>
#include <stdint.h>

typedef struct wb_batch_s wb_batch_t;

/* Everything borrowed: it must outlive the batch. */
struct wb_batch_cfg {
    rd_kafka_t *consumer; /* the messages' source */
    rd_kafka_t *producer; /* dead letters */
    wb_apply_t *ap;
    wb_snapstore_t *ss;
    wb_parts_t *pt;
    struct wb_wmetrics *wm;
    const char *dlq_topic, *group_id, *worker_id; /* topic.dlq; dead-letter headers */
    size_t batch_max;                             /* worker.batch_max_messages, at least 1 */
    int64_t batch_time_ms;                        /* worker.batch_time_ms */
    /* Called after each step of a group that wrote (or found nothing to write), or NULL. */
    void (*written)(void *ctx, const char *group, int32_t partition);
    void *written_ctx;
};

/* Never NULL. */
wb_batch_t *wb_batch_new(const struct wb_batch_cfg *cfg);
/* Frees the batch and the messages it carries (so before the consumer goes). NULL: nothing. */
void wb_batch_destroy(wb_batch_t *b);

/*
 * Runs one batch: collects up to batch_max messages (waiting up to 200 ms for the first),
 * applies them, stores offsets, pauses or seeks the partitions that stopped and keeps the
 * messages of those whose batch time ran out for the next batch. Returns WB_OK, or
 * WB_ERR_TRANSIENT when a partition stopped because AD was unavailable or busy or a dead
 * letter was not accepted (the caller pauses everything and retries AD), or WB_ERR_FATAL
 * (the consumer or AD failed for good: the process exits).
 */
wb_err_t wb_batch_run(wb_batch_t *b);

/* A partition was revoked (from the rebalance callback): its carried messages are dropped and,
 * when it happens while collecting, the messages already taken from it are not applied (its
 * new owner fetches them from the committed offset; applying them here too could undo its
 * newer writes). */
void wb_batch_revoke(wb_batch_t *b, int32_t partition);

/* Drops every carried message (not applied: its offset is not stored). */
void wb_batch_forget(wb_batch_t *b);

#endif
