/*
 * wb_scope: which groups the producer provisions (docs/microsoft.md, "Scope"). The fixed clause
 * (security-enabled, not mail-enabled, not synced from AD, not Microsoft 365) is AND-ed with
 * scope.mode: all, selected (scope.group_ids) or filter (scope.filter, Cloud Sync attribute
 * value filters). (struct wb_gprops, the properties it reads, is in wb_gprops.h.)
 *
 * scope.filter syntax (the Graph simulator's ScopeFilter implements the same):
 *     clause [AND clause ...] [OR clause [AND clause ...] ...]      (&& and || also work)
 *     clause = attribute OPERATOR [value]
 * Operators (any case, words joined by spaces or underscores): EQUALS, NOT EQUALS, IS TRUE,
 * IS FALSE, IS NULL, IS NOT NULL, GREATER THAN, GREATER THAN OR EQUALS, REGEX MATCH,
 * NOT REGEX MATCH; synonyms EQ ==, NE !=, GT, GE. Values are 'single' or "double" quoted
 * (backslash escapes the next character) or one bare word. EQUALS compares text
 * case-sensitively (booleans as true/false); GREATER THAN compares integers; REGEX MATCH is
 * a POSIX extended regex searched anywhere in the value; NOT REGEX MATCH is false for null.
 * AND binds within one filter, OR separates filters (any filter may match).
 */
#ifndef WB_SCOPE_H
#define WB_SCOPE_H

#include "wb_err.h"
#include "wb_gprops.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wb_scope_s wb_scope_t;

/*
 * Builds the scope. mode is "all", "selected" or "filter"; group_ids (NULL-terminated, may be
 * NULL) are used in selected mode, filter (may be NULL) in filter mode. Returns NULL and fills
 * errstr on an unknown mode, a bad id, a missing or unparsable filter ("scope.filter: ...").
 */
wb_scope_t *wb_scope_new(const char *mode, const char *const *group_ids, const char *filter,
                         char *errstr, size_t errsz);

void wb_scope_destroy(wb_scope_t *sc);

/* The fixed clause: securityEnabled true, mailEnabled not true, onPremisesSyncEnabled not
 * true, groupTypes without "Unified". */
bool wb_scope_base(const struct wb_gprops *p);

/* Fixed clause AND the mode's rule for the group id (lower-case GUID string). */
bool wb_scope_match(const wb_scope_t *sc, const char *id, const struct wb_gprops *p);

/* Attribute names the filter reads (NULL-terminated, borrowed; { NULL } outside filter mode),
 * so the caller can $select them. */
const char *const *wb_scope_attrs(const wb_scope_t *sc);

/* A text that changes whenever the scope configuration changes (stored in checkpoints: a new
 * scope forces a full resync). Borrowed. */
const char *wb_scope_fingerprint(const wb_scope_t *sc);

#endif
