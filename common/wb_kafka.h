/*
 * wb_kafka: the thin layer over librdkafka that the producer, worker and writebackctl share:
 * configuration from `kafka.*` key/value pairs on top of our defaults, librdkafka's logs in
 * wb_log, an idempotent murmur2_random producer, a cooperative-sticky consumer that commits
 * stored offsets on revoke, and topic creation through the admin API.
 */
#ifndef WB_KAFKA_H
#define WB_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "wb_err.h"

/*
 * Key/value arrays ("kv"): a NULL-terminated array of alternating librdkafka property names and
 * values, {"bootstrap.servers", "127.0.0.1:9092", "linger.ms", "10", NULL}: the `kafka.*` keys
 * of our config with the prefix already stripped. kv may be NULL (no settings). The array and
 * its strings are borrowed for the duration of the call. Errors name the key as `kafka.<key>`,
 * as the operator wrote it.
 *
 * Every handle returned here is a plain rd_kafka_t *, caller-owned: release it with
 * wb_kafka_destroy(). The conf's opaque (rd_kafka_conf_set_opaque) is left to the caller.
 */

/* One message header: name (NUL-terminated) and a value of len bytes (value may be NULL). */
struct wb_kafka_header {
    const char *name;
    const void *value;
    size_t len;
};

/* Delivery result filled in by the default delivery-report callback when a message was
 * produced with msg_opaque pointing at one (see wb_kafka_produce). done is 0 until the report
 * arrives; then err, partition and offset are set. */
struct wb_kafka_delivery {
    int done;
    rd_kafka_resp_err_t err;
    int32_t partition;
    int64_t offset;
};

/*
 * A new caller-owned configuration: our common defaults (client.id=writeback,
 * log.connection.close=false), then kv; librdkafka's log and error callbacks go to wb_log
 * (facility "KAFKA"). Returns NULL and fills errstr on an unknown key, a bad value or a key
 * without a value. Any thread.
 */
rd_kafka_conf_t *wb_kafka_conf_new(const char *const *kv, char *errstr, size_t errsz);

/*
 * As wb_kafka_conf_new with the producer defaults applied before kv: enable.idempotence=true,
 * partitioner=murmur2_random (the Java client's placement), and the default delivery-report
 * callback (logs failures, fills struct wb_kafka_delivery). Callers may replace the callback.
 */
rd_kafka_conf_t *wb_kafka_producer_conf_new(const char *const *kv, char *errstr, size_t errsz);

/*
 * As wb_kafka_conf_new with the consumer defaults applied before kv:
 * partition.assignment.strategy=cooperative-sticky, enable.auto.offset.store=false,
 * auto.offset.reset=earliest, and wb_kafka_rebalance_cb. group_id (may be NULL when kv holds
 * group.id) is applied after kv and wins. Fails when no group.id is given at all.
 */
rd_kafka_conf_t *wb_kafka_consumer_conf_new(const char *const *kv, const char *group_id,
                                            char *errstr, size_t errsz);

/*
 * Creates a handle of type from conf. conf is always handed over (destroyed on failure). For a
 * consumer the main queue is redirected to the consumer queue (rd_kafka_poll_set_consumer), so
 * rd_kafka_consumer_poll serves logs, errors and rebalances. Returns NULL and fills errstr.
 */
rd_kafka_t *wb_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, char *errstr, size_t errsz);

/* wb_kafka_producer_conf_new + wb_kafka_new(RD_KAFKA_PRODUCER). */
rd_kafka_t *wb_kafka_producer_new(const char *const *kv, char *errstr, size_t errsz);

/* wb_kafka_consumer_conf_new + wb_kafka_new(RD_KAFKA_CONSUMER). Subscribe with
 * rd_kafka_subscribe; store offsets with rd_kafka_offsets_store after each event is done. */
rd_kafka_t *wb_kafka_consumer_new(const char *const *kv, const char *group_id, char *errstr,
                                  size_t errsz);

/*
 * A consumer that reads and never joins a group: isolation.level=read_committed, no automatic
 * commit or offset store, partition-EOF events on; applied after kv, so they win. group_id
 * (required) only satisfies librdkafka: the handle is used with rd_kafka_assign alone, never
 * with the group coordinator. Returns NULL and fills errstr. Used by the topic.state reader
 * and by writebackctl.
 */
rd_kafka_t *wb_kafka_reader_new(const char *const *kv, const char *group_id, char *errstr,
                                size_t errsz);

/* The partition count of topic from rk's metadata within timeout_ms, or -1 with the reason in
 * errstr ("does not exist" or the broker's error). Never creates the topic. */
int wb_kafka_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms, char *errstr,
                        size_t errsz);

/*
 * The consumer's rebalance callback, public so that a caller with its own callback can do its
 * bookkeeping and then chain to this one. Assign: incremental_assign (cooperative) or assign.
 * Revoke: unless the assignment was lost, synchronously commit the stored offsets, then
 * incremental_unassign or unassign. Called from rd_kafka_consumer_poll / consumer_close.
 */
void wb_kafka_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t *parts, void *opaque);

/*
 * Produces one message to topic, partitioned by key (the partitioner decides; key may be NULL
 * with keylen 0). key, value and the nhdrs headers are copied, so all are borrowed for the
 * call only. msg_opaque is passed to the delivery report: with the default callback it is NULL
 * or a struct wb_kafka_delivery * that must stay valid until the report is served
 * (rd_kafka_poll / wb_kafka_flush). When the local queue is full this waits (serving delivery
 * reports) up to 10 s, then gives up with WB_ERR_TRANSIENT. Other failures are classified by
 * wb_err_from_kafka and logged. Application thread.
 */
wb_err_t wb_kafka_produce(rd_kafka_t *rk, const char *topic, const void *key, size_t keylen,
                          const void *value, size_t len, const struct wb_kafka_header *hdrs,
                          size_t nhdrs, void *msg_opaque);

/* Waits up to timeout_ms until every queued message was delivered or failed (serving delivery
 * reports). WB_OK, WB_ERR_TRANSIENT on timeout, WB_ERR_FATAL when the producer hit a fatal
 * error (logged). Delivery failures themselves are reported per message. */
wb_err_t wb_kafka_flush(rd_kafka_t *rk, int timeout_ms);

/*
 * Creates topic name with partitions partitions (-1: the broker's num.partitions), the
 * broker's default replication factor, and the topic-level settings in config (kv array, e.g.
 * {"cleanup.policy", "compact", NULL}; may be NULL). An existing topic is success (its settings
 * are not checked). On success also waits, within timeout_ms, until the topic's partitions have
 * leaders in rk's metadata so that producing right away works. Any handle type will do.
 * WB_ERR_TRANSIENT on timeout or broker trouble, WB_ERR_FATAL on a bad name, partition count
 * or setting. Application thread.
 */
wb_err_t wb_kafka_create_topic(rd_kafka_t *rk, const char *name, int partitions,
                               const char *const *config, int timeout_ms);

/* Releases a handle; NULL does nothing. A consumer is closed first (leaving the group, which
 * commits the stored offsets through the revoke callback). A producer is not flushed: call
 * wb_kafka_flush first if undelivered messages matter. */
void wb_kafka_destroy(rd_kafka_t *rk);

#endif
