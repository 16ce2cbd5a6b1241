/*
 * wb_batch: one batch of the worker (see wb_batch.h). A partition's offset is stored only up
 * to its first event not yet applied or dead-lettered, and never past the first chunk of a
 * snapshot still being collected, so a crash or rebalance replays from there. This file runs
 * the batch's steps (collect, plan, apply, dead letters, store) and acts on where each
 * partition stopped; the steps are in wb_batch_collect.c, wb_batch_apply.c, wb_batch_dlq.c.
 */
#include "wb_batch_int.h"
#include "wb_log.h"
#include "wb_mem.h"
#include "wb_time.h"

#include <stdlib.h>

wb_batch_t *wb_batch_new(const struct wb_batch_cfg *cfg)
{
    wb_batch_t *b = wb_calloc(1, sizeof(*b));

    b->cfg = *cfg;
    if (b->cfg.batch_max == 0)
        b->cfg.batch_max = 1;
    b->bm = wb_calloc(b->cfg.batch_max, sizeof(*b->bm));
    b->carry = wb_calloc(b->cfg.batch_max, sizeof(*b->carry));
    return b;
}

void wb_batch_destroy(wb_batch_t *b)
{
    size_t i;

    if (!b)
        return;
    wb_batch_forget(b);
    for (i = 0; i < b->ngone; i++)
        free(b->gone[i]);
    free(b->revoked);
    free(b->carry);
    free(b->bm);
    free(b);
}

/* --- where partitions stopped --- */

/* The batch time of p ran out: the messages from its stop on that are not done yet (a group
 * that came earlier in the batch may have events past stop, applied already) are kept for the
 * next batch, which takes them first; the stored offset stays at stop. */
static void keep_rest(wb_batch_t *b, const struct wb_part *p)
{
    size_t j, kept = 0;

    for (j = 0; j < b->n; j++)
        if (b->bm[j].rkm->partition == p->partition && b->bm[j].rkm->offset >= p->stop &&
            !b->bm[j].done) {
            b->bm[j].carry = true;
            kept++;
        }
    wb_dbg("worker", FAC,
           "partition=%d: batch time spent; %zu messages from offset %lld kept for the "
           "next batch",
           (int)p->partition, kept, (long long)p->stop);
}

/* Pauses, seeks or keeps the rest of every partition that stopped in this batch. Returns
 * whether one stopped TRANSIENT. */
static bool act_on_stops(wb_batch_t *b)
{
    bool transient = false;
    size_t i;

    for (i = 0; i < wb_part_count(b->cfg.pt); i++) {
        struct wb_part *p = wb_part_at(b->cfg.pt, i);

        if (p->in_batch && p->why == WB_PART_TRANSIENT)
            transient = true;
    }
    for (i = 0; i < wb_part_count(b->cfg.pt); i++) {
        struct wb_part *p = wb_part_at(b->cfg.pt, i);

        if (!p->in_batch || p->stop == INT64_MAX)
            continue;
        if (p->why == WB_PART_TRANSIENT) {
            wb_part_pause(b->cfg.pt, p->partition, p->stop, 0);
        } else if (p->why == WB_PART_YIELD && !transient) {
            keep_rest(b, p);
        } else if (p->why == WB_PART_YIELD) {
            wb_dbg("worker", FAC, "partition=%d: batch time spent; refetching from offset %lld",
                   (int)p->partition, (long long)p->stop);
            wb_part_seek(b->cfg.pt, p->partition, p->stop);
        } else {
            int64_t delay = p->dep_delay > 0 ? p->dep_delay : 1;

            wb_log(LOG_INFO, FAC, "partition=%d paused at offset %lld for %lld ms (dependency)",
                   (int)p->partition, (long long)p->stop, (long long)delay);
            wb_part_pause(b->cfg.pt, p->partition, p->stop, wb_time_mono_ms() + delay);
        }
    }
    return transient;
}

/* Applies b->bm[0..b->n). Returns whether a partition stopped TRANSIENT. */
static bool process(wb_batch_t *b)
{
    struct wb_plan_in *in = wb_calloc(b->n, sizeof(*in));
    wb_plan_t *plan;
    size_t i;
    bool transient;

    wb_part_batch_begin(b->cfg.pt);
    for (i = 0; i < b->n; i++) {
        wb_part_batch_mark(b->cfg.pt, b->bm[i].rkm->partition, b->bm[i].rkm->offset);
        in[i].partition = b->bm[i].rkm->partition;
        in[i].offset = b->bm[i].rkm->offset;
        in[i].ev = b->bm[i].ok ? &b->bm[i].ev : NULL;
    }
    /* Member arrays are only needed until folded (nested groups: see wb_plan.h). */
    plan = wb_plan_build_drop(in, b->n, b->cfg.ss);
    wb_batch_apply(b, plan);
    wb_plan_destroy(plan);
    wb_batch_dlq_poison(b);
    wb_part_batch_store(b->cfg.pt, b->cfg.ss);
    transient = act_on_stops(b);
    free(in);
    return transient;
}

wb_err_t wb_batch_run(wb_batch_t *b)
{
    bool transient = false;

    wb_batch_collect(b);
    if (b->n > 0)
        transient = process(b);
    wb_batch_carry_over(b);
    if (b->fatal)
        return WB_ERR_FATAL;
    return transient ? WB_ERR_TRANSIENT : WB_OK;
}
