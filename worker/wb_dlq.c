/*
 * wb_dlq: the dead-letter record (see wb_dlq.h). The wait for the delivery report is what
 * lets the worker store the original offset safely: an unacknowledged dead letter would be a
 * lost event.
 */
#include "wb_dlq.h"
#include "wb_event.h"
#include "wb_log.h"
#include "wb_mem.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void set(struct wb_kafka_header *h, const char *name, const char *value)
{
    h->name = name;
    h->value = value ? value : "";
    h->len = strlen(h->value);
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void wb_dlq_headers(const struct wb_dlq_info *info, struct wb_kafka_header *hdrs,
                    struct wb_dlq_hbuf *buf)
{
    memset(buf, 0, sizeof(*buf));
    if (info->ldap_rc >= 0)
        snprintf(buf->num[0], sizeof(buf->num[0]), "%d", info->ldap_rc);
    snprintf(buf->num[1], sizeof(buf->num[1]), "%" PRId32, info->orig_partition);
    snprintf(buf->num[2], sizeof(buf->num[2]), "%" PRId64, info->orig_offset);
    snprintf(buf->num[3], sizeof(buf->num[3]), "%" PRId64, info->orig_timestamp);
    snprintf(buf->num[4], sizeof(buf->num[4]), "%u", info->attempts);
    wb_event_ts_format(now_ms(), buf->time);

    set(&hdrs[0], "wb.reason", info->reason);
    set(&hdrs[1], "wb.class", wb_err_name(info->cls));
    set(&hdrs[2], "wb.ldap.rc", buf->num[0]);
    set(&hdrs[3], "wb.ldap.message", info->ldap_message);
    set(&hdrs[4], "wb.ldap.matched_dn", info->matched_dn);
    set(&hdrs[5], "wb.orig.topic", info->orig_topic);
    set(&hdrs[6], "wb.orig.partition", buf->num[1]);
    set(&hdrs[7], "wb.orig.offset", buf->num[2]);
    set(&hdrs[8], "wb.orig.timestamp", buf->num[3]);
    set(&hdrs[9], "wb.consumer_group", info->consumer_group);
    set(&hdrs[10], "wb.worker_id", info->worker_id);
    set(&hdrs[11], "wb.attempts", buf->num[4]);
    set(&hdrs[12], "wb.time", buf->time);
}

wb_err_t wb_dlq_send(rd_kafka_t *rk, const char *topic, const void *key, size_t keylen,
                     const void *value, size_t len, const rd_kafka_headers_t *orig,
                     const struct wb_dlq_info *info, int timeout_ms)
{
    struct wb_kafka_header *hdrs = NULL;
    struct wb_kafka_delivery d = {0};
    struct wb_dlq_hbuf buf;
    size_t norig = orig ? rd_kafka_header_cnt(orig) : 0, n = 0, i;
    int waited = 0;
    wb_err_t rc;

    hdrs = wb_calloc(norig + WB_DLQ_NHEADERS, sizeof(*hdrs));
    for (i = 0; i < norig; i++) {
        const char *name;
        const void *val;
        size_t vlen;

        if (rd_kafka_header_get_all(orig, i, &name, &val, &vlen) != RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
        if (strncmp(name, "wb.", 3) == 0)
            continue;
        hdrs[n].name = name;
        hdrs[n].value = val;
        hdrs[n++].len = val ? vlen : 0;
    }
    wb_dlq_headers(info, hdrs + n, &buf);
    n += WB_DLQ_NHEADERS;

    rc = wb_kafka_produce(rk, topic, key, keylen, value, len, hdrs, n, &d);
    if (rc != WB_OK) {
        rc = WB_ERR_TRANSIENT;
        goto out;
    }
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
    if (d.err) {
        wb_log(LOG_WARNING, "DLQ", "dead letter to %s failed: %s", topic, rd_kafka_err2str(d.err));
        rc = WB_ERR_TRANSIENT;
        goto out;
    }
    wb_log(LOG_WARNING, "DLQ",
           "dead-lettered partition=%d offset=%lld reason=%s class=%s to %s [%d] at offset %lld",
           (int)info->orig_partition, (long long)info->orig_offset,
           info->reason ? info->reason : "", wb_err_name(info->cls), topic, (int)d.partition,
           (long long)d.offset);
out:
    free(hdrs);
    return rc;
}
