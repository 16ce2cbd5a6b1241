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

struct sel {
    const char *reason, *cls, *gid;
    int64_t since, until;
    struct {
        int32_t p;
        int64_t o;
    } * ids;
    size_t nids;
    size_t limit;
    struct dl *out;
    size_t n, cap;
    bool truncated;
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
    int64_t t = v ? ctl_parse_time(v) : -1;

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
    if (ok && s->reason && !hdr_is(&d, WB_DLQHDR_REASON, s->reason))
        ok = false;
    if (ok && s->cls && !hdr_is(&d, WB_DLQHDR_CLASS, s->cls))
        ok = false;
    if (ok && s->gid && (!d.key || strcasecmp(d.key, s->gid) != 0))
        ok = false;
    if (ok && (s->since >= 0 || s->until >= 0)) {
        int64_t t = dl_time(&d);

        if ((s->since >= 0 && t < s->since) || (s->until >= 0 && t >= s->until))
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
        struct wb_kafka_header hd[66];
        size_t nh = 0, i = 0, len;
        const char *n;
        const void *v;
        char from[320], now[32];
        time_t t = time(NULL);
        struct tm tm;

        while (d->hdrs && nh < 64 &&
               rd_kafka_header_get_all(d->hdrs, i++, &n, &v, &len) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (wb_dlqhdr_is_ours(n))
                continue; /* the failure context stays in the DLQ */
            hd[nh].name = n;
            hd[nh].value = v;
            hd[nh++].len = len;
        }
        snprintf(from, sizeof(from), "%s/%d/%lld", dlq, (int)d->partition, (long long)d->offset);
        gmtime_r(&t, &tm);
        strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
        hd[nh].name = "wb.redrive.from";
        hd[nh].value = from;
        hd[nh++].len = strlen(from);
        hd[nh].name = "wb.redrive.time";
        hd[nh].value = now;
        hd[nh++].len = strlen(now);
        if (wb_kafka_produce(prod, events, d->key, d->key ? d->keylen : 0, d->value,
                             d->value ? d->len : 0, hd, nh, NULL) != WB_OK)
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

int ctl_dlq(struct ctl *c, int argc, char **argv)
{
    const char *verb, *v, *dlq, *events;
    struct sel s = {0};
    bool all = false, dry = false;
    int64_t rate = 50, limit = 1000;
    rd_kafka_t *admin = NULL, *reader = NULL;
    int64_t *from = NULL, *to = NULL;
    int nparts, p, i, rc = CTL_EXIT_FAIL;
    size_t k;

    if (ctl_wants_help(argc, argv) || argc < 2) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CTL_EXIT_USAGE : 0;
    }
    verb = argv[1];
    if (strcmp(verb, "list") && strcmp(verb, "show") && strcmp(verb, "redrive"))
        return ctl_usage_error("dlq", "unknown subcommand %s (list, show, redrive)", verb);
    s.since = s.until = -1;
    s.ids = wb_calloc(DLQ_MAX_IDS, sizeof(*s.ids));
    for (i = 2; i < argc; i++) {
        if (ctl_opt(argc, argv, &i, "--reason", &v))
            s.reason = v;
        else if (ctl_opt(argc, argv, &i, "--class", &v))
            s.cls = v;
        else if (ctl_opt(argc, argv, &i, "--group-id", &v)) {
            s.gid = v;
            if (v && !wb_id_guid_valid(v)) {
                rc = ctl_usage_error("dlq", "--group-id \"%s\" is not a GUID", v);
                goto out;
            }
        } else if (ctl_opt(argc, argv, &i, "--since", &v) ||
                   ctl_opt(argc, argv, &i, "--until", &v)) {
            int64_t t = v ? ctl_parse_time(v) : 0;

            if (t < 0) {
                rc = ctl_usage_error("dlq", "bad time \"%s\" (RFC 3339)", v);
                goto out;
            }
            if (strstr(argv[i], "--since") == argv[i] || strcmp(argv[i - 1], "--since") == 0)
                s.since = t;
            else
                s.until = t;
        } else if (ctl_opt(argc, argv, &i, "--limit", &v)) {
            if (v && (!ctl_parse_i64(v, &limit) || limit < 1)) {
                rc = ctl_usage_error("dlq", "bad --limit \"%s\"", v);
                goto out;
            }
        } else if (ctl_opt(argc, argv, &i, "--rate", &v)) {
            if (v && (!ctl_parse_i64(v, &rate) || rate < 0 || rate > 1000)) {
                rc = ctl_usage_error("dlq", "bad --rate \"%s\" (0..1000)", v);
                goto out;
            }
        } else if (strcmp(argv[i], "--all") == 0) {
            all = true, v = "";
        } else if (strcmp(argv[i], "--dry-run") == 0) {
            dry = true, v = "";
        } else if (argv[i][0] != '-' && s.nids < DLQ_MAX_IDS &&
                   parse_id(argv[i], &s.ids[s.nids].p, &s.ids[s.nids].o) == 0) {
            s.nids++, v = "";
        } else {
            rc = ctl_usage_error("dlq", "unknown option or bad PARTITION:OFFSET %s", argv[i]);
            goto out;
        }
        if (!v) {
            rc = ctl_usage_error("dlq", "option %s needs a value", argv[i]);
            goto out;
        }
    }
    if (strcmp(verb, "show") == 0 && s.nids != 1) {
        rc = ctl_usage_error("dlq", "%sshow takes one PARTITION:OFFSET", "");
        goto out;
    }
    if (strcmp(verb, "redrive") == 0 && !all && !s.nids && !s.reason && !s.cls && !s.gid &&
        s.since < 0 && s.until < 0) {
        rc = ctl_usage_error("dlq", "%sredrive needs PARTITION:OFFSET ids, a filter or --all", "");
        goto out;
    }
    i = wb_reason_find(s.reason);
    if (s.reason && (i < 0 || wb_reasons[i].kind != WB_REASON_KIND_DEAD_LETTER))
        fprintf(stderr,
                "dlq: warning: --reason %s is not a dead-letter reason of this version "
                "(docs/errors.md); only older workers could have written it\n",
                s.reason);
    s.limit = strcmp(verb, "list") == 0 ? (size_t)limit : 1000000;
    dlq = wb_conf_get_str(c->conf, "topic.dlq");
    events = wb_conf_get_str(c->conf, "topic.events");
    admin = ctl_kafka_new(c, RD_KAFKA_PRODUCER);
    reader = admin ? ctl_kafka_new(c, RD_KAFKA_CONSUMER) : NULL;
    if (!reader)
        goto out;
    nparts = ctl_kafka_partitions(admin, dlq);
    if (nparts <= 0)
        goto out;
    from = wb_calloc((size_t)nparts, sizeof(int64_t));
    to = wb_calloc((size_t)nparts, sizeof(int64_t));
    for (p = 0; p < nparts; p++)
        if (ctl_kafka_watermarks(admin, dlq, p, &from[p], &to[p]) != WB_OK)
            goto out;
    if (ctl_kafka_scan(reader, dlq, nparts, from, to, 300000, sel_cb, &s) != WB_OK)
        goto out;
    if (strcmp(verb, "show") == 0) {
        if (s.n != 1) {
            fprintf(stderr, "writebackctl dlq: no dead letter at %s in %s\n", argv[2], dlq);
            goto out;
        }
        if (c->json) {
            ctl_print_json(dl_json(&s.out[0], true));
        } else {
            cJSON *o = dl_json(&s.out[0], true), *it;
            char *val = cJSON_Print(cJSON_GetObjectItem(o, "value"));

            printf("dead letter %s/%d/%lld, key %s\n", dlq, (int)s.out[0].partition,
                   (long long)s.out[0].offset, s.out[0].key ? s.out[0].key : "-");
            cJSON_ArrayForEach(it, cJSON_GetObjectItem(o, "headers"))
                printf("  %-22s %s\n", it->string, cJSON_IsString(it) ? it->valuestring : "");
            printf("value:\n%s\n", val ? val : "");
            free(val);
            cJSON_Delete(o);
        }
    } else if (strcmp(verb, "list") == 0) {
        if (c->json) {
            cJSON *doc = cJSON_CreateObject(), *arr;

            cJSON_AddStringToObject(doc, "topic", dlq);
            cJSON_AddBoolToObject(doc, "truncated", s.truncated);
            arr = cJSON_AddArrayToObject(doc, "deadLetters");
            for (k = 0; k < s.n; k++)
                cJSON_AddItemToArray(arr, dl_json(&s.out[k], false));
            ctl_print_json(doc);
        } else {
            printf("%-10s %-24s %-36s %-18s %-10s %-4s %s\n", "ID", "TIME", "GROUP", "REASON",
                   "CLASS", "LDAP", "MESSAGE");
            for (k = 0; k < s.n; k++)
                print_row(&s.out[k]);
            printf("%zu dead letter(s)%s\n", s.n, s.truncated ? " (more: raise --limit)" : "");
        }
    } else {
        if (!dry && s.n > 0 && redrive(c, dlq, events, &s, rate) != WB_OK)
            goto out;
        if (c->json) {
            cJSON *doc = cJSON_CreateObject(), *arr;

            cJSON_AddBoolToObject(doc, "dryRun", dry);
            cJSON_AddStringToObject(doc, "to", events);
            arr = cJSON_AddArrayToObject(doc, "redriven");
            for (k = 0; k < s.n; k++)
                cJSON_AddItemToArray(arr, dl_json(&s.out[k], false));
            ctl_print_json(doc);
        } else {
            for (k = 0; k < s.n; k++)
                print_row(&s.out[k]);
            printf("%s %zu dead letter(s) to %s\n", dry ? "would re-drive" : "re-drove", s.n,
                   events);
        }
    }
    rc = 0;
out:
    for (k = 0; k < s.n; k++)
        dl_free(&s.out[k]);
    free(s.out);
    free(s.ids);
    free(from);
    free(to);
    wb_kafka_destroy(reader);
    wb_kafka_destroy(admin);
    return rc;
}
