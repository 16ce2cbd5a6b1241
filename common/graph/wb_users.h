/*
 * wb_users: the producer's map of Entra user objectId -> on-prem identity (SID and objectGUID),
 * filled by a full /v1.0/users/delta at start, refreshed incrementally every round (the
 * deltaLink is held in a wb_delta and committed with each round's checkpoint), with
 * /v1.0/directoryObjects/getByIds for ids not seen yet. A full round (the first, after
 * wb_users_resync, or after Graph lost the sync state) rebuilds the map from Graph's listing;
 * after a restart the committed deltaLink (wb_users_resume) then reports what changed while
 * the producer was down. Deleted users, and users a rebuild no longer
 * finds, keep their identity so that their membership removals can still name them.
 * Application thread only.
 */
#ifndef WB_USERS_H
#define WB_USERS_H

#include "wb_delta.h"
#include "wb_graph.h"
#include "wb_idmap.h"

#include <stdbool.h>

typedef struct wb_users_s wb_users_t;

struct wb_uident {
    char *sid;    /* onPremisesSecurityIdentifier, NULL: cloud-only */
    char *guid;   /* onPremisesObjectIdentifier (lower case), NULL when Graph has none */
    bool missing; /* Graph does not know the id (getByIds returned nothing) */
    bool removed; /* only an @removed entry of a listing: no identity of its own */
    bool unknown; /* in wb_users_moved only: changed while the producer was down, the identity
                   * before (the one AD holds) is not known */
};

/* g and metrics (may be NULL) are borrowed and must outlive the map. Never NULL. */
wb_users_t *wb_users_new(wb_graph_t *g, int max_retries, wb_metrics_t *metrics);
void wb_users_destroy(wb_users_t *u);

/* One users delta round (wb_delta_round): full when none ran yet, after wb_users_resync or when
 * Graph lost the sync state, else incremental. WB_OK, or the wb_delta_round class of the
 * failure. */
wb_err_t wb_users_refresh(wb_users_t *u);

/* The next refresh is a full round that rebuilds the map (a resume link is dropped). */
void wb_users_resync(wb_users_t *u);

/*
 * After a start from a checkpoint: link (copied) is the users deltaLink of the last committed
 * round. The next refresh rebuilds the map with a full round, then runs a catch-up round from
 * link; every user that round reports changed while the producer was down and is listed in
 * wb_users_moved with an unknown previous identity. When link turns out dead (the catch-up
 * round is reset), what changed meanwhile cannot be known: wb_users_blind says so.
 */
void wb_users_resume(wb_users_t *u, const char *link);

/* True once after a catch-up round found its link dead (the call clears it, and so does
 * wb_users_resync). */
bool wb_users_take_blind(wb_users_t *u);

/* The deltaLink the next incremental refresh starts from, or NULL. Borrowed until the next
 * refresh. */
const char *wb_users_link(const wb_users_t *u);

/* Sync-state resets of the users delta since wb_users_new. */
unsigned long wb_users_resets(const wb_users_t *u);

/* Looks up, through getByIds in batches of 1000, every id of ids[0..n) not in the map yet;
 * ids Graph does not return are remembered as missing. */
wb_err_t wb_users_resolve(wb_users_t *u, const struct wb_idkey *ids, size_t n);

/* The identity of id, or NULL when not looked up yet. Borrowed until the next refresh. */
const struct wb_uident *wb_users_get(const wb_users_t *u, const struct wb_idkey *id);

size_t wb_users_count(const wb_users_t *u);

/*
 * Users whose onPremisesSecurityIdentifier changed (cleared: made cloud-only; set: made
 * synced; replaced) since the last wb_users_moved_clear, as id -> const struct wb_uident *
 * holding the identity before the first such change, the one AD still holds (or marked
 * unknown: see wb_users_resume). A user first seen in a round (the first full round after a
 * start included) has no previous identity and is never listed. Kept across failed rounds; the
 * producer clears it once a round that carried the moves committed.
 */
const wb_idmap_t *wb_users_moved(const wb_users_t *u);

/* The identity before id's pending change, or NULL when id has none. */
const struct wb_uident *wb_users_before(const wb_users_t *u, const struct wb_idkey *id);

void wb_users_moved_clear(wb_users_t *u);

/* Adds to groups the ids of the groups that hold user id as a direct member
 * (GET /v1.0/users/{id}/memberOf/microsoft.graph.group, every page). *gone: Graph answered
 * 404 (the user was deleted meanwhile). */
wb_err_t wb_users_member_of(wb_users_t *u, const struct wb_idkey *id, wb_idmap_t *groups,
                            bool *gone);

#endif
