/*
 * 0404-ctl-burrow: the Burrow-style lag evaluator of writebackctl lag (ctl/ctl_lag.c) on
 * hand-made windows: OK (caught up, or catching up), WARN (moving but lag never shrinks),
 * STALL (members present, committed offset frozen), STOP (no members), REWIND (committed
 * offset going backwards), and the group status and exit code (0 OK, 1 WARN, 2 ERR).
 */
#include "ctl_lag.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define MAXW 8

/* A window of n samples of one partition (index 0) next to a second partition (index 1)
 * that is always caught up, so every rule is checked on a partition other than the first. */
struct win {
    struct ctl_lag_sample s[MAXW];
    int64_t committed[MAXW][2];
    int64_t lag[MAXW][2];
    size_t n;
};

static void win_set(struct win *w, size_t n, const int64_t *committed, const int64_t *lag)
{
    size_t i;

    memset(w, 0, sizeof(*w));
    w->n = n;
    for (i = 0; i < n; i++) {
        w->committed[i][0] = 100;
        w->lag[i][0] = 0;
        w->committed[i][1] = committed[i];
        w->lag[i][1] = lag[i];
        w->s[i].t = 1700000000000 + (int64_t)i * 60000;
        w->s[i].committed = w->committed[i];
        w->s[i].lag = w->lag[i];
    }
}

static enum ctl_lag_status eval(size_t n, const int64_t *committed, const int64_t *lag, int members)
{
    struct win w;

    win_set(&w, n, committed, lag);
    /* the caught-up neighbour is OK whatever the members */
    assert_int_equal(ctl_lag_evaluate(w.s, w.n, 0, members), CTL_LAG_OK);
    return ctl_lag_evaluate(w.s, w.n, 1, members);
}

static void test_ok(void **state)
{
    (void)state;
    /* caught up in the last sample, even after a stall or without members */
    assert_int_equal(eval(3, (int64_t[]){10, 10, 10}, (int64_t[]){5, 5, 0}, 2), CTL_LAG_OK);
    assert_int_equal(eval(3, (int64_t[]){10, 10, 10}, (int64_t[]){0, 0, 0}, 0), CTL_LAG_OK);
    /* moving and lag shrinking at least once */
    assert_int_equal(eval(4, (int64_t[]){10, 20, 30, 40}, (int64_t[]){50, 60, 55, 70}, 1),
                     CTL_LAG_OK);
    /* a single sample with lag and members cannot be judged: OK */
    assert_int_equal(eval(1, (int64_t[]){10}, (int64_t[]){7}, 1), CTL_LAG_OK);
    /* members unknown (-1) is not STOP */
    assert_int_equal(eval(3, (int64_t[]){10, 20, 30}, (int64_t[]){9, 8, 7}, -1), CTL_LAG_OK);
    /* first commit appearing (none -> 10) is movement, not a rewind */
    assert_int_equal(eval(3, (int64_t[]){-1, 10, 20}, (int64_t[]){30, 25, 20}, 1), CTL_LAG_OK);
}

static void test_warn(void **state)
{
    (void)state;
    /* offsets move but lag grows */
    assert_int_equal(eval(3, (int64_t[]){10, 20, 30}, (int64_t[]){5, 8, 12}, 1), CTL_LAG_WARN);
    /* offsets move, lag constant (never decreasing) */
    assert_int_equal(eval(4, (int64_t[]){10, 11, 12, 13}, (int64_t[]){9, 9, 9, 9}, 3),
                     CTL_LAG_WARN);
}

static void test_stall(void **state)
{
    (void)state;
    /* members present, committed offset frozen, lag > 0 */
    assert_int_equal(eval(3, (int64_t[]){10, 10, 10}, (int64_t[]){4, 6, 9}, 2), CTL_LAG_STALL);
    /* frozen even while lag shrinks (log truncated by retention) */
    assert_int_equal(eval(2, (int64_t[]){10, 10}, (int64_t[]){9, 4}, 1), CTL_LAG_STALL);
    /* never committed at all */
    assert_int_equal(eval(3, (int64_t[]){-1, -1, -1}, (int64_t[]){3, 3, 3}, 1), CTL_LAG_STALL);
}

static void test_stop(void **state)
{
    (void)state;
    /* no members and lag: STOP, whether or not the offset moved in the window */
    assert_int_equal(eval(3, (int64_t[]){10, 10, 10}, (int64_t[]){4, 6, 9}, 0), CTL_LAG_STOP);
    assert_int_equal(eval(3, (int64_t[]){10, 20, 30}, (int64_t[]){9, 8, 7}, 0), CTL_LAG_STOP);
    assert_int_equal(eval(1, (int64_t[]){10}, (int64_t[]){1}, 0), CTL_LAG_STOP);
}

static void test_rewind(void **state)
{
    (void)state;
    assert_int_equal(eval(3, (int64_t[]){50, 20, 25}, (int64_t[]){5, 35, 30}, 1), CTL_LAG_REWIND);
    /* a rewind is reported before STOP: it explains the lag */
    assert_int_equal(eval(2, (int64_t[]){50, 0}, (int64_t[]){0, 50}, 0), CTL_LAG_REWIND);
    /* but a rewound partition that has caught up again is OK */
    assert_int_equal(eval(3, (int64_t[]){50, 0, 50}, (int64_t[]){0, 50, 0}, 1), CTL_LAG_OK);
}

static void test_group(void **state)
{
    enum ctl_lag_status ok[] = {CTL_LAG_OK, CTL_LAG_OK, CTL_LAG_OK};
    enum ctl_lag_status warn[] = {CTL_LAG_OK, CTL_LAG_WARN, CTL_LAG_OK};
    enum ctl_lag_status stop[] = {CTL_LAG_WARN, CTL_LAG_OK, CTL_LAG_STOP};
    enum ctl_lag_status stall[] = {CTL_LAG_STALL, CTL_LAG_WARN};
    enum ctl_lag_status rewind[] = {CTL_LAG_OK, CTL_LAG_REWIND};
    enum ctl_lag_status err[] = {CTL_LAG_ERR, CTL_LAG_OK};

    (void)state;
    assert_int_equal(ctl_lag_group(ok, 3), 0);
    assert_int_equal(ctl_lag_group(ok, 0), 0);
    assert_int_equal(ctl_lag_group(warn, 3), 1);
    assert_int_equal(ctl_lag_group(stop, 3), 2);
    assert_int_equal(ctl_lag_group(stall, 2), 2);
    assert_int_equal(ctl_lag_group(rewind, 2), 2);
    assert_int_equal(ctl_lag_group(err, 2), 2);
    assert_string_equal(ctl_lag_status_name(CTL_LAG_STALL), "STALL");
    assert_string_equal(ctl_lag_status_name(CTL_LAG_REWIND), "REWIND");
    assert_string_equal(ctl_lag_status_name(ctl_lag_group(warn, 3)), "WARN");
    assert_string_equal(ctl_lag_status_name(99), "UNKNOWN");
    assert_string_equal(ctl_lag_status_name(-1), "UNKNOWN");
}

/* A multi-partition window evaluated partition by partition, as `lag` does. */
static void test_mixed(void **state)
{
    int64_t c[3][4] = {{10, 10, 5, 0}, {20, 10, 6, 0}, {30, 10, 7, 0}};
    int64_t l[3][4] = {{5, 3, 9, 0}, {4, 4, 10, 0}, {3, 5, 11, 0}};
    struct ctl_lag_sample w[3];
    enum ctl_lag_status ps[4];
    int p;

    (void)state;
    for (p = 0; p < 3; p++) {
        w[p].t = p;
        w[p].committed = c[p];
        w[p].lag = l[p];
    }
    for (p = 0; p < 4; p++)
        ps[p] = ctl_lag_evaluate(w, 3, p, 2);
    assert_int_equal(ps[0], CTL_LAG_OK);
    assert_int_equal(ps[1], CTL_LAG_STALL);
    assert_int_equal(ps[2], CTL_LAG_WARN);
    assert_int_equal(ps[3], CTL_LAG_OK);
    assert_int_equal(ctl_lag_group(ps, 4), 2);
    /* the sliding window: the last two samples only */
    assert_int_equal(ctl_lag_evaluate(&w[1], 2, 1, 2), CTL_LAG_STALL);
    assert_int_equal(ctl_lag_evaluate(&w[1], 2, 0, 2), CTL_LAG_OK);
    /* workers gone: every lagging partition is STOP */
    for (p = 0; p < 4; p++)
        ps[p] = ctl_lag_evaluate(w, 3, p, 0);
    assert_int_equal(ps[0], CTL_LAG_STOP);
    assert_int_equal(ps[1], CTL_LAG_STOP);
    assert_int_equal(ps[3], CTL_LAG_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok),    cmocka_unit_test(test_warn),   cmocka_unit_test(test_stall),
        cmocka_unit_test(test_stop),  cmocka_unit_test(test_rewind), cmocka_unit_test(test_group),
        cmocka_unit_test(test_mixed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
