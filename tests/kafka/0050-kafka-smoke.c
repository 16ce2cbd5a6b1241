/*
 * 0050-kafka-smoke: the wb_kafka wrapper against the real broker of tests/services/kafka.sh.
 * Keyed events through the idempotent producer land on the Java client's murmur2 partition,
 * arrive complete and in per-key order at a cooperative-sticky group consumer, and the offsets
 * it stores are committed when it leaves the group.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "wb_kafka.h"
#include "wb_log.h"
#include "wbt_env.h"

#define PARTITIONS 6
#define NKEYS      20
#define PER_KEY    15
#define NMSGS      (NKEYS * PER_KEY)
/* Events of each partition the first member takes before the second joins. */
#define PREFIX 3

/* Java's org.apache.kafka.common.utils.Utils.murmur2, in 32-bit unsigned arithmetic. */
static int32_t java_murmur2(const void *data, size_t len)
{
    const unsigned char *p = data;
    const uint32_t m = 0x5bd1e995;
    uint32_t h = 0x9747b28cu ^ (uint32_t)len;
    size_t i;

    for (i = 0; i + 4 <= len; i += 4) {
        uint32_t k = (uint32_t)p[i] | (uint32_t)p[i + 1] << 8 | (uint32_t)p[i + 2] << 16 |
                     (uint32_t)p[i + 3] << 24;

        k *= m;
        k ^= k >> 24;
        k *= m;
        h *= m;
        h ^= k;
    }
    switch (len & 3) {
    case 3:
        h ^= (uint32_t)p[i + 2] << 16;
        /* fall through */
    case 2:
        h ^= (uint32_t)p[i + 1] << 8;
        /* fall through */
    case 1:
        h ^= p[i];
        h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return (int32_t)h;
}

/* The Java producer's partition for a key: toPositive(murmur2(key)) % partitions. */
static int32_t java_partition(const char *key, int partitions)
{
    return (int32_t)(((uint32_t)java_murmur2(key, strlen(key)) & 0x7fffffffu) %
                     (uint32_t)partitions);
}

/* Set: main skips the test otherwise. */
static const char *bootstrap(void)
{
    return getenv("WB_TEST_KAFKA_BOOTSTRAP");
}

static void key_name(char *buf, size_t size, int k)
{
    snprintf(buf, size, "key-%02d", k);
}

/* Our murmur2 is Java's: values printed by Utils.murmur2 and Utils.toPositive(h) % 6 of
 * kafka-clients 4.4.0. */
static void test_murmur2_matches_java(void **state)
{
    static const struct {
        const char *key;
        int32_t hash;
        int32_t part6;
    } vec[] = {
        {"21", -973932308, 0},     {"foobar", -790332482, 0},
        {"abc", 479470107, 3},     {"a-little-bit-long-string", -985981536, 2},
        {"x", 2121525046, 4},      {"3f2c1a8e-9b7d-4e6a-8c5b-1d2e3f4a5b6c", 1118740131, 3},
        {"key-00", -896837752, 4}, {"key-07", -1578031205, 3},
        {"key-13", 1711107085, 1}, {"key-19", -1594098818, 0},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
        assert_int_equal(java_murmur2(vec[i].key, strlen(vec[i].key)), vec[i].hash);
        assert_int_equal(java_partition(vec[i].key, 6), vec[i].part6);
    }
}

static void delete_topic(rd_kafka_t *rk, const char *topic)
{
    rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(topic);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_event_t *ev;

    rd_kafka_DeleteTopics(rk, &dt, 1, NULL, q);
    ev = rd_kafka_queue_poll(q, 30000);
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_DeleteTopic_destroy(dt);
}

/* What the consumers have seen so far, across consumers of one group. */
struct seen {
    int32_t want_part[NKEYS];
    int next_seq[NKEYS];
    int total;
};

/* A fresh topic with NMSGS events produced through the wrapper and their delivery checked. */
static rd_kafka_t *make_topic(const char *bs, char *topic, size_t size, struct seen *st)
{
    const char *const kv[] = {"bootstrap.servers", bs, NULL};
    const char *const topic_cfg[] = {"retention.ms", "3600000", NULL};
    static struct wb_kafka_delivery dl[NMSGS];
    int64_t last_off[NKEYS];
    char key[16], val[32], errstr[512];
    rd_kafka_t *pk;
    int i, k;

    snprintf(topic, size, "wb-0050-%ld-%d-%d", (long)time(NULL), (int)getpid(), rand() % 100000);
    pk = wb_kafka_producer_new(kv, errstr, sizeof(errstr));
    if (!pk)
        fail_msg("producer: %s", errstr);
    assert_int_equal(wb_kafka_create_topic(pk, topic, PARTITIONS, topic_cfg, 30000), WB_OK);
    /* A topic that exists already is success. */
    assert_int_equal(wb_kafka_create_topic(pk, topic, PARTITIONS, NULL, 30000), WB_OK);

    memset(st, 0, sizeof(*st));
    memset(dl, 0, sizeof(dl));
    for (k = 0; k < NKEYS; k++) {
        key_name(key, sizeof(key), k);
        st->want_part[k] = java_partition(key, PARTITIONS);
        last_off[k] = -1;
    }
    /* The handover test needs events on every partition. */
    for (i = 0; i < PARTITIONS; i++) {
        for (k = 0; k < NKEYS && st->want_part[k] != i; k++)
            ;
        assert_true(k < NKEYS);
    }
    /* Interleave the keys: event i is key i % NKEYS with sequence i / NKEYS. */
    for (i = 0; i < NMSGS; i++) {
        struct wb_kafka_header h[] = {{"seq", val, 0}, {"origin", "0050", 4}};

        k = i % NKEYS;
        key_name(key, sizeof(key), k);
        snprintf(val, sizeof(val), "%d", i / NKEYS);
        h[0].len = strlen(val);
        assert_int_equal(
            wb_kafka_produce(pk, topic, key, strlen(key), val, strlen(val), h, 2, &dl[i]), WB_OK);
    }
    assert_int_equal(wb_kafka_flush(pk, 30000), WB_OK);
    for (i = 0; i < NMSGS; i++) {
        k = i % NKEYS;
        assert_int_equal(dl[i].done, 1);
        assert_int_equal(dl[i].err, RD_KAFKA_RESP_ERR_NO_ERROR);
        /* murmur2_random: the Java client's partition for every key. */
        assert_int_equal(dl[i].partition, st->want_part[k]);
        assert_true(dl[i].offset > last_off[k]);
        last_off[k] = dl[i].offset;
    }
    return pk;
}

static rd_kafka_t *subscribed_consumer(const char *bs, const char *group, const char *topic)
{
    /* No auto commit: only the commit on revoke can put the offsets checked later. Quick
     * heartbeats let a member notice a rebalance quickly. */
    const char *const kv[] = {"bootstrap.servers",
                              bs,
                              "enable.auto.commit",
                              "false",
                              "heartbeat.interval.ms",
                              "500",
                              NULL};
    rd_kafka_topic_partition_list_t *sub;
    char errstr[512];
    rd_kafka_t *ck = wb_kafka_consumer_new(kv, group, errstr, sizeof(errstr));

    if (!ck)
        fail_msg("consumer: %s", errstr);
    sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    assert_int_equal(rd_kafka_subscribe(ck, sub), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(sub);
    return ck;
}

/* Polls ck once; a message is checked against st and its offset stored. Returns the message's
 * partition, or -1 when none was consumed. */
static int consume_one(rd_kafka_t *ck, struct seen *st, int timeout_ms)
{
    rd_kafka_message_t *msg = rd_kafka_consumer_poll(ck, timeout_ms);
    rd_kafka_topic_partition_list_t *stored;
    rd_kafka_headers_t *hdrs = NULL;
    const void *hv = NULL;
    size_t hlen = 0;
    char val[32];
    int k, seq, part;

    if (!msg)
        return -1;
    if (msg->err) {
        print_message("consumer: %s\n", rd_kafka_message_errstr(msg));
        rd_kafka_message_destroy(msg);
        return -1;
    }
    assert_int_equal(msg->key_len, 6);
    assert_memory_equal(msg->key, "key-", 4);
    k = atoi((const char *)msg->key + 4);
    assert_in_range(k, 0, NKEYS - 1);
    assert_true(msg->len > 0 && msg->len < sizeof(val));
    memcpy(val, msg->payload, msg->len);
    val[msg->len] = '\0';
    seq = atoi(val);
    /* Per key: always the same partition, the Java placement, and the sequence strictly
     * increasing without gaps (no loss, no duplicates, even across a handover). */
    assert_int_equal(msg->partition, st->want_part[k]);
    assert_int_equal(seq, st->next_seq[k]);
    st->next_seq[k]++;
    assert_int_equal(rd_kafka_message_headers(msg, &hdrs), RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(rd_kafka_header_get_last(hdrs, "seq", &hv, &hlen), RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(hlen, msg->len);
    assert_memory_equal(hv, msg->payload, hlen);
    /* Offsets are stored by us (enable.auto.offset.store=false), one past the message. */
    stored = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(stored, rd_kafka_topic_name(msg->rkt), msg->partition)
        ->offset = msg->offset + 1;
    assert_int_equal(rd_kafka_offsets_store(ck, stored), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(stored);
    st->total++;
    part = msg->partition;
    rd_kafka_message_destroy(msg);
    return part;
}

static void assert_all_seen(const struct seen *st)
{
    int k;

    if (st->total != NMSGS)
        fail_msg("consumed %d of %d messages", st->total, NMSGS);
    for (k = 0; k < NKEYS; k++)
        assert_int_equal(st->next_seq[k], PER_KEY);
}

/* The group's committed offsets summed over the topic's partitions. */
static int64_t committed_sum(const char *bs, const char *group, const char *topic)
{
    const char *const kv[] = {"bootstrap.servers", bs, NULL};
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(PARTITIONS);
    char errstr[512];
    rd_kafka_t *ck = wb_kafka_consumer_new(kv, group, errstr, sizeof(errstr));
    int64_t sum = 0;
    int i;

    if (!ck)
        fail_msg("consumer: %s", errstr);
    for (i = 0; i < PARTITIONS; i++)
        rd_kafka_topic_partition_list_add(parts, topic, i);
    assert_int_equal(rd_kafka_committed(ck, parts, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    for (i = 0; i < parts->cnt; i++)
        if (parts->elems[i].offset > 0)
            sum += parts->elems[i].offset;
    rd_kafka_topic_partition_list_destroy(parts);
    wb_kafka_destroy(ck);
    return sum;
}

static void test_produce_consume_order(void **state)
{
    const char *bs = bootstrap();
    struct seen st;
    char topic[64], group[96];
    rd_kafka_t *pk, *ck;
    time_t deadline;

    (void)state;
    pk = make_topic(bs, topic, sizeof(topic), &st);
    snprintf(group, sizeof(group), "%s-group", topic);
    ck = subscribed_consumer(bs, group, topic);
    deadline = time(NULL) + 60;
    while (st.total < NMSGS && time(NULL) < deadline)
        consume_one(ck, &st, 500);
    assert_all_seen(&st);
    /* Leaving the group revokes the partitions: the stored offsets are committed then. */
    wb_kafka_destroy(ck);
    assert_int_equal(committed_sum(bs, group, topic), NMSGS);

    delete_topic(pk, topic);
    wb_kafka_destroy(pk);
}

static int assigned_count(rd_kafka_t *ck)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    int n;

    assert_int_equal(rd_kafka_assignment(ck, &parts), RD_KAFKA_RESP_ERR_NO_ERROR);
    n = parts->cnt;
    rd_kafka_topic_partition_list_destroy(parts);
    return n;
}

/* Pauses (or resumes) one partition of topic on ck. */
static void pause_partition(rd_kafka_t *ck, const char *topic, int32_t part)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);

    rd_kafka_topic_partition_list_add(l, topic, part);
    assert_int_equal(rd_kafka_pause_partitions(ck, l), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(l);
}

/* A second member joins mid-stream: cooperative-sticky moves only some partitions, the first
 * member commits what it stored for them on revoke, and the second continues exactly there
 * (had the first not committed, the second would re-read from the start: a duplicate). */
static void test_cooperative_handover(void **state)
{
    const char *bs = bootstrap();
    struct seen st;
    char topic[64], group[96];
    rd_kafka_t *pk, *a, *b;
    rd_kafka_topic_partition_list_t *mine = NULL;
    int per_part[PARTITIONS] = {0};
    time_t deadline;
    int na, nb, a_min = PARTITIONS, done = 0, part;

    (void)state;
    pk = make_topic(bs, topic, sizeof(topic), &st);
    snprintf(group, sizeof(group), "%s-group", topic);
    a = subscribed_consumer(bs, group, topic);
    /* The first member takes exactly PREFIX events of every partition, then pauses it. */
    deadline = time(NULL) + 60;
    while (done < PARTITIONS && time(NULL) < deadline) {
        part = consume_one(a, &st, 200);
        if (part < 0)
            continue;
        assert_in_range(part, 0, PARTITIONS - 1);
        if (++per_part[part] == PREFIX) {
            pause_partition(a, topic, part);
            done++;
        }
    }
    assert_int_equal(done, PARTITIONS);
    assert_int_equal(assigned_count(a), PARTITIONS);

    b = subscribed_consumer(bs, group, topic);
    deadline = time(NULL) + 60;
    do {
        consume_one(a, &st, 100);
        consume_one(b, &st, 100);
        na = assigned_count(a);
        nb = assigned_count(b);
        if (na < a_min)
            a_min = na;
    } while ((na + nb != PARTITIONS || nb == 0) && time(NULL) < deadline);
    if (nb == 0 || na == 0)
        fail_msg("no incremental rebalance within 60 s (a %d, b %d partitions)", na, nb);
    /* Incremental: the first member kept its other partitions throughout, never all revoked. */
    assert_true(a_min > 0);
    assert_int_equal(rd_kafka_assignment(a, &mine), RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(rd_kafka_resume_partitions(a, mine), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(mine);

    /* Short polls: once one member's partitions are drained, its polls only wait. */
    deadline = time(NULL) + 60;
    while (st.total < NMSGS && time(NULL) < deadline) {
        consume_one(a, &st, 10);
        consume_one(b, &st, 10);
    }
    assert_all_seen(&st);
    wb_kafka_destroy(b);
    wb_kafka_destroy(a);
    assert_int_equal(committed_sum(bs, group, topic), NMSGS);

    delete_topic(pk, topic);
    wb_kafka_destroy(pk);
}

/* What the producer needs (docs/architecture.md): a transaction that holds
 * events and the consumer offsets that led to them commits both or neither, and a
 * read_committed reader never sees an aborted event. Guards the Kafka version choice against
 * librdkafka 2.0.2. */
static void test_transactions(void **state)
{
    const char *bs = bootstrap();
    struct seen st;
    char topic[64], out[80], group[96], txid[96], errstr[512];
    rd_kafka_t *pk, *c, *tp, *rc;
    rd_kafka_topic_partition_list_t *pos = NULL, *l;
    rd_kafka_consumer_group_metadata_t *gm;
    int64_t lo = 0, hi = 0;
    time_t deadline;
    int n = 0, i;

    (void)state;
    pk = make_topic(bs, topic, sizeof(topic), &st);
    snprintf(out, sizeof(out), "%s-out", topic);
    snprintf(group, sizeof(group), "%s-group", topic);
    snprintf(txid, sizeof(txid), "%s-tx", topic);
    c = subscribed_consumer(bs, group, topic);
    deadline = time(NULL) + 60;
    while (st.total < NMSGS && time(NULL) < deadline)
        consume_one(c, &st, 200);
    assert_all_seen(&st);

    {
        const char *const kv[] = {"bootstrap.servers", bs, "transactional.id", txid, NULL};

        tp = wb_kafka_producer_new(kv, errstr, sizeof(errstr));
        if (!tp)
            fail_msg("transactional producer: %s", errstr);
    }
    assert_int_equal(wb_kafka_create_topic(tp, out, 1, NULL, 30000), WB_OK);
    assert_null(rd_kafka_init_transactions(tp, 30000));
    assert_null(rd_kafka_begin_transaction(tp));
    for (i = 0; i < 3; i++)
        assert_int_equal(wb_kafka_produce(tp, out, "k", 1, "committed", 9, NULL, 0, NULL), WB_OK);
    assert_int_equal(rd_kafka_assignment(c, &pos), RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(rd_kafka_position(c, pos), RD_KAFKA_RESP_ERR_NO_ERROR);
    gm = rd_kafka_consumer_group_metadata(c);
    assert_null(rd_kafka_send_offsets_to_transaction(tp, pos, gm, 30000));
    rd_kafka_consumer_group_metadata_destroy(gm);
    rd_kafka_topic_partition_list_destroy(pos);
    assert_null(rd_kafka_commit_transaction(tp, 30000));
    /* The offsets arrived with the transaction; the consumer has not committed anything. */
    assert_int_equal(committed_sum(bs, group, topic), NMSGS);

    assert_null(rd_kafka_begin_transaction(tp));
    assert_int_equal(wb_kafka_produce(tp, out, "k", 1, "aborted", 7, NULL, 0, NULL), WB_OK);
    /* Delivered first, so the aborted event is really in the log for the reader to skip (and
     * the abort does not race the partition's AddPartitionsToTxn, which a freshly started
     * broker answered with INVALID_TXN_STATE under librdkafka 2.0.2). */
    assert_int_equal(wb_kafka_flush(tp, 30000), WB_OK);
    assert_null(rd_kafka_abort_transaction(tp, 30000));

    /* read_committed (librdkafka's default) up to the end: three events, none aborted. */
    {
        const char *const kv[] = {"bootstrap.servers", bs, NULL};

        snprintf(group, sizeof(group), "%s-reader", topic);
        rc = wb_kafka_consumer_new(kv, group, errstr, sizeof(errstr));
        if (!rc)
            fail_msg("consumer: %s", errstr);
    }
    assert_int_equal(rd_kafka_query_watermark_offsets(rc, out, 0, &lo, &hi, 10000),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, out, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(rc, l), RD_KAFKA_RESP_ERR_NO_ERROR);
    deadline = time(NULL) + 30;
    for (;;) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rc, 100);

        if (msg) {
            if (!msg->err) {
                assert_int_equal(msg->len, 9);
                assert_memory_equal(msg->payload, "committed", 9);
                n++;
            }
            rd_kafka_message_destroy(msg);
        }
        assert_int_equal(rd_kafka_position(rc, l), RD_KAFKA_RESP_ERR_NO_ERROR);
        if (l->elems[0].offset >= hi || time(NULL) >= deadline)
            break;
    }
    assert_true(l->elems[0].offset >= hi);
    assert_int_equal(n, 3);
    rd_kafka_topic_partition_list_destroy(l);

    wb_kafka_destroy(rc);
    wb_kafka_destroy(tp);
    wb_kafka_destroy(c);
    delete_topic(pk, out);
    delete_topic(pk, topic);
    wb_kafka_destroy(pk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_murmur2_matches_java),
        cmocka_unit_test(test_produce_consume_order),
        cmocka_unit_test(test_cooperative_handover),
        cmocka_unit_test(test_transactions),
    };

    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    if (wbt_env_missing("0050-kafka-smoke", WBT_ENV_KAFKA))
        return WBT_ENV_SKIP;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
