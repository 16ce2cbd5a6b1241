/*
 * wb_rgroup: one group as a round (or a one-group read) sees it: its properties and its member
 * entries in arrival order, netted to the last change of each member before the events are
 * built. Plain data, one thread at a time.
 */
#ifndef WB_RGROUP_H
#define WB_RGROUP_H

#include "wb_gprops.h"
#include "wb_idkey.h"

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

/* Appends one member entry to rg. */
void wb_rgroup_push(struct wb_rgroup *rg, const struct wb_idkey *id, int kind, int added,
                    uint32_t seq);

/* Sorts g's member entries by id and keeps the last entry of each id (its net change). */
void wb_rgroup_net(struct wb_rgroup *rg);

#endif
