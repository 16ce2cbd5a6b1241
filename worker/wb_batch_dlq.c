/*
 * wb_batch_dlq: the batch's dead letters: one message sent to topic.dlq with the headers that
 * say why (wb_dlq), counted; and the undecodable messages, dead-lettered after the groups.
 */
#include "wb_batch_int.h"
#include "wb_dlq.h"
#include "wb_log.h"
#include "wb_reason.h"

#define DLQ_WAIT_MS 30000

wb_err_t wb_batch_dlq_send(wb_batch_t *b, struct bmsg *bm, const char *reason, wb_err_t cls,
                           int ldap_rc, const char *ldap_msg, const char *matched,
                           unsigned attempts)
{
    rd_kafka_message_t *m = bm->rkm;
    rd_kafka_headers_t *hdrs = NULL;
    rd_kafka_timestamp_type_t tstype;
    struct wb_dlqhdr_info info = {0};
    struct wb_dlq_outcome out;
    wb_err_t err;

    rd_kafka_message_headers(m, &hdrs);
    info.reason = reason;
    info.cls = cls;
    info.ldap_rc = ldap_rc;
    info.ldap_message = ldap_msg;
    info.matched_dn = matched;
    info.orig_topic = rd_kafka_topic_name(m->rkt);
    info.orig_partition = m->partition;
    info.orig_offset = m->offset;
    info.orig_timestamp = rd_kafka_message_timestamp(m, &tstype);
    info.consumer_group = b->cfg.group_id;
    info.worker_id = b->cfg.worker_id;
    info.attempts = attempts;
    err = wb_dlq_send(b->cfg.producer, b->cfg.dlq_topic, m->key, m->key_len, m->payload, m->len,
                      hdrs, &info, DLQ_WAIT_MS, &out);
    if (out.bounded)
        wb_wmetrics_dlq_bounded(b->cfg.wm, rd_kafka_err2name(out.refused));
    if (err != WB_OK)
        wb_wmetrics_dlq_failure(b->cfg.wm, rd_kafka_err2name(out.err));
    if (err == WB_OK) {
        bm->done = true;
        wb_wmetrics_dead_letter(b->cfg.wm, reason);
        wb_wmetrics_event(b->cfg.wm, bm->ok ? wb_event_type_name(bm->ev.type) : NULL,
                          "dead_lettered");
    }
    return err;
}

/* Undecodable messages are dead-lettered after the groups, so that one behind a stopped
 * group waits for the replay. */
void wb_batch_dlq_poison(wb_batch_t *b)
{
    size_t i;

    for (i = 0; i < b->n; i++) {
        struct bmsg *bm = &b->bm[i];
        struct wb_part *p = wb_part_get(b->cfg.pt, bm->rkm->partition, true);

        if (bm->ok || bm->rkm->offset >= p->stop)
            continue;
        wb_log(LOG_WARNING, FAC, "partition=%d offset=%lld: undecodable event: %s",
               (int)bm->rkm->partition, (long long)bm->rkm->offset, bm->reason);
        if (wb_batch_dlq_send(b, bm, wb_reason_tag(WB_REASON_POISON), WB_ERR_INVALID, -1,
                              bm->reason, NULL, 1) != WB_OK)
            wb_part_stop(p, bm->rkm->offset, WB_PART_TRANSIENT);
    }
}
