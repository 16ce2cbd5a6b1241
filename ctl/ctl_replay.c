/*
 * replay: rewinds (or forwards) the workers' committed offsets per topic and partition, as
 * kafka-consumer-groups --reset-offsets does: dry run by default, --execute to apply through
 * the admin API, refused while the group has members unless --force; plans can be exported
 * for review and applied from the file. replay --group-id re-produces one Entra group's
 * events from a point in time instead, leaving every offset alone.
 */
#include "ctl.h"
#include "ctl_kafka.h"
#include "wb_id.h"
#include "wb_kafka.h"
#include "wb_mem.h"
#include "wb_time.h"

#include <ctype.h>
#include <stddef.h>
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

struct replay_opts {
    const char *topic, *group, *plist, *export, *file, *gid; /* NULL: not given */
    int mode;                                                /* enum mode */
    int64_t arg; /* --to-datetime, --by-duration (ms), --to-offset, --shift-by */
    int execute, force;
};

static const struct replay_opts defaults = {.mode = M_NONE};

#define POSITION(n, k, field, m, ...)                                                              \
    CTL_OPT(n, k, struct replay_opts, field, .choice = (m),                                        \
            .choice_off = offsetof(struct replay_opts, mode), __VA_ARGS__)

static const struct ctl_opt options[] = {
    CTL_OPT("--topic", CTL_OPT_STR, struct replay_opts, topic),
    CTL_OPT("--consumer-group", CTL_OPT_STR, struct replay_opts, group),
    CTL_OPT("--partition", CTL_OPT_STR, struct replay_opts, plist),
    CTL_OPT("--export", CTL_OPT_STR, struct replay_opts, export),
    CTL_OPT("--group-id", CTL_OPT_STR, struct replay_opts, gid),
    CTL_OPT("--execute", CTL_OPT_FLAG, struct replay_opts, execute, .val = 1),
    CTL_OPT("--dry-run", CTL_OPT_FLAG, struct replay_opts, execute, .val = 0),
    CTL_OPT("--force", CTL_OPT_FLAG, struct replay_opts, force, .val = 1),
    POSITION("--to-earliest", CTL_OPT_FLAG, mode, M_EARLIEST, .val = M_EARLIEST),
    POSITION("--to-latest", CTL_OPT_FLAG, mode, M_LATEST, .val = M_LATEST),
    POSITION("--from-file", CTL_OPT_STR, file, M_FILE),
    POSITION("--to-datetime", CTL_OPT_TIME, arg, M_DATETIME),
    POSITION("--by-duration", CTL_OPT_DURATION, arg, M_DURATION),
    POSITION("--to-offset", CTL_OPT_I64, arg, M_OFFSET),
    POSITION("--shift-by", CTL_OPT_I64, arg, M_SHIFT, .val = INT64_MIN),
    {.name = NULL},
};

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

/* The plan (offsets mode) or the group's events (--group-id). */
struct replay_result {
    const char *topic, *group;
    struct plan_row *rows;
    size_t nrows;
    char state[64];
    int members;
    char key[WB_ID_GUID_STR_SIZE]; /* --group-id, lower case */
    int32_t part;
    int64_t start, hi;
    struct grp_scan gs;
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

/* --group-id: reads the group's events from the position on and, with --execute, produces
 * them again. */
static int replay_group(struct ctl *c, rd_kafka_t *admin, rd_kafka_t *reader, int nparts,
                        const struct replay_opts *o, struct replay_result *r)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(admin, r->topic, NULL);
    int64_t lo, *from = wb_calloc((size_t)nparts, sizeof(int64_t)),
                *to = wb_calloc((size_t)nparts, sizeof(int64_t)),
                *res = wb_calloc((size_t)nparts, sizeof(int64_t));
    bool *want = wb_calloc((size_t)nparts, sizeof(bool));
    rd_kafka_t *prod = NULL;
    int rc = CTL_EXIT_FAIL, i;
    size_t k;

    for (i = 0; o->gid[i] && i < (int)sizeof(r->key) - 1; i++)
        r->key[i] = (char)tolower((unsigned char)o->gid[i]);
    r->key[i] = '\0';
    r->gs.key = r->key;
    /* The same placement as the producer's murmur2_random partitioner. */
    r->part =
        rd_kafka_msg_partitioner_murmur2_random(rkt, r->key, strlen(r->key), nparts, NULL, NULL);
    if (ctl_kafka_watermarks(admin, r->topic, r->part, &lo, &r->hi) != WB_OK)
        goto out;
    if (o->mode == M_DATETIME || o->mode == M_DURATION) {
        want[r->part] = true;
        to[r->part] = r->hi;
        if (offsets_for_time(admin, r->topic, nparts, want, o->arg, to, res) != WB_OK)
            goto out;
        r->start = res[r->part];
    } else if (o->mode == M_OFFSET || o->mode == M_EARLIEST) {
        r->start = o->mode == M_OFFSET ? clamp(o->arg, lo, r->hi) : lo;
    } else {
        rc = ctl_usage_error("replay",
                             "%s--group-id takes --to-datetime, --by-duration, --to-offset "
                             "or --to-earliest",
                             "");
        goto out;
    }
    from[r->part] = r->start;
    to[r->part] = r->hi;
    if (ctl_kafka_scan(reader, r->topic, nparts, from, to, 120000, grp_cb, &r->gs) != WB_OK)
        goto out;
    if (r->gs.too_many) {
        fprintf(stderr, "writebackctl replay: more than %d events of %s; choose a later position\n",
                REPLAY_MAX_EVENTS, r->key);
        goto out;
    }
    if (o->execute && r->gs.n > 0) {
        prod = ctl_kafka_new(c, RD_KAFKA_PRODUCER);
        if (!prod)
            goto out;
        for (k = 0; k < r->gs.n; k++) {
            const struct grp_ev *e = &r->gs.ev[k];
            char from_s[300];
            struct wb_kafka_header hd = {"wb.replay.from", from_s, 0};

            snprintf(from_s, sizeof(from_s), "%s/%d/%lld", r->topic, (int)r->part,
                     (long long)e->offset);
            hd.len = strlen(from_s);
            if (ctl_kafka_reproduce(prod, r->topic, r->key, strlen(r->key), e->value, e->len,
                                    e->hdrs, &hd, 1) != WB_OK)
                goto out;
        }
        if (wb_kafka_flush(prod, 30000) != WB_OK) {
            fprintf(stderr, "writebackctl replay: events not acknowledged by the broker\n");
            goto out;
        }
    }
    rc = CTL_EXIT_OK;
out:
    wb_kafka_destroy(prod);
    free(want);
    free(res);
    free(from);
    free(to);
    rd_kafka_topic_destroy(rkt);
    return rc;
}

/* Usage errors the option table cannot see. */
static int check(const struct replay_opts *o)
{
    if (o->mode == M_NONE)
        return ctl_usage_error("replay",
                               "%sa position is required (--to-datetime, "
                               "--by-duration, --to-offset, --shift-by, --to-earliest, "
                               "--to-latest or --from-file)",
                               "");
    if (o->gid && !wb_id_guid_valid(o->gid))
        return ctl_usage_error("replay", "--group-id \"%s\" is not an objectId (GUID)", o->gid);
    if (o->gid && (o->plist || o->export || o->mode == M_FILE || o->force || o->group))
        return ctl_usage_error("replay",
                               "%s--group-id does not take --partition, --export, "
                               "--from-file, --force or --consumer-group",
                               "");
    if (o->mode == M_FILE && o->plist)
        return ctl_usage_error("replay", "%s--from-file takes its partitions from the file", "");
    return CTL_EXIT_OK;
}

/* The partitions to move: all, --partition's or the plan file's (targets then filled). */
static int choose(const struct replay_opts *o, const char *topic, const char *group, int nparts,
                  bool *want, int64_t *target)
{
    int p;

    if (o->mode == M_FILE)
        return load_plan(o->file, topic, group, nparts, want, target) != 0 ? CTL_EXIT_FAIL
                                                                           : CTL_EXIT_OK;
    if (o->plist && ctl_parse_partitions(o->plist, want, nparts) != 0)
        return ctl_usage_error("replay", "bad --partition \"%s\"", o->plist);
    for (p = 0; !o->plist && p < nparts; p++)
        want[p] = true;
    return CTL_EXIT_OK;
}

/* The new offset of partition p (cur: its committed offset, -1 none); -1 when a plan file's
 * offset is out of range (message printed). */
static int64_t target_of(const struct replay_opts *o, int p, int64_t cur, int64_t lo, int64_t hi,
                         int64_t planned)
{
    switch (o->mode) {
    case M_OFFSET:
        return clamp(o->arg, lo, hi);
    case M_SHIFT:
        return clamp((cur >= 0 ? cur : lo) + o->arg, lo, hi);
    case M_EARLIEST:
        return lo;
    case M_LATEST:
        return hi;
    case M_FILE:
        if (planned >= lo && planned <= hi)
            return planned;
        fprintf(stderr,
                "writebackctl replay: plan offset %lld of partition %d is outside "
                "%lld..%lld (retention moved on?)\n",
                (long long)planned, p, (long long)lo, (long long)hi);
        return -1;
    default:
        return planned; /* offsets for the time */
    }
}

static int export_plan(const char *path, const struct replay_result *r)
{
    cJSON *doc = plan_json(r->group, r->topic, r->rows, r->nrows);
    char *txt = cJSON_Print(doc);
    FILE *fp = fopen(path, "wb");
    bool ok = fp && fputs(txt, fp) >= 0 && fputc('\n', fp) != EOF;

    if (fp && fclose(fp) != 0)
        ok = false;
    free(txt);
    cJSON_Delete(doc);
    if (!ok)
        fprintf(stderr, "writebackctl replay: cannot write %s\n", path);
    return ok ? 0 : -1;
}

/* The offsets mode: plan, export, and with --execute move the group's offsets. */
static int replay_offsets(rd_kafka_t *admin, int nparts, const struct replay_opts *o,
                          struct replay_result *r)
{
    bool *want = wb_calloc((size_t)nparts, sizeof(bool));
    int64_t *lo = wb_calloc((size_t)nparts, sizeof(int64_t)),
            *hi = wb_calloc((size_t)nparts, sizeof(int64_t)),
            *target = wb_calloc((size_t)nparts, sizeof(int64_t));
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(nparts);
    int p, rc = choose(o, r->topic, r->group, nparts, want, target);

    if (rc != CTL_EXIT_OK)
        goto out;
    rc = CTL_EXIT_FAIL;
    r->rows = wb_calloc((size_t)nparts, sizeof(*r->rows));
    for (p = 0; p < nparts; p++)
        rd_kafka_topic_partition_list_add(tp, r->topic, p);
    if (ctl_kafka_committed(admin, r->group, tp) != WB_OK)
        goto out;
    for (p = 0; p < nparts; p++)
        if (want[p] && ctl_kafka_watermarks(admin, r->topic, p, &lo[p], &hi[p]) != WB_OK)
            goto out;
    if ((o->mode == M_DATETIME || o->mode == M_DURATION) &&
        offsets_for_time(admin, r->topic, nparts, want, o->arg, hi, target) != WB_OK)
        goto out;
    for (p = 0; p < nparts; p++) {
        int64_t cur = tp->elems[p].offset >= 0 ? tp->elems[p].offset : -1;

        if (!want[p])
            continue;
        target[p] = target_of(o, p, cur, lo[p], hi[p], target[p]);
        if (target[p] < 0)
            goto out;
        r->rows[r->nrows].partition = p;
        r->rows[r->nrows].current = cur;
        r->rows[r->nrows++].target = target[p];
    }
    if (o->export && export_plan(o->export, r) != 0)
        goto out;
    if (ctl_kafka_group_state(admin, r->group, r->state, sizeof(r->state), &r->members) != WB_OK)
        goto out;
    if (o->execute && r->members != 0 && !o->force) {
        fprintf(stderr,
                "writebackctl replay: group %s is %s with %d active member(s); stop the workers "
                "first (or --force)\n",
                r->group, r->state, r->members);
        goto out;
    }
    if (o->execute && alter_offsets(admin, r->group, r->topic, r->rows, r->nrows) != WB_OK)
        goto out;
    rc = CTL_EXIT_OK;
out:
    rd_kafka_topic_partition_list_destroy(tp);
    free(target);
    free(hi);
    free(lo);
    free(want);
    return rc;
}

static int run(struct ctl *c, const void *opts, void *result, bool *render)
{
    struct replay_opts o = *(const struct replay_opts *)opts;
    struct replay_result *r = result;
    rd_kafka_t *admin = NULL, *reader = NULL;
    int nparts, rc = check(&o);

    r->members = -1;
    if (rc != CTL_EXIT_OK)
        return rc;
    rc = CTL_EXIT_FAIL;
    if (o.mode == M_DURATION)
        o.arg = wb_time_now_ms() - o.arg;
    r->topic = o.topic ? o.topic : wb_conf_get_str(c->conf, "topic.events");
    r->group = o.group ? o.group : wb_conf_get_str(c->conf, "worker.group_id");
    admin = ctl_kafka_new(c, RD_KAFKA_PRODUCER);
    if (!admin)
        goto out;
    nparts = ctl_kafka_partitions(admin, r->topic);
    if (nparts <= 0)
        goto out;
    if (o.gid) {
        reader = ctl_kafka_new(c, RD_KAFKA_CONSUMER);
        if (reader)
            rc = replay_group(c, admin, reader, nparts, &o, r);
    } else {
        rc = replay_offsets(admin, nparts, &o, r);
    }
    *render = rc == CTL_EXIT_OK;
out:
    wb_kafka_destroy(reader);
    wb_kafka_destroy(admin);
    return rc;
}

static cJSON *json(struct ctl *c, const void *opts, const void *result)
{
    const struct replay_opts *o = opts;
    const struct replay_result *r = result;
    cJSON *doc, *arr;
    size_t k;

    (void)c;
    if (!o->gid) {
        doc = plan_json(r->group, r->topic, r->rows, r->nrows);
        cJSON_AddBoolToObject(doc, "executed", o->execute);
        cJSON_AddStringToObject(doc, "groupState", r->state);
        cJSON_AddNumberToObject(doc, "members", r->members);
        return doc;
    }
    doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "groupId", r->key);
    cJSON_AddStringToObject(doc, "topic", r->topic);
    cJSON_AddNumberToObject(doc, "partition", r->part);
    cJSON_AddNumberToObject(doc, "from", (double)r->start);
    cJSON_AddNumberToObject(doc, "to", (double)r->hi);
    cJSON_AddBoolToObject(doc, "executed", o->execute);
    arr = cJSON_AddArrayToObject(doc, "events");
    for (k = 0; k < r->gs.n; k++) {
        cJSON *e = cJSON_CreateObject();

        cJSON_AddNumberToObject(e, "offset", (double)r->gs.ev[k].offset);
        cJSON_AddNumberToObject(e, "timestamp", (double)r->gs.ev[k].ts);
        cJSON_AddItemToArray(arr, e);
    }
    return doc;
}

static void text(struct ctl *c, const void *opts, const void *result)
{
    const struct replay_opts *o = opts;
    const struct replay_result *r = result;
    size_t k;

    (void)c;
    if (o->gid) {
        printf("%s %zu event(s) of group %s from %s [%d] offsets %lld..%lld%s\n",
               o->execute ? "re-produced" : "would re-produce", r->gs.n, r->key, r->topic,
               (int)r->part, (long long)r->start, (long long)r->hi,
               o->execute ? "" : " (dry run; add --execute)");
        for (k = 0; k < r->gs.n; k++)
            printf("  offset %lld\n", (long long)r->gs.ev[k].offset);
        return;
    }
    printf("%s offsets of group %s (%s, %d members) on %s:\n",
           o->execute ? "Moved" : "Plan (dry run; add --execute to apply) for", r->group, r->state,
           r->members, r->topic);
    printf("%-9s %12s    %12s %10s\n", "PARTITION", "CURRENT", "NEW", "CHANGE");
    for (k = 0; k < r->nrows; k++) {
        const struct plan_row *row = &r->rows[k];
        char cbuf[32];

        if (row->current >= 0)
            snprintf(cbuf, sizeof(cbuf), "%lld", (long long)row->current);
        else
            snprintf(cbuf, sizeof(cbuf), "-");
        printf("%-9d %12s -> %12lld %+10lld\n", (int)row->partition, cbuf, (long long)row->target,
               (long long)(row->target - (row->current >= 0 ? row->current : 0)));
    }
}

static void result_free(void *result)
{
    struct replay_result *r = result;
    size_t k;

    for (k = 0; k < r->gs.n; k++) {
        free(r->gs.ev[k].value);
        if (r->gs.ev[k].hdrs)
            rd_kafka_headers_destroy(r->gs.ev[k].hdrs);
    }
    free(r->gs.ev);
    free(r->rows);
}

const struct ctl_cmd ctl_replay_cmd = {
    .name = "replay",
    .summary = "rewind the workers' offsets, or re-apply one group's events",
    .kafka = true,
    .usage = usage,
    .opt = options,
    .opts_size = sizeof(struct replay_opts),
    .defaults = &defaults,
    .choice_what = "give exactly one position option",
    .result_size = sizeof(struct replay_result),
    .run = run,
    .text = text,
    .json = json,
    .free = result_free,
};
