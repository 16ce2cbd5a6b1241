/*
 * ctl_kafka: the Kafka plumbing only writebackctl needs, over common/wb_kafka: handles from the
 * kafka.* settings, watermarks, committed offsets and group state through the admin API, and
 * bounded reads of partition ranges. Every function reports its failure on stderr once.
 */
#ifndef WB_CTL_KAFKA_H
#define WB_CTL_KAFKA_H

#include "ctl.h"
#include "wb_kafka.h"

#include <librdkafka/rdkafka.h>

/* Request timeout of every broker call. */
#define CTL_TIMEOUT_MS 15000

/* A producer (an idempotent one: wb_kafka_producer_conf_new) or a reader consumer
 * (wb_kafka_reader_new: assigned only, never in a group, nothing committed) from the kafka.*
 * settings. Caller-owned (wb_kafka_destroy); NULL and a message on stderr on failure. */
rd_kafka_t *ctl_kafka_new(struct ctl *c, rd_kafka_type_t type);

/* The partition count of topic, or -1 (message on stderr) when it does not exist. */
int ctl_kafka_partitions(rd_kafka_t *rk, const char *topic);

/* Committed offsets of group for the partitions in parts (offsets filled in place;
 * RD_KAFKA_OFFSET_INVALID when none). Uses the admin API. */
wb_err_t ctl_kafka_committed(rd_kafka_t *rk, const char *group,
                             rd_kafka_topic_partition_list_t *parts);

/* State name and active member count of group; *members -1 when unknown. */
wb_err_t ctl_kafka_group_state(rd_kafka_t *rk, const char *group, char *state, size_t statesz,
                               int *members);

/* Low and high watermarks. */
wb_err_t ctl_kafka_watermarks(rd_kafka_t *rk, const char *topic, int32_t part, int64_t *lo,
                              int64_t *hi);

/* Per message callback of ctl_kafka_scan; return non-zero to stop. */
typedef int (*ctl_kafka_scan_cb)(const rd_kafka_message_t *m, void *opaque);

/* Reads every message of topic in partitions [from[p], to[p]) for p in 0..nparts (entries
 * with from >= to are skipped) with a reader handle rk, calling cb. WB_ERR_TRANSIENT when the
 * range was not read within timeout_ms. */
wb_err_t ctl_kafka_scan(rd_kafka_t *rk, const char *topic, int nparts, const int64_t *from,
                        const int64_t *to, int timeout_ms, ctl_kafka_scan_cb cb, void *opaque);

/* Produces value (len bytes, may be NULL) under key to topic with the headers of hdrs (may be
 * NULL; at most 64, without the dead-letter context of wb_dlqhdr_is_ours) followed by the
 * nextra (at most 2) headers of extra: a dead letter or an event sent around again. */
wb_err_t ctl_kafka_reproduce(rd_kafka_t *prod, const char *topic, const char *key, size_t keylen,
                             const char *value, size_t len, const rd_kafka_headers_t *hdrs,
                             const struct wb_kafka_header *extra, size_t nextra);

#endif
