/*
 * wb_round: fetching one groups delta round from Graph: follows @odata.nextLink pages to the
 * @odata.deltaLink, merges the repeated objects of one group (Graph splits large member lists
 * over pages), records @removed groups, and keeps member changes in arrival order so that
 * the last change of a member wins. Also reads one group's full member list
 * (/v1.0/groups/{id}/members) for groups that enter scope in an incremental round.
 */
#ifndef WB_ROUND_H
#define WB_ROUND_H

#include "delta.h"
#include "graph.h"
#include "scope.h"
#include "wb_idmap.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum wb_mkind {
    WB_MK_USER = 1,
    WB_MK_GROUP = 2,
    WB_MK_OTHER = 3, /* devices, service principals, contacts: never provisioned */
};

/* One member entry of a group in a round. */
struct wb_mref {
    struct wb_idkey id;
    uint32_t seq;  /* arrival order */
    uint8_t kind;  /* enum wb_mkind */
    uint8_t added; /* 1 added, 0 removed */
};

/* One group as seen in a round. */
struct wb_rgroup {
    struct wb_gprops props;
    bool have_props; /* the round carried the group object's properties */
    bool removed;    /* @removed (deleted) */
    struct wb_mref *m;
    size_t nm, cap;
};

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

/* Appends one member entry to rg. */
void wb_rgroup_push(struct wb_rgroup *rg, const struct wb_idkey *id, int kind, int added,
                    uint32_t seq);

/* Sorts g's member entries by id and keeps the last entry of each id (its net change). */
void wb_rgroup_net(struct wb_rgroup *rg);

/* Reads the full member list of group id into rg (entries added, kinds from @odata.type).
 * WB_ERR_INVALID with *gone set when the group no longer exists (404). */
wb_err_t wb_round_members(wb_graph_t *g, const char *id, struct wb_rgroup *rg, bool *gone);

#endif
