/*
 * wb_wbv2: the list of groups written by Connect Sync group writeback (adminDescription =
 * Group_<id>, no msDS-ExternalDirectoryObjectId), so that a create needs no unindexed
 * adminDescription search to know whether there is one to adopt. Application thread only.
 */
#ifndef WB_WBV2_H
#define WB_WBV2_H

#include "wb_ldap.h"

#include <stdbool.h>

typedef struct wb_wbv2_s wb_wbv2_t;

/* An empty list (the first lookup scans). Never NULL. */
wb_wbv2_t *wb_wbv2_new(void);
/* NULL does nothing. */
void wb_wbv2_destroy(wb_wbv2_t *wc);

/*
 * Sets *maybe when a Connect-written group under base_dn may carry adminDescription=anchor
 * (the exact search then decides); false means none does. The list is brought up to date
 * first through ld. Returns an LDAP code: a transient one when the server cannot answer;
 * when the server cannot list (no USN, paging refused) LDAP_SUCCESS with *maybe true.
 */
int wb_wbv2_maybe(wb_wbv2_t *wc, wb_ldap_t *ld, const char *base_dn, const char *anchor,
                  bool *maybe);

#endif
