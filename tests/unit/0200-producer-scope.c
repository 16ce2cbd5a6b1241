/*
 * 0200 producer scope: the fixed Cloud Sync clause, the three scope modes, the attribute
 * value filter (every operator, AND/OR, quoting, directory extensions, parse errors) and
 * the merging of group properties from delta pages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "wb_scope.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void props_from(struct wb_gprops *p, const char *json)
{
    cJSON *j = cJSON_Parse(json);
    char reason[128];

    assert_non_null(j);
    wb_gprops_init(p);
    assert_int_equal(wb_gprops_merge(p, j, reason, sizeof(reason)), WB_OK);
    cJSON_Delete(j);
}

static bool filter_match(const char *filter, const char *json)
{
    char err[256];
    wb_scope_t *sc = wb_scope_new("filter", NULL, filter, err, sizeof(err));
    struct wb_gprops p;
    bool r;

    if (!sc)
        fail_msg("filter %s: %s", filter, err);
    props_from(&p, json);
    r = wb_scope_match(sc, "2e5807ce-58f3-4a94-9b37-ffff2e085957", &p);
    wb_gprops_free(&p);
    wb_scope_destroy(sc);
    return r;
}

#define SG "\"securityEnabled\":true,\"mailEnabled\":false"

static void test_base_clause(void **state)
{
    static const struct {
        const char *json;
        bool in;
    } cases[] = {
        {"{" SG "}", true},
        {"{" SG ",\"onPremisesSyncEnabled\":null}", true},
        {"{" SG ",\"onPremisesSyncEnabled\":false}", true},
        {"{" SG ",\"onPremisesSyncEnabled\":true}", false},
        {"{\"securityEnabled\":true,\"mailEnabled\":true}", false},
        {"{\"securityEnabled\":false,\"mailEnabled\":false}", false},
        {"{\"securityEnabled\":null}", false},
        {"{" SG ",\"groupTypes\":[\"Unified\"]}", false},
        {"{" SG ",\"groupTypes\":[\"DynamicMembership\"]}", true},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct wb_gprops p;

        props_from(&p, cases[i].json);
        if (wb_scope_base(&p) != cases[i].in)
            fail_msg("%s: expected %d", cases[i].json, cases[i].in);
        wb_gprops_free(&p);
    }
}

static void test_selected(void **state)
{
    const char *ids[] = {"2E5807CE-58F3-4A94-9B37-FFFF2E085957", NULL};
    const char *bad[] = {"not-a-guid", NULL};
    char err[256];
    wb_scope_t *sc = wb_scope_new("selected", ids, NULL, err, sizeof(err));
    struct wb_gprops p;

    (void)state;
    assert_non_null(sc);
    props_from(&p, "{" SG "}");
    assert_true(wb_scope_match(sc, "2e5807ce-58f3-4a94-9b37-ffff2e085957", &p));
    assert_false(wb_scope_match(sc, "ec22655c-8eb2-432a-b4ea-8b8a254bffff", &p));
    wb_gprops_free(&p);
    props_from(&p, "{\"securityEnabled\":true,\"mailEnabled\":true}");
    assert_false(wb_scope_match(sc, "2e5807ce-58f3-4a94-9b37-ffff2e085957", &p));
    wb_gprops_free(&p);
    assert_non_null(strstr(wb_scope_fingerprint(sc), "selected:1:"));
    wb_scope_destroy(sc);

    assert_null(wb_scope_new("selected", bad, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "not a GUID"));
    assert_null(wb_scope_new("selected", NULL, NULL, err, sizeof(err)));
    assert_null(wb_scope_new("some", NULL, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "scope.mode"));
}

static void test_filter_ops(void **state)
{
    const char *g = "{" SG ",\"displayName\":\"App-Finance\",\"description\":null,"
                    "\"extension_9b1c2d3e4f5a46b7a8c9d0e1f2a3b4c5_WritebackEnabled\":true,"
                    "\"extension_9b1c2d3e4f5a46b7a8c9d0e1f2a3b4c5_Level\":\"12\","
                    "\"extension_9b1c2d3e4f5a46b7a8c9d0e1f2a3b4c5_Num\":7}";

    (void)state;
    assert_true(filter_match("displayName EQUALS App-Finance", g));
    assert_false(filter_match("displayName EQUALS app-finance", g)); /* case-sensitive */
    assert_true(filter_match("displayName NOT_EQUALS 'x y'", g));
    assert_true(filter_match("description NOT EQUALS x", g)); /* null is not equal */
    assert_false(filter_match("description EQUALS x", g));
    assert_true(filter_match("description IS NULL", g));
    assert_false(filter_match("description IS_NOT_NULL", g));
    assert_true(
        filter_match("extension_9b1c2d3e4f5a46b7a8c9d0e1f2a3b4c5_WritebackEnabled IS TRUE", g));
    assert_false(filter_match("extension_9b1c2d3e4f5a46b7a8c9d0e1f2a3b4c5_WritebackEnabled "
                              "IS_FALSE",
                              g));
    assert_true(filter_match("extension_9b1c2d3e4f5a46b7a8c9d0e1f2a3b4c5_WritebackEnabled "
                             "EQUALS true",
                             g));
    assert_true(
        filter_match("extension_9b1c2d3e4f5a46b7a8c9d0e1f2a3b4c5_Level GREATER_THAN 11", g));
    assert_false(filter_match("extension_9b1c2d3e4f5a46b7a8c9d0e1f2a3b4c5_Level GT 12", g));
    assert_true(filter_match("extension_9b1c2d3e4f5a46b7a8c9d0e1f2a3b4c5_Level GE 12", g));
    assert_true(filter_match("extension_9b1c2d3e4f5a46b7a8c9d0e1f2a3b4c5_Num "
                             "GREATER THAN OR EQUALS 7",
                             g));
    assert_false(filter_match("displayName GREATER_THAN 1", g)); /* not an integer */
    assert_true(filter_match("displayName REGEX_MATCH '^App-(Fin|HR)'", g));
    assert_false(filter_match("displayName REGEX MATCH ^HR", g));
    assert_true(filter_match("displayName NOT_REGEX_MATCH ^HR", g));
    assert_false(filter_match("description NOT_REGEX_MATCH x", g)); /* false for null */
    assert_false(filter_match("missingAttr IS TRUE", g));
    assert_true(filter_match("missingAttr IS NULL", g));
    /* AND within, OR across */
    assert_true(filter_match("displayName EQ App-Finance AND description IS NULL", g));
    assert_false(filter_match("displayName EQ App-Finance && description IS NOT NULL", g));
    assert_true(filter_match("displayName EQ nope OR description IS NULL", g));
    assert_true(filter_match("displayName == nope || displayName != nope", g));
    assert_false(filter_match("displayName EQ a AND description IS NULL OR displayName EQ b", g));
    /* quoting with escapes */
    assert_true(filter_match("displayName EQUALS \"App-Fin\\ance\"", g));
    /* the fixed clause still applies */
    assert_false(filter_match("displayName EQUALS x OR description IS NULL",
                              "{\"securityEnabled\":true,\"mailEnabled\":true}"));
}

static void test_filter_errors(void **state)
{
    static const char *const bad[] = {
        "",
        "   ",
        "displayName",
        "displayName FROB x",
        "displayName EQUALS",
        "displayName EQUALS x AND",
        "displayName EQUALS x OR",
        "displayName EQUALS x displayName",
        "'quoted' IS NULL",
        "displayName EQUALS 'unterminated",
        "x GREATER_THAN abc",
        "x REGEX_MATCH '('",
    };
    const char *const attrs_f = "a IS TRUE AND b IS NULL OR a EQ x";
    char err[256];
    size_t i;
    wb_scope_t *sc;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        sc = wb_scope_new("filter", NULL, bad[i], err, sizeof(err));
        if (sc)
            fail_msg("filter \"%s\" was accepted", bad[i]);
        assert_non_null(strstr(err, "scope."));
    }
    sc = wb_scope_new("filter", NULL, attrs_f, err, sizeof(err));
    assert_non_null(sc);
    assert_string_equal(wb_scope_attrs(sc)[0], "a");
    assert_string_equal(wb_scope_attrs(sc)[1], "b");
    assert_null(wb_scope_attrs(sc)[2]);
    wb_scope_destroy(sc);
}

static void test_gprops(void **state)
{
    struct wb_gprops p;
    cJSON *j;
    char reason[128];
    uint64_t h1, h2;

    (void)state;
    props_from(&p, "{\"id\":\"x\",\"displayName\":\"A\",\"groupTypes\":[\"Unified\"],"
                   "\"members@delta\":[],\"extension_1_X\":5}");
    assert_string_equal(p.display_name, "A");
    assert_int_equal(p.ngroup_types, 1);
    assert_non_null(cJSON_GetObjectItem(p.extra, "extension_1_X"));
    assert_null(cJSON_GetObjectItem(p.extra, "members@delta"));
    h1 = wb_gprops_hash(&p);
    /* a later page with the same group merges: present properties overwrite */
    j = cJSON_Parse("{\"displayName\":\"B\",\"description\":\"d\",\"extension_1_X\":6}");
    assert_int_equal(wb_gprops_merge(&p, j, reason, sizeof(reason)), WB_OK);
    cJSON_Delete(j);
    assert_string_equal(p.display_name, "B");
    assert_string_equal(p.description, "d");
    assert_int_equal(p.ngroup_types, 1);
    assert_int_equal(cJSON_GetObjectItem(p.extra, "extension_1_X")->valueint, 6);
    h2 = wb_gprops_hash(&p);
    assert_true(h1 != h2 && h1 != 0 && h2 != 0);
    /* wrong types are refused with a reason */
    j = cJSON_Parse("{\"securityEnabled\":\"yes\"}");
    assert_int_equal(wb_gprops_merge(&p, j, reason, sizeof(reason)), WB_ERR_INVALID);
    assert_non_null(strstr(reason, "securityEnabled"));
    cJSON_Delete(j);
    j = cJSON_Parse("{\"groupTypes\":[1]}");
    assert_int_equal(wb_gprops_merge(&p, j, reason, sizeof(reason)), WB_ERR_INVALID);
    cJSON_Delete(j);
    j = cJSON_Parse("[1]");
    assert_int_equal(wb_gprops_merge(&p, j, reason, sizeof(reason)), WB_ERR_INVALID);
    cJSON_Delete(j);
    wb_gprops_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base_clause), cmocka_unit_test(test_selected),
        cmocka_unit_test(test_filter_ops),  cmocka_unit_test(test_filter_errors),
        cmocka_unit_test(test_gprops),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
