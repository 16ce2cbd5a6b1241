/*
 * replay: rewinds (or forwards) the workers' committed offsets per topic and partition, as
 * kafka-consumer-groups --reset-offsets does: dry run by default, --execute to apply through
 * the admin API, refused while the group has members unless --force; plans can be exported
 * for review and applied from the file. replay --group-id re-produces one Entra group's
 * events from a point in time instead, leaving every offset alone. This file holds the
 * command's options, checks and renderers; the two modes are in ctl_replay_offsets.c and
 * ctl_replay_group.c.
 */
#include "ctl_kafka.h"
#include "ctl_replay_int.h"
#include "wb_kafka.h"
#include "wb_time.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

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
            rc = ctl_replay_group(c, admin, reader, nparts, &o, r);
    } else {
        rc = ctl_replay_offsets(admin, nparts, &o, r);
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
        doc = ctl_replay_plan_json(r->group, r->topic, r->rows, r->nrows);
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
