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

/* One dead letter being sent: wb_dlq_send's record, the headers built for it, and where the
 * broker stored it. */
struct dlq_send {
    rd_kafka_t *rk;
    const char *topic;
    const void *key;
    size_t keylen;
    struct wb_kafka_header *hdrs;
    size_t n;
    int timeout_ms;
    int32_t dpart;
    int64_t doff;
};

/* Produces s's record with value[0..len) and waits for its report. Returns the error (0 =
 * acknowledged, with s->dpart and s->doff set), with MSG_SIZE_TOO_LARGE standing for any
 * permanent local refusal. */
static rd_kafka_resp_err_t produce_wait(struct dlq_send *s, const void *value, size_t len)
{
    struct wb_kafka_delivery d = {0};
    int waited = 0;
    wb_err_t rc;

    rc = wb_kafka_produce(s->rk, s->topic, s->key, s->keylen, value, len, s->hdrs, s->n, &d);
    if (rc == WB_ERR_INVALID)
        return RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE; /* refused locally, e.g. message.max.bytes */
    if (rc != WB_OK)
        return RD_KAFKA_RESP_ERR__FAIL;
    while (!d.done && waited < s->timeout_ms) {
        rd_kafka_poll(s->rk, 50);
        waited += 50;
    }
    if (!d.done) {
        /* The report may still arrive; d lives on our stack, so wait for it unbounded-ish
         * rather than let the callback write into a dead frame. */
        wb_log(LOG_WARNING, "DLQ", "dead letter to %s not acknowledged after %d ms; waiting",
               s->topic, s->timeout_ms);
        while (!d.done)
            rd_kafka_poll(s->rk, 100);
    }
    s->dpart = d.partition;
    s->doff = d.offset;
    return d.err;
}

/* A header value cut to at most max bytes (bounded dead letters). */
static void cap(struct wb_kafka_header *h, size_t max)
{
    if (h->len > max)
        h->len = max;
}

/* Copies the original record's headers into hdrs, except ours (written afresh). Returns how
 * many; the values are borrowed from orig. */
static size_t copy_orig_headers(const rd_kafka_headers_t *orig, struct wb_kafka_header *hdrs)
{
    size_t norig = orig ? rd_kafka_header_cnt(orig) : 0, n = 0, i;

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
    return n;
}

/* After the full record was refused for good (err): sends the bounded forms, only our headers
 * (each capped) with the key and payload cut, then without the payload. Returns the last
 * error; out->bounded says which form was sent last. */
static rd_kafka_resp_err_t send_bounded(struct dlq_send *s, const struct wb_dlqhdr_info *info,
                                        const void *value, size_t len, rd_kafka_resp_err_t err,
                                        struct wb_dlq_outcome *out)
{
    struct wb_dlqhdr_buf buf;
    size_t i;

    out->refused = err;
    wb_log(LOG_WARNING, "DLQ",
           "dead letter of %s [%d] at offset %lld (%zu bytes) refused by %s: %s; sending it "
           "truncated",
           info->orig_topic ? info->orig_topic : "", (int)info->orig_partition,
           (long long)info->orig_offset, len, s->topic, rd_kafka_err2name(err));
    wb_dlqhdr_encode(info, s->hdrs, &buf);
    for (i = 0; i < WB_DLQHDR_NSTANDARD; i++)
        cap(&s->hdrs[i], WB_DLQ_TRUNCATED_KEY);
    wb_dlqhdr_encode_bounded(len, rd_kafka_err2name(err), s->hdrs + WB_DLQHDR_NSTANDARD, &buf);
    s->n = WB_DLQHDR_COUNT;
    if (s->keylen > WB_DLQ_TRUNCATED_KEY)
        s->keylen = WB_DLQ_TRUNCATED_KEY;
    out->bounded = 1;
    err = produce_wait(s, value, len < WB_DLQ_TRUNCATED_BYTES ? len : WB_DLQ_TRUNCATED_BYTES);
    if (err && permanent(err)) {
        out->bounded = 2;
        err = produce_wait(s, NULL, 0);
    }
    return err;
}

wb_err_t wb_dlq_send(rd_kafka_t *rk, const char *topic, const void *key, size_t keylen,
                     const void *value, size_t len, const rd_kafka_headers_t *orig,
                     const struct wb_dlqhdr_info *info, int timeout_ms, struct wb_dlq_outcome *out)
{
    struct dlq_send s = {rk, topic, key, keylen, NULL, 0, timeout_ms, -1, -1};
    struct wb_dlq_outcome dummy;
    struct wb_dlqhdr_buf buf;
    size_t norig = orig ? rd_kafka_header_cnt(orig) : 0;
    rd_kafka_resp_err_t err;
    wb_err_t rc = WB_OK;

    if (!out)
        out = &dummy;
    memset(out, 0, sizeof(*out));
    s.hdrs = wb_calloc(norig + WB_DLQHDR_COUNT, sizeof(*s.hdrs));
    s.n = copy_orig_headers(orig, s.hdrs);
    wb_dlqhdr_encode(info, s.hdrs + s.n, &buf);
    s.n += WB_DLQHDR_NSTANDARD;
    err = produce_wait(&s, value, len);
    if (err && permanent(err))
        err = send_bounded(&s, info, value, len, err, out);
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
           info->reason ? info->reason : "", wb_err_name(info->cls), topic, (int)s.dpart,
           (long long)s.doff,
           out->bounded == 1   ? " (truncated)"
           : out->bounded == 2 ? " (payload dropped)"
                               : "");
out:
    free(s.hdrs);
    return rc;
}
