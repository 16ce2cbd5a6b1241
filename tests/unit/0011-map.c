/*
 * 0011-map: Cloud Sync default mappings. cn/description truncation in UTF-16 units (ASCII, CJK,
 * emoji, mixed), .NET Trim whitespace, invalid UTF-8 (same replacement as Python's
 * errors="replace"), embedded NUL, DN-special names, 10,000-character names, the constant
 * attributes, and a randomized check that every cn is valid UTF-8 within AD's 64 units and that
 * libldap parses every generated DN back to that cn.
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

#include "wb_map.h"

#define ID     "1b8a3e9c-4f2d-4e6a-9b7c-0123456789ab"
#define ID_UP  "1B8A3E9C-4F2D-4E6A-9B7C-0123456789AB"
#define SUFFIX "_0123456789ab"
#define EMOJI  "\xf0\x9f\x98\x80" /* U+1F600, two UTF-16 units */
#define CJK    "\xe4\xb8\xad"     /* U+4E2D, one unit */
#define FFFD   "\xef\xbf\xbd"

/* s repeated n times, caller frees. */
static char *rep(const char *s, size_t n)
{
    size_t l = strlen(s), i;
    char *r = malloc(l * n + 1);

    for (i = 0; i < n; i++)
        memcpy(r + i * l, s, l);
    r[l * n] = '\0';
    return r;
}

static void check_cn(const char *name, size_t len, const char *want)
{
    char *cn = wb_map_cn(name, len, ID);

    assert_non_null(cn);
    assert_string_equal(cn, want);
    free(cn);
}

static void test_cn_basic(void **state)
{
    (void)state;
    check_cn("Sales Team", 10, "Sales Team" SUFFIX);
    check_cn("  Sales Team \t\r\n", 16, "Sales Team" SUFFIX);
    check_cn("", 0, SUFFIX);
    check_cn(NULL, 0, SUFFIX);
    check_cn(" \t ", 3, SUFFIX);
    /* Upper-case objectId: the suffix is lower case, like Entra's ids. */
    {
        char *cn = wb_map_cn("x", 1, ID_UP);

        assert_string_equal(cn, "x" SUFFIX);
        free(cn);
    }
    assert_null(wb_map_cn("x", 1, "not-a-guid"));
    assert_null(wb_map_cn("x", 1, NULL));
    assert_null(wb_map_cn("x", 1, ID "0"));
}

static void test_cn_truncation(void **state)
{
    char *name, *want, *cn;
    size_t i;

    (void)state;
    /* ASCII: 60 → 51. */
    name = rep("a", 60);
    want = rep("a", 51);
    cn = wb_map_cn(name, 60, ID);
    assert_int_equal(strncmp(cn, want, 51), 0);
    assert_string_equal(cn + 51, SUFFIX);
    assert_int_equal(wb_map_utf16_len(cn), 64);
    free(cn);
    free(name);
    free(want);

    /* Exactly 51 stays whole; trimming happens before the cut. */
    name = rep("b", 51);
    want = malloc(200);
    snprintf(want, 200, "   %s   ", name);
    cn = wb_map_cn(want, strlen(want), ID);
    assert_int_equal(strncmp(cn, name, 51), 0);
    assert_string_equal(cn + 51, SUFFIX);
    free(cn);
    free(name);
    free(want);

    /* CJK is in the BMP: one unit per character, 60 → 51 characters. */
    name = rep(CJK, 60);
    want = rep(CJK, 51);
    cn = wb_map_cn(name, strlen(name), ID);
    assert_int_equal(strncmp(cn, want, strlen(want)), 0);
    assert_string_equal(cn + strlen(want), SUFFIX);
    assert_int_equal(wb_map_utf16_len(cn), 64);
    free(cn);
    free(name);
    free(want);

    /* Emoji take two units: 60 emoji → 25 kept (50 units); half of the 26th never appears. */
    name = rep(EMOJI, 60);
    want = rep(EMOJI, 25);
    cn = wb_map_cn(name, strlen(name), ID);
    assert_int_equal(strncmp(cn, want, strlen(want)), 0);
    assert_string_equal(cn + strlen(want), SUFFIX);
    assert_int_equal(wb_map_utf16_len(cn), 63);
    free(cn);
    free(want);

    /* One ASCII first: 1 + 25 × 2 = 51. Two ASCII first: 2 + 24 × 2, the 25th won't fit. */
    want = malloc(strlen(name) + 3);
    sprintf(want, "a%s", name);
    cn = wb_map_cn(want, strlen(want), ID);
    free(want);
    want = rep(EMOJI, 25);
    assert_int_equal(cn[0], 'a');
    assert_int_equal(strncmp(cn + 1, want, strlen(want)), 0);
    assert_string_equal(cn + 1 + strlen(want), SUFFIX);
    assert_int_equal(wb_map_utf16_len(cn), 64);
    free(cn);
    free(want);
    want = malloc(strlen(name) + 3);
    sprintf(want, "aa%s", name);
    cn = wb_map_cn(want, strlen(want), ID);
    free(want);
    want = rep(EMOJI, 24);
    assert_int_equal(strncmp(cn + 2, want, strlen(want)), 0);
    assert_string_equal(cn + 2 + strlen(want), SUFFIX);
    assert_int_equal(wb_map_utf16_len(cn), 63);
    free(cn);
    free(want);
    free(name);

    /* 10,000 characters of each kind: always within cn's rangeUpper of 64 units. */
    for (i = 0; i < 3; i++) {
        static const char *const kinds[] = {"x", CJK, EMOJI};

        name = rep(kinds[i], 10000);
        cn = wb_map_cn(name, strlen(name), ID);
        assert_true(wb_map_utf16_len(cn) >= 63 && wb_map_utf16_len(cn) <= 64);
        assert_true(wb_map_utf8_valid(cn, strlen(cn), NULL));
        free(cn);
        free(name);
    }
}

static void test_trim(void **state)
{
    char *s;

    (void)state;
    /* NBSP, ideographic space, line separator, NEL, en quad, narrow NBSP. */
    s = wb_map_trim("\xc2\xa0\xe3\x80\x80x y\xe2\x80\xa8\xc2\x85\xe2\x80\x80\xe2\x80\xaf", 19);
    assert_string_equal(s, "x y");
    free(s);
    /* Zero width space and BOM are not whitespace to .NET. */
    s = wb_map_trim("\xe2\x80\x8bx\xef\xbb\xbf", 7);
    assert_string_equal(s, "\xe2\x80\x8bx\xef\xbb\xbf");
    free(s);
    s = wb_map_trim("\v\f x \v\f", 7);
    assert_string_equal(s, "x");
    free(s);
    s = wb_map_trim("   ", 3);
    assert_string_equal(s, "");
    free(s);
}

static void check_clean(const char *in, size_t len, const char *want)
{
    char *s = wb_map_clean(in, len);

    assert_string_equal(s, want);
    assert_true(wb_map_utf8_valid(s, strlen(s), NULL));
    free(s);
}

static void test_invalid_utf8(void **state)
{
    size_t off = 99;

    (void)state;
    /* Expected values are what Python's bytes.decode("utf-8", "replace") produces. */
    check_clean("\xff\xfe"
                "abc",
                5, FFFD FFFD "abc");
    check_clean("ab\xe4\xb8", 4, "ab" FFFD);
    check_clean("\xc0\xaf", 2, FFFD FFFD);
    check_clean("\xed\xa0\x80", 3, FFFD FFFD FFFD);
    check_clean("\xf0\x9f\x98"
                "a",
                4, FFFD "a");
    check_clean(CJK "x\x80y", 6, CJK "x" FFFD "y");
    check_clean("\xf4\x90\x80\x80", 4, FFFD FFFD FFFD FFFD);
    check_clean("\xe0\x80\xaf", 3, FFFD FFFD FFFD);

    assert_false(wb_map_utf8_valid("ab\xc0\xaf", 4, &off));
    assert_int_equal(off, 2);
    assert_true(wb_map_utf8_valid(EMOJI CJK "a", 8, NULL));

    /* In a cn, a replacement counts one unit. */
    {
        char *name = rep("\xff", 60), *cn = wb_map_cn(name, 60, ID), *want = rep(FFFD, 51);

        assert_int_equal(strncmp(cn, want, strlen(want)), 0);
        assert_string_equal(cn + strlen(want), SUFFIX);
        free(cn);
        free(want);
        free(name);
    }
}

static void test_nul(void **state)
{
    char *s;

    (void)state;
    check_cn("Sales\0Team", 10, "SalesTeam" SUFFIX);
    /* Dropped before trimming. */
    check_cn("\0 \0 x \0", 7, "x" SUFFIX);
    check_cn("\0\0\0", 3, SUFFIX);
    s = wb_map_display_name("a\0b", 3);
    assert_string_equal(s, "ab");
    free(s);
    assert_null(wb_map_display_name("\0", 1));
    s = wb_map_description(" d\0e ", 5);
    assert_string_equal(s, "de");
    free(s);
}

static void test_description_display_name(void **state)
{
    char *name, *s, *want;

    (void)state;
    assert_null(wb_map_description(NULL, 0));
    assert_null(wb_map_description(" \t\n", 3));
    s = wb_map_description("  Finance approvers  ", 21);
    assert_string_equal(s, "Finance approvers");
    free(s);
    name = rep("d", 500);
    s = wb_map_description(name, 500);
    assert_int_equal(strlen(s), 448);
    free(s);
    free(name);
    name = rep(EMOJI, 300);
    want = rep(EMOJI, 224);
    s = wb_map_description(name, strlen(name));
    assert_string_equal(s, want);
    free(s);
    free(want);
    free(name);

    /* displayName passes through: no trim, no cut. */
    s = wb_map_display_name("  Sales, EMEA  ", 15);
    assert_string_equal(s, "  Sales, EMEA  ");
    free(s);
    name = rep(CJK, 300);
    s = wb_map_display_name(name, strlen(name));
    assert_string_equal(s, name);
    free(s);
    free(name);
    assert_null(wb_map_display_name(NULL, 0));
    assert_null(wb_map_display_name("", 0));
}

static void test_constants(void **state)
{
    char *s;

    (void)state;
    s = wb_map_anchor(ID_UP);
    assert_string_equal(s, "Group_" ID);
    free(s);
    s = wb_map_sam_account_name(ID);
    assert_string_equal(s, "Group_0123456789ab");
    assert_true(strlen(s) <= 20); /* within the legacy 20-character limit */
    free(s);
    assert_null(wb_map_anchor("Group_" ID));
    assert_null(wb_map_sam_account_name(""));
    assert_int_equal(WB_MAP_GROUP_TYPE, -2147483640);
    assert_int_equal((uint32_t)WB_MAP_GROUP_TYPE, 0x80000008u);
}

static void check_rdn(const char *name, const char *want)
{
    char *rdn = wb_map_rdn(name, strlen(name), ID);

    assert_string_equal(rdn, want);
    free(rdn);
}

static void test_rdn_dn(void **state)
{
    char *dn;

    (void)state;
    check_rdn("Sales", "CN=Sales" SUFFIX);
    check_rdn("a,b+c\"d\\e<f>g;h=i", "CN=a\\,b\\+c\\\"d\\\\e\\<f\\>g\\;h\\=i" SUFFIX);
    check_rdn("#hash", "CN=\\#hash" SUFFIX);
    check_rdn("x,OU=Domain Controllers", "CN=x\\,OU\\=Domain Controllers" SUFFIX);
    check_rdn("*)(objectClass=*", "CN=*)(objectClass\\=*" SUFFIX);
    check_rdn("tab\there", "CN=tab\\09here" SUFFIX);
    dn = wb_map_dn("Sales, EMEA", 11, ID, "OU=Groups,DC=example,DC=com");
    assert_string_equal(dn, "CN=Sales\\, EMEA" SUFFIX ",OU=Groups,DC=example,DC=com");
    free(dn);
    assert_null(wb_map_dn("x", 1, ID, ""));
    assert_null(wb_map_dn("x", 1, ID, NULL));
    assert_null(wb_map_dn("x", 1, "nope", "OU=Groups,DC=example,DC=com"));
    assert_null(wb_map_rdn("x", 1, "nope"));
}

/* The DN parses with libldap into exactly cn + the target OU's RDNs. */
static void check_dn_parses(const char *name, size_t len)
{
    char *cn = wb_map_cn(name, len, ID);
    char *dnstr = wb_map_dn(name, len, ID, "OU=Groups,DC=example,DC=com");
    LDAPDN dn = NULL;
    int rc = ldap_str2dn(dnstr, &dn, LDAP_DN_FORMAT_LDAPV3);

    if (rc != LDAP_SUCCESS)
        fail_msg("libldap rejects \"%s\": %s", dnstr, ldap_err2string(rc));
    assert_non_null(dn[3]);
    assert_null(dn[4]);
    assert_int_equal(dn[0][0]->la_value.bv_len, strlen(cn));
    assert_memory_equal(dn[0][0]->la_value.bv_val, cn, strlen(cn));
    assert_true(wb_map_utf8_valid(cn, strlen(cn), NULL));
    assert_true(wb_map_utf16_len(cn) <= 64);
    assert_string_equal(cn + strlen(cn) - 13, SUFFIX);
    ldap_dnfree(dn);
    free(dnstr);
    free(cn);
}

static void test_random_names(void **state)
{
    /* Pieces: DN specials, whitespace kinds, NUL, 1-4 byte characters, invalid bytes. */
    static const char *const pieces[] = {",",        "+",
                                         "\"",       "\\",
                                         "<",        ">",
                                         ";",        "=",
                                         "#",        " ",
                                         "\t",       "\0",
                                         "\xc2\xa0", "\xe3\x80\x80",
                                         "a",        "Z",
                                         "é",        CJK,
                                         EMOJI,      "\xff",
                                         "\xe4\xb8", "\xed\xa0\x80",
                                         "\xf0\x9f", "*",
                                         "(",        ")"};
    static const size_t lens[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2,
                                  3, 1, 1, 2, 3, 4, 1, 2, 3, 2, 1, 1, 1};
    char name[1024];
    unsigned seed = 4242;
    size_t len, k, n, p;
    int iter;

    (void)state;
    check_dn_parses("#", 1);
    check_dn_parses(" ", 1);
    for (iter = 0; iter < 3000; iter++) {
        seed = seed * 1103515245 + 12345;
        n = (seed >> 16) % 120;
        len = 0;
        for (k = 0; k < n; k++) {
            seed = seed * 1103515245 + 12345;
            p = (seed >> 16) % (sizeof(pieces) / sizeof(pieces[0]));
            memcpy(name + len, pieces[p], lens[p]);
            len += lens[p];
        }
        check_dn_parses(name, len);
    }
}

static void test_group_bundle(void **state)
{
    struct wb_map_group m;
    char err[128];

    (void)state;
    assert_true(wb_map_group(&m, " Sales ", 7, NULL, 0, ID_UP, "OU=G,DC=x", err, sizeof(err)));
    assert_string_equal(m.cn, "Sales" SUFFIX);
    assert_string_equal(m.rdn, "CN=Sales" SUFFIX);
    assert_string_equal(m.dn, "CN=Sales" SUFFIX ",OU=G,DC=x");
    assert_string_equal(m.display_name, " Sales ");
    assert_null(m.description);
    assert_string_equal(m.anchor, "Group_" ID);
    assert_string_equal(m.sam_account_name, "Group_0123456789ab");
    assert_int_equal(m.group_type, -2147483640);
    wb_map_group_free(&m);
    assert_null(m.cn);
    wb_map_group_free(&m);
    wb_map_group_free(NULL);

    assert_false(wb_map_group(&m, "x", 1, "d", 1, "bad", "OU=G,DC=x", err, sizeof(err)));
    assert_string_equal(err, "objectId is not a GUID");
    assert_null(m.cn);
    wb_map_group_free(&m);
    assert_false(wb_map_group(&m, "x", 1, "d", 1, ID, "", err, sizeof(err)));
    assert_string_equal(err, "target OU is empty");
    assert_false(wb_map_group(&m, "x", 1, "d", 1, ID, NULL, NULL, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cn_basic),     cmocka_unit_test(test_cn_truncation),
        cmocka_unit_test(test_trim),         cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_nul),          cmocka_unit_test(test_description_display_name),
        cmocka_unit_test(test_constants),    cmocka_unit_test(test_rdn_dn),
        cmocka_unit_test(test_random_names), cmocka_unit_test(test_group_bundle),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
