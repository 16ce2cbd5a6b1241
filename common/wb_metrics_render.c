/*
 * wb_metrics_render: the registry in the Prometheus text exposition format 0.0.4: HELP and
 * TYPE lines, label values escaped, histograms as cumulative _bucket series with _sum and
 * _count, numbers in the shortest form that reads back the same.
 */
#include "wb_metrics_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wb_mem.h"

static const char *const type_names[] = {"counter", "gauge", "histogram"};

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
