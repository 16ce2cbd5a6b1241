/*
 * 0016-dlqhdr: the dead-letter headers the worker writes are the ones writebackctl dlq reads
 * back, in the order and with the names docs/errors.md documents.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "wb_dlqhdr.h"
#include "wb_mem.h"
#include "wbt_env.h"
#include "wbt_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The documented names, in the documented order: the contract, spelled out once more here on
 * purpose so that a change of the table shows up as a failing test. */
static const char *const names[] = {"wb.reason",         "wb.class",           "wb.ldap.rc",
                                    "wb.ldap.message",   "wb.ldap.matched_dn", "wb.orig.topic",
                                    "wb.orig.partition", "wb.orig.offset",     "wb.orig.timestamp",
                                    "wb.consumer_group", "wb.worker_id",       "wb.attempts",
                                    "wb.time",           "wb.truncated",       "wb.orig.size",
                                    "wb.orig.error"};

static struct wb_dlqhdr_info info(void)
{
    return (struct wb_dlqhdr_info){"dn_conflict",
                                   WB_ERR_CONFLICT,
                                   68,
                                   "00002071: UpdErr",
                                   "CN=x,OU=W,DC=wb,DC=test",
                                   "writeback.groups",
                                   7,
                                   1234,
                                   1700000000123,
                                   "writeback-workers",
                                   "w1",
                                   3};
}

static void test_encode(void **state)
{
    struct wb_dlqhdr_info in = info();
    struct wb_kafka_header h[WB_DLQHDR_COUNT];
    struct wb_dlqhdr_buf buf;
    size_t i;

    (void)state;
    assert_int_equal(WB_DLQHDR_COUNT, sizeof(names) / sizeof(names[0]));
    wb_dlqhdr_encode(&in, h, &buf);
    wb_dlqhdr_encode_bounded(4096, "MSG_SIZE_TOO_LARGE", h + WB_DLQHDR_NSTANDARD, &buf);
    for (i = 0; i < WB_DLQHDR_COUNT; i++) {
        assert_string_equal(h[i].name, names[i]);
        assert_string_equal(wb_dlqhdr_name((enum wb_dlqhdr)i), names[i]);
        assert_true(wb_dlqhdr_is_ours(h[i].name));
    }
    assert_null(wb_dlqhdr_name(WB_DLQHDR_COUNT));
    assert_false(wb_dlqhdr_is_ours("traceparent"));
    assert_memory_equal(h[1].value, "conflict", 8);
    assert_int_equal(h[2].len, 2);
    assert_memory_equal(h[2].value, "68", 2);
    assert_memory_equal(h[6].value, "7", 1);
    assert_int_equal(h[7].len, 4);
    assert_memory_equal(h[8].value, "1700000000123", 13);
    assert_memory_equal(h[11].value, "3", 1);
    assert_int_equal(h[12].len, 24);
    assert_int_equal(((const char *)h[12].value)[23], 'Z');
    assert_memory_equal(h[13].value, "true", 4);
    assert_int_equal(h[14].len, 4);
    assert_memory_equal(h[14].value, "4096", 4);
    assert_memory_equal(h[15].value, "MSG_SIZE_TOO_LARGE", 18);
    in.ldap_rc = -1;
    in.ldap_message = NULL;
    wb_dlqhdr_encode(&in, h, &buf);
    assert_int_equal(h[2].len, 0);
    assert_int_equal(h[3].len, 0);
}

/* What the encoder writes, the reader gets back from a Kafka header list. */
static void test_round_trip(void **state)
{
    struct wb_dlqhdr_info in = info();
    struct wb_kafka_header h[WB_DLQHDR_NSTANDARD];
    struct wb_dlqhdr_buf buf;
    rd_kafka_headers_t *kh = rd_kafka_headers_new(WB_DLQHDR_NSTANDARD);
    char *v;
    int i;

    (void)state;
    in.ldap_message = NULL;
    wb_dlqhdr_encode(&in, h, &buf);
    for (i = 0; i < WB_DLQHDR_NSTANDARD; i++)
        rd_kafka_header_add(kh, h[i].name, -1, h[i].value, (ssize_t)h[i].len);
    v = wb_dlqhdr_get(kh, WB_DLQHDR_REASON);
    assert_string_equal(v, "dn_conflict");
    free(v);
    v = wb_dlqhdr_get(kh, WB_DLQHDR_ORIG_OFFSET);
    assert_string_equal(v, "1234");
    free(v);
    v = wb_dlqhdr_get(kh, WB_DLQHDR_LDAP_MESSAGE);
    assert_string_equal(v, "");
    free(v);
    assert_null(wb_dlqhdr_get(kh, WB_DLQHDR_TRUNCATED));
    assert_null(wb_dlqhdr_get(NULL, WB_DLQHDR_REASON));
    rd_kafka_headers_destroy(kh);
}

/* docs/errors.md names every header. */
static void test_documented(void **state)
{
    char *path = wbt_env_source_path("docs/errors.md"), *doc = wbt_file_read(path);
    int i;

    (void)state;
    assert_non_null(doc);
    assert_true(*doc);
    for (i = 0; i < WB_DLQHDR_COUNT; i++) {
        char *q = wb_asprintf("`%s`", wb_dlqhdr_name((enum wb_dlqhdr)i));

        if (!strstr(doc, q))
            fprintf(stderr, "docs/errors.md does not name header %s\n", q);
        assert_non_null(strstr(doc, q));
        free(q);
    }
    free(doc);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_documented),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
