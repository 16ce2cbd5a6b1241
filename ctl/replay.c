/*
 * replay: rewinds (or forwards) the workers' committed offsets per topic and partition, as
 * kafka-consumer-groups --reset-offsets does: dry run by default, --execute to apply through
 * the admin API, refused while the group has members unless --force; plans can be exported
 * for review and applied from the file. replay --group-id re-produces one Entra group's
 * events from a point in time instead, leaving every offset alone.
 */
#include "ctl.h"
#include "ctl_kafka.h"
#include "wb_dlqhdr.h"
#include "wb_id.h"
#include "wb_kafka.h"
#include "wb_mem.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPLAY_MAX_EVENTS 100000

enum mode { M_NONE, M_DATETIME, M_DURATION, M_OFFSET, M_SHIFT, M_EARLIEST, M_LATEST, M_FILE };

struct plan_row {
    int32_t partition;
    int64_t current; /* -1: nothing committed */
    int64_t target;
};

static void usage(FILE *fp)
{
    fputs("usage: writebackctl replay <position> [options] [--json]\n"
          "       writebackctl replay --group-id <objectId> <position> [--execute]\n"
          "\n"
          "Moves the committed offsets of the workers' consumer group (worker.group_id) so that\n"
          "the workers re-read events. The worker is idempotent: events already applied change\n"
          "nothing in AD. Without --execute the plan is only printed (current -> new offset).\n"
          "\n"
          "Position (exactly one):\n"
          "  --to-datetime TS    first event at or after TS (RFC 3339, e.g. 2024-05-01T12:00:00Z)\n"
          "  --by-duration D     events of the last D (90s, 15m, 2h, 7d, PT15M)\n"
          "  --to-offset N       offset N (clamped to the partition's range)\n"
          "  --shift-by N        committed offset + N (negative rewinds)\n"
          "  --to-earliest       the oldest retained event\n"
          "  --to-latest         the end (skip everything unread)\n"
          "  --from-file FILE    a plan written by --export (reviewed, possibly edited)\n"
          "\n"
          "Options:\n"
          "  --topic T           topic (default topic.events)\n"
          "  --partition LIST    only these partitions, e.g. 0,3,7 (default all)\n"
          "  --consumer-group G  consumer group (default worker.group_id)\n"
          "  --export FILE       write the plan as JSON to FILE\n"
          "  --execute           apply the plan (default: dry run)\n"
          "  --force             apply even though the group has active members (the broker\n"
          "                      still refuses commits from outside a live group; stop the\n"
          "                      workers first whenever you can)\n"
          "\n"
          "--group-id OBJECTID: re-apply one Entra group's events: reads its partition from the\n"
          "position to the end and, with --execute, produces those events again to the topic\n"
          "(header wb.replay.from = topic/partition/offset). No offsets are touched, so no other\n"
          "group is re-applied and the workers may keep running.\n"
          "\n"
          "Exit: 0 done (or dry run printed), 1 failure or refused, 2 usage error.\n",
          fp);
}

/* Offsets for timestamp ts (ms) per wanted partition; -1 answers (no later event) -> hi. */
static wb_err_t offsets_for_time(rd_kafka_t *rk, const char *topic, int nparts, const bool *want,
                                 int64_t ts, const int64_t *hi, int64_t *out)
{
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(nparts);
    rd_kafka_resp_err_t err;
    int p, i;
    wb_err_t rc = WB_OK;

    for (p = 0; p < nparts; p++)
        if (want[p])
            rd_kafka_topic_partition_list_add(tp, topic, p)->offset = ts;
    err = rd_kafka_offsets_for_times(rk, tp, CTL_TIMEOUT_MS);
    if (err) {
        fprintf(stderr, "writebackctl replay: offsets for time: %s\n", rd_kafka_err2str(err));
        rc = wb_err_from_kafka(err);
        goto out;
    }
    for (i = 0; i < tp->cnt; i++) {
        p = tp->elems[i].partition;
        if (tp->elems[i].err) {
            fprintf(stderr, "writebackctl replay: offsets for time [%d]: %s\n", p,
                    rd_kafka_err2str(tp->elems[i].err));
            rc = WB_ERR_TRANSIENT;
            goto out;
        }
        out[p] = tp->elems[i].offset >= 0 ? tp->elems[i].offset : hi[p];
    }
out:
    rd_kafka_topic_partition_list_destroy(tp);
    return rc;
}

static int64_t clamp(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, n;

    if (!fp)
        return NULL;
    buf = wb_malloc(1 << 20);
    n = fread(buf, 1, (1 << 20) - 1, fp);
    len = n;
    buf[len] = '\0';
    if (!feof(fp)) {
        free(buf);
        buf = NULL;
    }
    fclose(fp);
    return buf;
}

/* Reads a plan file into target[] (want[] set for its partitions). */
static int load_plan(const char *path, const char *topic, const char *group, int nparts, bool *want,
                     int64_t *target)
{
    char *txt = slurp(path);
    cJSON *doc = txt ? cJSON_Parse(txt) : NULL, *rows, *it;
    cJSON *t, *g;
    int rc = -1, n = 0;

    if (!doc) {
        fprintf(stderr, "writebackctl replay: %s: %s\n", path,
                txt ? "not JSON" : "cannot read (or larger than 1 MB)");
        goto out;
    }
    t = cJSON_GetObjectItem(doc, "topic");
    g = cJSON_GetObjectItem(doc, "group");
    rows = cJSON_GetObjectItem(doc, "partitions");
    if (!cJSON_IsString(t) || !cJSON_IsString(g) || !cJSON_IsArray(rows)) {
        fprintf(stderr, "writebackctl replay: %s: needs \"group\", \"topic\" and \"partitions\"\n",
                path);
        goto out;
    }
    if (strcmp(t->valuestring, topic) != 0 || strcmp(g->valuestring, group) != 0) {
        fprintf(stderr, "writebackctl replay: %s is a plan for group %s on %s, not %s on %s\n",
                path, g->valuestring, t->valuestring, group, topic);
        goto out;
    }
    cJSON_ArrayForEach(it, rows)
    {
        cJSON *p = cJSON_GetObjectItem(it, "partition"), *o = cJSON_GetObjectItem(it, "offset");

        if (!cJSON_IsNumber(p) || !cJSON_IsNumber(o) || p->valuedouble < 0 ||
            p->valuedouble >= nparts || o->valuedouble < 0 || want[(int)p->valuedouble]) {
            fprintf(stderr,
                    "writebackctl replay: %s: row %d needs a partition in 0..%d (once) and an "
                    "offset >= 0\n",
                    path, n, nparts - 1);
            goto out;
        }
        want[(int)p->valuedouble] = true;
        target[(int)p->valuedouble] = (int64_t)o->valuedouble;
        n++;
    }
    if (n == 0) {
        fprintf(stderr, "writebackctl replay: %s: empty plan\n", path);
        goto out;
    }
    rc = 0;
out:
    cJSON_Delete(doc);
    free(txt);
    return rc;
}

static cJSON *plan_json(const char *group, const char *topic, const struct plan_row *rows, size_t n)
{
    cJSON *doc = cJSON_CreateObject(), *arr;
    size_t i;

    cJSON_AddStringToObject(doc, "group", group);
    cJSON_AddStringToObject(doc, "topic", topic);
    arr = cJSON_AddArrayToObject(doc, "partitions");
    for (i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();

        cJSON_AddNumberToObject(o, "partition", rows[i].partition);
        if (rows[i].current >= 0)
            cJSON_AddNumberToObject(o, "current", (double)rows[i].current);
        else
            cJSON_AddNullToObject(o, "current");
        cJSON_AddNumberToObject(o, "offset", (double)rows[i].target);
        cJSON_AddItemToArray(arr, o);
    }
    return doc;
}

static wb_err_t alter_offsets(rd_kafka_t *rk, const char *group, const char *topic,
                              const struct plan_row *rows, size_t n)
{
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new((int)n);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o =
        rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS);
    rd_kafka_AlterConsumerGroupOffsets_t *req;
    rd_kafka_event_t *ev = NULL;
    const rd_kafka_group_result_t **res;
    const rd_kafka_topic_partition_list_t *got;
    size_t i, nres;
    wb_err_t rc = WB_ERR_TRANSIENT;
    char errstr[256];

    for (i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(tp, topic, rows[i].partition)->offset = rows[i].target;
    rd_kafka_AdminOptions_set_request_timeout(o, CTL_TIMEOUT_MS, errstr, sizeof(errstr));
    req = rd_kafka_AlterConsumerGroupOffsets_new(group, tp);
    rd_kafka_AlterConsumerGroupOffsets(rk, &req, 1, o, q);
    ev = rd_kafka_queue_poll(q, CTL_TIMEOUT_MS + 5000);
    if (!ev || rd_kafka_event_error(ev)) {
        fprintf(stderr, "writebackctl replay: altering offsets: %s\n",
                ev ? rd_kafka_event_error_string(ev) : "no answer from the broker");
        goto out;
    }
    res = rd_kafka_AlterConsumerGroupOffsets_result_groups(
        rd_kafka_event_AlterConsumerGroupOffsets_result(ev), &nres);
    if (nres != 1 || rd_kafka_group_result_error(res[0])) {
        fprintf(stderr, "writebackctl replay: altering offsets of %s: %s\n", group,
                nres == 1 ? rd_kafka_error_string(rd_kafka_group_result_error(res[0]))
                          : "no result");
        goto out;
    }
    got = rd_kafka_group_result_partitions(res[0]);
    for (i = 0; got && i < (size_t)got->cnt; i++)
        if (got->elems[i].err) {
            fprintf(stderr,
                    "writebackctl replay: partition %d: %s (are workers still running in the "
                    "group?)\n",
                    (int)got->elems[i].partition, rd_kafka_err2str(got->elems[i].err));
            goto out;
        }
    rc = WB_OK;
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AlterConsumerGroupOffsets_destroy(req);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    rd_kafka_topic_partition_list_destroy(tp);
    return rc;
}

/* --group-id: one Entra group's events. */
struct grp_ev {
    int64_t offset, ts;
    char *value;
    size_t len;
    rd_kafka_headers_t *hdrs;
};

struct grp_scan {
    const char *key;
    struct grp_ev *ev;
    size_t n, cap;
    bool too_many;
};

static int grp_cb(const rd_kafka_message_t *m, void *opaque)
{
    struct grp_scan *gs = opaque;
    rd_kafka_headers_t *h = NULL;
    rd_kafka_timestamp_type_t tt;
    struct grp_ev *e;

    if (!m->key || m->key_len != strlen(gs->key) || strncasecmp(m->key, gs->key, m->key_len))
        return 0;
    if (gs->n >= REPLAY_MAX_EVENTS) {
        gs->too_many = true;
        return 1;
    }
    if (gs->n == gs->cap) {
        gs->cap = gs->cap ? gs->cap * 2 : 64;
        gs->ev = wb_realloc(gs->ev, gs->cap * sizeof(*gs->ev));
    }
    e = &gs->ev[gs->n++];
    e->offset = m->offset;
    e->ts = rd_kafka_message_timestamp(m, &tt);
    e->value = m->payload ? wb_strndup(m->payload, m->len) : NULL;
    e->len = m->len;
    e->hdrs = rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR
                  ? rd_kafka_headers_copy(h)
                  : NULL;
    return 0;
}

static int replay_group(struct ctl *c, rd_kafka_t *admin, rd_kafka_t *reader, const char *topic,
                        int nparts, const char *gid, enum mode mode, int64_t arg, bool execute)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(admin, topic, NULL);
    char key[WB_ID_GUID_STR_SIZE];
    int32_t part;
    int64_t lo, hi, start = 0, *from = wb_calloc((size_t)nparts, sizeof(int64_t)),
                    *to = wb_calloc((size_t)nparts, sizeof(int64_t));
    bool want1 = true;
    struct grp_scan gs = {key, NULL, 0, 0, false};
    rd_kafka_t *prod = NULL;
    int rc = CTL_EXIT_FAIL, i;
    size_t k;

    for (i = 0; gid[i] && i < (int)sizeof(key) - 1; i++)
        key[i] = (char)tolower((unsigned char)gid[i]);
    key[i] = '\0';
    /* The same placement as the producer's murmur2_random partitioner. */
    part = rd_kafka_msg_partitioner_murmur2_random(rkt, key, strlen(key), nparts, NULL, NULL);
    if (ctl_kafka_watermarks(admin, topic, part, &lo, &hi) != WB_OK)
        goto out;
    switch (mode) {
    case M_DATETIME:
    case M_DURATION: {
        bool *want = wb_calloc((size_t)nparts, sizeof(bool));
        int64_t *his = wb_calloc((size_t)nparts, sizeof(int64_t)),
                *res = wb_calloc((size_t)nparts, sizeof(int64_t));
        wb_err_t e;

        want[part] = want1;
        his[part] = hi;
        e = offsets_for_time(admin, topic, nparts, want, arg, his, res);
        start = res[part];
        free(want);
        free(his);
        free(res);
        if (e != WB_OK)
            goto out;
        break;
    }
    case M_OFFSET:
        start = clamp(arg, lo, hi);
        break;
    case M_EARLIEST:
        start = lo;
        break;
    default:
        ctl_usage_error("replay",
                        "%s--group-id takes --to-datetime, --by-duration, --to-offset "
                        "or --to-earliest",
                        "");
        rc = CTL_EXIT_USAGE;
        goto out;
    }
    from[part] = start;
    to[part] = hi;
    if (ctl_kafka_scan(reader, topic, nparts, from, to, 120000, grp_cb, &gs) != WB_OK)
        goto out;
    if (gs.too_many) {
        fprintf(stderr,
                "writebackctl replay: more than %d events of %s; choose a later "
                "position\n",
                REPLAY_MAX_EVENTS, key);
        goto out;
    }
    if (execute && gs.n > 0) {
        prod = ctl_kafka_new(c, RD_KAFKA_PRODUCER);
        if (!prod)
            goto out;
        for (k = 0; k < gs.n; k++) {
            struct wb_kafka_header hd[64];
            size_t nh = 0, hi2 = 0;
            const char *hn;
            const void *hv;
            size_t hl;
            char from_s[300];

            while (gs.ev[k].hdrs && nh < 63 &&
                   rd_kafka_header_get_all(gs.ev[k].hdrs, hi2++, &hn, &hv, &hl) ==
                       RD_KAFKA_RESP_ERR_NO_ERROR) {
                if (wb_dlqhdr_is_ours(hn))
                    continue;
                hd[nh].name = hn;
                hd[nh].value = hv;
                hd[nh++].len = hl;
            }
            snprintf(from_s, sizeof(from_s), "%s/%d/%lld", topic, (int)part,
                     (long long)gs.ev[k].offset);
            hd[nh].name = "wb.replay.from";
            hd[nh].value = from_s;
            hd[nh++].len = strlen(from_s);
            if (wb_kafka_produce(prod, topic, key, strlen(key), gs.ev[k].value, gs.ev[k].len, hd,
                                 nh, NULL) != WB_OK)
                goto out;
        }
        if (wb_kafka_flush(prod, 30000) != WB_OK) {
            fprintf(stderr, "writebackctl replay: events not acknowledged by the broker\n");
            goto out;
        }
    }
    if (c->json) {
        cJSON *doc = cJSON_CreateObject(), *arr;

        cJSON_AddStringToObject(doc, "groupId", key);
        cJSON_AddStringToObject(doc, "topic", topic);
        cJSON_AddNumberToObject(doc, "partition", part);
        cJSON_AddNumberToObject(doc, "from", (double)start);
        cJSON_AddNumberToObject(doc, "to", (double)hi);
        cJSON_AddBoolToObject(doc, "executed", execute);
        arr = cJSON_AddArrayToObject(doc, "events");
        for (k = 0; k < gs.n; k++) {
            cJSON *o = cJSON_CreateObject();

            cJSON_AddNumberToObject(o, "offset", (double)gs.ev[k].offset);
            cJSON_AddNumberToObject(o, "timestamp", (double)gs.ev[k].ts);
            cJSON_AddItemToArray(arr, o);
        }
        ctl_print_json(doc);
    } else {
        printf("%s %zu event(s) of group %s from %s [%d] offsets %lld..%lld%s\n",
               execute ? "re-produced" : "would re-produce", gs.n, key, topic, (int)part,
               (long long)start, (long long)hi, execute ? "" : " (dry run; add --execute)");
        for (k = 0; k < gs.n; k++)
            printf("  offset %lld\n", (long long)gs.ev[k].offset);
    }
    rc = 0;
out:
    for (k = 0; k < gs.n; k++) {
        free(gs.ev[k].value);
        if (gs.ev[k].hdrs)
            rd_kafka_headers_destroy(gs.ev[k].hdrs);
    }
    free(gs.ev);
    wb_kafka_destroy(prod);
    free(from);
    free(to);
    rd_kafka_topic_destroy(rkt);
    return rc;
}

int ctl_replay(struct ctl *c, int argc, char **argv)
{
    const char *topic = NULL, *group = NULL, *v, *plist = NULL, *export = NULL, *file = NULL;
    const char *gid = NULL;
    enum mode mode = M_NONE;
    int64_t arg = 0;
    bool execute = false, force = false, *want = NULL;
    rd_kafka_t *admin = NULL, *reader = NULL;
    rd_kafka_topic_partition_list_t *tp = NULL;
    int64_t *lo = NULL, *hi = NULL, *target = NULL;
    struct plan_row *rows = NULL;
    size_t nrows = 0;
    int nparts, p, i, rc = CTL_EXIT_FAIL, members = -1;
    char state[64];

    if (ctl_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    for (i = 1; i < argc; i++) {
        enum mode m = M_NONE;

        if (ctl_opt(argc, argv, &i, "--topic", &v))
            topic = v;
        else if (ctl_opt(argc, argv, &i, "--consumer-group", &v))
            group = v;
        else if (ctl_opt(argc, argv, &i, "--partition", &v))
            plist = v;
        else if (ctl_opt(argc, argv, &i, "--export", &v))
            export = v;
        else if (ctl_opt(argc, argv, &i, "--group-id", &v))
            gid = v;
        else if (strcmp(argv[i], "--execute") == 0)
            execute = true, v = "";
        else if (strcmp(argv[i], "--dry-run") == 0)
            execute = false, v = "";
        else if (strcmp(argv[i], "--force") == 0)
            force = true, v = "";
        else if (strcmp(argv[i], "--to-earliest") == 0)
            m = M_EARLIEST, v = "";
        else if (strcmp(argv[i], "--to-latest") == 0)
            m = M_LATEST, v = "";
        else if (ctl_opt(argc, argv, &i, "--from-file", &v))
            m = M_FILE, file = v;
        else if (ctl_opt(argc, argv, &i, "--to-datetime", &v)) {
            m = M_DATETIME;
            if (v && (arg = ctl_parse_time(v)) < 0)
                return ctl_usage_error("replay", "bad --to-datetime \"%s\" (RFC 3339)", v);
        } else if (ctl_opt(argc, argv, &i, "--by-duration", &v)) {
            m = M_DURATION;
            if (v && (arg = ctl_parse_duration(v)) < 0)
                return ctl_usage_error("replay", "bad --by-duration \"%s\" (e.g. 15m, 2h, PT1H)",
                                       v);
            arg = ctl_now_ms() - arg;
        } else if (ctl_opt(argc, argv, &i, "--to-offset", &v)) {
            m = M_OFFSET;
            if (v && (!ctl_parse_i64(v, &arg) || arg < 0))
                return ctl_usage_error("replay", "bad --to-offset \"%s\"", v);
        } else if (ctl_opt(argc, argv, &i, "--shift-by", &v)) {
            m = M_SHIFT;
            if (v && !ctl_parse_i64(v, &arg))
                return ctl_usage_error("replay", "bad --shift-by \"%s\"", v);
        } else
            return ctl_usage_error("replay", "unknown option %s", argv[i]);
        if (!v)
            return ctl_usage_error("replay", "option %s needs a value", argv[i]);
        if (m != M_NONE) {
            if (mode != M_NONE)
                return ctl_usage_error("replay", "%sgive exactly one position option", "");
            mode = m;
        }
    }
    if (mode == M_NONE)
        return ctl_usage_error("replay",
                               "%sa position is required (--to-datetime, "
                               "--by-duration, --to-offset, --shift-by, --to-earliest, "
                               "--to-latest or --from-file)",
                               "");
    if (gid && !wb_id_guid_valid(gid))
        return ctl_usage_error("replay", "--group-id \"%s\" is not an objectId (GUID)", gid);
    if (gid && (plist || export || mode == M_FILE || force || group))
        return ctl_usage_error("replay",
                               "%s--group-id does not take --partition, --export, "
                               "--from-file, --force or --consumer-group",
                               "");
    if (!topic)
        topic = wb_conf_get_str(c->conf, "topic.events");
    if (!group)
        group = wb_conf_get_str(c->conf, "worker.group_id");
    admin = ctl_kafka_new(c, RD_KAFKA_PRODUCER);
    if (!admin)
        goto out;
    nparts = ctl_kafka_partitions(admin, topic);
    if (nparts <= 0)
        goto out;
    if (gid) {
        reader = ctl_kafka_new(c, RD_KAFKA_CONSUMER);
        if (reader)
            rc = replay_group(c, admin, reader, topic, nparts, gid, mode, arg, execute);
        goto out;
    }
    want = wb_calloc((size_t)nparts, sizeof(bool));
    lo = wb_calloc((size_t)nparts, sizeof(int64_t));
    hi = wb_calloc((size_t)nparts, sizeof(int64_t));
    target = wb_calloc((size_t)nparts, sizeof(int64_t));
    rows = wb_calloc((size_t)nparts, sizeof(*rows));
    if (mode == M_FILE) {
        if (plist) {
            rc = ctl_usage_error("replay", "%s--from-file takes its partitions from the file", "");
            goto out;
        }
        if (load_plan(file, topic, group, nparts, want, target) != 0)
            goto out;
    } else if (plist) {
        if (ctl_parse_partitions(plist, want, nparts) != 0) {
            rc = ctl_usage_error("replay", "bad --partition \"%s\"", plist);
            goto out;
        }
    } else {
        for (p = 0; p < nparts; p++)
            want[p] = true;
    }
    tp = rd_kafka_topic_partition_list_new(nparts);
    for (p = 0; p < nparts; p++)
        rd_kafka_topic_partition_list_add(tp, topic, p);
    if (ctl_kafka_committed(admin, group, tp) != WB_OK)
        goto out;
    for (p = 0; p < nparts; p++)
        if (want[p] && ctl_kafka_watermarks(admin, topic, p, &lo[p], &hi[p]) != WB_OK)
            goto out;
    if ((mode == M_DATETIME || mode == M_DURATION) &&
        offsets_for_time(admin, topic, nparts, want, arg, hi, target) != WB_OK)
        goto out;
    for (p = 0; p < nparts; p++) {
        int64_t cur = tp->elems[p].offset >= 0 ? tp->elems[p].offset : -1;

        if (!want[p])
            continue;
        switch (mode) {
        case M_OFFSET:
            target[p] = clamp(arg, lo[p], hi[p]);
            break;
        case M_SHIFT:
            target[p] = clamp((cur >= 0 ? cur : lo[p]) + arg, lo[p], hi[p]);
            break;
        case M_EARLIEST:
            target[p] = lo[p];
            break;
        case M_LATEST:
            target[p] = hi[p];
            break;
        case M_FILE:
            if (target[p] < lo[p] || target[p] > hi[p]) {
                fprintf(stderr,
                        "writebackctl replay: plan offset %lld of partition %d is outside "
                        "%lld..%lld (retention moved on?)\n",
                        (long long)target[p], p, (long long)lo[p], (long long)hi[p]);
                goto out;
            }
            break;
        default:
            break;
        }
        rows[nrows].partition = p;
        rows[nrows].current = cur;
        rows[nrows++].target = target[p];
    }
    if (export) {
        cJSON *doc = plan_json(group, topic, rows, nrows);
        char *txt = cJSON_Print(doc);
        FILE *fp = fopen(export, "wb");
        bool ok = fp && fputs(txt, fp) >= 0 && fputc('\n', fp) != EOF;

        if (fp && fclose(fp) != 0)
            ok = false;
        free(txt);
        cJSON_Delete(doc);
        if (!ok) {
            fprintf(stderr, "writebackctl replay: cannot write %s\n", export);
            goto out;
        }
    }
    if (ctl_kafka_group_state(admin, group, state, sizeof(state), &members) != WB_OK)
        goto out;
    if (execute && members != 0 && !force) {
        fprintf(stderr,
                "writebackctl replay: group %s is %s with %d active member(s); stop the workers "
                "first (or --force)\n",
                group, state, members);
        goto out;
    }
    if (execute && alter_offsets(admin, group, topic, rows, nrows) != WB_OK)
        goto out;
    if (c->json) {
        cJSON *doc = plan_json(group, topic, rows, nrows);

        cJSON_AddBoolToObject(doc, "executed", execute);
        cJSON_AddStringToObject(doc, "groupState", state);
        cJSON_AddNumberToObject(doc, "members", members);
        ctl_print_json(doc);
    } else {
        printf("%s offsets of group %s (%s, %d members) on %s:\n",
               execute ? "Moved" : "Plan (dry run; add --execute to apply) for", group, state,
               members, topic);
        printf("%-9s %12s    %12s %10s\n", "PARTITION", "CURRENT", "NEW", "CHANGE");
        for (i = 0; i < (int)nrows; i++) {
            char cbuf[32];

            if (rows[i].current >= 0)
                snprintf(cbuf, sizeof(cbuf), "%lld", (long long)rows[i].current);
            else
                snprintf(cbuf, sizeof(cbuf), "-");
            printf("%-9d %12s -> %12lld %+10lld\n", (int)rows[i].partition, cbuf,
                   (long long)rows[i].target,
                   (long long)(rows[i].target - (rows[i].current >= 0 ? rows[i].current : 0)));
        }
    }
    rc = 0;
out:
    if (tp)
        rd_kafka_topic_partition_list_destroy(tp);
    free(rows);
    free(target);
    free(hi);
    free(lo);
    free(want);
    wb_kafka_destroy(reader);
    wb_kafka_destroy(admin);
    return rc;
}
