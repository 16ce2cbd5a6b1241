/*
 * wb_drift_records: the optional Kafka topic of drift records (drift.topic, docs/drift.md).
 * Every DRIFT line is also produced there as one JSON record with the same fields, keyed by
 * the group id, through a producer of its own (the worker's dead-letter producer is left
 * alone); writebackctl drift records lists them. The topic is created on first use when
 * absent. A record that cannot be delivered is logged and counted
 * (writeback_worker_drift_records_total{result="failed"}); the DRIFT line stays in the log.
 */
#include "wb_drift_int.h"

#include "wb_event.h"
#include "wb_kafka.h"
#include "wb_log.h"
#include "wb_mem.h"
#include "wb_time.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAC WB_DRIFT_FAC

struct wb_drift_records {
    rd_kafka_t *rk;
    const char *topic;     /* drift.topic, borrowed from the configuration */
    const char *worker_id; /* worker.id, may be empty */
    bool created;          /* the topic was checked (created when absent) */
    wb_metric_t *m;
};

static void count(struct wb_drift_records *rc, bool ok)
{
    const char *lv[1] = {ok ? "ok" : "failed"};

    wb_metrics_inc(rc->m, lv, 1);
}

/* The delivery report: counts each record, logs a failure with what to check. */
static void delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct wb_drift_records *rc = opaque;

    (void)rk;
    count(rc, m->err == RD_KAFKA_RESP_ERR_NO_ERROR);
    if (m->err)
        wb_log(LOG_ERR, FAC,
               "drift record of group %.*s not delivered to topic %s: %s; the DRIFT line above "
               "has the same fields (check that the topic exists and the worker may write it)",
               (int)m->key_len, m->key ? (const char *)m->key : "", rc->topic,
               rd_kafka_err2str(m->err));
}

struct wb_drift_records *wb_drift_records_new(const wb_conf_t *conf, wb_metrics_t *reg,
                                              char *errstr, size_t errsz)
{
    static const char *const result[] = {"result"};
    const char *topic = wb_conf_get_str(conf, "drift.topic");
    const char *const *kv = wb_conf_kafka_kv(conf);
    struct wb_drift_records *rc;
    rd_kafka_conf_t *kc;
    size_t i = 0;

    errstr[0] = '\0';
    if (!topic || !topic[0])
        return NULL;
    kc = wb_kafka_producer_conf_new(kv, errstr, errsz);
    if (!kc)
        return NULL;
    /* as the dead-letter producer: a record not delivered within 30 s is reported, unless
     * kafka.message.timeout.ms says otherwise */
    for (i = 0; kv && kv[i] && kv[i + 1]; i += 2)
        if (strcmp(kv[i], "message.timeout.ms") == 0)
            break;
    if (!kv || !kv[i])
        rd_kafka_conf_set(kc, "message.timeout.ms", "30000", NULL, 0);
    rc = wb_calloc(1, sizeof(*rc));
    rd_kafka_conf_set_dr_msg_cb(kc, delivered);
    rd_kafka_conf_set_opaque(kc, rc);
    rc->rk = wb_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, errsz);
    if (!rc->rk) {
        free(rc);
        return NULL;
    }
    rc->topic = topic;
    rc->worker_id = wb_conf_get_str(conf, "worker.id");
    rc->m = wb_metrics_counter(reg, "writeback_worker_drift_records_total",
                               "Drift records produced to drift.topic, by delivery result "
                               "(docs/drift.md).",
                               1, result);
    wb_log(LOG_NOTICE, FAC, "drift records go to topic %s", topic);
    return rc;
}

static void add_str(cJSON *o, const char *name, const char *v)
{
    cJSON_AddStringToObject(o, name, v ? v : "");
}

/* The record: the DRIFT line's fields, plus who found it and when. Caller frees. */
static char *record(const struct wb_drift_records *rc, const struct wb_drift_line *ln)
{
    cJSON *o = cJSON_CreateObject();
    char now[WB_EVENT_TS_SIZE], *s;

    wb_event_ts_format(wb_time_now_ms(), now);
    cJSON_AddNumberToObject(o, "v", 1);
    add_str(o, "group", ln->group);
    cJSON_AddNumberToObject(o, "partition", ln->partition);
    add_str(o, "dn", ln->dn);
    add_str(o, "kind", ln->kind);
    add_str(o, "attribute", ln->attr);
    add_str(o, "added", ln->added);
    add_str(o, "removed", ln->removed);
    add_str(o, "new_dn", ln->new_dn);
    add_str(o, "dc", ln->dc);
    add_str(o, "time", ln->when);
    add_str(o, "action", ln->action);
    add_str(o, "worker", rc->worker_id);
    add_str(o, "detected", now);
    s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

void wb_drift_records_put(struct wb_drift_records *rc, const struct wb_drift_line *ln)
{
    char *val;

    if (!rc)
        return;
    if (!rc->created) {
        /* an existing topic is success; a failure is logged and the produce reports it */
        rc->created = true;
        if (wb_kafka_create_topic(rc->rk, rc->topic, -1, NULL, 10000) != WB_OK)
            wb_log(LOG_WARNING, FAC, "drift.topic %s could not be created", rc->topic);
    }
    val = record(rc, ln);
    if (wb_kafka_produce(rc->rk, rc->topic, ln->group, strlen(ln->group), val, strlen(val), NULL, 0,
                         NULL) != WB_OK) {
        count(rc, false);
        wb_log(LOG_ERR, FAC, "drift record of group %s not queued for topic %s", ln->group,
               rc->topic);
    }
    free(val);
    rd_kafka_poll(rc->rk, 0);
}

void wb_drift_records_poll(struct wb_drift_records *rc)
{
    if (rc)
        rd_kafka_poll(rc->rk, 0);
}

void wb_drift_records_destroy(struct wb_drift_records *rc)
{
    if (!rc)
        return;
    if (wb_kafka_flush(rc->rk, 5000) != WB_OK)
        wb_log(LOG_WARNING, FAC, "drift records to %s may be lost: not delivered within 5 s",
               rc->topic);
    wb_kafka_destroy(rc->rk);
    free(rc);
}
