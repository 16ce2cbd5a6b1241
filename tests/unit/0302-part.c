/*
 * 0302-part: the worker's per-partition state (wb_part) without a broker: which stop of a
 * batch decides why a partition stopped (a transient stop at any offset, else the lowest
 * offset), dependency retries given up only when both their count and their time are spent,
 * assign keeping retries while revoke forgets them, and structs that stay put while the table
 * grows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <unistd.h>

#include "wb_part.h"

static wb_parts_t *table(unsigned max_retries, int64_t dep_timeout_ms)
{
    struct wb_part_cfg pc = {0};

    pc.topic = "t";
    pc.max_retries = max_retries;
    pc.dep_timeout_ms = dep_timeout_ms;
    pc.backoff_ms = 10;
    pc.backoff_max_ms = 40;
    return wb_part_new(&pc);
}

static void test_stop_ranking(void **state)
{
    wb_parts_t *pt = table(3, 0);
    struct wb_part *p;

    (void)state;
    wb_part_batch_begin(pt);
    p = wb_part_batch_mark(pt, 0, 5);
    wb_part_batch_mark(pt, 0, 40);
    assert_true(p->in_batch);
    assert_int_equal(p->last, 40);
    assert_int_equal(p->why, WB_PART_RUNNING);
    assert_true(p->stop == INT64_MAX);

    /* out of time at 10; a dependency later at 20 does not move the stop */
    wb_part_stop(p, 10, WB_PART_YIELD);
    wb_part_stop(p, 20, WB_PART_DEPENDENCY);
    assert_int_equal(p->stop, 10);
    assert_int_equal(p->why, WB_PART_YIELD);
    /* a dependency below it decides */
    wb_part_stop(p, 7, WB_PART_DEPENDENCY);
    assert_int_equal(p->stop, 7);
    assert_int_equal(p->why, WB_PART_DEPENDENCY);
    /* a transient stop wins at any offset, and keeps winning */
    wb_part_stop(p, 30, WB_PART_TRANSIENT);
    assert_int_equal(p->stop, 7);
    assert_int_equal(p->why, WB_PART_TRANSIENT);
    wb_part_stop(p, 6, WB_PART_DEPENDENCY);
    assert_int_equal(p->stop, 6);
    assert_int_equal(p->why, WB_PART_TRANSIENT);

    /* the next batch starts afresh */
    wb_part_batch_begin(pt);
    assert_false(p->in_batch);
    assert_int_equal(p->why, WB_PART_RUNNING);
    assert_true(p->stop == INT64_MAX);
    assert_true(p->dep_at == INT64_MAX);
    wb_part_destroy(pt);
}

static void test_retries(void **state)
{
    wb_parts_t *pt = table(2, 0);
    struct wb_part *p = wb_part_get(pt, 3, true);
    struct wb_part_retry *rt;
    int i;

    (void)state;
    assert_null(wb_part_retry(pt, p, 100, false));
    assert_false(wb_part_retry_spent(pt, NULL)); /* no attempt yet */
    rt = wb_part_retry(pt, p, 100, true);
    assert_ptr_equal(wb_part_retry(pt, p, 100, false), rt);
    rt->attempts = 1;
    assert_false(wb_part_retry_spent(pt, rt));
    rt->attempts = 2;
    assert_true(wb_part_retry_spent(pt, rt));
    for (i = 0; i < 20; i++) {
        int64_t d = wb_part_retry_delay(pt, rt);

        assert_true(d >= 1 && d <= 40);
    }
    wb_part_retry(pt, p, 200, true);
    assert_int_equal(p->nretries, 2);
    wb_part_retry_clear(p, 100);
    assert_int_equal(p->nretries, 1);
    assert_null(wb_part_retry(pt, p, 100, false));
    wb_part_retry_clear(p, -1);
    assert_int_equal(p->nretries, 0);
    wb_part_destroy(pt);

    /* count spent but not the time: not given up yet, and the delay ends at the deadline */
    pt = table(1, 60000);
    p = wb_part_get(pt, 0, true);
    rt = wb_part_retry(pt, p, 1, true);
    rt->attempts = 1;
    assert_false(wb_part_retry_spent(pt, rt));
    assert_true(wb_part_retry_delay(pt, rt) <= 40);
    rt->first_ms -= 59995; /* 5 ms left */
    assert_true(wb_part_retry_delay(pt, rt) <= 5);
    rt->first_ms -= 10;
    assert_true(wb_part_retry_spent(pt, rt));
    wb_part_destroy(pt);
}

static void test_assign_revoke(void **state)
{
    wb_parts_t *pt = table(1, 0);
    struct wb_part *p = wb_part_get(pt, 1, true), *q;
    int32_t i;

    (void)state;
    assert_int_equal(p->stored, -1);
    assert_true(p->clean);
    p->stored = 42;
    p->clean = false;
    p->resume_ms = 1234;
    wb_part_retry(pt, p, 40, true);
    /* many more partitions: p stays where it is */
    for (i = 2; i < 200; i++)
        wb_part_get(pt, i, true);
    assert_int_equal(wb_part_count(pt), 199);
    assert_ptr_equal(wb_part_get(pt, 1, false), p);
    /* assigned again: nothing stored, but the retry and the pause stay */
    wb_part_assign(pt, 1);
    assert_ptr_equal(wb_part_get(pt, 1, false), p);
    assert_int_equal(p->stored, -1);
    assert_true(p->clean);
    assert_int_equal(p->resume_ms, 1234);
    assert_int_equal(p->nretries, 1);
    /* revoked: gone, and a new assignment starts with nothing */
    wb_part_revoke(pt, 1);
    assert_null(wb_part_get(pt, 1, false));
    assert_int_equal(wb_part_count(pt), 198);
    wb_part_assign(pt, 1);
    q = wb_part_get(pt, 1, false);
    assert_non_null(q);
    assert_int_equal(q->nretries, 0);
    assert_int_equal(q->resume_ms, 0);
    for (i = 0; i < (int32_t)wb_part_count(pt); i++)
        assert_non_null(wb_part_at(pt, (size_t)i));
    assert_null(wb_part_at(pt, wb_part_count(pt)));
    wb_part_destroy(pt);
    wb_part_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_ranking),
        cmocka_unit_test(test_retries),
        cmocka_unit_test(test_assign_revoke),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
