/*
 * 0340-worker-dlq-too-large: an event too large for the dead-letter topic must not block its
 * partition. On the real broker, with the dead-letter topic's max.message.bytes set small: a
 * 300,000-byte undecodable event followed by two small ones. With max.message.bytes=100000 the
 * big one goes out truncated to WB_DLQ_TRUNCATED_BYTES with wb.truncated, wb.orig.size and
 * wb.orig.error; with 2000 it goes out with its payload dropped; both times the two events
 * behind it are dead-lettered whole, so the partition moved on. With 50 (nothing fits) the
 * partition stalls, and says so: writeback_worker_dead_letter_failures_total counts it.
 * Before the fix the refusal was "transient": the partition never moved again, silently.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wb_conf.h"
#include "wb_dlq.h"
#include "wb_kafka.h"
#include "wb_mem.h"
#include "wb_metrics.h"
#include "wb_signal.h"
#include "wb_worker.h"
#include "wbt_conf.h"
#include "wbt_env.h"
#include "wbt_metrics.h"

#define BIG 300000

static unsigned run;

static wb_conf_t *worker_conf(const char *topic, const char *dlq, const char *group)
{
    const char *const extra[][2] = {{"worker.id", "t0340"}, {NULL, NULL}};

    return wbt_conf_worker(topic, dlq, getenv("WB_TEST_LDAP_TARGET_OU"), group, extra);
}

static void *run_worker(void *arg)
{
    return (void *)(intptr_t)wb_worker_run(arg);
}

static double metric(wb_worker_t *wk, const char *needle)
{
    return wbt_metrics_value(wb_worker_metrics(wk), needle, 0);
}

static int header_is(rd_kafka_headers_t *h, const char *name, const char *want)
{
    const void *val;
    size_t len;

    if (!h || rd_kafka_header_get_last(h, name, &val, &len) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return want == NULL;
    return want && len == strlen(want) && memcmp(val, want, len) == 0;
}

/* Reads the dead-letter topic and checks each record against the expected form. */
static void check_dlq(const char *topic, const char *dlq, size_t big_len)
{
    const char *ckv[] = {"bootstrap.servers", getenv("WB_TEST_KAFKA_BOOTSTRAP"), NULL};
    char err[512], *g = wb_asprintf("t0340-%08x-reader-%s", run, dlq), size[32];
    rd_kafka_t *dc = wb_kafka_consumer_new(ckv, g, err, sizeof(err));
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    int seen = 0, i;

    assert_non_null(dc);
    rd_kafka_topic_partition_list_add(parts, dlq, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(dc, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    snprintf(size, sizeof(size), "%d", BIG);
    for (i = 0; i < 150 && seen < 3; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(dc, 200);
        rd_kafka_headers_t *h = NULL;
        char off[16];

        if (!m)
            continue;
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        rd_kafka_message_headers(m, &h);
        snprintf(off, sizeof(off), "%d", seen);
        assert_true(header_is(h, "wb.orig.offset", off));
        assert_true(header_is(h, "wb.orig.topic", topic));
        assert_true(header_is(h, "wb.reason", "poison"));
        if (seen == 0) {
            assert_true(header_is(h, "wb.truncated", "true"));
            assert_true(header_is(h, "wb.orig.size", size));
            assert_true(header_is(h, "wb.orig.error", "MSG_SIZE_TOO_LARGE"));
            assert_true(header_is(h, "x-original", NULL)); /* original headers dropped */
            assert_int_equal(m->len, big_len);
            assert_int_equal(m->key_len, 3);
        } else {
            assert_true(header_is(h, "wb.truncated", NULL));
            assert_true(header_is(h, "x-original", "kept"));
            assert_int_equal(m->len, 9);
            assert_memory_equal(m->payload, "{not json", 9);
        }
        seen++;
        rd_kafka_message_destroy(m);
    }
    assert_int_equal(seen, 3);
    wb_kafka_destroy(dc);
    free(g);
}

/*
 * One run: fresh topics, the dead-letter topic limited to dlq_max bytes, three undecodable
 * events (a big one first). big_len: the payload length the big dead letter must have, or -1
 * when nothing can be dead-lettered (the partition must then stall, counted).
 */
static void one_run(const char *dlq_max, long big_len)
{
    char *topic = wb_asprintf("t0340-%08x-%s.events", run, dlq_max);
    char *dlq = wb_asprintf("t0340-%08x-%s.dlq", run, dlq_max);
    char *group = wb_asprintf("t0340-%08x-%s", run, dlq_max);
    const char *kv[] = {"bootstrap.servers", getenv("WB_TEST_KAFKA_BOOTSTRAP"), NULL};
    const char *dlq_conf[] = {"max.message.bytes", dlq_max, NULL};
    struct wb_kafka_header xh = {"x-original", "kept", 4};
    char err[1024], *big = wb_malloc(BIG);
    rd_kafka_t *rk = wb_kafka_producer_new(kv, err, sizeof(err));
    wb_conf_t *conf;
    wb_worker_t *wk;
    pthread_t th;
    void *ret;
    int i;

    assert_non_null(rk);
    assert_int_equal(wb_kafka_create_topic(rk, topic, 1, NULL, 30000), WB_OK);
    assert_int_equal(wb_kafka_create_topic(rk, dlq, 1, dlq_conf, 30000), WB_OK);
    memset(big, 'x', BIG);
    assert_int_equal(wb_kafka_produce(rk, topic, "big", 3, big, BIG, &xh, 1, NULL), WB_OK);
    for (i = 0; i < 2; i++)
        assert_int_equal(wb_kafka_produce(rk, topic, "small", 5, "{not json", 9, &xh, 1, NULL),
                         WB_OK);
    assert_int_equal(wb_kafka_flush(rk, 30000), WB_OK);
    wb_kafka_destroy(rk);
    free(big);

    conf = worker_conf(topic, dlq, group);
    wk = wb_worker_new(conf, err, sizeof(err));
    if (!wk)
        fail_msg("%s", err);
    wb_signal_reset();
    assert_int_equal(pthread_create(&th, NULL, run_worker, wk), 0);
    for (i = 0; i < 600; i++) {
        if (big_len >= 0 &&
            metric(wk, "writeback_worker_dead_letters_total{reason=\"poison\"} ") >= 3)
            break;
        if (big_len < 0 &&
            metric(wk,
                   "writeback_worker_dead_letter_failures_total{error=\"MSG_SIZE_TOO_LARGE\"} ") >=
                2)
            break;
        usleep(100 * 1000);
    }
    if (big_len >= 0) {
        double n = metric(wk, "writeback_worker_dead_letters_total{reason=\"poison\"} ");

        if (n < 3)
            fail_msg("the partition did not move on: %.0f of 3 events dead-lettered in 60 s", n);
        print_message("%s: 3 dead letters after %.1f s\n", dlq_max, i / 10.0);
        assert_true(metric(wk, "writeback_worker_dead_letters_truncated_total{error=\""
                               "MSG_SIZE_TOO_LARGE\"} ") == 1);
        assert_true(metric(wk, "writeback_worker_dead_letter_failures_total{") == 0);
    } else {
        /* Stalled at offset 0, and counted (retried, so counted more than once). */
        assert_true(
            metric(wk,
                   "writeback_worker_dead_letter_failures_total{error=\"MSG_SIZE_TOO_LARGE\"} ") >=
            2);
        assert_true(metric(wk, "writeback_worker_dead_letters_total{") == 0);
    }
    wb_signal_request_stop();
    pthread_join(th, &ret);
    assert_int_equal((int)(intptr_t)ret, 0);
    wb_worker_destroy(wk);
    wb_conf_destroy(conf);
    if (big_len >= 0)
        check_dlq(topic, dlq, (size_t)big_len);
    free(topic);
    free(dlq);
    free(group);
}

static void test_truncated(void **state)
{
    (void)state;
    one_run("100000", WB_DLQ_TRUNCATED_BYTES);
}

static void test_payload_dropped(void **state)
{
    (void)state;
    one_run("2000", 0);
}

static void test_nothing_fits_stalls_counted(void **state)
{
    (void)state;
    one_run("50", -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_payload_dropped),
        cmocka_unit_test(test_nothing_fits_stalls_counted),
    };

    if (wbt_env_missing("0340-worker-dlq-too-large", WBT_ENV_KAFKA | WBT_ENV_LDAP))
        return WBT_ENV_SKIP;
    run = wbt_env_run_id();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
