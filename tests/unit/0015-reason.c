/*
 * 0015-reason: the reason table of common/wb_reason.c is well formed, and the reason tables of
 * docs/errors.md are what it generates. Refresh them with WB_UPDATE_DOCS=1 (see the message on
 * failure). tests/unit/0062-docs.py checks that the sources emit exactly the table's reasons.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "wb_mem.h"
#include "wb_reason.h"
#include "wbt_env.h"
#include "wbt_file.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define END_MARK "<!-- /reasons -->\n"

/* The docs with every generated block replaced by what the table generates now. */
static char *regenerate(const char *doc)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    const char *s = doc;
    int k;

    assert_non_null(out);
    for (k = 0; k < WB_REASON_KIND_COUNT; k++) {
        char *begin = wb_asprintf("<!-- reasons:%s ", wb_reason_kind_name(k));
        const char *b = strstr(s, begin), *eol, *e;

        free(begin);
        if (!b || !(eol = strchr(b, '\n')) || !(e = strstr(eol, END_MARK))) {
            fprintf(stderr, "docs/errors.md: no generated block for %s reasons\n",
                    wb_reason_kind_name(k));
            fclose(out);
            free(buf);
            return NULL;
        }
        fwrite(s, 1, (size_t)(eol + 1 - s), out);
        wb_reason_markdown(out, k);
        s = e;
    }
    fputs(s, out);
    fclose(out);
    return buf;
}

static void test_docs_fresh(void **state)
{
    char *path = wbt_env_source_path("docs/errors.md"), *have, *want;
    bool fresh;

    (void)state;
    have = wbt_file_read(path);
    want = have ? regenerate(have) : NULL;
    fresh =
        wbt_file_fresh(path, have, want, "the reason table (common/wb_reason.c)", "0015-reason");
    free(have);
    free(want);
    free(path);
    assert_true(fresh);
}

/* A doc whose table lost a row is stale; one without the markers is refused. */
static void test_detects_drift(void **state)
{
    char *fresh = NULL, *doc, *out;
    size_t len = 0;
    FILE *fp = open_memstream(&fresh, &len);
    int k;

    (void)state;
    assert_non_null(fp);
    for (k = 0; k < WB_REASON_KIND_COUNT; k++) {
        fprintf(fp, "## %d\n<!-- reasons:%s x -->\n", k, wb_reason_kind_name(k));
        wb_reason_markdown(fp, k);
        fputs(END_MARK, fp);
    }
    fclose(fp);
    out = regenerate(fresh);
    assert_string_equal(out, fresh);
    free(out);

    doc = wb_strdup(fresh);
    memcpy(strstr(doc, "| `poison` |"), "| `poisom` |", 12);
    out = regenerate(doc);
    assert_string_not_equal(out, doc);
    free(out);
    free(doc);

    doc = wb_strdup(fresh);
    memcpy(strstr(doc, "reasons:drop"), "reasons:dorp", 12);
    assert_null(regenerate(doc));
    free(doc);
    free(fresh);
}

/* Tags are unique snake case; dead letters have a dead-letter class or the LDAP code's. */
static void test_table(void **state)
{
    int i, j;

    (void)state;
    for (i = 0; i < WB_REASON_COUNT; i++) {
        const struct wb_reason_info *r = &wb_reason_table[i];
        const char *c;

        assert_non_null(r->tag);
        assert_true(r->tag[0] >= 'a' && r->tag[0] <= 'z');
        for (c = r->tag; *c; c++)
            assert_true(islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '_');
        assert_true(r->when && *r->when && r->fix && *r->fix);
        assert_null(strchr(r->when, '|'));
        assert_null(strchr(r->fix, '|'));
        assert_true((unsigned)r->kind < WB_REASON_KIND_COUNT);
        if (r->kind == WB_REASON_KIND_DEAD_LETTER)
            assert_true(r->cls == WB_OK || r->cls == WB_ERR_CONFLICT || r->cls == WB_ERR_INVALID ||
                        r->cls == WB_ERR_DEPENDENCY);
        else
            assert_int_equal(r->cls, WB_OK);
        assert_int_equal(wb_reason_find(r->tag), i);
        assert_string_equal(wb_reason_tag(i), r->tag);
        for (j = 0; j < i; j++)
            assert_string_not_equal(wb_reason_table[j].tag, r->tag);
    }
    assert_int_equal(wb_reason_find("no_such_reason"), -1);
    assert_int_equal(wb_reason_find(NULL), -1);
    assert_string_equal(wb_reason_tag(WB_REASON_COUNT), "");
    assert_null(wb_reason_kind_name(WB_REASON_KIND_COUNT));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_detects_drift),
        cmocka_unit_test(test_docs_fresh),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
