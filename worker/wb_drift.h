/*
 * wb_drift: the worker's watch for out-of-band changes to the AD groups it owns (members added
 * or removed, mapped attributes edited, renamed, moved, deleted), found by polling uSNChanged
 * above a watermark, told apart from the worker's own writes by a per-group baseline (AD as the
 * worker last left it), reported (drift.mode=audit) or reverted (repair). docs/drift.md.
 * Application thread only: the consumer loop calls it between batches.
 */
#ifndef WB_DRIFT_H
#define WB_DRIFT_H

#include "wb_conf.h"
#include "wb_metrics.h"

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wb_drift_s wb_drift_t;

/*
 * A watch configured from conf (drift.*, ldap.*; borrowed, must outlive it) with its own LDAP
 * connection, made at the first poll; its metrics go to reg (borrowed). With drift.mode=off
 * every call below does nothing. Returns NULL with a reason in errstr when the LDAP settings
 * are unusable.
 */
wb_drift_t *wb_drift_new(const wb_conf_t *conf, wb_metrics_t *reg, char *errstr, size_t errsz);

/* Frees everything. NULL does nothing. */
void wb_drift_destroy(wb_drift_t *dr);

/*
 * Partitions of topic.events assigned (assigned true) to or revoked from this worker (the
 * rebalance callback's list, borrowed for the call; rk is the consumer, borrowed and kept to
 * learn the topic's partition count). Groups of revoked partitions are forgotten; the groups
 * already in AD of assigned ones get a baseline over the next polls.
 */
void wb_drift_rebalance(wb_drift_t *dr, rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *l,
                        int assigned);

/*
 * The consumer loop wrote group (an Entra object id, borrowed) of partition: its baseline is
 * read again at the next poll, so the write is never reported as drift.
 */
void wb_drift_written(wb_drift_t *dr, const char *group, int32_t partition);

/*
 * One round of the watch when drift.interval_ms has passed since the last: refresh baselines,
 * look for changes since the watermark, report or repair them. Stops early (work left for the
 * next call) after about budget_ms. LDAP failures are logged and retried at the next round.
 */
void wb_drift_poll(wb_drift_t *dr, int64_t budget_ms);

#endif
