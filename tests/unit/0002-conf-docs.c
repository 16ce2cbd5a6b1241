/*
 * 0002-conf-docs: deploy/CONFIG.md and deploy/writeback.conf.example are generated from the
 * property table; this test fails when the checked-in files differ from what the table
 * generates. Refresh them with WB_UPDATE_DOCS=1 (see the message on failure).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "wb_conf.h"
#include "wb_mem.h"
#include "wbt_env.h"
#include "wbt_file.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The stream's buffer lives on the heap: with optimisation gcc takes a stack buffer handed to
 * open_memstream for a dangling pointer (-Wdangling-pointer). */
static char *generate(void (*gen)(FILE *))
{
    struct {
        char *buf;
        size_t len;
    } *ms = wb_calloc(1, sizeof(*ms));
    FILE *fp = open_memstream(&ms->buf, &ms->len);
    char *buf;

    assert_non_null(fp);
    gen(fp);
    fclose(fp);
    buf = ms->buf;
    free(ms);
    return buf;
}

static void check_file(const char *rel, void (*gen)(FILE *))
{
    char *path = wbt_env_source_path(rel);
    char *want = generate(gen);
    char *have = wbt_file_read(path);
    bool fresh = wbt_file_fresh(path, have, want, "the property table (common/wb_conf_table.c)",
                                "0002-conf-docs");

    /* Free before asserting: a failed assertion does not return. */
    free(have);
    free(want);
    free(path);
    assert_true(fresh);
}

static void test_config_md(void **state)
{
    (void)state;
    check_file("deploy/CONFIG.md", wb_conf_markdown);
}

static void test_conf_example(void **state)
{
    (void)state;
    check_file("deploy/writeback.conf.example", wb_conf_example);
}

/* Each table row appears in the reference, every section once, and no line is too wide
 * in the example. */
static void test_generated_shape(void **state)
{
    char *md = generate(wb_conf_markdown), *ex = generate(wb_conf_example);
    const struct wb_conf_prop *p;
    const char *s;
    int sections = 0;

    (void)state;
    for (p = wb_conf_props; p->name; p++) {
        char *row = wb_asprintf("| `%s` |", p->name);
        char *line = wb_asprintf("\n#%s =", p->name);

        assert_non_null(strstr(md, row));
        assert_null(strstr(strstr(md, row) + 1, row));
        assert_non_null(strstr(ex, line));
        free(row);
        free(line);
    }
    for (s = md; (s = strstr(s, "\n## ")) != NULL; s++) {
        const char *eol = strchr(s + 1, '\n');
        char *title = wb_strndup(s, (size_t)(eol - s) + 1);

        /* A section split in two would repeat its heading. */
        assert_null(strstr(eol, title));
        free(title);
        sections++;
    }
    assert_int_equal(sections, 11);
    for (s = ex; *s;) {
        size_t n = strcspn(s, "\n");

        assert_true(n <= 100);
        s += n + (s[n] == '\n');
    }
    free(md);
    free(ex);
}

/* The example, as shipped and with every key uncommented, loads; uncommented it equals the
 * defaults. */
static void test_example_loads(void **state)
{
    char tmp[] = "/tmp/wb-0002-XXXXXX";
    char err[4096];
    char *ex = generate(wb_conf_example), *out = NULL, *path = NULL;
    const char *s;
    FILE *fp;
    wb_conf_t *conf = wb_conf_new(), *defaults = wb_conf_new();
    int n = 0;

    (void)state;
    assert_non_null(mkdtemp(tmp));
    path = wb_asprintf("%s/ex.conf", tmp);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(ex, fp);
    fclose(fp);
    assert_int_equal(wb_conf_load_file(conf, path, err, sizeof(err)), WB_OK);

    /* Uncomment "#key = value" lines (keys start with a lower-case letter). */
    fp = fopen(path, "w");
    assert_non_null(fp);
    for (s = ex; *s;) {
        size_t len = strcspn(s, "\n");

        if (s[0] == '#' && s[1] >= 'a' && s[1] <= 'z' && memchr(s, '=', len)) {
            fprintf(fp, "%.*s\n", (int)len - 1, s + 1);
            n++;
        } else {
            fprintf(fp, "%.*s\n", (int)len, s);
        }
        s += len + (s[len] == '\n');
    }
    fclose(fp);
    assert_true(n >= 40);
    assert_int_equal(wb_conf_load_file(conf, path, err, sizeof(err)), WB_OK);
    for (const struct wb_conf_prop *p = wb_conf_props; p->name; p++)
        if (strncmp(p->name, "kafka.", 6) != 0) {
            const char *a = wb_conf_get_str(conf, p->name), *b = wb_conf_get_str(defaults, p->name);

            assert_true((a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0));
            assert_true(wb_conf_is_set(conf, p->name));
        }
    remove(path);
    remove(tmp);
    free(out);
    free(path);
    free(ex);
    wb_conf_destroy(conf);
    wb_conf_destroy(defaults);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_md),
        cmocka_unit_test(test_conf_example),
        cmocka_unit_test(test_generated_shape),
        cmocka_unit_test(test_example_loads),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
