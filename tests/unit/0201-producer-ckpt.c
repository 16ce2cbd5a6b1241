/*
 * 0201 producer checkpoint: the GUID-keyed map (insert, lookup, backward-shift deletion under
 * load, sorted keys), checkpoint records round-tripped through JSON including the split into
 * parts and nested-group edges, malformed records refused, and operator commands (common/
 * wb_command.c): writebackctl's encodings, byte for byte, decode to what was asked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "../../common/wb_ckpt.c"
#include "wb_command.h"

static void key_n(struct wb_idkey *k, unsigned n)
{
    char s[37];

    snprintf(s, sizeof(s), "%08x-%04x-4%03x-8000-%012x", n * 2654435761u, n & 0xffff, n & 0xfff, n);
    assert_true(wb_idkey_parse(s, k));
}

static void test_idmap(void **state)
{
    wb_idmap_t *m = wb_idmap_new();
    struct wb_idkey k, *keys;
    size_t i, n;
    char a[37], b[37];

    (void)state;
    for (i = 0; i < 50000; i++) {
        key_n(&k, (unsigned)i);
        wb_idmap_add(m, &k);
    }
    assert_int_equal(wb_idmap_count(m), 50000);
    for (i = 0; i < 50000; i += 2) { /* delete every other: probe runs must survive */
        key_n(&k, (unsigned)i);
        assert_ptr_equal(wb_idmap_del(m, &k), WB_IDMAP_PRESENT);
    }
    assert_int_equal(wb_idmap_count(m), 25000);
    for (i = 0; i < 50000; i++) {
        key_n(&k, (unsigned)i);
        assert_int_equal(wb_idmap_has(m, &k), i % 2 == 1);
    }
    key_n(&k, 0);
    assert_null(wb_idmap_del(m, &k));
    keys = wb_idmap_keys_sorted(m, &n);
    assert_int_equal(n, 25000);
    for (i = 1; i < n; i++) {
        wb_idkey_format(&keys[i - 1], a);
        wb_idkey_format(&keys[i], b);
        assert_true(strcmp(a, b) < 0);
    }
    free(keys);
    assert_false(wb_idkey_parse("nope", &k));
    assert_false(wb_idkey_parse(NULL, &k));
    assert_true(wb_idkey_parse("2E5807CE-58F3-4A94-9B37-FFFF2E085957", &k));
    wb_idkey_format(&k, a);
    assert_string_equal(a, "2e5807ce-58f3-4a94-9b37-ffff2e085957");
    wb_idmap_destroy(m, NULL);
}

static void fill(struct wb_ckpt *c, unsigned nin, unsigned nstaged)
{
    struct wb_idkey k, ch;
    unsigned i;

    c->round = 42;
    c->delta_link = wb_strdup("https://graph.example/v1.0/groups/delta?$deltatoken=abc");
    c->users_link = wb_strdup("https://graph.example/v1.0/users/delta?$deltatoken=def");
    c->scope = wb_strdup("all");
    c->command_offset = 7;
    for (i = 0; i < nin; i++) {
        key_n(&k, i);
        wb_idmap_add(c->in_scope, &k);
    }
    for (i = 0; i < nstaged; i++) {
        key_n(&k, 1000000 + i);
        *wb_idmap_put(c->staged, &k, NULL) =
            i % 2 ? WB_CKPT_STAGED_UNSCOPED : WB_CKPT_STAGED_DELETE;
    }
    key_n(&k, 1);
    key_n(&ch, 2);
    wb_ckpt_nested_add(c, &k, &ch);
    key_n(&ch, 3);
    wb_ckpt_nested_add(c, &k, &ch);
    wb_ckpt_nested_add(c, &k, &ch); /* no duplicate edge */
}

static void roundtrip(unsigned nin, unsigned nstaged, size_t per, size_t want_records)
{
    struct wb_ckpt c, d;
    char **keys, **values, reason[256];
    size_t n, i, pos = 0;
    unsigned parts = 0;
    struct wb_idkey k;
    void *v;

    wb_ckpt_init(&c);
    wb_ckpt_init(&d);
    fill(&c, nin, nstaged);
    n = wb_ckpt_encode(&c, "contoso", per, &keys, &values);
    assert_int_equal(n, want_records);
    assert_string_equal(keys[0], "contoso/checkpoint");
    if (n > 1)
        assert_string_equal(keys[1], "contoso/checkpoint/1");
    for (i = 0; i < n; i++)
        assert_true(strlen(values[i]) < 1000000);
    assert_int_equal(
        wb_ckpt_decode(&d, values[0], strlen(values[0]), &parts, reason, sizeof(reason)), WB_OK);
    assert_int_equal(parts, n);
    for (i = 1; i < n; i++)
        assert_int_equal(wb_ckpt_decode_part(&d, (unsigned)i, values[i], strlen(values[i]), reason,
                                             sizeof(reason)),
                         WB_OK);
    if (n > 1) /* a part of another round is refused */
        assert_int_equal(
            wb_ckpt_decode_part(&d, 2, values[1], strlen(values[1]), reason, sizeof(reason)),
            WB_ERR_INVALID);
    assert_int_equal(d.round, 42);
    assert_string_equal(d.delta_link, c.delta_link);
    assert_string_equal(d.users_link, c.users_link);
    assert_string_equal(d.scope, "all");
    assert_int_equal(d.command_offset, 7);
    assert_int_equal(wb_idmap_count(d.in_scope), nin);
    assert_int_equal(wb_idmap_count(d.staged), nstaged);
    while (wb_idmap_next(c.staged, &pos, &k, &v))
        assert_ptr_equal(*wb_idmap_get(d.staged, &k), v);
    key_n(&k, 1);
    assert_int_equal(((struct wb_kids *)*wb_idmap_get(d.nested, &k))->n, 2);
    for (i = 0; i < n; i++) {
        free(keys[i]);
        free(values[i]);
    }
    free(keys);
    free(values);
    wb_ckpt_free(&c);
    wb_ckpt_free(&d);
}

static void test_ckpt_roundtrip(void **state)
{
    (void)state;
    roundtrip(0, 0, 0, 1);
    roundtrip(100, 10, 0, 1);
    /* 25000 + 3 staged + 2 edges = 25005 ids, 10000 a record */
    roundtrip(25000, 3, 0, 3);
    roundtrip(10, 5, 4, 5); /* 17 items, 4 a record */
}

static void test_ckpt_malformed(void **state)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{\"v\":2,\"round\":1}",
        "{\"round\":1}",
        "{\"v\":1}",
        "{\"v\":1,\"round\":-5}",
        "{\"v\":1,\"round\":1,\"deltaLink\":5}",
        "{\"v\":1,\"round\":1,\"usersDeltaLink\":[]}",
        "{\"v\":1,\"round\":1,\"inScope\":[\"x\"]}",
        "{\"v\":1,\"round\":1,\"inScope\":{}}",
        "{\"v\":1,\"round\":1,\"parts\":0}",
        "{\"v\":1,\"round\":1,\"nested\":[\"a/b\"]}",
        "{\"v\":1,\"round\":1,\"stagedDeletes\":[1]}",
    };
    struct wb_ckpt c;
    char reason[256];
    const char *s;
    unsigned parts;
    size_t i;

    (void)state;
    wb_ckpt_init(&c);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        reason[0] = '\0';
        if (wb_ckpt_decode(&c, bad[i], strlen(bad[i]), &parts, reason, sizeof(reason)) == WB_OK)
            fail_msg("accepted: %s", bad[i]);
        assert_true(reason[0] != '\0');
        assert_int_equal(wb_idmap_count(c.in_scope), 0);
    }
    assert_int_equal(wb_ckpt_decode(&c, "{\"v\":1,\"round\":3,\"deltaLink\":null}", 34, &parts,
                                    reason, sizeof(reason)),
                     WB_OK);
    assert_null(c.delta_link);
    assert_null(c.users_link);
    assert_int_equal(parts, 1);
    assert_int_equal(c.command_offset, -1);
    /* a checkpoint written before the users deltaLink was kept reads as one without it */
    s = "{\"v\":1,\"round\":9,\"deltaLink\":\"https://g/v1.0/groups/delta?$deltatoken=a\"}";
    assert_int_equal(wb_ckpt_decode(&c, s, strlen(s), &parts, reason, sizeof(reason)), WB_OK);
    assert_non_null(c.delta_link);
    assert_null(c.users_link);
    wb_ckpt_free(&c);
}

static void test_commands(void **state)
{
    struct wb_command cmd;
    char reason[256];
    const char *s;
    struct wb_idkey k;

    (void)state;
    s = "{\"v\":1,\"resync\":true}";
    assert_int_equal(wb_command_decode(&cmd, s, strlen(s), reason, sizeof(reason)), WB_OK);
    assert_true(cmd.resync && !cmd.allow_all && !cmd.allow);
    wb_command_free(&cmd);
    s = "{\"v\":1,\"allowDeletes\":\"all\"}";
    assert_int_equal(wb_command_decode(&cmd, s, strlen(s), reason, sizeof(reason)), WB_OK);
    assert_true(cmd.allow_all);
    wb_command_free(&cmd);
    s = "{\"v\":1,\"allowDeletes\":[\"2e5807ce-58f3-4a94-9b37-ffff2e085957\"]}";
    assert_int_equal(wb_command_decode(&cmd, s, strlen(s), reason, sizeof(reason)), WB_OK);
    assert_true(wb_idkey_parse("2e5807ce-58f3-4a94-9b37-ffff2e085957", &k));
    assert_true(wb_idmap_has(cmd.allow, &k));
    wb_command_free(&cmd);
    s = "{\"v\":1,\"allowDeletes\":[\"bad\"]}";
    assert_int_equal(wb_command_decode(&cmd, s, strlen(s), reason, sizeof(reason)), WB_ERR_INVALID);
    assert_null(cmd.allow);
    s = "{\"v\":1,\"allowDeletes\":\"some\"}";
    assert_int_equal(wb_command_decode(&cmd, s, strlen(s), reason, sizeof(reason)), WB_ERR_INVALID);
    s = "{\"resync\":\"yes\"}";
    assert_int_equal(wb_command_decode(&cmd, s, strlen(s), reason, sizeof(reason)), WB_ERR_INVALID);
    s = "nonsense";
    assert_int_equal(wb_command_decode(&cmd, s, strlen(s), reason, sizeof(reason)), WB_ERR_INVALID);
}

/* The values writebackctl stores; a producer of an older release reads them, so the text is
 * the contract. */
static void test_command_encode(void **state)
{
    struct wb_idkey ids[2];
    struct wb_command cmd;
    char reason[256], *s;

    (void)state;
    s = wb_command_encode_resync();
    assert_string_equal(s, "{\"v\":1,\"resync\":true}");
    free(s);
    s = wb_command_encode_allow(NULL, 0);
    assert_string_equal(s, "{\"v\":1,\"allowDeletes\":\"all\"}");
    assert_int_equal(wb_command_decode(&cmd, s, strlen(s), reason, sizeof(reason)), WB_OK);
    assert_true(cmd.allow_all && !cmd.resync);
    wb_command_free(&cmd);
    free(s);
    assert_true(wb_idkey_parse("FFFF2E08-58F3-4A94-9B37-2E5807CE5957", &ids[0]));
    assert_true(wb_idkey_parse("2e5807ce-58f3-4a94-9b37-ffff2e085957", &ids[1]));
    s = wb_command_encode_allow(ids, 2);
    assert_string_equal(s, "{\"v\":1,\"allowDeletes\":[\"ffff2e08-58f3-4a94-9b37-2e5807ce5957\","
                           "\"2e5807ce-58f3-4a94-9b37-ffff2e085957\"]}");
    assert_int_equal(wb_command_decode(&cmd, s, strlen(s), reason, sizeof(reason)), WB_OK);
    assert_true(!cmd.allow_all && wb_idmap_count(cmd.allow) == 2);
    assert_true(wb_idmap_has(cmd.allow, &ids[0]) && wb_idmap_has(cmd.allow, &ids[1]));
    wb_command_free(&cmd);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idmap),          cmocka_unit_test(test_ckpt_roundtrip),
        cmocka_unit_test(test_ckpt_malformed), cmocka_unit_test(test_commands),
        cmocka_unit_test(test_command_encode),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
