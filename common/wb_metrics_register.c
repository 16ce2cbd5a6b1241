/*
 * wb_metrics_register: registering a metric family: the checks of its name, label names and
 * bucket bounds (Prometheus naming, our writeback_ prefix), and the clashes with families
 * already registered (same name, a histogram's _bucket/_sum/_count series).
 */
#include "wb_metrics_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "wb_log.h"
#include "wb_mem.h"

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
        wb_metrics_lookup(f, NULL, 1);
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
