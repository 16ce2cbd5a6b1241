/*
 * wb_gprops: the compact form of a group's Graph properties that rounds keep (owned strings,
 * tri-state booleans, every other property as JSON), merged from Graph group objects and
 * fingerprinted. Plain data, one thread at a time.
 */
#ifndef WB_GPROPS_H
#define WB_GPROPS_H

#include "wb_err.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* Bits of struct wb_gprops.present. */
#define WB_GP_DISPLAY_NAME 0x01u
#define WB_GP_DESCRIPTION  0x02u
#define WB_GP_SECURITY     0x04u
#define WB_GP_MAIL         0x08u
#define WB_GP_ONPREM_SYNC  0x10u
#define WB_GP_GROUP_TYPES  0x20u

/* A group's properties as the producer keeps them (owned strings). Tri-state booleans: -1 is
 * null or absent, 0 false, 1 true. */
struct wb_gprops {
    unsigned present;
    char *display_name; /* NULL when null */
    char *description;  /* NULL when null */
    int security_enabled;
    int mail_enabled;
    int onprem_sync;
    char **group_types;
    size_t ngroup_types;
    cJSON *extra; /* NULL or an object of every other property (directory extensions, ...) */
};

/* Zeroes *p for use (booleans -1). */
void wb_gprops_init(struct wb_gprops *p);

/* Frees what *p owns and re-initialises it. NULL is a no-op. */
void wb_gprops_free(struct wb_gprops *p);

/* Merges the properties of the Graph group object obj into *p: every property present in obj
 * overwrites; "id", "@odata.*", "members@delta", "@removed" are skipped. Returns WB_OK, or
 * WB_ERR_INVALID (with reason) when a known property has the wrong JSON type. */
wb_err_t wb_gprops_merge(struct wb_gprops *p, const cJSON *obj, char *reason, size_t reasonsz);

/* A 64-bit fingerprint of the properties (never 0), to see whether a group changed. */
uint64_t wb_gprops_hash(const struct wb_gprops *p);

#endif
