/*
 * wb_id: SID and GUID conversions and the DN/filter escapers. Parsing is strict because its
 * input comes from events: anything that is not exactly a SID or GUID is refused, so a bad
 * value dead-letters instead of turning into a surprising LDAP request.
 */
#include "wb_id.h"

#include "wb_mem.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads 1+ decimal digits up to max; returns the position after them or NULL. */
static const char *parse_dec(const char *p, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    const char *start = p;

    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > max)
            return NULL;
        p++;
    }
    if (p == start)
        return NULL;
    *out = v;
    return p;
}

size_t wb_id_sid_from_str(const char *str, unsigned char out[WB_ID_SID_BIN_MAX])
{
    const char *p;
    uint64_t auth = 0, sub;
    unsigned count = 0;
    int i;

    if (!str || strncmp(str, "S-1-", 4) != 0)
        return 0;
    p = str + 4;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        /* MS-DTYP: authorities of 2^32 and above are written as 0x + 12 hex digits. */
        int n = 0;

        p += 2;
        while (hexval(*p) >= 0) {
            if (++n > 12)
                return 0;
            auth = auth * 16 + (uint64_t)hexval(*p);
            p++;
        }
        if (n == 0)
            return 0;
    } else {
        p = parse_dec(p, UINT32_MAX, &auth);
        if (!p)
            return 0;
    }
    out[0] = 1;
    for (i = 0; i < 6; i++)
        out[2 + i] = (unsigned char)(auth >> (8 * (5 - i)));
    while (*p == '-') {
        if (count == WB_ID_SID_MAX_SUBAUTH)
            return 0;
        p = parse_dec(p + 1, UINT32_MAX, &sub);
        if (!p)
            return 0;
        for (i = 0; i < 4; i++)
            out[8 + 4 * count + (unsigned)i] = (unsigned char)(sub >> (8 * i));
        count++;
    }
    if (*p != '\0')
        return 0;
    out[1] = (unsigned char)count;
    return 8 + 4 * (size_t)count;
}

bool wb_id_sid_valid(const char *str)
{
    unsigned char bin[WB_ID_SID_BIN_MAX];

    return wb_id_sid_from_str(str, bin) != 0;
}

/* Decimal digits of v at p (no terminator); returns the position after them. Formatting
 * without snprintf: the worker formats every member of a snapshot several times, and
 * snprintf was most of its CPU time for 60,000 members (perf). */
static char *u32_fmt(char *p, uint32_t v)
{
    char tmp[10];
    int n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

bool wb_id_sid_to_str(const unsigned char *bin, size_t len, char out[WB_ID_SID_STR_SIZE])
{
    uint64_t auth = 0;
    size_t i;
    char *p;

    out[0] = '\0';
    if (!bin || len < 8 || bin[0] != 1 || bin[1] > WB_ID_SID_MAX_SUBAUTH ||
        len != 8 + 4 * (size_t)bin[1])
        return false;
    for (i = 0; i < 6; i++)
        auth = (auth << 8) | bin[2 + i];
    if (auth >> 32) {
        snprintf(out, WB_ID_SID_STR_SIZE, "S-1-0x%012llX", (unsigned long long)auth);
        p = out + strlen(out);
    } else {
        memcpy(out, "S-1-", 4);
        p = u32_fmt(out + 4, (uint32_t)auth);
    }
    for (i = 0; i < bin[1]; i++) {
        const unsigned char *v = bin + 8 + 4 * i;

        *p++ = '-';
        p = u32_fmt(p, (uint32_t)v[0] | (uint32_t)v[1] << 8 | (uint32_t)v[2] << 16 |
                           (uint32_t)v[3] << 24);
    }
    *p = '\0';
    return true;
}

bool wb_id_guid_valid(const char *str)
{
    int i;

    if (!str)
        return false;
    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (str[i] != '-')
                return false;
        } else if (hexval(str[i]) < 0) {
            /* Also stops at the terminator of a short string. */
            return false;
        }
    }
    return str[36] == '\0';
}

bool wb_id_hex_decode(const char *hex, size_t n, unsigned char *out, size_t outlen)
{
    size_t i;

    if (n != 2 * outlen || (n && !hex))
        return false;
    for (i = 0; i < outlen; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return false;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return true;
}

/* One "<GUID=…>" value (t[0..n)) into guid, "" when malformed. */
static void extdn_guid(const char *t, size_t n, char guid[WB_ID_GUID_STR_SIZE])
{
    unsigned char bin[WB_ID_GUID_BIN_SIZE];
    char tmp[WB_ID_GUID_STR_SIZE];
    size_t i;

    guid[0] = '\0';
    if (n == 36) {
        memcpy(tmp, t, n);
        tmp[n] = '\0';
        if (!wb_id_guid_valid(tmp))
            return;
        for (i = 0; i < n; i++)
            guid[i] = (char)tolower((unsigned char)tmp[i]);
        guid[n] = '\0';
    } else if (wb_id_hex_decode(t, n, bin, sizeof(bin))) {
        wb_id_guid_to_str(bin, guid);
    }
}

/* One "<SID=…>" value (t[0..n)) into sid, "" when malformed. */
static void extdn_sid(const char *t, size_t n, char sid[WB_ID_SID_STR_SIZE])
{
    unsigned char bin[WB_ID_SID_BIN_MAX];
    char tmp[WB_ID_SID_STR_SIZE];
    size_t bl;

    sid[0] = '\0';
    if (n >= 2 && t[0] == 'S' && t[1] == '-') {
        if (n >= sizeof(tmp))
            return;
        memcpy(tmp, t, n);
        tmp[n] = '\0';
        bl = wb_id_sid_from_str(tmp, bin);
        if (!bl || !wb_id_sid_to_str(bin, bl, sid))
            sid[0] = '\0';
    } else if (n % 2 == 0 && n / 2 <= sizeof(bin) && wb_id_hex_decode(t, n, bin, n / 2)) {
        if (!wb_id_sid_to_str(bin, n / 2, sid))
            sid[0] = '\0';
    }
}

size_t wb_id_extdn_parse(const char *v, size_t len, char guid[WB_ID_GUID_STR_SIZE],
                         char sid[WB_ID_SID_STR_SIZE])
{
    const char *p = v, *end = v + len;

    guid[0] = sid[0] = '\0';
    while (p < end && *p == '<') {
        const char *close = memchr(p, '>', (size_t)(end - p));
        size_t tl;

        if (!close)
            break;
        tl = (size_t)(close - p - 1);
        if (tl >= 5 && strncasecmp(p + 1, "GUID=", 5) == 0)
            extdn_guid(p + 6, tl - 5, guid);
        else if (tl >= 4 && strncasecmp(p + 1, "SID=", 4) == 0)
            extdn_sid(p + 5, tl - 4, sid);
        p = close + 1;
        if (p < end && *p == ';')
            p++;
    }
    return (size_t)(p - v);
}

/* Byte i of the AD form comes from hex pair order[i] of the 32 digits in string order. */
static const int guid_order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};

bool wb_id_guid_from_str(const char *str, unsigned char out[WB_ID_GUID_BIN_SIZE])
{
    unsigned char seq[16];
    int i, n = 0;

    if (!wb_id_guid_valid(str))
        return false;
    for (i = 0; i < 36; i += 2) {
        if (str[i] == '-')
            i++;
        seq[n++] = (unsigned char)(hexval(str[i]) << 4 | hexval(str[i + 1]));
    }
    for (i = 0; i < 16; i++)
        out[i] = seq[guid_order[i]];
    return true;
}

void wb_id_guid_to_str(const unsigned char bin[WB_ID_GUID_BIN_SIZE], char out[WB_ID_GUID_STR_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char seq[16];
    char *p = out;
    int i;

    for (i = 0; i < 16; i++)
        seq[guid_order[i]] = bin[i];
    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[seq[i] >> 4];
        *p++ = hex[seq[i] & 15];
    }
    *p = '\0';
}

char *wb_id_guid_dn(const char *str)
{
    unsigned char bin[WB_ID_GUID_BIN_SIZE];
    char canon[WB_ID_GUID_STR_SIZE];

    if (!wb_id_guid_from_str(str, bin))
        return NULL;
    wb_id_guid_to_str(bin, canon);
    return wb_asprintf("<GUID=%s>", canon);
}

char *wb_id_sid_dn(const char *str)
{
    unsigned char bin[WB_ID_SID_BIN_MAX];
    char canon[WB_ID_SID_STR_SIZE];
    size_t len = wb_id_sid_from_str(str, bin);

    if (len == 0 || !wb_id_sid_to_str(bin, len, canon))
        return NULL;
    return wb_asprintf("<SID=%s>", canon);
}

static char *put_hex(char *o, unsigned char c)
{
    static const char digits[] = "0123456789abcdef";

    *o++ = '\\';
    *o++ = digits[c >> 4];
    *o++ = digits[c & 15];
    return o;
}

char *wb_id_dn_escape(const char *val, size_t len)
{
    /* Worst case every byte becomes a three-byte hex pair. */
    char *res = wb_malloc(3 * len + 1), *o = res;
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)val[i];

        if (c < 0x20 || c == 0x7f) {
            o = put_hex(o, c);
            continue;
        }
        if (strchr(",+\"\\<>;=", c) || (i == 0 && (c == '#' || c == ' ')) ||
            (i == len - 1 && c == ' '))
            *o++ = '\\';
        *o++ = (char)c;
    }
    *o = '\0';
    return res;
}

char *wb_id_filter_escape(const char *val, size_t len)
{
    char *res = wb_malloc(3 * len + 1), *o = res;
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)val[i];

        if (c == '*' || c == '(' || c == ')' || c == '\\' || c == '\0')
            o = put_hex(o, c);
        else
            *o++ = (char)c;
    }
    *o = '\0';
    return res;
}
