/*
 * wb_metrics_int.h: what the files of the wb_metrics module share: the registry, its families
 * and their series; the series table lives in wb_metrics.c, registration in
 * wb_metrics_register.c, the text format in wb_metrics_render.c. Not for use outside the module.
 */
#ifndef WB_METRICS_INT_H
#define WB_METRICS_INT_H

#include "wb_metrics.h"

#include <pthread.h>
#include <stdint.h>

enum mtype { MT_COUNTER, MT_GAUGE, MT_HISTOGRAM };

/* One label combination of a family. */
struct series {
    struct series *hnext;       /* hash chain */
    struct series *prev, *next; /* order of first use, for rendering */
    uint64_t hash;
    char **values;     /* nlabels copies */
    double value;      /* counter, gauge */
    uint64_t *buckets; /* histogram: nbuckets + 1 non-cumulative counts (last is +Inf) */
    double sum;
    uint64_t count;
};

struct wb_metric_s {
    wb_metrics_t *m;
    struct wb_metric_s *next;
    enum mtype type;
    char *name;
    char *help;
    size_t nlabels;
    char **labels;
    size_t nbuckets;
    double *bounds;
    struct series **table; /* power-of-two buckets, grown at load factor 1 */
    size_t tsize;
    size_t nseries;
    struct series *head, *tail;
    int overflow_logged;
};

struct wb_metrics_s {
    pthread_mutex_t lock;
    wb_metric_t *head, *tail;
};

/* The series of f for values, created when create is set. Lock held. NULL when values are
 * bad, the series is absent (create == 0) or the family is full (wb_metrics.c). */
struct series *wb_metrics_lookup(wb_metric_t *f, const char *const *values, int create);

#endif
