/*
 * 0021-http: the metrics/health endpoint on an ephemeral loopback port, fetched with libcurl:
 * /metrics body and content type, /healthz liveness expiry, /readyz flips, 404, 405, listen
 * address parsing and bind errors, and that destroy releases the socket.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wb_http.h"
#include "wb_metrics.h"

struct reply {
    long status;
    char body[65536];
    size_t len;
    char ctype[128];
    char allow[64];
};

static size_t on_body(char *p, size_t size, size_t n, void *opaque)
{
    struct reply *r = opaque;
    size_t len = size * n;

    if (r->len + len >= sizeof(r->body))
        return 0;
    memcpy(r->body + r->len, p, len);
    r->len += len;
    r->body[r->len] = '\0';
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *opaque)
{
    struct reply *r = opaque;
    size_t len = size * n;

    if (strncasecmp(p, "Allow: ", 7) == 0)
        snprintf(r->allow, sizeof(r->allow), "%.*s", (int)strcspn(p + 7, "\r\n"), p + 7);
    return len;
}

/* One request on a fresh connection; returns curl's result, fills r. */
static CURLcode fetch_host(const char *host, unsigned port, const char *method, const char *path,
                           const char *postbody, struct reply *r)
{
    CURL *c = curl_easy_init();
    char url[256];
    char *ct = NULL;
    CURLcode rc;

    memset(r, 0, sizeof(*r));
    snprintf(url, sizeof(url), "http://%s:%u%s", host, port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    if (postbody)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, postbody);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    if (ct)
        snprintf(r->ctype, sizeof(r->ctype), "%s", ct);
    curl_easy_cleanup(c);
    return rc;
}

static void fetch(unsigned port, const char *method, const char *path, struct reply *r)
{
    assert_int_equal(fetch_host("127.0.0.1", port, method, path, NULL, r), CURLE_OK);
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        n++;
    closedir(d);
    return n;
}

static void test_endpoints(void **state)
{
    static const char *const lnames[] = {"partition"};
    wb_metrics_t *m = wb_metrics_new();
    wb_metric_t *c = wb_metrics_counter(m, "writeback_events_total", "Events.", 1, lnames);
    char errstr[256] = "";
    struct reply r;
    wb_http_t *h;
    unsigned port;
    char *want, *big;

    (void)state;
    assert_int_equal(wb_metrics_inc(c, (const char *const[]){"3"}, 7), WB_OK);
    h = wb_http_new("127.0.0.1:0", m, errstr, sizeof(errstr));
    assert_non_null(h);
    assert_string_equal(errstr, "");
    port = wb_http_port(h);
    assert_true(port > 0 && port < 65536);

    fetch(port, "GET", "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, "text/plain; version=0.0.4; charset=utf-8");
    want = wb_metrics_render(m);
    assert_string_equal(r.body, want);
    free(want);
    assert_non_null(strstr(r.body, "writeback_events_total{partition=\"3\"} 7\n"));

    /* A later update shows in the next scrape. */
    assert_int_equal(wb_metrics_inc(c, (const char *const[]){"3"}, 1), WB_OK);
    fetch(port, "GET", "/metrics", &r);
    assert_non_null(strstr(r.body, "writeback_events_total{partition=\"3\"} 8\n"));

    fetch(port, "HEAD", "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);

    fetch(port, "GET", "/healthz", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok\n");

    /* Not ready until the application says so; the reason is shown. */
    fetch(port, "GET", "/readyz", &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body, "not ready: starting\n");
    wb_http_set_ready(h, 1, NULL);
    fetch(port, "GET", "/readyz", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok\n");
    wb_http_set_ready(h, 0, "kafka: all brokers down");
    fetch(port, "GET", "/readyz", &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body, "not ready: kafka: all brokers down\n");
    wb_http_set_ready(h, 0, NULL);
    fetch(port, "GET", "/readyz", &r);
    assert_string_equal(r.body, "not ready: not ready\n");

    fetch(port, "GET", "/", &r);
    assert_int_equal(r.status, 404);
    fetch(port, "GET", "/metrics/extra", &r);
    assert_int_equal(r.status, 404);
    fetch(port, "GET", "/healthzz", &r);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body, "not found\n");
    /* The query string is not part of the path. */
    fetch(port, "GET", "/healthz?verbose=1", &r);
    assert_int_equal(r.status, 200);

    fetch(port, "DELETE", "/metrics", &r);
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "GET, HEAD");
    assert_string_equal(r.body, "method not allowed\n");
    assert_int_equal(fetch_host("127.0.0.1", port, "POST", "/readyz", "x=1", &r), CURLE_OK);
    assert_int_equal(r.status, 405);
    fetch(port, "PUT", "/nothing", &r);
    assert_int_equal(r.status, 405);
    /* A large body is refused without being read (curl sends Expect: 100-continue). */
    big = malloc(200000);
    memset(big, 'x', 199999);
    big[199999] = '\0';
    assert_int_equal(fetch_host("127.0.0.1", port, "POST", "/metrics", big, &r), CURLE_OK);
    assert_int_equal(r.status, 405);
    free(big);

    /* Still serving after all that. */
    fetch(port, "GET", "/healthz", &r);
    assert_int_equal(r.status, 200);

    wb_http_destroy(h);
    wb_metrics_destroy(m);
}

static void test_liveness_expiry(void **state)
{
    char errstr[256];
    struct reply r;
    wb_http_t *h;
    unsigned port;

    (void)state;
    h = wb_http_new("127.0.0.1:0", NULL, errstr, sizeof(errstr));
    assert_non_null(h);
    port = wb_http_port(h);
    wb_http_set_liveness_timeout(h, 200);
    wb_http_set_alive(h);
    fetch(port, "GET", "/healthz", &r);
    assert_int_equal(r.status, 200);

    usleep(400 * 1000);
    fetch(port, "GET", "/healthz", &r);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.body, "stale: main loop last alive 0."));
    assert_non_null(strstr(r.body, "(limit 0.2 s)"));

    wb_http_set_alive(h);
    fetch(port, "GET", "/healthz", &r);
    assert_int_equal(r.status, 200);

    /* Timeout 0 turns the check off. */
    usleep(300 * 1000);
    wb_http_set_liveness_timeout(h, 0);
    fetch(port, "GET", "/healthz", &r);
    assert_int_equal(r.status, 200);

    /* Without a registry /metrics is empty but answers. */
    fetch(port, "GET", "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);
    wb_http_destroy(h);
}

static void test_listen_addresses(void **state)
{
    static const struct {
        const char *listen, *why;
    } bad[] = {
        {"", "empty listen address"},
        {"127.0.0.1", "expected host:port"},
        {"127.0.0.1:", "bad port"},
        {"127.0.0.1:70000", "bad port"},
        {"127.0.0.1:123456", "bad port"},
        {"127.0.0.1:9x", "bad port"},
        {"127.0.0.1:-1", "bad port"},
        {"::1:9464", "brackets"},
        {"[::1]", "expected [v6addr]:port"},
        {"[::1]9464", "expected [v6addr]:port"},
        {"[]:9464", "bad host"},
        {"[127.0.0.1]:0", "listen address \"[127.0.0.1]:0\""}, /* brackets: IPv6 only */
        {"[zz::1]:0", "[zz::1]:0"},
    };
    char errstr[256];
    struct reply r;
    wb_http_t *h, *h2;
    unsigned port;
    size_t i;
    int fds;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        errstr[0] = '\0';
        h = wb_http_new(bad[i].listen, NULL, errstr, sizeof(errstr));
        if (h)
            fail_msg("\"%s\" accepted", bad[i].listen);
        if (!strstr(errstr, bad[i].why))
            fail_msg("\"%s\": errstr \"%s\" lacks \"%s\"", bad[i].listen, errstr, bad[i].why);
        assert_true(errstr[0] != '\0');
    }
    assert_null(wb_http_new(NULL, NULL, errstr, sizeof(errstr)));
    assert_non_null(strstr(errstr, "empty listen address"));

    /* ":port" binds loopback. */
    h = wb_http_new(":0", NULL, errstr, sizeof(errstr));
    assert_non_null(h);
    port = wb_http_port(h);
    fetch(port, "GET", "/healthz", &r);
    assert_int_equal(r.status, 200);

    /* A port in use is a clear error, and the first daemon keeps serving. */
    {
        char addr[32];

        snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
        errstr[0] = '\0';
        h2 = wb_http_new(addr, NULL, errstr, sizeof(errstr));
        assert_null(h2);
        print_message("port in use: %s\n", errstr);
        assert_non_null(strstr(errstr, "cannot listen on \""));
        assert_non_null(strstr(errstr, "\": Address already in use"));
        assert_null(strchr(errstr, '\n'));
    }
    fetch(port, "GET", "/healthz", &r);
    assert_int_equal(r.status, 200);
    wb_http_destroy(h);
    wb_http_destroy(NULL);

    /* Destroy releases the listening socket and the daemon's descriptors. */
    fds = count_fds();
    h = wb_http_new("0.0.0.0:0", NULL, errstr, sizeof(errstr));
    assert_non_null(h);
    fetch(wb_http_port(h), "GET", "/healthz", &r);
    assert_int_equal(r.status, 200);
    wb_http_destroy(h);
    assert_int_equal(count_fds(), fds);

    /* IPv6 loopback, when the host has it. */
    h = wb_http_new("[::1]:0", NULL, errstr, sizeof(errstr));
    if (!h) {
        print_message("IPv6 loopback unavailable, skipped: %s\n", errstr);
        return;
    }
    assert_int_equal(fetch_host("[::1]", wb_http_port(h), "GET", "/healthz", NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    wb_http_destroy(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoints),
        cmocka_unit_test(test_liveness_expiry),
        cmocka_unit_test(test_listen_addresses),
    };
    int rc;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
