/*
 * fuzz-ckpt: the checkpoint decoder (wb_ckpt_decode, wb_ckpt_decode_part) and the operator
 * command decoder (wb_command_decode), which read topic.state when the producer starts. The
 * first byte picks the decoder. Property: a decoded single-record checkpoint encodes into
 * records that decode again to the same round, link, scope and id counts.
 */
#include "fuzz.h"

#include <string.h>

#include "wb_ckpt.h"
#include "wb_command.h"

const char *const wb_fuzz_name = "ckpt";
const char *const wb_fuzz_dict[] = {
    "\"v\":1",
    "\"round\":",
    "\"deltaLink\":",
    "\"resync\":true",
    "\"scope\":\"all\"",
    "\"commandOffset\":-1",
    "\"parts\":",
    "\"part\":",
    "\"inScopeCount\":",
    "\"inScope\":[",
    "\"stagedDeletes\":[",
    "\"stagedUnscoped\":[",
    "\"nested\":[",
    "\"allowDeletes\":\"all\"",
    "\"allowDeletes\":[",
    "\"2e5807ce-58f3-4a94-9b37-ffff2e085957\"",
    "\"2e5807ce-58f3-4a94-9b37-ffff2e085957/0c3a7c1d-4a8e-4f5e-9d55-8a2b1f0e7a11\"",
    NULL,
};

/* Encode c, decode every record back, compare the headline fields. */
static void roundtrip(const struct wb_ckpt *c)
{
    struct wb_ckpt d;
    char **keys = NULL, **values = NULL, reason[256];
    unsigned parts = 0;
    size_t n = wb_ckpt_encode(c, "fuzz", 2, &keys, &values), i;

    wb_ckpt_init(&d);
    WB_FUZZ_CHECK(
        wb_ckpt_decode(&d, values[0], strlen(values[0]), &parts, reason, sizeof(reason)) == WB_OK,
        "own header does not decode: %s: %s", reason, values[0]);
    WB_FUZZ_CHECK(parts == n, "%u parts announced, %zu written", parts, n);
    for (i = 1; i < n; i++)
        WB_FUZZ_CHECK(wb_ckpt_decode_part(&d, (unsigned)i, values[i], strlen(values[i]), reason,
                                          sizeof(reason)) == WB_OK,
                      "own part %zu does not decode: %s", i, reason);
    WB_FUZZ_CHECK(d.round == c->round && d.resync == c->resync &&
                      d.command_offset == c->command_offset,
                  "headline fields differ after a round trip");
    WB_FUZZ_CHECK(!d.delta_link == !c->delta_link &&
                      (!d.delta_link || strcmp(d.delta_link, c->delta_link) == 0),
                  "deltaLink differs after a round trip");
    WB_FUZZ_CHECK(wb_idmap_count(d.in_scope) == wb_idmap_count(c->in_scope) &&
                      wb_idmap_count(d.staged) == wb_idmap_count(c->staged) &&
                      wb_idmap_count(d.nested) == wb_idmap_count(c->nested),
                  "id sets differ after a round trip");
    for (i = 0; i < n; i++) {
        free(keys[i]);
        free(values[i]);
    }
    free(keys);
    free(values);
    wb_ckpt_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wb_ckpt c;
    struct wb_command cmd;
    char reason[256];
    unsigned parts = 0;
    const char *json = (const char *)data + 1;
    size_t len = size ? size - 1 : 0;

    if (size == 0)
        return 0;
    memset(&cmd, 0, sizeof(cmd));
    wb_ckpt_init(&c);
    switch (data[0] % 3) {
    case 0:
        if (wb_ckpt_decode(&c, json, len, &parts, reason, sizeof(reason)) == WB_OK) {
            if (parts == 1)
                roundtrip(&c);
        } else {
            WB_FUZZ_CHECK(reason[0] != '\0', "checkpoint refused without a reason");
            WB_FUZZ_CHECK(wb_idmap_count(c.in_scope) == 0, "refused but not emptied");
        }
        break;
    case 1:
        /* A part after a valid two-part header of round 7. */
        if (wb_ckpt_decode(&c, "{\"v\":1,\"round\":7,\"deltaLink\":null,\"parts\":2}", 43, &parts,
                           reason, sizeof(reason)) == WB_OK)
            wb_ckpt_decode_part(&c, 1, json, len, reason, sizeof(reason));
        break;
    default:
        if (wb_command_decode(&cmd, json, len, reason, sizeof(reason)) == WB_OK)
            wb_command_free(&cmd);
        break;
    }
    wb_ckpt_free(&c);
    return 0;
}
