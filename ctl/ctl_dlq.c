/*
 * dlq: the dead-letter topic for operators. list (filter by reason, class, group id, time),
 * show one in full, redrive selected ones back to topic.events with a header saying where
 * they came from (dry run and a rate limit). The worker is idempotent, so re-driving a dead
 * letter twice is harmless.
 */
#include "ctl.h"
#include "ctl_kafka.h"
#include "wb_dlqhdr.h"
#include "wb_id.h"
#include "wb_kafka.h"
#include "wb_mem.h"
#include "wb_reason.h"
#include "wb_time.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DLQ_MAX_IDS 10000

/* The columns of dlq list, after the id and the key. */
static const enum wb_dlqhdr show_hdrs[] = {WB_DLQHDR_REASON,          WB_DLQHDR_CLASS,
                                           WB_DLQHDR_LDAP_RC,         WB_DLQHDR_LDAP_MESSAGE,
                                           WB_DLQHDR_LDAP_MATCHED_DN, WB_DLQHDR_TIME};

struct dl {
    int32_t partition;
    int64_t offset, ts;
    char *key, *value;
    size_t keylen, len;
    rd_kafka_headers_t *hdrs;
};

enum verb { V_LIST, V_SHOW, V_REDRIVE };

static const char *const verbs[] = {"list", "show", "redrive", NULL};

struct dlq_opts {
    int verb;          /* enum verb */
    const char **args; /* PARTITION:OFFSET ids */
    const char *reason, *cls, *gid;
    int64_t since, until, limit, rate;
    int all, dry;
};

static const struct dlq_opts defaults = {.since = -1, .until = -1, .limit = 1000, .rate = 50};

static const struct ctl_opt options[] = {
    CTL_OPT("--reason", CTL_OPT_STR, struct dlq_opts, reason),
    CTL_OPT("--class", CTL_OPT_STR, struct dlq_opts, cls),
    CTL_OPT("--group-id", CTL_OPT_STR, struct dlq_opts, gid),
    CTL_OPT("--since", CTL_OPT_TIME, struct dlq_opts, since),
    CTL_OPT("--until", CTL_OPT_TIME, struct dlq_opts, until),
    CTL_OPT("--limit", CTL_OPT_I64, struct dlq_opts, limit, .val = 1),
    CTL_OPT("--rate", CTL_OPT_I64, struct dlq_opts, rate, .max = 1000),
    CTL_OPT("--all", CTL_OPT_FLAG, struct dlq_opts, all, .val = 1),
    CTL_OPT("--dry-run", CTL_OPT_FLAG, struct dlq_opts, dry, .val = 1),
    {.name = NULL},
};

/* The selection (filters from the options) and the dead letters it matched. */
struct sel {
    const struct dlq_opts *o;
    struct {
        int32_t p;
        int64_t o;
    } * ids;
    size_t nids;
    size_t limit;
    struct dl *out;
    size_t n, cap;
    bool truncated;
    const char *dlq, *events; /* topic.dlq, topic.events */
};

static void usage(FILE *fp)
{
    int i, col = 0;

    fputs("usage: writebackctl dlq list [filters] [--limit N] [--json]\n"
          "       writebackctl dlq show PARTITION:OFFSET [--json]\n"
          "       writebackctl dlq redrive (PARTITION:OFFSET ... | filters | --all)\n"
          "                                [--dry-run] [--rate N]\n"
          "\n"
          "Dead letters are events the workers could not apply (conflict, poison, exhausted\n"
          "dependency), kept unchanged in topic.dlq with headers saying why:\n",
          fp);
    for (i = 0; i < WB_DLQHDR_NSTANDARD; i++) {
        const char *n = wb_dlqhdr_name((enum wb_dlqhdr)i);

        if (col && col + strlen(n) + 2 > 88) {
            fputs(",\n", fp);
            col = 0;
        } else if (col) {
            col += fprintf(fp, ", ");
        }
        col += fprintf(fp, "%s", n);
    }
    fputs(".\n"
          "\n"
          "Filters:\n"
          "  --reason R      wb.reason equals R (e.g. dn_conflict, poison)\n"
          "  --class C       wb.class equals C (conflict, invalid, dependency)\n"
          "  --group-id ID   the Entra group objectId (the message key)\n"
          "  --since TS      dead-lettered at or after TS (RFC 3339)\n"
          "  --until TS      dead-lettered before TS\n"
          "  --limit N       list at most N (default 1000)\n"
          "\n"
          "redrive produces each selected dead letter to topic.events with its key, value and\n"
          "original headers plus wb.redrive.from = <dlq topic>/<partition>/<offset>. Fix the\n"
          "cause first (e.g. rename or remove the conflicting AD object); a dead letter that\n"
          "fails again comes back to the DLQ. Re-driving twice is harmless.\n"
          "  --dry-run       print what would be re-driven\n"
          "  --rate N        at most N messages per second (default 50; 0: no limit)\n"
          "\n"
          "Exit: 0 done, 1 failure (or nothing matched for show), 2 usage error.\n",
          fp);
}

static bool hdr_is(const struct dl *d, enum wb_dlqhdr id, const char *want)
{
    char *v = wb_dlqhdr_get(d->hdrs, id);
    bool ok = v && strcmp(v, want) == 0;

    free(v);
    return ok;
}

/* When the dead letter was written: wb.time, else the message timestamp. */
static int64_t dl_time(const struct dl *d)
{
    char *v = wb_dlqhdr_get(d->hdrs, WB_DLQHDR_TIME);
    int64_t t = v ? wb_time_parse(v) : -1;

    free(v);
    return t >= 0 ? t : d->ts;
}

static void dl_free(struct dl *d)
{
    free(d->key);
    free(d->value);
    if (d->hdrs)
        rd_kafka_headers_destroy(d->hdrs);
}

static int sel_cb(const rd_kafka_message_t *m, void *opaque)
{
    struct sel *s = opaque;
    rd_kafka_headers_t *h = NULL;
    rd_kafka_timestamp_type_t tt;
    struct dl d = {0};
    size_t i;
    bool ok = true;

    d.partition = m->partition;
    d.offset = m->offset;
    d.ts = rd_kafka_message_timestamp(m, &tt);
    d.key = m->key ? wb_strndup(m->key, m->key_len) : NULL;
    d.keylen = m->key_len;
    d.value = m->payload ? wb_strndup(m->payload, m->len) : NULL;
    d.len = m->len;
    d.hdrs = rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR
                 ? rd_kafka_headers_copy(h)
                 : NULL;
    if (s->nids) {
        ok = false;
        for (i = 0; i < s->nids; i++)
            if (s->ids[i].p == d.partition && s->ids[i].o == d.offset)
                ok = true;
    }
    if (ok && s->o->reason && !hdr_is(&d, WB_DLQHDR_REASON, s->o->reason))
        ok = false;
    if (ok && s->o->cls && !hdr_is(&d, WB_DLQHDR_CLASS, s->o->cls))
        ok = false;
    if (ok && s->o->gid && (!d.key || strcasecmp(d.key, s->o->gid) != 0))
        ok = false;
    if (ok && (s->o->since >= 0 || s->o->until >= 0)) {
        int64_t t = dl_time(&d);

        if ((s->o->since >= 0 && t < s->o->since) || (s->o->until >= 0 && t >= s->o->until))
            ok = false;
    }
    if (!ok) {
        dl_free(&d);
        return 0;
    }
    if (s->n >= s->limit) {
        s->truncated = true;
        dl_free(&d);
        return 1;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->out = wb_realloc(s->out, s->cap * sizeof(*s->out));
    }
    s->out[s->n++] = d;
    return 0;
}

static int parse_id(const char *s, int32_t *p, int64_t *o)
{
    long long pp, oo;
    int n = 0;

    if (sscanf(s, "%lld:%lld%n", &pp, &oo, &n) != 2 || s[n] || pp < 0 || pp > 100000 || oo < 0)
        return -1;
    *p = (int32_t)pp;
    *o = oo;
    return 0;
}

static cJSON *dl_json(const struct dl *d, bool full)
{
    cJSON *o = cJSON_CreateObject(), *hs = NULL;
    char id[64], ts[32];
    const char *n;
    const void *v;
    size_t len, i;

    snprintf(id, sizeof(id), "%d:%lld", (int)d->partition, (long long)d->offset);
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddNumberToObject(o, "partition", d->partition);
    cJSON_AddNumberToObject(o, "offset", (double)d->offset);
    if (d->key)
        cJSON_AddStringToObject(o, "key", d->key);
    else
        cJSON_AddNullToObject(o, "key");
    (void)ts;
    cJSON_AddNumberToObject(o, "timestamp", (double)d->ts);
    hs = cJSON_AddObjectToObject(o, "headers");
    for (i = 0;
         d->hdrs && rd_kafka_header_get_all(d->hdrs, i, &n, &v, &len) == RD_KAFKA_RESP_ERR_NO_ERROR;
         i++) {
        char *val = v ? wb_strndup(v, len) : NULL;

        cJSON_DeleteItemFromObjectCaseSensitive(hs, n);
        if (val)
            cJSON_AddStringToObject(hs, n, val);
        else
            cJSON_AddNullToObject(hs, n);
        free(val);
    }
    if (full) {
        cJSON *ev = d->value ? cJSON_ParseWithLength(d->value, d->len) : NULL;

        if (ev)
            cJSON_AddItemToObject(o, "value", ev);
        else if (d->value)
            cJSON_AddStringToObject(o, "value", d->value);
        else
            cJSON_AddNullToObject(o, "value");
    }
    return o;
}

static void print_row(const struct dl *d)
{
    char *v[6];
    size_t i;

    for (i = 0; i < 6; i++)
        v[i] = wb_dlqhdr_get(d->hdrs, show_hdrs[i]);
    printf("%d:%-8lld %-24s %-36s %-18s %-10s %-4s %s\n", (int)d->partition, (long long)d->offset,
           v[5] ? v[5] : "-", d->key ? d->key : "-", v[0] ? v[0] : "-", v[1] ? v[1] : "-",
           v[2] && *v[2] ? v[2] : "-", v[3] ? v[3] : "");
    for (i = 0; i < 6; i++)
        free(v[i]);
}

static wb_err_t redrive(struct ctl *c, const char *dlq, const char *events, struct sel *s,
                        int64_t rate)
{
    rd_kafka_t *prod = ctl_kafka_new(c, RD_KAFKA_PRODUCER);
    wb_err_t rc = WB_ERR_TRANSIENT;
    size_t k;

    if (!prod)
        goto out;
    for (k = 0; k < s->n; k++) {
        struct dl *d = &s->out[k];
        struct wb_kafka_header hd[2];
        char from[320], now[32];
        time_t t = time(NULL);
        struct tm tm;

        snprintf(from, sizeof(from), "%s/%d/%lld", dlq, (int)d->partition, (long long)d->offset);
        gmtime_r(&t, &tm);
        strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
        hd[0].name = "wb.redrive.from";
        hd[0].value = from;
        hd[0].len = strlen(from);
        hd[1].name = "wb.redrive.time";
        hd[1].value = now;
        hd[1].len = strlen(now);
        if (ctl_kafka_reproduce(prod, events, d->key, d->keylen, d->value, d->len, d->hdrs, hd,
                                2) != WB_OK)
            goto out;
        if (rate > 0 && k + 1 < s->n)
            ctl_sleep_ms(1000 / rate);
    }
    if (wb_kafka_flush(prod, 30000) != WB_OK) {
        fprintf(stderr, "writebackctl dlq: re-driven events not acknowledged by the broker\n");
        goto out;
    }
    rc = WB_OK;
out:
    wb_kafka_destroy(prod);
    return rc;
}

/* Usage errors the option table cannot see; CTL_EXIT_OK when the selection is sound. */
static int check(const struct dlq_opts *o, struct sel *s)
{
    size_t k;
    int i;

    for (k = 0; o->args[k]; k++) {
        if (s->nids >= DLQ_MAX_IDS ||
            parse_id(o->args[k], &s->ids[s->nids].p, &s->ids[s->nids].o) != 0)
            return ctl_usage_error("dlq", "unknown option or bad PARTITION:OFFSET %s", o->args[k]);
        s->nids++;
    }
    if (o->gid && !wb_id_guid_valid(o->gid))
        return ctl_usage_error("dlq", "--group-id \"%s\" is not a GUID", o->gid);
    if (o->verb == V_SHOW && s->nids != 1)
        return ctl_usage_error("dlq", "%sshow takes one PARTITION:OFFSET", "");
    if (o->verb == V_REDRIVE && !o->all && !s->nids && !o->reason && !o->cls && !o->gid &&
        o->since < 0 && o->until < 0)
        return ctl_usage_error("dlq", "%sredrive needs PARTITION:OFFSET ids, a filter or --all",
                               "");
    i = wb_reason_find(o->reason);
    if (o->reason && (i < 0 || wb_reason_table[i].kind != WB_REASON_KIND_DEAD_LETTER))
        fprintf(stderr,
                "dlq: warning: --reason %s is not a dead-letter reason of this version "
                "(docs/errors.md); only older workers could have written it\n",
                o->reason);
    return CTL_EXIT_OK;
}

static int run(struct ctl *c, const void *opts, void *result, bool *render)
{
    const struct dlq_opts *o = opts;
    struct sel *s = result;
    rd_kafka_t *admin = NULL, *reader = NULL;
    int64_t *from = NULL, *to = NULL;
    int nparts, p, rc;

    s->o = o;
    s->ids = wb_calloc(DLQ_MAX_IDS, sizeof(*s->ids));
    rc = check(o, s);
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = CTL_EXIT_FAIL;
    s->limit = o->verb == V_LIST ? (size_t)o->limit : 1000000;
    s->dlq = wb_conf_get_str(c->conf, "topic.dlq");
    s->events = wb_conf_get_str(c->conf, "topic.events");
    admin = ctl_kafka_new(c, RD_KAFKA_PRODUCER);
    reader = admin ? ctl_kafka_new(c, RD_KAFKA_CONSUMER) : NULL;
    if (!reader)
        goto out;
    nparts = ctl_kafka_partitions(admin, s->dlq);
    if (nparts <= 0)
        goto out;
    from = wb_calloc((size_t)nparts, sizeof(int64_t));
    to = wb_calloc((size_t)nparts, sizeof(int64_t));
    for (p = 0; p < nparts; p++)
        if (ctl_kafka_watermarks(admin, s->dlq, p, &from[p], &to[p]) != WB_OK)
            goto out;
    if (ctl_kafka_scan(reader, s->dlq, nparts, from, to, 300000, sel_cb, s) != WB_OK)
        goto out;
    if (o->verb == V_SHOW && s->n != 1) {
        fprintf(stderr, "writebackctl dlq: no dead letter at %s in %s\n", o->args[0], s->dlq);
        goto out;
    }
    if (o->verb == V_REDRIVE && !o->dry && s->n > 0 &&
        redrive(c, s->dlq, s->events, s, o->rate) != WB_OK)
        goto out;
    rc = CTL_EXIT_OK;
    *render = true;
out:
    free(from);
    free(to);
    wb_kafka_destroy(reader);
    wb_kafka_destroy(admin);
    return rc;
}

static cJSON *json(struct ctl *c, const void *opts, const void *result)
{
    const struct dlq_opts *o = opts;
    const struct sel *s = result;
    cJSON *doc, *arr;
    size_t k;

    (void)c;
    if (o->verb == V_SHOW)
        return dl_json(&s->out[0], true);
    doc = cJSON_CreateObject();
    if (o->verb == V_LIST) {
        cJSON_AddStringToObject(doc, "topic", s->dlq);
        cJSON_AddBoolToObject(doc, "truncated", s->truncated);
        arr = cJSON_AddArrayToObject(doc, "deadLetters");
    } else {
        cJSON_AddBoolToObject(doc, "dryRun", o->dry);
        cJSON_AddStringToObject(doc, "to", s->events);
        arr = cJSON_AddArrayToObject(doc, "redriven");
    }
    for (k = 0; k < s->n; k++)
        cJSON_AddItemToArray(arr, dl_json(&s->out[k], false));
    return doc;
}

static void text(struct ctl *c, const void *opts, const void *result)
{
    const struct dlq_opts *o = opts;
    const struct sel *s = result;
    size_t k;

    (void)c;
    if (o->verb == V_SHOW) {
        cJSON *doc = dl_json(&s->out[0], true), *it;
        char *val = cJSON_Print(cJSON_GetObjectItem(doc, "value"));

        printf("dead letter %s/%d/%lld, key %s\n", s->dlq, (int)s->out[0].partition,
               (long long)s->out[0].offset, s->out[0].key ? s->out[0].key : "-");
        cJSON_ArrayForEach(it, cJSON_GetObjectItem(doc, "headers"))
            printf("  %-22s %s\n", it->string, cJSON_IsString(it) ? it->valuestring : "");
        printf("value:\n%s\n", val ? val : "");
        free(val);
        cJSON_Delete(doc);
        return;
    }
    if (o->verb == V_LIST)
        printf("%-10s %-24s %-36s %-18s %-10s %-4s %s\n", "ID", "TIME", "GROUP", "REASON", "CLASS",
               "LDAP", "MESSAGE");
    for (k = 0; k < s->n; k++)
        print_row(&s->out[k]);
    if (o->verb == V_LIST)
        printf("%zu dead letter(s)%s\n", s->n, s->truncated ? " (more: raise --limit)" : "");
    else
        printf("%s %zu dead letter(s) to %s\n", o->dry ? "would re-drive" : "re-drove", s->n,
               s->events);
}

static void result_free(void *result)
{
    struct sel *s = result;
    size_t k;

    for (k = 0; k < s->n; k++)
        dl_free(&s->out[k]);
    free(s->out);
    free(s->ids);
}

const struct ctl_cmd ctl_dlq_cmd = {
    .name = "dlq",
    .summary = "dead letters: list, show, redrive",
    .kafka = true,
    .usage = usage,
    .verbs = verbs,
    .opt = options,
    .opts_size = sizeof(struct dlq_opts),
    .defaults = &defaults,
    .verb_off = offsetof(struct dlq_opts, verb),
    .operands_off = offsetof(struct dlq_opts, args),
    .result_size = sizeof(struct sel),
    .run = run,
    .text = text,
    .json = json,
    .free = result_free,
};
