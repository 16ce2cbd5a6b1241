/*
 * wb_worker: the consumer loop (see wb_worker.h). Offsets are stored per partition only up to
 * the first event not yet applied or dead-lettered, and never past the first chunk of a
 * snapshot still being collected, so a crash or rebalance replays from there.
 */
#include "wb_worker.h"
#include "wb_ad.h"
#include "wb_apply.h"
#include "wb_backoff.h"
#include "wb_dlq.h"
#include "wb_drift.h"
#include "wb_event.h"
#include "wb_http.h"
#include "wb_kafka.h"
#include "wb_log.h"
#include "wb_mem.h"
#include "wb_plan.h"
#include "wb_reason.h"
#include "wb_signal.h"
#include "wb_wmetrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FAC "WORKER"
/* Payload bytes of one batch. The batch holds its messages (librdkafka keeps their fetch
 * buffers, ~1.3 x the payload) and their decoded events (~1.5 x the payload for member lists)
 * until the plan is built, so this bounds the worker's peak memory. Past BATCH_BYTES collect()
 * goes on only while a snapshot is still open, up to BATCH_BYTES_MAX, so that a snapshot that
 * started late in a batch is still applied whole (a 60,000-member snapshot is ~6 MB). */
#define BATCH_BYTES     (4 * 1024 * 1024)
#define BATCH_BYTES_MAX (16 * 1024 * 1024)
#define DLQ_WAIT_MS     30000
#define MAX_PARTITION   10000
/* Extra wait in collect() for the rest of a snapshot whose chunks are still arriving, so that
 * a big snapshot is applied in one batch (no member read in between). */
#define SNAPSHOT_WAIT_MS 1000
/* Longest a drift round holds the consumer loop (the rest waits for the next round). */
#define DRIFT_BUDGET_MS 1000

/* Groups whose own upsert this worker dead-lettered lately (kept so that their later member
 * events, which cannot succeed by waiting, are dead-lettered without the dependency wait). */
#define GONE_MAX 1024

/* A dependency retry in progress: the group plan starting at (partition, offset). It is given
 * up when both max_retries attempts and dependency_timeout_ms since first_ms are spent. */
struct retry {
    int32_t partition;
    int64_t offset;
    unsigned attempts;
    int64_t first_ms;     /* monotonic time of the first failure */
    struct wb_backoff bo; /* delays of this retry */
};

/* What was last stored for an assigned partition; clean: nothing pending behind it (no held
 * snapshot, no failed group, no stop), so the consumer position may be stored instead, which
 * also covers transaction markers after the last message (lag then reaches 0). */
struct pstate {
    int32_t partition;
    int64_t stored; /* -1: nothing stored by this worker yet */
    bool clean;
};

/* A partition paused until resume_ms (dependency backoff). */
struct paused {
    int32_t partition;
    int64_t resume_ms;
};

struct wb_worker_s {
    const wb_conf_t *conf;
    const char *topic, *dlq_topic, *group_id;
    char *worker_id;
    char *instance_id; /* group.instance.id derived from worker.id; NULL: dynamic member */
    unsigned max_retries;
    int64_t dep_timeout_ms;
    size_t batch_max;
    int64_t batch_time_ms; /* worker.batch_time_ms */

    rd_kafka_t *consumer, *producer;
    wb_ad_t *ad;
    wb_apply_t *ap;
    wb_drift_t *dr; /* the drift watch (docs/drift.md) */
    wb_snapstore_t *ss;
    wb_metrics_t *reg;
    struct wb_wmetrics wm;
    wb_http_t *http;

    struct retry *retries;
    size_t nretries;
    struct paused *paused;
    size_t npaused;
    struct pstate *pst;
    size_t npst;
    char *gone[GONE_MAX]; /* ring of group ids (see GONE_MAX) */
    size_t ngone, gone_next;
    struct wb_backoff ad_backoff;
    int64_t blocked_until; /* all partitions paused (AD down) until then; 0 = not blocked */
    int fatal;
    /* Messages of partitions whose batch time ran out, in consumption order, kept for the
     * next batch rather than fetched again: a seek would drop what librdkafka has fetched
     * and the next batch would wait for it anew (about a second each time, measured). */
    rd_kafka_message_t **carry;
    size_t ncarry;
    /* Partitions revoked while collect() polls, with how many messages the batch held then:
     * those messages are dropped, not applied (the new owner fetches them from the committed
     * offset; applying them here too could undo its newer writes). */
    struct revoked {
        int32_t partition;
        size_t before;
    } * revoked;
    size_t nrevoked;
    bool collecting;
    size_t collected; /* messages in the batch so far, while collecting */
};

/* One message of a batch. */
struct bmsg {
    rd_kafka_message_t *rkm;
    struct wb_event ev;
    bool ok; /* decoded */
    char reason[256];
    bool done;  /* applied, skipped or dead-lettered */
    bool carry; /* not applied: kept for the next batch (wb_worker_s.carry) */
};

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Seconds since the epoch of an RFC 3339 UTC timestamp the decoder accepted, or -1. */
static double ts_seconds(const char *ts)
{
    struct tm tm = {0};
    double frac = 0;
    const char *p;

    if (!ts || sscanf(ts, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                      &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    p = strchr(ts, '.');
    if (p)
        frac = strtod(p, NULL);
    return (double)timegm(&tm) + frac;
}

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* --- retries and pauses --- */

static struct retry *retry_find(wb_worker_t *wk, int32_t partition, int64_t offset, bool create)
{
    size_t i;

    for (i = 0; i < wk->nretries; i++)
        if (wk->retries[i].partition == partition && wk->retries[i].offset == offset)
            return &wk->retries[i];
    if (!create)
        return NULL;
    wk->retries = wb_realloc(wk->retries, (wk->nretries + 1) * sizeof(*wk->retries));
    wk->retries[wk->nretries] = (struct retry){partition, offset, 0, mono_ms(), {0}};
    wb_backoff_init(&wk->retries[wk->nretries].bo,
                    (uint64_t)wb_conf_get_int(wk->conf, "worker.retry_backoff_ms"),
                    (uint64_t)wb_conf_get_int(wk->conf, "worker.retry_backoff_max_ms"),
                    WB_BACKOFF_FULL);
    return &wk->retries[wk->nretries++];
}

/* Whether the retry rt (may be NULL: none yet) has spent both its count and its time. */
static bool retry_spent(const wb_worker_t *wk, const struct retry *rt)
{
    unsigned attempts = rt ? rt->attempts : 0;
    int64_t elapsed = rt ? mono_ms() - rt->first_ms : 0;

    return attempts >= wk->max_retries && elapsed >= wk->dep_timeout_ms;
}

/* Delay before the next attempt of rt: its backoff, but not past the deadline when the
 * count is already spent (the last attempt then comes on time). At least 1 ms. */
static int64_t retry_delay(const wb_worker_t *wk, struct retry *rt)
{
    int64_t delay = (int64_t)wb_backoff_next(&rt->bo);
    int64_t left = rt->first_ms + wk->dep_timeout_ms - mono_ms();

    if (rt->attempts >= wk->max_retries && left > 0 && left < delay)
        delay = left;
    return delay < 1 ? 1 : delay;
}

static bool retry_any(const wb_worker_t *wk, int32_t partition)
{
    size_t i;

    for (i = 0; i < wk->nretries; i++)
        if (wk->retries[i].partition == partition)
            return true;
    return false;
}

/* Drops the retries of partition below offset (stored past: they cannot come again). */
static void retry_drop_below(wb_worker_t *wk, int32_t partition, int64_t offset)
{
    size_t i;

    for (i = 0; i < wk->nretries; i++)
        if (wk->retries[i].partition == partition && wk->retries[i].offset < offset)
            wk->retries[i--] = wk->retries[--wk->nretries];
}

static struct pstate *pstate_get(wb_worker_t *wk, int32_t partition, bool create)
{
    size_t i;

    for (i = 0; i < wk->npst; i++)
        if (wk->pst[i].partition == partition)
            return &wk->pst[i];
    if (!create)
        return NULL;
    wk->pst = wb_realloc(wk->pst, (wk->npst + 1) * sizeof(*wk->pst));
    wk->pst[wk->npst] = (struct pstate){partition, -1, true};
    return &wk->pst[wk->npst++];
}

static void pstate_drop(wb_worker_t *wk, int32_t partition)
{
    size_t i;

    for (i = 0; i < wk->npst; i++)
        if (wk->pst[i].partition == partition)
            wk->pst[i--] = wk->pst[--wk->npst];
}

/* Stores the consumer position of every clean partition whose position moved past what was
 * stored: only transaction markers (or nothing) lie in between, since every message handed
 * to the worker was applied or dead-lettered before this is called. */
static void store_positions(wb_worker_t *wk)
{
    rd_kafka_topic_partition_list_t *l;
    size_t i;
    int j;

    if (wk->npst == 0 || wk->blocked_until)
        return;
    l = rd_kafka_topic_partition_list_new((int)wk->npst);
    for (i = 0; i < wk->npst; i++)
        if (wk->pst[i].clean)
            rd_kafka_topic_partition_list_add(l, wk->topic, wk->pst[i].partition);
    if (l->cnt > 0 && rd_kafka_position(wk->consumer, l) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_topic_partition_list_t *st = rd_kafka_topic_partition_list_new(l->cnt);

        for (j = 0; j < l->cnt; j++) {
            struct pstate *ps = pstate_get(wk, l->elems[j].partition, false);

            if (!ps || l->elems[j].err || l->elems[j].offset < 0 ||
                l->elems[j].offset <= ps->stored)
                continue;
            wb_dbg("worker", FAC, "partition=%d: storing position %lld (stored %lld)",
                   (int)ps->partition, (long long)l->elems[j].offset, (long long)ps->stored);
            rd_kafka_topic_partition_list_add(st, wk->topic, ps->partition)->offset =
                l->elems[j].offset;
            ps->stored = l->elems[j].offset;
        }
        if (st->cnt > 0) {
            rd_kafka_resp_err_t err = rd_kafka_offsets_store(wk->consumer, st);

            if (err)
                wb_dbg("worker", FAC, "offsets_store (position): %s", rd_kafka_err2str(err));
        }
        rd_kafka_topic_partition_list_destroy(st);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

static bool gone_has(const wb_worker_t *wk, const char *group)
{
    size_t i;

    for (i = 0; i < wk->ngone; i++)
        if (strcmp(wk->gone[i], group) == 0)
            return true;
    return false;
}

static void gone_set(wb_worker_t *wk, const char *group, bool on)
{
    size_t i;

    if (!on) {
        for (i = 0; i < wk->ngone; i++)
            if (strcmp(wk->gone[i], group) == 0)
                wk->gone[i][0] = '\0'; /* never matches a group id */
        return;
    }
    if (gone_has(wk, group))
        return;
    if (wk->ngone < GONE_MAX) {
        wk->gone[wk->ngone++] = wb_strdup(group);
        return;
    }
    free(wk->gone[wk->gone_next]);
    wk->gone[wk->gone_next] = wb_strdup(group);
    wk->gone_next = (wk->gone_next + 1) % GONE_MAX;
}

static void retry_clear(wb_worker_t *wk, int32_t partition, int64_t offset)
{
    size_t i;

    for (i = 0; i < wk->nretries; i++)
        if (wk->retries[i].partition == partition &&
            (offset < 0 || wk->retries[i].offset == offset)) {
            wk->retries[i--] = wk->retries[--wk->nretries];
        }
}

static void paused_drop(wb_worker_t *wk, int32_t partition)
{
    size_t i;

    for (i = 0; i < wk->npaused; i++)
        if (wk->paused[i].partition == partition)
            wk->paused[i--] = wk->paused[--wk->npaused];
}

static void pause_one(wb_worker_t *wk, int32_t partition, int64_t seek_to, int64_t resume_ms)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_error_t *e;

    rd_kafka_topic_partition_list_add(l, wk->topic, partition)->offset = seek_to;
    rd_kafka_pause_partitions(wk->consumer, l);
    e = rd_kafka_seek_partitions(wk->consumer, l, 5000);
    if (e) {
        wb_log(LOG_WARNING, FAC, "seek partition %d to %lld failed: %s", (int)partition,
               (long long)seek_to, rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    rd_kafka_topic_partition_list_destroy(l);
    if (resume_ms > 0) {
        paused_drop(wk, partition);
        wk->paused = wb_realloc(wk->paused, (wk->npaused + 1) * sizeof(*wk->paused));
        wk->paused[wk->npaused++] = (struct paused){partition, resume_ms};
    }
}

/* Fetch partition again from offset (the rest of a batch left for the next one). */
static void seek_one(wb_worker_t *wk, int32_t partition, int64_t offset)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_error_t *e;

    rd_kafka_topic_partition_list_add(l, wk->topic, partition)->offset = offset;
    e = rd_kafka_seek_partitions(wk->consumer, l, 0); /* asynchronous; fetched data is purged */
    if (e) {
        wb_log(LOG_WARNING, FAC, "seek partition %d to %lld failed: %s", (int)partition,
               (long long)offset, rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

static void resume_due(wb_worker_t *wk, int64_t now)
{
    size_t i;

    for (i = 0; i < wk->npaused; i++) {
        rd_kafka_topic_partition_list_t *l;

        if (wk->paused[i].resume_ms > now)
            continue;
        l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, wk->topic, wk->paused[i].partition);
        rd_kafka_resume_partitions(wk->consumer, l);
        rd_kafka_topic_partition_list_destroy(l);
        wk->paused[i--] = wk->paused[--wk->npaused];
    }
}

/* Pause or resume everything assigned (AD unavailable / back). */
static void all_partitions(wb_worker_t *wk, bool pause)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    int i;

    if (rd_kafka_assignment(wk->consumer, &l) != RD_KAFKA_RESP_ERR_NO_ERROR || !l)
        return;
    if (pause) {
        rd_kafka_pause_partitions(wk->consumer, l);
    } else {
        /* Partitions in a dependency backoff stay paused. */
        for (i = 0; i < l->cnt; i++) {
            size_t j;

            for (j = 0; j < wk->npaused; j++)
                if (wk->paused[j].partition == l->elems[i].partition)
                    l->elems[i].err = RD_KAFKA_RESP_ERR__STATE;
        }
        for (i = 0; i < l->cnt; i++) {
            rd_kafka_topic_partition_list_t *one;

            if (l->elems[i].err)
                continue;
            one = rd_kafka_topic_partition_list_new(1);
            rd_kafka_topic_partition_list_add(one, l->elems[i].topic, l->elems[i].partition);
            rd_kafka_resume_partitions(wk->consumer, one);
            rd_kafka_topic_partition_list_destroy(one);
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* Forgets the carried messages of partition (-1: all); its new owner fetches them. */
static void carry_drop(wb_worker_t *wk, int32_t partition)
{
    size_t i, k = 0;

    for (i = 0; i < wk->ncarry; i++) {
        if (partition < 0 || wk->carry[i]->partition == partition)
            rd_kafka_message_destroy(wk->carry[i]);
        else
            wk->carry[k++] = wk->carry[i];
    }
    wk->ncarry = k;
}

/* --- callbacks --- */

static void assigned_gauge(wb_worker_t *wk)
{
    rd_kafka_topic_partition_list_t *l = NULL;

    if (rd_kafka_assignment(wk->consumer, &l) != RD_KAFKA_RESP_ERR_NO_ERROR || !l)
        return;
    wb_wmetrics_assigned(&wk->wm, l->cnt);
    rd_kafka_topic_partition_list_destroy(l);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    wb_worker_t *wk = opaque;
    int i;

    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        for (i = 0; i < parts->cnt; i++) {
            const char *lv[1];
            const char *cg[3];
            char p[16];

            snprintf(p, sizeof(p), "%d", (int)parts->elems[i].partition);
            lv[0] = p;
            cg[0] = wk->group_id;
            cg[1] = parts->elems[i].topic;
            cg[2] = p;
            wb_snapstore_drop_partition(wk->ss, parts->elems[i].partition);
            carry_drop(wk, parts->elems[i].partition);
            if (wk->collecting) {
                wk->revoked = wb_realloc(wk->revoked, (wk->nrevoked + 1) * sizeof(*wk->revoked));
                wk->revoked[wk->nrevoked++] =
                    (struct revoked){parts->elems[i].partition, wk->collected};
            }
            retry_clear(wk, parts->elems[i].partition, -1);
            paused_drop(wk, parts->elems[i].partition);
            pstate_drop(wk, parts->elems[i].partition);
            wb_metric_remove(wk->wm.lag, lv);
            wb_metric_remove(wk->wm.cg_lag, cg);
        }
    }
    wb_wmetrics_rebalance(
        &wk->wm, err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS,
        err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS && rd_kafka_assignment_lost(rk), parts->cnt);
    wb_drift_rebalance(wk->dr, rk, parts, err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS);
    wb_kafka_rebalance_cb(rk, err, parts, NULL);
    assigned_gauge(wk);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
        for (i = 0; i < parts->cnt; i++) {
            pstate_drop(wk, parts->elems[i].partition);
            pstate_get(wk, parts->elems[i].partition, true);
        }
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS && wk->blocked_until)
        rd_kafka_pause_partitions(rk, parts); /* AD is down: new partitions wait too */
    if (wk->http)
        wb_http_set_ready(wk->http, 1, NULL);
}

static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    wb_worker_t *wk = opaque;

    (void)rk;
    wb_wmetrics_stats(&wk->wm, json, len, wk->group_id, wk->topic);
    return 0; /* librdkafka frees json */
}

/* --- dead letters --- */

static wb_err_t dead_letter(wb_worker_t *wk, struct bmsg *b, const char *reason, wb_err_t cls,
                            int ldap_rc, const char *ldap_msg, const char *matched,
                            unsigned attempts)
{
    rd_kafka_message_t *m = b->rkm;
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
    info.consumer_group = wk->group_id;
    info.worker_id = wk->worker_id;
    info.attempts = attempts;
    err = wb_dlq_send(wk->producer, wk->dlq_topic, m->key, m->key_len, m->payload, m->len, hdrs,
                      &info, DLQ_WAIT_MS, &out);
    if (out.bounded)
        wb_wmetrics_dlq_bounded(&wk->wm, rd_kafka_err2name(out.refused));
    if (err != WB_OK)
        wb_wmetrics_dlq_failure(&wk->wm, rd_kafka_err2name(out.err));
    if (err == WB_OK) {
        b->done = true;
        wb_wmetrics_dead_letter(&wk->wm, reason);
        wb_wmetrics_event(&wk->wm, b->ok ? wb_event_type_name(b->ev.type) : NULL, "dead_lettered");
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

/* --- one batch --- */

/* Stop marks per partition within a batch: events at or after stop are left for later. */
struct pstop {
    int32_t partition;
    int64_t stop;      /* INT64_MAX: none */
    int64_t last;      /* highest offset seen in the batch */
    bool transient;    /* stopped by a transient error (AD backoff) rather than a dependency */
    bool yield;        /* stopped by the batch time budget: fetch again at once, no pause */
    int64_t dep_at;    /* offset of a dependency stop (pause with backoff), or INT64_MAX */
    int64_t dep_delay; /* pause of that dependency retry in ms */
};

static struct pstop *pstop_get(struct pstop *ps, size_t *n, int32_t partition)
{
    size_t i;

    for (i = 0; i < *n; i++)
        if (ps[i].partition == partition)
            return &ps[i];
    ps[*n] = (struct pstop){partition, INT64_MAX, -1, false, false, INT64_MAX, 0};
    return &ps[(*n)++];
}

static void stop_at(struct pstop *p, int64_t offset, bool transient)
{
    if (offset < p->stop)
        p->stop = offset;
    if (transient)
        p->transient = true;
}

enum run_result {
    RUN_DONE,       /* every step applied, skipped or dead-lettered */
    RUN_STOPPED,    /* transient, fatal or dead letter failure: the partition stops (p set) */
    RUN_DEPENDENCY, /* a dependency is missing: the caller decides (p not touched) */
};

/*
 * Applies one group's steps from g->done on. A dependency failure is final (members given up)
 * only when may_give_up and the retries are spent: the first pass over a batch never gives
 * up, because the missing nested group may come later in the same batch and partition.
 */
static enum run_result run_group(wb_worker_t *wk, struct bmsg *bm, struct wb_gplan *g,
                                 struct pstop *p, bool may_give_up)
{
    struct retry *rt = retry_find(wk, g->partition, g->first_offset, false);
    unsigned attempts = rt ? rt->attempts : 0;
    bool final = may_give_up && retry_spent(wk, rt);
    size_t s, i;

    for (s = g->done; s < g->nsteps; s++, g->done = s) {
        struct wb_step *st = &g->steps[s];
        struct wb_apply_result res;
        struct wb_apply_ctx cx = {g->group, g->partition,
                                  bm[st->events[st->nevents - 1]].rkm->offset, final};
        wb_err_t err = wb_apply_step(wk->ap, &cx, st, &res);
        bool dlq_all = false;

        if (err == WB_ERR_FATAL) {
            wb_log(LOG_CRIT, FAC, "group=%s: fatal: %s (%s)", g->group,
                   res.reason ? res.reason : "", res.ldap_message ? res.ldap_message : "");
            wk->fatal = 1;
            wb_apply_result_free(&res);
            return RUN_STOPPED;
        }
        if (err == WB_ERR_DEPENDENCY && !final && may_give_up && !st->attrs &&
            wb_reason_find(res.reason) == WB_REASON_GROUP_NOT_FOUND && gone_has(wk, g->group)) {
            /* Its upsert was dead-lettered here: waiting cannot bring the group. */
            wb_log(LOG_WARNING, FAC,
                   "group=%s: its upsert was dead-lettered; dead-lettering "
                   "its member changes without waiting",
                   g->group);
        } else if (err == WB_ERR_DEPENDENCY && !final) {
            wb_apply_result_free(&res);
            return RUN_DEPENDENCY;
        }
        if (err == WB_OK) {
            gone_set(wk, g->group, false);
            wb_drift_written(wk->dr, g->group, g->partition);
        } else if (st->attrs && err != WB_ERR_TRANSIENT && err != WB_ERR_DEPENDENCY)
            gone_set(wk, g->group, true);
        if (err == WB_ERR_TRANSIENT) {
            stop_at(p, g->first_offset, true);
            wb_apply_result_free(&res);
            return RUN_STOPPED;
        }
        if (err == WB_OK) {
            for (i = 0; i < st->nevents; i++) {
                struct bmsg *b = &bm[st->events[i]];

                if (res.dead_members && event_names_member(&b->ev, res.dead_members)) {
                    if (dead_letter(wk, b, "member_group_not_found", WB_ERR_DEPENDENCY, -1, NULL,
                                    NULL, attempts + 1) != WB_OK) {
                        stop_at(p, b->rkm->offset, true);
                        wb_apply_result_free(&res);
                        return RUN_STOPPED;
                    }
                    continue;
                }
                b->done = true;
                wb_wmetrics_event(&wk->wm, wb_event_type_name(b->ev.type),
                                  res.skipped ? "skipped" : "applied");
                if (!res.skipped)
                    wb_wmetrics_latency(&wk->wm, now_seconds() - ts_seconds(b->ev.ts));
            }
        } else {
            dlq_all = true; /* conflict, invalid, dependency given up */
        }
        for (i = 0; dlq_all && i < st->nevents; i++) {
            if (dead_letter(wk, &bm[st->events[i]], res.reason ? res.reason : wb_err_name(err), err,
                            res.ldap_rc, res.ldap_message, res.matched_dn, attempts + 1) != WB_OK) {
                stop_at(p, bm[st->events[i]].rkm->offset, true);
                wb_apply_result_free(&res);
                return RUN_STOPPED;
            }
        }
        if (st->snapshot)
            wb_snapstore_release(wk->ss, g->group, st->snapshot);
        wb_apply_result_free(&res);
    }
    retry_clear(wk, g->partition, g->first_offset);
    return RUN_DONE;
}

static void store_offsets(wb_worker_t *wk, struct pstop *ps, size_t nps)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)nps);
    struct pstate *st;
    size_t i;

    for (i = 0; i < nps; i++) {
        int64_t upto = ps[i].stop != INT64_MAX ? ps[i].stop : ps[i].last + 1;
        int64_t hold = wb_snapstore_hold(wk->ss, ps[i].partition);

        if (hold >= 0 && hold < upto)
            upto = hold;
        retry_drop_below(wk, ps[i].partition, upto);
        st = pstate_get(wk, ps[i].partition, true);
        st->clean = ps[i].stop == INT64_MAX && hold < 0 && !retry_any(wk, ps[i].partition);
        if (upto > 0) {
            rd_kafka_topic_partition_list_add(l, wk->topic, ps[i].partition)->offset = upto;
            st->stored = upto;
        }
    }
    if (l->cnt > 0) {
        rd_kafka_resp_err_t err = rd_kafka_offsets_store(wk->consumer, l);

        if (err)
            wb_dbg("worker", FAC, "offsets_store: %s", rd_kafka_err2str(err));
    }
    rd_kafka_topic_partition_list_destroy(l);
}

static void process_batch(wb_worker_t *wk, struct bmsg *bm, size_t n)
{
    struct wb_plan_in *in = wb_calloc(n, sizeof(*in));
    struct pstop *ps = wb_calloc(n, sizeof(*ps));
    size_t nps = 0, i;
    wb_plan_t *plan = NULL;
    struct wb_gplan **later = NULL;
    size_t nlater = 0;
    bool transient = false;
    int64_t t0 = mono_ms();

    for (i = 0; i < n; i++) {
        struct pstop *p = pstop_get(ps, &nps, bm[i].rkm->partition);

        if (bm[i].rkm->offset > p->last)
            p->last = bm[i].rkm->offset;
        in[i].partition = bm[i].rkm->partition;
        in[i].offset = bm[i].rkm->offset;
        in[i].ev = bm[i].ok ? &bm[i].ev : NULL;
    }
    /* Member arrays are only needed until folded (nested groups: see wb_plan.h). */
    plan = wb_plan_build_drop(in, n, wk->ss);
    for (i = 0; i < wb_plan_count(plan) && !wk->fatal; i++) {
        struct wb_gplan *g = wb_plan_get(plan, i);
        struct pstop *p = pstop_get(ps, &nps, g->partition);

        if (g->first_offset >= p->stop)
            continue;
        if (mono_ms() - t0 > wk->batch_time_ms) {
            /* Out of time: this group and the rest of its partition come again. */
            stop_at(p, g->first_offset, false);
            p->yield = true;
            continue;
        }
        if (run_group(wk, bm, g, p, false) == RUN_DEPENDENCY) {
            /* Try the rest of the batch first: the dependency may be behind this group. */
            later = wb_realloc(later, (nlater + 1) * sizeof(*later));
            later[nlater++] = g;
        }
    }
    for (i = 0; i < nlater && !wk->fatal; i++) {
        struct wb_gplan *g = later[i];
        struct pstop *p = pstop_get(ps, &nps, g->partition);
        struct retry *rt;

        if (p->transient) {
            stop_at(p, g->first_offset, true);
            continue;
        }
        if (run_group(wk, bm, g, p, true) != RUN_DEPENDENCY)
            continue;
        rt = retry_find(wk, g->partition, g->first_offset, true);
        rt->attempts++;
        stop_at(p, g->first_offset, false);
        if (g->first_offset < p->dep_at) {
            p->dep_at = g->first_offset;
            p->dep_delay = retry_delay(wk, rt);
        }
        wb_log(LOG_INFO, FAC,
               "group=%s partition=%d offset=%lld: dependency missing (attempt %u, %lld ms); "
               "retrying",
               g->group, (int)g->partition, (long long)g->first_offset, rt->attempts,
               (long long)(mono_ms() - rt->first_ms));
    }
    free(later);
    wb_plan_destroy(plan);
    /* Poison after the groups, so that one behind a stopped group waits for the replay. */
    for (i = 0; i < n; i++) {
        struct pstop *p = pstop_get(ps, &nps, bm[i].rkm->partition);

        if (bm[i].ok || bm[i].rkm->offset >= p->stop)
            continue;
        wb_log(LOG_WARNING, FAC, "partition=%d offset=%lld: undecodable event: %s",
               (int)bm[i].rkm->partition, (long long)bm[i].rkm->offset, bm[i].reason);
        if (dead_letter(wk, &bm[i], wb_reason_tag(WB_REASON_POISON), WB_ERR_INVALID, -1,
                        bm[i].reason, NULL, 1) != WB_OK)
            stop_at(p, bm[i].rkm->offset, true);
    }

    store_offsets(wk, ps, nps);
    for (i = 0; i < nps; i++)
        if (ps[i].stop != INT64_MAX && ps[i].transient)
            transient = true;
    for (i = 0; i < nps; i++) {
        if (ps[i].stop == INT64_MAX)
            continue;
        if (ps[i].transient) {
            pause_one(wk, ps[i].partition, ps[i].stop, 0);
        } else if (ps[i].yield && ps[i].dep_at != ps[i].stop && !transient) {
            size_t j, kept = 0;

            /* The messages from stop on that are not done yet (a group that came earlier in
             * the batch may have events past stop, applied already): the next batch takes
             * them first; the stored offset stays at stop. */
            for (j = 0; j < n; j++)
                if (bm[j].rkm->partition == ps[i].partition && bm[j].rkm->offset >= ps[i].stop &&
                    !bm[j].done) {
                    bm[j].carry = true;
                    kept++;
                }
            wb_dbg("worker", FAC,
                   "partition=%d: batch time spent; %zu messages from offset %lld kept for the "
                   "next batch",
                   (int)ps[i].partition, kept, (long long)ps[i].stop);
        } else if (ps[i].yield && ps[i].dep_at != ps[i].stop) {
            wb_dbg("worker", FAC, "partition=%d: batch time spent; refetching from offset %lld",
                   (int)ps[i].partition, (long long)ps[i].stop);
            seek_one(wk, ps[i].partition, ps[i].stop);
        } else {
            int64_t delay = ps[i].dep_delay > 0 ? ps[i].dep_delay : 1;

            wb_log(LOG_INFO, FAC, "partition=%d paused at offset %lld for %lld ms (dependency)",
                   (int)ps[i].partition, (long long)ps[i].stop, (long long)delay);
            pause_one(wk, ps[i].partition, ps[i].stop, mono_ms() + delay);
        }
    }
    if (transient && !wk->blocked_until) {
        int64_t delay = (int64_t)wb_backoff_next(&wk->ad_backoff);

        wb_log(LOG_WARNING, FAC,
               "AD unavailable or busy, or a dead letter not accepted (see above); pausing all "
               "partitions for %lld ms",
               (long long)delay);
        all_partitions(wk, true);
        wk->blocked_until = mono_ms() + delay;
    }
    free(ps);
    free(in);
}

/* Collects up to batch_max messages (or BATCH_BYTES, see there): wait for the first, then take
 * what is already fetched. Returns the count. */
static size_t collect(wb_worker_t *wk, struct bmsg *bm)
{
    /* Partitions whose latest message in the batch is a snapshot chunk before the last. */
    struct open_snap {
        int32_t partition;
        bool open;
    } *os = NULL;
    size_t n = 0, bytes = 0, nos = 0, nopen = 0, i, j, k, ci = 0, nheld = wk->ncarry;
    int timeout = 200;
    int64_t wait_until = 0;
    /* What the last batch left, taken out of wk->carry, which a revoke may change. */
    rd_kafka_message_t **held = wb_malloc((nheld ? nheld : 1) * sizeof(*held));

    memcpy(held, wk->carry, nheld * sizeof(*held));
    wk->ncarry = 0;
    wk->nrevoked = 0;
    wk->collecting = true;

    while (n < wk->batch_max && bytes < BATCH_BYTES_MAX && (bytes < BATCH_BYTES || nopen > 0)) {
        /* what the last batch left comes first, in its order */
        rd_kafka_message_t *m;

        wk->collected = n;
        m = ci < nheld ? held[ci++] : rd_kafka_consumer_poll(wk->consumer, timeout);

        if (!m) {
            int64_t now = mono_ms();

            if (timeout == 200 || nopen == 0)
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
            if (rd_kafka_fatal_error(wk->consumer, NULL, 0))
                wk->fatal = 1;
            rd_kafka_message_destroy(m);
            continue;
        }
        memset(&bm[n], 0, sizeof(bm[n]));
        bm[n].rkm = m;
        bm[n].ok = wb_event_decode(m->payload ? m->payload : "", m->len, &bm[n].ev, bm[n].reason,
                                   sizeof(bm[n].reason)) == WB_OK;
        bytes += m->len;
        for (i = 0; i < nos && os[i].partition != m->partition; i++)
            ;
        if (i == nos) {
            os = wb_realloc(os, (nos + 1) * sizeof(*os));
            os[nos++] = (struct open_snap){m->partition, false};
        }
        if (os[i].open)
            nopen--;
        os[i].open = bm[n].ok && bm[n].ev.type == WB_EVENT_GROUP_SNAPSHOT &&
                     bm[n].ev.chunk < bm[n].ev.chunks;
        if (os[i].open)
            nopen++;
        n++;
    }
    free(os);
    wk->collecting = false;
    /* Held messages not taken go back (revoked partitions' are dropped). */
    for (; ci < nheld; ci++) {
        for (j = 0; j < wk->nrevoked && wk->revoked[j].partition != held[ci]->partition; j++)
            ;
        if (j < wk->nrevoked)
            rd_kafka_message_destroy(held[ci]);
        else
            wk->carry[wk->ncarry++] = held[ci];
    }
    free(held);
    /* Messages taken before their partition was revoked are not ours to apply any more. */
    for (i = 0, k = 0; i < n; i++) {
        for (j = 0; j < wk->nrevoked; j++)
            if (wk->revoked[j].partition == bm[i].rkm->partition && i < wk->revoked[j].before)
                break;
        if (j < wk->nrevoked) {
            wb_dbg("worker", FAC, "partition=%d offset=%lld: revoked before it was applied",
                   (int)bm[i].rkm->partition, (long long)bm[i].rkm->offset);
            wb_event_free(&bm[i].ev);
            rd_kafka_message_destroy(bm[i].rkm);
            continue;
        }
        if (k != i)
            bm[k] = bm[i];
        k++;
    }
    return k;
}

/* --- lifecycle --- */

static const char **kv_merge(const char *const *defaults, const char *const *user)
{
    size_t nd = 0, nu = 0, i;
    const char **kv;

    while (defaults[nd])
        nd++;
    while (user && user[nu])
        nu++;
    kv = wb_calloc(nd + nu + 1, sizeof(*kv));
    for (i = 0; i < nd; i++)
        kv[i] = defaults[i];
    for (i = 0; i < nu; i++)
        kv[nd + i] = user[i];
    return kv;
}

/* Static membership (KIP-345): a worker with a worker.id joins its consumer group as
 * group.instance.id <worker.group_id>-<worker.id> (checked by wb_conf_validate), so that a
 * crashed worker restarted under the same id takes its partitions back at once, without a
 * rebalance and without waiting for session.timeout.ms. An explicit kafka.group.instance.id
 * wins (and is returned). Returns NULL for a dynamic member. */
static char *static_instance_id(const wb_conf_t *conf, const char *group_id)
{
    const char *const *kv = wb_conf_kafka_kv(conf);
    const char *wid = wb_conf_get_str(conf, "worker.id");
    size_t i;

    for (i = 0; kv[i]; i += 2)
        if (strcmp(kv[i], "group.instance.id") == 0)
            return wb_strdup(kv[i + 1]);
    return wid && *wid ? wb_asprintf("%s-%s", group_id, wid) : NULL;
}

/* On a requested stop the worker leaves its group before closing: librdkafka's close does
 * not send LeaveGroup for a static member (KIP-345), which would keep its partitions
 * unassigned until session.timeout.ms (and `writebackctl replay` refused) after a planned
 * stop. Unsubscribing first revokes the partitions (committing them) and leaves; a crash
 * sends nothing, so the restarted worker takes its place. */
static void leave_group(wb_worker_t *wk)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    int64_t deadline = mono_ms() + 10000;
    rd_kafka_resp_err_t err = rd_kafka_unsubscribe(wk->consumer);

    if (err) {
        wb_log(LOG_WARNING, FAC, "unsubscribe: %s", rd_kafka_err2str(err));
        return;
    }
    while (mono_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(wk->consumer, 100);
        int cnt;

        if (m)
            rd_kafka_message_destroy(m); /* not applied: its offset is not stored */
        if (rd_kafka_assignment(wk->consumer, &l) != RD_KAFKA_RESP_ERR_NO_ERROR || !l)
            break;
        cnt = l->cnt;
        rd_kafka_topic_partition_list_destroy(l);
        l = NULL;
        if (cnt == 0)
            break;
    }
    /* the LeaveGroup request goes out once the revocation is done; give it time to */
    rd_kafka_consumer_poll(wk->consumer, 200);
}

wb_worker_t *wb_worker_new(const wb_conf_t *conf, char *errstr, size_t errsz)
{
    /* session.timeout.ms: how long a vanished member keeps its partitions. A static member
     * restarted within it rejoins without a rebalance; a worker gone for good (scaled down,
     * host lost) has its partitions moved after it. docs/scaling-and-restarts.md. */
    const char *cons_defaults[] = {"statistics.interval.ms",
                                   "5000",
                                   "queued.max.messages.kbytes",
                                   "4096",
                                   "fetch.max.bytes",
                                   "4194304",
                                   "session.timeout.ms",
                                   "45000",
                                   NULL, /* group.instance.id when derived */
                                   NULL,
                                   NULL};
    static const char *const prod_defaults[] = {"message.timeout.ms", "30000", NULL};
    wb_worker_t *wk = wb_calloc(1, sizeof(*wk));
    struct wb_ldap_opts ao;
    struct wb_apply_cfg ac = {0};
    rd_kafka_conf_t *kc = NULL;
    const char **kv = NULL;
    const char *listen;
    char host[128], err[1024];
    LDAPMessage *res = NULL;
    rd_kafka_topic_partition_list_t *sub = NULL;
    rd_kafka_resp_err_t kerr;
    int rc;

    wk->conf = conf;
    wk->topic = wb_conf_get_str(conf, "topic.events");
    wk->dlq_topic = wb_conf_get_str(conf, "topic.dlq");
    wk->group_id = wb_conf_get_str(conf, "worker.group_id");
    wk->max_retries = (unsigned)wb_conf_get_int(conf, "worker.max_retries");
    wk->dep_timeout_ms = wb_conf_get_int(conf, "worker.dependency_timeout_ms");
    wk->batch_max = (size_t)wb_conf_get_int(conf, "worker.batch_max_messages");
    wk->batch_time_ms = wb_conf_get_int(conf, "worker.batch_time_ms");
    wk->carry = wb_calloc(wk->batch_max ? wk->batch_max : 1, sizeof(*wk->carry));
    if (wb_conf_get_str(conf, "worker.id")) {
        wk->worker_id = wb_strdup(wb_conf_get_str(conf, "worker.id"));
    } else {
        if (gethostname(host, sizeof(host)) != 0)
            snprintf(host, sizeof(host), "worker");
        host[sizeof(host) - 1] = '\0';
        wk->worker_id = wb_asprintf("%s-%d", host, (int)getpid());
    }
    wb_backoff_init(&wk->ad_backoff, (uint64_t)wb_conf_get_int(conf, "worker.retry_backoff_ms"),
                    (uint64_t)wb_conf_get_int(conf, "worker.retry_backoff_max_ms"),
                    WB_BACKOFF_DECORRELATED);
    wk->reg = wb_metrics_new();
    wb_wmetrics_init(&wk->wm, wk->reg);
    wk->ss = wb_snapstore_new();

    wb_ldap_opts_from_conf(conf, &ao);
    wk->ad = wb_ad_new(&ao, &wk->wm, errstr, errsz);
    if (!wk->ad)
        goto fail;
    if (wb_ad_connect(wk->ad, err, sizeof(err)) != WB_OK) {
        snprintf(errstr, errsz, "%s", err);
        goto fail;
    }
    rc = wb_ad_search(wk->ad, wb_conf_get_str(conf, "ldap.target_ou"), LDAP_SCOPE_BASE,
                      "(objectClass=*)", (const char *const[]){"1.1", NULL}, NULL, &res);
    ldap_msgfree(res);
    if (rc != LDAP_SUCCESS) {
        snprintf(errstr, errsz, "ldap.target_ou %s: %s (%s); create it or fix the key",
                 wb_conf_get_str(conf, "ldap.target_ou"), ldap_err2string(rc),
                 wb_ad_last_message(wk->ad));
        goto fail;
    }
    ac.base_dn = wb_conf_get_str(conf, "ldap.base_dn");
    ac.target_ou = wb_conf_get_str(conf, "ldap.target_ou");
    ac.soa = wb_conf_get_bool(conf, "mapping.soa");
    ac.dry_run = wb_conf_get_bool(conf, "worker.dry_run");
    ac.adopt = wb_conf_get_bool(conf, "worker.adopt_writeback_v2");
    ac.keep_unscoped = strcmp(wb_conf_get_str(conf, "worker.out_of_scope"), "keep") == 0;
    ac.read_before_write = wb_conf_get_bool(conf, "worker.read_before_write");
    ac.member_chunk = (int)wb_conf_get_int(conf, "ldap.member_chunk");
    ac.range_window = (int)wb_conf_get_int(conf, "ldap.range_window");
    wk->ap = wb_apply_new(wk->ad, &ac, &wk->wm);
    wk->dr = wb_drift_new(conf, wk->reg, errstr, errsz);
    if (!wk->dr)
        goto fail;

    wk->instance_id = static_instance_id(conf, wk->group_id);
    if (wk->instance_id) {
        cons_defaults[8] = "group.instance.id";
        cons_defaults[9] = wk->instance_id;
    }
    kv = kv_merge(cons_defaults, wb_conf_kafka_kv(conf));
    kc = wb_kafka_consumer_conf_new(kv, wk->group_id, errstr, errsz);
    free(kv);
    kv = NULL;
    if (!kc)
        goto fail;
    rd_kafka_conf_set_opaque(kc, wk);
    rd_kafka_conf_set_rebalance_cb(kc, rebalance_cb);
    rd_kafka_conf_set_stats_cb(kc, stats_cb);
    wk->consumer = wb_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, errsz);
    if (!wk->consumer)
        goto fail;
    kv = kv_merge(prod_defaults, wb_conf_kafka_kv(conf));
    wk->producer = wb_kafka_producer_new(kv, errstr, errsz);
    free(kv);
    kv = NULL;
    if (!wk->producer)
        goto fail;
    sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, wk->topic, RD_KAFKA_PARTITION_UA);
    kerr = rd_kafka_subscribe(wk->consumer, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (kerr) {
        snprintf(errstr, errsz, "topic.events %s: subscribe failed: %s", wk->topic,
                 rd_kafka_err2str(kerr));
        goto fail;
    }
    listen = wb_conf_get_str(conf, "worker.metrics_listen");
    if (listen && *listen) {
        wk->http = wb_http_new(listen, wk->reg, err, sizeof(err));
        if (!wk->http) {
            snprintf(errstr, errsz, "worker.metrics_listen %s: %s", listen, err);
            goto fail;
        }
    }
    wb_log(LOG_NOTICE, FAC,
           "worker %s started: group %s (%s%s), topic %s, dead letters to %s, AD %s, target %s%s",
           wk->worker_id, wk->group_id, wk->instance_id ? "static member " : "",
           wk->instance_id ? wk->instance_id : "dynamic member: no worker.id", wk->topic,
           wk->dlq_topic, ao.uri, ac.target_ou, ac.dry_run ? " (dry run: no AD writes)" : "");
    return wk;
fail:
    wb_worker_destroy(wk);
    return NULL;
}

int wb_worker_run(wb_worker_t *wk)
{
    struct bmsg *bm = wb_calloc(wk->batch_max, sizeof(*bm));
    size_t n, i, keep;

    while (!wb_signal_stop_requested() && !wk->fatal) {
        int64_t now = mono_ms();

        if (wk->http)
            wb_http_set_alive(wk->http);
        resume_due(wk, now);
        if (wk->blocked_until) {
            char err[1024];
            wb_err_t e;

            if (now < wk->blocked_until) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(wk->consumer, 100);

                /* Paused partitions deliver nothing; a message here predates the pause and
                 * will be fetched again after the seek. */
                if (m && !m->err) {
                    struct pstate *st = pstate_get(wk, m->partition, false);

                    if (st)
                        st->clean = false; /* its position is past an unapplied message */
                    /* never past what was stored: re-applying is harmless */
                    seek_one(wk, m->partition,
                             st && st->stored >= 0 && st->stored < m->offset ? st->stored
                                                                             : m->offset);
                }
                if (m)
                    rd_kafka_message_destroy(m);
                continue;
            }
            e = wb_ad_connect(wk->ad, err, sizeof(err));
            if (e == WB_ERR_FATAL) {
                wb_log(LOG_CRIT, FAC, "%s", err);
                wk->fatal = 1;
                break;
            }
            if (e != WB_OK) {
                int64_t delay = (int64_t)wb_backoff_next(&wk->ad_backoff);

                wb_log(LOG_WARNING, FAC, "%s; retrying in %lld ms", err, (long long)delay);
                wk->blocked_until = mono_ms() + delay;
                if (wk->http)
                    wb_http_set_ready(wk->http, 0, "AD unavailable");
                continue;
            }
            wb_log(LOG_NOTICE, FAC, "AD reachable again; resuming partitions");
            wb_backoff_reset(&wk->ad_backoff);
            wk->blocked_until = 0;
            all_partitions(wk, false);
            if (wk->http)
                wb_http_set_ready(wk->http, 1, NULL);
        }
        n = collect(wk, bm);
        if (n > 0)
            process_batch(wk, bm, n);
        keep = 0;
        for (i = 0; i < n; i++)
            keep += bm[i].carry;
        if (keep) /* older than any still carried (left by collect): they go first */
            memmove(wk->carry + keep, wk->carry, wk->ncarry * sizeof(*wk->carry));
        wk->ncarry += keep;
        for (i = 0, keep = 0; i < n; i++) {
            wb_event_free(&bm[i].ev);
            if (bm[i].carry)
                wk->carry[keep++] = bm[i].rkm;
            else
                rd_kafka_message_destroy(bm[i].rkm);
        }
        store_positions(wk);
        wb_drift_poll(wk->dr, DRIFT_BUDGET_MS);
    }
    free(bm);
    carry_drop(wk, -1);
    if (wk->fatal)
        return 1;
    wb_log(LOG_NOTICE, FAC, "stopping on request; committing offsets and leaving group %s",
           wk->group_id);
    leave_group(wk);
    return 0;
}

void wb_worker_destroy(wb_worker_t *wk)
{
    if (!wk)
        return;
    wb_http_destroy(wk->http);
    wk->http = NULL;    /* the revoke callback below must not touch it */
    carry_drop(wk, -1); /* before the consumer goes */
    wb_drift_destroy(wk->dr);
    wk->dr = NULL; /* before the consumer's revoke callback */
    if (wk->consumer)
        wb_kafka_destroy(wk->consumer); /* leaves the group: commits on revoke */
    if (wk->producer) {
        wb_kafka_flush(wk->producer, 10000);
        wb_kafka_destroy(wk->producer);
    }
    wb_apply_destroy(wk->ap);
    wb_ad_destroy(wk->ad);
    wb_snapstore_destroy(wk->ss);
    wb_metrics_destroy(wk->reg);
    free(wk->retries);
    free(wk->paused);
    free(wk->pst);
    free(wk->carry);
    free(wk->revoked);
    for (size_t i = 0; i < wk->ngone; i++)
        free(wk->gone[i]);
    free(wk->worker_id);
    free(wk->instance_id);
    free(wk);
}

wb_metrics_t *wb_worker_metrics(wb_worker_t *wk)
{
    return wk->reg;
}
