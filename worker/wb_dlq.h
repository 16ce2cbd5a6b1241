/*
 * wb_dlq: dead letters. An event that cannot be applied (conflict, poison, exhausted
 * dependency) is produced unchanged (same key, value and non-wb.* headers) to topic.dlq with
 * the wb.* headers that say why, and the worker waits for the broker's acknowledgement
 * before it stores the original offset.
 */
#ifndef WB_DLQ_H
#define WB_DLQ_H

#include "wb_dlqhdr.h"
#include "wb_err.h"
#include "wb_kafka.h"

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

/* Payload bytes a bounded dead letter keeps (docs/worker-limits.md): far below any sane
 * message.max.bytes of the producer or max.message.bytes of the dead-letter topic. */
#define WB_DLQ_TRUNCATED_BYTES 65536
/* Key bytes a bounded dead letter keeps (keys are group ids, 36 bytes). */
#define WB_DLQ_TRUNCATED_KEY 1024

/* How a dead letter went out, for metrics (wb_dlq_send fills it whatever the outcome). */
struct wb_dlq_outcome {
    int bounded;                 /* 0 whole; 1 payload truncated; 2 payload dropped */
    rd_kafka_resp_err_t refused; /* the permanent error that made it bounded, or 0 */
    rd_kafka_resp_err_t err;     /* the last error when wb_dlq_send failed, or 0 */
};

/*
 * Produces one dead letter to topic with key, value (both borrowed; may be NULL with length
 * 0), the original headers orig (may be NULL; wb.* ones are dropped, ours replace them) and
 * the headers of info (wb_dlqhdr.h), then serves rk's delivery reports until the broker
 * acknowledged it or timeout_ms passed. rk is a producer whose delivery callback is wb_kafka's
 * default.
 *
 * A permanent refusal (the record is too large for the producer or the topic, or the broker
 * calls it invalid) is not retried as is: a bounded record follows, without the original
 * headers, with the key cut to WB_DLQ_TRUNCATED_KEY and the payload to
 * WB_DLQ_TRUNCATED_BYTES, plus wb.truncated=true, wb.orig.size and wb.orig.error; if that is
 * refused too, the same with no payload at all. The original's topic, partition and offset
 * are in the wb.orig.* headers of every form.
 *
 * WB_OK only once acknowledged; WB_ERR_TRANSIENT otherwise (the caller retries later: a
 * broker that refuses even the bounded record stalls the partition, logged by name). out may
 * be NULL. Application thread.
 */
wb_err_t wb_dlq_send(rd_kafka_t *rk, const char *topic, const void *key, size_t keylen,
                     const void *value, size_t len, const rd_kafka_headers_t *orig,
                     const struct wb_dlqhdr_info *info, int timeout_ms, struct wb_dlq_outcome *out);

#endif
