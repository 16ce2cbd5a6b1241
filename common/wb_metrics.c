/*
 * wb_metrics: counters, gauges and histograms in a registry rendered as Prometheus text 0.0.4.
 * One mutex per registry: updates are a hash lookup and an add, so holding it briefly on the
 * main thread costs less than per-series atomics and keeps a render consistent.
 */
#include "wb_metrics.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wb_log.h"
#include "wb_mem.h"

enum mtype { MT_COUNTER, MT_GAUGE, MT_HISTOGRAM };

static const char *const type_names[] = {"counter", "gauge", "histogram"};

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

/* Growable output buffer for render. */
struct buf {
    char *p;
    size_t len, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;

        while (b->len + n + 1 > cap)
            cap *= 2;
        b->p = wb_realloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

/* Label values escape backslash, double quote and newline; HELP text only backslash and
 * newline (exposition format 0.0.4). */
static void buf_escaped(struct buf *b, const char *s, int quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            buf_add(b, "\\\\", 2);
        else if (*s == '\n')
            buf_add(b, "\\n", 2);
        else if (*s == '"' && quote)
            buf_add(b, "\\\"", 2);
        else
            buf_add(b, s, 1);
    }
}

/* Shortest of %.15g / %.17g that reads back as the same double; Prometheus spellings for the
 * special values. */
static void fmt_double(char *out, size_t n, double v)
{
    if (isnan(v))
        snprintf(out, n, "NaN");
    else if (isinf(v))
        snprintf(out, n, "%s", v > 0 ? "+Inf" : "-Inf");
    else {
        snprintf(out, n, "%.15g", v);
        if (strtod(out, NULL) != v)
            snprintf(out, n, "%.17g", v);
    }
}

static void buf_double(struct buf *b, double v)
{
    char tmp[64];

    fmt_double(tmp, sizeof(tmp), v);
    buf_str(b, tmp);
}

static int is_name_char(char c, int first, int colon)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
        return 1;
    if (c == ':' && colon)
        return 1;
    return !first && c >= '0' && c <= '9';
}

static int valid_ident(const char *s, int colon)
{
    const char *p;

    if (!s || !*s)
        return 0;
    for (p = s; *p; p++)
        if (!is_name_char(*p, p == s, colon))
            return 0;
    return 1;
}

static int has_suffix_of(const char *name, const char *base, const char *suffix)
{
    size_t n = strlen(base);

    return strncmp(name, base, n) == 0 && strcmp(name + n, suffix) == 0;
}

/* A histogram named h also exposes h_bucket, h_sum and h_count; no other family may use them. */
static int names_clash(const wb_metric_t *f, const char *name, enum mtype type)
{
    static const char *const sfx[] = {"_bucket", "_sum", "_count"};
    size_t i;

    for (i = 0; i < 3; i++) {
        if (f->type == MT_HISTOGRAM && has_suffix_of(name, f->name, sfx[i]))
            return 1;
        if (type == MT_HISTOGRAM && has_suffix_of(f->name, name, sfx[i]))
            return 1;
    }
    return 0;
}

static int same_shape(const wb_metric_t *f, enum mtype type, size_t nlabels,
                      const char *const *label_names, size_t nbuckets, const double *bounds)
{
    size_t i;

    if (f->type != type || f->nlabels != nlabels || f->nbuckets != nbuckets)
        return 0;
    for (i = 0; i < nlabels; i++)
        if (strcmp(f->labels[i], label_names[i]) != 0)
            return 0;
    for (i = 0; i < nbuckets; i++)
        if (f->bounds[i] != bounds[i])
            return 0;
    return 1;
}

/* Checks everything but clashes with registered families; logs and returns 0 on failure. */
static int check_args(const char *name, size_t nlabels, const char *const *label_names,
                      enum mtype type, size_t nbuckets, const double *bounds)
{
    size_t i, j;

    if (!valid_ident(name, 1)) {
        wb_log(LOG_ERR, "METRICS", "invalid metric name \"%s\"", name ? name : "(null)");
        return 0;
    }
    if (strncmp(name, "writeback_", 10) != 0 && strcmp(name, "kafka_consumergroup_lag") != 0) {
        wb_log(LOG_ERR, "METRICS", "metric name \"%s\" must start with writeback_", name);
        return 0;
    }
    if (nlabels > WB_METRICS_MAX_LABELS || (nlabels && !label_names)) {
        wb_log(LOG_ERR, "METRICS", "metric %s: bad label name list (%zu names)", name, nlabels);
        return 0;
    }
    for (i = 0; i < nlabels; i++) {
        const char *l = label_names[i];

        if (!valid_ident(l, 0) || strncmp(l, "__", 2) == 0 ||
            (type == MT_HISTOGRAM && strcmp(l, "le") == 0)) {
            wb_log(LOG_ERR, "METRICS", "metric %s: invalid label name \"%s\"", name,
                   l ? l : "(null)");
            return 0;
        }
        for (j = 0; j < i; j++)
            if (strcmp(label_names[j], l) == 0) {
                wb_log(LOG_ERR, "METRICS", "metric %s: duplicate label name \"%s\"", name, l);
                return 0;
            }
    }
    if (type != MT_HISTOGRAM)
        return 1;
    if (nbuckets < 1 || nbuckets > WB_METRICS_MAX_BUCKETS || !bounds) {
        wb_log(LOG_ERR, "METRICS", "histogram %s: needs 1..%d buckets, got %zu", name,
               WB_METRICS_MAX_BUCKETS, nbuckets);
        return 0;
    }
    for (i = 0; i < nbuckets; i++)
        if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1]))) {
            wb_log(LOG_ERR, "METRICS",
                   "histogram %s: bucket bounds must be finite and strictly increasing", name);
            return 0;
        }
    return 1;
}

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

/* The series for values, created when create is set. Lock held. NULL when values are bad,
 * the series is absent (create == 0) or the family is full. */
static struct series *lookup(wb_metric_t *f, const char *const *values, int create)
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

static wb_metric_t *do_register(wb_metrics_t *m, enum mtype type, const char *name,
                                const char *help, size_t nlabels, const char *const *label_names,
                                size_t nbuckets, const double *bounds)
{
    wb_metric_t *f = NULL;
    size_t i;

    if (!m) {
        wb_log(LOG_ERR, "METRICS", "metric registration without a registry");
        return NULL;
    }
    if (!check_args(name, nlabels, label_names, type, nbuckets, bounds))
        return NULL;

    pthread_mutex_lock(&m->lock);
    for (f = m->head; f; f = f->next) {
        if (strcmp(f->name, name) == 0) {
            if (!same_shape(f, type, nlabels, label_names, nbuckets, bounds)) {
                wb_log(LOG_ERR, "METRICS",
                       "metric %s: registered again with a different type, labels or buckets",
                       name);
                f = NULL;
            }
            goto out;
        }
        if (names_clash(f, name, type)) {
            wb_log(LOG_ERR, "METRICS", "metric %s: name clashes with histogram series of %s", name,
                   f->name);
            f = NULL;
            goto out;
        }
    }

    f = wb_calloc(1, sizeof(*f));
    f->m = m;
    f->type = type;
    f->name = wb_strdup(name);
    f->help = wb_strdup(help ? help : "");
    f->nlabels = nlabels;
    f->labels = wb_calloc(nlabels ? nlabels : 1, sizeof(char *));
    for (i = 0; i < nlabels; i++)
        f->labels[i] = wb_strdup(label_names[i]);
    if (type == MT_HISTOGRAM) {
        f->nbuckets = nbuckets;
        f->bounds = wb_malloc(nbuckets * sizeof(double));
        memcpy(f->bounds, bounds, nbuckets * sizeof(double));
    }
    f->tsize = 8;
    f->table = wb_calloc(f->tsize, sizeof(*f->table));
    /* A family without labels exists from the start so it renders 0, not nothing. */
    if (nlabels == 0)
        lookup(f, NULL, 1);
    if (m->tail)
        m->tail->next = f;
    else
        m->head = f;
    m->tail = f;
out:
    pthread_mutex_unlock(&m->lock);
    return f;
}

wb_metric_t *wb_metrics_counter(wb_metrics_t *m, const char *name, const char *help, size_t nlabels,
                                const char *const *label_names)
{
    return do_register(m, MT_COUNTER, name, help, nlabels, label_names, 0, NULL);
}

wb_metric_t *wb_metrics_gauge(wb_metrics_t *m, const char *name, const char *help, size_t nlabels,
                              const char *const *label_names)
{
    return do_register(m, MT_GAUGE, name, help, nlabels, label_names, 0, NULL);
}

wb_metric_t *wb_metrics_histogram(wb_metrics_t *m, const char *name, const char *help,
                                  size_t nlabels, const char *const *label_names, size_t nbuckets,
                                  const double *bounds)
{
    return do_register(m, MT_HISTOGRAM, name, help, nlabels, label_names, nbuckets, bounds);
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
    s = lookup(f, values, 1);
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
    s = lookup(metric, label_values, 0);
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
    s = lookup(metric, label_values, 0);
    if (s)
        *out = metric->type == MT_HISTOGRAM ? (double)s->count : s->value;
    pthread_mutex_unlock(&metric->m->lock);
    return s ? WB_OK : WB_ERR_INVALID;
}

/* {a="x",b="y"} plus an optional le="bound"; nothing at all when there are no labels. */
static void render_labels(struct buf *b, const wb_metric_t *f, const struct series *s,
                          const char *le)
{
    size_t i;

    if (f->nlabels == 0 && !le)
        return;
    buf_str(b, "{");
    for (i = 0; i < f->nlabels; i++) {
        if (i)
            buf_str(b, ",");
        buf_str(b, f->labels[i]);
        buf_str(b, "=\"");
        buf_escaped(b, s->values[i], 1);
        buf_str(b, "\"");
    }
    if (le) {
        if (f->nlabels)
            buf_str(b, ",");
        buf_str(b, "le=\"");
        buf_str(b, le);
        buf_str(b, "\"");
    }
    buf_str(b, "}");
}

static void render_family(struct buf *b, const wb_metric_t *f)
{
    const struct series *s;
    char num[64];
    size_t i;
    uint64_t cum;

    buf_str(b, "# HELP ");
    buf_str(b, f->name);
    buf_str(b, " ");
    buf_escaped(b, f->help, 0);
    buf_str(b, "\n# TYPE ");
    buf_str(b, f->name);
    buf_str(b, " ");
    buf_str(b, type_names[f->type]);
    buf_str(b, "\n");
    for (s = f->head; s; s = s->next) {
        if (f->type != MT_HISTOGRAM) {
            buf_str(b, f->name);
            render_labels(b, f, s, NULL);
            buf_str(b, " ");
            buf_double(b, s->value);
            buf_str(b, "\n");
            continue;
        }
        cum = 0;
        for (i = 0; i <= f->nbuckets; i++) {
            cum += s->buckets[i];
            if (i < f->nbuckets)
                fmt_double(num, sizeof(num), f->bounds[i]);
            else
                snprintf(num, sizeof(num), "+Inf");
            buf_str(b, f->name);
            buf_str(b, "_bucket");
            render_labels(b, f, s, num);
            snprintf(num, sizeof(num), " %" PRIu64 "\n", cum);
            buf_str(b, num);
        }
        buf_str(b, f->name);
        buf_str(b, "_sum");
        render_labels(b, f, s, NULL);
        buf_str(b, " ");
        buf_double(b, s->sum);
        buf_str(b, "\n");
        buf_str(b, f->name);
        buf_str(b, "_count");
        render_labels(b, f, s, NULL);
        snprintf(num, sizeof(num), " %" PRIu64 "\n", s->count);
        buf_str(b, num);
    }
}

char *wb_metrics_render(wb_metrics_t *m)
{
    struct buf b = {NULL, 0, 0};
    const wb_metric_t *f;

    buf_add(&b, "", 0);
    if (!m)
        return b.p;
    pthread_mutex_lock(&m->lock);
    for (f = m->head; f; f = f->next)
        render_family(&b, f);
    pthread_mutex_unlock(&m->lock);
    return b.p;
}
