/*
 * fuzz-event: the event decoder (wb_event_decode), the one parser every worker runs on bytes
 * from Kafka. Properties: a decoded event passes wb_event_validate (the producer's rules are
 * the decoder's), and encoding it yields JSON that decodes and re-encodes to the same text.
 */
#include "fuzz.h"

#include <string.h>

#include "wb_event.h"

const char *const wb_fuzz_name = "event";
const char *const wb_fuzz_dict[] = {
    "\"v\":1",
    "\"type\":\"group.upsert\"",
    "\"type\":\"group.members\"",
    "\"type\":\"group.snapshot\"",
    "\"type\":\"group.delete\"",
    "\"group\":\"2e5807ce-58f3-4a94-9b37-ffff2e085957\"",
    "\"sid\":\"S-1-5-21-1-2-3-1001\"",
    "\"id\":\"0c3a7c1d-4a8e-4f5e-9d55-8a2b1f0e7a11\"",
    "\"add\":[",
    "\"remove\":[",
    "\"ts\":\"2024-05-01T12:00:00.123Z\"",
    "\"kind\":\"user\"",
    "\"kind\":\"group\"",
    "\\u0000",
    "\\ud800",
    "\xc3\xa9",
    "\xed\xa0\x80",
    "null",
    "true",
    "{}",
    "[]",
    NULL,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wb_event ev, ev2;
    char reason[256], *json = NULL, *json2 = NULL;

    if (wb_event_decode((const char *)data, size, &ev, reason, sizeof(reason)) != WB_OK) {
        WB_FUZZ_CHECK(reason[0] != '\0', "refused without a reason");
        wb_event_free(&ev);
        return 0;
    }
    WB_FUZZ_CHECK(wb_event_validate(&ev, reason, sizeof(reason)) == WB_OK,
                  "decoded but invalid: %s", reason);
    json = wb_event_encode(&ev);
    WB_FUZZ_CHECK(wb_event_decode(json, strlen(json), &ev2, reason, sizeof(reason)) == WB_OK,
                  "own encoding does not decode: %s: %s", reason, json);
    json2 = wb_event_encode(&ev2);
    WB_FUZZ_CHECK(strcmp(json, json2) == 0, "re-encoding differs:\n%s\n%s", json, json2);
    free(json);
    free(json2);
    wb_event_free(&ev2);
    wb_event_free(&ev);
    return 0;
}
