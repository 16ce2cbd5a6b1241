/*
 * 0005-kafka-conf: wb_kafka configuration building without a broker: our defaults, kv
 * overrides, the consumer's group id rules, clear errors for bad keys and values, librdkafka's
 * logs and delivery reports reaching us when nothing listens on the bootstrap address.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "wb_kafka.h"
#include "wb_log.h"

/* Nothing listens on port 1: connections are refused at once. */
#define NOBROKER "127.0.0.1:1"

static void assert_conf(rd_kafka_conf_t *conf, const char *key, const char *want)
{
    char buf[256];
    size_t len = sizeof(buf);

    assert_int_equal(rd_kafka_conf_get(conf, key, buf, &len), RD_KAFKA_CONF_OK);
    assert_string_equal(buf, want);
}

static void test_common_defaults(void **state)
{
    const char *const kv[] = {"bootstrap.servers", NOBROKER, "client.id", "mine", NULL};
    char errstr[256] = "";
    rd_kafka_conf_t *conf;

    (void)state;
    conf = wb_kafka_conf_new(NULL, errstr, sizeof(errstr));
    assert_non_null(conf);
    assert_conf(conf, "client.id", "writeback");
    assert_conf(conf, "log.connection.close", "false");
    /* Role defaults belong to the role constructors only. */
    assert_conf(conf, "enable.idempotence", "false");
    rd_kafka_conf_destroy(conf);

    conf = wb_kafka_conf_new(kv, errstr, sizeof(errstr));
    assert_non_null(conf);
    assert_conf(conf, "client.id", "mine");
    assert_conf(conf, "bootstrap.servers", NOBROKER);
    rd_kafka_conf_destroy(conf);
}

static void test_producer_defaults(void **state)
{
    const char *const kv[] = {"linger.ms", "7", NULL};
    const char *const over[] = {"partitioner", "consistent_random", "enable.idempotence", "false",
                                NULL};
    char errstr[256] = "";
    rd_kafka_conf_t *conf;

    (void)state;
    conf = wb_kafka_producer_conf_new(kv, errstr, sizeof(errstr));
    assert_non_null(conf);
    assert_conf(conf, "enable.idempotence", "true");
    assert_conf(conf, "partitioner", "murmur2_random");
    assert_conf(conf, "linger.ms", "7");
    rd_kafka_conf_destroy(conf);

    /* The operator's kafka.* settings win over our defaults. */
    conf = wb_kafka_producer_conf_new(over, errstr, sizeof(errstr));
    assert_non_null(conf);
    assert_conf(conf, "partitioner", "consistent_random");
    assert_conf(conf, "enable.idempotence", "false");
    rd_kafka_conf_destroy(conf);
}

static void test_consumer_defaults(void **state)
{
    const char *const kv[] = {"group.id", "from-kv", "auto.offset.reset", "latest", NULL};
    char errstr[256] = "";
    rd_kafka_conf_t *conf;

    (void)state;
    conf = wb_kafka_consumer_conf_new(NULL, "g1", errstr, sizeof(errstr));
    assert_non_null(conf);
    assert_conf(conf, "group.id", "g1");
    assert_conf(conf, "partition.assignment.strategy", "cooperative-sticky");
    assert_conf(conf, "enable.auto.offset.store", "false");
    assert_conf(conf, "auto.offset.reset", "smallest");
    rd_kafka_conf_destroy(conf);

    /* group.id from kv when no parameter; kv overrides our other defaults. */
    conf = wb_kafka_consumer_conf_new(kv, NULL, errstr, sizeof(errstr));
    assert_non_null(conf);
    assert_conf(conf, "group.id", "from-kv");
    assert_conf(conf, "auto.offset.reset", "largest");
    rd_kafka_conf_destroy(conf);

    /* The parameter wins over kv. */
    conf = wb_kafka_consumer_conf_new(kv, "param", errstr, sizeof(errstr));
    assert_non_null(conf);
    assert_conf(conf, "group.id", "param");
    rd_kafka_conf_destroy(conf);

    errstr[0] = '\0';
    assert_null(wb_kafka_consumer_conf_new(NULL, NULL, errstr, sizeof(errstr)));
    assert_non_null(strstr(errstr, "group.id"));
    errstr[0] = '\0';
    assert_null(wb_kafka_consumer_new(NULL, "", errstr, sizeof(errstr)));
    assert_non_null(strstr(errstr, "group.id"));
}

static void test_bad_input(void **state)
{
    const char *const unknown[] = {"bootstrap.servers", NOBROKER, "no.such.property", "1", NULL};
    const char *const badval[] = {"enable.idempotence", "maybe", NULL};
    const char *const novalue[] = {"linger.ms", NULL};
    const char *const badrange[] = {"linger.ms", "-5", NULL};
    char errstr[256];

    (void)state;
    errstr[0] = '\0';
    assert_null(wb_kafka_conf_new(unknown, errstr, sizeof(errstr)));
    assert_non_null(strstr(errstr, "kafka.no.such.property"));

    errstr[0] = '\0';
    assert_null(wb_kafka_producer_conf_new(badval, errstr, sizeof(errstr)));
    assert_non_null(strstr(errstr, "kafka.enable.idempotence"));

    errstr[0] = '\0';
    assert_null(wb_kafka_consumer_conf_new(novalue, "g", errstr, sizeof(errstr)));
    assert_non_null(strstr(errstr, "kafka.linger.ms"));
    assert_non_null(strstr(errstr, "no value"));

    errstr[0] = '\0';
    assert_null(wb_kafka_producer_new(badrange, errstr, sizeof(errstr)));
    assert_non_null(strstr(errstr, "kafka.linger.ms"));

    /* No room for the message is not a crash. */
    assert_null(wb_kafka_conf_new(unknown, NULL, 0));
    assert_null(wb_kafka_consumer_new(unknown, "g", errstr, 0));

    errstr[0] = '\0';
    assert_null(wb_kafka_new(RD_KAFKA_PRODUCER, NULL, errstr, sizeof(errstr)));
    assert_true(errstr[0] != '\0');

    /* Bad arguments to the operations are refused before librdkafka sees them. */
    assert_int_equal(wb_kafka_create_topic(NULL, "t", 1, NULL, 1000), WB_ERR_FATAL);
    assert_int_equal(wb_kafka_produce(NULL, "t", NULL, 0, NULL, 0, NULL, 0, NULL), WB_ERR_INVALID);
    wb_kafka_destroy(NULL);
}

/* Captured log lines from librdkafka (facility KAFKA). */
static int kafka_lines;

static void sink(int level, const char *fac, const char *line, void *opaque)
{
    (void)level;
    (void)opaque;
    (void)line;
    if (strcmp(fac, "KAFKA") == 0)
        __atomic_add_fetch(&kafka_lines, 1, __ATOMIC_SEQ_CST);
}

static void test_handles_without_broker(void **state)
{
    const char *const pkv[] = {"bootstrap.servers", NOBROKER, "message.timeout.ms", "300", NULL};
    const char *const ckv[] = {"bootstrap.servers", NOBROKER, NULL};
    const struct wb_kafka_header hdrs[] = {{"reason", "test", 4}, {"empty", NULL, 0}};
    struct wb_kafka_delivery dl = {0};
    char errstr[256] = "";
    rd_kafka_t *rk, *ck;
    int i;

    (void)state;
    kafka_lines = 0;
    wb_log_set_sink(sink, NULL);
    rk = wb_kafka_producer_new(pkv, errstr, sizeof(errstr));
    assert_non_null(rk);
    assert_int_equal(wb_kafka_produce(rk, "wb-unit", "k", 1, "v", 1, hdrs, 2, &dl), WB_OK);
    /* The message times out undelivered: the default report says so, flush is done. */
    assert_int_equal(wb_kafka_flush(rk, 10000), WB_OK);
    assert_int_equal(dl.done, 1);
    assert_int_equal(dl.err, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT);
    /* Connection refused reaches wb_log through the log and error callbacks. */
    for (i = 0; i < 50 && __atomic_load_n(&kafka_lines, __ATOMIC_SEQ_CST) == 0; i++)
        rd_kafka_poll(rk, 100);
    assert_true(__atomic_load_n(&kafka_lines, __ATOMIC_SEQ_CST) > 0);
    /* Topic creation without a broker is a transient failure within the timeout. */
    assert_int_equal(wb_kafka_create_topic(rk, "wb-unit", 1, NULL, 500), WB_ERR_TRANSIENT);
    wb_kafka_destroy(rk);

    ck = wb_kafka_consumer_new(ckv, "wb-unit", errstr, sizeof(errstr));
    assert_non_null(ck);
    wb_kafka_destroy(ck);

    rk = wb_kafka_producer_new(ckv, errstr, sizeof(errstr));
    assert_non_null(rk);
    /* A bad topic setting is refused locally (the key must have a value). */
    {
        const char *const cfg[] = {"cleanup.policy", NULL};

        assert_int_equal(wb_kafka_create_topic(rk, "wb-unit", 1, cfg, 1000), WB_ERR_FATAL);
    }
    assert_int_equal(wb_kafka_create_topic(rk, "wb-unit", 0, NULL, 1000), WB_ERR_FATAL);
    assert_int_equal(wb_kafka_create_topic(rk, "", 1, NULL, 1000), WB_ERR_FATAL);
    wb_kafka_destroy(rk);
    wb_log_set_sink(NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_common_defaults),        cmocka_unit_test(test_producer_defaults),
        cmocka_unit_test(test_consumer_defaults),      cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_handles_without_broker),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
