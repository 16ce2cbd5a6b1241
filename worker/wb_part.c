/*
 * wb_part: the worker's per-partition state (see wb_part.h). A worker holds tens of
 * partitions at most, so the table is a plain array searched linearly; each struct is
 * allocated on its own so that a pointer stays valid while the partition is assigned.
 */
#include "wb_part.h"
#include "wb_log.h"
#include "wb_mem.h"
#include "wb_time.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FAC "WORKER"

struct wb_parts_s {
    struct wb_part_cfg cfg;
    struct wb_part **parts;
    size_t nparts;
};

wb_parts_t *wb_part_new(const struct wb_part_cfg *cfg)
{
    wb_parts_t *pt = wb_calloc(1, sizeof(*pt));

    pt->cfg = *cfg;
    return pt;
}

static void part_free(struct wb_part *p)
{
    free(p->retries);
    free(p);
}

void wb_part_destroy(wb_parts_t *pt)
{
    size_t i;

    if (!pt)
        return;
    for (i = 0; i < pt->nparts; i++)
        part_free(pt->parts[i]);
    free(pt->parts);
    free(pt);
}

struct wb_part *wb_part_get(wb_parts_t *pt, int32_t partition, bool create)
{
    struct wb_part *p;
    size_t i;

    for (i = 0; i < pt->nparts; i++)
        if (pt->parts[i]->partition == partition)
            return pt->parts[i];
    if (!create)
        return NULL;
    p = wb_calloc(1, sizeof(*p));
    p->partition = partition;
    p->stored = -1;
    p->clean = true;
    p->stop = INT64_MAX;
    p->last = -1;
    p->dep_at = INT64_MAX;
    pt->parts = wb_realloc(pt->parts, (pt->nparts + 1) * sizeof(*pt->parts));
    pt->parts[pt->nparts++] = p;
    return p;
}

void wb_part_assign(wb_parts_t *pt, int32_t partition)
{
    struct wb_part *p = wb_part_get(pt, partition, true);

    /* Nothing stored by this worker yet; retries and a pause of an earlier assignment, if
     * any survived a revoke, stay. */
    p->stored = -1;
    p->clean = true;
}

void wb_part_revoke(wb_parts_t *pt, int32_t partition)
{
    size_t i;

    for (i = 0; i < pt->nparts; i++)
        if (pt->parts[i]->partition == partition) {
            part_free(pt->parts[i]);
            pt->parts[i--] = pt->parts[--pt->nparts];
        }
}

size_t wb_part_count(const wb_parts_t *pt)
{
    return pt->nparts;
}

struct wb_part *wb_part_at(wb_parts_t *pt, size_t i)
{
    return i < pt->nparts ? pt->parts[i] : NULL;
}

/* --- dependency retries --- */

struct wb_part_retry *wb_part_retry(wb_parts_t *pt, struct wb_part *p, int64_t offset, bool create)
{
    struct wb_part_retry *rt;
    size_t i;

    for (i = 0; i < p->nretries; i++)
        if (p->retries[i].offset == offset)
            return &p->retries[i];
    if (!create)
        return NULL;
    p->retries = wb_realloc(p->retries, (p->nretries + 1) * sizeof(*p->retries));
    rt = &p->retries[p->nretries++];
    *rt = (struct wb_part_retry){offset, 0, wb_time_mono_ms(), {0}};
    wb_backoff_init(&rt->bo, (uint64_t)pt->cfg.backoff_ms, (uint64_t)pt->cfg.backoff_max_ms,
                    WB_BACKOFF_FULL);
    return rt;
}

bool wb_part_retry_spent(const wb_parts_t *pt, const struct wb_part_retry *rt)
{
    unsigned attempts = rt ? rt->attempts : 0;
    int64_t elapsed = rt ? wb_time_mono_ms() - rt->first_ms : 0;

    return attempts >= pt->cfg.max_retries && elapsed >= pt->cfg.dep_timeout_ms;
}

int64_t wb_part_retry_delay(const wb_parts_t *pt, struct wb_part_retry *rt)
{
    int64_t delay = (int64_t)wb_backoff_next(&rt->bo);
    int64_t left = rt->first_ms + pt->cfg.dep_timeout_ms - wb_time_mono_ms();

    if (rt->attempts >= pt->cfg.max_retries && left > 0 && left < delay)
        delay = left;
    return delay < 1 ? 1 : delay;
}

void wb_part_retry_clear(struct wb_part *p, int64_t offset)
{
    size_t i;

    for (i = 0; i < p->nretries; i++)
        if (offset < 0 || p->retries[i].offset == offset)
            p->retries[i--] = p->retries[--p->nretries];
}

/* Drops the retries below offset (stored past: they cannot come again). */
static void retry_drop_below(struct wb_part *p, int64_t offset)
{
    size_t i;

    for (i = 0; i < p->nretries; i++)
        if (p->retries[i].offset < offset)
            p->retries[i--] = p->retries[--p->nretries];
}

/* --- one batch --- */

void wb_part_batch_begin(wb_parts_t *pt)
{
    size_t i;

    for (i = 0; i < pt->nparts; i++) {
        struct wb_part *p = pt->parts[i];

        p->in_batch = false;
        p->why = WB_PART_RUNNING;
        p->stop = INT64_MAX;
        p->last = -1;
        p->dep_at = INT64_MAX;
        p->dep_delay = 0;
    }
}

struct wb_part *wb_part_batch_mark(wb_parts_t *pt, int32_t partition, int64_t offset)
{
    struct wb_part *p = wb_part_get(pt, partition, true);

    p->in_batch = true;
    if (offset > p->last)
        p->last = offset;
    return p;
}

void wb_part_stop(struct wb_part *p, int64_t offset, enum wb_part_why why)
{
    if (why == WB_PART_TRANSIENT)
        p->why = WB_PART_TRANSIENT;
    if (offset >= p->stop)
        return;
    p->stop = offset;
    if (p->why != WB_PART_TRANSIENT)
        p->why = why;
}

void wb_part_batch_store(wb_parts_t *pt, const wb_snapstore_t *ss)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)pt->nparts);
    size_t i;

    for (i = 0; i < pt->nparts; i++) {
        struct wb_part *p = pt->parts[i];
        int64_t upto, hold;

        if (!p->in_batch)
            continue;
        upto = p->stop != INT64_MAX ? p->stop : p->last + 1;
        hold = wb_plan_snapstore_hold(ss, p->partition);
        if (hold >= 0 && hold < upto)
            upto = hold;
        retry_drop_below(p, upto);
        p->clean = p->stop == INT64_MAX && hold < 0 && p->nretries == 0;
        if (upto > 0) {
            rd_kafka_topic_partition_list_add(l, pt->cfg.topic, p->partition)->offset = upto;
            p->stored = upto;
        }
    }
    if (l->cnt > 0) {
        rd_kafka_resp_err_t err = rd_kafka_offsets_store(pt->cfg.consumer, l);

        if (err)
            wb_dbg("worker", FAC, "offsets_store: %s", rd_kafka_err2str(err));
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* --- consumer calls --- */

void wb_part_store_positions(wb_parts_t *pt)
{
    rd_kafka_topic_partition_list_t *l, *st;
    rd_kafka_resp_err_t err;
    size_t i;
    int j;

    if (pt->nparts == 0)
        return;
    l = rd_kafka_topic_partition_list_new((int)pt->nparts);
    for (i = 0; i < pt->nparts; i++)
        if (pt->parts[i]->clean)
            rd_kafka_topic_partition_list_add(l, pt->cfg.topic, pt->parts[i]->partition);
    if (l->cnt == 0 || rd_kafka_position(pt->cfg.consumer, l) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_topic_partition_list_destroy(l);
        return;
    }
    st = rd_kafka_topic_partition_list_new(l->cnt);
    for (j = 0; j < l->cnt; j++) {
        struct wb_part *p = wb_part_get(pt, l->elems[j].partition, false);

        if (!p || l->elems[j].err || l->elems[j].offset < 0 || l->elems[j].offset <= p->stored)
            continue;
        wb_dbg("worker", FAC, "partition=%d: storing position %lld (stored %lld)",
               (int)p->partition, (long long)l->elems[j].offset, (long long)p->stored);
        rd_kafka_topic_partition_list_add(st, pt->cfg.topic, p->partition)->offset =
            l->elems[j].offset;
        p->stored = l->elems[j].offset;
    }
    if (st->cnt > 0) {
        err = rd_kafka_offsets_store(pt->cfg.consumer, st);
        if (err)
            wb_dbg("worker", FAC, "offsets_store (position): %s", rd_kafka_err2str(err));
    }
    rd_kafka_topic_partition_list_destroy(st);
    rd_kafka_topic_partition_list_destroy(l);
}

/* Seeks partition to offset, waiting up to timeout_ms (0: asynchronous). */
static void seek(wb_parts_t *pt, rd_kafka_topic_partition_list_t *l, int timeout_ms)
{
    rd_kafka_error_t *e = rd_kafka_seek_partitions(pt->cfg.consumer, l, timeout_ms);

    if (e) {
        wb_log(LOG_WARNING, FAC, "seek partition %d to %lld failed: %s", (int)l->elems[0].partition,
               (long long)l->elems[0].offset, rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
}

void wb_part_pause(wb_parts_t *pt, int32_t partition, int64_t seek_to, int64_t resume_ms)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);

    rd_kafka_topic_partition_list_add(l, pt->cfg.topic, partition)->offset = seek_to;
    rd_kafka_pause_partitions(pt->cfg.consumer, l);
    seek(pt, l, 5000);
    rd_kafka_topic_partition_list_destroy(l);
    if (resume_ms > 0)
        wb_part_get(pt, partition, true)->resume_ms = resume_ms;
}

void wb_part_seek(wb_parts_t *pt, int32_t partition, int64_t offset)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);

    rd_kafka_topic_partition_list_add(l, pt->cfg.topic, partition)->offset = offset;
    seek(pt, l, 0); /* asynchronous; fetched data is purged */
    rd_kafka_topic_partition_list_destroy(l);
}

static void resume_one(wb_parts_t *pt, const char *topic, int32_t partition)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);

    rd_kafka_topic_partition_list_add(l, topic, partition);
    rd_kafka_resume_partitions(pt->cfg.consumer, l);
    rd_kafka_topic_partition_list_destroy(l);
}

void wb_part_resume_due(wb_parts_t *pt, int64_t now)
{
    size_t i;

    for (i = 0; i < pt->nparts; i++) {
        struct wb_part *p = pt->parts[i];

        if (p->resume_ms == 0 || p->resume_ms > now)
            continue;
        resume_one(pt, pt->cfg.topic, p->partition);
        p->resume_ms = 0;
    }
}

void wb_part_pause_all(wb_parts_t *pt)
{
    rd_kafka_topic_partition_list_t *l = NULL;

    if (rd_kafka_assignment(pt->cfg.consumer, &l) != RD_KAFKA_RESP_ERR_NO_ERROR || !l)
        return;
    rd_kafka_pause_partitions(pt->cfg.consumer, l);
    rd_kafka_topic_partition_list_destroy(l);
}

void wb_part_resume_all(wb_parts_t *pt)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    int i;

    if (rd_kafka_assignment(pt->cfg.consumer, &l) != RD_KAFKA_RESP_ERR_NO_ERROR || !l)
        return;
    for (i = 0; i < l->cnt; i++) {
        struct wb_part *p = wb_part_get(pt, l->elems[i].partition, false);

        /* Partitions in a dependency backoff stay paused. */
        if (!p || p->resume_ms == 0)
            resume_one(pt, l->elems[i].topic, l->elems[i].partition);
    }
    rd_kafka_topic_partition_list_destroy(l);
}
