/*
 * fuzz-graph-page: the Graph groups delta page parser, as the producer runs it on a response
 * body: \u0000 escapes stripped (wb_event_strip_nul_escapes), cJSON, then wb_round_page (the
 * page's shape, every object and member reference, then the round's update). Property: a
 * refused page leaves the round untouched; an accepted one ends with a nextLink or a
 * deltaLink.
 */
#include "fuzz.h"

#include <string.h>

#include "wb_event.h"
#include "wb_round.h"

const char *const wb_fuzz_name = "graph-page";
const char *const wb_fuzz_dict[] = {
    "\"value\":[",
    "\"@odata.nextLink\":\"https://graph.microsoft.com/v1.0/groups/delta?$skiptoken=x\"",
    "\"@odata.deltaLink\":\"https://graph.microsoft.com/v1.0/groups/delta?$deltatoken=y\"",
    "\"id\":\"2e5807ce-58f3-4a94-9b37-ffff2e085957\"",
    "\"@removed\":{\"reason\":\"deleted\"}",
    "\"members@delta\":[",
    "\"@odata.type\":\"#microsoft.graph.user\"",
    "\"@odata.type\":\"#microsoft.graph.group\"",
    "\"displayName\":",
    "\"securityEnabled\":true",
    "\"mailEnabled\":false",
    "\"groupTypes\":[\"Unified\"]",
    "\"onPremisesSyncEnabled\":null",
    "\\u0000",
    NULL,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = wb_fuzz_str(data, size), *next = NULL;
    size_t len = wb_event_strip_nul_escapes(body, size);
    cJSON *page = cJSON_ParseWithLength(body, len);
    struct wb_round r;
    const char *why;

    wb_round_init(&r);
    why = wb_round_page(&r, page, &next);
    if (why) {
        WB_FUZZ_CHECK(r.pages == 0 && r.objects == 0 && wb_idmap_count(r.groups) == 0 &&
                          !r.delta_link && !next,
                      "refused page (%s) changed the round", why);
    } else {
        WB_FUZZ_CHECK(r.pages == 1 && (!next != !r.delta_link),
                      "accepted page ends with neither or both links");
    }
    free(next);
    wb_round_free(&r);
    cJSON_Delete(page);
    free(body);
    return 0;
}
