/*
 * wbt_metrics: reading one value out of a program's metrics in a test.
 */
#ifndef WBT_METRICS_H
#define WBT_METRICS_H

#include "wb_metrics.h"

/* The value after the first occurrence of needle (a series name with its labels and the space
 * before the value, e.g. "x_total{a=\"b\"} ") in the Prometheus text of m, or absent when the
 * text has no such series. */
double wbt_metrics_value(wb_metrics_t *m, const char *needle, double absent);

#endif
