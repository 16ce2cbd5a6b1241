/*
 * wb_delta: one Graph delta query the producer follows (groups or users) and the link it holds
 * for it. A round walks the @odata.nextLink pages from the held deltaLink (incremental) or from
 * the initial request (full) to a new deltaLink. This is the only place where a lost sync state
 * is handled, for every link of every delta: see wb_delta_round. Application thread only.
 */
#ifndef WB_DELTA_H
#define WB_DELTA_H

#include "wb_err.h"
#include "wb_graph.h"
#include "wb_metrics.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct wb_delta_s wb_delta_t;

/* Resets of the sync state within one round before the round is abandoned (the next round
 * starts full again). */
#define WB_DELTA_MAX_RESETS 3

/* What the caller does with the pages of a round; ctx is passed through. */
struct wb_delta_ops {
    /* NULL, or why the objects of a page are malformed (the page is then fetched again, up to
     * max_retries times). May be NULL: every page is accepted. */
    const char *(*check)(const cJSON *value);
    /* Applies the objects of a checked page. */
    void (*apply)(void *ctx, const cJSON *value);
    /* The round starts over as a full round: drop whatever apply received in this round. Also
     * called before a full round starts from the beginning. */
    void (*restart)(void *ctx);
};

/* What one round did. */
struct wb_delta_result {
    bool full;       /* the round that completed (or failed) was a full round */
    unsigned resets; /* sync-state resets within this round */
    size_t pages;    /* pages applied, restarts included */
};

/*
 * name ("groups", "users") names the delta in logs and in the label delta of
 * writeback_producer_sync_resets_total; initial_url is the full-round request (a path under
 * graph.endpoint, with its $select). g is borrowed and must outlive the handle; metrics may be
 * NULL. Strings are copied. Never NULL.
 */
wb_delta_t *wb_delta_new(wb_graph_t *g, const char *name, const char *initial_url, int max_retries,
                         wb_metrics_t *metrics);
void wb_delta_destroy(wb_delta_t *d);

/* The deltaLink of the next round, or NULL when the next round is full. Borrowed until the
 * next call that changes it. */
const char *wb_delta_link(const wb_delta_t *d);

/* Sets the deltaLink of the next round (copied); NULL: the next round is full. */
void wb_delta_set_link(wb_delta_t *d, const char *link);

/*
 * One round, from the held link (or the initial request when none), following nextLinks to a
 * deltaLink, which is then held. When any page answers that the sync state is lost (410 Gone
 * with or without Location, syncStateNotFound, resyncRequired), whether on the deltaLink or on
 * a nextLink in the middle of paging, the held link is dropped at once, the reset is logged and
 * counted, ops->restart is called and the round starts over from the initial request; the
 * link that answered so is never requested again. After WB_DELTA_MAX_RESETS resets in one
 * round it gives up with WB_ERR_TRANSIENT (no link held: the next round is full). Otherwise
 * WB_OK or the wb_graph_request class of the failure (a page still malformed after max_retries
 * fetches: WB_ERR_TRANSIENT). res (may be NULL) receives what the round did.
 */
wb_err_t wb_delta_round(wb_delta_t *d, const struct wb_delta_ops *ops, void *ctx,
                        struct wb_delta_result *res);

/*
 * One page of a round, already checked by wb_graph_page_ok (a "value" array and exactly one
 * string link): ops->check, then ops->apply. Returns NULL with *next the nextLink, or *delta
 * the deltaLink that ends the round (borrowed from page), or why the page is malformed (then
 * nothing was applied). wb_delta_round calls it for every page; exposed for the fuzz targets.
 */
const char *wb_delta_page(const struct wb_delta_ops *ops, void *ctx, const cJSON *page,
                          const char **next, const char **delta);

/* Sync-state resets since wb_delta_new. */
unsigned long wb_delta_resets(const wb_delta_t *d);

#endif
