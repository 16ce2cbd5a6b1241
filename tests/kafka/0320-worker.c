/*
 * 0320-worker: the whole worker against the real Kafka broker and Samba AD DC, in process:
 * events produced to a fresh topic are applied (snapshot across chunks, member delta), a name
 * conflict, a poison message and a member change for a group never created are dead-lettered
 * with the wb.* headers and the original key and value, offsets are committed to the end on
 * stop, and a second consumer group replaying the converged topic sends no LDAP writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <ldap.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wb_apply.h"
#include "wb_conf.h"
#include "wb_event.h"
#include "wb_id.h"
#include "wb_kafka.h"
#include "wb_map.h"
#include "wb_mem.h"
#include "wb_signal.h"
#include "wb_worker.h"
#include "wbt_conf.h"
#include "wbt_env.h"
#include "wbt_ldap.h"
#include "wbt_metrics.h"

static struct wbt_ldap_ou fx; /* the run's OU and three users */
static wb_ldap_t *ld;         /* fx's session: setup and checks use its handle */
static char *ou, *topic, *dlq, **usid, **uid;
static unsigned run;

static size_t member_count(const char *dn)
{
    struct wb_apply_cfg c = {getenv("WB_TEST_LDAP_BASE_DN"), ou, 0, 0, 0, 0, 1, 1000, 1000};
    wb_apply_t *ap = wb_apply_new(ld, &c, NULL);
    wb_mset_t *cur = NULL;
    const struct wb_mset_entry *e;
    size_t pos = 0, n = 0;

    if (wb_apply_read_members(ap, dn, &cur) == LDAP_SUCCESS)
        while ((e = wb_mset_next(cur, &pos)) != NULL)
            n += strncmp(e->m.id, "g:", 2) == 0;
    wb_mset_destroy(cur);
    wb_apply_destroy(ap);
    return n;
}

static int setup(void **state)
{
    char err[512];
    const char *kv[] = {"bootstrap.servers", getenv("WB_TEST_KAFKA_BOOTSTRAP"), NULL};
    rd_kafka_t *rk;
    int rc = 0;

    (void)state;
    if (wbt_ldap_ou_create(&fx, "0320", 3) != 0)
        return -1;
    ld = fx.ld;
    ou = fx.dn;
    usid = fx.usid;
    uid = fx.uid;
    run = fx.run;
    topic = wb_asprintf("t0320-%08x.events", run);
    dlq = wb_asprintf("t0320-%08x.dlq", run);
    rk = wb_kafka_producer_new(kv, err, sizeof(err));
    if (!rk || wb_kafka_create_topic(rk, topic, 3, NULL, 30000) != WB_OK ||
        wb_kafka_create_topic(rk, dlq, 1, NULL, 30000) != WB_OK)
        rc = -1;
    wb_kafka_destroy(rk);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    wbt_ldap_ou_destroy(&fx);
    free(topic);
    free(dlq);
    return 0;
}

static wb_conf_t *worker_conf(const char *group)
{
    const char *const extra[][2] = {
        {"worker.id", "t0320"},
        {"worker.max_retries", "2"},
        {"worker.dependency_timeout_ms", "1500"},
        {NULL, NULL},
    };

    return wbt_conf_worker(topic, dlq, ou, group, extra);
}

static void *run_worker(void *arg)
{
    wb_worker_t *wk = arg;

    return (void *)(intptr_t)wb_worker_run(wk);
}

static void produce(rd_kafka_t *rk, struct wb_event *ev)
{
    char *json = wb_event_encode(ev), reason[256];

    if (wb_event_validate(ev, reason, sizeof(reason)) != WB_OK)
        fail_msg("invalid test event: %s", reason);
    assert_int_equal(wb_kafka_produce(rk, topic, ev->group, strlen(ev->group), json, strlen(json),
                                      NULL, 0, NULL),
                     WB_OK);
    free(json);
}

static struct wb_event base_event(enum wb_event_type type, const char *group)
{
    struct wb_event ev = {0};

    ev.v = 1;
    ev.type = type;
    ev.tenant = "t0320";
    ev.group = (char *)group;
    ev.round = "r1";
    ev.ts = "2024-05-01T12:00:00.000Z";
    return ev;
}

static double metric(wb_worker_t *wk, const char *needle)
{
    return wbt_metrics_value(wb_worker_metrics(wk), needle, -1);
}

static double mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_pipeline(void **state)
{
    char *ga = wb_asprintf("%08x-0320-4000-8000-00000000000a", run);
    char *gb = wb_asprintf("%08x-0320-4000-8000-00000000000b", run);
    char *gc = wb_asprintf("%08x-0320-4000-8000-00000000000c", run);
    char *adn = wb_map_dn("Alpha", 5, ga, ou), *bdn = wb_map_dn("Beta", 4, gb, ou);
    char *group1 = wb_asprintf("t0320-%08x-a", run), *group2 = wb_asprintf("t0320-%08x-b", run);
    const char *kv[] = {"bootstrap.servers", getenv("WB_TEST_KAFKA_BOOTSTRAP"), NULL};
    struct wb_member m0 = {WB_MEMBER_USER, uid[0], usid[0], NULL};
    struct wb_member m1 = {WB_MEMBER_USER, uid[1], usid[1], NULL};
    struct wb_member m2 = {WB_MEMBER_USER, uid[2], usid[2], NULL};
    struct wb_event ev;
    char err[1024];
    rd_kafka_t *rk, *dc;
    wb_conf_t *conf;
    wb_worker_t *wk;
    pthread_t th;
    void *ret;
    int i, dead = 0, reasons = 0;
    rd_kafka_topic_partition_list_t *parts;
    double t0, t_dead = -1;
    char num[16];

    (void)state;
    /* A foreign group sits where Beta would go. */
    assert_int_equal(wbt_ldap_add(ld, bdn, (const char *const[]){"objectClass", "group", NULL}), 0);

    rk = wb_kafka_producer_new(kv, err, sizeof(err));
    assert_non_null(rk);
    ev = base_event(WB_EVENT_GROUP_UPSERT, ga);
    ev.attrs.display_name = "Alpha";
    ev.attrs.security_enabled = true;
    produce(rk, &ev);
    ev = base_event(WB_EVENT_GROUP_SNAPSHOT, ga);
    ev.snapshot = "s1";
    ev.chunks = 2;
    ev.chunk = 1;
    ev.members = &m0;
    ev.members_count = 1;
    produce(rk, &ev);
    ev.chunk = 2;
    ev.members = &m1;
    produce(rk, &ev);
    ev = base_event(WB_EVENT_GROUP_MEMBERS, ga);
    ev.add = &m2;
    ev.add_count = 1;
    produce(rk, &ev);
    ev = base_event(WB_EVENT_GROUP_UPSERT, gb);
    ev.attrs.display_name = "Beta";
    produce(rk, &ev);
    ev = base_event(WB_EVENT_GROUP_MEMBERS, gc);
    ev.add = &m0;
    ev.add_count = 1;
    produce(rk, &ev);
    assert_int_equal(wb_kafka_produce(rk, topic, gc, strlen(gc), "{not json", 9, NULL, 0, NULL),
                     WB_OK);
    assert_int_equal(wb_kafka_flush(rk, 30000), WB_OK);
    wb_kafka_destroy(rk);

    conf = worker_conf(group1);
    wk = wb_worker_new(conf, err, sizeof(err));
    if (!wk)
        fail_msg("%s", err);
    wb_signal_reset();
    t0 = mono_s();
    assert_int_equal(pthread_create(&th, NULL, run_worker, wk), 0);
    for (i = 0; i < 600; i++) {
        if (t_dead < 0 &&
            metric(wk, "writeback_worker_dead_letters_total{reason=\"group_not_found\"} ") >= 1)
            t_dead = mono_s() - t0;
        if (metric(wk,
                   "writeback_worker_events_total{type=\"group.members\",outcome=\"applied\"} ") >=
                1 &&
            metric(wk, "writeback_worker_dead_letters_total{reason=\"group_not_found\"} ") >= 1 &&
            metric(wk, "writeback_worker_dead_letters_total{reason=\"poison\"} ") >= 1 &&
            metric(wk, "writeback_worker_dead_letters_total{reason=\"dn_conflict\"} ") >= 1)
            break;
        usleep(100 * 1000);
    }
    wb_signal_request_stop();
    pthread_join(th, &ret);
    assert_int_equal((int)(intptr_t)ret, 0);
    /* The dependency retry lasts worker.dependency_timeout_ms although its count (2 retries of
     * 100-300 ms) is spent much earlier. */
    print_message("group_not_found dead-lettered after %.2f s\n", t_dead);
    assert_true(t_dead >= 1.5 && t_dead < 30);
    assert_true(
        metric(wk, "writeback_worker_events_total{type=\"group.snapshot\",outcome=\"applied\"} ") ==
        2);
    /* the create carries its first member chunk: one add may be the only write */
    assert_true(metric(wk, "\nwriteback_worker_ldap_writes_total ") >= 1);
    /* every operation is timed: at least as many adds timed as succeeded, some time spent */
    assert_true(metric(wk, "writeback_worker_ldap_operations_total{op=\"add\",result=\"ok\"} ") >=
                1);
    assert_true(metric(wk, "writeback_worker_ldap_operation_seconds_count{op=\"add\"} ") >=
                metric(wk, "writeback_worker_ldap_operations_total{op=\"add\",result=\"ok\"} "));
    assert_true(metric(wk, "writeback_worker_ldap_operation_seconds_sum{op=\"search\"} ") > 0);
    wb_worker_destroy(wk); /* commits */
    wb_conf_destroy(conf);
    assert_int_equal(member_count(adn), 3);

    /* Dead letters: original key/value and the wb.* headers. */
    {
        const char *ckv[] = {"bootstrap.servers", getenv("WB_TEST_KAFKA_BOOTSTRAP"),
                             "auto.offset.reset", "earliest", NULL};
        char *g = wb_asprintf("t0320-%08x-dlqreader", run);

        dc = wb_kafka_consumer_new(ckv, g, err, sizeof(err));
        free(g);
        assert_non_null(dc);
        parts = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(parts, dlq, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_assign(dc, parts);
        rd_kafka_topic_partition_list_destroy(parts);
        for (i = 0; i < 100 && dead < 3; i++) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(dc, 200);
            rd_kafka_headers_t *h = NULL;
            const void *val;
            size_t len;

            if (!m)
                continue;
            if (!m->err) {
                dead++;
                assert_int_equal(rd_kafka_message_headers(m, &h), RD_KAFKA_RESP_ERR_NO_ERROR);
                assert_int_equal(rd_kafka_header_get_last(h, "wb.reason", &val, &len), 0);
                if (len == 6 && memcmp(val, "poison", 6) == 0) {
                    reasons |= 1;
                    assert_int_equal(m->len, 9);
                    assert_memory_equal(m->payload, "{not json", 9);
                    assert_int_equal(m->key_len, strlen(gc));
                    rd_kafka_header_get_last(h, "wb.class", &val, &len);
                    assert_memory_equal(val, "invalid", 7);
                } else if (len == 15 && memcmp(val, "group_not_found", 15) == 0) {
                    reasons |= 2;
                    rd_kafka_header_get_last(h, "wb.attempts", &val, &len);
                    assert_true(len > 0 && len < sizeof(num));
                    memcpy(num, val, len);
                    num[len] = '\0';
                    assert_true(atoi(num) >= 3); /* retried until the deadline */
                    rd_kafka_header_get_last(h, "wb.class", &val, &len);
                    assert_memory_equal(val, "dependency", 10);
                } else if (len == 11 && memcmp(val, "dn_conflict", 11) == 0) {
                    reasons |= 4;
                    rd_kafka_header_get_last(h, "wb.ldap.rc", &val, &len);
                    assert_memory_equal(val, "68", 2);
                    rd_kafka_header_get_last(h, "wb.ldap.matched_dn", &val, &len);
                    assert_int_equal(len, strlen(bdn));
                    assert_memory_equal(val, bdn, len);
                }
                assert_int_equal(rd_kafka_header_get_last(h, "wb.orig.topic", &val, &len), 0);
                assert_int_equal(len, strlen(topic));
                assert_int_equal(rd_kafka_header_get_last(h, "wb.consumer_group", &val, &len), 0);
                assert_memory_equal(val, group1, len);
                assert_int_equal(rd_kafka_header_get_last(h, "wb.worker_id", &val, &len), 0);
                assert_int_equal(rd_kafka_header_get_last(h, "wb.time", &val, &len), 0);
                assert_int_equal(rd_kafka_header_get_last(h, "wb.orig.offset", &val, &len), 0);
            }
            rd_kafka_message_destroy(m);
        }
        assert_int_equal(dead, 3);
        assert_int_equal(reasons, 7);

        /* Committed offsets of the worker's group reach the end of every partition. */
        {
            rd_kafka_t *probe;
            char *g2 = wb_strdup(group1);
            int64_t lo, hi;

            probe = wb_kafka_consumer_new(ckv, g2, err, sizeof(err));
            parts = rd_kafka_topic_partition_list_new(3);
            for (i = 0; i < 3; i++)
                rd_kafka_topic_partition_list_add(parts, topic, i);
            assert_int_equal(rd_kafka_committed(probe, parts, 10000), 0);
            for (i = 0; i < 3; i++) {
                assert_int_equal(rd_kafka_query_watermark_offsets(probe, topic, i, &lo, &hi, 10000),
                                 0);
                if (hi > 0)
                    assert_int_equal(parts->elems[i].offset, hi);
            }
            rd_kafka_topic_partition_list_destroy(parts);
            wb_kafka_destroy(probe);
            free(g2);
        }
        wb_kafka_destroy(dc);
    }

    /* Replay of the converged topic by a new group: no LDAP writes at all. */
    conf = worker_conf(group2);
    wk = wb_worker_new(conf, err, sizeof(err));
    assert_non_null(wk);
    wb_signal_reset();
    assert_int_equal(pthread_create(&th, NULL, run_worker, wk), 0);
    for (i = 0; i < 600; i++) {
        if (metric(wk, "writeback_worker_dead_letters_total{reason=\"group_not_found\"} ") >= 1 &&
            metric(wk,
                   "writeback_worker_events_total{type=\"group.members\",outcome=\"applied\"} ") >=
                1)
            break;
        usleep(100 * 1000);
    }
    wb_signal_request_stop();
    pthread_join(th, &ret);
    assert_true(
        metric(wk, "writeback_worker_events_total{type=\"group.upsert\",outcome=\"applied\"} ") ==
        1);
    print_message("replay: %.0f LDAP writes\n",
                  metric(wk, "\nwriteback_worker_ldap_writes_total "));
    assert_true(metric(wk, "\nwriteback_worker_ldap_writes_total ") == 0);
    wb_worker_destroy(wk);
    wb_conf_destroy(conf);
    wb_signal_reset();

    free(group1);
    free(group2);
    free(adn);
    free(bdn);
    free(ga);
    free(gb);
    free(gc);
}

/* Read the committed offset and the lag metric of every partition of the transactional topic;
 * true when each committed offset equals the high watermark and no lag series is above 0 (wk
 * NULL: offsets only). */
static bool tx_converged(wb_worker_t *wk, rd_kafka_t *probe, const char *tx, int64_t *hi_out)
{
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(3);
    bool ok = true;
    int i;

    for (i = 0; i < 3; i++)
        rd_kafka_topic_partition_list_add(parts, tx, i);
    if (rd_kafka_committed(probe, parts, 10000) != 0)
        ok = false;
    for (i = 0; ok && i < 3; i++) {
        int64_t lo, hi;
        char needle[64];

        assert_int_equal(rd_kafka_query_watermark_offsets(probe, tx, i, &lo, &hi, 10000), 0);
        hi_out[i] = hi;
        if (hi > 0 && parts->elems[i].offset != hi)
            ok = false;
        snprintf(needle, sizeof(needle), "writeback_worker_lag_messages{partition=\"%d\"} ", i);
        if (wk && metric(wk, needle) > 0)
            ok = false;
    }
    rd_kafka_topic_partition_list_destroy(parts);
    return ok;
}

/*
 * The producer writes the events topic in transactions, so a commit marker follows the last
 * message of each partition: the worker must store its position past that marker, or the
 * committed offset stays one below the high watermark and the lag never reaches 0.
 */
static void test_transactional_lag(void **state)
{
    char *tx = wb_asprintf("t0320-%08x.tx", run), *saved = topic, *txid;
    char *group = wb_asprintf("t0320-%08x-tx", run);
    const char *ckv[] = {"bootstrap.servers", getenv("WB_TEST_KAFKA_BOOTSTRAP"), NULL};
    struct wb_member m0 = {WB_MEMBER_USER, uid[0], usid[0], NULL};
    rd_kafka_error_t *kerr;
    rd_kafka_t *rk, *probe;
    wb_conf_t *conf;
    wb_worker_t *wk;
    pthread_t th;
    void *ret;
    char err[1024], *gids[6];
    int64_t hi[3] = {0, 0, 0};
    bool done = false;
    int i, t;

    (void)state;
    txid = wb_asprintf("t0320-%08x-txid", run);
    {
        const char *kv[] = {"bootstrap.servers", getenv("WB_TEST_KAFKA_BOOTSTRAP"),
                            "transactional.id", txid, NULL};

        rk = wb_kafka_producer_new(kv, err, sizeof(err));
    }
    if (!rk)
        fail_msg("%s", err);
    assert_int_equal(wb_kafka_create_topic(rk, tx, 3, NULL, 30000), WB_OK);
    kerr = rd_kafka_init_transactions(rk, 30000);
    if (kerr)
        fail_msg("init_transactions: %s", rd_kafka_error_string(kerr));
    topic = tx; /* produce() and worker_conf() use it */
    for (t = 0; t < 2; t++) {
        assert_null(rd_kafka_begin_transaction(rk));
        for (i = 0; i < 3; i++) {
            struct wb_event ev;

            gids[t * 3 + i] = wb_asprintf("%08x-0320-4000-8000-0000000001%d%d", run, t, i);
            ev = base_event(WB_EVENT_GROUP_UPSERT, gids[t * 3 + i]);
            ev.attrs.display_name = "Tx";
            ev.attrs.security_enabled = true;
            produce(rk, &ev);
            ev = base_event(WB_EVENT_GROUP_SNAPSHOT, gids[t * 3 + i]);
            ev.snapshot = "s1";
            ev.chunks = 1;
            ev.chunk = 1;
            ev.members = &m0;
            ev.members_count = 1;
            produce(rk, &ev);
        }
        kerr = rd_kafka_commit_transaction(rk, 30000);
        if (kerr)
            fail_msg("commit_transaction: %s", rd_kafka_error_string(kerr));
    }
    wb_kafka_destroy(rk);

    conf = worker_conf(group);
    assert_int_equal(wb_conf_set(conf, "kafka.statistics.interval.ms", "500", err, sizeof(err)),
                     WB_OK);
    assert_int_equal(wb_conf_set(conf, "kafka.auto.commit.interval.ms", "500", err, sizeof(err)),
                     WB_OK);
    wk = wb_worker_new(conf, err, sizeof(err));
    if (!wk)
        fail_msg("%s", err);
    probe = wb_kafka_consumer_new(ckv, group, err, sizeof(err));
    assert_non_null(probe);
    wb_signal_reset();
    assert_int_equal(pthread_create(&th, NULL, run_worker, wk), 0);
    for (i = 0; i < 60 && !done; i++) {
        sleep(1);
        done = metric(wk, "writeback_worker_events_total{type=\"group.snapshot\","
                          "outcome=\"applied\"} ") == 6 &&
               tx_converged(wk, probe, tx, hi);
    }
    wb_signal_request_stop();
    pthread_join(th, &ret);
    assert_int_equal((int)(intptr_t)ret, 0);
    print_message("high watermarks %lld %lld %lld for 12 messages\n", (long long)hi[0],
                  (long long)hi[1], (long long)hi[2]);
    assert_true(done);
    /* the premise: commit markers follow the messages */
    assert_true(hi[0] + hi[1] + hi[2] >= 12 + 2);
    wb_worker_destroy(wk);
    /* and still there after the commit on close */
    assert_true(tx_converged(NULL, probe, tx, hi));
    wb_kafka_destroy(probe);
    wb_conf_destroy(conf);
    wb_signal_reset();
    topic = saved;
    for (i = 0; i < 6; i++)
        free(gids[i]);
    free(txid);
    free(group);
    free(tx);
}

/* worker.batch_time_ms=1: every batch runs out of time after its first group, and the rest is
 * carried to the next batch (not fetched again). Events of one partition interleave, so a group
 * applied early has events past where the batch stopped: they must not be applied or counted
 * twice, and the rename at the end must win. */
static void test_batch_carry(void **state)
{
    char *saved = topic, *one = wb_asprintf("t0320-%08x.one", run);
    char *group = wb_asprintf("t0320-%08x-carry", run), *gids[8], *dn, name[32];
    const char *kv[] = {"bootstrap.servers", getenv("WB_TEST_KAFKA_BOOTSTRAP"), NULL};
    struct wb_member m0 = {WB_MEMBER_USER, uid[0], usid[0], NULL};
    struct wb_event ev;
    rd_kafka_t *rk;
    wb_conf_t *conf;
    wb_worker_t *wk;
    pthread_t th;
    void *ret;
    char err[1024];
    int i;

    (void)state;
    rk = wb_kafka_producer_new(kv, err, sizeof(err));
    assert_non_null(rk);
    assert_int_equal(wb_kafka_create_topic(rk, one, 1, NULL, 30000), WB_OK);
    topic = one; /* produce() and worker_conf() use it */
    for (i = 0; i < 8; i++) {
        gids[i] = wb_asprintf("%08x-0320-4000-8000-0000000002%02d", run, i);
        snprintf(name, sizeof(name), "Carry %d", i);
        ev = base_event(WB_EVENT_GROUP_UPSERT, gids[i]);
        ev.attrs.display_name = name;
        ev.attrs.security_enabled = true;
        produce(rk, &ev);
    }
    for (i = 0; i < 8; i++) {
        ev = base_event(WB_EVENT_GROUP_SNAPSHOT, gids[i]);
        ev.snapshot = "s1";
        ev.chunks = 1;
        ev.chunk = 1;
        ev.members = &m0;
        ev.members_count = 1;
        produce(rk, &ev);
    }
    ev = base_event(WB_EVENT_GROUP_UPSERT, gids[0]);
    ev.attrs.display_name = "Carry renamed";
    ev.attrs.security_enabled = true;
    produce(rk, &ev);
    assert_int_equal(wb_kafka_flush(rk, 30000), WB_OK);
    wb_kafka_destroy(rk);

    conf = worker_conf(group);
    assert_int_equal(wb_conf_set(conf, "worker.batch_time_ms", "1", err, sizeof(err)), WB_OK);
    wk = wb_worker_new(conf, err, sizeof(err));
    if (!wk)
        fail_msg("%s", err);
    wb_signal_reset();
    assert_int_equal(pthread_create(&th, NULL, run_worker, wk), 0);
    for (i = 0; i < 600; i++) {
        if (metric(wk, "writeback_worker_events_total{type=\"group.snapshot\","
                       "outcome=\"applied\"} ") >= 8)
            break;
        usleep(100000);
    }
    sleep(1); /* anything counted twice would show by now */
    wb_signal_request_stop();
    pthread_join(th, &ret);
    assert_int_equal((int)(intptr_t)ret, 0);
    assert_true(metric(wk, "writeback_worker_events_total{type=\"group.upsert\","
                           "outcome=\"applied\"} ") == 9);
    assert_true(metric(wk, "writeback_worker_events_total{type=\"group.snapshot\","
                           "outcome=\"applied\"} ") == 8);
    assert_true(metric(wk, "\nwriteback_worker_ldap_writes_total ") == 8);
    wb_worker_destroy(wk);
    wb_conf_destroy(conf);
    for (i = 0; i < 8; i++) {
        snprintf(name, sizeof(name), i ? "Carry %d" : "Carry renamed", i);
        dn = wb_map_dn(name, strlen(name), gids[i], ou);
        assert_int_equal(member_count(dn), 1);
        free(dn);
        free(gids[i]);
    }
    wb_signal_reset();
    topic = saved;
    free(group);
    free(one);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipeline),
        cmocka_unit_test(test_transactional_lag),
        cmocka_unit_test(test_batch_carry),
    };

    if (wbt_env_missing("0320-worker", WBT_ENV_KAFKA | WBT_ENV_LDAP))
        return WBT_ENV_SKIP;
    return cmocka_run_group_tests(tests, setup, teardown);
}
