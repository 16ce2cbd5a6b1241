/*
 * wb_batch_apply: applying a batch's plan, group by group (wb_apply): a step applied, failed
 * for good (dead-lettered) or waiting for a dependency; the second pass over the groups whose
 * dependency was missing; the groups whose upsert was dead-lettered lately.
 */
#include "wb_batch_int.h"
#include "wb_log.h"
#include "wb_mem.h"
#include "wb_reason.h"
#include "wb_time.h"

#include <stdlib.h>
#include <string.h>

/* --- groups given up --- */

static bool gone_has(const wb_batch_t *b, const char *group)
{
    size_t i;

    for (i = 0; i < b->ngone; i++)
        if (strcmp(b->gone[i], group) == 0)
            return true;
    return false;
}

static void gone_set(wb_batch_t *b, const char *group, bool on)
{
    size_t i;

    if (!on) {
        for (i = 0; i < b->ngone; i++)
            if (strcmp(b->gone[i], group) == 0)
                b->gone[i][0] = '\0'; /* never matches a group id */
        return;
    }
    if (gone_has(b, group))
        return;
    if (b->ngone < GONE_MAX) {
        b->gone[b->ngone++] = wb_strdup(group);
        return;
    }
    free(b->gone[b->gone_next]);
    b->gone[b->gone_next] = wb_strdup(group);
    b->gone_next = (b->gone_next + 1) % GONE_MAX;
}

/* Whether ev names one of the nested groups in dead. */
static bool event_names_member(const struct wb_event *ev, const wb_mset_t *dead)
{
    const struct wb_member *lists[3] = {ev->add, ev->remove, ev->members};
    size_t counts[3] = {ev->add_count, ev->remove_count, ev->members_count}, i, j;

    for (i = 0; i < 3; i++)
        for (j = 0; j < counts[i]; j++)
            if (lists[i][j].kind == WB_MEMBER_GROUP &&
                wb_mset_get(dead, WB_MEMBER_GROUP, lists[i][j].id))
                return true;
    return false;
}

/* --- applying a group --- */

enum run_result {
    RUN_DONE,       /* every step applied, skipped or dead-lettered */
    RUN_STOPPED,    /* transient, fatal or dead letter failure: the partition stops (p set) */
    RUN_DEPENDENCY, /* a dependency is missing: the caller decides (p not touched) */
};

/* A step applied: its events are done, except those naming a nested group given up on
 * (res->dead_members), which are dead-lettered. */
static enum run_result step_applied(wb_batch_t *b, const struct wb_step *st,
                                    const struct wb_apply_result *res, struct wb_part *p,
                                    unsigned attempts)
{
    size_t i;

    for (i = 0; i < st->nevents; i++) {
        struct bmsg *bm = &b->bm[st->events[i]];

        if (res->dead_members && event_names_member(&bm->ev, res->dead_members)) {
            if (wb_batch_dlq_send(b, bm, wb_reason_tag(WB_REASON_MEMBER_GROUP_NOT_FOUND),
                                  WB_ERR_DEPENDENCY, -1, NULL, NULL, attempts + 1) != WB_OK) {
                wb_part_stop(p, bm->rkm->offset, WB_PART_TRANSIENT);
                return RUN_STOPPED;
            }
            continue;
        }
        bm->done = true;
        wb_wmetrics_event(b->cfg.wm, wb_event_type_name(bm->ev.type),
                          res->skipped ? "skipped" : "applied");
        if (!res->skipped)
            wb_wmetrics_latency(b->cfg.wm,
                                (double)(wb_time_now_ms() - wb_time_parse(bm->ev.ts)) / 1000.0);
    }
    return RUN_DONE;
}

/* A step failed for good (conflict, invalid, dependency given up): its events are
 * dead-lettered. */
static enum run_result step_failed(wb_batch_t *b, const struct wb_step *st,
                                   const struct wb_apply_result *res, wb_err_t err,
                                   struct wb_part *p, unsigned attempts)
{
    size_t i;

    for (i = 0; i < st->nevents; i++) {
        struct bmsg *bm = &b->bm[st->events[i]];

        if (wb_batch_dlq_send(b, bm, res->reason ? res->reason : wb_err_name(err), err,
                              res->ldap_rc, res->ldap_message, res->matched_dn,
                              attempts + 1) != WB_OK) {
            wb_part_stop(p, bm->rkm->offset, WB_PART_TRANSIENT);
            return RUN_STOPPED;
        }
    }
    return RUN_DONE;
}

/* Applies one step of g; final: the group's dependency retries are spent. */
static enum run_result run_step(wb_batch_t *b, struct wb_gplan *g, const struct wb_step *st,
                                struct wb_part *p, bool may_give_up, bool final, unsigned attempts)
{
    struct wb_apply_result res;
    struct wb_apply_ctx cx = {g->group, g->partition,
                              b->bm[st->events[st->nevents - 1]].rkm->offset, final};
    wb_err_t err = wb_apply_step(b->cfg.ap, &cx, st, &res);
    enum run_result rr = RUN_DONE;

    if (err == WB_ERR_FATAL) {
        wb_log(LOG_CRIT, FAC, "group=%s: fatal: %s (%s)", g->group, res.reason ? res.reason : "",
               res.ldap_message ? res.ldap_message : "");
        b->fatal = true;
        rr = RUN_STOPPED;
        goto out;
    }
    if (err == WB_ERR_DEPENDENCY && !final && may_give_up && !st->attrs &&
        wb_reason_find(res.reason) == WB_REASON_GROUP_NOT_FOUND && gone_has(b, g->group)) {
        /* Its upsert was dead-lettered here: waiting cannot bring the group. */
        wb_log(LOG_WARNING, FAC,
               "group=%s: its upsert was dead-lettered; dead-lettering "
               "its member changes without waiting",
               g->group);
    } else if (err == WB_ERR_DEPENDENCY && !final) {
        rr = RUN_DEPENDENCY;
        goto out;
    }
    if (err == WB_OK) {
        gone_set(b, g->group, false);
        if (b->cfg.written)
            b->cfg.written(b->cfg.written_ctx, g->group, g->partition);
    } else if (st->attrs && err != WB_ERR_TRANSIENT && err != WB_ERR_DEPENDENCY)
        gone_set(b, g->group, true);
    if (err == WB_ERR_TRANSIENT) {
        wb_part_stop(p, g->first_offset, WB_PART_TRANSIENT);
        rr = RUN_STOPPED;
        goto out;
    }
    if (err == WB_OK)
        rr = step_applied(b, st, &res, p, attempts);
    else
        rr = step_failed(b, st, &res, err, p, attempts);
    if (rr == RUN_DONE && st->snapshot)
        wb_plan_snapstore_release(b->cfg.ss, g->group, st->snapshot);
out:
    wb_apply_result_free(&res);
    return rr;
}

/*
 * Applies one group's steps from g->done on. A dependency failure is final (members given up)
 * only when may_give_up and the retries are spent: the first pass over a batch never gives
 * up, because the missing nested group may come later in the same batch and partition.
 */
static enum run_result run_group(wb_batch_t *b, struct wb_gplan *g, struct wb_part *p,
                                 bool may_give_up)
{
    struct wb_part_retry *rt = wb_part_retry(b->cfg.pt, p, g->first_offset, false);
    unsigned attempts = rt ? rt->attempts : 0;
    bool final = may_give_up && wb_part_retry_spent(b->cfg.pt, rt);
    enum run_result rr;
    size_t s;

    for (s = g->done; s < g->nsteps; s++, g->done = s) {
        rr = run_step(b, g, &g->steps[s], p, may_give_up, final, attempts);
        if (rr != RUN_DONE)
            return rr;
    }
    wb_part_retry_clear(p, g->first_offset);
    return RUN_DONE;
}

/* --- the two passes over the plan --- */

/* First pass, in plan order: every group until the batch time runs out. Returns the groups
 * whose dependency was missing (to try again after the rest of the batch), *nlater of them. */
static struct wb_gplan **first_pass(wb_batch_t *b, wb_plan_t *plan, size_t *nlater)
{
    struct wb_gplan **later = NULL;
    int64_t t0 = wb_time_mono_ms();
    size_t i;

    *nlater = 0;
    for (i = 0; i < wb_plan_count(plan) && !b->fatal; i++) {
        struct wb_gplan *g = wb_plan_get(plan, i);
        struct wb_part *p = wb_part_get(b->cfg.pt, g->partition, true);

        if (g->first_offset >= p->stop)
            continue;
        if (wb_time_mono_ms() - t0 > b->cfg.batch_time_ms) {
            /* Out of time: this group and the rest of its partition come again. */
            wb_part_stop(p, g->first_offset, WB_PART_YIELD);
            continue;
        }
        if (run_group(b, g, p, false) == RUN_DEPENDENCY) {
            /* Try the rest of the batch first: the dependency may be behind this group. */
            later = wb_realloc(later, (*nlater + 1) * sizeof(*later));
            later[(*nlater)++] = g;
        }
    }
    return later;
}

/* Second pass over the groups whose dependency was missing: give up on those whose retries
 * are spent, stop their partitions at the others (paused with the retry's backoff). */
static void second_pass(wb_batch_t *b, struct wb_gplan **later, size_t nlater)
{
    size_t i;

    for (i = 0; i < nlater && !b->fatal; i++) {
        struct wb_gplan *g = later[i];
        struct wb_part *p = wb_part_get(b->cfg.pt, g->partition, true);
        struct wb_part_retry *rt;

        if (p->why == WB_PART_TRANSIENT) {
            wb_part_stop(p, g->first_offset, WB_PART_TRANSIENT);
            continue;
        }
        if (run_group(b, g, p, true) != RUN_DEPENDENCY)
            continue;
        rt = wb_part_retry(b->cfg.pt, p, g->first_offset, true);
        rt->attempts++;
        wb_part_stop(p, g->first_offset, WB_PART_DEPENDENCY);
        if (g->first_offset < p->dep_at) {
            p->dep_at = g->first_offset;
            p->dep_delay = wb_part_retry_delay(b->cfg.pt, rt);
        }
        wb_log(LOG_INFO, FAC,
               "group=%s partition=%d offset=%lld: dependency missing (attempt %u, %lld ms); "
               "retrying",
               g->group, (int)g->partition, (long long)g->first_offset, rt->attempts,
               (long long)(wb_time_mono_ms() - rt->first_ms));
    }
}

void wb_batch_apply(wb_batch_t *b, wb_plan_t *plan)
{
    struct wb_gplan **later;
    size_t nlater;

    later = first_pass(b, plan, &nlater);
    second_pass(b, later, nlater);
    free(later);
}
