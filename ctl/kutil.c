/*
 * kutil: the Kafka plumbing writebackctl's subcommands share: handles from the kafka.*
 * settings, metadata, watermarks, committed offsets and group state through the admin API,
 * and bounded reads of partition ranges; plus time and duration parsing for the options.
 */
#include "ctl.h"
#include "wb_kafka.h"
#include "wb_log.h"
#include "wb_mem.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bool ctl_wants_help(int argc, char **argv)
{
    int i;

    for (i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

void ctl_print_json(cJSON *doc)
{
    char *s = cJSON_Print(doc);

    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
    cJSON_Delete(doc);
}

int64_t ctl_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

rd_kafka_t *ctl_kafka_new(struct ctl *c, rd_kafka_type_t type, const char *const *extra)
{
    char errstr[512];
    rd_kafka_conf_t *kc = NULL;
    rd_kafka_t *rk = NULL;
    size_t i;

    if (type == RD_KAFKA_PRODUCER)
        kc = wb_kafka_producer_conf_new(wb_conf_kafka_kv(c->conf), errstr, sizeof(errstr));
    else
        kc = wb_kafka_conf_new(wb_conf_kafka_kv(c->conf), errstr, sizeof(errstr));
    if (!kc)
        goto fail;
    if (type == RD_KAFKA_CONSUMER) {
        /* Never joins a group: assign() only, and nothing is committed. The group.id only
         * satisfies librdkafka; it is never used with the coordinator. */
        static const char *const defs[] = {"group.id",
                                           "writebackctl-reader",
                                           "enable.auto.commit",
                                           "false",
                                           "enable.auto.offset.store",
                                           "false",
                                           "enable.partition.eof",
                                           "true",
                                           "isolation.level",
                                           "read_committed",
                                           NULL};

        for (i = 0; defs[i]; i += 2)
            if (rd_kafka_conf_set(kc, defs[i], defs[i + 1], errstr, sizeof(errstr)) !=
                RD_KAFKA_CONF_OK)
                goto fail;
    }
    for (i = 0; extra && extra[i]; i += 2)
        if (rd_kafka_conf_set(kc, extra[i], extra[i + 1], errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK)
            goto fail;
    rk = wb_kafka_new(type, kc, errstr, sizeof(errstr));
    kc = NULL;
    if (!rk)
        goto fail;
    return rk;
fail:
    if (kc)
        rd_kafka_conf_destroy(kc);
    fprintf(stderr, "writebackctl: Kafka: %s\n", errstr);
    return NULL;
}

int ctl_partitions(rd_kafka_t *rk, const char *topic)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t err;
    int n = -1;

    err = rd_kafka_metadata(rk, 0, rkt, &md, CTL_TIMEOUT_MS);
    if (err) {
        fprintf(stderr, "writebackctl: metadata of topic %s: %s\n", topic, rd_kafka_err2str(err));
        goto out;
    }
    if (md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt == 0) {
        fprintf(stderr, "writebackctl: topic %s: %s\n", topic,
                md->topic_cnt == 1 && md->topics[0].err ? rd_kafka_err2str(md->topics[0].err)
                                                        : "does not exist");
        goto out;
    }
    n = md->topics[0].partition_cnt;
out:
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return n;
}

/* Runs one admin request already started on q and waits for its result event. */
static rd_kafka_event_t *admin_wait(rd_kafka_queue_t *q, const char *what)
{
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, CTL_TIMEOUT_MS + 5000);

    if (!ev) {
        fprintf(stderr, "writebackctl: %s: no answer from the broker\n", what);
        return NULL;
    }
    if (rd_kafka_event_error(ev)) {
        fprintf(stderr, "writebackctl: %s: %s\n", what, rd_kafka_event_error_string(ev));
        rd_kafka_event_destroy(ev);
        return NULL;
    }
    return ev;
}

static rd_kafka_AdminOptions_t *admin_opts(rd_kafka_t *rk, rd_kafka_admin_op_t op)
{
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, op);
    char errstr[256];

    rd_kafka_AdminOptions_set_request_timeout(o, CTL_TIMEOUT_MS, errstr, sizeof(errstr));
    return o;
}

wb_err_t ctl_committed(rd_kafka_t *rk, const char *group, rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = admin_opts(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
    rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(group, parts);
    rd_kafka_event_t *ev = NULL;
    const rd_kafka_group_result_t **res;
    const rd_kafka_topic_partition_list_t *got;
    size_t n;
    int i;
    wb_err_t rc = WB_ERR_TRANSIENT;

    rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, o, q);
    ev = admin_wait(q, "committed offsets");
    if (!ev)
        goto out;
    res = rd_kafka_ListConsumerGroupOffsets_result_groups(
        rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
    if (n != 1 || rd_kafka_group_result_error(res[0])) {
        fprintf(stderr, "writebackctl: committed offsets of %s: %s\n", group,
                n == 1 ? rd_kafka_error_string(rd_kafka_group_result_error(res[0])) : "no result");
        goto out;
    }
    got = rd_kafka_group_result_partitions(res[0]);
    for (i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *t = &parts->elems[i];
        rd_kafka_topic_partition_t *g =
            got ? rd_kafka_topic_partition_list_find(got, t->topic, t->partition) : NULL;

        t->offset = g && !g->err && g->offset >= 0 ? g->offset : RD_KAFKA_OFFSET_INVALID;
    }
    rc = WB_OK;
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    return rc;
}

wb_err_t ctl_group_state(rd_kafka_t *rk, const char *group, char *state, size_t statesz,
                         int *members)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = admin_opts(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
    rd_kafka_event_t *ev = NULL;
    const rd_kafka_ConsumerGroupDescription_t **res;
    const char *groups[1] = {group};
    size_t n;
    wb_err_t rc = WB_ERR_TRANSIENT;

    *members = -1;
    snprintf(state, statesz, "Unknown");
    rd_kafka_DescribeConsumerGroups(rk, groups, 1, o, q);
    ev = admin_wait(q, "describe group");
    if (!ev)
        goto out;
    res = rd_kafka_DescribeConsumerGroups_result_groups(
        rd_kafka_event_DescribeConsumerGroups_result(ev), &n);
    if (n != 1 || rd_kafka_ConsumerGroupDescription_error(res[0])) {
        fprintf(stderr, "writebackctl: describe group %s: %s\n", group,
                n == 1 ? rd_kafka_error_string(rd_kafka_ConsumerGroupDescription_error(res[0]))
                       : "no result");
        goto out;
    }
    snprintf(state, statesz, "%s",
             rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(res[0])));
    *members = (int)rd_kafka_ConsumerGroupDescription_member_count(res[0]);
    rc = WB_OK;
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    return rc;
}

wb_err_t ctl_watermarks(rd_kafka_t *rk, const char *topic, int32_t part, int64_t *lo, int64_t *hi)
{
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(rk, topic, part, lo, hi, CTL_TIMEOUT_MS);

    if (err) {
        fprintf(stderr, "writebackctl: watermarks of %s [%d]: %s\n", topic, (int)part,
                rd_kafka_err2str(err));
        return wb_err_from_kafka(err);
    }
    return WB_OK;
}

wb_err_t ctl_scan(rd_kafka_t *rk, const char *topic, int nparts, const int64_t *from,
                  const int64_t *to, int timeout_ms, ctl_scan_cb cb, void *opaque)
{
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(nparts);
    bool *done = wb_calloc((size_t)nparts + 1, sizeof(bool));
    int left = 0, p;
    int64_t deadline = ctl_now_ms() + timeout_ms;
    rd_kafka_resp_err_t err;
    wb_err_t rc = WB_OK;

    for (p = 0; p < nparts; p++) {
        if (from[p] >= to[p]) {
            done[p] = true;
            continue;
        }
        rd_kafka_topic_partition_list_add(tp, topic, p)->offset = from[p];
        left++;
    }
    if (left == 0)
        goto out;
    err = rd_kafka_assign(rk, tp);
    if (err) {
        fprintf(stderr, "writebackctl: assign %s: %s\n", topic, rd_kafka_err2str(err));
        rc = WB_ERR_TRANSIENT;
        goto out;
    }
    while (left > 0) {
        rd_kafka_message_t *m;

        if (ctl_now_ms() > deadline) {
            fprintf(stderr, "writebackctl: reading %s timed out (%d partitions unfinished)\n",
                    topic, left);
            rc = WB_ERR_TRANSIENT;
            break;
        }
        m = rd_kafka_consumer_poll(rk, 500);
        if (!m)
            continue;
        p = m->partition;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (p >= 0 && p < nparts && !done[p]) {
                done[p] = true;
                left--;
            }
        } else if (m->err) {
            wb_log(LOG_WARNING, "CTL", "reading %s: %s", topic, rd_kafka_message_errstr(m));
        } else if (p >= 0 && p < nparts && !done[p]) {
            if (m->offset < to[p] && cb(m, opaque)) {
                rd_kafka_message_destroy(m);
                break;
            }
            if (m->offset + 1 >= to[p]) {
                done[p] = true;
                left--;
            }
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(rk, NULL);
out:
    free(done);
    rd_kafka_topic_partition_list_destroy(tp);
    return rc;
}

char *ctl_header(const rd_kafka_message_t *m, const char *name)
{
    rd_kafka_headers_t *h = NULL;
    const void *v = NULL;
    size_t len = 0;

    if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return NULL;
    if (rd_kafka_header_get_last(h, name, &v, &len) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return NULL;
    return v ? wb_strndup(v, len) : wb_strdup("");
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int64_t ctl_parse_time(const char *s)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, n = 0, ms = 0, tzh = 0, tzm = 0, sign = 0;
    const char *p;

    if (!s || sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return -1;
    p = s + n;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        if (sscanf(p + 1, "%2d:%2d:%2d%n", &h, &mi, &sec, &n) != 3 || n != 8)
            return -1;
        p += 1 + n;
        if (*p == '.') {
            int digits = 0;

            for (p++; isdigit((unsigned char)*p); p++, digits++)
                if (digits < 3)
                    ms = ms * 10 + (*p - '0');
            if (digits == 0)
                return -1;
            for (; digits < 3; digits++)
                ms *= 10;
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            sign = *p == '+' ? 1 : -1;
            if (sscanf(p + 1, "%2d:%2d%n", &tzh, &tzm, &n) != 2 || n != 5)
                return -1;
            p += 1 + n;
        } else {
            return -1;
        }
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || tzh > 23 ||
        tzm > 59 || y < 1970)
        return -1;
    return ((days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec -
             sign * (tzh * 3600 + tzm * 60)) *
            1000) +
           ms;
}

int64_t ctl_parse_duration(const char *s)
{
    int64_t total = 0;
    bool iso = false, any = false;

    if (!s || !*s)
        return -1;
    if (*s == 'P' || *s == 'p') {
        iso = true;
        s++;
    }
    while (*s) {
        int64_t v = 0, unit;
        int digits = 0;

        if (iso && (*s == 'T' || *s == 't')) {
            s++;
            continue;
        }
        while (isdigit((unsigned char)*s) && digits < 12) {
            v = v * 10 + (*s++ - '0');
            digits++;
        }
        if (digits == 0)
            return -1;
        switch (tolower((unsigned char)*s)) {
        case 's':
            unit = 1000;
            break;
        case 'm':
            unit = 60000;
            break;
        case 'h':
            unit = 3600000;
            break;
        case 'd':
            unit = 86400000;
            break;
        case 'w':
            unit = 7 * 86400000LL;
            break;
        default:
            return -1;
        }
        s++;
        total += v * unit;
        any = true;
    }
    return any ? total : -1;
}

int ctl_parse_partitions(const char *s, bool *want, int nparts)
{
    const char *p = s;

    while (*p) {
        char *end = NULL;
        long v = strtol(p, &end, 10);

        if (end == p || v < 0 || v >= nparts || (*end && *end != ','))
            return -1;
        want[v] = true;
        p = *end ? end + 1 : end;
    }
    return 0;
}

bool ctl_opt(int argc, char **argv, int *i, const char *name, const char **val)
{
    size_t n = strlen(name);

    *val = NULL;
    if (strncmp(argv[*i], name, n) != 0)
        return false;
    if (argv[*i][n] == '=') {
        *val = argv[*i] + n + 1;
        return true;
    }
    if (argv[*i][n] != '\0')
        return false;
    if (*i + 1 < argc)
        *val = argv[++*i];
    return true;
}

int ctl_usage_error(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "writebackctl %s: ", cmd);
    fprintf(stderr, fmt, arg ? arg : "");
    fprintf(stderr, " (see writebackctl %s --help)\n", cmd);
    return CTL_EXIT_USAGE;
}

bool ctl_parse_i64(const char *s, int64_t *out)
{
    char *end = NULL;
    long long v;

    if (!s || !*s)
        return false;
    v = strtoll(s, &end, 10);
    if (*end)
        return false;
    *out = v;
    return true;
}
