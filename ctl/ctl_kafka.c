/*
 * ctl_kafka: writebackctl's broker calls. Admin requests wait for their result event with the
 * request timeout plus a margin; reads stop at the partition end or the range's end.
 */
#include "ctl_kafka.h"

#include "wb_dlqhdr.h"
#include "wb_kafka.h"
#include "wb_log.h"
#include "wb_mem.h"
#include "wb_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

rd_kafka_t *ctl_kafka_new(struct ctl *c, rd_kafka_type_t type)
{
    char errstr[512];
    rd_kafka_t *rk;

    if (type == RD_KAFKA_PRODUCER)
        rk = wb_kafka_producer_new(wb_conf_kafka_kv(c->conf), errstr, sizeof(errstr));
    else
        rk = wb_kafka_reader_new(wb_conf_kafka_kv(c->conf), "writebackctl-reader", errstr,
                                 sizeof(errstr));
    if (!rk)
        fprintf(stderr, "writebackctl: Kafka: %s\n", errstr);
    return rk;
}

int ctl_kafka_partitions(rd_kafka_t *rk, const char *topic)
{
    char errstr[512];
    int n = wb_kafka_partitions(rk, topic, CTL_TIMEOUT_MS, errstr, sizeof(errstr));

    if (n < 0)
        fprintf(stderr, "writebackctl: %s\n", errstr);
    return n;
}

/* Runs one admin request already started on q and waits for its result event. */
static rd_kafka_event_t *admin_wait(rd_kafka_queue_t *q, const char *what)
{
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, CTL_TIMEOUT_MS + 5000);

    if (!ev) {
        fprintf(stderr, "writebackctl: %s: no answer from the broker\n", what);
        return NULL;
    }
    if (rd_kafka_event_error(ev)) {
        fprintf(stderr, "writebackctl: %s: %s\n", what, rd_kafka_event_error_string(ev));
        rd_kafka_event_destroy(ev);
        return NULL;
    }
    return ev;
}

static rd_kafka_AdminOptions_t *admin_opts(rd_kafka_t *rk, rd_kafka_admin_op_t op)
{
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, op);
    char errstr[256];

    rd_kafka_AdminOptions_set_request_timeout(o, CTL_TIMEOUT_MS, errstr, sizeof(errstr));
    return o;
}

wb_err_t ctl_kafka_committed(rd_kafka_t *rk, const char *group,
                             rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = admin_opts(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
    rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(group, parts);
    rd_kafka_event_t *ev = NULL;
    const rd_kafka_group_result_t **res;
    const rd_kafka_topic_partition_list_t *got;
    size_t n;
    int i;
    wb_err_t rc = WB_ERR_TRANSIENT;

    rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, o, q);
    ev = admin_wait(q, "committed offsets");
    if (!ev)
        goto out;
    res = rd_kafka_ListConsumerGroupOffsets_result_groups(
        rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
    if (n != 1 || rd_kafka_group_result_error(res[0])) {
        fprintf(stderr, "writebackctl: committed offsets of %s: %s\n", group,
                n == 1 ? rd_kafka_error_string(rd_kafka_group_result_error(res[0])) : "no result");
        goto out;
    }
    got = rd_kafka_group_result_partitions(res[0]);
    for (i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *t = &parts->elems[i];
        rd_kafka_topic_partition_t *g =
            got ? rd_kafka_topic_partition_list_find(got, t->topic, t->partition) : NULL;

        t->offset = g && !g->err && g->offset >= 0 ? g->offset : RD_KAFKA_OFFSET_INVALID;
    }
    rc = WB_OK;
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    return rc;
}

wb_err_t ctl_kafka_group_state(rd_kafka_t *rk, const char *group, char *state, size_t statesz,
                               int *members)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = admin_opts(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
    rd_kafka_event_t *ev = NULL;
    const rd_kafka_ConsumerGroupDescription_t **res;
    const char *groups[1] = {group};
    size_t n;
    wb_err_t rc = WB_ERR_TRANSIENT;

    *members = -1;
    snprintf(state, statesz, "Unknown");
    rd_kafka_DescribeConsumerGroups(rk, groups, 1, o, q);
    ev = admin_wait(q, "describe group");
    if (!ev)
        goto out;
    res = rd_kafka_DescribeConsumerGroups_result_groups(
        rd_kafka_event_DescribeConsumerGroups_result(ev), &n);
    if (n != 1 || rd_kafka_ConsumerGroupDescription_error(res[0])) {
        fprintf(stderr, "writebackctl: describe group %s: %s\n", group,
                n == 1 ? rd_kafka_error_string(rd_kafka_ConsumerGroupDescription_error(res[0]))
                       : "no result");
        goto out;
    }
    snprintf(state, statesz, "%s",
             rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(res[0])));
    *members = (int)rd_kafka_ConsumerGroupDescription_member_count(res[0]);
    rc = WB_OK;
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    return rc;
}

wb_err_t ctl_kafka_watermarks(rd_kafka_t *rk, const char *topic, int32_t part, int64_t *lo,
                              int64_t *hi)
{
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(rk, topic, part, lo, hi, CTL_TIMEOUT_MS);

    if (err) {
        fprintf(stderr, "writebackctl: watermarks of %s [%d]: %s\n", topic, (int)part,
                rd_kafka_err2str(err));
        return wb_err_from_kafka(err);
    }
    return WB_OK;
}

wb_err_t ctl_kafka_scan(rd_kafka_t *rk, const char *topic, int nparts, const int64_t *from,
                        const int64_t *to, int timeout_ms, ctl_kafka_scan_cb cb, void *opaque)
{
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(nparts);
    bool *done = wb_calloc((size_t)nparts + 1, sizeof(bool));
    int left = 0, p;
    int64_t deadline = wb_time_now_ms() + timeout_ms;
    rd_kafka_resp_err_t err;
    wb_err_t rc = WB_OK;

    for (p = 0; p < nparts; p++) {
        if (from[p] >= to[p]) {
            done[p] = true;
            continue;
        }
        rd_kafka_topic_partition_list_add(tp, topic, p)->offset = from[p];
        left++;
    }
    if (left == 0)
        goto out;
    err = rd_kafka_assign(rk, tp);
    if (err) {
        fprintf(stderr, "writebackctl: assign %s: %s\n", topic, rd_kafka_err2str(err));
        rc = WB_ERR_TRANSIENT;
        goto out;
    }
    while (left > 0) {
        rd_kafka_message_t *m;

        if (wb_time_now_ms() > deadline) {
            fprintf(stderr, "writebackctl: reading %s timed out (%d partitions unfinished)\n",
                    topic, left);
            rc = WB_ERR_TRANSIENT;
            break;
        }
        m = rd_kafka_consumer_poll(rk, 500);
        if (!m)
            continue;
        p = m->partition;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (p >= 0 && p < nparts && !done[p]) {
                done[p] = true;
                left--;
            }
        } else if (m->err) {
            wb_log(LOG_WARNING, "CTL", "reading %s: %s", topic, rd_kafka_message_errstr(m));
        } else if (p >= 0 && p < nparts && !done[p]) {
            if (m->offset < to[p] && cb(m, opaque)) {
                rd_kafka_message_destroy(m);
                break;
            }
            if (m->offset + 1 >= to[p]) {
                done[p] = true;
                left--;
            }
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(rk, NULL);
out:
    free(done);
    rd_kafka_topic_partition_list_destroy(tp);
    return rc;
}

wb_err_t ctl_kafka_reproduce(rd_kafka_t *prod, const char *topic, const char *key, size_t keylen,
                             const char *value, size_t len, const rd_kafka_headers_t *hdrs,
                             const struct wb_kafka_header *extra, size_t nextra)
{
    struct wb_kafka_header hd[66];
    size_t nh = 0, i = 0, hl;
    const char *hn;
    const void *hv;

    while (hdrs && nh < 64 &&
           rd_kafka_header_get_all(hdrs, i++, &hn, &hv, &hl) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (wb_dlqhdr_is_ours(hn))
            continue; /* the failure context stays in the dead-letter topic */
        hd[nh].name = hn;
        hd[nh].value = hv;
        hd[nh++].len = hl;
    }
    for (i = 0; i < nextra && i < 2; i++)
        hd[nh++] = extra[i];
    return wb_kafka_produce(prod, topic, key, key ? keylen : 0, value, value ? len : 0, hd, nh,
                            NULL);
}
