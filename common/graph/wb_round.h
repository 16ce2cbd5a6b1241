/*
 * wb_round: fetching one groups delta round from Graph: follows @odata.nextLink pages to the
 * @odata.deltaLink, merges the repeated objects of one group (Graph splits large member lists
 * over pages), records @removed groups, and keeps member changes in arrival order so that
 * the last change of a member wins. Also reads one group's full member list
 * (/v1.0/groups/{id}/members) for groups that enter scope in an incremental round.
 */
#ifndef WB_ROUND_H
#define WB_ROUND_H

#include "wb_delta.h"
#include "wb_graph.h"
#include "wb_idmap.h"
#include "wb_rgroup.h"
#include "wb_scope.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The groups of one round: id -> struct wb_rgroup *. */
struct wb_round {
    wb_idmap_t *groups;
    char *delta_link; /* the link of the next round, when complete */
    bool full;        /* fetched from the initial link: every group with every member */
    size_t pages;
    size_t objects;
    uint32_t seq;
};

void wb_round_init(struct wb_round *r);
void wb_round_free(struct wb_round *r);

/* The initial delta URL for the select list (extra: NULL-terminated property names the
 * scope filter needs, may be NULL). Caller-owned. */
char *wb_round_initial_url(const char *const *extra);

/*
 * Fetches a groups delta round through d (from its deltaLink, or a full round when it holds
 * none; a lost sync state restarts it as a full round there, see wb_delta_round) into *r
 * (initialised by the caller). On WB_OK r->delta_link is the link of the next round and
 * r->full says whether the round was full. res (may be NULL) receives what the round did.
 */
wb_err_t wb_round_fetch(wb_delta_t *d, struct wb_round *r, struct wb_delta_result *res);

/*
 * Reads one groups delta page (a parsed response body) into *r: checks its shape
 * (wb_graph_page_ok) and every object first, so a malformed page changes nothing. Returns NULL
 * on success with *next the nextLink to fetch (caller-owned) or NULL when the page ended the
 * round (r->delta_link set); otherwise why the page is malformed. Pure apart from *r.
 */
const char *wb_round_page(struct wb_round *r, const cJSON *page, char **next);

/* Reads the full member list of group id into rg (entries added, kinds from @odata.type).
 * WB_ERR_INVALID with *gone set when the group no longer exists (404). */
wb_err_t wb_round_members(wb_graph_t *g, const char *id, struct wb_rgroup *rg, bool *gone);

#endif
