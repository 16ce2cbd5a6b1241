/*
 * wb_batch: one batch of the worker (see wb_batch.h). A partition's offset is stored only up
 * to its first event not yet applied or dead-lettered, and never past the first chunk of a
 * snapshot still being collected, so a crash or rebalance replays from there.
 */
#include "wb_batch.h"
#include "wb_dlq.h"
#include "wb_event.h"
#include "wb_log.h"
#include "wb_mem.h"
#include "wb_reason.h"
#include "wb_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FAC "WORKER"
/* Payload bytes of one batch. The batch holds its messages (librdkafka keeps their fetch
 * buffers, ~1.3 x the payload) and their decoded events (~1.5 x the payload for member lists)
 * until the plan is built, so this bounds the worker's peak memory. Past BATCH_BYTES collect()
 * goes on only while a snapshot is still open, up to BATCH_BYTES_MAX, so that a snapshot that
 * started late in a batch is still applied whole (a 60,000-member snapshot is ~6 MB). */
#define BATCH_BYTES     (4 * 1024 * 1024)
#define BATCH_BYTES_MAX (16 * 1024 * 1024)
#define DLQ_WAIT_MS     30000
/* Extra wait in collect() for the rest of a snapshot whose chunks are still arriving, so that
 * a big snapshot is applied in one batch (no member read in between). */
#define SNAPSHOT_WAIT_MS 1000

/* Groups whose own upsert this worker dead-lettered lately (kept so that their later member
 * events, which cannot succeed by waiting, are dead-lettered without the dependency wait). */
#define GONE_MAX 1024

/* One message of a batch. */
struct bmsg {
    rd_kafka_message_t *rkm;
    struct wb_event ev;
    bool ok; /* decoded */
    char reason[256];
    bool done;  /* applied, skipped or dead-lettered */
    bool carry; /* not applied: kept for the next batch (wb_batch_s.carry) */
};

struct wb_batch_s {
    struct wb_batch_cfg cfg;
    struct bmsg *bm; /* batch_max */
    size_t n;
    bool fatal;
    /* Messages of partitions whose batch time ran out, in consumption order, kept for the
     * next batch rather than fetched again: a seek would drop what librdkafka has fetched
     * and the next batch would wait for it anew (about a second each time, measured). */
    rd_kafka_message_t **carry;
    size_t ncarry;
    /* Partitions revoked while collect() polls, with how many messages the batch held then. */
    struct revoked {
        int32_t partition;
        size_t before;
    } * revoked;
    size_t nrevoked;
    bool collecting;
    char *gone[GONE_MAX]; /* ring of group ids (see GONE_MAX) */
    size_t ngone, gone_next;
};

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

/* Forgets the carried messages of partition (-1: all); its new owner fetches them. */
static void carry_drop(wb_batch_t *b, int32_t partition)
{
    size_t i, k = 0;

    for (i = 0; i < b->ncarry; i++) {
        if (partition < 0 || b->carry[i]->partition == partition)
            rd_kafka_message_destroy(b->carry[i]);
        else
            b->carry[k++] = b->carry[i];
    }
    b->ncarry = k;
}

void wb_batch_forget(wb_batch_t *b)
{
    carry_drop(b, -1);
}

void wb_batch_revoke(wb_batch_t *b, int32_t partition)
{
    carry_drop(b, partition);
    if (!b->collecting)
        return;
    b->revoked = wb_realloc(b->revoked, (b->nrevoked + 1) * sizeof(*b->revoked));
    b->revoked[b->nrevoked++] = (struct revoked){partition, b->n};
}

/* Whether partition was revoked while collecting; *before: how many messages the batch held
 * at its last revocation. */
static bool revoked_has(const wb_batch_t *b, int32_t partition, size_t *before)
{
    bool found = false;
    size_t j;

    *before = 0;
    for (j = 0; j < b->nrevoked; j++)
        if (b->revoked[j].partition == partition) {
            found = true;
            if (b->revoked[j].before > *before)
                *before = b->revoked[j].before;
        }
    return found;
}

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

/* --- collecting --- */

/* Partitions whose latest message in the batch is a snapshot chunk before the last. */
struct open_snaps {
    struct open_snap {
        int32_t partition;
        bool open;
    } * os;
    size_t nos, nopen;
};

static void open_snaps_note(struct open_snaps *o, const struct bmsg *bm)
{
    size_t i;

    for (i = 0; i < o->nos && o->os[i].partition != bm->rkm->partition; i++)
        ;
    if (i == o->nos) {
        o->os = wb_realloc(o->os, (o->nos + 1) * sizeof(*o->os));
        o->os[o->nos++] = (struct open_snap){bm->rkm->partition, false};
    }
    if (o->os[i].open)
        o->nopen--;
    o->os[i].open =
        bm->ok && bm->ev.type == WB_EVENT_GROUP_SNAPSHOT && bm->ev.chunk < bm->ev.chunks;
    if (o->os[i].open)
        o->nopen++;
}

/* Polls into b->bm until batch_max messages or BATCH_BYTES (see there): wait for the first,
 * then take what is already fetched. held[*ci..nheld) (what the last batch left) come first. */
static void poll_messages(wb_batch_t *b, rd_kafka_message_t **held, size_t nheld, size_t *ci)
{
    struct open_snaps o = {0};
    size_t bytes = 0;
    int timeout = 200;
    int64_t wait_until = 0;

    while (b->n < b->cfg.batch_max && bytes < BATCH_BYTES_MAX &&
           (bytes < BATCH_BYTES || o.nopen > 0)) {
        rd_kafka_message_t *m =
            *ci < nheld ? held[(*ci)++] : rd_kafka_consumer_poll(b->cfg.consumer, timeout);
        struct bmsg *bm = &b->bm[b->n];

        if (!m) {
            int64_t now = wb_time_mono_ms();

            if (timeout == 200 || o.nopen == 0)
                break;
            if (!wait_until)
                wait_until = now + SNAPSHOT_WAIT_MS;
            if (now >= wait_until)
                break;
            timeout = (int)(wait_until - now < 50 ? wait_until - now : 50);
            continue;
        }
        timeout = 0;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                wb_log(LOG_WARNING, "KAFKA", "consumer: %s", rd_kafka_message_errstr(m));
            if (rd_kafka_fatal_error(b->cfg.consumer, NULL, 0))
                b->fatal = true;
            rd_kafka_message_destroy(m);
            continue;
        }
        memset(bm, 0, sizeof(*bm));
        bm->rkm = m;
        bm->ok = wb_event_decode(m->payload ? m->payload : "", m->len, &bm->ev, bm->reason,
                                 sizeof(bm->reason)) == WB_OK;
        bytes += m->len;
        open_snaps_note(&o, bm);
        b->n++;
    }
    free(o.os);
}

/* Collects the batch into b->bm[0..b->n). */
static void collect(wb_batch_t *b)
{
    size_t ci = 0, nheld = b->ncarry, before, i, k;
    /* What the last batch left, taken out of b->carry, which a revoke may change. */
    rd_kafka_message_t **held = wb_malloc((nheld ? nheld : 1) * sizeof(*held));

    memcpy(held, b->carry, nheld * sizeof(*held));
    b->ncarry = 0;
    b->nrevoked = 0;
    b->n = 0;
    b->collecting = true;
    poll_messages(b, held, nheld, &ci);
    b->collecting = false;
    /* Held messages not taken go back (revoked partitions' are dropped). */
    for (; ci < nheld; ci++) {
        if (revoked_has(b, held[ci]->partition, &before))
            rd_kafka_message_destroy(held[ci]);
        else
            b->carry[b->ncarry++] = held[ci];
    }
    free(held);
    /* Messages taken before their partition was revoked are not ours to apply any more. */
    for (i = 0, k = 0; i < b->n; i++) {
        struct bmsg *bm = &b->bm[i];

        if (revoked_has(b, bm->rkm->partition, &before) && i < before) {
            wb_dbg("worker", FAC, "partition=%d offset=%lld: revoked before it was applied",
                   (int)bm->rkm->partition, (long long)bm->rkm->offset);
            wb_event_free(&bm->ev);
            rd_kafka_message_destroy(bm->rkm);
            continue;
        }
        if (k != i)
            b->bm[k] = *bm;
        k++;
    }
    b->n = k;
}

/* --- dead letters --- */

static wb_err_t dead_letter(wb_batch_t *b, struct bmsg *bm, const char *reason, wb_err_t cls,
                            int ldap_rc, const char *ldap_msg, const char *matched,
                            unsigned attempts)
{
    rd_kafka_message_t *m = bm->rkm;
    rd_kafka_headers_t *hdrs = NULL;
    rd_kafka_timestamp_type_t tstype;
    struct wb_dlqhdr_info info = {0};
    struct wb_dlq_outcome out;
    wb_err_t err;

    rd_kafka_message_headers(m, &hdrs);
    info.reason = reason;
    info.cls = cls;
    info.ldap_rc = ldap_rc;
    info.ldap_message = ldap_msg;
    info.matched_dn = matched;
    info.orig_topic = rd_kafka_topic_name(m->rkt);
    info.orig_partition = m->partition;
    info.orig_offset = m->offset;
    info.orig_timestamp = rd_kafka_message_timestamp(m, &tstype);
    info.consumer_group = b->cfg.group_id;
    info.worker_id = b->cfg.worker_id;
    info.attempts = attempts;
    err = wb_dlq_send(b->cfg.producer, b->cfg.dlq_topic, m->key, m->key_len, m->payload, m->len,
                      hdrs, &info, DLQ_WAIT_MS, &out);
    if (out.bounded)
        wb_wmetrics_dlq_bounded(b->cfg.wm, rd_kafka_err2name(out.refused));
    if (err != WB_OK)
        wb_wmetrics_dlq_failure(b->cfg.wm, rd_kafka_err2name(out.err));
    if (err == WB_OK) {
        bm->done = true;
        wb_wmetrics_dead_letter(b->cfg.wm, reason);
        wb_wmetrics_event(b->cfg.wm, bm->ok ? wb_event_type_name(bm->ev.type) : NULL,
                          "dead_lettered");
    }
    return err;
}

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
            if (dead_letter(b, bm, wb_reason_tag(WB_REASON_MEMBER_GROUP_NOT_FOUND),
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

        if (dead_letter(b, bm, res->reason ? res->reason : wb_err_name(err), err, res->ldap_rc,
                        res->ldap_message, res->matched_dn, attempts + 1) != WB_OK) {
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

/* --- one batch --- */

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

/* Undecodable messages are dead-lettered after the groups, so that one behind a stopped
 * group waits for the replay. */
static void dead_letter_poison(wb_batch_t *b)
{
    size_t i;

    for (i = 0; i < b->n; i++) {
        struct bmsg *bm = &b->bm[i];
        struct wb_part *p = wb_part_get(b->cfg.pt, bm->rkm->partition, true);

        if (bm->ok || bm->rkm->offset >= p->stop)
            continue;
        wb_log(LOG_WARNING, FAC, "partition=%d offset=%lld: undecodable event: %s",
               (int)bm->rkm->partition, (long long)bm->rkm->offset, bm->reason);
        if (dead_letter(b, bm, wb_reason_tag(WB_REASON_POISON), WB_ERR_INVALID, -1, bm->reason,
                        NULL, 1) != WB_OK)
            wb_part_stop(p, bm->rkm->offset, WB_PART_TRANSIENT);
    }
}

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
    struct wb_gplan **later;
    wb_plan_t *plan;
    size_t nlater, i;
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
    later = first_pass(b, plan, &nlater);
    second_pass(b, later, nlater);
    free(later);
    wb_plan_destroy(plan);
    dead_letter_poison(b);
    wb_part_batch_store(b->cfg.pt, b->cfg.ss);
    transient = act_on_stops(b);
    free(in);
    return transient;
}

/* Frees the batch's messages but those to carry, which go to the front of b->carry: older
 * than any still carried (left by collect), they come first. */
static void carry_over(wb_batch_t *b)
{
    size_t i, keep = 0;

    for (i = 0; i < b->n; i++)
        keep += b->bm[i].carry;
    if (keep)
        memmove(b->carry + keep, b->carry, b->ncarry * sizeof(*b->carry));
    b->ncarry += keep;
    for (i = 0, keep = 0; i < b->n; i++) {
        wb_event_free(&b->bm[i].ev);
        if (b->bm[i].carry)
            b->carry[keep++] = b->bm[i].rkm;
        else
            rd_kafka_message_destroy(b->bm[i].rkm);
    }
    b->n = 0;
}

wb_err_t wb_batch_run(wb_batch_t *b)
{
    bool transient = false;

    collect(b);
    if (b->n > 0)
        transient = process(b);
    carry_over(b);
    if (b->fatal)
        return WB_ERR_FATAL;
    return transient ? WB_ERR_TRANSIENT : WB_OK;
}
