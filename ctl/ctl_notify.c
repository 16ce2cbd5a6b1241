/*
 * notifications: writebackctl's view of Graph change notifications (docs/notifications.md).
 * status prints the record the producer keeps under <tenant>/notify in topic.state (its
 * subscription, the last notification, notifications and the rounds they started);
 * unsubscribe deletes the subscription(s) with this configuration's notificationUrl from Graph.
 */
#include "ctl.h"
#include "wb_mem.h"
#include "wb_state.h"
#include "wb_subscr.h"
#include "wb_time.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *fp)
{
    fputs("usage: writebackctl notifications status [--json]\n"
          "       writebackctl notifications unsubscribe [--json]\n"
          "\n"
          "With notify.enabled the producer keeps a Microsoft Graph subscription that sends\n"
          "change notifications for groups to an Azure Event Hub, and starts a delta round when\n"
          "one arrives (docs/notifications.md).\n"
          "\n"
          "status        the producer's last report from topic.state (<tenant>/notify):\n"
          "              subscription id and expiry, last accepted notification, notifications\n"
          "              accepted / forged / dropped / lifecycle, rounds by trigger, and how old\n"
          "              the report is (the producer writes it within 5 s of a change).\n"
          "unsubscribe   deletes from Graph every subscription of the app whose notificationUrl\n"
          "              is this configuration's (notify.namespace, notify.hub, graph.tenant_id).\n"
          "              Set notify.enabled=false or stop the producer first: a running producer\n"
          "              creates a new one at its next check (notify.check_interval_ms).\n"
          "\n"
          "Exit: 0 done, 1 failure (no status yet, Graph or broker unreachable), 2 usage error.\n",
          fp);
}

enum { N_STATUS, N_UNSUBSCRIBE };

static const char *const verbs[] = {"status", "unsubscribe", NULL};

struct notify_opts {
    int verb;
};

static const struct ctl_opt options[] = {{.name = NULL}};

struct notify_result {
    cJSON *status; /* the producer's record */
    char **ids;    /* unsubscribe: deleted subscription ids */
    size_t nids;
    char url[512];
};

static int status_run(struct ctl *c, struct notify_result *r)
{
    char errstr[512];
    const char *topic = wb_conf_get_str(c->conf, "topic.state");
    wb_state_t *st = NULL;
    const char *v;
    size_t len = 0;
    int rc = CTL_EXIT_FAIL;

    st = wb_state_new(wb_conf_kafka_kv(c->conf), topic, wb_conf_get_str(c->conf, "tenant"), errstr,
                      sizeof(errstr));
    if (!st) {
        fprintf(stderr, "writebackctl notifications: %s\n", errstr);
        goto out;
    }
    if (wb_state_poll(st, 60000) != WB_OK) {
        fprintf(stderr, "writebackctl notifications: could not read %s to its end\n", topic);
        goto out;
    }
    v = wb_state_notify(st, &len);
    r->status = v ? cJSON_ParseWithLength(v, len) : NULL;
    if (!cJSON_IsObject(r->status)) {
        fprintf(stderr,
                "writebackctl notifications: no notification status under %s/%s in %s: the "
                "producer has not run with notify.enabled=true (or another tenant name)\n",
                wb_conf_get_str(c->conf, "tenant"), WB_STATE_NOTIFY, topic);
        goto out;
    }
    rc = CTL_EXIT_OK;
out:
    wb_state_destroy(st);
    return rc;
}

static int unsubscribe_run(struct ctl *c, struct notify_result *r)
{
    char errstr[512];
    wb_subscr_t *s = wb_subscr_new(c->conf, NULL, NULL, errstr, sizeof(errstr));
    int rc = CTL_EXIT_FAIL;

    if (!s) {
        fprintf(stderr, "writebackctl notifications: %s\n", errstr);
        goto out;
    }
    snprintf(r->url, sizeof(r->url), "%s", wb_subscr_url(s));
    if (wb_subscr_delete_all(s, &r->ids, &r->nids) != WB_OK) {
        fprintf(stderr,
                "writebackctl notifications: Graph refused or failed (%zu deleted "
                "before); see the GRAPH line above\n",
                r->nids);
        goto out;
    }
    rc = CTL_EXIT_OK;
out:
    wb_subscr_destroy(s);
    return rc;
}

static int run(struct ctl *c, const void *opts, void *result, bool *render)
{
    const struct notify_opts *o = opts;
    int rc = o->verb == N_STATUS ? status_run(c, result) : unsubscribe_run(c, result);

    *render = rc == CTL_EXIT_OK;
    return rc;
}

static const char *str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsString(v) && *v->valuestring ? v->valuestring : "-";
}

static double num(const cJSON *o, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);

    if (b)
        v = cJSON_GetObjectItemCaseSensitive(v, b);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void text(struct ctl *c, const void *opts, const void *result)
{
    const struct notify_opts *o = opts;
    const struct notify_result *r = result;
    const cJSON *s = r->status;
    size_t i;

    (void)c;
    if (o->verb == N_UNSUBSCRIBE) {
        for (i = 0; i < r->nids; i++)
            printf("deleted subscription %s\n", r->ids[i]);
        printf("%zu subscription(s) with notificationUrl %s deleted\n", r->nids, r->url);
        return;
    }
    printf("subscription      %s\n", str(s, "subscriptionId"));
    printf("expires           %s\n", str(s, "expirationDateTime"));
    printf("last notification %s\n", str(s, "lastNotification"));
    printf("notifications     %.0f accepted, %.0f forged, %.0f dropped, %.0f lifecycle\n",
           num(s, "notifications", "accepted"), num(s, "notifications", "forged"),
           num(s, "notifications", "dropped"), num(s, "notifications", "lifecycle"));
    printf("rounds            %.0f by notification, %.0f by lifecycle event, %.0f by poll\n",
           num(s, "rounds", "notification"), num(s, "rounds", "lifecycle"),
           num(s, "rounds", "poll"));
    if (strcmp(str(s, "upkeepError"), "-") != 0)
        printf("upkeep error      %s (see the producer's NOTIFY log lines)\n",
               str(s, "upkeepError"));
    printf("reported          %.0f s ago\n",
           ((double)wb_time_now_ms() - num(s, "updatedMs", NULL)) / 1000.0);
}

static cJSON *json(struct ctl *c, const void *opts, const void *result)
{
    const struct notify_opts *o = opts;
    const struct notify_result *r = result;
    cJSON *doc, *a;
    size_t i;

    (void)c;
    if (o->verb == N_STATUS)
        return cJSON_Duplicate(r->status, 1);
    doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "notificationUrl", r->url);
    a = cJSON_AddArrayToObject(doc, "deleted");
    for (i = 0; i < r->nids; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(r->ids[i]));
    return doc;
}

static void result_free(void *result)
{
    struct notify_result *r = result;
    size_t i;

    cJSON_Delete(r->status);
    for (i = 0; i < r->nids; i++)
        free(r->ids[i]);
    free(r->ids);
}

const struct ctl_cmd ctl_notifications_cmd = {
    .name = "notifications",
    .summary = "Graph change notifications: status, unsubscribe",
    .kafka = false,
    .usage = usage,
    .verbs = verbs,
    .opt = options,
    .opts_size = sizeof(struct notify_opts),
    .verb_off = offsetof(struct notify_opts, verb),
    .result_size = sizeof(struct notify_result),
    .run = run,
    .text = text,
    .json = json,
    .free = result_free,
};
