/*
 * wb_map: Cloud Sync's default group mappings. The text helpers decode UTF-8 themselves because
 * the counting rules (.NET UTF-16 units, whole characters, U+FFFD for junk) are the contract
 * with AD's rangeUpper checks, and no library here does exactly that.
 */
#include "wb_map.h"

#include "wb_id.h"
#include "wb_mem.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Decodes one character at s[*i]. Returns the code point, or -1 for an invalid sequence; *i then
 * moves past the maximal subpart (at least one byte), per Unicode 3.9 Table 3-7.
 */
static long decode(const unsigned char *s, size_t len, size_t *i)
{
    unsigned char c = s[*i];
    unsigned char lo = 0x80, hi = 0xbf;
    int need;
    long cp;

    (*i)++;
    if (c < 0x80)
        return c;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 1;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
        cp = c & 0x0f;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f; /* no surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
        cp = c & 0x07;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f; /* nothing above U+10FFFF */
    } else {
        return -1;
    }
    while (need-- > 0) {
        if (*i >= len || s[*i] < lo || s[*i] > hi)
            return -1;
        cp = cp << 6 | (s[*i] & 0x3f);
        (*i)++;
        lo = 0x80;
        hi = 0xbf;
    }
    return cp;
}

bool wb_map_utf8_valid(const char *s, size_t len, size_t *bad_offset)
{
    size_t i = 0, start;

    while (i < len) {
        start = i;
        if (decode((const unsigned char *)s, len, &i) < 0) {
            if (bad_offset)
                *bad_offset = start;
            return false;
        }
    }
    return true;
}

static size_t units_of(long cp)
{
    return cp >= 0x10000 ? 2 : 1;
}

size_t wb_map_utf16_len(const char *s)
{
    size_t len = strlen(s), i = 0, n = 0;

    while (i < len) {
        long cp = decode((const unsigned char *)s, len, &i);

        n += cp < 0 ? 1 : units_of(cp);
    }
    return n;
}

char *wb_map_clean(const char *s, size_t len)
{
    /* U+FFFD takes 3 bytes and replaces at least 1. */
    char *res = wb_malloc(3 * len + 1), *o = res;
    size_t i = 0, start;

    while (i < len) {
        long cp;

        start = i;
        cp = decode((const unsigned char *)s, len, &i);
        if (cp == 0)
            continue;
        if (cp < 0) {
            memcpy(o, "\xef\xbf\xbd", 3);
            o += 3;
            continue;
        }
        memcpy(o, s + start, i - start);
        o += i - start;
    }
    *o = '\0';
    return res;
}

/* .NET Char.IsWhiteSpace. */
static bool is_space(long cp)
{
    return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f ||
           cp == 0x205f || cp == 0x3000;
}

char *wb_map_trim(const char *s, size_t len)
{
    char *clean = wb_map_clean(s, len), *res;
    size_t n = strlen(clean), i = 0, start = n, end = 0;

    /* clean is valid UTF-8: every decode succeeds. */
    while (i < n) {
        size_t at = i;
        long cp = decode((const unsigned char *)clean, n, &i);

        if (!is_space(cp)) {
            if (start == n)
                start = at;
            end = i;
        }
    }
    res = start < end ? wb_strndup(clean + start, end - start) : wb_strdup("");
    free(clean);
    return res;
}

/* Cuts valid UTF-8 s in place after `units` UTF-16 units, never inside a character. */
static void cut(char *s, size_t units)
{
    size_t n = strlen(s), i = 0, used = 0;

    while (i < n) {
        size_t at = i;
        long cp = decode((const unsigned char *)s, n, &i);

        used += units_of(cp);
        if (used > units) {
            s[at] = '\0';
            return;
        }
    }
}

char *wb_map_left(const char *s, size_t len, size_t units)
{
    char *res = wb_map_clean(s, len);

    cut(res, units);
    return res;
}

/* Lower-case copy of a GUID string, or false if it is not one. */
static bool guid_lower(const char *object_id, char out[WB_ID_GUID_STR_SIZE])
{
    int i;

    if (!wb_id_guid_valid(object_id))
        return false;
    for (i = 0; i < WB_ID_GUID_STR_SIZE; i++)
        out[i] = (char)tolower((unsigned char)object_id[i]);
    return true;
}

char *wb_map_cn(const char *display_name, size_t len, const char *object_id)
{
    char id[WB_ID_GUID_STR_SIZE], *name, *res;

    if (!guid_lower(object_id, id))
        return NULL;
    name = wb_map_trim(display_name, len);
    cut(name, WB_MAP_CN_NAME_UNITS);
    /* Mid([objectId],25,12): 1-based characters 25..36, the last 12. */
    res = wb_asprintf("%s_%s", name, id + 24);
    free(name);
    return res;
}

char *wb_map_rdn(const char *display_name, size_t len, const char *object_id)
{
    char *cn = wb_map_cn(display_name, len, object_id), *esc, *res;

    if (!cn)
        return NULL;
    esc = wb_id_dn_escape(cn, strlen(cn));
    res = wb_asprintf("CN=%s", esc);
    free(esc);
    free(cn);
    return res;
}

char *wb_map_dn(const char *display_name, size_t len, const char *object_id, const char *target_ou)
{
    char *rdn, *res;

    if (!target_ou || !*target_ou)
        return NULL;
    rdn = wb_map_rdn(display_name, len, object_id);
    if (!rdn)
        return NULL;
    res = wb_asprintf("%s,%s", rdn, target_ou);
    free(rdn);
    return res;
}

char *wb_map_description(const char *description, size_t len)
{
    char *res;

    if (!description)
        return NULL;
    res = wb_map_trim(description, len);
    cut(res, WB_MAP_DESCRIPTION_UNITS);
    if (!*res) {
        free(res);
        return NULL;
    }
    return res;
}

char *wb_map_display_name(const char *display_name, size_t len)
{
    char *res;

    if (!display_name)
        return NULL;
    res = wb_map_clean(display_name, len);
    if (!*res) {
        free(res);
        return NULL;
    }
    return res;
}

char *wb_map_anchor(const char *object_id)
{
    char id[WB_ID_GUID_STR_SIZE];

    if (!guid_lower(object_id, id))
        return NULL;
    return wb_asprintf(WB_MAP_ANCHOR_PREFIX "%s", id);
}

char *wb_map_sam_account_name(const char *object_id)
{
    char id[WB_ID_GUID_STR_SIZE];

    if (!guid_lower(object_id, id))
        return NULL;
    return wb_asprintf(WB_MAP_ANCHOR_PREFIX "%s", id + 24);
}

bool wb_map_group(struct wb_map_group *out, const char *display_name, size_t display_name_len,
                  const char *description, size_t description_len, const char *object_id,
                  const char *target_ou, char *errstr, size_t errstr_size)
{
    memset(out, 0, sizeof(*out));
    if (!wb_id_guid_valid(object_id)) {
        snprintf(errstr, errstr_size, "objectId is not a GUID");
        return false;
    }
    if (!target_ou || !*target_ou) {
        snprintf(errstr, errstr_size, "target OU is empty");
        return false;
    }
    out->cn = wb_map_cn(display_name, display_name_len, object_id);
    out->rdn = wb_map_rdn(display_name, display_name_len, object_id);
    out->dn = wb_map_dn(display_name, display_name_len, object_id, target_ou);
    out->display_name = wb_map_display_name(display_name, display_name_len);
    out->description = wb_map_description(description, description_len);
    out->anchor = wb_map_anchor(object_id);
    out->sam_account_name = wb_map_sam_account_name(object_id);
    out->group_type = WB_MAP_GROUP_TYPE;
    return true;
}

void wb_map_group_free(struct wb_map_group *m)
{
    if (!m)
        return;
    free(m->cn);
    free(m->rdn);
    free(m->dn);
    free(m->display_name);
    free(m->description);
    free(m->anchor);
    free(m->sam_account_name);
    memset(m, 0, sizeof(*m));
}
