/*
 * wb_delta: paging and sync-state recovery for every delta query. Graph documents two answers
 * for a lost sync state (410 Gone with a Location naming the same query with an empty token,
 * and syncStateNotFound for an expired token); both mean "replace what you have with a full
 * round". The Location is not followed: the initial request is that same query, so a 410
 * without Location recovers the same way and no link leaves our own list of requests.
 */
#include "wb_delta.h"

#include "wb_log.h"
#include "wb_mem.h"
#include "wb_signal.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>

struct wb_delta_s {
    wb_graph_t *g;
    char *name;
    char *initial;
    char *link;
    int max_retries;
    unsigned long resets;
    wb_metric_t *m_resets;
};

wb_delta_t *wb_delta_new(wb_graph_t *g, const char *name, const char *initial_url, int max_retries,
                         wb_metrics_t *metrics)
{
    static const char *const lbl[] = {"delta"};
    wb_delta_t *d = wb_calloc(1, sizeof(*d));

    d->g = g;
    d->name = wb_strdup(name);
    d->initial = wb_strdup(initial_url);
    d->max_retries = max_retries;
    if (metrics) {
        const char *v[] = {name};

        d->m_resets = wb_metrics_counter(metrics, "writeback_producer_sync_resets_total",
                                         "Delta rounds restarted as full rounds because Graph "
                                         "lost the sync state (410, syncStateNotFound), by delta",
                                         1, lbl);
        wb_metrics_inc(d->m_resets, v, 0); /* the series exists from the start */
    }
    return d;
}

void wb_delta_destroy(wb_delta_t *d)
{
    if (!d)
        return;
    free(d->name);
    free(d->initial);
    free(d->link);
    free(d);
}

const char *wb_delta_link(const wb_delta_t *d)
{
    return d->link;
}

void wb_delta_set_link(wb_delta_t *d, const char *link)
{
    char *copy = link ? wb_strdup(link) : NULL;

    free(d->link);
    d->link = copy;
}

unsigned long wb_delta_resets(const wb_delta_t *d)
{
    return d->resets;
}

static bool pause_ms(int ms)
{
    struct pollfd pfd = {wb_signal_fd(), POLLIN, 0};

    if (wb_signal_stop_requested())
        return false;
    poll(pfd.fd >= 0 ? &pfd : NULL, pfd.fd >= 0 ? 1 : 0, ms);
    return !wb_signal_stop_requested();
}

const char *wb_delta_page(const struct wb_delta_ops *ops, void *ctx, const cJSON *page,
                          const char **next, const char **delta)
{
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(page, "value");
    const cJSON *nl = cJSON_GetObjectItemCaseSensitive(page, "@odata.nextLink");
    const cJSON *dl = cJSON_GetObjectItemCaseSensitive(page, "@odata.deltaLink");
    const char *why = ops->check ? ops->check(value) : NULL;

    *next = NULL;
    *delta = NULL;
    if (why)
        return why;
    ops->apply(ctx, value);
    if (cJSON_IsString(nl))
        *next = nl->valuestring;
    else
        *delta = dl->valuestring;
    return NULL;
}

/* The sync state was lost on page page_no (0: the first) of round r: no link is held any
 * more, the reset is counted and logged. False when r had too many resets (the round is
 * abandoned). */
static bool sync_reset(wb_delta_t *d, struct wb_delta_result *r, size_t page_no)
{
    /* the link that answered so is dead, and so is every link of the state it came from */
    wb_delta_set_link(d, NULL);
    r->resets++;
    d->resets++;
    if (d->m_resets) {
        const char *v[] = {d->name};

        wb_metrics_inc(d->m_resets, v, 1);
    }
    if (r->resets > WB_DELTA_MAX_RESETS) {
        wb_log(LOG_ERR, "GRAPH",
               "%s delta: sync state lost %u times in one round; round abandoned, the next one "
               "starts full",
               d->name, r->resets);
        return false;
    }
    wb_log(LOG_WARNING, "GRAPH",
           "%s delta: sync state lost on %s (page %zu of a %s round); link dropped, full round "
           "from the start",
           d->name, page_no == 0 ? "the first page" : "a nextLink", page_no + 1,
           r->full ? "full" : "incremental");
    return true;
}

/* Page page_no (0: the first) was malformed (why) for the *bad-th time in a row: logged, and
 * after a pause fetched again. False when it stays malformed after max_retries fetches or the
 * program stops (the round is abandoned). */
static bool refetch(wb_delta_t *d, size_t page_no, const char *why, int *bad)
{
    wb_log(LOG_WARNING, "GRAPH", "%s delta page %zu malformed (%s), fetching it again", d->name,
           page_no + 1, why);
    if (++*bad > d->max_retries) {
        wb_log(LOG_ERR, "GRAPH",
               "%s delta page %zu still malformed after %d attempts; round "
               "abandoned",
               d->name, page_no + 1, *bad);
        return false;
    }
    return pause_ms(500);
}

wb_err_t wb_delta_round(wb_delta_t *d, const struct wb_delta_ops *ops, void *ctx,
                        struct wb_delta_result *res)
{
    struct wb_delta_result r = {d->link == NULL, 0, 0};
    char *cur = wb_strdup(d->link ? d->link : d->initial);
    wb_err_t err = WB_OK;
    size_t page_no = 0;
    int bad = 0;

    if (r.full)
        ops->restart(ctx);
    for (;;) {
        cJSON *page = NULL;
        const char *next = NULL, *delta = NULL;
        const char *why = NULL;
        bool resync = false;

        if (wb_signal_stop_requested()) {
            err = WB_ERR_TRANSIENT;
            break;
        }
        err = wb_graph_request(d->g, "GET", cur, NULL, WB_GRAPH_DELTA, &page, &resync, NULL);
        if (err != WB_OK && resync) {
            if (!sync_reset(d, &r, page_no)) {
                err = WB_ERR_TRANSIENT;
                break;
            }
            free(cur);
            cur = wb_strdup(d->initial);
            r.full = true;
            page_no = 0;
            bad = 0;
            ops->restart(ctx);
            continue;
        }
        if (err != WB_OK)
            break;
        why = wb_delta_page(ops, ctx, page, &next, &delta);
        if (why) {
            cJSON_Delete(page);
            if (!refetch(d, page_no, why, &bad)) {
                err = WB_ERR_TRANSIENT;
                break;
            }
            continue;
        }
        bad = 0;
        page_no++;
        r.pages++;
        free(cur);
        cur = NULL;
        if (next) {
            cur = wb_strdup(next);
            cJSON_Delete(page);
            continue;
        }
        wb_delta_set_link(d, delta);
        cJSON_Delete(page);
        break;
    }
    free(cur);
    if (res)
        *res = r;
    return err;
}
