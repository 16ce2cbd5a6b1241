/*
 * wb_dlq: dead letters. An event that cannot be applied (conflict, poison, exhausted
 * dependency) is produced unchanged (same key, value and non-wb.* headers) to topic.dlq with
 * the wb.* headers that say why, and the worker waits for the broker's acknowledgement
 * before it stores the original offset.
 */
#ifndef WB_DLQ_H
#define WB_DLQ_H

#include "wb_err.h"
#include "wb_kafka.h"

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#define WB_DLQ_NHEADERS 13

/* Payload bytes a bounded dead letter keeps (docs/worker-limits.md): far below any sane
 * message.max.bytes of the producer or max.message.bytes of the dead-letter topic. */
#define WB_DLQ_TRUNCATED_BYTES 65536
/* Key bytes a bounded dead letter keeps (keys are group ids, 36 bytes). */
#define WB_DLQ_TRUNCATED_KEY 1024

/* The failure context. Strings are borrowed for the call; NULL strings become "". */
struct wb_dlq_info {
    const char *reason;         /* short tag: poison, dn_conflict, sam_conflict, ... */
    wb_err_t cls;               /* class: conflict, invalid, dependency */
    int ldap_rc;                /* LDAP result code, or -1 when LDAP had no say */
    const char *ldap_message;   /* server diagnostic message, or NULL */
    const char *matched_dn;     /* the DN concerned (matched or conflicting), or NULL */
    const char *orig_topic;     /* where the event was read */
    int32_t orig_partition;     /* its partition */
    int64_t orig_offset;        /* its offset */
    int64_t orig_timestamp;     /* its Kafka timestamp in ms, or -1 */
    const char *consumer_group; /* worker.group_id */
    const char *worker_id;      /* worker.id */
    unsigned attempts;          /* how many times it was tried */
};

/* Header values, formatted: storage for wb_dlq_headers. */
struct wb_dlq_hbuf {
    char num[6][32];
    char time[32];
};

/*
 * Fills hdrs[0..WB_DLQ_NHEADERS) with the wb.* headers of info, in the documented order
 * (wb.reason, wb.class, wb.ldap.rc, wb.ldap.message, wb.ldap.matched_dn, wb.orig.topic,
 * wb.orig.partition, wb.orig.offset, wb.orig.timestamp, wb.consumer_group, wb.worker_id,
 * wb.attempts, wb.time). Values point into info's strings and into *buf, so both must outlive
 * hdrs. wb.ldap.rc is "" when ldap_rc < 0; wb.time is now, RFC 3339 UTC.
 */
void wb_dlq_headers(const struct wb_dlq_info *info, struct wb_kafka_header *hdrs,
                    struct wb_dlq_hbuf *buf);

/* How a dead letter went out, for metrics (wb_dlq_send fills it whatever the outcome). */
struct wb_dlq_outcome {
    int bounded;                 /* 0 whole; 1 payload truncated; 2 payload dropped */
    rd_kafka_resp_err_t refused; /* the permanent error that made it bounded, or 0 */
    rd_kafka_resp_err_t err;     /* the last error when wb_dlq_send failed, or 0 */
};

/*
 * Produces one dead letter to topic with key, value (both borrowed; may be NULL with length
 * 0), the original headers orig (may be NULL; wb.* ones are dropped, ours replace them) and
 * the wb.* headers of info, then serves rk's delivery reports until the broker acknowledged
 * it or timeout_ms passed. rk is a producer whose delivery callback is wb_kafka's default.
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
                     const struct wb_dlq_info *info, int timeout_ms, struct wb_dlq_outcome *out);

#endif
