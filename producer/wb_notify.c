/*
 * wb_notify: the notification consumer and round trigger (wb_notify.h). Single-threaded: the
 * consumer is polled only while the main loop waits, so notifications that arrive during a
 * round wait in librdkafka's queue and become the one queued round when the wait starts.
 * Offsets are committed automatically: a notification lost in a crash costs nothing, because
 * the producer runs a round at start and every round reads the whole delta.
 */
#include "wb_notify.h"

#include "wb_kafka.h"
#include "wb_log.h"
#include "wb_mem.h"
#include "wb_signal.h"
#include "wb_state.h"
#include "wb_subscr.h"
#include "wb_time.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STATUS_EVERY_MS    5000
#define RETRY_UPKEEP_MS    60000
#define ERROR_LOG_EVERY_MS 60000

struct wb_notify_s {
    wb_subscr_t *sub;
    rd_kafka_t *c;      /* the Event Hub's Kafka endpoint */
    rd_kafka_t *status; /* our cluster: the <tenant>/notify record */
    char *status_topic, *status_key;
    char *hub, *lhub;
    char *client_state;
    int64_t check_ms, coalesce_ms;
    int64_t next_check;   /* monotonic ms of the next subscription read-back */
    bool reauth;          /* renew at the next upkeep (reauthorizationRequired) */
    int64_t last_note_ms; /* wall clock of the last accepted notification, 0: none */
    unsigned long accepted, forged, dropped, lifecycle;
    unsigned long rounds[3]; /* by wb_notify_trigger */
    const char *last_error;  /* class of the last failed upkeep, NULL when it succeeded */
    bool dirty;
    int64_t status_at; /* monotonic ms of the last status record */
    int64_t errlog_at; /* monotonic ms of the last consumer error line */
    wb_metric_t *m_notes, *m_lifecycle, *m_rounds, *m_expiry, *m_last, *m_errors;
};

static const char *const trigger_name[] = {"poll", "notification", "lifecycle"};

static void count(wb_metric_t *m, const char *label, double by)
{
    const char *v[] = {label};

    if (m)
        wb_metrics_inc(m, v, by);
}

/* One failure of the hub's consumer: counted, logged at most once a minute with what to check. */
static void hub_error(wb_notify_t *n, const char *what)
{
    count(n->m_errors, "consumer", 1);
    if (n->errlog_at && wb_time_mono_ms() - n->errlog_at < ERROR_LOG_EVERY_MS)
        return;
    n->errlog_at = wb_time_mono_ms();
    wb_log(LOG_ERR, "NOTIFY",
           "event hub %s: %s; notifications do not arrive, changes wait for the poll; check "
           "notify.bootstrap_servers, notify.connection_string_file (Listen right) and "
           "notify.ca_file",
           n->hub, what);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    char buf[512], fatal[256];

    /* one dropped connection (Event Hubs closes idle ones) is retried by librdkafka; all of
     * them down (__ALL_BROKERS_DOWN) is reported */
    if (err == RD_KAFKA_RESP_ERR__TRANSPORT) {
        wb_dbg("kafka", "NOTIFY", "%s: %s", rd_kafka_name(rk), reason ? reason : "");
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
        reason = fatal;
    }
    snprintf(buf, sizeof(buf), "%s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err),
             reason ? reason : "");
    hub_error(opaque, buf);
}

/* The block's own consistency, before anything connects; false with the reason in errstr. */
static bool conf_ok(const wb_conf_t *conf, const char *conn, const char *cs, char *errstr,
                    size_t errsz)
{
    if (!conn || !cs || !*cs) {
        snprintf(errstr, errsz,
                 "notify.enabled needs notify.connection_string_file and "
                 "notify.client_state_file");
        return false;
    }
    if (strlen(cs) > 128) {
        snprintf(errstr, errsz, "notify.client_state_file: Graph takes at most 128 characters");
        return false;
    }
    if (wb_conf_get_int(conf, "notify.renew_before_minutes") >=
        wb_conf_get_int(conf, "notify.expiration_minutes")) {
        snprintf(errstr, errsz,
                 "notify.renew_before_minutes must be below notify.expiration_minutes");
        return false;
    }
    return true;
}

/* The Event Hub consumer's configuration: Event Hubs' Kafka endpoint with the connection
 * string (SASL_SSL, PLAIN, user name "$ConnectionString"); NULL with errstr on failure. */
static rd_kafka_conf_t *hub_conf(const wb_conf_t *conf, const char *conn, char *errstr,
                                 size_t errsz)
{
    const char *bs = wb_conf_get_str(conf, "notify.bootstrap_servers");
    const char *ca = wb_conf_get_str(conf, "notify.ca_file");
    char *bsdef = NULL;
    const char *kv[32];
    const char *const *ck;
    rd_kafka_conf_t *kc;
    size_t k = 0;

    if (!bs || !*bs)
        bs = bsdef = wb_asprintf("%s:9093", wb_conf_get_str(conf, "notify.namespace"));
    kv[k++] = "bootstrap.servers", kv[k++] = bs;
    kv[k++] = "security.protocol", kv[k++] = "SASL_SSL";
    kv[k++] = "sasl.mechanisms", kv[k++] = "PLAIN";
    kv[k++] = "sasl.username", kv[k++] = "$ConnectionString";
    kv[k++] = "sasl.password", kv[k++] = conn;
    if (ca && *ca)
        kv[k++] = "ssl.ca.location", kv[k++] = ca;
    /* a new consumer group starts at the oldest notification: at worst one extra round */
    kv[k++] = "auto.offset.reset", kv[k++] = "earliest";
    kv[k++] = "enable.auto.offset.store", kv[k++] = "true";
    /* a long round (an initial sync) must not cost the group membership */
    kv[k++] = "max.poll.interval.ms", kv[k++] = "86400000";
    kv[k++] = "client.id", kv[k++] = "writeback-producer-notify";
    for (ck = wb_conf_kafka_kv(conf); ck && ck[0] && ck[1]; ck += 2)
        if (strcmp(ck[0], "debug") == 0) /* kafka.debug: the hub's connection too */
            kv[k++] = "debug", kv[k++] = ck[1];
    kv[k] = NULL;
    kc = wb_kafka_consumer_conf_new(kv, wb_conf_get_str(conf, "notify.consumer_group"), errstr,
                                    errsz);
    free(bsdef);
    return kc;
}

static void register_metrics(wb_notify_t *n, wb_metrics_t *metrics)
{
    static const char *const l_out[] = {"outcome"}, *const l_ev[] = {"event"},
                             *const l_tr[] = {"trigger"};

    n->m_notes = wb_metrics_counter(
        metrics, "writeback_producer_notifications_total",
        "Change notifications read from the Event Hub by outcome: accepted (a round was "
        "triggered), forged (wrong clientState), dropped (malformed or not about groups)",
        1, l_out);
    n->m_lifecycle =
        wb_metrics_counter(metrics, "writeback_producer_notify_lifecycle_total",
                           "Lifecycle notifications with our clientState by event", 1, l_ev);
    n->m_rounds = wb_metrics_counter(metrics, "writeback_producer_notify_rounds_total",
                                     "Delta rounds started, by what started them", 1, l_tr);
    n->m_expiry = wb_metrics_gauge(
        metrics, "writeback_producer_notify_subscription_expiry_seconds",
        "Seconds until the change-notification subscription expires (0: none held)", 0, NULL);
    n->m_last = wb_metrics_gauge(
        metrics, "writeback_producer_notify_last_notification_timestamp_seconds",
        "Unix time of the last accepted change notification (0: none yet)", 0, NULL);
    n->m_errors = wb_metrics_counter(
        metrics, "writeback_producer_notify_errors_total",
        "Failures of subscription upkeep (subscription) and of the Event Hub consumer "
        "(consumer)",
        1, (const char *const[]){"where"});
}

wb_notify_t *wb_notify_new(const wb_conf_t *conf, wb_metrics_t *metrics, char *errstr, size_t errsz)
{
    const char *conn = wb_conf_secret(conf, "notify.connection_string_file");
    const char *cs = wb_conf_secret(conf, "notify.client_state_file");
    const char *lhub = wb_conf_get_str(conf, "notify.lifecycle_hub");
    rd_kafka_conf_t *kc;
    wb_notify_t *n;

    if (!conf_ok(conf, conn, cs, errstr, errsz))
        return NULL;
    n = wb_calloc(1, sizeof(*n));
    n->sub = wb_subscr_new(conf, cs, metrics, errstr, errsz);
    if (!n->sub)
        goto fail;
    kc = hub_conf(conf, conn, errstr, errsz);
    if (!kc)
        goto fail;
    /* the hub's errors (authentication, TLS, unreachable) come through here, not as messages */
    rd_kafka_conf_set_error_cb(kc, error_cb);
    rd_kafka_conf_set_opaque(kc, n);
    n->c = wb_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, errsz);
    if (!n->c)
        goto fail;
    n->status = wb_kafka_producer_new(wb_conf_kafka_kv(conf), errstr, errsz);
    if (!n->status)
        goto fail;
    n->status_topic = wb_strdup(wb_conf_get_str(conf, "topic.state"));
    n->status_key = wb_asprintf("%s/%s", wb_conf_get_str(conf, "tenant"), WB_STATE_NOTIFY);
    n->hub = wb_strdup(wb_conf_get_str(conf, "notify.hub"));
    n->lhub = wb_strdup(lhub && *lhub ? lhub : n->hub);
    n->client_state = wb_strdup(cs);
    n->check_ms = wb_conf_get_int(conf, "notify.check_interval_ms");
    n->coalesce_ms = wb_conf_get_int(conf, "notify.coalesce_ms");
    n->dirty = true;
    if (metrics)
        register_metrics(n, metrics);
    return n;
fail:
    wb_notify_destroy(n);
    return NULL;
}

void wb_notify_destroy(wb_notify_t *n)
{
    if (!n)
        return;
    if (n->c) {
        rd_kafka_consumer_close(n->c);
        wb_kafka_destroy(n->c);
    }
    if (n->status) {
        rd_kafka_flush(n->status, 2000);
        wb_kafka_destroy(n->status);
    }
    wb_subscr_destroy(n->sub);
    if (n->client_state) {
        explicit_bzero(n->client_state, strlen(n->client_state));
        free(n->client_state);
    }
    free(n->status_topic);
    free(n->status_key);
    free(n->hub);
    free(n->lhub);
    free(n);
}

/* Constant time in the length of the expected secret: a forger learns nothing from timing. */
static bool same_secret(const char *got, const char *want)
{
    size_t glen = strlen(got), wlen = strlen(want), i;
    unsigned char d = glen != wlen;

    for (i = 0; i < wlen; i++)
        d |= (unsigned char)(want[i] ^ (i < glen ? got[i] : 0));
    return d == 0;
}

static void iso_utc(int64_t ms, char *out, size_t outsz)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    if (ms <= 0) {
        snprintf(out, outsz, "%s", "");
        return;
    }
    gmtime_r(&t, &tm);
    strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void publish_status(wb_notify_t *n)
{
    cJSON *j = cJSON_CreateObject(), *c;
    char exp[32], last[32];
    char *v;
    int i;

    iso_utc(wb_subscr_expiry_ms(n->sub), exp, sizeof(exp));
    iso_utc(n->last_note_ms, last, sizeof(last));
    cJSON_AddNumberToObject(j, "v", 1);
    cJSON_AddStringToObject(j, "subscriptionId", wb_subscr_id(n->sub));
    cJSON_AddStringToObject(j, "expirationDateTime", exp);
    cJSON_AddStringToObject(j, "lastNotification", last);
    cJSON_AddStringToObject(j, "notificationUrl", wb_subscr_url(n->sub));
    c = cJSON_AddObjectToObject(j, "notifications");
    cJSON_AddNumberToObject(c, "accepted", (double)n->accepted);
    cJSON_AddNumberToObject(c, "forged", (double)n->forged);
    cJSON_AddNumberToObject(c, "dropped", (double)n->dropped);
    cJSON_AddNumberToObject(c, "lifecycle", (double)n->lifecycle);
    c = cJSON_AddObjectToObject(j, "rounds");
    for (i = 0; i < 3; i++)
        cJSON_AddNumberToObject(c, trigger_name[i], (double)n->rounds[i]);
    if (n->last_error)
        cJSON_AddStringToObject(j, "upkeepError", n->last_error);
    cJSON_AddNumberToObject(j, "updatedMs", (double)wb_time_now_ms());
    v = cJSON_PrintUnformatted(j);
    if (rd_kafka_producev(n->status, RD_KAFKA_V_TOPIC(n->status_topic),
                          RD_KAFKA_V_KEY(n->status_key, strlen(n->status_key)),
                          RD_KAFKA_V_VALUE(v, strlen(v)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        n->dirty = false;
        n->status_at = wb_time_mono_ms();
    }
    free(v);
    cJSON_Delete(j);
}

static void upkeep(wb_notify_t *n, bool check, enum wb_notify_trigger *trig)
{
    bool created = false;
    wb_err_t err;

    err = wb_subscr_ensure(n->sub, check, n->reauth, &created);
    n->next_check = wb_time_mono_ms() + (err == WB_OK                    ? n->check_ms
                                         : n->check_ms < RETRY_UPKEEP_MS ? n->check_ms
                                                                         : RETRY_UPKEEP_MS);
    n->last_error = err == WB_OK ? NULL : wb_err_name(err);
    if (err != WB_OK)
        count(n->m_errors, "subscription", 1);
    else
        n->reauth = false;
    if (created)
        *trig = WB_NOTIFY_LIFECYCLE;
    if (n->m_expiry) {
        int64_t e = wb_subscr_expiry_ms(n->sub), left = e ? (e - wb_time_now_ms()) / 1000 : 0;

        wb_metrics_set(n->m_expiry, NULL, (double)(left > 0 ? left : 0));
    }
    n->dirty = true;
}

void wb_notify_start(wb_notify_t *n)
{
    enum wb_notify_trigger t = WB_NOTIFY_POLL;
    rd_kafka_topic_partition_list_t *tl = rd_kafka_topic_partition_list_new(2);
    rd_kafka_resp_err_t e;

    rd_kafka_topic_partition_list_add(tl, n->hub, RD_KAFKA_PARTITION_UA);
    if (strcmp(n->lhub, n->hub) != 0)
        rd_kafka_topic_partition_list_add(tl, n->lhub, RD_KAFKA_PARTITION_UA);
    e = rd_kafka_subscribe(n->c, tl);
    if (e)
        wb_log(LOG_ERR, "NOTIFY", "cannot subscribe to event hub %s: %s", n->hub,
               rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(tl);
    upkeep(n, false, &t);
}

/* One change or lifecycle notification of a message's "value" array. */
static void one(wb_notify_t *n, const cJSON *it, enum wb_notify_trigger *want)
{
    const cJSON *cs = cJSON_GetObjectItemCaseSensitive(it, "clientState");
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(it, "lifecycleEvent");
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(it, "resource");
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(it, "changeType");
    const cJSON *sid = cJSON_GetObjectItemCaseSensitive(it, "subscriptionId");

    if (!cJSON_IsObject(it)) {
        n->dropped++;
        count(n->m_notes, "dropped", 1);
        return;
    }
    if (!cJSON_IsString(cs) || !same_secret(cs->valuestring, n->client_state)) {
        n->forged++;
        count(n->m_notes, "forged", 1);
        wb_log(LOG_WARNING, "NOTIFY",
               "dropped a notification with a wrong clientState (subscription %.64s): someone "
               "else can write event hub %s; check who holds its Send right",
               cJSON_IsString(sid) ? sid->valuestring : "?", n->hub);
        return;
    }
    if (cJSON_IsString(ev)) {
        const char *e = ev->valuestring;

        if (strcmp(e, "reauthorizationRequired") == 0) {
            n->reauth = true;
            n->next_check = 0; /* renew (PATCH) before the round */
        } else if (strcmp(e, "subscriptionRemoved") == 0) {
            n->next_check = 0; /* create it again before the round */
            wb_subscr_forget(n->sub, cJSON_IsString(sid) ? sid->valuestring : NULL);
        } else if (strcmp(e, "missed") != 0) {
            n->dropped++;
            count(n->m_notes, "dropped", 1);
            return;
        }
        wb_log(LOG_NOTICE, "NOTIFY", "lifecycle notification %s for subscription %.64s", e,
               cJSON_IsString(sid) ? sid->valuestring : "?");
        n->lifecycle++;
        count(n->m_lifecycle, e, 1);
        *want = WB_NOTIFY_LIFECYCLE;
        return;
    }
    /* Graph names the resource "Groups/<id>" */
    if (!cJSON_IsString(res) || strncasecmp(res->valuestring, "groups", 6) != 0 ||
        !cJSON_IsString(ct)) {
        n->dropped++;
        count(n->m_notes, "dropped", 1);
        return;
    }
    n->accepted++;
    count(n->m_notes, "accepted", 1);
    n->last_note_ms = wb_time_now_ms();
    if (n->m_last)
        wb_metrics_set(n->m_last, NULL, (double)n->last_note_ms / 1000.0);
    if (*want == WB_NOTIFY_POLL)
        *want = WB_NOTIFY_CHANGE;
}

static void message(wb_notify_t *n, const rd_kafka_message_t *m, enum wb_notify_trigger *want)
{
    cJSON *j, *it;
    const cJSON *v;

    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            hub_error(n, rd_kafka_message_errstr(m));
        return;
    }
    n->dirty = true;
    j = m->payload ? cJSON_ParseWithLength(m->payload, m->len) : NULL;
    v = j ? cJSON_GetObjectItemCaseSensitive(j, "value") : NULL;
    if (!cJSON_IsArray(v)) {
        n->dropped++;
        count(n->m_notes, "dropped", 1);
        wb_log(LOG_WARNING, "NOTIFY",
               "dropped a message on %s at offset %lld: not Graph's "
               "{\"value\":[...]} notification JSON",
               rd_kafka_topic_name(m->rkt), (long long)m->offset);
        cJSON_Delete(j);
        return;
    }
    cJSON_ArrayForEach(it, v) one(n, it, want);
    cJSON_Delete(j);
}

enum wb_notify_trigger wb_notify_wait(wb_notify_t *n, int64_t ms, wb_http_t *http)
{
    int64_t now = wb_time_mono_ms(), deadline = now + ms, due = 0;
    enum wb_notify_trigger want = WB_NOTIFY_POLL;

    for (;;) {
        int64_t until;
        rd_kafka_message_t *m;

        if (wb_signal_stop_requested())
            return WB_NOTIFY_STOP;
        now = wb_time_mono_ms();
        if (now >= n->next_check)
            upkeep(n, true, &want);
        if (want != WB_NOTIFY_POLL && !due)
            due = now + (want == WB_NOTIFY_LIFECYCLE ? 0 : n->coalesce_ms);
        if (n->dirty && now - n->status_at >= STATUS_EVERY_MS)
            publish_status(n);
        rd_kafka_poll(n->status, 0);
        if (due && now >= due)
            break;
        if (now >= deadline) {
            want = WB_NOTIFY_POLL;
            break;
        }
        until = due ? due : deadline;
        if (n->next_check < until)
            until = n->next_check;
        if (until - now > 1000)
            until = now + 1000;
        if (http)
            wb_http_set_alive(http);
        m = rd_kafka_consumer_poll(n->c, (int)(until > now ? until - now : 0));
        if (m) {
            message(n, m, &want);
            rd_kafka_message_destroy(m);
        }
    }
    n->rounds[want]++;
    count(n->m_rounds, trigger_name[want], 1);
    n->dirty = true;
    return want;
}
