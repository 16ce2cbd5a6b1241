/*
 * ctl_plan: one group planned against AD, read-only, the step writebackctl provision and
 * drift report share. The group's events come from Graph (wb_single_emit, the producer's
 * emitter); the worker's own apply code, in dry-run mode, plans the LDAP operations a worker
 * would perform for them, seen through its observer: what AD lacks against Entra now.
 */
#ifndef WB_CTL_PLAN_H
#define WB_CTL_PLAN_H

#include "wb_conf.h"
#include "wb_ldap.h"
#include "wb_single.h"

#include <cjson/cJSON.h>

#include <stdbool.h>
#include <stddef.h>

#define CTL_PLAN_MAX_OPS 64

/* One planned LDAP operation (or a failure the worker would hit). */
struct ctl_plan_op {
    char *kind; /* create, modify, rename, adopt, delete, add-members, remove-members, fail,
                 * skip, dead-letter */
    char *dn;
    char *detail;
    size_t count; /* member operations */
};

/* The events of one group as JSON lines (v[0..n)), owned. */
struct ctl_plan_lines {
    char **v;
    size_t n;
};

/* One group's plan. */
struct ctl_plan {
    struct ctl_plan_op ops[CTL_PLAN_MAX_OPS];
    size_t n;
    char *notes[CTL_PLAN_MAX_OPS]; /* the worker's warnings during planning */
    size_t nnotes;
    bool planned;   /* the match and action steps ran */
    char *match_dn; /* NULL: no object carries the anchor */
    int match_n;
    char *anchor;
};

void ctl_plan_free(struct ctl_plan *p);
void ctl_plan_lines_free(struct ctl_plan_lines *l);

/* s's events (read through sg, found and in scope), as the producer would emit them now. 0, or
 * -1 with a message on stderr (prefixed with cmd). */
int ctl_plan_events(wb_single_t *sg, const struct wb_single *s, const char *cmd,
                    struct ctl_plan_lines *out);

/* The LDAP session and the dry-run apply of conf's ldap.* and worker keys, for any number of
 * groups. NULL with the reason in err (keys missing, LDAP settings unusable). */
typedef struct ctl_planner_s ctl_planner_t;
ctl_planner_t *ctl_plan_open(const wb_conf_t *conf, char *err, size_t errsz);
void ctl_plan_close(ctl_planner_t *pl);
/* The planner's LDAP session (borrowed), for the caller's own read-only searches. */
wb_ldap_t *ctl_plan_ldap(ctl_planner_t *pl);

/*
 * Plans the LDAP operations of group gid for its events ev into *p (zeroed by the caller):
 * the match step (the anchor's object) and the dry-run apply, whose writes the observer
 * records. Returns 0 when the plan succeeds, 1 when the worker would fail (a "fail" op is
 * recorded), -1 when AD could not be read (message in err).
 */
int ctl_plan_group(ctl_planner_t *pl, const char *gid, const struct ctl_plan_lines *ev,
                   struct ctl_plan *p, char *err, size_t errsz);

/* The one-line text of an op ("add 3 members to CN=..."). */
const char *ctl_plan_op_text(const struct ctl_plan_op *o, char *buf, size_t sz);

/* The ops as a JSON array of {op, dn, detail, count, text} (caller-owned). */
cJSON *ctl_plan_ops_json(const struct ctl_plan *p);

#endif
