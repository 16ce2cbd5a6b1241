/*
 * wb_graph: the producer's Microsoft Graph client on libcurl. One easy handle (connections
 * reused), an OAuth2 client-credentials token cached and renewed before it expires, timeouts
 * on every request, retries of throttling (429/503 with Retry-After), 5xx, network errors and
 * malformed pages with exponential backoff and jitter, and a hard cap on response size.
 * Application thread only.
 */
#ifndef WB_GRAPH_H
#define WB_GRAPH_H

#include "wb_conf.h"
#include "wb_err.h"
#include "wb_metrics.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct wb_graph_s wb_graph_t;

/* Largest response body accepted (a Graph page is a few MB at most). */
#define WB_GRAPH_MAX_BODY (256u * 1024 * 1024)

struct wb_graph_opts {
    const char *authority;     /* "https://login.microsoftonline.com" (no trailing '/') */
    const char *endpoint;      /* "https://graph.microsoft.com" (no trailing '/') */
    const char *tenant_id;     /* GUID or domain */
    const char *client_id;     /* GUID */
    const char *client_secret; /* never logged */
    const char *ca_file;       /* NULL: system trust store */
    long timeout_ms;           /* whole request, connect included */
    int max_retries;           /* retries of one request before giving up */
    unsigned backoff_base_ms;  /* first backoff delay when no Retry-After (0: 500) */
    wb_metrics_t *metrics;     /* NULL: no metrics; borrowed, must outlive the client */
};

/* The graph.* keys of conf into *go (zeroed first; metrics left NULL): one reading for the
 * producer and the one-group read. go borrows the strings from conf. */
void wb_graph_opts_from_conf(const wb_conf_t *conf, struct wb_graph_opts *go);

/* What a page must look like (checked before WB_OK; a page that fails is "malformed"). */
#define WB_GRAPH_OBJECT 0u /* any JSON object */
#define WB_GRAPH_LIST   1u /* object with a "value" array */
#define WB_GRAPH_DELTA  2u /* LIST and exactly one of @odata.nextLink / @odata.deltaLink */

/* Whether the response body j has the shape check asks for (WB_GRAPH_*); false with *why set
 * otherwise. j may be NULL. Pure; any thread. */
bool wb_graph_page_ok(const cJSON *j, unsigned check, const char **why);

/* Copies every string of *o. Returns NULL and fills errstr when libcurl cannot start. */
wb_graph_t *wb_graph_new(const struct wb_graph_opts *o, char *errstr, size_t errsz);

void wb_graph_destroy(wb_graph_t *g);

/*
 * One Graph request: method "GET", "POST", "PATCH" or "DELETE" (body: JSON text, may be NULL;
 * a 204 answer is WB_OK with *out NULL), url either a path
 * ("/v1.0/groups/delta?...") appended to the endpoint, or an absolute link Graph returned.
 * Either must resolve to the endpoint's scheme, host and port (wb_url_resolve): the bearer
 * token goes nowhere else. On WB_OK *out is the caller-owned parsed body. Otherwise *out is
 * NULL and:
 * - *resync true (410 Gone, an error code syncStateNotFound, resyncRequired or
 *   syncStateInvalid, or a link refused as leaving the endpoint, which is then neither
 *   requested nor followed): the delta state is lost or not ours, the link must not be
 *   requested again; wb_delta_round restarts with a full round; the return is
 *   WB_ERR_DEPENDENCY;
 * - WB_ERR_TRANSIENT: retries exhausted (throttling, 5xx, network, malformed pages, 401 to
 *   tokens renewed right before: each such 401 renews the token again after a backoff and
 *   counts as a retry) or a stop was requested while waiting;
 * - WB_ERR_INVALID: another 4xx answer (*status says which; e.g. 404 for a group deleted
 *   meanwhile);
 * - WB_ERR_FATAL: the token endpoint refused our credentials, or Graph answered 403.
 * status (may be NULL) receives the last HTTP status (0 for a network error). Every failure
 * is logged once, here.
 */
wb_err_t wb_graph_request(wb_graph_t *g, const char *method, const char *url, const char *body,
                          unsigned check, cJSON **out, bool *resync, long *status);

/* GETs url and every page its @odata.nextLink chain leads to, calling each(ctx, object) for
 * every object of every "value". The wb_graph_request result of the first failing page;
 * status (may be NULL) as there (404: the resource is gone). */
wb_err_t wb_graph_list(wb_graph_t *g, const char *url, void (*each)(void *ctx, const cJSON *obj),
                       void *ctx, long *status);

/* Drops the cached token so the next request fetches a new one (tests, 401 handling). */
void wb_graph_forget_token(wb_graph_t *g);

/* Requests made (including retries and token requests) since wb_graph_new. */
unsigned long wb_graph_requests(const wb_graph_t *g);

#endif
