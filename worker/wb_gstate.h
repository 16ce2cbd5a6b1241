/*
 * wb_gstate: one owned group's state in AD as the drift watch sees it: read it, compare two of
 * them, write one back over the other with the least LDAP writes (docs/drift.md). Plain data
 * and functions over a borrowed wb_ldap handle; application thread only.
 */
#ifndef WB_GSTATE_H
#define WB_GSTATE_H

#include "wb_err.h"
#include "wb_id.h"
#include "wb_ldap.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The mapped attributes compared (the apply writes these; cn follows the DN). */
#define WB_GSTATE_NATTR 5
extern const char *const wb_gstate_attrs[WB_GSTATE_NATTR];

struct wb_gmember {
    char guid[WB_ID_GUID_STR_SIZE];
    char *dn;
};

/* One group as read from AD. */
struct wb_gstate {
    char *dn;
    char *cn;
    char guid[WB_ID_GUID_STR_SIZE];
    char sid[WB_ID_SID_STR_SIZE];
    int64_t usn;
    char *when; /* whenChanged */
    char *attr[WB_GSTATE_NATTR];
    struct wb_gmember *m;
    size_t nm, cap;
    /* the replPropertyMetaData entry with the highest local USN */
    int64_t meta_usn;
    unsigned char meta_inv[16];
    int64_t meta_time; /* Unix seconds */
};

/* Frees what s holds and zeroes it. */
void wb_gstate_free(struct wb_gstate *s);

/*
 * Reads the group anchored Group_<id> under base_dn into *s (zeroed first; members sorted by
 * GUID). WB_OK with *found false when no object carries the anchor; an LDAP failure is logged
 * and returned (wb_ldap_last_rc(ld) says whether the connection is gone).
 */
wb_err_t wb_gstate_read(wb_ldap_t *ld, const char *base_dn, const char *id, struct wb_gstate *s,
                        bool *found);

/* What differs between a baseline and the current state. */
struct wb_gdiff {
    bool moved, renamed;
    bool attr[WB_GSTATE_NATTR];
    struct wb_gmember **added, **removed; /* borrowed from cur / base */
    size_t nadded, nremoved;
    size_t count; /* kinds found; 0 = equal */
};

/* Fills *d with what cur changed against base; release with wb_gstate_diff_free. */
void wb_gstate_compare(const struct wb_gstate *base, const struct wb_gstate *cur,
                       struct wb_gdiff *d);
void wb_gstate_diff_free(struct wb_gdiff *d);

/*
 * Writes base back over the group at cur->dn, only what d says differs: a modrdn for a rename
 * or move, one modify for the attributes, member values in modifies of at most 1000 values
 * (<GUID=...> form). *writes counts the requests sent. Stops at the first failure.
 */
wb_err_t wb_gstate_repair(wb_ldap_t *ld, const struct wb_gstate *base, const struct wb_gstate *cur,
                          const struct wb_gdiff *d, size_t *writes);

/* Adds the group of Entra id again at base->dn with base's attributes, then its members. */
wb_err_t wb_gstate_recreate(wb_ldap_t *ld, const char *id, const struct wb_gstate *base,
                            size_t *writes);

#endif
