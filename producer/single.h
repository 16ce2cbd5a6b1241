/*
 * wb_single: one group read straight from Graph, for on-demand provisioning (writebackctl
 * provision): its properties with the producer's $select, scope evaluation with the clause
 * that excludes it, its full member list, the on-prem identities of its user members
 * (getByIds) and the scope of its nested groups; then its group.upsert and group.snapshot
 * events through wb_emit. Uses no checkpoint. Application thread only.
 */
#ifndef WB_SINGLE_H
#define WB_SINGLE_H

#include "emit.h"
#include "graph.h"
#include "round.h"
#include "scope.h"
#include "users.h"
#include "wb_conf.h"
#include "wb_idmap.h"

#include <stdbool.h>
#include <stddef.h>

/* What was read about one group. */
struct wb_single {
    char id[37];          /* lower-case objectId */
    bool found;           /* false: Graph does not know the group (404) */
    bool in_scope;        /* fixed clause and scope.mode rule */
    char reason[512];     /* when not in scope: which clause excludes it */
    struct wb_rgroup rg;  /* properties; members (added entries, net) when in scope */
    wb_idmap_t *nested;   /* nested group members in scope (the snapshot names only these) */
    size_t users_synced;  /* user members with an on-prem SID */
    size_t users_cloud;   /* cloud-only users (no SID): not provisioned */
    size_t users_missing; /* ids getByIds did not return */
    size_t groups;        /* nested group members */
    size_t others;        /* devices, contacts, service principals: not provisioned */
};

void wb_single_init(struct wb_single *s);
void wb_single_free(struct wb_single *s);

/* A Graph client from the graph.* keys of conf (validated for a program that reads them, so
 * the client secret is loaded). NULL and errstr on failure. */
wb_graph_t *wb_single_graph_new(const wb_conf_t *conf, char *errstr, size_t errsz);

/* The scope of the scope.* keys of conf. NULL and errstr on failure. */
wb_scope_t *wb_single_scope_new(const wb_conf_t *conf, char *errstr, size_t errsz);

/* The clause of sc (built from conf's scope.* keys) that excludes group id (lower case) with
 * properties p, as a sentence in out (e.g. "securityEnabled is false: only security groups
 * are provisioned"); false and out "" when the group is in scope. */
bool wb_single_scope_reason(const wb_scope_t *sc, const wb_conf_t *conf, const char *id,
                            const struct wb_gprops *p, char *out, size_t outsz);

/*
 * Reads group id (a GUID, either case) into s (initialised by the caller): GET
 * /v1.0/groups/{id} with the producer's $select (plus the attributes scope.filter reads),
 * scope; when in scope, /members, the identities of the user members through u (getByIds)
 * and the scope of every nested group member. WB_OK also when the group does not exist
 * (s->found false) or is out of scope (s->in_scope false, s->reason set); WB_ERR_INVALID
 * for a malformed id; else the wb_graph_request class of the failure.
 */
wb_err_t wb_single_read(wb_graph_t *g, const wb_scope_t *sc, const wb_conf_t *conf, wb_users_t *u,
                        const char *id, struct wb_single *s);

/* Emits s's group.upsert and group.snapshot chunk(s) through em (em->users must be the map
 * s was read with; em->round_id and em->ts set by the caller). */
wb_err_t wb_single_emit(struct wb_emitter *em, const struct wb_single *s);

#endif
