/*
 * lag: consumer lag of the workers' group per partition (committed, log end, messages, and
 * seconds = age of the oldest unconsumed event) with a Burrow-style status evaluated over a
 * sliding window of samples, or fixed thresholds. Exit codes follow Nagios: 0 OK, 1 WARN,
 * 2 ERR, 3 UNKNOWN (broker unreachable, bad arguments).
 */
#include "ctl_lag.h"
#include "ctl.h"
#include "ctl_kafka.h"
#include "wb_kafka.h"
#include "wb_mem.h"
#include "wb_time.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LAG_EXIT_UNKNOWN 3
#define LAG_MAX_WINDOW   100

struct lag_opts {
    const char *topic, *group, *history; /* NULL: topic.events, worker.group_id, none */
    int64_t samples;                     /* -1: 3, or 1 with --history or thresholds */
    int64_t interval, window;
    int64_t max_lag, max_secs, warn_lag, warn_secs; /* -1: unset */
};

static const struct lag_opts defaults = {NULL, NULL, NULL, -1, 1000, 10, -1, -1, -1, -1};

static const struct ctl_opt options[] = {
    CTL_OPT("--topic", CTL_OPT_STR, struct lag_opts, topic),
    CTL_OPT("--group", CTL_OPT_STR, struct lag_opts, group),
    CTL_OPT("--history", CTL_OPT_STR, struct lag_opts, history),
    CTL_OPT("--samples", CTL_OPT_I64, struct lag_opts, samples),
    CTL_OPT("--interval-ms", CTL_OPT_I64, struct lag_opts, interval),
    CTL_OPT("--window", CTL_OPT_I64, struct lag_opts, window),
    CTL_OPT("--max-lag", CTL_OPT_I64, struct lag_opts, max_lag),
    CTL_OPT("--max-seconds", CTL_OPT_I64, struct lag_opts, max_secs),
    CTL_OPT("--warn-lag", CTL_OPT_I64, struct lag_opts, warn_lag),
    CTL_OPT("--warn-seconds", CTL_OPT_I64, struct lag_opts, warn_secs),
    {.name = NULL},
};

/* The samples (the loaded history, then this run's) and what was evaluated from them. */
struct lagrun {
    const char *topic, *group;
    int nparts;
    struct ctl_lag_sample *s;
    size_t ns, first; /* the window is s[first..ns) */
    int64_t *end, *low;
    double *secs; /* age of the oldest unconsumed event, last sample; 0 when caught up */
    enum ctl_lag_status *ps;
    char state[64];
    int members, worst;
    bool thresholds;
    int64_t total;
    double max_age;
};

static void usage(FILE *fp)
{
    fputs("usage: writebackctl [-c FILE] [-X k=v] lag [options] [--json]\n"
          "\n"
          "Consumer lag of worker.group_id on topic.events, per partition: committed offset,\n"
          "log-end offset, lag in messages and in seconds (age of the oldest unconsumed event).\n"
          "\n"
          "Status (Burrow rules over a sliding window of samples; no fixed thresholds):\n"
          "  OK      lag is zero, or the consumer is moving and lag is not always growing\n"
          "  WARN    offsets move but lag did not decrease across the window\n"
          "  STALL   members are active but the committed offset did not move while lag > 0\n"
          "  STOP    no active members (workers stopped) and lag > 0\n"
          "  REWIND  the committed offset went backwards (a replay or a reset)\n"
          "  group: OK, WARN if any partition warns, ERR if any is STOP, STALL or REWIND\n"
          "\n"
          "Options:\n"
          "  --topic T          topic (default topic.events)\n"
          "  --group G          consumer group (default worker.group_id)\n"
          "  --samples N        samples taken now (default 3; 1 with --history)\n"
          "  --interval-ms MS   time between samples (default 1000)\n"
          "  --history FILE     keep samples across runs (a monitor calling lag every minute\n"
          "                     then evaluates a real sliding window)\n"
          "  --window N         samples in the window (default 10)\n"
          "Threshold mode (instead of Burrow rules; one sample):\n"
          "  --max-lag N  --max-seconds S     ERR above these (partition status ERR)\n"
          "  --warn-lag N --warn-seconds S    WARN above these\n"
          "\n"
          "Exit: 0 OK, 1 WARN, 2 ERR, 3 UNKNOWN (could not evaluate, bad arguments).\n",
          fp);
}

static void sample_free(struct ctl_lag_sample *s)
{
    free(s->committed);
    free(s->lag);
}

/* Age in seconds of the first real message at or after from[p], for partitions with lag; a
 * partition holding only transaction markers after its committed offset has no lag. */
struct peek {
    int nparts;
    int64_t *first_ts; /* -2: not yet seen */
    int want;
};

static int peek_cb(const rd_kafka_message_t *m, void *opaque)
{
    struct peek *pk = opaque;
    rd_kafka_timestamp_type_t tt;
    int64_t ts;

    if (pk->first_ts[m->partition] != -2)
        return 0;
    ts = rd_kafka_message_timestamp(m, &tt);
    pk->first_ts[m->partition] = ts >= 0 ? ts : 0;
    return --pk->want == 0;
}

static wb_err_t take_sample(rd_kafka_t *admin, rd_kafka_t *reader, const char *topic,
                            const char *group, struct lagrun *r, struct ctl_lag_sample *s)
{
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(r->nparts);
    int64_t *from = wb_calloc((size_t)r->nparts, sizeof(int64_t));
    struct peek pk = {r->nparts, wb_calloc((size_t)r->nparts, sizeof(int64_t)), 0};
    wb_err_t rc;
    int p;

    s->committed = wb_calloc((size_t)r->nparts, sizeof(int64_t));
    s->lag = wb_calloc((size_t)r->nparts, sizeof(int64_t));
    for (p = 0; p < r->nparts; p++)
        rd_kafka_topic_partition_list_add(tp, topic, p);
    rc = ctl_kafka_committed(admin, group, tp);
    if (rc != WB_OK)
        goto out;
    s->t = wb_time_now_ms();
    for (p = 0; p < r->nparts; p++) {
        int64_t start;

        rc = ctl_kafka_watermarks(admin, topic, p, &r->low[p], &r->end[p]);
        if (rc != WB_OK)
            goto out;
        s->committed[p] = tp->elems[p].offset >= 0 ? tp->elems[p].offset : -1;
        /* No commit yet: the group starts at the earliest offset (auto.offset.reset). */
        start = s->committed[p] >= r->low[p] ? s->committed[p] : r->low[p];
        s->lag[p] = r->end[p] > start ? r->end[p] - start : 0;
        from[p] = start;
        pk.first_ts[p] = s->lag[p] > 0 ? -2 : -1;
        if (s->lag[p] > 0)
            pk.want++;
    }
    if (pk.want > 0) {
        rc = ctl_kafka_scan(reader, topic, r->nparts, from, r->end, CTL_TIMEOUT_MS, peek_cb, &pk);
        if (rc != WB_OK)
            goto out;
    }
    for (p = 0; p < r->nparts; p++) {
        if (s->lag[p] > 0 && pk.first_ts[p] == -2)
            s->lag[p] = 0; /* only transaction markers left: nothing to consume */
        r->secs[p] =
            s->lag[p] > 0 && pk.first_ts[p] >= 0 ? (double)(s->t - pk.first_ts[p]) / 1000.0 : 0.0;
        if (r->secs[p] < 0)
            r->secs[p] = 0;
    }
    rc = WB_OK;
out:
    free(pk.first_ts);
    free(from);
    rd_kafka_topic_partition_list_destroy(tp);
    return rc;
}

enum ctl_lag_status ctl_lag_evaluate(const struct ctl_lag_sample *w, size_t n, int p, int members)
{
    size_t i;
    bool same = true, growing = true;

    if (n == 0 || w[n - 1].lag[p] == 0)
        return CTL_LAG_OK;
    for (i = 1; i < n; i++) {
        if (w[i].committed[p] >= 0 && w[i - 1].committed[p] >= 0 &&
            w[i].committed[p] < w[i - 1].committed[p])
            return CTL_LAG_REWIND;
        if (w[i].committed[p] != w[i - 1].committed[p])
            same = false;
        if (w[i].lag[p] < w[i - 1].lag[p])
            growing = false;
    }
    if (members == 0)
        return CTL_LAG_STOP;
    if (n >= 2 && same)
        return CTL_LAG_STALL;
    if (n >= 2 && growing)
        return CTL_LAG_WARN;
    return CTL_LAG_OK;
}

int ctl_lag_group(const enum ctl_lag_status *ps, size_t n)
{
    int worst = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        if (ps[i] == CTL_LAG_WARN && worst < 1)
            worst = 1;
        else if (ps[i] != CTL_LAG_OK && ps[i] != CTL_LAG_WARN)
            worst = 2;
    }
    return worst;
}

const char *ctl_lag_status_name(int status)
{
    static const char *const names[] = {"OK", "WARN", "ERR", "STOP", "STALL", "REWIND"};

    return status >= 0 && status <= CTL_LAG_REWIND ? names[status] : "UNKNOWN";
}

/* Loads samples of the same group/topic/partition count from path (missing file: none). */
static void history_load(const char *path, const char *group, const char *topic, int nparts,
                         struct lagrun *r)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    cJSON *doc = NULL, *arr, *it;

    if (!fp)
        return;
    for (;;) {
        if (cap - len < 4096) {
            cap = cap ? cap * 2 : 8192;
            if (cap > 64u << 20)
                break;
            buf = wb_realloc(buf, cap + 1);
        }
        n = fread(buf + len, 1, cap - len, fp);
        if (n == 0)
            break;
        len += n;
    }
    fclose(fp);
    if (!buf)
        return;
    buf[len] = '\0';
    doc = cJSON_Parse(buf);
    free(buf);
    if (!doc || !cJSON_IsString(cJSON_GetObjectItem(doc, "group")) ||
        strcmp(cJSON_GetObjectItem(doc, "group")->valuestring, group) != 0 ||
        !cJSON_IsString(cJSON_GetObjectItem(doc, "topic")) ||
        strcmp(cJSON_GetObjectItem(doc, "topic")->valuestring, topic) != 0) {
        fprintf(stderr, "writebackctl lag: ignoring history %s (other group/topic or damaged)\n",
                path);
        goto out;
    }
    arr = cJSON_GetObjectItem(doc, "samples");
    cJSON_ArrayForEach(it, arr)
    {
        cJSON *t = cJSON_GetObjectItem(it, "t"), *cm = cJSON_GetObjectItem(it, "c"),
              *lg = cJSON_GetObjectItem(it, "l");
        struct ctl_lag_sample s = {0};
        int p;

        if (!cJSON_IsNumber(t) || cJSON_GetArraySize(cm) != nparts ||
            cJSON_GetArraySize(lg) != nparts || r->ns >= LAG_MAX_WINDOW)
            continue;
        s.t = (int64_t)t->valuedouble;
        s.committed = wb_calloc((size_t)nparts, sizeof(int64_t));
        s.lag = wb_calloc((size_t)nparts, sizeof(int64_t));
        for (p = 0; p < nparts; p++) {
            s.committed[p] = (int64_t)cJSON_GetArrayItem(cm, p)->valuedouble;
            s.lag[p] = (int64_t)cJSON_GetArrayItem(lg, p)->valuedouble;
        }
        r->s[r->ns++] = s;
    }
out:
    cJSON_Delete(doc);
}

static int history_save(const char *path, const char *group, const char *topic,
                        const struct lagrun *r, size_t first)
{
    cJSON *doc = cJSON_CreateObject(), *arr;
    char *txt, *tmp = wb_asprintf("%s.tmp", path);
    FILE *fp;
    size_t i;
    int p, rc = -1;

    cJSON_AddStringToObject(doc, "group", group);
    cJSON_AddStringToObject(doc, "topic", topic);
    arr = cJSON_AddArrayToObject(doc, "samples");
    for (i = first; i < r->ns; i++) {
        cJSON *o = cJSON_CreateObject(), *cm = cJSON_AddArrayToObject(o, "c"),
              *lg = cJSON_AddArrayToObject(o, "l");

        cJSON_AddNumberToObject(o, "t", (double)r->s[i].t);
        for (p = 0; p < r->nparts; p++) {
            cJSON_AddItemToArray(cm, cJSON_CreateNumber((double)r->s[i].committed[p]));
            cJSON_AddItemToArray(lg, cJSON_CreateNumber((double)r->s[i].lag[p]));
        }
        cJSON_AddItemToArray(arr, o);
    }
    txt = cJSON_PrintUnformatted(doc);
    fp = fopen(tmp, "wb");
    if (fp && fputs(txt, fp) >= 0 && fclose(fp) == 0 && rename(tmp, path) == 0)
        rc = 0;
    else if (fp)
        fclose(fp);
    if (rc != 0)
        fprintf(stderr, "writebackctl lag: cannot write history %s\n", path);
    free(txt);
    free(tmp);
    cJSON_Delete(doc);
    return rc;
}

/* The status of every partition from the last sample (thresholds) or the window (Burrow). */
static void evaluate(const struct lag_opts *o, struct lagrun *r)
{
    int p;

    for (p = 0; p < r->nparts; p++) {
        int64_t lag = r->s[r->ns - 1].lag[p];
        double secs = r->secs[p];

        if (!r->thresholds)
            r->ps[p] = ctl_lag_evaluate(&r->s[r->first], r->ns - r->first, p, r->members);
        else if ((o->max_lag >= 0 && lag > o->max_lag) || (o->max_secs >= 0 && secs > o->max_secs))
            r->ps[p] = CTL_LAG_ERR;
        else if ((o->warn_lag >= 0 && lag > o->warn_lag) ||
                 (o->warn_secs >= 0 && secs > o->warn_secs))
            r->ps[p] = CTL_LAG_WARN;
        else
            r->ps[p] = CTL_LAG_OK;
        r->total += lag;
        if (secs > r->max_age)
            r->max_age = secs;
    }
    r->worst = ctl_lag_group(r->ps, (size_t)r->nparts);
}

static int run(struct ctl *c, const void *opts, void *result, bool *render)
{
    const struct lag_opts *o = opts;
    struct lagrun *r = result;
    rd_kafka_t *admin = NULL, *reader = NULL;
    int64_t samples = o->samples;
    int rc = LAG_EXIT_UNKNOWN, i;

    r->topic = o->topic ? o->topic : wb_conf_get_str(c->conf, "topic.events");
    r->group = o->group ? o->group : wb_conf_get_str(c->conf, "worker.group_id");
    r->members = -1;
    if (!r->topic || !r->group) {
        ctl_usage_error("lag", "%sno topic or group configured", "");
        return LAG_EXIT_UNKNOWN;
    }
    r->thresholds = o->max_lag >= 0 || o->max_secs >= 0 || o->warn_lag >= 0 || o->warn_secs >= 0;
    if (samples < 0)
        samples = r->thresholds || o->history ? 1 : 3;
    if (samples < 1 || samples > LAG_MAX_WINDOW || o->window < 1 || o->window > LAG_MAX_WINDOW ||
        o->interval > 3600000) {
        ctl_usage_error("lag", "%s--samples and --window must be 1..100, --interval-ms <= 1h", "");
        return LAG_EXIT_UNKNOWN;
    }
    admin = ctl_kafka_new(c, RD_KAFKA_PRODUCER);
    reader = admin ? ctl_kafka_new(c, RD_KAFKA_CONSUMER) : NULL;
    if (!reader)
        goto out;
    r->nparts = ctl_kafka_partitions(admin, r->topic);
    if (r->nparts <= 0)
        goto out;
    r->s = wb_calloc(LAG_MAX_WINDOW * 2 + 1, sizeof(struct ctl_lag_sample));
    r->end = wb_calloc((size_t)r->nparts, sizeof(int64_t));
    r->low = wb_calloc((size_t)r->nparts, sizeof(int64_t));
    r->secs = wb_calloc((size_t)r->nparts, sizeof(double));
    r->ps = wb_calloc((size_t)r->nparts, sizeof(*r->ps));
    if (o->history)
        history_load(o->history, r->group, r->topic, r->nparts, r);
    for (i = 0; i < samples; i++) {
        if (i > 0)
            ctl_sleep_ms(o->interval);
        if (take_sample(admin, reader, r->topic, r->group, r, &r->s[r->ns]) != WB_OK) {
            sample_free(&r->s[r->ns]);
            goto out;
        }
        r->ns++;
    }
    if (ctl_kafka_group_state(admin, r->group, r->state, sizeof(r->state), &r->members) != WB_OK)
        goto out;
    r->first = r->ns > (size_t)o->window ? r->ns - (size_t)o->window : 0;
    if (o->history && history_save(o->history, r->group, r->topic, r, r->first) != 0)
        goto out;
    evaluate(o, r);
    rc = r->worst;
    *render = true;
out:
    wb_kafka_destroy(reader);
    wb_kafka_destroy(admin);
    return rc;
}

static cJSON *json(struct ctl *c, const void *opts, const void *result)
{
    const struct lagrun *r = result;
    cJSON *doc = cJSON_CreateObject(), *arr;
    int p;

    (void)c, (void)opts;
    cJSON_AddStringToObject(doc, "group", r->group);
    cJSON_AddStringToObject(doc, "topic", r->topic);
    cJSON_AddStringToObject(doc, "groupState", r->state);
    cJSON_AddNumberToObject(doc, "members", r->members);
    cJSON_AddStringToObject(doc, "mode", r->thresholds ? "threshold" : "burrow");
    cJSON_AddNumberToObject(doc, "window", (double)(r->ns - r->first));
    cJSON_AddStringToObject(doc, "status", ctl_lag_status_name(r->worst));
    cJSON_AddNumberToObject(doc, "totalLag", (double)r->total);
    cJSON_AddNumberToObject(doc, "maxLagSeconds", r->max_age);
    arr = cJSON_AddArrayToObject(doc, "partitions");
    for (p = 0; p < r->nparts; p++) {
        cJSON *o = cJSON_CreateObject();
        int64_t cm = r->s[r->ns - 1].committed[p];

        cJSON_AddNumberToObject(o, "partition", p);
        if (cm >= 0)
            cJSON_AddNumberToObject(o, "committed", (double)cm);
        else
            cJSON_AddNullToObject(o, "committed");
        cJSON_AddNumberToObject(o, "end", (double)r->end[p]);
        cJSON_AddNumberToObject(o, "lag", (double)r->s[r->ns - 1].lag[p]);
        cJSON_AddNumberToObject(o, "lagSeconds", r->secs[p]);
        cJSON_AddStringToObject(o, "status", ctl_lag_status_name(r->ps[p]));
        cJSON_AddItemToArray(arr, o);
    }
    return doc;
}

static void text(struct ctl *c, const void *opts, const void *result)
{
    const struct lagrun *r = result;
    int p;

    (void)c, (void)opts;
    printf("group %s (%s, %d members), topic %s: %s, lag %lld messages, oldest %.1f s "
           "[%s, window %zu]\n",
           r->group, r->state, r->members, r->topic, ctl_lag_status_name(r->worst),
           (long long)r->total, r->max_age, r->thresholds ? "thresholds" : "burrow",
           r->ns - r->first);
    printf("%-9s %12s %12s %10s %10s  %s\n", "PARTITION", "COMMITTED", "END", "LAG", "LAG_SEC",
           "STATUS");
    for (p = 0; p < r->nparts; p++) {
        int64_t cm = r->s[r->ns - 1].committed[p];
        char cbuf[32];

        if (cm >= 0)
            snprintf(cbuf, sizeof(cbuf), "%lld", (long long)cm);
        else
            snprintf(cbuf, sizeof(cbuf), "-");
        printf("%-9d %12s %12lld %10lld %10.1f  %s\n", p, cbuf, (long long)r->end[p],
               (long long)r->s[r->ns - 1].lag[p], r->secs[p], ctl_lag_status_name(r->ps[p]));
    }
}

static void result_free(void *result)
{
    struct lagrun *r = result;
    size_t k;

    for (k = 0; k < r->ns; k++)
        sample_free(&r->s[k]);
    free(r->s);
    free(r->end);
    free(r->low);
    free(r->secs);
    free(r->ps);
}

const struct ctl_cmd ctl_lag_cmd = {
    .name = "lag",
    .summary = "consumer lag per partition with Burrow-style status (exit 0/1/2)",
    .kafka = true,
    .usage = usage,
    .opt = options,
    .opts_size = sizeof(struct lag_opts),
    .defaults = &defaults,
    .usage_exit = LAG_EXIT_UNKNOWN,
    .result_size = sizeof(struct lagrun),
    .run = run,
    .text = text,
    .json = json,
    .free = result_free,
};
