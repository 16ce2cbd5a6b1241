/*
 * wb_part: the worker's assigned partitions, one struct each: what was stored for it, until
 * when a dependency retry keeps it paused, its groups' dependency retries, and where and why it
 * stopped in the current batch; plus the consumer calls made per partition (pause, seek,
 * resume, store offsets). Called from the worker's one thread only (the rebalance callback
 * runs inside its rd_kafka_consumer_poll).
 */
#ifndef WB_PART_H
#define WB_PART_H

#include "wb_backoff.h"
#include "wb_kafka.h"
#include "wb_plan.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wb_parts_s wb_parts_t;

/* Why a partition stopped within a batch, by rank: a higher one wins over a lower one at any
 * offset; among YIELD and DEPENDENCY the stop at the lowest offset decides. */
enum wb_part_why {
    WB_PART_RUNNING = 0, /* not stopped: the whole batch was applied or dead-lettered */
    WB_PART_YIELD,       /* the batch time ran out: the rest comes in the next batch */
    WB_PART_DEPENDENCY,  /* a group's dependency is missing: paused for a backoff */
    WB_PART_TRANSIENT,   /* AD unavailable or busy, or a dead letter not accepted: paused until
                            AD is reachable again (every partition then pauses) */
};

/* A dependency retry in progress: the group plan starting at offset. It is given up when both
 * worker.max_retries attempts and worker.dependency_timeout_ms since first_ms are spent. */
struct wb_part_retry {
    int64_t offset;
    unsigned attempts;
    int64_t first_ms;     /* monotonic time of the first failure */
    struct wb_backoff bo; /* delays of this retry */
};

struct wb_part {
    int32_t partition;
    /* Last offset stored by this worker (-1: none yet). clean: nothing pending behind it (no
     * held snapshot, no failed group, no stop), so the consumer position may be stored
     * instead, which also covers transaction markers after the last message (lag reaches 0). */
    int64_t stored;
    bool clean;
    int64_t resume_ms; /* paused for a dependency until then (monotonic ms); 0: not */
    struct wb_part_retry *retries;
    size_t nretries;
    /* The current batch (reset by wb_part_batch_begin). */
    bool in_batch;
    enum wb_part_why why;
    int64_t stop;      /* events at or after stop are left for later; INT64_MAX: none */
    int64_t last;      /* highest offset in the batch */
    int64_t dep_at;    /* lowest offset of a dependency stop; INT64_MAX: none */
    int64_t dep_delay; /* the pause of the retry at dep_at in ms */
};

struct wb_part_cfg {
    rd_kafka_t *consumer; /* borrowed: outlives the table */
    const char *topic;    /* borrowed */
    unsigned max_retries;
    int64_t dep_timeout_ms;
    int64_t backoff_ms, backoff_max_ms; /* of dependency retries */
};

/* An empty table (cfg copied). Never NULL. */
wb_parts_t *wb_part_new(const struct wb_part_cfg *cfg);
void wb_part_destroy(wb_parts_t *pt);

/* The partition's struct, created (nothing stored, clean) when create and absent, else NULL.
 * Valid until the partition is revoked. */
struct wb_part *wb_part_get(wb_parts_t *pt, int32_t partition, bool create);
/* A partition assigned: starts afresh. */
void wb_part_assign(wb_parts_t *pt, int32_t partition);
/* A partition revoked or lost: forgets it (retries and pause included). */
void wb_part_revoke(wb_parts_t *pt, int32_t partition);

/* The retry of the group plan starting at offset, created (first failure now) when create and
 * absent, else NULL. */
struct wb_part_retry *wb_part_retry(wb_parts_t *pt, struct wb_part *p, int64_t offset, bool create);
/* Whether rt (NULL: no retry yet) has spent both its attempts and its time. */
bool wb_part_retry_spent(const wb_parts_t *pt, const struct wb_part_retry *rt);
/* Delay in ms before the next attempt of rt: its backoff, but not past the deadline when the
 * attempts are already spent (the last attempt then comes on time). At least 1. */
int64_t wb_part_retry_delay(const wb_parts_t *pt, struct wb_part_retry *rt);
/* Forgets the retry at offset (-1: every retry of p). */
void wb_part_retry_clear(struct wb_part *p, int64_t offset);

/* Batch bookkeeping: begin resets every partition's stop; mark adds one message's offset;
 * stop records a stop at offset for why (see enum wb_part_why for which one wins). */
void wb_part_batch_begin(wb_parts_t *pt);
struct wb_part *wb_part_batch_mark(wb_parts_t *pt, int32_t partition, int64_t offset);
void wb_part_stop(struct wb_part *p, int64_t offset, enum wb_part_why why);
/* After a batch: stores for every partition in it the offset up to its stop (past its last
 * message when none), never past a snapshot ss still holds, drops the retries below and
 * decides whether it is clean. */
void wb_part_batch_store(wb_parts_t *pt, const wb_snapstore_t *ss);

/* The partitions known, for i in [0, wb_part_count) (in no particular order). */
size_t wb_part_count(const wb_parts_t *pt);
struct wb_part *wb_part_at(wb_parts_t *pt, size_t i);

/* Stores the consumer position of every clean partition whose position moved past what was
 * stored: only transaction markers (or nothing) lie in between, since every message handed to
 * the worker was applied or dead-lettered before this is called. */
void wb_part_store_positions(wb_parts_t *pt);

/* Pauses the partition and seeks it back to seek_to; resume_ms > 0: resumed by
 * wb_part_resume_due from then on (a dependency backoff), else only by wb_part_resume_all. */
void wb_part_pause(wb_parts_t *pt, int32_t partition, int64_t seek_to, int64_t resume_ms);
/* Fetches partition again from offset (asynchronous; what was fetched is dropped). */
void wb_part_seek(wb_parts_t *pt, int32_t partition, int64_t offset);
/* Resumes the partitions whose dependency backoff ended by now (monotonic ms). */
void wb_part_resume_due(wb_parts_t *pt, int64_t now);
/* Pauses everything assigned (AD unavailable). */
void wb_part_pause_all(wb_parts_t *pt);
/* Resumes everything assigned except the partitions still in a dependency backoff. */
void wb_part_resume_all(wb_parts_t *pt);

#endif
