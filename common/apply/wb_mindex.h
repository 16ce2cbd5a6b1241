/*
 * wb_mindex: the current members of one AD group, packed (binary GUID and SID, one record a
 * member, a flag for "wanted by the snapshot") with open-addressing indexes by SID and by
 * GUID: a 60,000-member group costs ~4 MB instead of ~23 MB as member sets. Filled from a
 * ranged extended-DN read of the group's member attribute. Application thread only.
 */
#ifndef WB_MINDEX_H
#define WB_MINDEX_H

#include "wb_ldap.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct wb_mindex_s wb_mindex_t;

/* An empty index. Never NULL. */
wb_mindex_t *wb_mindex_new(void);
/* NULL does nothing. */
void wb_mindex_destroy(wb_mindex_t *ix);

/* Adds one member: guid (16 bytes, NULL: none), sid (binary, NULL: none), dn (kept only
 * without a GUID, then required). A GUID already held is not added twice. */
void wb_mindex_put(wb_mindex_t *ix, const unsigned char *guid, const unsigned char *sid,
                   size_t sidlen, const char *dn);

/* Reads the members of the group at dn (ranged, extended DN, window values a request) into a
 * new index *out (NULL on failure). Returns an LDAP code. */
int wb_mindex_read(wb_ldap_t *ld, const char *dn, size_t window, wb_mindex_t **out);

/* The record (index + 1) of the member with this SID, else with this GUID; 0 when neither is
 * held. sid or guid may be NULL. */
size_t wb_mindex_find(const wb_mindex_t *ix, const unsigned char *sid, size_t sidlen,
                      const unsigned char *guid);

/* Number of records; records are 1..wb_mindex_count(). */
size_t wb_mindex_count(const wb_mindex_t *ix);

/* Marks record rec as wanted (an exact step keeps it). */
void wb_mindex_mark(wb_mindex_t *ix, size_t rec);

/* The value that names record rec in a member delete ("<GUID=...>", else its DN), caller-owned;
 * NULL when rec is marked wanted. */
char *wb_mindex_unwanted(const wb_mindex_t *ix, size_t rec);

#endif
