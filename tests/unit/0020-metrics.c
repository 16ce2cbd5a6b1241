/*
 * 0020-metrics: the metrics registry renders exact Prometheus text 0.0.4 (counters, gauges,
 * histograms, labels, escaping, number spellings), rejects bad names and bad updates, copes
 * with many label combinations, and sums concurrent increments from two threads correctly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wb_log.h"
#include "wb_metrics.h"

/* Last METRICS log line, to check that a refusal says why. */
static char last_log[1024];

static void sink(int level, const char *fac, const char *line, void *opaque)
{
    (void)level;
    (void)opaque;
    if (strcmp(fac, "METRICS") == 0)
        snprintf(last_log, sizeof(last_log), "%s", line);
}

static int setup(void **state)
{
    (void)state;
    last_log[0] = '\0';
    wb_log_set_sink(sink, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    wb_log_set_sink(NULL, NULL);
    return 0;
}

static void assert_render(wb_metrics_t *m, const char *expect)
{
    char *got = wb_metrics_render(m);

    assert_string_equal(got, expect);
    free(got);
}

static void test_counter_gauge_exact(void **state)
{
    static const char *const lnames[] = {"topic", "partition"};
    wb_metrics_t *m = wb_metrics_new();
    wb_metric_t *c, *g, *lag;
    double v = -1;

    (void)state;
    c = wb_metrics_counter(m, "writeback_events_total", "Events applied.", 2, lnames);
    g = wb_metrics_gauge(m, "writeback_up", "1 while running.", 0, NULL);
    lag = wb_metrics_gauge(m, "kafka_consumergroup_lag", "Lag in messages.", 2, lnames);
    assert_non_null(c);
    assert_non_null(g);
    assert_non_null(lag);

    /* Label-less families render 0 from the start; labelled ones only HELP and TYPE. */
    assert_render(m, "# HELP writeback_events_total Events applied.\n"
                     "# TYPE writeback_events_total counter\n"
                     "# HELP writeback_up 1 while running.\n"
                     "# TYPE writeback_up gauge\n"
                     "writeback_up 0\n"
                     "# HELP kafka_consumergroup_lag Lag in messages.\n"
                     "# TYPE kafka_consumergroup_lag gauge\n");

    assert_int_equal(wb_metrics_inc(c, (const char *const[]){"events", "1"}, 1), WB_OK);
    assert_int_equal(wb_metrics_inc(c, (const char *const[]){"events", "0"}, 2), WB_OK);
    assert_int_equal(wb_metrics_inc(c, (const char *const[]){"events", "1"}, 0.5), WB_OK);
    assert_int_equal(wb_metrics_set(g, NULL, 1), WB_OK);
    assert_int_equal(wb_metrics_set(lag, (const char *const[]){"events", "0"}, 17), WB_OK);
    assert_int_equal(wb_metrics_inc(lag, (const char *const[]){"events", "0"}, -20), WB_OK);

    assert_render(m, "# HELP writeback_events_total Events applied.\n"
                     "# TYPE writeback_events_total counter\n"
                     "writeback_events_total{topic=\"events\",partition=\"1\"} 1.5\n"
                     "writeback_events_total{topic=\"events\",partition=\"0\"} 2\n"
                     "# HELP writeback_up 1 while running.\n"
                     "# TYPE writeback_up gauge\n"
                     "writeback_up 1\n"
                     "# HELP kafka_consumergroup_lag Lag in messages.\n"
                     "# TYPE kafka_consumergroup_lag gauge\n"
                     "kafka_consumergroup_lag{topic=\"events\",partition=\"0\"} -3\n");

    assert_int_equal(wb_metrics_value(c, (const char *const[]){"events", "1"}, &v), WB_OK);
    assert_true(v == 1.5);
    assert_int_equal(wb_metrics_value(c, (const char *const[]){"events", "9"}, &v), WB_ERR_INVALID);

    /* Removing a series (a revoked partition) drops its line; removing twice is fine. */
    assert_int_equal(wb_metrics_remove(c, (const char *const[]){"events", "1"}), WB_OK);
    assert_int_equal(wb_metrics_remove(c, (const char *const[]){"events", "1"}), WB_OK);
    assert_int_equal(wb_metrics_remove(lag, (const char *const[]){"events", "0"}), WB_OK);
    assert_render(m, "# HELP writeback_events_total Events applied.\n"
                     "# TYPE writeback_events_total counter\n"
                     "writeback_events_total{topic=\"events\",partition=\"0\"} 2\n"
                     "# HELP writeback_up 1 while running.\n"
                     "# TYPE writeback_up gauge\n"
                     "writeback_up 1\n"
                     "# HELP kafka_consumergroup_lag Lag in messages.\n"
                     "# TYPE kafka_consumergroup_lag gauge\n");
    wb_metrics_destroy(m);
}

static void test_histogram_exact(void **state)
{
    static const char *const lnames[] = {"op"};
    static const double bounds[] = {0.5, 1, 10};
    wb_metrics_t *m = wb_metrics_new();
    wb_metric_t *h, *h0;
    double v = 0;

    (void)state;
    h = wb_metrics_histogram(m, "writeback_ldap_seconds", "LDAP latency.", 1, lnames, 3, bounds);
    h0 = wb_metrics_histogram(m, "writeback_batch_size", "Batch.", 0, NULL, 1, bounds);
    assert_non_null(h);
    assert_non_null(h0);

    /* 0.5 is on a boundary and counts in le="0.5" (upper bounds are inclusive). */
    assert_int_equal(wb_metrics_observe(h, (const char *const[]){"add"}, 0.25), WB_OK);
    assert_int_equal(wb_metrics_observe(h, (const char *const[]){"add"}, 0.5), WB_OK);
    assert_int_equal(wb_metrics_observe(h, (const char *const[]){"add"}, 2), WB_OK);
    assert_int_equal(wb_metrics_observe(h, (const char *const[]){"add"}, 100), WB_OK);
    assert_int_equal(wb_metrics_observe(h, (const char *const[]){"modify"}, 1), WB_OK);
    assert_int_equal(wb_metrics_observe(h0, NULL, 3), WB_OK);

    assert_render(m, "# HELP writeback_ldap_seconds LDAP latency.\n"
                     "# TYPE writeback_ldap_seconds histogram\n"
                     "writeback_ldap_seconds_bucket{op=\"add\",le=\"0.5\"} 2\n"
                     "writeback_ldap_seconds_bucket{op=\"add\",le=\"1\"} 2\n"
                     "writeback_ldap_seconds_bucket{op=\"add\",le=\"10\"} 3\n"
                     "writeback_ldap_seconds_bucket{op=\"add\",le=\"+Inf\"} 4\n"
                     "writeback_ldap_seconds_sum{op=\"add\"} 102.75\n"
                     "writeback_ldap_seconds_count{op=\"add\"} 4\n"
                     "writeback_ldap_seconds_bucket{op=\"modify\",le=\"0.5\"} 0\n"
                     "writeback_ldap_seconds_bucket{op=\"modify\",le=\"1\"} 1\n"
                     "writeback_ldap_seconds_bucket{op=\"modify\",le=\"10\"} 1\n"
                     "writeback_ldap_seconds_bucket{op=\"modify\",le=\"+Inf\"} 1\n"
                     "writeback_ldap_seconds_sum{op=\"modify\"} 1\n"
                     "writeback_ldap_seconds_count{op=\"modify\"} 1\n"
                     "# HELP writeback_batch_size Batch.\n"
                     "# TYPE writeback_batch_size histogram\n"
                     "writeback_batch_size_bucket{le=\"0.5\"} 0\n"
                     "writeback_batch_size_bucket{le=\"+Inf\"} 1\n"
                     "writeback_batch_size_sum 3\n"
                     "writeback_batch_size_count 1\n");
    assert_int_equal(wb_metrics_value(h, (const char *const[]){"add"}, &v), WB_OK);
    assert_true(v == 4);
    wb_metrics_destroy(m);
}

static void test_escaping_and_numbers(void **state)
{
    static const char *const lnames[] = {"dn"};
    wb_metrics_t *m = wb_metrics_new();
    wb_metric_t *g;

    (void)state;
    g = wb_metrics_gauge(m, "writeback_x", "Back\\slash, \"quote\"\nand newline.", 1, lnames);
    assert_non_null(g);
    assert_int_equal(wb_metrics_set(g, (const char *const[]){"CN=a\\,b \"q\"\nx"}, 0.1), WB_OK);
    assert_int_equal(wb_metrics_set(g, (const char *const[]){""}, 1.0 / 3.0), WB_OK);
    assert_int_equal(wb_metrics_set(g, (const char *const[]){"big"}, 1e21), WB_OK);
    assert_int_equal(wb_metrics_set(g, (const char *const[]){"pinf"}, INFINITY), WB_OK);
    assert_int_equal(wb_metrics_set(g, (const char *const[]){"ninf"}, -INFINITY), WB_OK);
    assert_int_equal(wb_metrics_set(g, (const char *const[]){"int"}, 1234567890123), WB_OK);
    assert_int_equal(wb_metrics_set(g, (const char *const[]){"utf8 é"}, -2.5), WB_OK);

    /* HELP escapes backslash and newline only; label values also the double quote. Numbers
     * use the shortest spelling that reads back exactly. */
    assert_render(m, "# HELP writeback_x Back\\\\slash, \"quote\"\\nand newline.\n"
                     "# TYPE writeback_x gauge\n"
                     "writeback_x{dn=\"CN=a\\\\,b \\\"q\\\"\\nx\"} 0.1\n"
                     "writeback_x{dn=\"\"} 0.33333333333333331\n"
                     "writeback_x{dn=\"big\"} 1e+21\n"
                     "writeback_x{dn=\"pinf\"} +Inf\n"
                     "writeback_x{dn=\"ninf\"} -Inf\n"
                     "writeback_x{dn=\"int\"} 1234567890123\n"
                     "writeback_x{dn=\"utf8 é\"} -2.5\n");
    wb_metrics_destroy(m);
}

static void expect_refused(wb_metric_t *f, const char *why)
{
    assert_null(f);
    assert_non_null(strstr(last_log, why));
    last_log[0] = '\0';
}

static void test_name_validation(void **state)
{
    static const double bounds[] = {1, 2};
    static const double bad_bounds[] = {2, 2};
    static const double nan_bounds[] = {1, NAN};
    static const char *const one[] = {"partition"};
    wb_metrics_t *m = wb_metrics_new();
    wb_metric_t *a, *b;

    (void)state;
    expect_refused(wb_metrics_counter(m, NULL, "h", 0, NULL), "invalid metric name");
    expect_refused(wb_metrics_counter(m, "", "h", 0, NULL), "invalid metric name");
    expect_refused(wb_metrics_counter(m, "events_total", "h", 0, NULL), "writeback_");
    expect_refused(wb_metrics_counter(m, "kafka_consumergroup_lag_sum", "h", 0, NULL),
                   "writeback_");
    expect_refused(wb_metrics_counter(m, "writeback-events", "h", 0, NULL), "invalid");
    expect_refused(wb_metrics_counter(m, "writeback_a b", "h", 0, NULL), "invalid");
    expect_refused(wb_metrics_counter(m, "writeback_\n", "h", 0, NULL), "invalid");
    expect_refused(wb_metrics_counter(m, "9writeback_x", "h", 0, NULL), "invalid");
    expect_refused(wb_metrics_counter(m, "writeback_x", "h", 1, (const char *const[]){"__x"}),
                   "invalid label name");
    expect_refused(wb_metrics_counter(m, "writeback_x", "h", 1, (const char *const[]){"a-b"}),
                   "invalid label name");
    expect_refused(wb_metrics_counter(m, "writeback_x", "h", 1, (const char *const[]){"1a"}),
                   "invalid label name");
    expect_refused(wb_metrics_counter(m, "writeback_x", "h", 1, (const char *const[]){"a:b"}),
                   "invalid label name");
    expect_refused(wb_metrics_counter(m, "writeback_x", "h", 1, (const char *const[]){NULL}),
                   "invalid label name");
    expect_refused(wb_metrics_counter(m, "writeback_x", "h", 1, NULL), "label name list");
    expect_refused(wb_metrics_counter(m, "writeback_x", "h", 2, (const char *const[]){"a", "a"}),
                   "duplicate label name");
    expect_refused(
        wb_metrics_histogram(m, "writeback_h", "h", 1, (const char *const[]){"le"}, 2, bounds),
        "invalid label name");
    expect_refused(wb_metrics_histogram(m, "writeback_h", "h", 0, NULL, 0, bounds), "buckets");
    expect_refused(wb_metrics_histogram(m, "writeback_h", "h", 0, NULL, 2, NULL), "buckets");
    expect_refused(wb_metrics_histogram(m, "writeback_h", "h", 0, NULL, 2, bad_bounds),
                   "strictly increasing");
    expect_refused(wb_metrics_histogram(m, "writeback_h", "h", 0, NULL, 2, nan_bounds),
                   "strictly increasing");
    expect_refused(wb_metrics_counter(NULL, "writeback_x", "h", 0, NULL), "registry");

    /* Accepted: colons in names, "le" on a non-histogram, the compatibility name. */
    assert_non_null(wb_metrics_counter(m, "writeback_a:b", NULL, 0, NULL));
    assert_non_null(wb_metrics_gauge(m, "writeback_le", "h", 1, (const char *const[]){"le"}));

    /* Same shape again returns the same family; any other shape is refused. */
    a = wb_metrics_gauge(m, "writeback_lag", "h", 1, one);
    b = wb_metrics_gauge(m, "writeback_lag", "other help", 1, one);
    assert_non_null(a);
    assert_ptr_equal(a, b);
    expect_refused(wb_metrics_counter(m, "writeback_lag", "h", 1, one), "different");
    expect_refused(wb_metrics_gauge(m, "writeback_lag", "h", 0, NULL), "different");
    expect_refused(wb_metrics_gauge(m, "writeback_lag", "h", 1, (const char *const[]){"p"}),
                   "different");
    a = wb_metrics_histogram(m, "writeback_h", "h", 0, NULL, 2, bounds);
    assert_non_null(a);
    expect_refused(wb_metrics_histogram(m, "writeback_h", "h", 0, NULL, 1, bounds), "different");
    /* A histogram's _bucket/_sum/_count series names are taken, both ways round. */
    expect_refused(wb_metrics_counter(m, "writeback_h_count", "h", 0, NULL), "clashes");
    expect_refused(wb_metrics_gauge(m, "writeback_h_sum", "h", 0, NULL), "clashes");
    expect_refused(wb_metrics_histogram(m, "writeback_lag", "h", 0, NULL, 2, bounds), "different");
    assert_non_null(wb_metrics_counter(m, "writeback_q_count", "h", 0, NULL));
    expect_refused(wb_metrics_histogram(m, "writeback_q", "h", 0, NULL, 2, bounds), "clashes");
    wb_metrics_destroy(m);
}

static void test_update_errors(void **state)
{
    static const double bounds[] = {1};
    static const char *const one[] = {"p"};
    wb_metrics_t *m = wb_metrics_new();
    wb_metric_t *c = wb_metrics_counter(m, "writeback_c_total", "h", 1, one);
    wb_metric_t *g = wb_metrics_gauge(m, "writeback_g", "h", 0, NULL);
    wb_metric_t *h = wb_metrics_histogram(m, "writeback_h", "h", 0, NULL, 1, bounds);
    const char *const v0[] = {"0"};
    const char *const vnull[] = {NULL};
    double v = 0;
    char *out;

    (void)state;
    assert_int_equal(wb_metrics_inc(c, v0, 5), WB_OK);
    assert_int_equal(wb_metrics_inc(c, v0, -1), WB_ERR_INVALID);
    assert_int_equal(wb_metrics_inc(c, v0, NAN), WB_ERR_INVALID);
    assert_int_equal(wb_metrics_inc(c, v0, INFINITY), WB_ERR_INVALID);
    assert_int_equal(wb_metrics_set(c, v0, 1), WB_ERR_INVALID);
    assert_int_equal(wb_metrics_observe(c, v0, 1), WB_ERR_INVALID);
    assert_int_equal(wb_metrics_inc(c, NULL, 1), WB_ERR_INVALID);
    assert_int_equal(wb_metrics_inc(c, vnull, 1), WB_ERR_INVALID);
    assert_int_equal(wb_metrics_remove(c, vnull), WB_ERR_INVALID);
    assert_int_equal(wb_metrics_remove(c, NULL), WB_ERR_INVALID);
    assert_int_equal(wb_metrics_set(g, NULL, NAN), WB_ERR_INVALID);
    assert_int_equal(wb_metrics_observe(g, NULL, 1), WB_ERR_INVALID);
    assert_int_equal(wb_metrics_inc(h, NULL, 1), WB_ERR_INVALID);
    assert_int_equal(wb_metrics_set(h, NULL, 1), WB_ERR_INVALID);
    assert_int_equal(wb_metrics_observe(h, NULL, NAN), WB_ERR_INVALID);
    assert_int_equal(wb_metrics_observe(h, NULL, INFINITY), WB_ERR_INVALID);
    assert_int_equal(wb_metrics_inc(NULL, NULL, 1), WB_ERR_INVALID);
    assert_int_equal(wb_metrics_set(NULL, NULL, 1), WB_ERR_INVALID);
    assert_int_equal(wb_metrics_observe(NULL, NULL, 1), WB_ERR_INVALID);
    assert_int_equal(wb_metrics_remove(NULL, NULL), WB_ERR_INVALID);
    assert_int_equal(wb_metrics_value(NULL, NULL, &v), WB_ERR_INVALID);
    assert_int_equal(wb_metrics_value(g, NULL, NULL), WB_ERR_INVALID);

    /* Nothing above changed anything. */
    assert_int_equal(wb_metrics_value(c, v0, &v), WB_OK);
    assert_true(v == 5);
    out = wb_metrics_render(m);
    assert_non_null(strstr(out, "\nwriteback_g 0\n"));
    assert_non_null(strstr(out, "\nwriteback_h_count 0\n"));
    assert_non_null(strstr(out, "\nwriteback_h_sum 0\n"));
    assert_null(strstr(out, "NaN"));
    free(out);

    /* A NULL registry renders as empty text. */
    out = wb_metrics_render(NULL);
    assert_string_equal(out, "");
    free(out);
    wb_metrics_destroy(m);
    wb_metrics_destroy(NULL);
}

static size_t count_lines(const char *s, const char *prefix)
{
    size_t n = 0, plen = strlen(prefix);
    const char *p;

    for (p = s; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, prefix, plen) == 0)
            n++;
    return n;
}

static void test_many_series(void **state)
{
    static const char *const lnames[] = {"topic", "partition"};
    wb_metrics_t *m = wb_metrics_new();
    wb_metric_t *g = wb_metrics_gauge(m, "writeback_lag", "h", 2, lnames);
    char part[16], want[64];
    const char *vals[2] = {"events", part};
    double v;
    char *out;
    int i;

    (void)state;
    /* Every partition updated three times: later lookups must find the first series. */
    for (i = 0; i < 3 * 2000; i++) {
        snprintf(part, sizeof(part), "%d", i % 2000);
        assert_int_equal(wb_metrics_inc(g, vals, i % 2000), WB_OK);
    }
    for (i = 0; i < 2000; i += 97) {
        snprintf(part, sizeof(part), "%d", i);
        assert_int_equal(wb_metrics_value(g, vals, &v), WB_OK);
        assert_true(v == 3.0 * i);
    }
    out = wb_metrics_render(m);
    assert_int_equal(count_lines(out, "writeback_lag{"), 2000);
    assert_non_null(strstr(out, "writeback_lag{topic=\"events\",partition=\"1999\"} 5997\n"));
    free(out);

    /* Remove the even partitions; the odd ones stay, in order of first use. */
    for (i = 0; i < 2000; i += 2) {
        snprintf(part, sizeof(part), "%d", i);
        assert_int_equal(wb_metrics_remove(g, vals), WB_OK);
    }
    out = wb_metrics_render(m);
    assert_int_equal(count_lines(out, "writeback_lag{"), 1000);
    assert_null(strstr(out, "partition=\"0\""));
    assert_non_null(strstr(out, "# TYPE writeback_lag gauge\n"
                                "writeback_lag{topic=\"events\",partition=\"1\"} 3\n"
                                "writeback_lag{topic=\"events\",partition=\"3\"} 9\n"));
    free(out);

    /* The cardinality cap: new combinations past it are refused, old ones still update. */
    for (i = 2000; i < 2000 + WB_METRICS_MAX_SERIES - 1000; i++) {
        snprintf(part, sizeof(part), "%d", i);
        assert_int_equal(wb_metrics_set(g, vals, 1), WB_OK);
    }
    snprintf(part, sizeof(part), "new");
    assert_int_equal(wb_metrics_set(g, vals, 1), WB_ERR_INVALID);
    assert_non_null(strstr(last_log, "label combinations"));
    assert_int_equal(wb_metrics_value(g, vals, &v), WB_ERR_INVALID);
    snprintf(part, sizeof(part), "1");
    assert_int_equal(wb_metrics_set(g, vals, 42), WB_OK);
    assert_int_equal(wb_metrics_value(g, vals, &v), WB_OK);
    assert_true(v == 42);
    snprintf(want, sizeof(want), "writeback_lag{");
    out = wb_metrics_render(m);
    assert_int_equal(count_lines(out, want), WB_METRICS_MAX_SERIES);
    free(out);
    wb_metrics_destroy(m);
}

#define PER_THREAD 200000

struct worker_arg {
    wb_metric_t *c, *plain;
    const char *label;
};

static void *hammer(void *p)
{
    struct worker_arg *a = p;
    const char *const shared[] = {"shared"};
    const char *const own[] = {a->label};
    int i;

    for (i = 0; i < PER_THREAD; i++) {
        wb_metrics_inc(a->c, shared, 1);
        wb_metrics_inc(a->c, own, 1);
        wb_metrics_inc(a->plain, NULL, 1);
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    static const char *const lnames[] = {"who"};
    wb_metrics_t *m = wb_metrics_new();
    struct worker_arg a1, a2;
    pthread_t t1, t2;
    double v = 0;
    int renders = 0;
    char *out;

    (void)state;
    a1.c = a2.c = wb_metrics_counter(m, "writeback_ops_total", "h", 1, lnames);
    a1.plain = a2.plain = wb_metrics_counter(m, "writeback_plain_total", "h", 0, NULL);
    a1.label = "t1";
    a2.label = "t2";
    assert_int_equal(pthread_create(&t1, NULL, hammer, &a1), 0);
    assert_int_equal(pthread_create(&t2, NULL, hammer, &a2), 0);
    /* Render concurrently, as the HTTP thread would. */
    for (renders = 0; renders < 50; renders++) {
        out = wb_metrics_render(m);
        assert_non_null(strstr(out, "# TYPE writeback_ops_total counter\n"));
        free(out);
    }
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);

    assert_int_equal(wb_metrics_value(a1.c, (const char *const[]){"shared"}, &v), WB_OK);
    assert_true(v == 2.0 * PER_THREAD);
    assert_int_equal(wb_metrics_value(a1.c, (const char *const[]){"t1"}, &v), WB_OK);
    assert_true(v == PER_THREAD);
    assert_int_equal(wb_metrics_value(a1.c, (const char *const[]){"t2"}, &v), WB_OK);
    assert_true(v == PER_THREAD);
    out = wb_metrics_render(m);
    assert_non_null(strstr(out, "\nwriteback_plain_total 400000\n"));
    assert_non_null(strstr(out, "\nwriteback_ops_total{who=\"shared\"} 400000\n"));
    free(out);
    wb_metrics_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_counter_gauge_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_histogram_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escaping_and_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_name_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_series, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
