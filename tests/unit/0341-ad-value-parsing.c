/*
 * 0341-ad-value-parsing: the parsers of values AD sends back, with hostile input. The ranged
 * attribute description (member;range=LOW-HIGH|*): overflowing and signed bounds, a high below
 * the low, stray characters. The extended-DN prefix (<GUID=…>;<SID=…>;dn) in string and hex
 * forms: non-hex digits, odd lengths, over-long values, and the vectors read from Samba.
 * Before these parsers the worker took strtol(HIGH)+1 (signed overflow for
 * range=0-9223372036854775807) and sscanf("%2x") on unchecked hex (an uninitialised byte for
 * "zz"), so a hostile or broken server could skip members or make up a GUID.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "wb_id.h"
#include "wb_ldap.h"

/* Measured on Samba 4.17 (the same vectors as 0010-id). */
static const char samba_sid[] = "S-1-5-21-2867278512-287604172-3696939236-500";
static const char samba_sid_hex[] = "010500000000000515000000b032e7aacc7d2411e4d05adcf4010000";
static const char samba_guid[] = "f3255b4c-97fd-4b19-bb20-4d3d0ad3235c";
static const char samba_guid_hex[] = "4c5b25f3fd97194bbb204d3d0ad3235c";

static int range(const char *desc, size_t *lo, size_t *hi)
{
    *lo = *hi = 12345;
    return wb_ldap_parse_range(desc, "member", lo, hi);
}

static void test_range_good(void **state)
{
    size_t lo, hi;

    (void)state;
    assert_int_equal(range("member;range=0-4999", &lo, &hi), 1);
    assert_int_equal(lo, 0);
    assert_int_equal(hi, 4999);
    assert_int_equal(range("member;range=5000-*", &lo, &hi), 1);
    assert_int_equal(lo, 5000);
    assert_true(hi == SIZE_MAX);
    assert_int_equal(range("Member;binary;Range=10-19", &lo, &hi), 1);
    assert_int_equal(lo, 10);
    assert_int_equal(hi, 19);
    assert_int_equal(range("member;range=7-7;x-opt", &lo, &hi), 1);
    assert_int_equal(range("member", &lo, &hi), 2);
    assert_int_equal(range("memberOf;range=0-1", &lo, &hi), 0);
    assert_int_equal(range("member;binary", &lo, &hi), 0);
    assert_int_equal(range("cn", &lo, &hi), 0);
}

static void test_range_hostile(void **state)
{
    static const char *const bad[] = {
        "member;range=0-9223372036854775807",     /* LONG_MAX: strtol()+1 overflowed */
        "member;range=0-18446744073709551615",    /* SIZE_MAX: would read as '*' */
        "member;range=0-99999999999999999999999", /* strtoull saturates */
        "member;range=18446744073709551616-*",
        "member;range=-1-5",
        "member;range=+0-5",
        "member;range= 0-5",
        "member;range=0- 5",
        "member;range=0--5",
        "member;range=5-3", /* high below low */
        "member;range=0-",
        "member;range=-*",
        "member;range=0-*x",
        "member;range=0-5x",
        "member;range=0x0-5",
        "member;range=",
        "member;range=0",
        "member;range=*-*",
    };
    size_t i, lo, hi;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (range(bad[i], &lo, &hi) != -1)
            fail_msg("accepted %s as %zu-%zu", bad[i], lo, hi);
    }
    /* The bound itself is accepted, one more is not. */
    {
        char buf[96];

        snprintf(buf, sizeof(buf), "member;range=0-%zu", (size_t)WB_LDAP_RANGE_MAX);
        assert_int_equal(range(buf, &lo, &hi), 1);
        snprintf(buf, sizeof(buf), "member;range=0-%zu", (size_t)WB_LDAP_RANGE_MAX + 1);
        assert_int_equal(range(buf, &lo, &hi), -1);
    }
}

static void test_hex(void **state)
{
    unsigned char b[4];

    (void)state;
    assert_true(wb_id_hex_decode("00fFa9", 6, b, 3));
    assert_int_equal(b[0], 0x00);
    assert_int_equal(b[1], 0xff);
    assert_int_equal(b[2], 0xa9);
    assert_true(wb_id_hex_decode(NULL, 0, b, 0));
    assert_false(wb_id_hex_decode("zz", 2, b, 1));
    assert_false(wb_id_hex_decode("0z", 2, b, 1));
    assert_false(wb_id_hex_decode("abc", 3, b, 1)); /* odd */
    assert_false(wb_id_hex_decode("ab", 2, b, 2));  /* short */
    assert_false(wb_id_hex_decode(" a", 2, b, 1));
    assert_false(wb_id_hex_decode("+a", 2, b, 1));
    assert_false(wb_id_hex_decode("0x", 2, b, 1));
    assert_false(wb_id_hex_decode("a\0", 2, b, 1));
}

static size_t extdn(const char *v, char *guid, char *sid)
{
    return wb_id_extdn_parse(v, strlen(v), guid, sid);
}

static void test_extdn_good(void **state)
{
    char guid[WB_ID_GUID_STR_SIZE], sid[WB_ID_SID_STR_SIZE], v[512];
    size_t off;

    (void)state;
    snprintf(v, sizeof(v), "<GUID=%s>;<SID=%s>;CN=Administrator,CN=Users,DC=wb,DC=test",
             samba_guid_hex, samba_sid_hex);
    off = extdn(v, guid, sid);
    assert_string_equal(guid, samba_guid);
    assert_string_equal(sid, samba_sid);
    assert_string_equal(v + off, "CN=Administrator,CN=Users,DC=wb,DC=test");

    snprintf(v, sizeof(v), "<GUID=F3255B4C-97FD-4B19-BB20-4D3D0AD3235C>;<SID=%s>;CN=x", samba_sid);
    off = extdn(v, guid, sid);
    assert_string_equal(guid, samba_guid);
    assert_string_equal(sid, samba_sid);
    assert_string_equal(v + off, "CN=x");

    off = extdn("CN=plain", guid, sid);
    assert_string_equal(guid, "");
    assert_string_equal(sid, "");
    assert_int_equal(off, 0);
}

static void test_extdn_hostile(void **state)
{
    static const char zz[] = "<GUID=zz5b25f3fd97194bbb204d3d0ad3235c>;"
                             "<SID=01050000000000051500000zzz32e7aacc7d2411e4d05adcf4010000>;CN=a";
    char guid[WB_ID_GUID_STR_SIZE], sid[WB_ID_SID_STR_SIZE], v[1024];
    char longsid[400];
    size_t off;

    (void)state;
    /* 32 characters but not hex: sscanf("%2x") left x uninitialised. */
    off = extdn(zz, guid, sid);
    assert_string_equal(guid, "");
    assert_string_equal(sid, "");
    assert_string_equal(zz + off, "CN=a");
    /* Hex with a sign or space that sscanf skipped or took. */
    assert_int_equal(extdn("<GUID= c5b25f3fd97194bbb204d3d0ad3235c>;CN=a", guid, sid) > 0, 1);
    assert_string_equal(guid, "");
    extdn("<GUID=-c5b25f3fd97194bbb204d3d0ad3235c>", guid, sid);
    assert_string_equal(guid, "");
    /* Odd length, too long, empty. */
    extdn("<GUID=4c5b25f3fd97194bbb204d3d0ad3235>;<SID=0105000000000005150>", guid, sid);
    assert_string_equal(guid, "");
    assert_string_equal(sid, "");
    extdn("<GUID=4c5b25f3fd97194bbb204d3d0ad3235c00>;<SID=>;<GUID=>", guid, sid);
    assert_string_equal(guid, "");
    assert_string_equal(sid, "");
    /* A SID hex whose count byte disagrees with its length. */
    extdn("<SID=010600000000000515000000b032e7aacc7d2411e4d05adcf4010000>", guid, sid);
    assert_string_equal(sid, "");
    /* A valid SID followed by junk, longer than the string buffer: no truncation into a
     * valid-looking SID. */
    memset(longsid, '1', sizeof(longsid));
    snprintf(longsid, sizeof(longsid), "%s", samba_sid);
    longsid[strlen(samba_sid)] = '1';
    longsid[sizeof(longsid) - 1] = '\0';
    snprintf(v, sizeof(v), "<SID=%s>;CN=a", longsid);
    extdn(v, guid, sid);
    assert_string_equal(sid, "");
    /* Unterminated tag: the rest is the DN. */
    off = extdn("<GUID=4c5b25f3fd97194bbb204d3d0ad3235c", guid, sid);
    assert_int_equal(off, 0);
    assert_string_equal(guid, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_good),    cmocka_unit_test(test_range_hostile),
        cmocka_unit_test(test_hex),           cmocka_unit_test(test_extdn_good),
        cmocka_unit_test(test_extdn_hostile),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
