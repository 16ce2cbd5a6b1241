/*
 * wb_wmetrics: the worker's metric families (names are a contract with the end-to-end tests
 * and dashboards) and the parser that turns librdkafka statistics into per-partition lag.
 * Every helper accepts a NULL struct and then does nothing, so tests may run without metrics.
 */
#ifndef WB_WMETRICS_H
#define WB_WMETRICS_H

#include "wb_metrics.h"

#include <stdbool.h>
#include <stddef.h>

struct wb_wmetrics {
    wb_metric_t *events;       /* writeback_worker_events_total{type,outcome} */
    wb_metric_t *ldap_ops;     /* writeback_worker_ldap_operations_total{op,result} */
    wb_metric_t *ldap_writes;  /* writeback_worker_ldap_writes_total */
    wb_metric_t *ldap_time;    /* writeback_worker_ldap_operation_seconds{op} */
    wb_metric_t *dead_letters; /* writeback_worker_dead_letters_total{reason} */
    wb_metric_t *dlq_bounded;  /* writeback_worker_dead_letters_truncated_total{error} */
    wb_metric_t *dlq_failures; /* writeback_worker_dead_letter_failures_total{error} */
    wb_metric_t *skipped;      /* writeback_worker_members_skipped_total{reason}: counted by
                                * the apply path (wb_apply_new) */
    wb_metric_t *latency;      /* writeback_worker_apply_latency_seconds */
    wb_metric_t *cg_lag;       /* kafka_consumergroup_lag{consumergroup,topic,partition} */
    wb_metric_t *lag;          /* writeback_worker_lag_messages{partition} */
    wb_metric_t *rebalances;   /* writeback_worker_rebalances_total{type} */
    wb_metric_t *moved;        /* writeback_worker_partitions_moved_total{direction} */
    wb_metric_t *assigned;     /* writeback_worker_assigned_partitions */
};

/* Registers the families in reg (borrowed; must outlive wm). */
void wb_wmetrics_init(struct wb_wmetrics *wm, wb_metrics_t *reg);

/* One LDAP operation (op: search, add, modify, modrdn, delete): counts the operation and,
 * for a write that was sent to the server (sent), ldap_writes. */
void wb_wmetrics_ldap(struct wb_wmetrics *wm, const char *op, bool ok, bool sent);
/* Seconds one LDAP operation sent to the server took, request to result. */
void wb_wmetrics_ldap_time(struct wb_wmetrics *wm, const char *op, double seconds);
/* wb_ldap's op hook (wb_ldap_set_op_hook with opaque = wm): counts every operation, times
 * those sent (rc 0 is success). */
void wb_wmetrics_ldap_hook(const char *op, int rc, int sent, double seconds, void *wm);
/* One event with its outcome (applied, dead_lettered, skipped). type may be NULL (undecodable:
 * "unknown"). */
void wb_wmetrics_event(struct wb_wmetrics *wm, const char *type, const char *outcome);
void wb_wmetrics_dead_letter(struct wb_wmetrics *wm, const char *reason);
/* A dead letter sent truncated after Kafka refused the whole record with error (a name such
 * as MSG_SIZE_TOO_LARGE). */
void wb_wmetrics_dlq_bounded(struct wb_wmetrics *wm, const char *error);
/* A dead letter Kafka did not accept: its partition stalls until a retry succeeds. */
void wb_wmetrics_dlq_failure(struct wb_wmetrics *wm, const char *error);
/* Seconds from event time to applied. */
void wb_wmetrics_latency(struct wb_wmetrics *wm, double seconds);

/* One rebalance callback: an assignment (also one that moves nothing, as cooperative rounds
 * call back with an empty list) or a revocation (lost: the session had expired), of n
 * partitions. */
void wb_wmetrics_rebalance(struct wb_wmetrics *wm, bool assign, bool lost, int n);
/* Partitions assigned to this worker now. */
void wb_wmetrics_assigned(struct wb_wmetrics *wm, int n);

/* Reads consumer_lag of every partition of topic from a librdkafka statistics JSON document
 * (json[0..len)) and sets both lag families; partitions no longer assigned ("desired": false)
 * have their series removed instead. Returns the number of partitions updated, or -1 when the
 * document does not parse. */
int wb_wmetrics_stats(struct wb_wmetrics *wm, const char *json, size_t len, const char *group,
                      const char *topic);

#endif
