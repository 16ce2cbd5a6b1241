/*
 * wb_apply: one coalesced step of one group, applied to AD idempotently: match by anchor,
 * then create or update (attributes that differ, rename/move with modrdn), member changes in
 * chunks with the Samba fallback (read current members, send the real difference), exact
 * membership for a completed snapshot, delete, out-of-scope policy. Every write is one audit
 * line and one call of the observer; in dry-run mode that is all that happens. Application
 * thread only.
 *
 * wb_apply.c orchestrates a step; below it wb_object (the group object), wb_members (the member
 * difference), wb_mindex (the packed index of current members), wb_wbv2 (the Connect Sync
 * writeback cache) and wb_aenv (what they share); none of them calls back up.
 */
#ifndef WB_APPLY_H
#define WB_APPLY_H

#include "wb_err.h"
#include "wb_ldap.h"
#include "wb_metrics.h"
#include "wb_mset.h"
#include "wb_plan.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wb_apply_s wb_apply_t;

/* Settings; strings are copied. */
struct wb_apply_cfg {
    const char *base_dn;    /* ldap.base_dn: where anchors are searched */
    const char *target_ou;  /* ldap.target_ou: parent of our groups */
    bool soa;               /* mapping.soa: msDS-ObjectSoa=Cloud */
    bool dry_run;           /* worker.dry_run */
    bool adopt;             /* worker.adopt_writeback_v2 */
    bool keep_unscoped;     /* worker.out_of_scope=keep */
    bool read_before_write; /* worker.read_before_write */
    int member_chunk;       /* ldap.member_chunk */
    int range_window;       /* ldap.range_window */
};

/* Where the step's events came from, for audit lines and retry decisions. */
struct wb_apply_ctx {
    const char *group;  /* Entra objectId */
    int32_t partition;  /* of the events */
    int64_t offset;     /* of the step's last event */
    bool final_attempt; /* dependency retries exhausted: skip/give up instead of retrying */
};

/* The outcome of one step. */
struct wb_apply_result {
    wb_err_t err;       /* WB_OK: done (possibly skipped); else the failure's class */
    const char *reason; /* static tag for the dead letter / skip metric, or NULL */
    int ldap_rc;        /* LDAP code behind err, or -1 */
    char *ldap_message; /* owned, or NULL */
    char *matched_dn;   /* owned, or NULL: the DN concerned */
    bool skipped;       /* left alone on purpose (not ours, out_of_scope=keep) */
    /* Nested group members given up on in a final attempt (their events are dead-lettered
     * by the caller, reason member_group_not_found); NULL when none. Owned. */
    wb_mset_t *dead_members;
    size_t writes; /* LDAP writes sent (dry run: would have been sent) */
};

/* What a write does. */
enum wb_apply_op_kind {
    WB_APPLY_OP_CREATE,        /* add of the group (with members values of its own) */
    WB_APPLY_OP_MODIFY,        /* attributes that differ */
    WB_APPLY_OP_RENAME,        /* modrdn: new name and/or new parent */
    WB_APPLY_OP_ADOPT,         /* our anchor added to a Connect Sync writeback group */
    WB_APPLY_OP_DELETE,        /* the group deleted */
    WB_APPLY_OP_ADD_MEMBERS,   /* one chunk of member values added */
    WB_APPLY_OP_REMOVE_MEMBERS /* one chunk of member values removed */
};

/* One write the apply sent, or in a dry run would have sent. Strings are borrowed for the
 * observer's call. */
struct wb_apply_op {
    enum wb_apply_op_kind kind;
    const char *group; /* Entra objectId */
    const char *dn;    /* the object written (a rename: its DN before) */
    const char *attrs; /* as in the audit line: "displayName,description", "newrdn=...",
                        * "member(+3)"; a create's list ends with ",member(+N)" when it
                        * carries members */
    size_t members;    /* member values the write carries (CREATE, *_MEMBERS), else 0 */
};

/* Called for every write, after it succeeded (a dry run: instead of sending it). */
typedef void (*wb_apply_observer)(const struct wb_apply_op *op, void *opaque);

/* ld and skipped are borrowed. skipped is the counter of member references skipped, by
 * reason (the worker's writeback_worker_members_skipped_total{reason}); NULL: not counted.
 * Never NULL. */
wb_apply_t *wb_apply_new(wb_ldap_t *ld, const struct wb_apply_cfg *cfg, wb_metric_t *skipped);
void wb_apply_destroy(wb_apply_t *ap);

/* Sets the observer (NULL: none); opaque is borrowed. writebackctl provision --dry-run gets
 * its plan this way. */
void wb_apply_set_observer(wb_apply_t *ap, wb_apply_observer obs, void *opaque);

/* Applies st for cx->group; res is initialised here and must be released with
 * wb_apply_result_free. Returns res->err. */
wb_err_t wb_apply_step(wb_apply_t *ap, const struct wb_apply_ctx *cx, const struct wb_step *st,
                       struct wb_apply_result *res);
void wb_apply_result_free(struct wb_apply_result *res);

/*
 * The group carrying anchor (msDS-ExternalDirectoryObjectId, e.g. wb_map_anchor's value) under
 * cfg.base_dn: *dn receives the first one's DN (owned, NULL when none), *n how many carry it.
 * The search the apply itself matches with. Returns an LDAP code.
 */
int wb_apply_find_anchor(wb_apply_t *ap, const char *anchor, char **dn, int *n);

/*
 * Current members of the group at dn, read with ranged retrieval (member;range=) and the
 * extended-DN control, as keys: "s:<SID>" and "g:<guid>" (kind USER, the key in id, the
 * member's objectGUID in guid; its DN in sid only when it has no GUID, else NULL — an internal
 * reuse of wb_member's fields).
 * Returns an LDAP code; *out is a new set on success, else NULL. Exposed for tests.
 */
int wb_apply_read_members(wb_apply_t *ap, const char *dn, wb_mset_t **out);

#endif
