/*
 * 0017-time: wb_time_parse reads what wb_event_ts_format writes back to the same millisecond,
 * honours fractions and offsets, takes a date alone as midnight UTC, and refuses malformed
 * text and dates before 1970; wb_time_now_ms is the wall clock.
 */
#include "wb_event.h"
#include "wb_time.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

static void test_round_trip(void **state)
{
    static const int64_t ms[] = {
        0, 1, 999, 1000, 1714564800123LL, 951782400000LL /* 2000-02-29 */, 4102444799999LL};
    char ts[WB_EVENT_TS_SIZE];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
        wb_event_ts_format(ms[i], ts);
        assert_int_equal(wb_time_parse(ts), ms[i]);
    }
}

static void test_forms(void **state)
{
    (void)state;
    assert_int_equal(wb_time_parse("2024-05-01T12:00:00Z"), 1714564800000LL);
    assert_int_equal(wb_time_parse("2024-05-01T12:00:00.5Z"), 1714564800500LL);
    assert_int_equal(wb_time_parse("2024-05-01T12:00:00.123456789Z"), 1714564800123LL);
    assert_int_equal(wb_time_parse("2024-05-01T14:00:00+02:00"), 1714564800000LL);
    assert_int_equal(wb_time_parse("2024-05-01T11:30:00-00:30"), 1714564800000LL);
    assert_int_equal(wb_time_parse("2024-05-01"), 1714521600000LL);
    assert_int_equal(wb_time_parse("1970-01-01T00:00:00Z"), 0);
}

static void test_refused(void **state)
{
    static const char *const bad[] = {
        "",
        "yesterday",
        "2024-05-01T12:00:00",
        "2024-13-01T00:00:00Z",
        "2024-05-01T24:00:00Z",
        "2024-05-01T12:00:00.Z",
        "2024-05-01T12:00:00Zjunk",
        "1969-12-31T23:59:59Z",
        "2024-05-01T12:00:00+2:00",
    };
    size_t i;

    (void)state;
    assert_int_equal(wb_time_parse(NULL), -1);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(wb_time_parse(bad[i]), -1);
}

static void test_now(void **state)
{
    int64_t t = (int64_t)time(NULL) * 1000, now = wb_time_now_ms();

    (void)state;
    assert_true(now >= t && now < t + 2000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_now),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
