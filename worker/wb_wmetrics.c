/*
 * wb_wmetrics: worker metric families (see wb_wmetrics.h). Lag comes from librdkafka's
 * statistics callback (statistics.interval.ms), which the main thread serves while polling.
 */
#include "wb_wmetrics.h"

#include <cjson/cJSON.h>
#include <string.h>

void wb_wmetrics_init(struct wb_wmetrics *wm, wb_metrics_t *reg)
{
    static const char *const ev_l[] = {"type", "outcome"};
    static const char *const op_l[] = {"op", "result"};
    static const char *const reason_l[] = {"reason"};
    static const char *const error_l[] = {"error"};
    static const char *const cg_l[] = {"consumergroup", "topic", "partition"};
    static const char *const part_l[] = {"partition"};
    static const char *const opname_l[] = {"op"};
    static const char *const type_l[] = {"type"};
    static const char *const dir_l[] = {"direction"};
    static const double bounds[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900};
    static const double op_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                       0.1,   0.25,   0.5,   1,    2.5,   10};

    memset(wm, 0, sizeof(*wm));
    wm->events = wb_metrics_counter(reg, "writeback_worker_events_total",
                                    "Events handled, by type and outcome.", 2, ev_l);
    wm->ldap_ops = wb_metrics_counter(reg, "writeback_worker_ldap_operations_total",
                                      "LDAP operations, by type and result.", 2, op_l);
    wm->ldap_writes = wb_metrics_counter(reg, "writeback_worker_ldap_writes_total",
                                         "LDAP add/modify/modrdn/delete requests sent.", 0, NULL);
    wm->ldap_time =
        wb_metrics_histogram(reg, "writeback_worker_ldap_operation_seconds",
                             "Seconds from sending an LDAP operation to its result, by type.", 1,
                             opname_l, sizeof(op_bounds) / sizeof(op_bounds[0]), op_bounds);
    wm->dead_letters = wb_metrics_counter(reg, "writeback_worker_dead_letters_total",
                                          "Events dead-lettered, by reason.", 1, reason_l);
    wm->dlq_bounded = wb_metrics_counter(
        reg, "writeback_worker_dead_letters_truncated_total",
        "Dead letters sent truncated because the whole record was refused, by Kafka error.", 1,
        error_l);
    wm->dlq_failures = wb_metrics_counter(
        reg, "writeback_worker_dead_letter_failures_total",
        "Dead letters not accepted by Kafka, by error; each one stalls its partition until a retry "
        "succeeds.",
        1, error_l);
    wm->skipped = wb_metrics_counter(reg, "writeback_worker_members_skipped_total",
                                     "Member references skipped, by reason.", 1, reason_l);
    wm->latency = wb_metrics_histogram(reg, "writeback_worker_apply_latency_seconds",
                                       "Seconds from event time to applied in AD.", 0, NULL,
                                       sizeof(bounds) / sizeof(bounds[0]), bounds);
    wm->cg_lag =
        wb_metrics_gauge(reg, "kafka_consumergroup_lag",
                         "Consumer lag in messages (Burrow/kafka-exporter name).", 3, cg_l);
    wm->lag = wb_metrics_gauge(reg, "writeback_worker_lag_messages",
                               "Consumer lag in messages per assigned partition.", 1, part_l);
    wm->rebalances = wb_metrics_counter(
        reg, "writeback_worker_rebalances_total",
        "Consumer group rebalances this worker took part in, by callback type (assign, revoke).", 1,
        type_l);
    wm->moved = wb_metrics_counter(reg, "writeback_worker_partitions_moved_total",
                                   "Partitions assigned to or taken from this worker, by "
                                   "direction (assigned, revoked, lost).",
                                   1, dir_l);
    wm->assigned = wb_metrics_gauge(reg, "writeback_worker_assigned_partitions",
                                    "Partitions of topic.events assigned to this worker.", 0, NULL);
}

void wb_wmetrics_rebalance(struct wb_wmetrics *wm, bool assign, bool lost, int n)
{
    const char *tl[1] = {assign ? "assign" : "revoke"};
    const char *dl[1] = {assign ? "assigned" : lost ? "lost" : "revoked"};

    if (!wm)
        return;
    wb_metrics_inc(wm->rebalances, tl, 1);
    if (n > 0)
        wb_metrics_inc(wm->moved, dl, n);
}

void wb_wmetrics_assigned(struct wb_wmetrics *wm, int n)
{
    if (wm)
        wb_metrics_set(wm->assigned, NULL, n);
}

void wb_wmetrics_ldap(struct wb_wmetrics *wm, const char *op, bool ok, bool sent)
{
    const char *lv[2] = {op, ok ? "ok" : "error"};

    if (!wm)
        return;
    wb_metrics_inc(wm->ldap_ops, lv, 1);
    if (sent && strcmp(op, "search") != 0)
        wb_metrics_inc(wm->ldap_writes, NULL, 1);
}

void wb_wmetrics_ldap_time(struct wb_wmetrics *wm, const char *op, double seconds)
{
    const char *lv[1] = {op};

    if (wm)
        wb_metrics_observe(wm->ldap_time, lv, seconds < 0 ? 0 : seconds);
}

void wb_wmetrics_ldap_hook(const char *op, int rc, int sent, double seconds, void *wm)
{
    wb_wmetrics_ldap(wm, op, rc == 0, sent);
    if (sent)
        wb_wmetrics_ldap_time(wm, op, seconds);
}

void wb_wmetrics_event(struct wb_wmetrics *wm, const char *type, const char *outcome)
{
    const char *lv[2] = {type ? type : "unknown", outcome};

    if (wm)
        wb_metrics_inc(wm->events, lv, 1);
}

void wb_wmetrics_dead_letter(struct wb_wmetrics *wm, const char *reason)
{
    const char *lv[1] = {reason};

    if (wm)
        wb_metrics_inc(wm->dead_letters, lv, 1);
}

void wb_wmetrics_dlq_bounded(struct wb_wmetrics *wm, const char *error)
{
    const char *lv[1] = {error};

    if (wm)
        wb_metrics_inc(wm->dlq_bounded, lv, 1);
}

void wb_wmetrics_dlq_failure(struct wb_wmetrics *wm, const char *error)
{
    const char *lv[1] = {error};

    if (wm)
        wb_metrics_inc(wm->dlq_failures, lv, 1);
}

void wb_wmetrics_latency(struct wb_wmetrics *wm, double seconds)
{
    if (wm)
        wb_metrics_observe(wm->latency, NULL, seconds < 0 ? 0 : seconds);
}

int wb_wmetrics_stats(struct wb_wmetrics *wm, const char *json, size_t len, const char *group,
                      const char *topic)
{
    cJSON *root = cJSON_ParseWithLength(json, len);
    cJSON *parts, *p;
    int n = 0;

    if (!root)
        return -1;
    parts = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "topics"), topic),
        "partitions");
    cJSON_ArrayForEach(p, parts)
    {
        cJSON *lag = cJSON_GetObjectItemCaseSensitive(p, "consumer_lag");
        cJSON *desired = cJSON_GetObjectItemCaseSensitive(p, "desired");
        const char *cg[3] = {group, topic, p->string};
        const char *pl[1] = {p->string};

        if (!p->string || strcmp(p->string, "-1") == 0)
            continue;
        if (cJSON_IsBool(desired) && !cJSON_IsTrue(desired)) {
            /* no longer assigned (revoked or lost): librdkafka still reports it; drop its
             * series so that no stale lag remains */
            if (wm) {
                wb_metrics_remove(wm->cg_lag, cg);
                wb_metrics_remove(wm->lag, pl);
            }
            continue;
        }
        if (!cJSON_IsNumber(lag) || lag->valuedouble < 0)
            continue;
        if (wm) {
            wb_metrics_set(wm->cg_lag, cg, lag->valuedouble);
            wb_metrics_set(wm->lag, pl, lag->valuedouble);
        }
        n++;
    }
    cJSON_Delete(root);
    return n;
}
