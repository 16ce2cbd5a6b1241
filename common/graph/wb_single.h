/*
 * wb_single: the one-group read behind writebackctl provision. One group read straight from
 * Graph: its properties with the producer's $select, scope evaluation with the clause that
 * excludes it, its full member list, the on-prem identities of its user members (getByIds)
 * and the scope of its nested groups; then the group.upsert and group.snapshot events a full
 * round would produce for it, as JSON lines. Uses no checkpoint and no Kafka. Application
 * thread only.
 */
#ifndef WB_SINGLE_H
#define WB_SINGLE_H

#include "wb_conf.h"
#include "wb_err.h"
#include "wb_idmap.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The Graph client, scope and user identity map of one configuration. */
typedef struct wb_single_s wb_single_t;

struct wb_rgroup; /* the round's view of the group (wb_rgroup.h), for wb_single_emit */

/* What was read about one group (wb_single_init, then wb_single_read, then wb_single_free). */
struct wb_single {
    char id[37];              /* lower-case objectId */
    bool found;               /* false: Graph does not know the group (404) */
    bool in_scope;            /* fixed clause and scope.mode rule */
    char reason[512];         /* when not in scope: which clause excludes it */
    const char *display_name; /* NULL when Graph has none; owned by rg */
    size_t members;           /* member entries (net) when in scope */
    wb_idmap_t *nested;       /* nested group members in scope (the snapshot names only these) */
    size_t users_synced;      /* user members with an on-prem SID */
    size_t users_cloud;       /* cloud-only users (no SID): not provisioned */
    size_t users_missing;     /* ids getByIds did not return */
    size_t groups;            /* nested group members */
    size_t others;            /* devices, contacts, service principals: not provisioned */
    struct wb_rgroup *rg;     /* properties and member entries, for wb_single_emit */
};

void wb_single_init(struct wb_single *s);
void wb_single_free(struct wb_single *s);

/* The Graph client (graph.* keys, validated for a program that reads them, so the client
 * secret is loaded), the scope (scope.* keys) and an empty user map of conf, which is borrowed
 * until wb_single_destroy. NULL and errstr on failure. */
wb_single_t *wb_single_new(const wb_conf_t *conf, char *errstr, size_t errsz);

/* NULL is a no-op. */
void wb_single_destroy(wb_single_t *sg);

/*
 * Reads group id (a GUID, either case) into s (initialised by the caller): GET
 * /v1.0/groups/{id} with the producer's $select (plus the attributes scope.filter reads),
 * scope; when in scope, /members, the identities of the user members (getByIds) and the scope
 * of every nested group member. WB_OK also when the group does not exist (s->found false) or
 * is out of scope (s->in_scope false, s->reason set); WB_ERR_INVALID for a malformed id; else
 * the class of the Graph failure.
 */
wb_err_t wb_single_read(wb_single_t *sg, const char *id, struct wb_single *s);

/* Writes s's group.upsert and group.snapshot chunk(s) to out as JSON lines, as the producer
 * would produce them to topic.events (tenant, producer.member_chunk of the configuration;
 * round_id is also the snapshot id, ts a wb_event_ts_format timestamp). s must have been read
 * through sg. */
wb_err_t wb_single_emit(wb_single_t *sg, const struct wb_single *s, FILE *out, const char *round_id,
                        const char *ts);

#endif
