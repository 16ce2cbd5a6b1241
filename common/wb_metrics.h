/*
 * wb_metrics: a small thread-safe registry of counters, gauges and histograms, rendered in the
 * Prometheus text exposition format 0.0.4. The main thread updates, the HTTP thread renders;
 * one mutex per registry guards both. Series are found by label values through a hash table,
 * so per-event updates of families with many label combinations (per partition) stay cheap.
 */
#ifndef WB_METRICS_H
#define WB_METRICS_H

#include <stddef.h>

#include "wb_err.h"

typedef struct wb_metrics_s wb_metrics_t;
/* A metric family (one name, one type, fixed label names). Owned by its registry. */
typedef struct wb_metric_s wb_metric_t;

/* Upper bound on label combinations per family: a runaway label (say, a DN) must not eat the
 * process. Past it, updates of new combinations fail with WB_ERR_INVALID (logged once). */
#define WB_METRICS_MAX_SERIES 10000
/* Upper bounds on label names per family and buckets per histogram. */
#define WB_METRICS_MAX_LABELS  8
#define WB_METRICS_MAX_BUCKETS 64

/* New empty registry. Never NULL. */
wb_metrics_t *wb_metrics_new(void);
/* Frees the registry and every family in it; handles from it become invalid. NULL is a no-op. */
void wb_metrics_destroy(wb_metrics_t *m);

/*
 * Registration. name must match [a-zA-Z_:][a-zA-Z0-9_:]* and start with "writeback_" (or be
 * exactly "kafka_consumergroup_lag", kept for existing dashboards). help is any text (may be
 * NULL = empty). label_names (nlabels of them, may be NULL when nlabels is 0) must match
 * [a-zA-Z_][a-zA-Z0-9_]*, not start with "__", be distinct, and for histograms not be "le".
 * All strings are copied. Registering the same name again with the same type, label names (and
 * buckets) returns the existing family; any other clash, or any invalid argument, logs the
 * reason (facility METRICS) and returns NULL. A family without labels has its one series from
 * the start (it renders as 0); a labelled family renders only the combinations used so far.
 * Any thread.
 */
wb_metric_t *wb_metrics_counter(wb_metrics_t *m, const char *name, const char *help, size_t nlabels,
                                const char *const *label_names);
wb_metric_t *wb_metrics_gauge(wb_metrics_t *m, const char *name, const char *help, size_t nlabels,
                              const char *const *label_names);
/* bounds: nbuckets finite, strictly increasing upper bounds (1..WB_METRICS_MAX_BUCKETS);
 * the +Inf bucket is implicit. Copied. */
wb_metric_t *wb_metrics_histogram(wb_metrics_t *m, const char *name, const char *help,
                                  size_t nlabels, const char *const *label_names, size_t nbuckets,
                                  const double *bounds);

/*
 * Updates. label_values has one non-NULL string per label name, in registration order (may be
 * NULL when the family has no labels); values are copied when a new combination is first seen,
 * and are escaped at render time, so any bytes are allowed. metric NULL, a NULL value, the
 * wrong metric type, a NaN, a negative counter increment, or a new combination past
 * WB_METRICS_MAX_SERIES return WB_ERR_INVALID and change nothing. Any thread.
 */
/* Counter: add by (>= 0). Gauge: add by (any sign). */
wb_err_t wb_metrics_inc(wb_metric_t *metric, const char *const *label_values, double by);
/* Gauge only: set to value. */
wb_err_t wb_metrics_set(wb_metric_t *metric, const char *const *label_values, double value);
/* Histogram only: count value into its bucket, the sum and the count. */
wb_err_t wb_metrics_observe(wb_metric_t *metric, const char *const *label_values, double value);
/* Forget one label combination (a revoked partition). WB_OK also when it did not exist. */
wb_err_t wb_metrics_remove(wb_metric_t *metric, const char *const *label_values);

/* Current value of a counter or gauge series, or the observation count of a histogram series,
 * into *out. WB_ERR_INVALID when the combination has never been updated. For tests and
 * for writebackctl-style summaries. */
wb_err_t wb_metrics_value(wb_metric_t *metric, const char *const *label_values, double *out);

/* The whole registry in text format 0.0.4: families in registration order, series of a family
 * in order of first use, "# HELP" and "# TYPE" lines for every family. Returns a caller-owned
 * string (free with free()); never NULL. Any thread (the HTTP thread calls it). */
char *wb_metrics_render(wb_metrics_t *m);

#endif
