/*
 * wb_http: the metrics and health endpoint on libmicrohttpd. GET /metrics renders a wb_metrics
 * registry (text format 0.0.4), /healthz says whether the main loop is still turning (it calls
 * wb_http_set_alive() each pass), /readyz whether the application said it is ready. The daemon
 * runs in its own thread; everything else here is called from the application thread.
 */
#ifndef WB_HTTP_H
#define WB_HTTP_H

#include <stddef.h>

#include "wb_metrics.h"

typedef struct wb_http_s wb_http_t;

/* Default /healthz staleness limit: the main loop must call wb_http_set_alive() this often. */
#define WB_HTTP_LIVENESS_TIMEOUT_MS 60000
/* Daemon limits: concurrent connections in all, per client address, idle timeout. */
#define WB_HTTP_MAX_CONNECTIONS      32
#define WB_HTTP_MAX_PER_IP           8
#define WB_HTTP_CONNECTION_TIMEOUT_S 10

/*
 * Starts serving on listen: "host:port" with a numeric IPv4 address or host name
 * ("127.0.0.1:9464", "0.0.0.0:9464", "localhost:9464"), "[v6addr]:port" ("[::1]:9464"), or
 * ":port", which binds loopback (127.0.0.1), the safe default (docs/configuration.md). Port 0
 * takes an ephemeral port (tests); wb_http_port() reports it. metrics is borrowed, may be NULL
 * (then /metrics is empty), and must outlive the returned handle. The process starts alive and
 * not ready (reason "starting"). Returns NULL and fills errstr (bad address, bind failure).
 */
wb_http_t *wb_http_new(const char *listen, wb_metrics_t *metrics, char *errstr, size_t errsz);

/* Stops the daemon (waits for its thread, closes the socket) and frees. NULL is a no-op. */
void wb_http_destroy(wb_http_t *h);

/* The TCP port bound (useful after port 0). */
unsigned wb_http_port(const wb_http_t *h);

/* Liveness: the main loop calls this every pass; /healthz answers 503 once the last call is
 * older than the timeout. Cheap (one atomic store); any thread. */
void wb_http_set_alive(wb_http_t *h);
/* Staleness limit in ms; 0 disables the check (/healthz always 200). */
void wb_http_set_liveness_timeout(wb_http_t *h, unsigned timeout_ms);

/* Readiness: ready != 0 → /readyz 200 "ok"; else 503 with reason (copied; NULL → "not ready").
 * Any thread. */
void wb_http_set_ready(wb_http_t *h, int ready, const char *reason);

#endif
