/*
 * wb_graph: libcurl requests to Graph and the token endpoint. Errors are classified here,
 * where the HTTP status and Graph's error code are known, so callers only decide between
 * "retry the round later", "resync" and "exit". Waits between retries poll the signal pipe,
 * so SIGTERM never waits out a long Retry-After.
 */
#include "wb_graph.h"

#include "wb_backoff.h"
#include "wb_event.h"
#include "wb_log.h"
#include "wb_mem.h"
#include "wb_signal.h"
#include "wb_url.h"

#include <curl/curl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define TOKEN_SCOPE "https://graph.microsoft.com/.default"
/* A Retry-After longer than this is cut to it: an operator would rather see a retry. */
#define MAX_RETRY_AFTER_MS 300000

struct buf {
    char *data;
    size_t len, cap;
    int toobig;
};

struct wb_graph_s {
    CURL *curl;
    char *authority, *endpoint, *tenant_id, *client_id, *client_secret, *ca_file;
    long timeout_ms;
    int max_retries;
    struct wb_backoff backoff;
    char *token;
    time_t token_renew_at;
    unsigned long requests;
    wb_metrics_t *metrics;
    wb_metric_t *m_requests, *m_throttle, *m_throttle_s, *m_refused, *m_fresh401;
    /* headers of the last response */
    char retry_after[64];
};

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct buf *b = userdata;
    size_t n = size * nmemb;

    if (b->len + n + 1 > WB_GRAPH_MAX_BODY) {
        b->toobig = 1;
        return 0;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;

        while (cap < b->len + n + 1)
            cap *= 2;
        b->data = wb_realloc(b->data, cap);
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

static size_t header_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    wb_graph_t *g = userdata;
    size_t n = size * nmemb;

    if (n > 12 && strncasecmp(ptr, "Retry-After:", 12) == 0) {
        size_t len = n - 12;
        const char *v = ptr + 12;

        while (len && (*v == ' ' || *v == '\t'))
            v++, len--;
        while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
            len--;
        if (len >= sizeof(g->retry_after))
            len = sizeof(g->retry_after) - 1;
        memcpy(g->retry_after, v, len);
        g->retry_after[len] = '\0';
    }
    return n;
}

void wb_graph_opts_from_conf(const wb_conf_t *conf, struct wb_graph_opts *go)
{
    memset(go, 0, sizeof(*go));
    go->authority = wb_conf_get_str(conf, "graph.authority");
    go->endpoint = wb_conf_get_str(conf, "graph.endpoint");
    go->tenant_id = wb_conf_get_str(conf, "graph.tenant_id");
    go->client_id = wb_conf_get_str(conf, "graph.client_id");
    go->client_secret = wb_conf_secret(conf, "graph.client_secret_file");
    go->ca_file = wb_conf_get_str(conf, "graph.ca_file");
    go->timeout_ms = (long)wb_conf_get_int(conf, "graph.page_timeout_ms");
    go->max_retries = (int)wb_conf_get_int(conf, "graph.max_retries");
}

wb_graph_t *wb_graph_new(const struct wb_graph_opts *o, char *errstr, size_t errsz)
{
    static const char *const lbl[] = {"status"};
    wb_graph_t *g;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    g = wb_calloc(1, sizeof(*g));
    g->curl = curl_easy_init();
    if (!g->curl) {
        snprintf(errstr, errsz, "curl_easy_init failed");
        free(g);
        return NULL;
    }
    g->authority = wb_strdup(o->authority);
    g->endpoint = wb_strdup(o->endpoint);
    g->tenant_id = wb_strdup(o->tenant_id);
    g->client_id = wb_strdup(o->client_id);
    g->client_secret = wb_strdup(o->client_secret ? o->client_secret : "");
    g->ca_file = o->ca_file ? wb_strdup(o->ca_file) : NULL;
    g->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 60000;
    g->max_retries = o->max_retries;
    wb_backoff_init(&g->backoff, o->backoff_base_ms ? o->backoff_base_ms : 500, 60000,
                    WB_BACKOFF_FULL);
    g->metrics = o->metrics;
    if (g->metrics) {
        g->m_requests = wb_metrics_counter(g->metrics, "writeback_producer_graph_requests_total",
                                           "Graph and token requests by HTTP status (0: network "
                                           "error)",
                                           1, lbl);
        g->m_throttle = wb_metrics_counter(g->metrics, "writeback_producer_throttle_waits_total",
                                           "Waits after 429/503 answers", 0, NULL);
        g->m_throttle_s =
            wb_metrics_counter(g->metrics, "writeback_producer_throttle_wait_seconds_total",
                               "Seconds spent waiting after 429/503 answers", 0, NULL);
        g->m_refused = wb_metrics_counter(g->metrics, "writeback_producer_links_refused_total",
                                          "Links (nextLink, deltaLink, checkpoint) and token URLs "
                                          "refused because they leave graph.endpoint or "
                                          "graph.authority; nothing was sent to them",
                                          0, NULL);
        g->m_fresh401 = wb_metrics_counter(
            g->metrics, "writeback_producer_token_rejected_total",
            "HTTP 401 answers to a token renewed right before (clock skew, replication delay, "
            "revoked credentials); each is renewed again after a backoff",
            0, NULL);
    }
    return g;
}

void wb_graph_destroy(wb_graph_t *g)
{
    if (!g)
        return;
    curl_easy_cleanup(g->curl);
    free(g->authority);
    free(g->endpoint);
    free(g->tenant_id);
    free(g->client_id);
    if (g->client_secret) {
        memset(g->client_secret, 0, strlen(g->client_secret));
        free(g->client_secret);
    }
    free(g->ca_file);
    free(g->token);
    free(g);
}

void wb_graph_forget_token(wb_graph_t *g)
{
    free(g->token);
    g->token = NULL;
}

unsigned long wb_graph_requests(const wb_graph_t *g)
{
    return g->requests;
}

/* Sleeps ms unless a stop is requested; returns false when stopped. */
static bool wait_ms(long long ms)
{
    struct pollfd pfd = {wb_signal_fd(), POLLIN, 0};
    long long end = now_ms() + ms;

    while (!wb_signal_stop_requested()) {
        long long left = end - now_ms();

        if (left <= 0)
            return true;
        if (pfd.fd >= 0)
            poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
        else
            poll(NULL, 0, (int)(left > 1000 ? 1000 : left));
    }
    return false;
}

/* Retry-After as milliseconds (seconds or an HTTP date), or -1. */
static long long retry_after_ms(const char *v)
{
    char *end = NULL;
    long long s;
    time_t t;

    if (!*v)
        return -1;
    s = strtoll(v, &end, 10);
    if (end != v && *end == '\0' && s >= 0)
        return s * 1000 > MAX_RETRY_AFTER_MS ? MAX_RETRY_AFTER_MS : s * 1000;
    t = curl_getdate(v, NULL);
    if (t < 0)
        return -1;
    s = ((long long)t - (long long)time(NULL)) * 1000;
    if (s < 0)
        s = 0;
    return s > MAX_RETRY_AFTER_MS ? MAX_RETRY_AFTER_MS : s;
}

/* One HTTP exchange. Returns the curl code; *status and body filled. */
static CURLcode perform(wb_graph_t *g, const char *method, const char *url, struct curl_slist *hdrs,
                        const char *body, struct buf *b, long *status)
{
    CURL *c = g->curl;
    CURLcode cc;

    curl_easy_reset(c);
    g->retry_after[0] = '\0';
    b->len = 0;
    b->toobig = 0;
    if (b->data)
        b->data[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, g);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, g->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, g->timeout_ms < 10000 ? g->timeout_ms : 10000);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "writeback-producer/" WB_VERSION);
    if (g->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, g->ca_file);
    if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        if (strcmp(method, "POST") != 0) /* PATCH, DELETE (subscriptions) */
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    g->requests++;
    cc = curl_easy_perform(c);
    *status = 0;
    if (cc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    if (g->m_requests) {
        char s[16];
        const char *v[] = {s};

        snprintf(s, sizeof(s), "%ld", *status);
        wb_metrics_inc(g->m_requests, v, 1);
    }
    return cc;
}

/* Graph's {"error": {"code", "message"}} or the token endpoint's {"error", "error_description"}
 * in short, for logs. */
static void error_text(const struct buf *b, char *code, size_t codesz, char *msg, size_t msgsz)
{
    cJSON *j = b->len ? cJSON_ParseWithLength(b->data, b->len) : NULL;
    const cJSON *e = j ? cJSON_GetObjectItemCaseSensitive(j, "error") : NULL;
    const cJSON *c = NULL, *m = NULL;

    snprintf(code, codesz, "%s", "");
    snprintf(msg, msgsz, "%s", "");
    if (cJSON_IsObject(e)) {
        c = cJSON_GetObjectItemCaseSensitive(e, "code");
        m = cJSON_GetObjectItemCaseSensitive(e, "message");
    } else if (cJSON_IsString(e)) {
        c = e;
        m = cJSON_GetObjectItemCaseSensitive(j, "error_description");
    }
    if (cJSON_IsString(c))
        snprintf(code, codesz, "%s", c->valuestring);
    if (cJSON_IsString(m)) {
        size_t i;

        snprintf(msg, msgsz, "%s", m->valuestring);
        /* token endpoint descriptions carry "\r\nTrace ID: ..." lines */
        for (i = 0; msg[i]; i++)
            if (msg[i] == '\r' || msg[i] == '\n') {
                msg[i] = '\0';
                break;
            }
    }
    cJSON_Delete(j);
}

/* Counts a throttling wait and sleeps; false when stopped. */
static bool throttle_wait(wb_graph_t *g, long long ms)
{
    if (g->m_throttle) {
        wb_metrics_inc(g->m_throttle, NULL, 1);
        wb_metrics_inc(g->m_throttle_s, NULL, (double)ms / 1000.0);
    }
    return wait_ms(ms);
}

/* The token endpoint of g's tenant under graph.authority, or NULL (logged, counted) when the
 * result would leave it. tenant_id is checked at start (a GUID or a domain name); the same
 * origin rule as for Graph links keeps the client secret on graph.authority whatever the text
 * holds. Caller-owned. */
static char *token_url(wb_graph_t *g)
{
    char *path = wb_asprintf("/%s/oauth2/v2.0/token", g->tenant_id), *url, why[160];

    url = wb_url_resolve(g->authority, path, why, sizeof(why));
    free(path);
    if (!url) {
        wb_log(LOG_ERR, "GRAPH", "refusing the token URL under graph.authority %s: %s",
               g->authority, why);
        if (g->m_refused)
            wb_metrics_inc(g->m_refused, NULL, 1);
    }
    return url;
}

/* The client-credentials form (it holds the secret: free with free_secret). */
static char *token_form(wb_graph_t *g)
{
    char *e_id = curl_easy_escape(g->curl, g->client_id, 0);
    char *e_sec = curl_easy_escape(g->curl, g->client_secret, 0);
    char *e_scope = curl_easy_escape(g->curl, TOKEN_SCOPE, 0);
    char *form = wb_asprintf("client_id=%s&scope=%s&client_secret=%s&grant_type=client_credentials",
                             e_id, e_scope, e_sec);

    curl_free(e_id);
    if (e_sec)
        memset(e_sec, 0, strlen(e_sec));
    curl_free(e_sec);
    curl_free(e_scope);
    return form;
}

/* Overwrites a string that held a secret, then frees it. NULL is a no-op. */
static void free_secret(char *s)
{
    if (s) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

/* Takes the access token of a 200 answer of the token endpoint; false when it has none. */
static bool take_token(wb_graph_t *g, const struct buf *b)
{
    cJSON *j = cJSON_ParseWithLength(b->data, b->len);
    const cJSON *tok = j ? cJSON_GetObjectItemCaseSensitive(j, "access_token") : NULL;
    const cJSON *exp = j ? cJSON_GetObjectItemCaseSensitive(j, "expires_in") : NULL;
    long long life, margin;

    if (!cJSON_IsString(tok) || !*tok->valuestring) {
        cJSON_Delete(j);
        return false;
    }
    life = cJSON_IsNumber(exp)   ? (long long)exp->valuedouble
           : cJSON_IsString(exp) ? atoll(exp->valuestring)
                                 : 3599;
    margin = life / 2 < 300 ? life / 2 : 300;
    free(g->token);
    g->token = wb_strdup(tok->valuestring);
    wb_log_secret(g->token);
    g->token_renew_at = time(NULL) + (time_t)(life - margin);
    wb_dbg("graph", "GRAPH", "token acquired, valid %lld s", life);
    cJSON_Delete(j);
    return true;
}

static wb_err_t fetch_token(wb_graph_t *g)
{
    struct buf b = {NULL, 0, 0, 0};
    struct curl_slist *hdrs = NULL;
    char *url = token_url(g), *form = NULL;
    wb_err_t err = WB_ERR_TRANSIENT;
    int attempt;

    if (!url) {
        err = WB_ERR_FATAL;
        goto out;
    }
    form = token_form(g);
    hdrs = curl_slist_append(hdrs, "Content-Type: application/x-www-form-urlencoded");
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    wb_backoff_reset(&g->backoff);
    for (attempt = 0; attempt <= g->max_retries; attempt++) {
        long status = 0;
        CURLcode cc = perform(g, "POST", url, hdrs, form, &b, &status);
        char code[128], msg[512];

        if (cc != CURLE_OK) {
            wb_log(LOG_WARNING, "GRAPH", "token request to %s failed: %s", g->authority,
                   curl_easy_strerror(cc));
        } else if (status == 200) {
            if (take_token(g, &b)) {
                err = WB_OK;
                goto out;
            }
            wb_log(LOG_WARNING, "GRAPH", "token endpoint answered 200 without access_token");
        } else {
            error_text(&b, code, sizeof(code), msg, sizeof(msg));
            if (status == 400 || status == 401 || status == 403) {
                wb_log(LOG_ERR, "GRAPH",
                       "token endpoint refused the client credentials: HTTP %ld %s: %s", status,
                       code, msg);
                err = WB_ERR_FATAL;
                goto out;
            }
            wb_log(LOG_WARNING, "GRAPH", "token endpoint answered HTTP %ld %s: %s", status, code,
                   msg);
            if (status == 429 || status == 503) {
                long long ra = retry_after_ms(g->retry_after);

                if (attempt < g->max_retries &&
                    !throttle_wait(g, ra >= 0 ? ra : (long long)wb_backoff_next(&g->backoff)))
                    goto out;
                continue;
            }
        }
        if (attempt < g->max_retries && !wait_ms((long long)wb_backoff_next(&g->backoff)))
            goto out;
    }
    wb_log(LOG_ERR, "GRAPH", "no token after %d attempts", g->max_retries + 1);
out:
    curl_slist_free_all(hdrs);
    free_secret(form);
    free(url);
    free(b.data);
    return err;
}

bool wb_graph_page_ok(const cJSON *j, unsigned check, const char **why)
{
    const cJSON *v, *next, *delta;

    if (!cJSON_IsObject(j)) {
        *why = "not a JSON object";
        return false;
    }
    if (check == WB_GRAPH_OBJECT)
        return true;
    v = cJSON_GetObjectItemCaseSensitive(j, "value");
    if (!cJSON_IsArray(v)) {
        *why = "no value array";
        return false;
    }
    next = cJSON_GetObjectItemCaseSensitive(j, "@odata.nextLink");
    delta = cJSON_GetObjectItemCaseSensitive(j, "@odata.deltaLink");
    if ((next && !cJSON_IsString(next)) || (delta && !cJSON_IsString(delta))) {
        *why = "link is not a string";
        return false;
    }
    if (check == WB_GRAPH_DELTA && !next == !delta) {
        *why = next ? "both nextLink and deltaLink" : "neither nextLink nor deltaLink";
        return false;
    }
    return true;
}

/* Graph error codes that mean the delta state behind a link is gone, whatever the status:
 * syncStateNotFound (expired token, documented with 400), resyncRequired (the code of the
 * documented 410), syncStateInvalid (seen with 410 as well). */
static bool sync_state_lost(const char *code)
{
    return strcmp(code, "syncStateNotFound") == 0 || strcmp(code, "resyncRequired") == 0 ||
           strcmp(code, "syncStateInvalid") == 0;
}

/* Only the path and query of a link are logged: tokens are opaque but long. */
static const char *short_url(const char *url)
{
    const char *p = strstr(url, "/v1.0/");

    return p ? p : url;
}

/* What wb_graph_request does after one answer. */
enum next {
    NEXT_DONE,    /* finished: the request's err is the result */
    NEXT_RENEW,   /* send again at once with a new token, not counted as an attempt */
    NEXT_AGAIN,   /* send again now (any wait is done) */
    NEXT_BACKOFF, /* send again after a backoff */
};

/* One request across its attempts. */
struct request {
    const char *method;
    const char *url; /* resolved under graph.endpoint */
    int attempt;
    int auth_retry; /* 401s in a row, each answered by a token renewal */
    bool *resync;
    wb_err_t err;
};

/* The headers of one attempt, with g's current token; *auth (freed, overwritten) holds the
 * Authorization line. */
static struct curl_slist *request_headers(const wb_graph_t *g, bool body, char **auth)
{
    struct curl_slist *hdrs = NULL;

    free_secret(*auth);
    *auth = wb_asprintf("Authorization: Bearer %s", g->token);
    hdrs = curl_slist_append(hdrs, *auth);
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    if (body)
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    return hdrs;
}

/* A 2xx answer: done with *out when its body is the JSON check expects, else fetched again. */
static enum next answer_ok(struct request *rq, struct buf *b, unsigned check, cJSON **out)
{
    const char *why = NULL;
    cJSON *j;

    /* cJSON cuts strings at \u0000; Graph text never needs NUL */
    if (b->data)
        b->len = wb_event_strip_nul_escapes(b->data, b->len);
    j = cJSON_ParseWithLength(b->data ? b->data : "", b->len);
    if (j && wb_graph_page_ok(j, check, &why)) {
        *out = j;
        rq->err = WB_OK;
        return NEXT_DONE;
    }
    cJSON_Delete(j);
    wb_log(LOG_WARNING, "GRAPH", "%s %.300s: malformed response (%s, %zu bytes), retrying",
           rq->method, short_url(rq->url), j ? why : "not JSON", b->len);
    return NEXT_BACKOFF;
}

/* A 401: an expired or revoked token is renewed once at once; a token issued a moment ago
 * refused is renewed again after a backoff, as a retry. */
static enum next answer_401(wb_graph_t *g, struct request *rq, const char *code)
{
    if (rq->auth_retry++ < 1) {
        /* expired or revoked token: fetch a new one once, without counting a retry */
        wb_log(LOG_NOTICE, "GRAPH", "HTTP 401 %s: renewing the token", code);
        wb_graph_forget_token(g);
        return NEXT_RENEW;
    }
    /* a token issued a moment ago refused: Graph may not accept it yet (clock skew,
     * replication) or the credentials were revoked. Renewed again after a backoff, as a
     * retry; when the retries run out the round fails (transient), the producer keeps its
     * links and tries again next round */
    if (g->m_fresh401)
        wb_metrics_inc(g->m_fresh401, NULL, 1);
    wb_graph_forget_token(g);
    rq->err = WB_ERR_TRANSIENT;
    if (rq->attempt < g->max_retries) {
        wb_log(LOG_NOTICE, "GRAPH",
               "HTTP 401 %s right after a token renewal (%d in a row): renewing it again after "
               "a backoff",
               code, rq->auth_retry);
        return wait_ms((long long)wb_backoff_next(&g->backoff)) ? NEXT_AGAIN : NEXT_DONE;
    }
    wb_log(LOG_ERR, "GRAPH",
           "%s %.300s: HTTP 401 %s: %d renewed tokens refused in a row; round abandoned, "
           "retried next round (check the clock of this host, and the app registration's "
           "secret and consent in Entra)",
           rq->method, short_url(rq->url), code, rq->auth_retry);
    return NEXT_DONE;
}

/* An answer other than 2xx: lost delta state, token renewal, throttling and server errors
 * (retried), or a failure with its class. */
static enum next answer_error(wb_graph_t *g, struct request *rq, const struct buf *b, long status)
{
    char code[128], msg[512];
    long long wait = -1;

    error_text(b, code, sizeof(code), msg, sizeof(msg));
    /* a renewed token that Graph accepted (any answer but 401) may expire again later in this
     * request's retries: that 401 gets its own renewal */
    if (status != 401)
        rq->auth_retry = 0;
    if (status == 410 || sync_state_lost(code)) {
        wb_log(LOG_WARNING, "GRAPH", "%s %.300s: HTTP %ld %s: delta state lost, full resync",
               rq->method, short_url(rq->url), status, code);
        *rq->resync = true;
        rq->err = WB_ERR_DEPENDENCY;
        return NEXT_DONE;
    }
    if (status == 401)
        return answer_401(g, rq, code);
    if (status == 403) {
        wb_log(LOG_ERR, "GRAPH", "%s %.300s: HTTP %ld %s: %s", rq->method, short_url(rq->url),
               status, code, msg);
        rq->err = WB_ERR_FATAL;
        return NEXT_DONE;
    }
    if (status == 429 || status == 503 || status == 504 || status >= 500) {
        wb_log(LOG_WARNING, "GRAPH", "%s %.300s: HTTP %ld %s (attempt %d)", rq->method,
               short_url(rq->url), status, code, rq->attempt + 1);
        if (status == 429 || status == 503)
            wait = retry_after_ms(g->retry_after);
        if (wait < 0)
            wait = (long long)wb_backoff_next(&g->backoff);
        if (rq->attempt < g->max_retries && !throttle_wait(g, wait)) {
            rq->err = WB_ERR_TRANSIENT;
            return NEXT_DONE;
        }
        return NEXT_AGAIN;
    }
    wb_log(LOG_ERR, "GRAPH", "%s %.300s: HTTP %ld %s: %s", rq->method, short_url(rq->url), status,
           code, msg);
    rq->err = WB_ERR_INVALID;
    return NEXT_DONE;
}

/* A link outside graph.endpoint, from Graph or from the checkpoint in topic.state, would carry
 * the token elsewhere: nothing is sent, and the delta state is treated as lost, so the next
 * round starts from the configured initial URL instead of this link. */
static wb_err_t refuse_link(wb_graph_t *g, const char *url, const char *why, bool *resync)
{
    wb_log(LOG_ERR, "GRAPH",
           "refusing a link outside graph.endpoint %s (%s); no request sent, full resync: %.200s",
           g->endpoint, why, url);
    if (g->m_refused)
        wb_metrics_inc(g->m_refused, NULL, 1);
    *resync = true;
    return WB_ERR_DEPENDENCY;
}

wb_err_t wb_graph_request(wb_graph_t *g, const char *method, const char *url, const char *body,
                          unsigned check, cJSON **out, bool *resync, long *status_out)
{
    struct buf b = {NULL, 0, 0, 0};
    struct curl_slist *hdrs = NULL;
    struct request rq = {method, NULL, 0, 0, resync, WB_ERR_TRANSIENT};
    char *full, *auth = NULL, why[160];
    long status = 0;

    *out = NULL;
    *resync = false;
    rq.url = full = wb_url_resolve(g->endpoint, url, why, sizeof(why));
    if (!full) {
        rq.err = refuse_link(g, url, why, resync);
        goto out;
    }
    wb_backoff_reset(&g->backoff);
    for (rq.attempt = 0; rq.attempt <= g->max_retries; rq.attempt++) {
        enum next nx;
        CURLcode cc;

        if (!g->token || time(NULL) >= g->token_renew_at) {
            rq.err = fetch_token(g);
            if (rq.err != WB_OK)
                goto out;
        }
        curl_slist_free_all(hdrs);
        hdrs = request_headers(g, body != NULL, &auth);
        cc = perform(g, method, full, hdrs, body, &b, &status);
        if (cc != CURLE_OK) {
            wb_log(LOG_WARNING, "GRAPH", "%s %.300s: %s%s (attempt %d)", method, short_url(full),
                   curl_easy_strerror(cc), b.toobig ? " (response too large)" : "", rq.attempt + 1);
            nx = NEXT_BACKOFF;
        } else if (status == 204) { /* DELETE: no content */
            rq.err = WB_OK;
            nx = NEXT_DONE;
        } else if (status >= 200 && status < 300) {
            nx = answer_ok(&rq, &b, check, out);
        } else {
            nx = answer_error(g, &rq, &b, status);
        }
        if (nx == NEXT_DONE)
            goto out;
        if (nx == NEXT_RENEW)
            rq.attempt--;
        if (nx != NEXT_BACKOFF)
            continue;
        if (rq.attempt < g->max_retries && !wait_ms((long long)wb_backoff_next(&g->backoff))) {
            rq.err = WB_ERR_TRANSIENT;
            goto out;
        }
    }
    wb_log(LOG_ERR, "GRAPH", "%s %.300s: giving up after %d attempts", method, short_url(full),
           g->max_retries + 1);
    rq.err = WB_ERR_TRANSIENT;
out:
    if (status_out)
        *status_out = status;
    curl_slist_free_all(hdrs);
    free_secret(auth);
    free(full);
    free(b.data);
    return rq.err;
}

wb_err_t wb_graph_list(wb_graph_t *g, const char *url, void (*each)(void *ctx, const cJSON *obj),
                       void *ctx, long *status)
{
    char *next_url = wb_strdup(url);
    wb_err_t err = WB_OK;

    while (next_url) {
        cJSON *page = NULL;
        const cJSON *o, *next;
        bool resync;

        err = wb_graph_request(g, "GET", next_url, NULL, WB_GRAPH_LIST, &page, &resync, status);
        free(next_url);
        next_url = NULL;
        if (err != WB_OK)
            break;
        cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(page, "value"))
        {
            each(ctx, o);
        }
        next = cJSON_GetObjectItemCaseSensitive(page, "@odata.nextLink");
        if (cJSON_IsString(next))
            next_url = wb_strdup(next->valuestring);
        cJSON_Delete(page);
    }
    return err;
}
