/*
 * wb_kafka: librdkafka configuration, callbacks and helpers shared by producer, worker and
 * writebackctl. Our defaults are applied before the operator's `kafka.*` settings so that the
 * operator can override any of them; only the consumer's group id parameter wins over kv.
 */
#include "wb_kafka.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "wb_log.h"

#define FAC "KAFKA"

static const char *const common_defaults[] = {
    "client.id", "writeback",
    /* Brokers close idle connections; librdkafka would log every one of them. */
    "log.connection.close", "false", NULL};

static const char *const producer_defaults[] = {
    "enable.idempotence", "true",
    /* The Java client's placement: other tools agree on partitions (docs/architecture.md). */
    "partitioner", "murmur2_random", NULL};

static const char *const consumer_defaults[] = {
    /* Rebalances move only the partitions that change owner (docs/architecture.md). */
    "partition.assignment.strategy", "cooperative-sticky",
    /* Offsets are stored by the application once an event is applied or dead-lettered. */
    "enable.auto.offset.store", "false", "auto.offset.reset", "earliest", NULL};

/* Writes into errstr only when the caller gave room for it. */
static void set_err(char *errstr, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *errstr, size_t errsz, const char *fmt, ...)
{
    va_list ap;

    if (!errstr || errsz == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(errstr, errsz, fmt, ap);
    va_end(ap);
}

static int conf_apply(rd_kafka_conf_t *conf, const char *const *kv, char *errstr, size_t errsz)
{
    char buf[512];
    size_t i;

    for (i = 0; kv && kv[i]; i += 2) {
        if (!kv[i + 1]) {
            set_err(errstr, errsz, "kafka.%s: no value given", kv[i]);
            return -1;
        }
        if (rd_kafka_conf_set(conf, kv[i], kv[i + 1], buf, sizeof(buf)) != RD_KAFKA_CONF_OK) {
            set_err(errstr, errsz, "kafka.%s: %s", kv[i], buf);
            return -1;
        }
    }
    return 0;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    /* librdkafka's debug= output is only wanted when our "kafka" debug topic is on. */
    if (level >= LOG_DEBUG && !wb_log_debug_on("kafka"))
        return;
    if (level < LOG_EMERG)
        level = LOG_EMERG;
    if (level > LOG_DEBUG)
        level = LOG_DEBUG;
    wb_log(level, FAC, "%s: [%s] %s", rk ? rd_kafka_name(rk) : "rdkafka", fac ? fac : "-",
           buf ? buf : "");
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    char buf[512];

    (void)opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        rd_kafka_resp_err_t ferr = rd_kafka_fatal_error(rk, buf, sizeof(buf));

        wb_log(LOG_ERR, FAC, "%s: fatal error: %s: %s", rd_kafka_name(rk), rd_kafka_err2name(ferr),
               buf);
        return;
    }
    /* A failed connection was already logged by librdkafka as a FAIL line. */
    if (err == RD_KAFKA_RESP_ERR__TRANSPORT) {
        wb_dbg("kafka", FAC, "%s: %s", rd_kafka_name(rk), reason ? reason : "");
        return;
    }
    wb_log(LOG_WARNING, FAC, "%s: %s: %s", rd_kafka_name(rk),
           rd_kafka_err2name((rd_kafka_resp_err_t)err), reason ? reason : "");
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    struct wb_kafka_delivery *dl = msg->_private;

    (void)opaque;
    /* Purged messages were dropped on purpose (abort_transaction, rd_kafka_purge). */
    if (msg->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || msg->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
        wb_dbg("kafka", FAC, "%s: message to %s purged", rd_kafka_name(rk),
               msg->rkt ? rd_kafka_topic_name(msg->rkt) : "?");
    else if (msg->err)
        wb_log(LOG_ERR, FAC, "%s: delivery to %s [%d] failed: %s", rd_kafka_name(rk),
               msg->rkt ? rd_kafka_topic_name(msg->rkt) : "?", (int)msg->partition,
               rd_kafka_err2str(msg->err));
    if (dl) {
        dl->err = msg->err;
        dl->partition = msg->partition;
        dl->offset = msg->offset;
        dl->done = 1;
    }
}

static rd_kafka_conf_t *conf_build(const char *const *role_defaults, const char *const *kv,
                                   char *errstr, size_t errsz)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    if (conf_apply(conf, common_defaults, errstr, errsz) != 0 ||
        conf_apply(conf, role_defaults, errstr, errsz) != 0 ||
        conf_apply(conf, kv, errstr, errsz) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    return conf;
}

rd_kafka_conf_t *wb_kafka_conf_new(const char *const *kv, char *errstr, size_t errsz)
{
    return conf_build(NULL, kv, errstr, errsz);
}

rd_kafka_conf_t *wb_kafka_producer_conf_new(const char *const *kv, char *errstr, size_t errsz)
{
    rd_kafka_conf_t *conf = conf_build(producer_defaults, kv, errstr, errsz);

    if (conf)
        rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    return conf;
}

rd_kafka_conf_t *wb_kafka_consumer_conf_new(const char *const *kv, const char *group_id,
                                            char *errstr, size_t errsz)
{
    rd_kafka_conf_t *conf = conf_build(consumer_defaults, kv, errstr, errsz);
    const char *const group_kv[] = {"group.id", group_id, NULL};
    char buf[256];
    size_t len = sizeof(buf);

    if (!conf)
        return NULL;
    if (group_id && conf_apply(conf, group_kv, errstr, errsz) != 0)
        goto fail;
    if (rd_kafka_conf_get(conf, "group.id", buf, &len) != RD_KAFKA_CONF_OK || buf[0] == '\0') {
        set_err(errstr, errsz, "kafka.group.id: a consumer needs a group id");
        goto fail;
    }
    rd_kafka_conf_set_rebalance_cb(conf, wb_kafka_rebalance_cb);
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

rd_kafka_t *wb_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, char *errstr, size_t errsz)
{
    char buf[512];
    rd_kafka_t *rk;

    if (!conf) {
        set_err(errstr, errsz, "no Kafka configuration");
        return NULL;
    }
    rk = rd_kafka_new(type, conf, buf, sizeof(buf));
    if (!rk) {
        /* rd_kafka_new keeps conf only on success; we always take it. */
        rd_kafka_conf_destroy(conf);
        set_err(errstr, errsz, "kafka: %s", buf);
        return NULL;
    }
    if (type == RD_KAFKA_CONSUMER)
        rd_kafka_poll_set_consumer(rk);
    return rk;
}

rd_kafka_t *wb_kafka_producer_new(const char *const *kv, char *errstr, size_t errsz)
{
    rd_kafka_conf_t *conf = wb_kafka_producer_conf_new(kv, errstr, errsz);

    return conf ? wb_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errsz) : NULL;
}

rd_kafka_t *wb_kafka_consumer_new(const char *const *kv, const char *group_id, char *errstr,
                                  size_t errsz)
{
    rd_kafka_conf_t *conf = wb_kafka_consumer_conf_new(kv, group_id, errstr, errsz);

    return conf ? wb_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errsz) : NULL;
}

rd_kafka_t *wb_kafka_reader_new(const char *const *kv, const char *group_id, char *errstr,
                                size_t errsz)
{
    const char *const reader_kv[] = {"group.id",
                                     group_id,
                                     "enable.auto.commit",
                                     "false",
                                     "enable.auto.offset.store",
                                     "false",
                                     "enable.partition.eof",
                                     "true",
                                     "isolation.level",
                                     "read_committed",
                                     NULL};
    rd_kafka_conf_t *conf = wb_kafka_conf_new(kv, errstr, errsz);

    if (conf && conf_apply(conf, reader_kv, errstr, errsz) != 0) {
        rd_kafka_conf_destroy(conf);
        conf = NULL;
    }
    return conf ? wb_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errsz) : NULL;
}

int wb_kafka_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms, char *errstr,
                        size_t errsz)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
    int n = -1;

    if (err)
        set_err(errstr, errsz, "metadata of topic %s: %s", topic, rd_kafka_err2str(err));
    else if (md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt == 0)
        set_err(errstr, errsz, "topic %s: %s", topic,
                md->topic_cnt == 1 && md->topics[0].err ? rd_kafka_err2str(md->topics[0].err)
                                                        : "does not exist");
    else
        n = md->topics[0].partition_cnt;
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return n;
}

void wb_kafka_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    int coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t ret = RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_resp_err_t cerr;

    (void)opaque;
    switch (err) {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
        /* Cooperative rounds that move nothing still call back, with an empty list. */
        wb_log(parts->cnt ? LOG_INFO : LOG_DEBUG, FAC, "%s: assigned %d partition(s)",
               rd_kafka_name(rk), parts->cnt);
        if (coop)
            error = rd_kafka_incremental_assign(rk, parts);
        else
            ret = rd_kafka_assign(rk, parts);
        break;
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
        wb_log(LOG_INFO, FAC, "%s: revoking %d partition(s)%s", rd_kafka_name(rk), parts->cnt,
               rd_kafka_assignment_lost(rk) ? " (assignment lost)" : "");
        /* A lost assignment belongs to someone else by now: committing would be refused and
         * could move offsets under the new owner. */
        if (!rd_kafka_assignment_lost(rk)) {
            cerr = rd_kafka_commit(rk, NULL, 0);
            if (cerr && cerr != RD_KAFKA_RESP_ERR__NO_OFFSET)
                wb_log(LOG_WARNING, FAC, "%s: commit on revoke failed: %s", rd_kafka_name(rk),
                       rd_kafka_err2str(cerr));
        }
        if (coop)
            error = rd_kafka_incremental_unassign(rk, parts);
        else
            ret = rd_kafka_assign(rk, NULL);
        break;
    default:
        wb_log(LOG_ERR, FAC, "%s: rebalance failed: %s", rd_kafka_name(rk), rd_kafka_err2str(err));
        ret = rd_kafka_assign(rk, NULL);
        break;
    }
    if (error) {
        wb_log(LOG_ERR, FAC, "%s: incremental rebalance step failed: %s", rd_kafka_name(rk),
               rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else if (ret) {
        wb_log(LOG_ERR, FAC, "%s: assign failed: %s", rd_kafka_name(rk), rd_kafka_err2str(ret));
    }
}

wb_err_t wb_kafka_produce(rd_kafka_t *rk, const char *topic, const void *key, size_t keylen,
                          const void *value, size_t len, const struct wb_kafka_header *hdrs,
                          size_t nhdrs, void *msg_opaque)
{
    rd_kafka_headers_t *headers = NULL;
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_vu_t vus[7];
    size_t n = 0, i;
    int tries;
    wb_err_t rc = WB_OK;

    if (!rk || !topic || !*topic || (!key && keylen) || (!value && len) || (!hdrs && nhdrs)) {
        wb_log(LOG_ERR, FAC, "produce: bad arguments (topic %s)", topic ? topic : "(null)");
        return WB_ERR_INVALID;
    }
    vus[n].vtype = RD_KAFKA_VTYPE_TOPIC;
    vus[n++].u.cstr = topic;
    vus[n].vtype = RD_KAFKA_VTYPE_KEY;
    vus[n].u.mem.ptr = (void *)key;
    vus[n++].u.mem.size = keylen;
    vus[n].vtype = RD_KAFKA_VTYPE_VALUE;
    vus[n].u.mem.ptr = (void *)value;
    vus[n++].u.mem.size = len;
    vus[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
    vus[n++].u.i = RD_KAFKA_MSG_F_COPY;
    vus[n].vtype = RD_KAFKA_VTYPE_OPAQUE;
    vus[n++].u.ptr = msg_opaque;
    if (nhdrs) {
        headers = rd_kafka_headers_new(nhdrs);
        for (i = 0; i < nhdrs; i++)
            rd_kafka_header_add(headers, hdrs[i].name, -1, hdrs[i].value,
                                hdrs[i].value ? (ssize_t)hdrs[i].len : 0);
        vus[n].vtype = RD_KAFKA_VTYPE_HEADERS;
        vus[n++].u.headers = headers;
    }

    /* A full local queue drains as deliveries complete: serve reports and try again. */
    for (tries = 0;; tries++) {
        error = rd_kafka_produceva(rk, vus, n);
        err = error ? rd_kafka_error_code(error) : RD_KAFKA_RESP_ERR_NO_ERROR;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || tries >= 100)
            break;
        rd_kafka_error_destroy(error);
        error = NULL;
        rd_kafka_poll(rk, 100);
    }
    if (!error) {
        headers = NULL; /* handed to the message */
        goto out;
    }
    rc = err == RD_KAFKA_RESP_ERR__QUEUE_FULL ? WB_ERR_TRANSIENT : wb_err_from_kafka(err);
    wb_log(LOG_ERR, FAC, "%s: produce to %s failed (%s): %s", rd_kafka_name(rk), topic,
           wb_err_name(rc), rd_kafka_error_string(error));
out:
    if (error)
        rd_kafka_error_destroy(error);
    if (headers)
        rd_kafka_headers_destroy(headers);
    return rc;
}

wb_err_t wb_kafka_flush(rd_kafka_t *rk, int timeout_ms)
{
    char buf[512];
    rd_kafka_resp_err_t err = rd_kafka_flush(rk, timeout_ms);
    rd_kafka_resp_err_t ferr = rd_kafka_fatal_error(rk, buf, sizeof(buf));

    if (ferr) {
        wb_log(LOG_ERR, FAC, "%s: producer failed fatally: %s: %s", rd_kafka_name(rk),
               rd_kafka_err2name(ferr), buf);
        return WB_ERR_FATAL;
    }
    if (err) {
        wb_log(LOG_WARNING, FAC, "%s: flush: %d message(s) still queued after %d ms",
               rd_kafka_name(rk), rd_kafka_outq_len(rk), timeout_ms);
        return WB_ERR_TRANSIENT;
    }
    return WB_OK;
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Non-zero when name has the expected partition count (any, if want < 0), all with leaders. */
static int topic_ready(rd_kafka_t *rk, rd_kafka_topic_t *rkt, int want, int timeout_ms)
{
    const struct rd_kafka_metadata *md = NULL;
    const struct rd_kafka_metadata_topic *t;
    int ok = 0, i;

    if (rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return 0;
    if (md->topic_cnt == 1) {
        t = &md->topics[0];
        ok = !t->err && t->partition_cnt > 0 && (want < 0 || t->partition_cnt == want);
        for (i = 0; ok && i < t->partition_cnt; i++)
            ok = !t->partitions[i].err && t->partitions[i].leader >= 0;
    }
    rd_kafka_metadata_destroy(md);
    return ok;
}

static wb_err_t create_error_class(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICA_ASSIGNMENT:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR_INVALID_REQUEST:
        return WB_ERR_FATAL;
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
        return WB_ERR_TRANSIENT;
    default:
        return wb_err_from_kafka(err);
    }
}

/* The NewTopic of name with its config pairs (name, value, ..., NULL), or NULL (logged). */
static rd_kafka_NewTopic_t *new_topic(const char *name, int partitions, const char *const *config)
{
    char buf[512];
    rd_kafka_NewTopic_t *nt = NULL;
    rd_kafka_resp_err_t err;
    size_t i;

    nt = rd_kafka_NewTopic_new(name, partitions, -1, buf, sizeof(buf));
    if (!nt) {
        wb_log(LOG_ERR, FAC, "create topic %s: %s", name, buf);
        goto out;
    }
    for (i = 0; config && config[i]; i += 2) {
        err = config[i + 1] ? rd_kafka_NewTopic_set_config(nt, config[i], config[i + 1])
                            : RD_KAFKA_RESP_ERR__INVALID_ARG;
        if (err) {
            wb_log(LOG_ERR, FAC, "create topic %s: setting %s: %s", name, config[i],
                   config[i + 1] ? rd_kafka_err2str(err) : "no value given");
            rd_kafka_NewTopic_destroy(nt);
            nt = NULL;
            goto out;
        }
    }

out:
    return nt;
}

/* Sends the CreateTopics request for nt and reads its answer: WB_OK when the topic was
 * created or already exists, else the class of the error (logged). */
static wb_err_t send_create(rd_kafka_t *rk, rd_kafka_NewTopic_t *nt, const char *name,
                            int partitions, int timeout_ms)
{
    char buf[512];
    rd_kafka_AdminOptions_t *opts = NULL;
    rd_kafka_queue_t *q = NULL;
    rd_kafka_event_t *ev = NULL;
    const rd_kafka_topic_result_t **res;
    rd_kafka_resp_err_t err;
    size_t cnt = 0;
    wb_err_t rc = WB_ERR_FATAL;

    opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    if (rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, buf, sizeof(buf)) ||
        rd_kafka_AdminOptions_set_operation_timeout(opts, timeout_ms, buf, sizeof(buf))) {
        wb_log(LOG_ERR, FAC, "create topic %s: %s", name, buf);
        goto out;
    }
    q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, opts, q);
    /* The request timeout guarantees a result event; the margin only covers scheduling. */
    ev = rd_kafka_queue_poll(q, timeout_ms + 5000);
    if (!ev) {
        wb_log(LOG_ERR, FAC, "create topic %s: no answer within %d ms", name, timeout_ms);
        rc = WB_ERR_TRANSIENT;
        goto out;
    }
    err = rd_kafka_event_error(ev);
    if (err) {
        rc = create_error_class(err);
        wb_log(LOG_ERR, FAC, "create topic %s: %s", name, rd_kafka_event_error_string(ev));
        goto out;
    }
    res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
    err = cnt == 1 ? rd_kafka_topic_result_error(res[0]) : RD_KAFKA_RESP_ERR__FAIL;
    if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        wb_dbg("kafka", FAC, "create topic %s: already exists", name);
    } else if (err) {
        rc = create_error_class(err);
        wb_log(LOG_ERR, FAC, "create topic %s: %s: %s", name, rd_kafka_err2name(err),
               cnt == 1 && rd_kafka_topic_result_error_string(res[0])
                   ? rd_kafka_topic_result_error_string(res[0])
                   : rd_kafka_err2str(err));
        goto out;
    } else {
        wb_log(LOG_INFO, FAC, "created topic %s (%d partitions)", name, partitions);
    }
    rc = WB_OK;

out:
    if (ev)
        rd_kafka_event_destroy(ev);
    if (q)
        rd_kafka_queue_destroy(q);
    if (opts)
        rd_kafka_AdminOptions_destroy(opts);
    return rc;
}

/* Waits until deadline (ms, now_ms clock) for every partition of name to have a leader:
 * CreateTopics answers before every broker has them. */
static wb_err_t wait_leaders(rd_kafka_t *rk, const char *name, int partitions, long long deadline,
                             int timeout_ms)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, name, NULL);
    long long left;
    wb_err_t rc;

    for (;;) {
        left = deadline - now_ms();
        if (left < 1)
            left = 1;
        if (topic_ready(rk, rkt, partitions, left > 2000 ? 2000 : (int)left)) {
            rc = WB_OK;
            break;
        }
        if (now_ms() >= deadline) {
            wb_log(LOG_ERR, FAC, "create topic %s: partitions without leaders after %d ms", name,
                   timeout_ms);
            rc = WB_ERR_TRANSIENT;
            break;
        }
        nanosleep(&(struct timespec){.tv_nsec = 50 * 1000 * 1000}, NULL);
    }
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    return rc;
}

wb_err_t wb_kafka_create_topic(rd_kafka_t *rk, const char *name, int partitions,
                               const char *const *config, int timeout_ms)
{
    rd_kafka_NewTopic_t *nt = NULL;
    long long deadline = now_ms() + timeout_ms;
    wb_err_t rc = WB_ERR_FATAL;

    if (!rk || !name || !*name || partitions == 0 || partitions < -1 || timeout_ms <= 0) {
        wb_log(LOG_ERR, FAC, "create topic %s: bad arguments (partitions %d, timeout %d ms)",
               name ? name : "(null)", partitions, timeout_ms);
        return WB_ERR_FATAL;
    }
    nt = new_topic(name, partitions, config);
    if (!nt)
        goto out;
    rc = send_create(rk, nt, name, partitions, timeout_ms);
    if (rc == WB_OK)
        rc = wait_leaders(rk, name, partitions, deadline, timeout_ms);

out:
    if (nt)
        rd_kafka_NewTopic_destroy(nt);
    return rc;
}

void wb_kafka_destroy(rd_kafka_t *rk)
{
    rd_kafka_resp_err_t err;

    if (!rk)
        return;
    if (rd_kafka_type(rk) == RD_KAFKA_CONSUMER) {
        err = rd_kafka_consumer_close(rk);
        if (err)
            wb_log(LOG_WARNING, FAC, "%s: close: %s", rd_kafka_name(rk), rd_kafka_err2str(err));
    }
    rd_kafka_destroy(rk);
}
