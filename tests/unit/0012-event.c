/*
 * 0012-event: the event codec. Lossless round trips for every type, the documented JSON shape,
 * a table of malformed events with the exact reason each must give (not JSON, truncated, wrong
 * types, unknown v/type, bad GUID/SID, huge arrays, deep nesting, duplicate keys, NUL, bad
 * UTF-8), every truncation of a valid event, and a seeded mutation fuzz loop under ASan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wb_event.h"

#define G   "1b8a3e9c-4f2d-4e6a-9b7c-0123456789ab"
#define U1  "0c0a8a51-1a5d-4c1e-8d4f-aaaaaaaaaaaa"
#define U2  "0c0a8a51-1a5d-4c1e-8d4f-bbbbbbbbbbbb"
#define SID "S-1-5-21-2867278512-287604172-3696939236-1105"
#define ENV(type)                                                                                  \
    "{\"v\":1,\"type\":\"" type "\",\"tenant\":\"contoso.onmicrosoft.com\",\"group\":\"" G         \
    "\",\"round\":\"r-17\",\"ts\":\"2024-05-01T12:00:00.123Z\""
#define ATTRS                                                                                      \
    "\"attrs\":{\"displayName\":\"Sales\",\"description\":null,\"securityEnabled\":true,"          \
    "\"mailEnabled\":false,\"groupTypes\":[]}"
#define MUSER "{\"kind\":\"user\",\"id\":\"" U1 "\",\"sid\":\"" SID "\"}"
#define MGRP  "{\"kind\":\"group\",\"id\":\"" U2 "\"}"

/* Decodes from an exact-size heap copy (no terminator), so ASan sees any over-read. */
static wb_err_t decode(const char *buf, size_t len, struct wb_event *ev, char *reason,
                       size_t reasonsz)
{
    char *copy = malloc(len ? len : 1);
    wb_err_t err;

    memcpy(copy, buf, len);
    err = wb_event_decode(copy, len, ev, reason, reasonsz);
    free(copy);
    return err;
}

static bool is_zero(const struct wb_event *ev)
{
    static const struct wb_event zero;

    return memcmp(ev, &zero, sizeof(zero)) == 0;
}

static bool str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool members_eq(const struct wb_member *a, size_t na, const struct wb_member *b, size_t nb)
{
    size_t i;

    if (na != nb)
        return false;
    for (i = 0; i < na; i++)
        if (a[i].kind != b[i].kind || !str_eq(a[i].id, b[i].id) || !str_eq(a[i].sid, b[i].sid) ||
            !str_eq(a[i].guid, b[i].guid))
            return false;
    return true;
}

static bool ev_eq(const struct wb_event *a, const struct wb_event *b)
{
    size_t i;

    if (a->v != b->v || a->type != b->type || !str_eq(a->tenant, b->tenant) ||
        !str_eq(a->group, b->group) || !str_eq(a->round, b->round) || !str_eq(a->ts, b->ts))
        return false;
    if (!str_eq(a->attrs.display_name, b->attrs.display_name) ||
        !str_eq(a->attrs.description, b->attrs.description) ||
        a->attrs.security_enabled != b->attrs.security_enabled ||
        a->attrs.mail_enabled != b->attrs.mail_enabled ||
        a->attrs.group_types_count != b->attrs.group_types_count)
        return false;
    for (i = 0; i < a->attrs.group_types_count; i++)
        if (!str_eq(a->attrs.group_types[i], b->attrs.group_types[i]))
            return false;
    if ((a->attrs.extra == NULL) != (b->attrs.extra == NULL) ||
        (a->attrs.extra && !cJSON_Compare(a->attrs.extra, b->attrs.extra, 1)))
        return false;
    return members_eq(a->add, a->add_count, b->add, b->add_count) &&
           members_eq(a->remove, a->remove_count, b->remove, b->remove_count) &&
           members_eq(a->members, a->members_count, b->members, b->members_count) &&
           str_eq(a->snapshot, b->snapshot) && a->chunk == b->chunk && a->chunks == b->chunks;
}

static struct wb_member *make_members(size_t n)
{
    struct wb_member *m = calloc(n ? n : 1, sizeof(*m));
    size_t i;

    for (i = 0; i < n; i++) {
        char id[48];

        snprintf(id, sizeof(id), "0c0a8a51-1a5d-4c1e-8d4f-%012zx", i);
        m[i].id = strdup(id);
        switch (i % 4) {
        case 0:
            m[i].kind = WB_MEMBER_USER;
            m[i].sid = strdup(SID);
            break;
        case 1:
            m[i].kind = WB_MEMBER_USER;
            m[i].guid = strdup("F3255B4C-97FD-4B19-BB20-4D3D0AD3235C");
            break;
        case 2:
            m[i].kind = WB_MEMBER_USER;
            m[i].sid = strdup("S-1-5-21-1-2-3-4294967295");
            m[i].guid = strdup("f3255b4c-97fd-4b19-bb20-4d3d0ad3235c");
            break;
        default:
            m[i].kind = WB_MEMBER_GROUP;
            break;
        }
    }
    return m;
}

static void make_event(struct wb_event *ev, enum wb_event_type type)
{
    memset(ev, 0, sizeof(*ev));
    ev->v = 1;
    ev->type = type;
    ev->tenant = strdup("72f988bf-86f1-41af-91ab-2d7cd011db47");
    ev->group = strdup(G);
    ev->round = strdup("2024-05-01T12:00:00Z:42");
    ev->ts = strdup("2024-05-01T12:00:00.123Z");
    if (type == WB_EVENT_GROUP_UPSERT) {
        /* Quotes, backslash, control characters, CJK, emoji, a leading '#'. */
        ev->attrs.display_name = strdup("#Sales \"EMEA\" \\ \t\n\x01 中文 \xf0\x9f\x98\x80 ,+=");
        ev->attrs.description = strdup("  Finance approvers  ");
        ev->attrs.security_enabled = true;
        ev->attrs.mail_enabled = false;
        ev->attrs.group_types_count = 2;
        ev->attrs.group_types = calloc(2, sizeof(char *));
        ev->attrs.group_types[0] = strdup("DynamicMembership");
        ev->attrs.group_types[1] = strdup("Unified");
        ev->attrs.extra = cJSON_Parse(
            "{\"extension_0123abcd_GroupDN\":\"CN=Old,OU=X,DC=y\",\"n\":42,\"neg\":-1.5,"
            "\"list\":[\"a\",1,true,null,{\"deep\":[[]]}],\"none\":null,\"flag\":false}");
        ev->add = make_members(3);
        ev->add_count = 3;
        ev->remove = make_members(1);
        ev->remove_count = 1;
    } else if (type == WB_EVENT_GROUP_MEMBERS) {
        ev->add = make_members(7);
        ev->add_count = 7;
        ev->remove = make_members(5);
        ev->remove_count = 5;
    } else if (type == WB_EVENT_GROUP_SNAPSHOT) {
        ev->members = make_members(9);
        ev->members_count = 9;
        ev->snapshot = strdup("snap-0001");
        ev->chunk = 2;
        ev->chunks = 3;
    }
}

static void round_trip(struct wb_event *ev)
{
    struct wb_event out;
    char reason[256] = "";
    char *json, *json2;
    wb_err_t err;

    assert_int_equal(wb_event_validate(ev, reason, sizeof(reason)), WB_OK);
    json = wb_event_encode(ev);
    err = decode(json, strlen(json), &out, reason, sizeof(reason));
    if (err != WB_OK)
        fail_msg("decode of %s failed: %s", json, reason);
    assert_true(ev_eq(ev, &out));
    /* And the encoding is stable. */
    json2 = wb_event_encode(&out);
    assert_string_equal(json, json2);
    free(json2);
    free(json);
    wb_event_free(&out);
    assert_true(is_zero(&out));
}

static void test_round_trip(void **state)
{
    static const enum wb_event_type all[] = {WB_EVENT_GROUP_UPSERT, WB_EVENT_GROUP_MEMBERS,
                                             WB_EVENT_GROUP_SNAPSHOT, WB_EVENT_GROUP_DELETE,
                                             WB_EVENT_GROUP_UNSCOPED};
    struct wb_event ev;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        make_event(&ev, all[i]);
        round_trip(&ev);
        wb_event_free(&ev);
    }
    /* Upsert without description, extras or member delta; empty display name. */
    make_event(&ev, WB_EVENT_GROUP_UPSERT);
    free(ev.attrs.description);
    ev.attrs.description = NULL;
    cJSON_Delete(ev.attrs.extra);
    ev.attrs.extra = NULL;
    free(ev.attrs.display_name);
    ev.attrs.display_name = strdup("");
    wb_event_free(&(struct wb_event){.add = ev.add, .add_count = ev.add_count});
    ev.add = NULL;
    ev.add_count = 0;
    round_trip(&ev);
    wb_event_free(&ev);
    /* Empty snapshot (a group without members), one chunk; the biggest allowed event. */
    make_event(&ev, WB_EVENT_GROUP_SNAPSHOT);
    wb_event_free(&(struct wb_event){.members = ev.members, .members_count = ev.members_count});
    ev.members = NULL;
    ev.members_count = 0;
    ev.chunk = ev.chunks = 1;
    round_trip(&ev);
    ev.members = make_members(WB_EVENT_MAX_MEMBERS);
    ev.members_count = WB_EVENT_MAX_MEMBERS;
    ev.chunk = ev.chunks = WB_EVENT_MAX_CHUNKS;
    round_trip(&ev);
    wb_event_free(&ev);
}

static void test_documented_shape(void **state)
{
    static const char upsert[] =
        ENV("group.upsert") ",\"attrs\":{\"displayName\":\"Sales\",\"description\":\"d\","
                            "\"securityEnabled\":true,\"mailEnabled\":false,\"groupTypes\":[],"
                            "\"extension_x_GroupDN\":\"CN=a\"},\"add\":[" MUSER "]}";
    static const char members[] =
        ENV("group.members") ",\"add\":[" MGRP ",{\"kind\":\"user\",\"id\":\"" U1 "\",\"guid\":\"" G
                             "\",\"sid\":null}],\"remove\":[" MUSER "]}";
    static const char snapshot[] = ENV("group.snapshot") ",\"snapshot\":\"s1\",\"chunk\":1,"
                                                         "\"chunks\":1,\"members\":[" MUSER "]}";
    static const char del[] = ENV("group.delete") ",\"unknownFutureField\":{\"x\":1}}";
    struct wb_event ev;
    char reason[256];
    cJSON *x;

    (void)state;
    assert_int_equal(decode(upsert, strlen(upsert), &ev, reason, sizeof(reason)), WB_OK);
    assert_int_equal(ev.type, WB_EVENT_GROUP_UPSERT);
    assert_string_equal(ev.tenant, "contoso.onmicrosoft.com");
    assert_string_equal(ev.group, G);
    assert_string_equal(ev.round, "r-17");
    assert_string_equal(ev.ts, "2024-05-01T12:00:00.123Z");
    assert_string_equal(ev.attrs.display_name, "Sales");
    assert_string_equal(ev.attrs.description, "d");
    assert_true(ev.attrs.security_enabled);
    assert_false(ev.attrs.mail_enabled);
    assert_int_equal(ev.attrs.group_types_count, 0);
    x = cJSON_GetObjectItemCaseSensitive(ev.attrs.extra, "extension_x_GroupDN");
    assert_string_equal(cJSON_GetStringValue(x), "CN=a");
    assert_int_equal(cJSON_GetArraySize(ev.attrs.extra), 1);
    assert_int_equal(ev.add_count, 1);
    assert_int_equal(ev.add[0].kind, WB_MEMBER_USER);
    assert_string_equal(ev.add[0].sid, SID);
    assert_null(ev.add[0].guid);
    assert_int_equal(ev.remove_count, 0);
    wb_event_free(&ev);

    assert_int_equal(decode(members, strlen(members), &ev, reason, sizeof(reason)), WB_OK);
    assert_int_equal(ev.add_count, 2);
    assert_int_equal(ev.add[0].kind, WB_MEMBER_GROUP);
    assert_string_equal(ev.add[0].id, U2);
    assert_null(ev.add[1].sid);
    assert_string_equal(ev.add[1].guid, G);
    assert_int_equal(ev.remove_count, 1);
    wb_event_free(&ev);

    assert_int_equal(decode(snapshot, strlen(snapshot), &ev, reason, sizeof(reason)), WB_OK);
    assert_int_equal(ev.chunk, 1);
    assert_int_equal(ev.chunks, 1);
    assert_string_equal(ev.snapshot, "s1");
    assert_int_equal(ev.members_count, 1);
    wb_event_free(&ev);

    assert_int_equal(decode(del, strlen(del), &ev, reason, sizeof(reason)), WB_OK);
    assert_int_equal(ev.type, WB_EVENT_GROUP_DELETE);
    wb_event_free(&ev);
}

struct bad_case {
    const char *json;
    const char *reason; /* exact, or a prefix when it ends in '*' */
};

static const struct bad_case bad_cases[] = {
    {"", "not JSON (empty message)"},
    {"not json", "not JSON (error at byte 0)"},
    {"{\"v\":1,", "not JSON (truncated at byte 7)"},
    {"{\"v\":tru}", "not JSON (error at byte 5)"},
    {"[]", "not a JSON object"},
    {"\"str\"", "not a JSON object"},
    {"{}", "field v: missing"},
    {"{\"v\":\"1\"}", "field v: not a number"},
    {"{\"v\":null}", "field v: not a number"},
    {"{\"v\":2}", "unknown v 2"},
    {"{\"v\":1.5}", "unknown v 1.5"},
    {"{\"v\":0}", "unknown v 0"},
    {"{\"v\":1}", "field type: missing"},
    {"{\"v\":1,\"type\":5}", "field type: not a string"},
    {"{\"v\":1,\"type\":\"group.frob\"}", "unknown type \"group.frob\""},
    {"{\"v\":1,\"type\":\"GROUP.UPSERT\"}", "unknown type \"GROUP.UPSERT\""},
    {"{\"v\":1,\"type\":\"g\\\"\\n\"}", "unknown type \"g??\""},
    {"{\"v\":1,\"v\":2}", "duplicate key \"v\""},
    {ENV("group.delete") "} x", "not JSON*"},
    {ENV("group.delete") "}" ENV("group.delete") "}", "not JSON*"},
    {"{\"v\":1,\"type\":\"group.delete\",\"tenant\":\"t\",\"round\":\"r\",\"ts\":\"x\"}",
     "field group: missing"},
    {"{\"v\":1,\"type\":\"group.delete\",\"tenant\":\"t\",\"group\":42,\"round\":\"r\","
     "\"ts\":\"x\"}",
     "field group: not a string"},
    {"{\"v\":1,\"type\":\"group.delete\",\"tenant\":\"t\",\"group\":\"not-a-guid\","
     "\"round\":\"r\",\"ts\":\"2024-05-01T12:00:00Z\"}",
     "field group: not a GUID"},
    {"{\"v\":1,\"type\":\"group.delete\",\"tenant\":\"t\",\"group\":\"{" G "}\","
     "\"round\":\"r\",\"ts\":\"2024-05-01T12:00:00Z\"}",
     "field group: not a GUID"},
    {"{\"v\":1,\"type\":\"group.delete\",\"tenant\":\"a/b\",\"group\":\"" G "\","
     "\"round\":\"r\",\"ts\":\"2024-05-01T12:00:00Z\"}",
     "field tenant: not a tenant id (1..128 of A-Za-z0-9._-)"},
    {"{\"v\":1,\"type\":\"group.delete\",\"tenant\":\"\",\"group\":\"" G "\","
     "\"round\":\"r\",\"ts\":\"2024-05-01T12:00:00Z\"}",
     "field tenant: not a tenant id*"},
    {"{\"v\":1,\"type\":\"group.delete\",\"tenant\":\"t\",\"group\":\"" G "\","
     "\"round\":\"r 1\",\"ts\":\"2024-05-01T12:00:00Z\"}",
     "field round: not a round id (1..128 of A-Za-z0-9._:-)"},
    {"{\"v\":1,\"type\":\"group.delete\",\"tenant\":\"t\",\"group\":\"" G "\","
     "\"round\":\"r\",\"ts\":\"2024-13-01T12:00:00Z\"}",
     "field ts: not an RFC 3339 UTC time"},
    {"{\"v\":1,\"type\":\"group.delete\",\"tenant\":\"t\",\"group\":\"" G "\","
     "\"round\":\"r\",\"ts\":\"2024-05-01T12:00:00+02:00\"}",
     "field ts: not an RFC 3339 UTC time"},
    {"{\"v\":1,\"type\":\"group.delete\",\"tenant\":\"t\",\"group\":\"" G "\","
     "\"round\":\"r\",\"ts\":\"2023-02-29T12:00:00Z\"}",
     "field ts: not an RFC 3339 UTC time"},
    {"{\"v\":1,\"type\":\"group.delete\",\"tenant\":\"t\",\"group\":\"" G "\","
     "\"round\":\"r\"}",
     "field ts: missing"},
    /* group.upsert */
    {ENV("group.upsert") "}", "field attrs: missing"},
    {ENV("group.upsert") ",\"attrs\":[]}", "field attrs: not an object"},
    {ENV("group.upsert") ",\"attrs\":{}}", "attrs.displayName: missing"},
    {ENV("group.upsert") ",\"attrs\":{\"displayName\":5}}", "attrs.displayName: not a string"},
    {ENV("group.upsert") ",\"attrs\":{\"displayName\":\"\xff\"}}", "not UTF-8 (invalid byte at "
                                                                   "byte 182)"},
    {ENV("group.upsert") ",\"attrs\":{\"displayName\":\"a\\u0000b\"}}",
     "string contains \\u0000 (NUL) at byte 183"},
    {ENV("group.upsert") ",\"attrs\":{\"displayName\":\"\\ud800\"}}", "not JSON*"},
    {ENV("group.upsert") ",\"attrs\":{\"displayName\":\"x\",\"description\":5}}",
     "attrs.description: not a string"},
    {ENV("group.upsert") ",\"attrs\":{\"displayName\":\"x\",\"securityEnabled\":\"true\"}}",
     "attrs.securityEnabled: not a boolean"},
    {ENV("group.upsert") ",\"attrs\":{\"displayName\":\"x\",\"securityEnabled\":true}}",
     "attrs.mailEnabled: missing"},
    {ENV("group.upsert") ",\"attrs\":{\"displayName\":\"x\",\"securityEnabled\":true,"
                         "\"mailEnabled\":false}}",
     "attrs.groupTypes: missing"},
    {ENV("group.upsert") ",\"attrs\":{\"displayName\":\"x\",\"securityEnabled\":true,"
                         "\"mailEnabled\":false,\"groupTypes\":\"Unified\"}}",
     "attrs.groupTypes: not an array"},
    {ENV("group.upsert") ",\"attrs\":{\"displayName\":\"x\",\"securityEnabled\":true,"
                         "\"mailEnabled\":false,\"groupTypes\":[1]}}",
     "attrs.groupTypes[0]: not a string"},
    {ENV("group.upsert") ",\"attrs\":{\"displayName\":\"x\",\"securityEnabled\":true,"
                         "\"mailEnabled\":false,\"groupTypes\":[\"ok\",\"a b\"]}}",
     "attrs.groupTypes[1]: not a group type"},
    {ENV("group.upsert") ",\"attrs\":{\"displayName\":\"x\",\"securityEnabled\":true,"
                         "\"mailEnabled\":false,\"groupTypes\":[\"a\",\"a\",\"a\",\"a\",\"a\","
                         "\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\","
                         "\"a\"]}}",
     "attrs.groupTypes: too many entries (max 16)"},
    {ENV("group.upsert") "," ATTRS ",\"add\":{}}", "add: not an array"},
    {ENV("group.upsert") "," ATTRS ",\"remove\":[" MUSER ",5]}", "remove[1]: not an object"},
    {ENV("group.upsert") ",\"attrs\":{\"displayName\":\"x\",\"ext\":{\"k\":1,\"k\":2}}}",
     "duplicate key \"k\""},
    /* group.members */
    {ENV("group.members") ",\"add\":[" MUSER "," MUSER "," MGRP ",{\"kind\":\"user\",\"id\":\"" U1
                          "\",\"sid\":\"S-1-5-21-\"}]}",
     "add[3].sid: not a SID"},
    {ENV("group.members") ",\"add\":[{\"kind\":\"user\",\"id\":\"" U1 "\",\"sid\":\"S-1-5-21-"
                          "4294967296\"}]}",
     "add[0].sid: not a SID"},
    {ENV("group.members") ",\"add\":[{\"kind\":\"user\",\"id\":\"" U1 "\",\"sid\":5}]}",
     "add[0].sid: not a string"},
    {ENV("group.members") ",\"remove\":[{\"kind\":\"group\",\"id\":\"x\"}]}",
     "remove[0].id: not a GUID"},
    {ENV("group.members") ",\"add\":[{\"kind\":\"group\"}]}", "add[0].id: missing"},
    {ENV("group.members") ",\"add\":[{\"kind\":\"device\",\"id\":\"" U1 "\"}]}",
     "add[0].kind: unknown kind \"device\""},
    {ENV("group.members") ",\"add\":[{\"id\":\"" U1 "\"}]}", "add[0].kind: missing"},
    {ENV("group.members") ",\"add\":[{\"kind\":1,\"id\":\"" U1 "\"}]}",
     "add[0].kind: not a string"},
    {ENV("group.members") ",\"add\":[{\"kind\":\"user\",\"id\":\"" U1 "\"}]}",
     "add[0]: user needs sid or guid"},
    {ENV("group.members") ",\"add\":[{\"kind\":\"user\",\"id\":\"" U1
                          "\",\"sid\":null,\"guid\":null}]}",
     "add[0]: user needs sid or guid"},
    {ENV("group.members") ",\"add\":[{\"kind\":\"user\",\"id\":\"" U1 "\",\"guid\":\"x\"}]}",
     "add[0].guid: not a GUID"},
    {ENV("group.members") ",\"add\":[{\"kind\":\"group\",\"id\":\"" U1 "\",\"id\":\"" U2 "\"}]}",
     "duplicate key \"id\""},
    {ENV("group.members") ",\"add\":\"*)(objectClass=*\"}", "add: not an array"},
    {ENV("group.members") ",\"add\":[{\"kind\":\"group\",\"id\":\"*)(objectClass=*\"}]}",
     "add[0].id: not a GUID"},
    /* group.snapshot */
    {ENV("group.snapshot") "}", "field snapshot: missing"},
    {ENV("group.snapshot") ",\"snapshot\":\"a b\",\"chunk\":1,\"chunks\":1,\"members\":[]}",
     "field snapshot: not a snapshot id (1..128 of A-Za-z0-9._:-)"},
    {ENV("group.snapshot") ",\"snapshot\":\"s\",\"chunks\":1,\"members\":[]}",
     "field chunk: missing"},
    {ENV("group.snapshot") ",\"snapshot\":\"s\",\"chunk\":\"1\",\"chunks\":1,\"members\":[]}",
     "field chunk: not a number"},
    {ENV("group.snapshot") ",\"snapshot\":\"s\",\"chunk\":1.5,\"chunks\":3,\"members\":[]}",
     "field chunk: not an integer in 0..100000"},
    {ENV("group.snapshot") ",\"snapshot\":\"s\",\"chunk\":-1,\"chunks\":3,\"members\":[]}",
     "field chunk: not an integer in 0..100000"},
    {ENV("group.snapshot") ",\"snapshot\":\"s\",\"chunk\":1,\"chunks\":100001,\"members\":[]}",
     "field chunks: not an integer in 0..100000"},
    {ENV("group.snapshot") ",\"snapshot\":\"s\",\"chunk\":1,\"chunks\":1e999,\"members\":[]}",
     "field chunks: not an integer in 0..100000"},
    {ENV("group.snapshot") ",\"snapshot\":\"s\",\"chunk\":0,\"chunks\":3,\"members\":[]}",
     "field chunk: 0 out of range 1..chunks (3)"},
    {ENV("group.snapshot") ",\"snapshot\":\"s\",\"chunk\":4,\"chunks\":3,\"members\":[]}",
     "field chunk: 4 out of range 1..chunks (3)"},
    {ENV("group.snapshot") ",\"snapshot\":\"s\",\"chunk\":0,\"chunks\":0,\"members\":[]}",
     "field chunks: 0 out of range 1..100000"},
    {ENV("group.snapshot") ",\"snapshot\":\"s\",\"chunk\":1,\"chunks\":1}", "members: missing"},
    {ENV("group.snapshot") ",\"snapshot\":\"s\",\"chunk\":1,\"chunks\":1,\"members\":{}}",
     "members: not an array"},
    {ENV("group.snapshot") ",\"snapshot\":\"s\",\"chunk\":1,\"chunks\":1,\"members\":[" MUSER
                           ",{\"kind\":\"group\",\"id\":\"" G "x\"}]}",
     "members[1].id: not a GUID"},
};

static void check_bad(const char *json, size_t len, const char *want)
{
    struct wb_event ev;
    char reason[256];
    size_t wl = strlen(want);
    wb_err_t err;

    memset(&ev, 0xa5, sizeof(ev)); /* decode must not trust what was there */
    strcpy(reason, "untouched");
    err = decode(json, len, &ev, reason, sizeof(reason));
    if (err != WB_ERR_INVALID)
        fail_msg("accepted: %.300s", json);
    if (want[wl - 1] == '*' ? strncmp(reason, want, wl - 1) != 0 : strcmp(reason, want) != 0)
        fail_msg("for %.300s\n  reason \"%s\"\n  wanted \"%s\"", json, reason, want);
    assert_true(is_zero(&ev));
    wb_event_free(&ev);
}

static void test_bad_table(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++)
        check_bad(bad_cases[i].json, strlen(bad_cases[i].json), bad_cases[i].reason);
    /* A raw NUL byte, and a reason buffer that is missing or tiny. */
    check_bad("{\"v\":1\0}", 8, "not JSON (NUL byte at byte 6)");
    {
        struct wb_event ev;
        char tiny[8];

        assert_int_equal(wb_event_decode("[]", 2, &ev, NULL, 0), WB_ERR_INVALID);
        assert_int_equal(wb_event_decode(NULL, 0, &ev, tiny, sizeof(tiny)), WB_ERR_INVALID);
        assert_string_equal(tiny, "not JSO");
    }
}

static void test_escaped_backslash_is_not_nul(void **state)
{
    static const char json[] = ENV("group.upsert") ",\"attrs\":{\"displayName\":\"a\\\\u0000b\","
                                                   "\"securityEnabled\":true,\"mailEnabled\":"
                                                   "false,\"groupTypes\":[]}}";
    struct wb_event ev;
    char reason[256];

    (void)state;
    assert_int_equal(decode(json, strlen(json), &ev, reason, sizeof(reason)), WB_OK);
    assert_string_equal(ev.attrs.display_name, "a\\u0000b");
    wb_event_free(&ev);
}

static void test_truncations(void **state)
{
    struct wb_event ev, out;
    char reason[256];
    char *json;
    size_t len, i;

    (void)state;
    make_event(&ev, WB_EVENT_GROUP_UPSERT);
    json = wb_event_encode(&ev);
    len = strlen(json);
    for (i = 0; i < len; i++) {
        reason[0] = '\0';
        if (decode(json, i, &out, reason, sizeof(reason)) != WB_ERR_INVALID)
            fail_msg("prefix of %zu bytes accepted", i);
        /* A cut inside a multi-byte character is caught by the UTF-8 check first. */
        if (strncmp(reason, "not JSON (", 10) != 0 && strncmp(reason, "not UTF-8 (", 11) != 0)
            fail_msg("prefix of %zu bytes: reason \"%s\"", i, reason);
        assert_true(is_zero(&out));
    }
    assert_int_equal(decode(json, len, &out, reason, sizeof(reason)), WB_OK);
    wb_event_free(&out);
    free(json);
    wb_event_free(&ev);
}

/* "…,"<key>":[m,m,…]}" with n group members, caller frees. */
static char *members_json(const char *head, const char *key, size_t n, const char *tail)
{
    size_t cap = strlen(head) + strlen(tail) + (n + 1) * (sizeof(MGRP) + 1) + 64, i;
    char *s = malloc(cap), *o = s;

    o += sprintf(o, "%s,\"%s\":[", head, key);
    for (i = 0; i < n; i++)
        o += sprintf(o, "%s" MGRP, i ? "," : "");
    sprintf(o, "]%s", tail);
    return s;
}

static void test_limits(void **state)
{
    struct wb_event ev;
    char reason[256], *s, *t, *big;
    size_t i, n;

    (void)state;
    /* Exactly the cap decodes; one more does not, however it is split. */
    s = members_json(ENV("group.members"), "add", WB_EVENT_MAX_MEMBERS, "}");
    assert_int_equal(decode(s, strlen(s), &ev, reason, sizeof(reason)), WB_OK);
    assert_int_equal(ev.add_count, WB_EVENT_MAX_MEMBERS);
    wb_event_free(&ev);
    free(s);
    s = members_json(ENV("group.members"), "add", WB_EVENT_MAX_MEMBERS + 1, "}");
    check_bad(s, strlen(s), "too many members in one event (max 5000)");
    free(s);
    t = members_json(ENV("group.members"), "add", 3000, "");
    s = members_json(t, "remove", 2001, "}");
    check_bad(s, strlen(s), "too many members in one event (max 5000)");
    free(s);
    free(t);
    s = members_json(ENV("group.snapshot") ",\"snapshot\":\"s\",\"chunk\":1,\"chunks\":1",
                     "members", 6000, "}");
    check_bad(s, strlen(s), "too many members in one event (max 5000)");
    free(s);

    /* A message above 1 MiB, whatever it holds. */
    n = WB_EVENT_MAX_BYTES + 1;
    big = malloc(n);
    memset(big, ' ', n);
    check_bad(big, n, "message too large (1048577 bytes, max 1048576)");
    /* Deep nesting: 500,000 '[' and an event whose extra attribute is 31 levels deep. */
    memset(big, '[', 500000);
    check_bad(big, 500000, "JSON nested too deeply (max 32)");
    for (n = 30; n <= 31; n++) {
        char *o = big;

        o += sprintf(o,
                     "%s,\"attrs\":{\"displayName\":\"x\",\"securityEnabled\":true,"
                     "\"mailEnabled\":false,\"groupTypes\":[],\"deep\":",
                     ENV("group.upsert"));
        for (i = 0; i < n; i++)
            *o++ = '[';
        for (i = 0; i < n; i++)
            *o++ = ']';
        strcpy(o, "}}");
        if (n == 30) {
            assert_int_equal(decode(big, strlen(big), &ev, reason, sizeof(reason)), WB_OK);
            wb_event_free(&ev);
        } else {
            check_bad(big, strlen(big), "JSON nested too deeply (max 32)");
        }
    }
    /* 300 keys in one object. */
    {
        char *o = big;

        o += sprintf(o, "%s,\"attrs\":{\"displayName\":\"x\"", ENV("group.upsert"));
        for (i = 0; i < 300; i++)
            o += sprintf(o, ",\"k%zu\":1", i);
        strcpy(o, "}}");
        check_bad(big, strlen(big), "too many keys in one object (max 256)");
    }
    free(big);
}

static void test_validate(void **state)
{
    struct wb_event ev;
    char reason[256], *json;

    (void)state;
    make_event(&ev, WB_EVENT_GROUP_UPSERT);
    cJSON_AddStringToObject(ev.attrs.extra, "displayName", "shadow");
    assert_int_equal(wb_event_validate(&ev, reason, sizeof(reason)), WB_ERR_INVALID);
    assert_string_equal(reason, "attrs: extra attribute with a reserved name");
    /* The encoder does not crash on it, and the decoder refuses the result. */
    json = wb_event_encode(&ev);
    check_bad(json, strlen(json), "duplicate key \"displayName\"");
    free(json);
    wb_event_free(&ev);

    make_event(&ev, WB_EVENT_GROUP_MEMBERS);
    free(ev.group);
    ev.group = NULL;
    assert_int_equal(wb_event_validate(&ev, reason, sizeof(reason)), WB_ERR_INVALID);
    assert_string_equal(reason, "field group: not a GUID");
    json = wb_event_encode(&ev);
    check_bad(json, strlen(json), "field group: missing");
    free(json);
    ev.group = strdup(G);
    ev.v = 2;
    assert_int_equal(wb_event_validate(&ev, reason, sizeof(reason)), WB_ERR_INVALID);
    assert_string_equal(reason, "unknown v 2");
    ev.v = 1;
    ev.remove[2].kind = 0;
    assert_int_equal(wb_event_validate(&ev, reason, sizeof(reason)), WB_ERR_INVALID);
    assert_string_equal(reason, "remove[2].kind: unknown kind 0");
    ev.remove[2].kind = WB_MEMBER_USER;
    assert_int_equal(wb_event_validate(&ev, NULL, 0), WB_OK);
    ev.type = (enum wb_event_type)99;
    assert_int_equal(wb_event_validate(&ev, reason, sizeof(reason)), WB_ERR_INVALID);
    assert_string_equal(reason, "unknown type 99");
    json = wb_event_encode(&ev);
    check_bad(json, strlen(json), "unknown type \"\"");
    free(json);
    ev.type = WB_EVENT_GROUP_MEMBERS;
    wb_event_free(&ev);
    assert_true(is_zero(&ev));
    wb_event_free(&ev);
    wb_event_free(NULL);
}

static void test_type_table(void **state)
{
    enum wb_event_type t;

    (void)state;
    for (t = WB_EVENT_GROUP_UPSERT; t <= WB_EVENT_GROUP_UNSCOPED; t++)
        assert_int_equal(wb_event_type_from_name(wb_event_type_name(t)), t);
    assert_string_equal(wb_event_type_name(WB_EVENT_GROUP_SNAPSHOT), "group.snapshot");
    assert_null(wb_event_type_name(WB_EVENT_NONE));
    assert_null(wb_event_type_name((enum wb_event_type)77));
    assert_int_equal(wb_event_type_from_name(NULL), WB_EVENT_NONE);
    assert_int_equal(wb_event_type_from_name("group"), WB_EVENT_NONE);
}

static void test_ts(void **state)
{
    char ts[WB_EVENT_TS_SIZE];

    (void)state;
    wb_event_ts_format(0, ts);
    assert_string_equal(ts, "1970-01-01T00:00:00.000Z");
    wb_event_ts_format(1714564800123LL, ts);
    assert_string_equal(ts, "2024-05-01T12:00:00.123Z");
    wb_event_ts_format(-1, ts);
    assert_string_equal(ts, "1969-12-31T23:59:59.999Z");
    assert_true(wb_event_ts_valid(ts));
    assert_true(wb_event_ts_valid("2024-02-29T00:00:00Z"));
    assert_true(wb_event_ts_valid("2000-02-29T23:59:60.123456789Z"));
    assert_false(wb_event_ts_valid("1900-02-29T00:00:00Z"));
    assert_false(wb_event_ts_valid("2024-04-31T00:00:00Z"));
    assert_false(wb_event_ts_valid("2024-05-01T24:00:00Z"));
    assert_false(wb_event_ts_valid("2024-05-01t12:00:00z"));
    assert_false(wb_event_ts_valid("2024-05-01T12:00:00.Z"));
    assert_false(wb_event_ts_valid("2024-05-01T12:00:00.1234567890Z"));
    assert_false(wb_event_ts_valid("2024-05-01T12:00:00"));
    assert_false(wb_event_ts_valid("2024-05-01T12:00:00ZZ"));
    assert_false(wb_event_ts_valid("2024-5-01T12:00:00Z"));
    assert_false(wb_event_ts_valid(""));
    assert_false(wb_event_ts_valid(NULL));
}

static void test_strip_nul(void **state)
{
    char a[] =
        "{\"a\":\"x\\u0000y\\u0000\",\"b\":\"\\\\u0000\",\"c\":\"\\\\\\u0000\",\"d\":\"\\u000\"}";
    size_t n;

    (void)state;
    n = wb_event_strip_nul_escapes(a, strlen(a));
    assert_int_equal(n, strlen(a));
    assert_string_equal(a, "{\"a\":\"xy\",\"b\":\"\\\\u0000\",\"c\":\"\\\\\",\"d\":\"\\u000\"}");
    {
        char b[] = "none";

        assert_int_equal(wb_event_strip_nul_escapes(b, 4), 4);
        assert_string_equal(b, "none");
    }
}

/* ---- fuzz ---------------------------------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void test_fuzz(void **state)
{
    static const char *const tokens[] = {
        "\"",        "{",       "}", "[",      "]",    ",", ":",    "\\",      "\\u0000",
        "null",      "1e999",   "-", "\"S-1-", "\xff", "0", "true", "\\ud83d", "\xf0\x9f\x98\x80",
        "{\"v\":2}", "\"kind\""};
    static const enum wb_event_type all[] = {WB_EVENT_GROUP_UPSERT, WB_EVENT_GROUP_MEMBERS,
                                             WB_EVENT_GROUP_SNAPSHOT, WB_EVENT_GROUP_DELETE};
    char *seeds[4];
    size_t seedlen[4], i;
    int iter, accepted = 0, rejected = 0;

    (void)state;
    for (i = 0; i < 4; i++) {
        struct wb_event ev;

        make_event(&ev, all[i]);
        seeds[i] = wb_event_encode(&ev);
        seedlen[i] = strlen(seeds[i]);
        wb_event_free(&ev);
    }
    for (iter = 0; iter < 4000; iter++) {
        size_t cap = 16384, len, k, muts, a, b;
        char *buf = malloc(cap), reason[256];
        struct wb_event ev, again;
        wb_err_t err;

        if (iter % 10 == 9) {
            /* Pure noise. */
            len = next() % 512;
            for (k = 0; k < len; k++)
                buf[k] = (char)next();
        } else {
            i = next() % 4;
            len = seedlen[i];
            memcpy(buf, seeds[i], len);
            muts = 1 + next() % 4;
            for (k = 0; k < muts && len > 0; k++) {
                a = next() % len;
                switch (next() % 5) {
                case 0: /* flip a byte */
                    buf[a] = (char)next();
                    break;
                case 1: { /* insert a token */
                    const char *t = tokens[next() % (sizeof(tokens) / sizeof(tokens[0]))];
                    size_t tl = strlen(t);

                    if (len + tl < cap) {
                        memmove(buf + a + tl, buf + a, len - a);
                        memcpy(buf + a, t, tl);
                        len += tl;
                    }
                    break;
                }
                case 2: /* delete a range */
                    b = a + next() % (len - a + 1);
                    memmove(buf + a, buf + b, len - b);
                    len -= b - a;
                    break;
                case 3: /* duplicate a range */
                    b = a + next() % 64;
                    if (b > len)
                        b = len;
                    if (len + (b - a) < cap) {
                        memmove(buf + b + (b - a), buf + b, len - b);
                        memcpy(buf + b, buf + a, b - a);
                        len += b - a;
                    }
                    break;
                default: /* truncate */
                    len = a;
                    break;
                }
            }
        }
        reason[0] = '\0';
        err = decode(buf, len, &ev, reason, sizeof(reason));
        if (err == WB_OK) {
            char *json;

            accepted++;
            assert_int_equal(wb_event_validate(&ev, NULL, 0), WB_OK);
            json = wb_event_encode(&ev);
            assert_int_equal(decode(json, strlen(json), &again, reason, sizeof(reason)), WB_OK);
            assert_true(ev_eq(&ev, &again));
            wb_event_free(&again);
            free(json);
        } else {
            rejected++;
            assert_int_equal(err, WB_ERR_INVALID);
            if (reason[0] == '\0')
                fail_msg("no reason for rejected input (iteration %d)", iter);
            assert_true(is_zero(&ev));
        }
        wb_event_free(&ev);
        free(buf);
    }
    print_message("fuzz: %d accepted, %d rejected\n", accepted, rejected);
    /* The loop must exercise both outcomes to mean anything. */
    assert_true(accepted > 20);
    assert_true(rejected > 2000);
    for (i = 0; i < 4; i++)
        free(seeds[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),  cmocka_unit_test(test_documented_shape),
        cmocka_unit_test(test_bad_table),   cmocka_unit_test(test_escaped_backslash_is_not_nul),
        cmocka_unit_test(test_truncations), cmocka_unit_test(test_limits),
        cmocka_unit_test(test_validate),    cmocka_unit_test(test_type_table),
        cmocka_unit_test(test_ts),          cmocka_unit_test(test_strip_nul),
        cmocka_unit_test(test_fuzz),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
