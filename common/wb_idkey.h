/*
 * wb_idkey: an Entra object id (a GUID) held as its 16 binary bytes, the key of wb_idmap and
 * of the producer's checkpoint and round tables: parsing, the lower-case string form, and the
 * order of string forms without formatting. Pure functions, any thread.
 */
#ifndef WB_IDKEY_H
#define WB_IDKEY_H

#include <stdbool.h>

/* A binary object id: the 16 bytes of wb_id_guid_from_str. */
struct wb_idkey {
    unsigned char b[16];
};

/* Parses a GUID string (either case) into *key. false if str is not a GUID (str may be NULL). */
bool wb_idkey_parse(const char *str, struct wb_idkey *key);

/* Lower-case "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" of key into out (37 bytes). */
void wb_idkey_format(const struct wb_idkey *key, char out[37]);

/* Compare two keys in the order of their string forms (qsort comparator). */
int wb_idkey_cmp(const void *a, const void *b);

#endif
