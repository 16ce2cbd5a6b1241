/*
 * wb_metrics: counters, gauges and histograms in a registry rendered as Prometheus text 0.0.4.
 * One mutex per registry: updates are a hash lookup and an add, so holding it briefly on the
 * main thread costs less than per-series atomics and keeps a render consistent. This file
 * holds the registry, each family's series table and the updates; registering a family is in
 * wb_metrics_register.c, the text format in wb_metrics_render.c.
 */
#include "wb_metrics_int.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wb_log.h"
#include "wb_mem.h"

static struct series *series_new(wb_metric_t *f, const char *const *values, uint64_t hash)
{
    struct series *s = wb_calloc(1, sizeof(*s));
    size_t i;

    s->hash = hash;
    s->values = wb_calloc(f->nlabels ? f->nlabels : 1, sizeof(char *));
    for (i = 0; i < f->nlabels; i++)
        s->values[i] = wb_strdup(values[i]);
    if (f->type == MT_HISTOGRAM)
        s->buckets = wb_calloc(f->nbuckets + 1, sizeof(uint64_t));
    return s;
}

static void series_free(const wb_metric_t *f, struct series *s)
{
    size_t i;

    for (i = 0; i < f->nlabels; i++)
        free(s->values[i]);
    free(s->values);
    free(s->buckets);
    free(s);
}

/* FNV-1a over the values, each followed by a 0xff byte (never in UTF-8) as separator. */
static uint64_t hash_values(size_t n, const char *const *values)
{
    uint64_t h = 14695981039346656037ULL;
    size_t i;
    const unsigned char *p;

    for (i = 0; i < n; i++) {
        for (p = (const unsigned char *)values[i]; *p; p++)
            h = (h ^ *p) * 1099511628211ULL;
        h = (h ^ 0xff) * 1099511628211ULL;
    }
    return h;
}

static int values_equal(size_t n, char *const *a, const char *const *b)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(a[i], b[i]) != 0)
            return 0;
    return 1;
}

static void table_grow(wb_metric_t *f)
{
    size_t nsize = f->tsize * 2, i;
    struct series **nt = wb_calloc(nsize, sizeof(*nt));

    for (i = 0; i < f->tsize; i++) {
        struct series *s = f->table[i], *next;

        for (; s; s = next) {
            next = s->hnext;
            s->hnext = nt[s->hash & (nsize - 1)];
            nt[s->hash & (nsize - 1)] = s;
        }
    }
    free(f->table);
    f->table = nt;
    f->tsize = nsize;
}

struct series *wb_metrics_lookup(wb_metric_t *f, const char *const *values, int create)
{
    uint64_t h;
    struct series *s;
    size_t i;

    if (f->nlabels && !values)
        return NULL;
    for (i = 0; i < f->nlabels; i++)
        if (!values[i])
            return NULL;
    h = hash_values(f->nlabels, values);
    for (s = f->table[h & (f->tsize - 1)]; s; s = s->hnext)
        if (s->hash == h && values_equal(f->nlabels, s->values, values))
            return s;
    if (!create)
        return NULL;
    if (f->nseries >= WB_METRICS_MAX_SERIES) {
        if (!f->overflow_logged)
            wb_log(LOG_ERR, "METRICS",
                   "metric %s: more than %d label combinations, dropping new ones", f->name,
                   WB_METRICS_MAX_SERIES);
        f->overflow_logged = 1;
        return NULL;
    }
    if (f->nseries >= f->tsize)
        table_grow(f);
    s = series_new(f, values, h);
    s->hnext = f->table[h & (f->tsize - 1)];
    f->table[h & (f->tsize - 1)] = s;
    s->prev = f->tail;
    if (f->tail)
        f->tail->next = s;
    else
        f->head = s;
    f->tail = s;
    f->nseries++;
    return s;
}

static void metric_free(wb_metric_t *f)
{
    struct series *s, *next;
    size_t i;

    for (s = f->head; s; s = next) {
        next = s->next;
        series_free(f, s);
    }
    for (i = 0; i < f->nlabels; i++)
        free(f->labels[i]);
    free(f->labels);
    free(f->bounds);
    free(f->table);
    free(f->name);
    free(f->help);
    free(f);
}

wb_metrics_t *wb_metrics_new(void)
{
    wb_metrics_t *m = wb_calloc(1, sizeof(*m));

    pthread_mutex_init(&m->lock, NULL);
    return m;
}

void wb_metrics_destroy(wb_metrics_t *m)
{
    wb_metric_t *f, *next;

    if (!m)
        return;
    for (f = m->head; f; f = next) {
        next = f->next;
        metric_free(f);
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

enum op { OP_INC, OP_SET, OP_OBSERVE };

static wb_err_t update(wb_metric_t *f, const char *const *values, enum op op, double v)
{
    struct series *s;
    size_t i;

    if (!f || isnan(v))
        return WB_ERR_INVALID;
    switch (op) {
    case OP_INC:
        if (f->type == MT_HISTOGRAM || !isfinite(v) || (f->type == MT_COUNTER && v < 0))
            return WB_ERR_INVALID;
        break;
    case OP_SET:
        if (f->type != MT_GAUGE)
            return WB_ERR_INVALID;
        break;
    case OP_OBSERVE:
        if (f->type != MT_HISTOGRAM || !isfinite(v))
            return WB_ERR_INVALID;
        break;
    }

    pthread_mutex_lock(&f->m->lock);
    s = wb_metrics_lookup(f, values, 1);
    if (s) {
        if (op == OP_INC)
            s->value += v;
        else if (op == OP_SET)
            s->value = v;
        else {
            for (i = 0; i < f->nbuckets && v > f->bounds[i]; i++)
                ;
            s->buckets[i]++;
            s->sum += v;
            s->count++;
        }
    }
    pthread_mutex_unlock(&f->m->lock);
    return s ? WB_OK : WB_ERR_INVALID;
}

wb_err_t wb_metrics_inc(wb_metric_t *metric, const char *const *label_values, double by)
{
    return update(metric, label_values, OP_INC, by);
}

wb_err_t wb_metrics_set(wb_metric_t *metric, const char *const *label_values, double value)
{
    return update(metric, label_values, OP_SET, value);
}

wb_err_t wb_metrics_observe(wb_metric_t *metric, const char *const *label_values, double value)
{
    return update(metric, label_values, OP_OBSERVE, value);
}

wb_err_t wb_metrics_remove(wb_metric_t *metric, const char *const *label_values)
{
    struct series *s, **pp;
    wb_err_t err = WB_OK;
    size_t i;

    if (!metric || (metric->nlabels && !label_values))
        return WB_ERR_INVALID;
    for (i = 0; i < metric->nlabels; i++)
        if (!label_values[i])
            return WB_ERR_INVALID;

    pthread_mutex_lock(&metric->m->lock);
    s = wb_metrics_lookup(metric, label_values, 0);
    if (!s)
        goto out;
    for (pp = &metric->table[s->hash & (metric->tsize - 1)]; *pp != s; pp = &(*pp)->hnext)
        ;
    *pp = s->hnext;
    if (s->prev)
        s->prev->next = s->next;
    else
        metric->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        metric->tail = s->prev;
    metric->nseries--;
    series_free(metric, s);
out:
    pthread_mutex_unlock(&metric->m->lock);
    return err;
}

wb_err_t wb_metrics_value(wb_metric_t *metric, const char *const *label_values, double *out)
{
    struct series *s;

    if (!metric || !out)
        return WB_ERR_INVALID;
    pthread_mutex_lock(&metric->m->lock);
    s = wb_metrics_lookup(metric, label_values, 0);
    if (s)
        *out = metric->type == MT_HISTOGRAM ? (double)s->count : s->value;
    pthread_mutex_unlock(&metric->m->lock);
    return s ? WB_OK : WB_ERR_INVALID;
}
