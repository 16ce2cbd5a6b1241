/*
 * wb_graph: the libcurl client of Graph and its token endpoint, and one request across its
 * attempts: a token when due, the headers, one exchange (wb_graph_http.c), and what the answer
 * says to do next (wb_graph_answer.c, where errors are classified, since the HTTP status and
 * Graph's error code are known there), so callers only decide between "retry the round
 * later", "resync" and "exit". The token is wb_graph_token.c's, pages wb_graph_page.c's.
 */
#include "wb_graph.h"
#include "wb_graph_int.h"

#include "wb_log.h"
#include "wb_mem.h"
#include "wb_url.h"

#include <stdlib.h>
#include <string.h>

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
    wb_graph_free_secret(g->client_secret);
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

/* The headers of one attempt, with g's current token; *auth (freed, overwritten) holds the
 * Authorization line. */
static struct curl_slist *request_headers(const wb_graph_t *g, bool body, char **auth)
{
    struct curl_slist *hdrs = NULL;

    wb_graph_free_secret(*auth);
    *auth = wb_asprintf("Authorization: Bearer %s", g->token);
    hdrs = curl_slist_append(hdrs, *auth);
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    if (body)
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    return hdrs;
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
            rq.err = wb_graph_fetch_token(g);
            if (rq.err != WB_OK)
                goto out;
        }
        curl_slist_free_all(hdrs);
        hdrs = request_headers(g, body != NULL, &auth);
        cc = wb_graph_perform(g, method, full, hdrs, body, &b, &status);
        if (cc != CURLE_OK) {
            wb_log(LOG_WARNING, "GRAPH", "%s %.300s: %s%s (attempt %d)", method,
                   wb_graph_short_url(full), curl_easy_strerror(cc),
                   b.toobig ? " (response too large)" : "", rq.attempt + 1);
            nx = NEXT_BACKOFF;
        } else if (status == 204) { /* DELETE: no content */
            rq.err = WB_OK;
            nx = NEXT_DONE;
        } else if (status >= 200 && status < 300) {
            nx = wb_graph_answer_ok(&rq, &b, check, out);
        } else {
            nx = wb_graph_answer_error(g, &rq, &b, status);
        }
        if (nx == NEXT_DONE)
            goto out;
        if (nx == NEXT_RENEW)
            rq.attempt--;
        if (nx != NEXT_BACKOFF)
            continue;
        if (rq.attempt < g->max_retries &&
            !wb_graph_wait_ms((long long)wb_backoff_next(&g->backoff))) {
            rq.err = WB_ERR_TRANSIENT;
            goto out;
        }
    }
    wb_log(LOG_ERR, "GRAPH", "%s %.300s: giving up after %d attempts", method,
           wb_graph_short_url(full), g->max_retries + 1);
    rq.err = WB_ERR_TRANSIENT;
out:
    if (status_out)
        *status_out = status;
    curl_slist_free_all(hdrs);
    wb_graph_free_secret(auth);
    free(full);
    free(b.data);
    return rq.err;
}
