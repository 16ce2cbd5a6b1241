/*
 * fuzz-scope: the scope filter parser (scope.filter, an OData-like expression an operator
 * writes) and its evaluator: wb_scope_new in filter mode, then the attributes it reads, its
 * fingerprint and a match against three groups. Property: a filter that parses has a
 * fingerprint, and matching is deterministic.
 */
#include "fuzz.h"

#include <string.h>

#include "wb_scope.h"

const char *const wb_fuzz_name = "scope";
const char *const wb_fuzz_dict[] = {
    "displayName",
    "description",
    "groupTypes",
    "mailEnabled",
    "securityEnabled",
    "extension_0123456789abcdef0123456789abcdef_dept",
    " eq ",
    " ne ",
    " and ",
    " or ",
    "not ",
    "startswith(",
    "endswith(",
    "any(t:t eq ",
    "'",
    "''",
    "(",
    ")",
    "null",
    "true",
    "false",
    "'Sales'",
    NULL,
};

static const char *const groups[] = {
    "{\"displayName\":\"Sales EU\",\"description\":null,\"securityEnabled\":true,"
    "\"mailEnabled\":false,\"groupTypes\":[]}",
    "{\"displayName\":\"x\",\"securityEnabled\":true,\"mailEnabled\":false,"
    "\"groupTypes\":[\"DynamicMembership\"],"
    "\"extension_0123456789abcdef0123456789abcdef_dept\":\"Sales\"}",
    "{\"securityEnabled\":true,\"mailEnabled\":false,\"onPremisesSyncEnabled\":null}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *filter = wb_fuzz_str(data, size), err[512];
    wb_scope_t *sc = wb_scope_new("filter", NULL, filter, err, sizeof(err));
    size_t i;

    if (!sc) {
        WB_FUZZ_CHECK(err[0] != '\0', "filter refused without a reason");
        free(filter);
        return 0;
    }
    WB_FUZZ_CHECK(wb_scope_fingerprint(sc) && wb_scope_attrs(sc), "no fingerprint or attrs");
    for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        cJSON *j = cJSON_Parse(groups[i]);
        struct wb_gprops p;
        bool a, b;

        wb_gprops_init(&p);
        wb_gprops_merge(&p, j, NULL, 0);
        a = wb_scope_match(sc, "2e5807ce-58f3-4a94-9b37-ffff2e085957", &p);
        b = wb_scope_match(sc, "2e5807ce-58f3-4a94-9b37-ffff2e085957", &p);
        WB_FUZZ_CHECK(a == b, "match is not deterministic");
        wb_gprops_free(&p);
        cJSON_Delete(j);
    }
    wb_scope_destroy(sc);
    free(filter);
    return 0;
}
