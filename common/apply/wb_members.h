/*
 * wb_members: the member difference of one SYNC step, written to AD. Users are written as
 * <SID=...> (or <GUID=...>), nested groups by the DN their anchor resolves to. Values go out
 * in chunks with the permissive-modify control; Samba honours it only for single-value
 * changes, so a 68/53 answer makes us read the current members (wb_mindex) and send the real
 * difference. An exact step (a completed snapshot) also removes what it does not want.
 * Application thread only.
 */
#ifndef WB_MEMBERS_H
#define WB_MEMBERS_H

#include "wb_aenv.h"
#include "wb_plan.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct wb_members_s wb_members_t;

/* The member changes of st for group cx->group; env, cx and st are borrowed until destroy.
 * fresh: the group is being created here (it has no members yet). Never NULL. */
wb_members_t *wb_members_new(const struct wb_aenv *env, const struct wb_apply_ctx *cx,
                             const struct wb_step *st, bool fresh);
/* NULL does nothing. */
void wb_members_destroy(wb_members_t *mb);

/* Resolves the nested groups to DNs and checks those to add: WB_ERR_DEPENDENCY while one is
 * not in AD, or on the final attempt gives them up (res->dead_members). Sends nothing. */
wb_err_t wb_members_prepare(wb_members_t *mb, struct wb_apply_result *res);

/* The first chunk of values to add, for a fresh group's add: *vals (borrowed until the next
 * call on mb) and their number. Only after wb_members_prepare answered WB_OK. */
size_t wb_members_first(wb_members_t *mb, const char *const **vals);

/* Sends the first chunk through the member path (the add refused it: the group was created
 * bare). */
wb_err_t wb_members_send_first(wb_members_t *mb, const char *dn, struct wb_apply_result *res);

/* Writes the rest of the difference to the group at dn: the adds (after the first chunk when
 * fresh), then for an existing group the removes (an exact step: every member it does not
 * want). */
wb_err_t wb_members_apply(wb_members_t *mb, const char *dn, struct wb_apply_result *res);

#endif
