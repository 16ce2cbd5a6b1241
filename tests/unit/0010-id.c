/*
 * 0010-id: SID and GUID conversions against vectors read from a Samba AD DC (Administrator's
 * objectSid/objectGUID), strict parsing edge cases, the <SID=>/<GUID=> forms, and the DN and
 * filter escapers: every special character, NUL, 10,000-character values, injection attempts,
 * and a property check that libldap's own DN parser reads every escaped value back unchanged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <ldap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wb_id.h"

/* Measured on Samba 4.17 (samba-tool domain provision; ldb search of CN=Administrator). */
static const char samba_sid[] = "S-1-5-21-2867278512-287604172-3696939236-500";
static const char samba_sid_hex[] = "010500000000000515000000b032e7aacc7d2411e4d05adcf4010000";
static const char samba_guid[] = "f3255b4c-97fd-4b19-bb20-4d3d0ad3235c";
static const char samba_guid_hex[] = "4c5b25f3fd97194bbb204d3d0ad3235c";

#define UNI "Ünïcødé 中文 \xf0\x9f\x98\x80"

static void to_hex(const unsigned char *b, size_t n, char *out)
{
    size_t i;

    for (i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = '\0';
}

static void test_sid_samba_vector(void **state)
{
    unsigned char bin[WB_ID_SID_BIN_MAX];
    char hex[2 * WB_ID_SID_BIN_MAX + 1], str[WB_ID_SID_STR_SIZE];
    size_t n;

    (void)state;
    n = wb_id_sid_from_str(samba_sid, bin);
    assert_int_equal(n, 28);
    to_hex(bin, n, hex);
    assert_string_equal(hex, samba_sid_hex);
    assert_true(wb_id_sid_to_str(bin, n, str));
    assert_string_equal(str, samba_sid);
    assert_true(wb_id_sid_valid(samba_sid));
}

static void test_sid_edges(void **state)
{
    unsigned char bin[WB_ID_SID_BIN_MAX];
    char str[WB_ID_SID_STR_SIZE], hex[2 * WB_ID_SID_BIN_MAX + 1];
    char buf[512];
    size_t n;
    int i;

    (void)state;
    /* No sub-authorities: S-1-5 is NT AUTHORITY. */
    n = wb_id_sid_from_str("S-1-5", bin);
    assert_int_equal(n, 8);
    to_hex(bin, n, hex);
    assert_string_equal(hex, "0100000000000005");
    assert_true(wb_id_sid_to_str(bin, n, str));
    assert_string_equal(str, "S-1-5");

    /* Well-known SIDs. */
    assert_true(wb_id_sid_valid("S-1-1-0"));
    assert_true(wb_id_sid_valid("S-1-5-32-544"));

    /* Sub-authority bounds: UINT32_MAX is fine, one more is not. */
    n = wb_id_sid_from_str("S-1-5-4294967295", bin);
    assert_int_equal(n, 12);
    to_hex(bin, n, hex);
    assert_string_equal(hex, "0101000000000005ffffffff");
    assert_int_equal(wb_id_sid_from_str("S-1-5-4294967296", bin), 0);
    assert_int_equal(wb_id_sid_from_str("S-1-5-99999999999999999999999999", bin), 0);

    /* 15 sub-authorities are the maximum. */
    strcpy(buf, "S-1-5");
    for (i = 0; i < 15; i++)
        strcat(buf, "-4294967295");
    n = wb_id_sid_from_str(buf, bin);
    assert_int_equal(n, 68);
    assert_true(wb_id_sid_to_str(bin, n, str));
    assert_string_equal(str, buf);
    assert_true(strlen(str) < WB_ID_SID_STR_SIZE);
    strcat(buf, "-1");
    assert_int_equal(wb_id_sid_from_str(buf, bin), 0);

    /* Authority: decimal up to 2^32-1, above that the MS-DTYP hex form. */
    n = wb_id_sid_from_str("S-1-4294967295-7", bin);
    assert_int_equal(n, 12);
    assert_true(wb_id_sid_to_str(bin, n, str));
    assert_string_equal(str, "S-1-4294967295-7");
    assert_int_equal(wb_id_sid_from_str("S-1-4294967296-7", bin), 0);
    n = wb_id_sid_from_str("S-1-0x123456789ABC-7", bin);
    assert_int_equal(n, 12);
    to_hex(bin, n, hex);
    assert_string_equal(hex, "0101123456789abc07000000");
    assert_true(wb_id_sid_to_str(bin, n, str));
    assert_string_equal(str, "S-1-0x123456789ABC-7");
    assert_int_equal(wb_id_sid_from_str("S-1-0x1234567890ABC-7", bin), 0); /* 13 digits */
    assert_int_equal(wb_id_sid_from_str("S-1-0x-7", bin), 0);

    /* Leading zeros parse; the canonical form drops them. */
    n = wb_id_sid_from_str("S-1-5-021-0007", bin);
    assert_int_equal(n, 16);
    assert_true(wb_id_sid_to_str(bin, n, str));
    assert_string_equal(str, "S-1-5-21-7");
}

static void test_sid_junk(void **state)
{
    static const char *const junk[] = {
        "",
        "S",
        "S-",
        "S-1",
        "S-1-",
        "S-1-5-",
        "S-1-5--1",
        "S-1--5",
        "S-2-5-21",
        "s-1-5-21",
        "S-1-5-21x",
        "S-1-5-21-1 ",
        " S-1-5-21",
        "S-1-5-+21",
        "S-1-5--21",
        "S-1-5-21\n",
        "S-1-5-0x10",
        "S-1-5-21-a",
        "S-1-5-1.5",
        "S-01-5-21",
        "SID-1-5",
        "S-1-5,21",
        "S-1-5-21-1-",
        "S-1-5-２１",
        "S-1-5-21\xc0",
        "S-1-0x",
        "S-1-5 -21",
        "S-1-5-21-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15",
    };
    unsigned char bin[WB_ID_SID_BIN_MAX];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
        if (wb_id_sid_from_str(junk[i], bin) != 0)
            fail_msg("accepted junk SID \"%s\"", junk[i]);
        assert_false(wb_id_sid_valid(junk[i]));
    }
    assert_int_equal(wb_id_sid_from_str(NULL, bin), 0);
    assert_false(wb_id_sid_valid(NULL));
    assert_null(wb_id_sid_dn("S-1-5-"));
    assert_null(wb_id_sid_dn(NULL));
}

static void test_sid_bin_malformed(void **state)
{
    unsigned char bin[WB_ID_SID_BIN_MAX + 4];
    char str[WB_ID_SID_STR_SIZE];
    size_t n = wb_id_sid_from_str(samba_sid, bin);

    (void)state;
    strcpy(str, "x");
    assert_false(wb_id_sid_to_str(bin, 7, str));
    assert_string_equal(str, "");
    assert_false(wb_id_sid_to_str(bin, n - 1, str)); /* length disagrees with count */
    assert_false(wb_id_sid_to_str(bin, n + 4, str));
    assert_false(wb_id_sid_to_str(NULL, 0, str));
    bin[0] = 2; /* revision */
    assert_false(wb_id_sid_to_str(bin, n, str));
    bin[0] = 1;
    bin[1] = 16; /* too many sub-authorities, even with a matching length */
    memset(bin + n, 0, sizeof(bin) - n);
    assert_false(wb_id_sid_to_str(bin, 8 + 4 * 16, str));
    bin[1] = 5;
    assert_true(wb_id_sid_to_str(bin, n, str));
}

static void test_guid(void **state)
{
    unsigned char bin[WB_ID_GUID_BIN_SIZE];
    char hex[33], str[WB_ID_GUID_STR_SIZE];

    (void)state;
    assert_true(wb_id_guid_valid(samba_guid));
    assert_true(wb_id_guid_from_str(samba_guid, bin));
    to_hex(bin, 16, hex);
    assert_string_equal(hex, samba_guid_hex);
    wb_id_guid_to_str(bin, str);
    assert_string_equal(str, samba_guid);

    /* Upper case and mixed case parse to the same bytes; output is lower case. */
    assert_true(wb_id_guid_from_str("F3255B4C-97FD-4B19-BB20-4D3D0AD3235C", bin));
    to_hex(bin, 16, hex);
    assert_string_equal(hex, samba_guid_hex);
    assert_true(wb_id_guid_valid("f3255B4c-97Fd-4b19-bB20-4d3d0aD3235c"));

    /* Byte order: the first three fields are little-endian. */
    assert_true(wb_id_guid_from_str("00112233-4455-6677-8899-aabbccddeeff", bin));
    to_hex(bin, 16, hex);
    assert_string_equal(hex, "33221100554477668899aabbccddeeff");
    wb_id_guid_to_str(bin, str);
    assert_string_equal(str, "00112233-4455-6677-8899-aabbccddeeff");
}

static void test_guid_junk(void **state)
{
    static const char *const junk[] = {
        "",
        "f3255b4c-97fd-4b19-bb20-4d3d0ad3235",   /* 35 */
        "f3255b4c-97fd-4b19-bb20-4d3d0ad3235c0", /* 37 */
        "f3255b4c97fd-4b19-bb20-4d3d0ad3235c-",  /* dash moved */
        "f3255b4c-97fd-4b19-bb20-4d3d0ad3235g",
        "{f3255b4c-97fd-4b19-bb20-4d3d0ad3235c}",
        "f3255b4c-97fd-4b19-bb20-4d3d0ad3235c\n",
        " f3255b4c-97fd-4b19-bb20-4d3d0ad3235c",
        "f3255b4c97fd4b19bb204d3d0ad3235c",
        "f3255b4c-97fd-4b19-bb20_4d3d0ad3235c",
        "f3255b4c-97fd-4b19-bb20-4d3d0ad3235\xc3\xa9",
        "Group_f3255b4c-97fd-4b19-bb20-4d3d0ad3235c",
        "*)(objectClass=*",
    };
    unsigned char bin[WB_ID_GUID_BIN_SIZE];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
        if (wb_id_guid_valid(junk[i]))
            fail_msg("accepted junk GUID \"%s\"", junk[i]);
        assert_false(wb_id_guid_from_str(junk[i], bin));
        assert_null(wb_id_guid_dn(junk[i]));
    }
    assert_false(wb_id_guid_valid(NULL));
    assert_false(wb_id_guid_from_str(NULL, bin));
    assert_null(wb_id_guid_dn(NULL));
}

static void test_dn_forms(void **state)
{
    char *s;

    (void)state;
    s = wb_id_guid_dn("F3255B4C-97FD-4B19-BB20-4D3D0AD3235C");
    assert_string_equal(s, "<GUID=f3255b4c-97fd-4b19-bb20-4d3d0ad3235c>");
    free(s);
    s = wb_id_sid_dn(samba_sid);
    assert_string_equal(s, "<SID=S-1-5-21-2867278512-287604172-3696939236-500>");
    free(s);
    s = wb_id_sid_dn("S-1-5-021-00500");
    assert_string_equal(s, "<SID=S-1-5-21-500>");
    free(s);
}

static void check_dn_escape(const char *val, size_t len, const char *want)
{
    char *s = wb_id_dn_escape(val, len);

    assert_string_equal(s, want);
    free(s);
}

static void test_dn_escape_vectors(void **state)
{
    (void)state;
    check_dn_escape("", 0, "");
    check_dn_escape(NULL, 0, "");
    check_dn_escape("plain", 5, "plain");
    check_dn_escape(",", 1, "\\,");
    check_dn_escape("+", 1, "\\+");
    check_dn_escape("\"", 1, "\\\"");
    check_dn_escape("\\", 1, "\\\\");
    check_dn_escape("<", 1, "\\<");
    check_dn_escape(">", 1, "\\>");
    check_dn_escape(";", 1, "\\;");
    check_dn_escape("=", 1, "\\=");
    check_dn_escape("a,b+c\"d\\e<f>g;h=i", 17, "a\\,b\\+c\\\"d\\\\e\\<f\\>g\\;h\\=i");
    /* '#' only at the start; spaces only at the ends. */
    check_dn_escape("#x#", 3, "\\#x#");
    check_dn_escape(" a b ", 5, "\\ a b\\ ");
    check_dn_escape(" ", 1, "\\ ");
    check_dn_escape("  ", 2, "\\ \\ ");
    check_dn_escape("   ", 3, "\\  \\ ");
    /* NUL inside the value, and control characters, as hex pairs. */
    check_dn_escape("a\0b", 3, "a\\00b");
    check_dn_escape("\0", 1, "\\00");
    check_dn_escape("l1\nl2\r\t\x7f", 8, "l1\\0al2\\0d\\09\\7f");
    /* UTF-8 passes through. */
    check_dn_escape(UNI, strlen(UNI), UNI);
    /* An attempt to smuggle another RDN or the parent. */
    check_dn_escape("evil,OU=Domain Controllers", 26, "evil\\,OU\\=Domain Controllers");
}

/* Unescapes the value of the first AVA of "CN=<esc>" with libldap and compares bytes. */
static void check_ldap_reads_back(const char *val, size_t len)
{
    char *esc = wb_id_dn_escape(val, len), *dnstr;
    LDAPDN dn = NULL;
    int rc;

    dnstr = malloc(strlen(esc) + 16);
    sprintf(dnstr, "CN=%s,DC=x", esc);
    rc = ldap_str2dn(dnstr, &dn, LDAP_DN_FORMAT_LDAPV3);
    if (rc != LDAP_SUCCESS)
        fail_msg("libldap rejects escaped DN \"%s\": %s", dnstr, ldap_err2string(rc));
    assert_non_null(dn[0]);
    assert_non_null(dn[1]);
    assert_null(dn[2]);    /* still exactly two RDNs */
    assert_null(dn[0][1]); /* and one AVA in the first */
    assert_int_equal(dn[0][0]->la_value.bv_len, len);
    assert_memory_equal(dn[0][0]->la_value.bv_val, val, len);
    ldap_dnfree(dn);
    free(dnstr);
    free(esc);
}

static void test_dn_escape_libldap(void **state)
{
    static const char alphabet[] = ",+\"\\<>;=# \0\n\r\tab=#Z\x7f";
    char val[64];
    unsigned seed = 12345;
    int iter;
    size_t i, len;

    (void)state;
    check_ldap_reads_back("#", 1);
    check_ldap_reads_back(" ", 1);
    check_ldap_reads_back("a\0b", 3);
    check_ldap_reads_back("x,DC=evil", 9);
    for (iter = 0; iter < 5000; iter++) {
        seed = seed * 1103515245 + 12345;
        len = 1 + (seed >> 16) % 40;
        for (i = 0; i < len; i++) {
            seed = seed * 1103515245 + 12345;
            val[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
        }
        check_ldap_reads_back(val, len);
    }
}

static void test_dn_escape_long(void **state)
{
    size_t n = 10000, i;
    char *val = malloc(n), *esc;

    (void)state;
    for (i = 0; i < n; i++)
        val[i] = ",a"[i % 2];
    esc = wb_id_dn_escape(val, n);
    assert_int_equal(strlen(esc), n + n / 2);
    free(esc);
    memset(val, ' ', n);
    esc = wb_id_dn_escape(val, n);
    assert_int_equal(strlen(esc), n + 2); /* only the two ends */
    free(esc);
    memset(val, '\0', n);
    esc = wb_id_dn_escape(val, n);
    assert_int_equal(strlen(esc), 3 * n);
    free(esc);
    check_ldap_reads_back(val, n);
    free(val);
}

static void check_filter(const char *val, size_t len, const char *want)
{
    char *s = wb_id_filter_escape(val, len);

    assert_string_equal(s, want);
    free(s);
}

static void test_filter_escape(void **state)
{
    size_t n = 10000, i;
    char *val, *esc;

    (void)state;
    check_filter(NULL, 0, "");
    check_filter("Group_x", 7, "Group_x");
    check_filter("*", 1, "\\2a");
    check_filter("(", 1, "\\28");
    check_filter(")", 1, "\\29");
    check_filter("\\", 1, "\\5c");
    check_filter("\0", 1, "\\00");
    check_filter("*)(objectClass=*", 16, "\\2a\\29\\28objectClass=\\2a");
    check_filter("x)(|(cn=*))", 11, "x\\29\\28|\\28cn=\\2a\\29\\29");
    check_filter("a\0*)", 4, "a\\00\\2a\\29");
    check_filter("\\2a", 3, "\\5c2a"); /* an already-escaped-looking value stays literal */
    check_filter("中文 \xf0\x9f\x98\x80 ,+=<>;#\"", strlen("中文 \xf0\x9f\x98\x80 ,+=<>;#\""),
                 "中文 \xf0\x9f\x98\x80 ,+=<>;#\"");

    val = malloc(n);
    for (i = 0; i < n; i++)
        val[i] = "*()\\\0a"[i % 6];
    esc = wb_id_filter_escape(val, n);
    assert_int_equal(strlen(esc), 3 * (n / 6 * 5 + 4) + (n / 6));
    /* No raw special survives. */
    assert_null(strpbrk(esc, "*()"));
    for (i = 0; esc[i]; i++)
        if (esc[i] == '\\')
            assert_true(strchr("0235", esc[i + 1]) != NULL);
    free(esc);
    free(val);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sid_samba_vector),
        cmocka_unit_test(test_sid_edges),
        cmocka_unit_test(test_sid_junk),
        cmocka_unit_test(test_sid_bin_malformed),
        cmocka_unit_test(test_guid),
        cmocka_unit_test(test_guid_junk),
        cmocka_unit_test(test_dn_forms),
        cmocka_unit_test(test_dn_escape_vectors),
        cmocka_unit_test(test_dn_escape_libldap),
        cmocka_unit_test(test_dn_escape_long),
        cmocka_unit_test(test_filter_escape),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
