/*
 * drift: writebackctl's break-glass for the workers' drift repair (docs/drift.md). pause and
 * resume store a <tenant>/drift-pause/<group id> record in topic.state (wb_command.h), which
 * the workers read before they repair; list shows the pauses running now.
 */
#include "ctl.h"
#include "wb_command.h"
#include "wb_idmap.h"
#include "wb_mem.h"
#include "wb_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *fp)
{
    fputs("usage: writebackctl drift pause --group OBJECTID --for DURATION\n"
          "       writebackctl drift resume --group OBJECTID\n"
          "       writebackctl drift list [--json]\n"
          "\n"
          "Break-glass for drift.mode=repair. pause stops the workers from writing back\n"
          "changes made in AD to one group for DURATION (\"2h\", \"30m\", \"PT1H\"), so that an\n"
          "emergency change made by hand is not reverted; the changes are still reported\n"
          "(DRIFT lines with action=paused, writeback_worker_drift_total) and become the\n"
          "group's baseline. resume ends a pause early; list shows the pauses running now.\n"
          "Stored in topic.state under <tenant>/drift-pause/<group id>.\n"
          "\n"
          "Exit: 0 done, 1 failure (broker down), 2 usage error.\n",
          fp);
}

static void fmt_time(int64_t ms, char *out, size_t outsz)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    if (!gmtime_r(&t, &tm) || !strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, outsz, "%lld", (long long)ms);
}

static int put_pause(struct ctl *c, const char *group, int64_t until)
{
    struct wb_idkey k;
    char id[37], *suffix, *val;
    wb_err_t e;

    if (!wb_idkey_parse(group, &k))
        return ctl_usage_error("drift", "--group %s is not an object id (GUID)", group);
    wb_idkey_format(&k, id);
    suffix = wb_asprintf("%s%s", WB_COMMAND_PAUSE_PREFIX, id);
    val = wb_command_encode_pause(until);
    e = ctl_state_put(c, suffix, val);
    free(suffix);
    free(val);
    if (e != WB_OK)
        return CTL_EXIT_FAIL;
    if (c->json) {
        cJSON *doc = cJSON_CreateObject();
        char when[32];

        fmt_time(until, when, sizeof(when));
        cJSON_AddStringToObject(doc, "group", id);
        cJSON_AddStringToObject(doc, "pausedUntil", until ? when : "");
        ctl_print_json(doc);
    } else if (until) {
        char when[32];

        fmt_time(until, when, sizeof(when));
        printf("drift repair of group %s paused until %s\n", id, when);
    } else {
        printf("drift repair of group %s resumed\n", id);
    }
    return CTL_EXIT_OK;
}

struct listing {
    int64_t now;
    cJSON *arr;
    size_t n;
};

static void list_cb(const char *group, int64_t until, void *opaque)
{
    struct listing *l = opaque;
    char when[32];

    if (until <= l->now)
        return;
    fmt_time(until, when, sizeof(when));
    l->n++;
    if (l->arr) {
        cJSON *o = cJSON_CreateObject();

        cJSON_AddStringToObject(o, "group", group);
        cJSON_AddStringToObject(o, "pausedUntil", when);
        cJSON_AddNumberToObject(o, "remainingSeconds", (double)((until - l->now) / 1000));
        cJSON_AddItemToArray(l->arr, o);
    } else {
        printf("%-36s  %-20s  %llds\n", group, when, (long long)((until - l->now) / 1000));
    }
}

static int list(struct ctl *c)
{
    char errstr[512];
    struct listing l = {ctl_now_ms(), NULL, 0};
    wb_state_t *st =
        wb_state_new(wb_conf_kafka_kv(c->conf), wb_conf_get_str(c->conf, "topic.state"),
                     wb_conf_get_str(c->conf, "tenant"), errstr, sizeof(errstr));

    if (!st) {
        fprintf(stderr, "writebackctl drift list: %s\n", errstr);
        return CTL_EXIT_FAIL;
    }
    wb_state_pauses_only(st);
    if (wb_state_poll(st, CTL_TIMEOUT_MS) != WB_OK) {
        fprintf(stderr, "writebackctl drift list: topic.state not read to its end\n");
        wb_state_destroy(st);
        return CTL_EXIT_FAIL;
    }
    if (c->json) {
        cJSON *doc = cJSON_CreateObject();

        l.arr = cJSON_AddArrayToObject(doc, "pauses");
        wb_state_pauses(st, list_cb, &l);
        ctl_print_json(doc);
    } else {
        printf("%-36s  %-20s  %s\n", "GROUP", "PAUSED UNTIL", "REMAINING");
        wb_state_pauses(st, list_cb, &l);
        if (l.n == 0)
            printf("no drift pauses running\n");
    }
    wb_state_destroy(st);
    return CTL_EXIT_OK;
}

int ctl_drift(struct ctl *c, int argc, char **argv)
{
    const char *group = NULL, *dur = NULL;
    int64_t ms = -1;
    int i;

    if (ctl_wants_help(argc, argv) || argc < 2) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CTL_EXIT_USAGE : CTL_EXIT_OK;
    }
    for (i = 2; i < argc; i++) {
        const char *v;

        /* ctl_opt clears v when the name does not match: one variable per call */
        if (ctl_opt(argc, argv, &i, "--group", &v))
            group = v;
        else if (ctl_opt(argc, argv, &i, "--for", &v))
            dur = v;
        else
            return ctl_usage_error("drift", "unexpected argument %s", argv[i]);
    }
    if (strcmp(argv[1], "list") == 0)
        return list(c);
    if (strcmp(argv[1], "pause") != 0 && strcmp(argv[1], "resume") != 0)
        return ctl_usage_error("drift", "unknown action %s (pause, resume, list)", argv[1]);
    if (!group)
        return ctl_usage_error("drift", "%s needs --group OBJECTID", argv[1]);
    if (strcmp(argv[1], "resume") == 0)
        return put_pause(c, group, 0);
    if (dur)
        ms = ctl_parse_duration(dur);
    if (ms <= 0)
        return ctl_usage_error("drift", "pause needs --for DURATION (e.g. 2h), not %s",
                               dur ? dur : "nothing");
    return put_pause(c, group, ctl_now_ms() + ms);
}
