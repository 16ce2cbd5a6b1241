/*
 * wb_producer_emit.c: a round's events in order (group properties and deletions before member
 * lists), and the groups whose event the decoder refused.
 */
#include "wb_producer_int.h"

#include "wb_event.h"
#include "wb_log.h"

#include <stdlib.h>

/*
 * A group one of whose events the decoder refused (wb_emit logged the reason and counted it).
 * Publishing it would only feed the workers poison, and failing the round would hold every
 * other group back for as long as the group stays as it is in Entra. So the round goes on, and:
 * - a group entering scope whose upsert was refused is not provisioned: no snapshot, and it is
 *   left out of the checkpoint's in-scope set, so it enters scope again, whole, when Graph next
 *   reports a change to it (or at a full resync);
 * - for any other refused event the group's AD object keeps its last state, and its property
 *   fingerprint is not recorded, so its next change in Graph is emitted whole.
 */
static wb_err_t refuse(struct plan *pl, const struct wb_idkey *k, const char *id, bool upsert)
{
    if (!pl->refused)
        pl->refused = wb_idmap_new();
    wb_idmap_add(pl->refused, k);
    if (upsert && wb_idmap_has(pl->snap, k)) {
        wb_idmap_del(pl->snap, k);
        wb_idmap_del(pl->s1, k);
        wb_log(LOG_ERR, "PRODUCER",
               "group %s: not provisioned; it is tried again when it changes in Entra", id);
    } else {
        wb_log(LOG_ERR, "PRODUCER",
               "group %s: this change is not applied to AD; the group's next change in Entra "
               "is emitted whole",
               id);
    }
    return WB_OK;
}

bool wb_producer_refused(const struct plan *pl, const struct wb_idkey *k)
{
    return pl->refused && wb_idmap_has(pl->refused, k);
}

wb_err_t wb_producer_emit_round(wb_producer_t *p, struct plan *pl)
{
    struct wb_idkey *keys;
    size_t n, i;
    wb_err_t err = WB_OK;
    char id[37];

    /* pass 1: attributes and deletions, so that nested groups exist before their parents'
     * member lists arrive wherever possible */
    keys = wb_idmap_keys_sorted(pl->r.groups, &n);
    for (i = 0; i < n && err == WB_OK; i++) {
        if (!wb_idmap_has(pl->snap, &keys[i]) && !wb_idmap_has(pl->upsert, &keys[i]))
            continue;
        wb_idkey_format(&keys[i], id);
        err = wb_emit_upsert(&p->em, id,
                             &((struct wb_rgroup *)*wb_idmap_get(pl->r.groups, &keys[i]))->props);
        if (err == WB_OK)
            wb_emit_count(&p->em, WB_EVENT_GROUP_UPSERT, 1);
        else if (err == WB_ERR_INVALID)
            err = refuse(pl, &keys[i], id, true);
    }
    for (int pass = 0; pass < 2 && err == WB_OK; pass++) {
        wb_idmap_t *m = pass == 0 ? pl->gone : pl->release;
        struct wb_idkey *gk;
        size_t ng, j;

        gk = wb_idmap_keys_sorted(m, &ng);
        for (j = 0; j < ng && err == WB_OK; j++) {
            enum wb_event_type t = *wb_idmap_get(m, &gk[j]) == WB_CKPT_STAGED_UNSCOPED
                                       ? WB_EVENT_GROUP_UNSCOPED
                                       : WB_EVENT_GROUP_DELETE;

            wb_idkey_format(&gk[j], id);
            err = wb_emit_simple(&p->em, id, t);
            if (err == WB_OK)
                wb_emit_count(&p->em, t, 1);
            else if (err == WB_ERR_INVALID)
                err = refuse(pl, &gk[j], id, false);
        }
        free(gk);
    }
    /* pass 2: member lists */
    for (i = 0; i < n && err == WB_OK; i++) {
        struct wb_rgroup *rg = *wb_idmap_get(pl->r.groups, &keys[i]);

        wb_idkey_format(&keys[i], id);
        if (wb_idmap_has(pl->snap, &keys[i]) || wb_idmap_has(pl->resnap, &keys[i]))
            err = wb_emit_snapshot(&p->em, id, rg, pl->s1);
        else if (wb_idmap_has(pl->s1, &keys[i]) && rg->nm > 0)
            err = wb_emit_members(&p->em, id, rg, pl->s1, pl->both);
        if (err == WB_ERR_INVALID)
            err = refuse(pl, &keys[i], id, false);
    }
    free(keys);
    return err;
}
