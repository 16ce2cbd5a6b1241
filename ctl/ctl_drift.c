/*
 * drift: writebackctl's break-glass for the workers' drift repair (docs/drift.md). pause and
 * resume store a <tenant>/drift-pause/<group id> record in topic.state (wb_command.h), which
 * the workers read before they repair; list shows the pauses running now. report
 * (ctl_drift_report.c) compares the owned groups in AD with Entra now; records
 * (ctl_drift_records.c) lists the workers' drift records of drift.topic.
 */
#include "ctl_drift.h"
#include "ctl.h"
#include "ctl_kafka.h"
#include "wb_command.h"
#include "wb_idmap.h"
#include "wb_kafka.h"
#include "wb_mem.h"
#include "wb_state.h"
#include "wb_time.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *fp)
{
    fputs("usage: writebackctl drift pause --group OBJECTID --for DURATION\n"
          "       writebackctl drift resume --group OBJECTID\n"
          "       writebackctl drift list [--json]\n"
          "       writebackctl drift report [--group OBJECTID] [--json]\n"
          "       writebackctl drift records [--group OBJECTID] [--json]\n"
          "\n"
          "Break-glass for drift.mode=repair. pause stops the workers from writing back\n"
          "changes made in AD to one group for DURATION (\"2h\", \"30m\", \"PT1H\"), so that an\n"
          "emergency change made by hand is not reverted; the changes are still reported\n"
          "(DRIFT lines with action=paused, writeback_worker_drift_total) and become the\n"
          "group's baseline. resume ends a pause early; list shows the pauses running now.\n"
          "Stored in topic.state under <tenant>/drift-pause/<group id>.\n"
          "\n"
          "report compares every group writeback owns in AD (anchored under ldap.target_ou,\n"
          "moved elsewhere, or deleted: a tombstone) - or --group alone - with Entra now: each\n"
          "group is read from Graph as provision reads it and planned against AD with the\n"
          "worker's dry-run apply; it prints what differs (members to add or remove,\n"
          "attributes, DN/OU, missing in AD, in AD but no longer in Entra or in scope) and\n"
          "marks paused groups. Read-only: nothing is written to AD or Kafka. Needs the\n"
          "graph.*, scope.* and ldap.* keys of provision.\n"
          "records lists the workers' drift records in drift.topic (one JSON record per\n"
          "DRIFT line, keyed by the group id).\n"
          "\n"
          "Exit: 0 done (report: no difference), 1 failure (broker down; report: differences\n"
          "found), 2 usage or configuration error, 3 report: something could not be read\n"
          "(Graph, AD or topic.state; the rest is still reported).\n",
          fp);
}

enum { V_PAUSE, V_RESUME, V_LIST, V_REPORT, V_RECORDS };

static const char *const verbs[] = {"pause", "resume", "list", "report", "records", NULL};

struct drift_opts {
    int verb;
    const char *group;
    int64_t dur_ms; /* --for; -1: not given */
};

static const struct drift_opts defaults = {0, NULL, -1};

static const struct ctl_opt options[] = {
    CTL_OPT("--group", CTL_OPT_STR, struct drift_opts, group),
    CTL_OPT("--for", CTL_OPT_DURATION, struct drift_opts, dur_ms),
    {.name = NULL},
};

struct pause {
    char group[37];
    int64_t until;
};

struct drift_result {
    int64_t now;
    /* pause, resume */
    char id[37];
    int64_t until; /* 0: resumed */
    /* list: the pauses running now */
    struct pause *v;
    size_t n;
    struct ctl_drift_report rep;   /* report */
    struct ctl_drift_records recs; /* records */
};

static void fmt_time(int64_t ms, char *out, size_t outsz)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    if (!gmtime_r(&t, &tm) || !strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, outsz, "%lld", (long long)ms);
}

static int put_pause(struct ctl *c, struct drift_result *r)
{
    struct wb_kafka_delivery dr = {0};
    char *suffix = wb_asprintf("%s%s", WB_COMMAND_PAUSE_PREFIX, r->id);
    char *val = wb_command_encode_pause(r->until), *key = NULL;
    wb_err_t e = ctl_state_put(c, suffix, val, &key, &dr);

    free(suffix);
    free(val);
    free(key);
    return e == WB_OK ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}

static void list_cb(const char *group, int64_t until, void *opaque)
{
    struct drift_result *r = opaque;

    if (until <= r->now)
        return;
    r->v = wb_realloc(r->v, (r->n + 1) * sizeof(*r->v));
    snprintf(r->v[r->n].group, sizeof(r->v[r->n].group), "%s", group);
    r->v[r->n++].until = until;
}

int ctl_drift_pauses(struct ctl *c, const char *verb, wb_state_pause_cb cb, void *opaque)
{
    char errstr[512];
    wb_state_t *st =
        wb_state_new(wb_conf_kafka_kv(c->conf), wb_conf_get_str(c->conf, "topic.state"),
                     wb_conf_get_str(c->conf, "tenant"), errstr, sizeof(errstr));

    if (!st) {
        fprintf(stderr, "writebackctl drift %s: drift pauses unknown: %s\n", verb, errstr);
        return CTL_EXIT_FAIL;
    }
    wb_state_pauses_only(st);
    if (wb_state_poll(st, CTL_TIMEOUT_MS) != WB_OK) {
        fprintf(stderr, "writebackctl drift %s: topic.state not read to its end\n", verb);
        wb_state_destroy(st);
        return CTL_EXIT_FAIL;
    }
    wb_state_pauses(st, cb, opaque);
    wb_state_destroy(st);
    return CTL_EXIT_OK;
}

static int run(struct ctl *c, const void *opts, void *result, bool *render)
{
    const struct drift_opts *o = opts;
    struct drift_result *r = result;
    struct wb_idkey k;
    int rc;

    r->now = wb_time_now_ms();
    if (o->group && !wb_idkey_parse(o->group, &k))
        return ctl_usage_error("drift", "--group %s is not an object id (GUID)", o->group);
    if (o->group)
        wb_idkey_format(&k, r->id);
    if (o->verb == V_REPORT || o->verb == V_RECORDS) {
        if (o->dur_ms >= 0)
            return ctl_usage_error("drift", "%s takes no --for", verbs[o->verb]);
        rc = o->verb == V_REPORT ? ctl_drift_report(c, o->group ? r->id : NULL, &r->rep)
                                 : ctl_drift_records(c, o->group ? r->id : NULL, &r->recs);
        *render = o->verb == V_REPORT ? rc != CTL_EXIT_USAGE : rc == CTL_EXIT_OK;
        return rc;
    }
    if (o->verb == V_LIST) {
        rc = ctl_drift_pauses(c, "list", list_cb, r);
        *render = rc == CTL_EXIT_OK;
        return rc;
    }
    if (!o->group)
        return ctl_usage_error("drift", "%s needs --group OBJECTID", verbs[o->verb]);
    if (o->verb == V_PAUSE && o->dur_ms <= 0)
        return ctl_usage_error("drift", "pause needs --for DURATION (e.g. 2h)%s", "");
    if (o->verb == V_RESUME && o->dur_ms >= 0)
        return ctl_usage_error("drift", "resume takes no --for%s", "");
    r->until = o->verb == V_PAUSE ? r->now + o->dur_ms : 0;
    rc = put_pause(c, r);
    *render = rc == CTL_EXIT_OK;
    return rc;
}

static void text(struct ctl *c, const void *opts, const void *result)
{
    const struct drift_opts *o = opts;
    const struct drift_result *r = result;
    char when[32];
    size_t i;

    (void)c;
    if (o->verb == V_REPORT) {
        ctl_drift_report_text(&r->rep);
        return;
    }
    if (o->verb == V_RECORDS) {
        ctl_drift_records_text(&r->recs);
        return;
    }
    if (o->verb != V_LIST) {
        fmt_time(r->until, when, sizeof(when));
        if (r->until)
            printf("drift repair of group %s paused until %s\n", r->id, when);
        else
            printf("drift repair of group %s resumed\n", r->id);
        return;
    }
    printf("%-36s  %-20s  %s\n", "GROUP", "PAUSED UNTIL", "REMAINING");
    for (i = 0; i < r->n; i++) {
        fmt_time(r->v[i].until, when, sizeof(when));
        printf("%-36s  %-20s  %llds\n", r->v[i].group, when,
               (long long)((r->v[i].until - r->now) / 1000));
    }
    if (r->n == 0)
        printf("no drift pauses running\n");
}

static cJSON *json(struct ctl *c, const void *opts, const void *result)
{
    const struct drift_opts *o = opts;
    const struct drift_result *r = result;
    cJSON *doc = cJSON_CreateObject(), *arr;
    char when[32];
    size_t i;

    (void)c;
    if (o->verb == V_REPORT) {
        cJSON_Delete(doc);
        return ctl_drift_report_json(&r->rep);
    }
    if (o->verb == V_RECORDS) {
        cJSON_AddStringToObject(doc, "topic", r->recs.topic);
        cJSON_AddItemReferenceToObject(doc, "records", r->recs.list);
        return doc;
    }
    if (o->verb != V_LIST) {
        fmt_time(r->until, when, sizeof(when));
        cJSON_AddStringToObject(doc, "group", r->id);
        cJSON_AddStringToObject(doc, "pausedUntil", r->until ? when : "");
        return doc;
    }
    arr = cJSON_AddArrayToObject(doc, "pauses");
    for (i = 0; i < r->n; i++) {
        cJSON *p = cJSON_CreateObject();

        fmt_time(r->v[i].until, when, sizeof(when));
        cJSON_AddStringToObject(p, "group", r->v[i].group);
        cJSON_AddStringToObject(p, "pausedUntil", when);
        cJSON_AddNumberToObject(p, "remainingSeconds", (double)((r->v[i].until - r->now) / 1000));
        cJSON_AddItemToArray(arr, p);
    }
    return doc;
}

static void result_free(void *result)
{
    struct drift_result *r = result;

    free(r->v);
    ctl_drift_report_free(&r->rep);
    cJSON_Delete(r->recs.list);
}

const struct ctl_cmd ctl_drift_cmd = {
    .name = "drift",
    .summary = "drift: report (AD against Entra now), records, break-glass pause/resume/list",
    .kafka = true,
    .usage = usage,
    .verbs = verbs,
    .opt = options,
    .opts_size = sizeof(struct drift_opts),
    .defaults = &defaults,
    .verb_off = offsetof(struct drift_opts, verb),
    .result_size = sizeof(struct drift_result),
    .run = run,
    .text = text,
    .json = json,
    .free = result_free,
};
