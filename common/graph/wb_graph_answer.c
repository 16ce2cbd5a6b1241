/*
 * wb_graph_answer.c: what a request does after one answer: a 2xx body checked, a lost delta
 * state, a token renewal, throttling and server errors retried, other failures classified
 * here, where the HTTP status and Graph's error code are known.
 */
#include "wb_graph_int.h"

#include "wb_event.h"
#include "wb_log.h"
#include "wb_metrics.h"

#include <string.h>

/* Graph's {"error": {"code", "message"}} or the token endpoint's {"error", "error_description"}
 * in short, for logs. */
void wb_graph_error_text(const struct buf *b, char *code, size_t codesz, char *msg, size_t msgsz)
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

/* Graph error codes that mean the delta state behind a link is gone, whatever the status:
 * syncStateNotFound (expired token, documented with 400), resyncRequired (the code of the
 * documented 410), syncStateInvalid (seen with 410 as well). */
static bool sync_state_lost(const char *code)
{
    return strcmp(code, "syncStateNotFound") == 0 || strcmp(code, "resyncRequired") == 0 ||
           strcmp(code, "syncStateInvalid") == 0;
}

/* Only the path and query of a link are logged: tokens are opaque but long. */
const char *wb_graph_short_url(const char *url)
{
    const char *p = strstr(url, "/v1.0/");

    return p ? p : url;
}

/* A 2xx answer: done with *out when its body is the JSON check expects, else fetched again. */
enum next wb_graph_answer_ok(struct request *rq, struct buf *b, unsigned check, cJSON **out)
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
           rq->method, wb_graph_short_url(rq->url), j ? why : "not JSON", b->len);
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
        return wb_graph_wait_ms((long long)wb_backoff_next(&g->backoff)) ? NEXT_AGAIN : NEXT_DONE;
    }
    wb_log(LOG_ERR, "GRAPH",
           "%s %.300s: HTTP 401 %s: %d renewed tokens refused in a row; round abandoned, "
           "retried next round (check the clock of this host, and the app registration's "
           "secret and consent in Entra)",
           rq->method, wb_graph_short_url(rq->url), code, rq->auth_retry);
    return NEXT_DONE;
}

/* An answer other than 2xx: lost delta state, token renewal, throttling and server errors
 * (retried), or a failure with its class. */
enum next wb_graph_answer_error(wb_graph_t *g, struct request *rq, const struct buf *b, long status)
{
    char code[128], msg[512];
    long long wait = -1;

    wb_graph_error_text(b, code, sizeof(code), msg, sizeof(msg));
    /* a renewed token that Graph accepted (any answer but 401) may expire again later in this
     * request's retries: that 401 gets its own renewal */
    if (status != 401)
        rq->auth_retry = 0;
    if (status == 410 || sync_state_lost(code)) {
        wb_log(LOG_WARNING, "GRAPH", "%s %.300s: HTTP %ld %s: delta state lost, full resync",
               rq->method, wb_graph_short_url(rq->url), status, code);
        *rq->resync = true;
        rq->err = WB_ERR_DEPENDENCY;
        return NEXT_DONE;
    }
    if (status == 401)
        return answer_401(g, rq, code);
    if (status == 403) {
        wb_log(LOG_ERR, "GRAPH", "%s %.300s: HTTP %ld %s: %s", rq->method,
               wb_graph_short_url(rq->url), status, code, msg);
        rq->err = WB_ERR_FATAL;
        return NEXT_DONE;
    }
    if (status == 429 || status == 503 || status == 504 || status >= 500) {
        wb_log(LOG_WARNING, "GRAPH", "%s %.300s: HTTP %ld %s (attempt %d)", rq->method,
               wb_graph_short_url(rq->url), status, code, rq->attempt + 1);
        if (status == 429 || status == 503)
            wait = wb_graph_retry_after_ms(g->retry_after);
        if (wait < 0)
            wait = (long long)wb_backoff_next(&g->backoff);
        if (rq->attempt < g->max_retries && !wb_graph_throttle_wait(g, wait)) {
            rq->err = WB_ERR_TRANSIENT;
            return NEXT_DONE;
        }
        return NEXT_AGAIN;
    }
    wb_log(LOG_ERR, "GRAPH", "%s %.300s: HTTP %ld %s: %s", rq->method, wb_graph_short_url(rq->url),
           status, code, msg);
    rq->err = WB_ERR_INVALID;
    return NEXT_DONE;
}
