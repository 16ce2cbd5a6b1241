/*
 * wb_id: identity helpers. SIDs and GUIDs between their string forms and the binary forms AD
 * stores in objectSid/objectGUID, the <SID=…>/<GUID=…> DN forms, and the two escapers every
 * LDAP string built from outside data must pass through: RFC 4514 DN values and RFC 4515
 * filter values. Pure functions, safe from any thread.
 */
#ifndef WB_ID_H
#define WB_ID_H

#include <stdbool.h>
#include <stddef.h>

#define WB_ID_SID_MAX_SUBAUTH 15
/* Binary SID: revision, count, 6-byte authority, 4 bytes per sub-authority. */
#define WB_ID_SID_BIN_MAX (8 + 4 * WB_ID_SID_MAX_SUBAUTH)
/* "S-1-" + "0x" + 12 hex digits + 15 × "-4294967295" + NUL = 184; rounded up. */
#define WB_ID_SID_STR_SIZE  192
#define WB_ID_GUID_BIN_SIZE 16
#define WB_ID_GUID_STR_SIZE 37

/*
 * Parses a SID string "S-1-<authority>(-<subauthority>){0,15}" into the binary form AD stores
 * (MS-DTYP 2.4.2: revision 1, sub-authority count, 48-bit authority big-endian, sub-authorities
 * little-endian). The authority is decimal below 2^32 or "0x" + 12 hex digits otherwise, as
 * MS-DTYP writes it. Strict: upper-case "S", revision 1, no empty parts, no signs, no spaces,
 * no value above UINT32_MAX (sub-authority) or 2^48-1 (authority), at most 15 sub-authorities.
 * str may be NULL. Returns the number of bytes written to out (8..68), or 0 if str is not a
 * SID (out is then unspecified).
 */
size_t wb_id_sid_from_str(const char *str, unsigned char out[WB_ID_SID_BIN_MAX]);

/* true if str parses with wb_id_sid_from_str. str may be NULL. */
bool wb_id_sid_valid(const char *str);

/*
 * Formats a binary SID (as read from objectSid) into its canonical string in out. Returns
 * false, with out set to "", when bin is malformed: len is not 8 + 4 × count, the revision is
 * not 1 or the count exceeds 15. bin may be NULL only with len 0.
 */
bool wb_id_sid_to_str(const unsigned char *bin, size_t len, char out[WB_ID_SID_STR_SIZE]);

/*
 * true if str is exactly 8-4-4-4-12 hexadecimal digits (either case, 36 characters, nothing
 * before or after). str may be NULL.
 */
bool wb_id_guid_valid(const char *str);

/*
 * Parses a GUID string into the 16 bytes AD stores in objectGUID: the first three fields
 * little-endian, the last two in string order. Returns false if !wb_id_guid_valid(str).
 */
bool wb_id_guid_from_str(const char *str, unsigned char out[WB_ID_GUID_BIN_SIZE]);

/* Formats 16 objectGUID bytes as a lower-case 8-4-4-4-12 string. */
void wb_id_guid_to_str(const unsigned char bin[WB_ID_GUID_BIN_SIZE], char out[WB_ID_GUID_STR_SIZE]);

/*
 * "<GUID=xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx>" (lower case) for a valid GUID string, usable as
 * a search base or member value against AD and Samba. Caller-owned; NULL if str is not a GUID.
 */
char *wb_id_guid_dn(const char *str);

/*
 * Decodes exactly 2 × outlen hexadecimal digits (either case) from hex[0..n) into out. Strict:
 * n must equal 2 × outlen and every character must be a hex digit; false otherwise (out is
 * then unspecified). hex may be NULL only with n 0.
 */
bool wb_id_hex_decode(const char *hex, size_t n, unsigned char *out, size_t outlen);

/*
 * Parses the identity prefix of an extended DN as AD returns it under the extended-DN control
 * (1.2.840.113556.1.4.529): "<GUID=…>;<SID=…>;dn", the GUID as a string or as 32 hex digits of
 * objectGUID, the SID as a string or as the hex of objectSid. v[0..len) need not be
 * NUL-terminated. guid receives the lower-case GUID string and sid the canonical SID string,
 * each "" when absent or malformed (bad hex, wrong length, not a SID, over-long). Returns the
 * offset of the DN in v (len when nothing follows the prefix).
 */
size_t wb_id_extdn_parse(const char *v, size_t len, char guid[WB_ID_GUID_STR_SIZE],
                         char sid[WB_ID_SID_STR_SIZE]);

/*
 * "<SID=S-1-…>" in canonical form (leading zeros dropped) for a valid SID string.
 * Caller-owned; NULL if str is not a SID.
 */
char *wb_id_sid_dn(const char *str);

/*
 * Escapes one attribute value for use inside a DN (RFC 4514 2.4): , + " \ < > ; = get a
 * backslash; a leading '#' or space and a trailing space get a backslash; NUL and the other
 * ASCII control characters (0x01-0x1f, 0x7f) become \XX hex pairs. Bytes >= 0x80 pass
 * unchanged (UTF-8 is expected; see wb_map for cleaning). Takes pointer + length so an embedded
 * NUL is escaped, not a terminator. val may be NULL when len is 0. Returns a caller-owned
 * string (free()); never NULL.
 */
char *wb_id_dn_escape(const char *val, size_t len);

/*
 * Escapes one value for use inside an LDAP search filter (RFC 4515 3): * ( ) \ NUL become
 * \2a \28 \29 \5c \00; everything else passes unchanged. Pointer + length as above.
 * Returns a caller-owned string (free()); never NULL.
 */
char *wb_id_filter_escape(const char *val, size_t len);

#endif
