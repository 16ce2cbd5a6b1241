/*
 * fuzz-range: the parsers of values AD sends back (issue 13 finding 7): the ranged attribute
 * description (wb_ldap_parse_range) and the extended-DN prefix (wb_id_extdn_parse).
 * Properties: an accepted range has lo <= hi, both within WB_LDAP_RANGE_MAX (or hi '*'), and
 * its canonical form parses to the same bounds; an extended DN yields a DN offset inside the
 * input and a GUID and SID that are either empty or valid.
 */
#include "fuzz.h"

#include <string.h>

#include "wb_id.h"
#include "wb_ldap.h"

const char *const wb_fuzz_name = "range";
const char *const wb_fuzz_dict[] = {
    "member",
    ";range=",
    "-*",
    ";binary",
    "<GUID=",
    "<SID=",
    ">;",
    "S-1-5-21-",
    "0x",
    "-4294967295",
    "4c5b25f3fd97194bbb204d3d0ad3235c",
    "010500000000000515000000",
    NULL,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = wb_fuzz_str(data, size), canon[96];
    char guid[WB_ID_GUID_STR_SIZE], sid[WB_ID_SID_STR_SIZE];
    size_t lo = 0, hi = 0, lo2 = 0, hi2 = 0, off;
    int kind = wb_ldap_parse_range(s, "member", &lo, &hi);

    WB_FUZZ_CHECK(kind >= -1 && kind <= 2, "kind %d", kind);
    if (kind == 1) {
        WB_FUZZ_CHECK(lo <= hi && lo <= WB_LDAP_RANGE_MAX &&
                          (hi == SIZE_MAX || hi <= WB_LDAP_RANGE_MAX),
                      "accepted %zu-%zu from \"%s\"", lo, hi, s);
        if (hi == SIZE_MAX)
            snprintf(canon, sizeof(canon), "member;range=%zu-*", lo);
        else
            snprintf(canon, sizeof(canon), "member;range=%zu-%zu", lo, hi);
        WB_FUZZ_CHECK(wb_ldap_parse_range(canon, "member", &lo2, &hi2) == 1 && lo2 == lo &&
                          hi2 == hi,
                      "canonical form %s does not parse back", canon);
    }
    off = wb_id_extdn_parse((const char *)data, size, guid, sid);
    WB_FUZZ_CHECK(off <= size, "DN offset %zu past %zu", off, size);
    WB_FUZZ_CHECK(guid[0] == '\0' || wb_id_guid_valid(guid), "bad GUID %s", guid);
    WB_FUZZ_CHECK(sid[0] == '\0' || wb_id_sid_valid(sid), "bad SID %s", sid);
    free(s);
    return 0;
}
