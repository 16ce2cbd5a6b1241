/*
 * wb_dlq: the dead-letter record (see wb_dlq.h). The wait for the delivery report is what
 * lets the worker store the original offset safely: an unacknowledged dead letter would be a
 * lost event.
 */
#include "wb_dlq.h"
#include "wb_log.h"
#include "wb_mem.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Errors that say this record will never be accepted as it is. */
static bool permanent(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
        return true;
    default:
        return false;
    }
}

/* Produces one record and waits for its report. Returns the error (0 = acknowledged), with
 * MSG_SIZE_TOO_LARGE standing for any permanent local refusal; dpart and doff on success. */
static rd_kafka_resp_err_t produce_wait(rd_kafka_t *rk, const char *topic, const void *key,
                                        size_t keylen, const void *value, size_t len,
                                        const struct wb_kafka_header *hdrs, size_t n,
                                        int timeout_ms, int32_t *dpart, int64_t *doff)
{
    struct wb_kafka_delivery d = {0};
    int waited = 0;
    wb_err_t rc;

    rc = wb_kafka_produce(rk, topic, key, keylen, value, len, hdrs, n, &d);
    if (rc == WB_ERR_INVALID)
        return RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE; /* refused locally, e.g. message.max.bytes */
    if (rc != WB_OK)
        return RD_KAFKA_RESP_ERR__FAIL;
    while (!d.done && waited < timeout_ms) {
        rd_kafka_poll(rk, 50);
        waited += 50;
    }
    if (!d.done) {
        /* The report may still arrive; d lives on our stack, so wait for it unbounded-ish
         * rather than let the callback write into a dead frame. */
        wb_log(LOG_WARNING, "DLQ", "dead letter to %s not acknowledged after %d ms; waiting", topic,
               timeout_ms);
        while (!d.done)
            rd_kafka_poll(rk, 100);
    }
    *dpart = d.partition;
    *doff = d.offset;
    return d.err;
}

/* A header value cut to at most max bytes (bounded dead letters). */
static void cap(struct wb_kafka_header *h, size_t max)
{
    if (h->len > max)
        h->len = max;
}

wb_err_t wb_dlq_send(rd_kafka_t *rk, const char *topic, const void *key, size_t keylen,
                     const void *value, size_t len, const rd_kafka_headers_t *orig,
                     const struct wb_dlqhdr_info *info, int timeout_ms, struct wb_dlq_outcome *out)
{
    struct wb_kafka_header *hdrs = NULL;
    struct wb_dlq_outcome dummy;
    struct wb_dlqhdr_buf buf;
    size_t norig = orig ? rd_kafka_header_cnt(orig) : 0, n = 0, i;
    int32_t dpart = -1;
    int64_t doff = -1;
    rd_kafka_resp_err_t err;
    wb_err_t rc = WB_OK;

    if (!out)
        out = &dummy;
    memset(out, 0, sizeof(*out));
    hdrs = wb_calloc(norig + WB_DLQHDR_COUNT, sizeof(*hdrs));
    for (i = 0; i < norig; i++) {
        const char *name;
        const void *val;
        size_t vlen;

        if (rd_kafka_header_get_all(orig, i, &name, &val, &vlen) != RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
        if (wb_dlqhdr_is_ours(name))
            continue;
        hdrs[n].name = name;
        hdrs[n].value = val;
        hdrs[n++].len = val ? vlen : 0;
    }
    wb_dlqhdr_encode(info, hdrs + n, &buf);
    n += WB_DLQHDR_NSTANDARD;
    err = produce_wait(rk, topic, key, keylen, value, len, hdrs, n, timeout_ms, &dpart, &doff);
    if (err && permanent(err)) {
        /* Bounded forms: only our headers (each capped), the key and payload cut. */
        out->refused = err;
        wb_log(LOG_WARNING, "DLQ",
               "dead letter of %s [%d] at offset %lld (%zu bytes) refused by %s: %s; sending it "
               "truncated",
               info->orig_topic ? info->orig_topic : "", (int)info->orig_partition,
               (long long)info->orig_offset, len, topic, rd_kafka_err2name(err));
        wb_dlqhdr_encode(info, hdrs, &buf);
        for (i = 0; i < WB_DLQHDR_NSTANDARD; i++)
            cap(&hdrs[i], WB_DLQ_TRUNCATED_KEY);
        wb_dlqhdr_encode_bounded(len, rd_kafka_err2name(err), hdrs + WB_DLQHDR_NSTANDARD, &buf);
        n = WB_DLQHDR_COUNT;
        if (keylen > WB_DLQ_TRUNCATED_KEY)
            keylen = WB_DLQ_TRUNCATED_KEY;
        out->bounded = 1;
        err = produce_wait(rk, topic, key, keylen, value,
                           len < WB_DLQ_TRUNCATED_BYTES ? len : WB_DLQ_TRUNCATED_BYTES, hdrs, n,
                           timeout_ms, &dpart, &doff);
        if (err && permanent(err)) {
            out->bounded = 2;
            err = produce_wait(rk, topic, key, keylen, NULL, 0, hdrs, n, timeout_ms, &dpart, &doff);
        }
    }
    if (err) {
        out->err = err;
        wb_log(LOG_ERR, "DLQ",
               "dead letter of %s [%d] at offset %lld to %s failed: %s: the partition stops at "
               "this offset until a dead letter is accepted%s",
               info->orig_topic ? info->orig_topic : "", (int)info->orig_partition,
               (long long)info->orig_offset, topic, rd_kafka_err2str(err),
               permanent(err) ? " (even an empty bounded record was refused: check the topic's "
                                "max.message.bytes and the producer's message.max.bytes)"
                              : "");
        rc = WB_ERR_TRANSIENT;
        goto out;
    }
    wb_log(LOG_WARNING, "DLQ",
           "dead-lettered partition=%d offset=%lld reason=%s class=%s to %s [%d] at offset "
           "%lld%s",
           (int)info->orig_partition, (long long)info->orig_offset,
           info->reason ? info->reason : "", wb_err_name(info->cls), topic, (int)dpart,
           (long long)doff,
           out->bounded == 1   ? " (truncated)"
           : out->bounded == 2 ? " (payload dropped)"
                               : "");
out:
    free(hdrs);
    return rc;
}
