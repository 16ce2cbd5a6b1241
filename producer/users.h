/*
 * wb_users: the producer's map of Entra user objectId -> on-prem identity (SID and objectGUID),
 * filled by a full /v1.0/users/delta at start, refreshed incrementally every round (the
 * deltaLink lives in memory only), with /v1.0/directoryObjects/getByIds for ids not seen yet.
 * Deleted users keep their identity so that their membership removals can still name them.
 * Application thread only.
 */
#ifndef WB_USERS_H
#define WB_USERS_H

#include "graph.h"
#include "idmap.h"

#include <stdbool.h>

typedef struct wb_users_s wb_users_t;

struct wb_uident {
    char *sid;    /* onPremisesSecurityIdentifier, NULL: cloud-only */
    char *guid;   /* onPremisesObjectIdentifier (lower case), NULL when Graph has none */
    bool missing; /* Graph does not know the id (getByIds returned nothing) */
};

/* g is borrowed and must outlive the map. Never NULL. */
wb_users_t *wb_users_new(wb_graph_t *g);
void wb_users_destroy(wb_users_t *u);

/* One users delta round: full when none ran yet (or Graph lost the state), else incremental.
 * WB_OK, or the wb_graph_request class of the failure. */
wb_err_t wb_users_refresh(wb_users_t *u);

/* Looks up, through getByIds in batches of 1000, every id of ids[0..n) not in the map yet;
 * ids Graph does not return are remembered as missing. */
wb_err_t wb_users_resolve(wb_users_t *u, const struct wb_idkey *ids, size_t n);

/* The identity of id, or NULL when not looked up yet. Borrowed until the next refresh. */
const struct wb_uident *wb_users_get(const wb_users_t *u, const struct wb_idkey *id);

size_t wb_users_count(const wb_users_t *u);

#endif
