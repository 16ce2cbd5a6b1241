/*
 * wb_graph_token.c: the client-credentials access token from the token endpoint under
 * graph.authority, renewed before it expires. The client secret and the token never reach a
 * log: the form is wiped after use, the token is registered with wb_log_secret.
 */
#include "wb_graph_int.h"

#include "wb_log.h"
#include "wb_mem.h"
#include "wb_url.h"

#include <stdlib.h>
#include <string.h>

#define TOKEN_SCOPE "https://graph.microsoft.com/.default"

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

/* The client-credentials form (it holds the secret: free with wb_graph_free_secret). */
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
void wb_graph_free_secret(char *s)
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

wb_err_t wb_graph_fetch_token(wb_graph_t *g)
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
        CURLcode cc = wb_graph_perform(g, "POST", url, hdrs, form, &b, &status);
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
            wb_graph_error_text(&b, code, sizeof(code), msg, sizeof(msg));
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
                long long ra = wb_graph_retry_after_ms(g->retry_after);

                if (attempt < g->max_retries &&
                    !wb_graph_throttle_wait(g,
                                            ra >= 0 ? ra : (long long)wb_backoff_next(&g->backoff)))
                    goto out;
                continue;
            }
        }
        if (attempt < g->max_retries && !wb_graph_wait_ms((long long)wb_backoff_next(&g->backoff)))
            goto out;
    }
    wb_log(LOG_ERR, "GRAPH", "no token after %d attempts", g->max_retries + 1);
out:
    curl_slist_free_all(hdrs);
    wb_graph_free_secret(form);
    free(url);
    free(b.data);
    return err;
}
