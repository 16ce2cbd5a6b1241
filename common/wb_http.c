/*
 * wb_http: /metrics, /healthz and /readyz on a libmicrohttpd daemon with its own polling
 * thread. The handler only reads state that the application publishes through atomics or a
 * mutex, so a slow scrape never blocks the main loop beyond one render of the registry.
 */
#include "wb_http.h"

#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "wb_log.h"
#include "wb_mem.h"

/* Request header memory per connection: ample for a scraper, small for a flood. */
#define CONN_MEMORY_LIMIT (32 * 1024)

struct wb_http_s {
    struct MHD_Daemon *daemon;
    wb_metrics_t *metrics;
    unsigned port;
    atomic_int_least64_t alive_ms;
    atomic_uint timeout_ms;
    pthread_mutex_t lock; /* guards ready and reason */
    int ready;
    char *reason;
    /* While starting, MHD's first error message is kept here for errstr. */
    atomic_int started;
    char starterr[256];
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    wb_http_t *h = cls;

    if (!atomic_load(&h->started)) {
        if (!h->starterr[0])
            vsnprintf(h->starterr, sizeof(h->starterr), fmt, ap);
        return;
    }
    wb_log_va(LOG_WARNING, "HTTP", fmt, ap);
}

/*
 * "host:port", "[v6]:port" or ":port" into host (empty → 127.0.0.1) and port text. Returns 0,
 * or -1 with errstr filled. *bracketed tells the caller the host must be IPv6.
 */
static int split_listen(const char *listen, char *host, size_t hostsz, char *port, size_t portsz,
                        int *bracketed, char *errstr, size_t errsz)
{
    const char *colon, *end, *p;
    size_t hlen;
    unsigned long n;

    *bracketed = 0;
    if (!listen || !*listen) {
        snprintf(errstr, errsz, "empty listen address (expected host:port)");
        return -1;
    }
    if (listen[0] == '[') {
        end = strchr(listen, ']');
        if (!end || end[1] != ':') {
            snprintf(errstr, errsz, "bad listen address \"%s\" (expected [v6addr]:port)", listen);
            return -1;
        }
        *bracketed = 1;
        hlen = (size_t)(end - listen - 1);
        colon = end + 1;
        listen++;
    } else {
        colon = strrchr(listen, ':');
        if (!colon) {
            snprintf(errstr, errsz, "bad listen address \"%s\" (expected host:port)", listen);
            return -1;
        }
        hlen = (size_t)(colon - listen);
        if (memchr(listen, ':', hlen)) {
            snprintf(errstr, errsz,
                     "bad listen address \"%s\" (IPv6 addresses go in brackets: [::1]:9464)",
                     listen);
            return -1;
        }
    }
    if (hlen >= hostsz || (*bracketed && hlen == 0)) {
        snprintf(errstr, errsz, "bad host in listen address \"%s\"", listen);
        return -1;
    }
    if (hlen == 0)
        snprintf(host, hostsz, "127.0.0.1");
    else {
        memcpy(host, listen, hlen);
        host[hlen] = '\0';
    }
    for (p = colon + 1; *p; p++)
        if (*p < '0' || *p > '9')
            break;
    n = strtoul(colon + 1, NULL, 10);
    if (p == colon + 1 || *p || p - colon - 1 > 5 || n > 65535) {
        snprintf(errstr, errsz, "bad port in listen address \"%s\" (expected 0..65535)", listen);
        return -1;
    }
    snprintf(port, portsz, "%lu", n);
    return 0;
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *ctype,
                               char *body)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    /* Hands body over: MHD frees it with free() after sending. */
    resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    static const char *const text = "text/plain; charset=utf-8";
    wb_http_t *h = cls;
    unsigned status = MHD_HTTP_OK;
    const char *ctype = text;
    char *body = NULL;
    int64_t age;
    unsigned limit;

    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)con_cls;

    /* HEAD is GET without the body (MHD drops it); every other method is refused, and a
     * request body is never read: answering on the first call makes MHD close afterwards. */
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
        body = wb_strdup("method not allowed\n");
    } else if (strcmp(url, "/metrics") == 0) {
        ctype = "text/plain; version=0.0.4; charset=utf-8";
        body = wb_metrics_render(h->metrics);
    } else if (strcmp(url, "/healthz") == 0) {
        age = now_ms() - atomic_load(&h->alive_ms);
        limit = atomic_load(&h->timeout_ms);
        if (limit == 0 || age <= (int64_t)limit)
            body = wb_strdup("ok\n");
        else {
            status = MHD_HTTP_SERVICE_UNAVAILABLE;
            body = wb_asprintf("stale: main loop last alive %.1f s ago (limit %.1f s)\n",
                               (double)age / 1000.0, (double)limit / 1000.0);
        }
    } else if (strcmp(url, "/readyz") == 0) {
        pthread_mutex_lock(&h->lock);
        if (h->ready)
            body = wb_strdup("ok\n");
        else {
            status = MHD_HTTP_SERVICE_UNAVAILABLE;
            body = wb_asprintf("not ready: %s\n", h->reason);
        }
        pthread_mutex_unlock(&h->lock);
    } else {
        status = MHD_HTTP_NOT_FOUND;
        body = wb_strdup("not found\n");
    }
    wb_dbg("http", "HTTP", "%s %s -> %u", method, url, status);
    return respond(conn, status, ctype, body);
}

wb_http_t *wb_http_new(const char *listen, wb_metrics_t *metrics, char *errstr, size_t errsz)
{
    wb_http_t *h = NULL;
    struct addrinfo hints, *res = NULL;
    const union MHD_DaemonInfo *info;
    char host[256], port[8], fallback[] = "libmicrohttpd failed to start", *why;
    unsigned flags;
    int bracketed, rc;

    if (split_listen(listen, host, sizeof(host), port, sizeof(port), &bracketed, errstr, errsz) !=
        0)
        goto fail;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = bracketed ? AF_INET6 : AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV | (bracketed ? AI_NUMERICHOST : 0);
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(errstr, errsz, "listen address \"%s\": %s", listen, gai_strerror(rc));
        goto fail;
    }

    h = wb_calloc(1, sizeof(*h));
    h->metrics = metrics;
    atomic_init(&h->alive_ms, now_ms());
    atomic_init(&h->timeout_ms, WB_HTTP_LIVENESS_TIMEOUT_MS);
    atomic_init(&h->started, 0);
    pthread_mutex_init(&h->lock, NULL);
    h->reason = wb_strdup("starting");

    /* Bind the first address the name resolves to; MHD owns the socket from here on. */
    flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (res->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->daemon =
        MHD_start_daemon(flags, 0, NULL, NULL, handler, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger,
                         h, MHD_OPTION_SOCK_ADDR, res->ai_addr, MHD_OPTION_CONNECTION_LIMIT,
                         (unsigned)WB_HTTP_MAX_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                         (unsigned)WB_HTTP_MAX_PER_IP, MHD_OPTION_CONNECTION_TIMEOUT,
                         (unsigned)WB_HTTP_CONNECTION_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                         (size_t)CONN_MEMORY_LIMIT, MHD_OPTION_END);
    if (!h->daemon) {
        /* MHD's message names the port it was given (0 with SOCK_ADDR) and ends in a newline;
         * keep only the system's reason after the last ": ". */
        why = h->starterr[0] ? h->starterr : fallback;
        why[strcspn(why, "\n")] = '\0';
        if (strrchr(why, ':') && strrchr(why, ':')[1] == ' ')
            why = strrchr(why, ':') + 2;
        snprintf(errstr, errsz, "cannot listen on \"%s\": %s", listen, why);
        goto fail;
    }
    atomic_store(&h->started, 1);
    info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : 0;
    freeaddrinfo(res);
    wb_log(LOG_INFO, "HTTP", "metrics and health endpoint listening on %s port %u", host, h->port);
    return h;

fail:
    if (res)
        freeaddrinfo(res);
    wb_http_destroy(h);
    return NULL;
}

void wb_http_destroy(wb_http_t *h)
{
    if (!h)
        return;
    if (h->daemon)
        MHD_stop_daemon(h->daemon);
    pthread_mutex_destroy(&h->lock);
    free(h->reason);
    free(h);
}

unsigned wb_http_port(const wb_http_t *h)
{
    return h ? h->port : 0;
}

void wb_http_set_alive(wb_http_t *h)
{
    if (h)
        atomic_store(&h->alive_ms, now_ms());
}

void wb_http_set_liveness_timeout(wb_http_t *h, unsigned timeout_ms)
{
    if (h)
        atomic_store(&h->timeout_ms, timeout_ms);
}

void wb_http_set_ready(wb_http_t *h, int ready, const char *reason)
{
    char *copy;

    if (!h)
        return;
    copy = wb_strdup(reason ? reason : "not ready");
    pthread_mutex_lock(&h->lock);
    free(h->reason);
    h->reason = copy;
    h->ready = ready != 0;
    pthread_mutex_unlock(&h->lock);
}
