/*
 * 0003-backoff: exponential backoff: exact growth and cap without jitter, bounds and spread
 * of full and decorrelated jitter, reset, reproducible seeding, degenerate parameters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "wb_backoff.h"

#include <string.h>

static void test_no_jitter_growth_and_cap(void **state)
{
    static const uint64_t want[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000};
    struct wb_backoff b;
    size_t i;

    (void)state;
    wb_backoff_init(&b, 100, 5000, WB_BACKOFF_NONE);
    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_int_equal(wb_backoff_next(&b), want[i]);
    assert_int_equal(b.attempts, 9);
    /* Many attempts do not overflow the shift. */
    for (i = 0; i < 200; i++)
        assert_int_equal(wb_backoff_next(&b), 5000);
    wb_backoff_reset(&b);
    assert_int_equal(b.attempts, 0);
    assert_int_equal(wb_backoff_next(&b), 100);
}

static void test_full_jitter(void **state)
{
    struct wb_backoff b;
    uint64_t ceil = 100, min = UINT64_MAX, max = 0, sum = 0;
    int attempt, i, at_cap = 0;
    uint64_t buckets[10];

    (void)state;
    wb_backoff_init(&b, 100, 10000, WB_BACKOFF_FULL);
    wb_backoff_seed(&b, 42);
    /* Each delay lies in [0, min(cap, base * 2^n)]. */
    for (attempt = 0; attempt < 30; attempt++) {
        uint64_t d = wb_backoff_next(&b);

        assert_true(d <= ceil);
        ceil = ceil * 2 > 10000 ? 10000 : ceil * 2;
    }
    /* At the cap, delays spread over the whole range: every tenth is hit, mean near half. */
    memset(buckets, 0, sizeof(buckets));
    for (i = 0; i < 20000; i++) {
        uint64_t d = wb_backoff_next(&b);

        assert_true(d <= 10000);
        if (d < min)
            min = d;
        if (d > max)
            max = d;
        sum += d;
        buckets[d >= 10000 ? 9 : d / 1000]++;
        at_cap += d == 10000;
    }
    assert_true(min < 100);
    assert_true(max > 9900);
    assert_true(sum / 20000 > 4700 && sum / 20000 < 5300);
    for (i = 0; i < 10; i++)
        assert_true(buckets[i] > 1600 && buckets[i] < 2400);
    assert_true(at_cap < 50);
}

static void test_decorrelated_jitter(void **state)
{
    struct wb_backoff b;
    uint64_t prev, min = UINT64_MAX, max = 0;
    int i, distinct = 0;
    uint64_t seen[64];
    int nseen = 0;

    (void)state;
    wb_backoff_init(&b, 50, 3000, WB_BACKOFF_DECORRELATED);
    wb_backoff_seed(&b, 7);
    prev = 50;
    for (i = 0; i < 5000; i++) {
        uint64_t d = wb_backoff_next(&b);
        uint64_t hi = prev * 3 > 3000 ? 3000 : prev * 3;
        int j, known = 0;

        /* In [base, min(cap, 3 * previous)]. */
        assert_true(d >= 50);
        assert_true(d <= hi);
        prev = d;
        if (d < min)
            min = d;
        if (d > max)
            max = d;
        for (j = 0; j < nseen; j++)
            known |= seen[j] == d;
        if (!known && nseen < 64) {
            seen[nseen++] = d;
            distinct++;
        }
    }
    assert_true(min < 100);
    assert_int_equal(max, 3000); /* the cap is reached (and clamps) */
    assert_true(distinct >= 60);
    /* Growth: from a reset, the first delays are small and rise on average. */
    wb_backoff_reset(&b);
    assert_true(wb_backoff_next(&b) <= 150);
}

static void test_seed_reproducible(void **state)
{
    struct wb_backoff a, b, c;
    int i, differ = 0;

    (void)state;
    wb_backoff_init(&a, 10, 100000, WB_BACKOFF_FULL);
    wb_backoff_init(&b, 10, 100000, WB_BACKOFF_FULL);
    wb_backoff_init(&c, 10, 100000, WB_BACKOFF_FULL);
    wb_backoff_seed(&a, 1234);
    wb_backoff_seed(&b, 1234);
    wb_backoff_seed(&c, 1235);
    for (i = 0; i < 100; i++) {
        uint64_t x = wb_backoff_next(&a), y = wb_backoff_next(&b), z = wb_backoff_next(&c);

        assert_int_equal(x, y);
        differ += x != z;
    }
    assert_true(differ > 80);
    /* Seed 0 still gives a working generator. */
    wb_backoff_seed(&a, 0);
    wb_backoff_reset(&a);
    for (i = 0, differ = 0; i < 20; i++)
        differ += wb_backoff_next(&a) != 0;
    assert_true(differ > 10);
}

static void test_degenerate(void **state)
{
    struct wb_backoff b;
    int i;

    (void)state;
    /* base 0 becomes 1; cap below base becomes base. */
    wb_backoff_init(&b, 0, 0, WB_BACKOFF_NONE);
    assert_int_equal(b.base_ms, 1);
    assert_int_equal(wb_backoff_next(&b), 1);
    assert_int_equal(wb_backoff_next(&b), 1);
    wb_backoff_init(&b, 500, 100, WB_BACKOFF_DECORRELATED);
    for (i = 0; i < 100; i++)
        assert_int_equal(wb_backoff_next(&b), 500);
    /* Huge values do not overflow. */
    wb_backoff_init(&b, UINT64_MAX / 2, UINT64_MAX, WB_BACKOFF_DECORRELATED);
    for (i = 0; i < 100; i++)
        assert_true(wb_backoff_next(&b) >= UINT64_MAX / 2);
    wb_backoff_init(&b, 1, UINT64_MAX, WB_BACKOFF_NONE);
    for (i = 0; i < 70; i++)
        wb_backoff_next(&b);
    assert_int_equal(wb_backoff_next(&b), UINT64_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_jitter_growth_and_cap),
        cmocka_unit_test(test_full_jitter),
        cmocka_unit_test(test_decorrelated_jitter),
        cmocka_unit_test(test_seed_reproducible),
        cmocka_unit_test(test_degenerate),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
