/*
 * wb_worker: the consumer loop (see wb_worker.h): the consumer group membership (rebalance,
 * static membership, leaving on stop), the AD outage wait, and one wb_batch per turn. The
 * per-partition state is wb_part's, the batch's work wb_batch's.
 */
#include "wb_worker.h"
#include "wb_apply.h"
#include "wb_backoff.h"
#include "wb_batch.h"
#include "wb_drift.h"
#include "wb_http.h"
#include "wb_kafka.h"
#include "wb_ldap.h"
#include "wb_log.h"
#include "wb_mem.h"
#include "wb_part.h"
#include "wb_plan.h"
#include "wb_signal.h"
#include "wb_time.h"
#include "wb_wmetrics.h"

#include <errno.h>
#include <ldap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FAC "WORKER"
/* Longest a drift round holds the consumer loop (the rest waits for the next round). */
#define DRIFT_BUDGET_MS 1000

struct wb_worker_s {
    const wb_conf_t *conf;
    const char *topic, *dlq_topic, *group_id;
    char *worker_id;
    char *instance_id; /* group.instance.id derived from worker.id; NULL: dynamic member */

    rd_kafka_t *consumer, *producer;
    wb_ldap_t *ld;
    wb_apply_t *ap;
    wb_drift_t *dr; /* the drift watch (docs/drift.md) */
    wb_snapstore_t *ss;
    wb_parts_t *pt;
    wb_batch_t *batch;
    wb_metrics_t *reg;
    struct wb_wmetrics wm;
    wb_http_t *http;

    struct wb_backoff ad_backoff;
    int64_t blocked_until; /* all partitions paused (AD down) until then; 0 = not blocked */
    int fatal;
};

/* --- consumer group membership --- */

static void assigned_gauge(wb_worker_t *wk)
{
    rd_kafka_topic_partition_list_t *l = NULL;

    if (rd_kafka_assignment(wk->consumer, &l) != RD_KAFKA_RESP_ERR_NO_ERROR || !l)
        return;
    wb_wmetrics_assigned(&wk->wm, l->cnt);
    rd_kafka_topic_partition_list_destroy(l);
}

/* Partitions revoked or lost, before librdkafka commits and unassigns them: whatever this
 * worker holds for them (snapshots in flight, carried messages, retries, pauses, lag gauges)
 * goes; their new owner starts from the committed offset. */
static void on_revoke(wb_worker_t *wk, const rd_kafka_topic_partition_list_t *parts)
{
    int i;

    for (i = 0; i < parts->cnt; i++) {
        const char *lv[1];
        const char *cg[3];
        char p[16];

        snprintf(p, sizeof(p), "%d", (int)parts->elems[i].partition);
        lv[0] = p;
        cg[0] = wk->group_id;
        cg[1] = parts->elems[i].topic;
        cg[2] = p;
        wb_plan_snapstore_drop_partition(wk->ss, parts->elems[i].partition);
        wb_batch_revoke(wk->batch, parts->elems[i].partition);
        wb_part_revoke(wk->pt, parts->elems[i].partition);
        wb_metrics_remove(wk->wm.lag, lv);
        wb_metrics_remove(wk->wm.cg_lag, cg);
    }
}

/* Partitions assigned, after librdkafka assigned them: each starts with nothing stored. */
static void on_assign(wb_worker_t *wk, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts)
{
    int i;

    for (i = 0; i < parts->cnt; i++)
        wb_part_assign(wk->pt, parts->elems[i].partition);
    if (wk->blocked_until)
        rd_kafka_pause_partitions(rk, parts); /* AD is down: new partitions wait too */
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    wb_worker_t *wk = opaque;
    bool assign = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
    bool revoke = err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS;

    if (revoke)
        on_revoke(wk, parts);
    wb_wmetrics_rebalance(&wk->wm, assign, revoke && rd_kafka_assignment_lost(rk), parts->cnt);
    wb_drift_rebalance(wk->dr, rk, parts, assign);
    wb_kafka_rebalance_cb(rk, err, parts, NULL);
    assigned_gauge(wk);
    if (assign)
        on_assign(wk, rk, parts);
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
    int64_t deadline = wb_time_mono_ms() + 10000;
    rd_kafka_resp_err_t err = rd_kafka_unsubscribe(wk->consumer);

    if (err) {
        wb_log(LOG_WARNING, FAC, "unsubscribe: %s", rd_kafka_err2str(err));
        return;
    }
    while (wb_time_mono_ms() < deadline) {
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
/* The worker's name in dead-letter headers and logs: worker.id, else <host>-<pid>. */
static char *worker_name(const wb_conf_t *conf)
{
    char host[128];

    if (wb_conf_get_str(conf, "worker.id"))
        return wb_strdup(wb_conf_get_str(conf, "worker.id"));
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "worker");
    host[sizeof(host) - 1] = '\0';
    return wb_asprintf("%s-%d", host, (int)getpid());
}

/* Creates the consumer and the dead-letter producer. Returns false with errstr filled. */
static bool kafka_open(wb_worker_t *wk, char *errstr, size_t errsz)
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
    rd_kafka_conf_t *kc = NULL;
    const char **kv = NULL;

    wk->instance_id = static_instance_id(wk->conf, wk->group_id);
    if (wk->instance_id) {
        cons_defaults[8] = "group.instance.id";
        cons_defaults[9] = wk->instance_id;
    }
    kv = kv_merge(cons_defaults, wb_conf_kafka_kv(wk->conf));
    kc = wb_kafka_consumer_conf_new(kv, wk->group_id, errstr, errsz);
    free(kv);
    if (!kc)
        return false;
    rd_kafka_conf_set_opaque(kc, wk);
    rd_kafka_conf_set_rebalance_cb(kc, rebalance_cb);
    rd_kafka_conf_set_stats_cb(kc, stats_cb);
    wk->consumer = wb_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, errsz);
    if (!wk->consumer)
        return false;
    kv = kv_merge(prod_defaults, wb_conf_kafka_kv(wk->conf));
    wk->producer = wb_kafka_producer_new(kv, errstr, errsz);
    free(kv);
    return wk->producer != NULL;
}

/* A group's step was written: the drift watch re-reads it instead of reporting our own write. */
static void written(void *ctx, const char *group, int32_t partition)
{
    wb_worker_t *wk = ctx;

    wb_drift_written(wk->dr, group, partition);
}

/* The partition table and the batch, over the consumer, producer and apply made before. */
static void batch_open(wb_worker_t *wk)
{
    const wb_conf_t *conf = wk->conf;
    struct wb_part_cfg pc = {0};
    struct wb_batch_cfg bc = {0};

    pc.consumer = wk->consumer;
    pc.topic = wk->topic;
    pc.max_retries = (unsigned)wb_conf_get_int(conf, "worker.max_retries");
    pc.dep_timeout_ms = wb_conf_get_int(conf, "worker.dependency_timeout_ms");
    pc.backoff_ms = wb_conf_get_int(conf, "worker.retry_backoff_ms");
    pc.backoff_max_ms = wb_conf_get_int(conf, "worker.retry_backoff_max_ms");
    wk->pt = wb_part_new(&pc);
    bc.consumer = wk->consumer;
    bc.producer = wk->producer;
    bc.ap = wk->ap;
    bc.ss = wk->ss;
    bc.pt = wk->pt;
    bc.wm = &wk->wm;
    bc.written = written;
    bc.written_ctx = wk;
    bc.dlq_topic = wk->dlq_topic;
    bc.group_id = wk->group_id;
    bc.worker_id = wk->worker_id;
    bc.batch_max = (size_t)wb_conf_get_int(conf, "worker.batch_max_messages");
    bc.batch_time_ms = wb_conf_get_int(conf, "worker.batch_time_ms");
    wk->batch = wb_batch_new(&bc);
}

/* Subscribes to topic.events and opens the metrics endpoint. Returns false with errstr. */
static bool start(wb_worker_t *wk, char *errstr, size_t errsz)
{
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_resp_err_t kerr;
    const char *listen;
    char err[1024];

    rd_kafka_topic_partition_list_add(sub, wk->topic, RD_KAFKA_PARTITION_UA);
    kerr = rd_kafka_subscribe(wk->consumer, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (kerr) {
        snprintf(errstr, errsz, "topic.events %s: subscribe failed: %s", wk->topic,
                 rd_kafka_err2str(kerr));
        return false;
    }
    listen = wb_conf_get_str(wk->conf, "worker.metrics_listen");
    if (listen && *listen) {
        wk->http = wb_http_new(listen, wk->reg, err, sizeof(err));
        if (!wk->http) {
            snprintf(errstr, errsz, "worker.metrics_listen %s: %s", listen, err);
            return false;
        }
    }
    return true;
}

wb_worker_t *wb_worker_new(const wb_conf_t *conf, char *errstr, size_t errsz)
{
    wb_worker_t *wk = wb_calloc(1, sizeof(*wk));
    struct wb_ldap_opts ao;
    struct wb_apply_cfg ac = {0};
    struct wb_ldap_entry *ou = NULL;
    int rc;

    wk->conf = conf;
    wk->topic = wb_conf_get_str(conf, "topic.events");
    wk->dlq_topic = wb_conf_get_str(conf, "topic.dlq");
    wk->group_id = wb_conf_get_str(conf, "worker.group_id");
    wk->worker_id = worker_name(conf);
    wb_backoff_init(&wk->ad_backoff, (uint64_t)wb_conf_get_int(conf, "worker.retry_backoff_ms"),
                    (uint64_t)wb_conf_get_int(conf, "worker.retry_backoff_max_ms"),
                    WB_BACKOFF_DECORRELATED);
    wk->reg = wb_metrics_new();
    wb_wmetrics_init(&wk->wm, wk->reg);
    wk->ss = wb_plan_snapstore_new();

    wb_ldap_opts_from_conf(conf, &ao);
    if (!ao.uri || !*ao.uri || !ao.bind_dn || !ao.password) {
        snprintf(errstr, errsz, "ldap.uri, ldap.bind_dn and ldap.password_file must be set");
        goto fail;
    }
    ao.lazy = 1;
    ao.reconnect = 1; /* the session reconnects by itself after a server restart */
    wk->ld = wb_ldap_new(&ao, errstr, errsz);
    if (!wk->ld)
        goto fail;
    wb_ldap_set_op_hook(wk->ld, wb_wmetrics_ldap_hook, &wk->wm);
    if (wb_ldap_connect(wk->ld) != WB_OK) {
        snprintf(errstr, errsz, "%s", wb_ldap_last_error(wk->ld));
        goto fail;
    }
    /* A missing OU is "nothing matched" to a base search: say so as the server would. */
    rc = LDAP_SUCCESS;
    if (wb_ldap_search_unique(wk->ld, wb_conf_get_str(conf, "ldap.target_ou"), WB_LDAP_SCOPE_BASE,
                              "(objectClass=*)", NULL, &ou) != WB_OK)
        rc = wb_ldap_last_rc(wk->ld);
    else if (!ou)
        rc = LDAP_NO_SUCH_OBJECT;
    if (rc != LDAP_SUCCESS) {
        snprintf(errstr, errsz, "ldap.target_ou %s: %s (%s); create it or fix the key",
                 wb_conf_get_str(conf, "ldap.target_ou"), ldap_err2string(rc),
                 wb_ldap_last_error(wk->ld));
        goto fail;
    }
    wb_ldap_entry_free(ou);
    ac.base_dn = wb_conf_get_str(conf, "ldap.base_dn");
    ac.target_ou = wb_conf_get_str(conf, "ldap.target_ou");
    ac.soa = wb_conf_get_bool(conf, "mapping.soa");
    ac.dry_run = wb_conf_get_bool(conf, "worker.dry_run");
    ac.adopt = wb_conf_get_bool(conf, "worker.adopt_writeback_v2");
    ac.keep_unscoped = strcmp(wb_conf_get_str(conf, "worker.out_of_scope"), "keep") == 0;
    ac.read_before_write = wb_conf_get_bool(conf, "worker.read_before_write");
    ac.member_chunk = (int)wb_conf_get_int(conf, "ldap.member_chunk");
    ac.range_window = (int)wb_conf_get_int(conf, "ldap.range_window");
    wk->ap = wb_apply_new(wk->ld, &ac, wk->wm.skipped);
    wk->dr = wb_drift_new(conf, wk->reg, errstr, errsz);
    if (!wk->dr)
        goto fail;
    if (!kafka_open(wk, errstr, errsz))
        goto fail;
    batch_open(wk);
    if (!start(wk, errstr, errsz))
        goto fail;
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

/* While AD is down every partition is paused: polling serves rebalances only. A message
 * delivered now predates the pause and will be fetched again after the seek. */
static void poll_blocked(wb_worker_t *wk)
{
    rd_kafka_message_t *m = rd_kafka_consumer_poll(wk->consumer, 100);

    if (m && !m->err) {
        struct wb_part *st = wb_part_get(wk->pt, m->partition, false);

        if (st)
            st->clean = false; /* its position is past an unapplied message */
        /* never past what was stored: re-applying is harmless */
        wb_part_seek(wk->pt, m->partition,
                     st && st->stored >= 0 && st->stored < m->offset ? st->stored : m->offset);
    }
    if (m)
        rd_kafka_message_destroy(m);
}

/* The AD backoff ran out: reconnects. Returns true when AD is back (partitions resumed);
 * false when it is still down (backoff again) or failed for good (wk->fatal). */
static bool ad_reconnect(wb_worker_t *wk)
{
    char err[1024];
    wb_err_t e;

    e = wb_ldap_connect(wk->ld);
    snprintf(err, sizeof(err), "%s", wb_ldap_last_error(wk->ld));
    if (e == WB_ERR_FATAL) {
        wb_log(LOG_CRIT, FAC, "%s", err);
        wk->fatal = 1;
        return false;
    }
    if (e != WB_OK) {
        int64_t delay = (int64_t)wb_backoff_next(&wk->ad_backoff);

        wb_log(LOG_WARNING, FAC, "%s; retrying in %lld ms", err, (long long)delay);
        wk->blocked_until = wb_time_mono_ms() + delay;
        if (wk->http)
            wb_http_set_ready(wk->http, 0, "AD unavailable");
        return false;
    }
    wb_log(LOG_NOTICE, FAC, "AD reachable again; resuming partitions");
    wb_backoff_reset(&wk->ad_backoff);
    wk->blocked_until = 0;
    wb_part_resume_all(wk->pt);
    if (wk->http)
        wb_http_set_ready(wk->http, 1, NULL);
    return true;
}

/* One batch; a transient stop pauses every partition for the AD backoff. */
static void batch_turn(wb_worker_t *wk)
{
    wb_err_t e = wb_batch_run(wk->batch);

    if (e == WB_ERR_FATAL)
        wk->fatal = 1;
    if (e == WB_ERR_TRANSIENT && !wk->blocked_until) {
        int64_t delay = (int64_t)wb_backoff_next(&wk->ad_backoff);

        wb_log(LOG_WARNING, FAC,
               "AD unavailable or busy, or a dead letter not accepted (see above); pausing "
               "all partitions for %lld ms",
               (long long)delay);
        wb_part_pause_all(wk->pt);
        wk->blocked_until = wb_time_mono_ms() + delay;
    }
    if (!wk->blocked_until)
        wb_part_store_positions(wk->pt);
    wb_drift_poll(wk->dr, DRIFT_BUDGET_MS);
}

int wb_worker_run(wb_worker_t *wk)
{
    while (!wb_signal_stop_requested() && !wk->fatal) {
        int64_t now = wb_time_mono_ms();

        if (wk->http)
            wb_http_set_alive(wk->http);
        wb_part_resume_due(wk->pt, now);
        if (wk->blocked_until && now < wk->blocked_until) {
            poll_blocked(wk);
            continue;
        }
        if (wk->blocked_until && !ad_reconnect(wk))
            continue;
        batch_turn(wk);
    }
    wb_batch_forget(wk->batch);
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
    wk->http = NULL; /* the revoke callback below must not touch it */
    if (wk->batch)
        wb_batch_forget(wk->batch); /* before the consumer goes */
    wb_drift_destroy(wk->dr);
    wk->dr = NULL; /* before the consumer's revoke callback */
    if (wk->consumer)
        wb_kafka_destroy(wk->consumer); /* leaves the group: commits on revoke */
    if (wk->producer) {
        wb_kafka_flush(wk->producer, 10000);
        wb_kafka_destroy(wk->producer);
    }
    wb_batch_destroy(wk->batch);
    wb_part_destroy(wk->pt);
    wb_apply_destroy(wk->ap);
    wb_ldap_destroy(wk->ld);
    wb_plan_snapstore_destroy(wk->ss);
    wb_metrics_destroy(wk->reg);
    free(wk->worker_id);
    free(wk->instance_id);
    free(wk);
}

wb_metrics_t *wb_worker_metrics(wb_worker_t *wk)
{
    return wk->reg;
}
