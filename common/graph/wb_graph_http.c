/*
 * wb_graph_http.c: one HTTP exchange with libcurl (the body capped at WB_GRAPH_MAX_BODY,
 * Retry-After kept, each answer counted by status), and the waits between attempts, which
 * poll the signal pipe so that SIGTERM never waits out a long Retry-After.
 */
#include "wb_graph_int.h"

#include "wb_mem.h"
#include "wb_signal.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A Retry-After longer than this is cut to it: an operator would rather see a retry. */
#define MAX_RETRY_AFTER_MS 300000

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

/* Sleeps ms unless a stop is requested; returns false when stopped. */
bool wb_graph_wait_ms(long long ms)
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
long long wb_graph_retry_after_ms(const char *v)
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
CURLcode wb_graph_perform(wb_graph_t *g, const char *method, const char *url,
                          struct curl_slist *hdrs, const char *body, struct buf *b, long *status)
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

/* Counts a throttling wait and sleeps; false when stopped. */
bool wb_graph_throttle_wait(wb_graph_t *g, long long ms)
{
    if (g->m_throttle) {
        wb_metrics_inc(g->m_throttle, NULL, 1);
        wb_metrics_inc(g->m_throttle_s, NULL, (double)ms / 1000.0);
    }
    return wb_graph_wait_ms(ms);
}
