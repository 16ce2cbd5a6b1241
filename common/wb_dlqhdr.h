/*
 * wb_dlqhdr: the dead-letter headers, the contract between the worker that writes them
 * (worker/wb_dlq.c) and writebackctl dlq that reads them. One table of names, in the order
 * docs/errors.md documents; one encoder; one reader. No secret is ever put in a header.
 */
#ifndef WB_DLQHDR_H
#define WB_DLQHDR_H

#include "wb_err.h"
#include "wb_kafka.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The headers, by id. Every dead letter has the first WB_DLQHDR_NSTANDARD; a bounded one
 * (payload truncated or dropped) also the three after them. */
enum wb_dlqhdr {
    WB_DLQHDR_REASON,          /* wb.reason: a dead-letter tag of wb_reason.h */
    WB_DLQHDR_CLASS,           /* wb.class: conflict, invalid, dependency */
    WB_DLQHDR_LDAP_RC,         /* wb.ldap.rc: "" when LDAP had no say */
    WB_DLQHDR_LDAP_MESSAGE,    /* wb.ldap.message */
    WB_DLQHDR_LDAP_MATCHED_DN, /* wb.ldap.matched_dn */
    WB_DLQHDR_ORIG_TOPIC,      /* wb.orig.topic */
    WB_DLQHDR_ORIG_PARTITION,  /* wb.orig.partition */
    WB_DLQHDR_ORIG_OFFSET,     /* wb.orig.offset */
    WB_DLQHDR_ORIG_TIMESTAMP,  /* wb.orig.timestamp: ms since the epoch, -1 unknown */
    WB_DLQHDR_CONSUMER_GROUP,  /* wb.consumer_group */
    WB_DLQHDR_WORKER_ID,       /* wb.worker_id */
    WB_DLQHDR_ATTEMPTS,        /* wb.attempts */
    WB_DLQHDR_TIME,            /* wb.time: RFC 3339 UTC */
    WB_DLQHDR_NSTANDARD,
    WB_DLQHDR_TRUNCATED = WB_DLQHDR_NSTANDARD, /* wb.truncated: "true" */
    WB_DLQHDR_ORIG_SIZE,                       /* wb.orig.size: payload bytes of the original */
    WB_DLQHDR_ORIG_ERROR,                      /* wb.orig.error: why the whole one was refused */
    WB_DLQHDR_COUNT
};

/* The failure context. Strings are borrowed for the call; NULL strings become "". */
struct wb_dlqhdr_info {
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

/* Header values, formatted: storage for the encoders. */
struct wb_dlqhdr_buf {
    char num[6][32];
    char time[32];
    char size[32];
};

/* "wb.reason" ...; NULL outside the enum. */
const char *wb_dlqhdr_name(enum wb_dlqhdr id);

/*
 * Fills hdrs[0..WB_DLQHDR_NSTANDARD) with the headers of info, in the order of the enum.
 * Values point into info's strings and into *buf, so both must outlive hdrs. wb.ldap.rc is ""
 * when ldap_rc < 0; wb.time is now.
 */
void wb_dlqhdr_encode(const struct wb_dlqhdr_info *info, struct wb_kafka_header *hdrs,
                      struct wb_dlqhdr_buf *buf);

/* Fills hdrs[0..3) with wb.truncated, wb.orig.size (orig_size) and wb.orig.error (error,
 * borrowed), for a bounded dead letter; buf as above. */
void wb_dlqhdr_encode_bounded(size_t orig_size, const char *error, struct wb_kafka_header *hdrs,
                              struct wb_dlqhdr_buf *buf);

/* True for a header name in the wb.* space: the failure context, which a re-driven or
 * replayed event does not carry. */
bool wb_dlqhdr_is_ours(const char *name);

/* The last value of header id in h as a new string ("" for a header without value), or NULL
 * when h is NULL or has none. */
char *wb_dlqhdr_get(const rd_kafka_headers_t *h, enum wb_dlqhdr id);

#endif
