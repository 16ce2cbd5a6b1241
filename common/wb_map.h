/*
 * wb_map: Cloud Sync's default group attribute mappings (docs/microsoft.md) as pure functions:
 * cn, description, displayName, the Group_<objectId> anchor, sAMAccountName, groupType and the
 * group's RDN and DN. Every function is safe from any thread and returns caller-owned strings
 * (release with free(), or wb_map_group_free for the bundle).
 *
 * Text policy, applied to every free-text input (displayName, description) before anything else:
 * - "Characters" are counted as .NET counts them, in UTF-16 code units, because Cloud Sync's
 *   Left() runs on .NET strings and AD checks rangeUpper in UTF-16 units (cn: 64 = 51 + "_" +
 *   12). Measured on Samba 4.17: displayName (rangeUpper 256) accepts 128 emoji (256 units,
 *   128 code points) and rejects 129. So a BMP character (Latin, CJK) counts 1 and a
 *   supplementary one (most emoji) counts 2. Unlike .NET, a cut never splits a surrogate pair:
 *   a character that would not fit whole is dropped, so 60 emoji keep 25 (50 units) in cn.
 * - Invalid UTF-8 never crashes: each maximal invalid subsequence (Unicode 3.9, "maximal subpart"
 *   practice, as Python's errors="replace") becomes one U+FFFD, which counts 1.
 * - NUL (JSON \u0000) is dropped, before trimming: it cannot live in a C string, AD DN or LDAP
 *   filter meaningfully, and dropping keeps the rest of the name readable.
 * - Trim removes leading and trailing characters for which .NET Char.IsWhiteSpace is true:
 *   U+0009-000D, U+0020, U+0085, U+00A0, U+1680, U+2000-200A, U+2028, U+2029, U+202F, U+205F,
 *   U+3000. U+200B (zero width space) and U+FEFF are not whitespace, as in .NET.
 */
#ifndef WB_MAP_H
#define WB_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WB_MAP_CN_NAME_UNITS     51  /* Left(Trim([displayName]),51) */
#define WB_MAP_DESCRIPTION_UNITS 448 /* Left(Trim([description]),448) */
#define WB_MAP_ANCHOR_PREFIX     "Group_"
/* Universal scope (0x8) | security enabled (0x80000000), as a signed 32-bit value. */
#define WB_MAP_GROUP_TYPE ((int32_t)-2147483640)

/*
 * true if s[0..len) is well-formed UTF-8 (no overlongs, surrogates or values above U+10FFFF).
 * On false, *bad_offset (may be NULL) is the offset of the first invalid byte.
 */
bool wb_map_utf8_valid(const char *s, size_t len, size_t *bad_offset);

/* Number of UTF-16 code units s (NUL-terminated, as returned here) would take in .NET / AD. */
size_t wb_map_utf16_len(const char *s);

/* The text policy above without trimming or cutting: NUL dropped, invalid bytes → U+FFFD. */
char *wb_map_clean(const char *s, size_t len);

/* clean, then Trim. */
char *wb_map_trim(const char *s, size_t len);

/* clean, then the first `units` UTF-16 units, never splitting a character. */
char *wb_map_left(const char *s, size_t len, size_t units);

/*
 * cn = Left(Trim(displayName), 51) + "_" + the last 12 characters of objectId (lower-cased).
 * display_name may be NULL when len is 0. NULL if object_id is not a GUID.
 */
char *wb_map_cn(const char *display_name, size_t len, const char *object_id);

/* "CN=" + the cn above escaped for a DN (RFC 4514). NULL if object_id is not a GUID. */
char *wb_map_rdn(const char *display_name, size_t len, const char *object_id);

/* rdn + "," + target_ou (used as given: it is a DN from config). NULL if object_id is not a GUID
 * or target_ou is NULL or empty. */
char *wb_map_dn(const char *display_name, size_t len, const char *object_id, const char *target_ou);

/*
 * description = Left(Trim(description), 448). NULL when description is NULL or the result is
 * empty: AD holds no empty strings, so "no value" means "clear the attribute".
 */
char *wb_map_description(const char *description, size_t len);

/* displayName passes through, cleaned (no trim, no cut). NULL when NULL or empty. */
char *wb_map_display_name(const char *display_name, size_t len);

/* "Group_<objectId>" (lower-cased), the value of msDS-ExternalDirectoryObjectId and
 * adminDescription. NULL if object_id is not a GUID. */
char *wb_map_anchor(const char *object_id);

/* "Group_" + the last 12 characters of objectId (lower-cased). NULL if not a GUID. */
char *wb_map_sam_account_name(const char *object_id);

/* Every mapped value of one group; all strings caller-owned. */
struct wb_map_group {
    char *cn;
    char *rdn;          /* "CN=<escaped cn>" */
    char *dn;           /* rdn + "," + target_ou */
    char *display_name; /* NULL: clear */
    char *description;  /* NULL: clear */
    char *anchor;       /* msDS-ExternalDirectoryObjectId and adminDescription */
    char *sam_account_name;
    int32_t group_type; /* WB_MAP_GROUP_TYPE */
};

/*
 * Fills *out with every mapping for one group. display_name/description are pointer + length
 * (NULL allowed with length 0; a NULL description means absent). Returns false and fills errstr
 * when object_id is not a GUID or target_ou is empty; *out is then all NULL. Either way,
 * wb_map_group_free(out) is safe afterwards.
 */
bool wb_map_group(struct wb_map_group *out, const char *display_name, size_t display_name_len,
                  const char *description, size_t description_len, const char *object_id,
                  const char *target_ou, char *errstr, size_t errstr_size);

/* Frees the strings of *m and zeroes it. m may be NULL. */
void wb_map_group_free(struct wb_map_group *m);

#endif
