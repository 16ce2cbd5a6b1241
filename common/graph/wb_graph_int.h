/*
 * wb_graph_int.h: what the files of the wb_graph module share: the client's struct, one
 * request's state, and the steps one file runs for another. wb_graph.c creates the client and
 * runs a request across its attempts (wb_graph_request); wb_graph_http.c is one HTTP exchange
 * and the waits between attempts; wb_graph_token.c the access token; wb_graph_answer.c what
 * a request does after each answer; wb_graph_page.c checks and follows pages. Not for use
 * outside the module.
 */
#ifndef WB_GRAPH_INT_H
#define WB_GRAPH_INT_H

#include "wb_graph.h"

#include "wb_backoff.h"

#include <curl/curl.h>
#include <time.h>

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

/* wb_graph_http.c */

/* One HTTP exchange. Returns the curl code; *status and body filled. */
CURLcode wb_graph_perform(wb_graph_t *g, const char *method, const char *url,
                          struct curl_slist *hdrs, const char *body, struct buf *b, long *status);

/* Sleeps ms unless a stop is requested; returns false when stopped. */
bool wb_graph_wait_ms(long long ms);

/* Retry-After as milliseconds (seconds or an HTTP date), or -1. */
long long wb_graph_retry_after_ms(const char *v);

/* Counts a throttling wait and sleeps; false when stopped. */
bool wb_graph_throttle_wait(wb_graph_t *g, long long ms);

/* wb_graph_token.c */

/* Overwrites a string that held a secret, then frees it. NULL is a no-op. */
void wb_graph_free_secret(char *s);

/* A new access token into g->token: WB_OK, WB_ERR_TRANSIENT, or WB_ERR_FATAL (credentials
 * refused, token URL outside graph.authority). */
wb_err_t wb_graph_fetch_token(wb_graph_t *g);

/* wb_graph_answer.c */

/* Graph's or the token endpoint's error code and message of an answer, in short, for logs. */
void wb_graph_error_text(const struct buf *b, char *code, size_t codesz, char *msg, size_t msgsz);

/* The path and query of a link, for logs. */
const char *wb_graph_short_url(const char *url);

/* A 2xx answer: done with *out when its body is the JSON check expects, else fetched again. */
enum next wb_graph_answer_ok(struct request *rq, struct buf *b, unsigned check, cJSON **out);

/* An answer other than 2xx: lost delta state, token renewal, throttling and server errors
 * (retried), or a failure with its class. */
enum next wb_graph_answer_error(wb_graph_t *g, struct request *rq, const struct buf *b,
                                long status);

#endif
