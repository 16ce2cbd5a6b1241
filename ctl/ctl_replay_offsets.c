/*
 * replay_offsets: the offsets mode of writebackctl replay: the plan (current -> new offset per
 * partition, from a position or a reviewed plan file), its export, and moving the consumer
 * group's committed offsets through the admin API.
 */
#include "ctl_kafka.h"
#include "ctl_replay_int.h"
#include "wb_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

cJSON *ctl_replay_plan_json(const char *group, const char *topic, const struct plan_row *rows,
                            size_t n)
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

wb_err_t ctl_replay_offsets_for_time(rd_kafka_t *rk, const char *topic, int nparts,
                                     const bool *want, int64_t ts, const int64_t *hi, int64_t *out)
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
    cJSON *doc = ctl_replay_plan_json(r->group, r->topic, r->rows, r->nrows);
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
int ctl_replay_offsets(rd_kafka_t *admin, int nparts, const struct replay_opts *o,
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
        ctl_replay_offsets_for_time(admin, r->topic, nparts, want, o->arg, hi, target) != WB_OK)
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
