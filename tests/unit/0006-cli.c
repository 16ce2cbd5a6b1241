/*
 * 0006-cli: the shared command line (wb_cli): -c, -X key=value and -Xkey=value, program
 * flags (with and without a configuration key), usage errors and their messages, --help and
 * --version, a missing -c, writebackctl's stop at the subcommand, configuration errors, and
 * log.level / log.debug applied once the configuration is valid.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "wb_cli.h"
#include "wb_log.h"
#include "wb_mem.h"
#include "wbt_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *fp)
{
    fputs("usage: test-prog [options]\n", fp);
}

/* As the producer: a file or -X, two flags without keys. */
static const struct wb_cli_flag prod_flags[] = {
    {"--once", NULL, NULL},
    {"--dry-run", NULL, NULL},
    {NULL, NULL, NULL},
};
static const struct wb_cli_spec prod_spec = {
    .prog = "test-producer",
    .usage = usage,
    .flags = prod_flags,
    .need = WB_CLI_FILE_OR_X,
    .file_hint = "producer.conf",
};

/* As the worker: -c required, --dry-run sets a key. */
static const struct wb_cli_flag worker_flags[] = {
    {"--dry-run", "worker.dry_run", "true"},
    {NULL, NULL, NULL},
};
static const struct wb_cli_spec worker_spec = {
    .prog = "test-worker",
    .usage = usage,
    .flags = worker_flags,
    .need = WB_CLI_FILE_REQUIRED,
    .file_hint = "worker.conf",
};

/* As writebackctl: -c optional, stops at the subcommand. */
static const struct wb_cli_flag ctl_flags[] = {
    {"--json", NULL, NULL},
    {NULL, NULL, NULL},
};
static const struct wb_cli_spec ctl_spec = {
    .prog = "test-ctl",
    .usage = usage,
    .flags = ctl_flags,
    .need = WB_CLI_FILE_OPTIONAL,
    .operands = true,
};

/* What one wb_cli_parse printed; both strings caller-owned. */
struct printed {
    char *out;
    char *err;
};

/* What was written to the temporary file fp, which is closed. */
static char *slurp(FILE *fp)
{
    char *s;

    rewind(fp);
    s = wbt_file_read_stream(fp);
    fclose(fp);
    return s;
}

/* Runs wb_cli_parse on argv (NULL-terminated) with stdout and stderr captured into pr. */
static int parse_argv(wb_cli_t *cli, char **argv, struct printed *pr)
{
    FILE *out = tmpfile(), *err = tmpfile();
    int argc = 0, save1, save2, rc;

    assert_non_null(out);
    assert_non_null(err);
    while (argv[argc])
        argc++;
    fflush(stdout);
    fflush(stderr);
    save1 = dup(1);
    save2 = dup(2);
    assert_true(save1 >= 0 && save2 >= 0);
    assert_true(dup2(fileno(out), 1) >= 0);
    assert_true(dup2(fileno(err), 2) >= 0);
    rc = wb_cli_parse(cli, argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(save1, 1);
    dup2(save2, 2);
    close(save1);
    close(save2);
    pr->out = slurp(out);
    pr->err = slurp(err);
    return rc;
}

#define PARSE(cli, pr, ...) parse_argv(cli, (char *[]){"prog", __VA_ARGS__, NULL}, pr)

static void printed_free(struct printed *pr)
{
    free(pr->out);
    free(pr->err);
    pr->out = pr->err = NULL;
}

/* Writes text to a new file in /tmp and returns its caller-owned path (drop_file removes it). */
static char *write_text(const char *text)
{
    char *path = wb_strdup("/tmp/wb-0006-XXXXXX");
    int fd = mkstemp(path);
    FILE *fp;

    assert_true(fd >= 0);
    fp = fdopen(fd, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    return path;
}

static void drop_file(char *path)
{
    unlink(path);
    free(path);
}

static void test_file_and_overrides(void **state)
{
    char *path = write_text("graph.poll_interval_ms = 7000\n"
                            "topic.events = from-file\n"
                            "topic.dlq = dlq-from-file\n");
    wb_cli_t *cli = wb_cli_new(&prod_spec);
    struct printed pr;
    wb_conf_t *conf;
    char err[1024];

    (void)state;
    /* -c FILE, then -X KEY=VALUE and -XKEY=VALUE override it, in order. */
    assert_int_equal(PARSE(cli, &pr, "-c", path, "-X", "topic.events=two-words",
                           "-Xgraph.poll_interval_ms=9000", "-Xtopic.events=last"),
                     WB_CLI_RUN);
    assert_string_equal(pr.out, "");
    assert_string_equal(pr.err, "");
    printed_free(&pr);
    conf = wb_cli_conf_load(cli, err, sizeof(err));
    assert_non_null(conf);
    assert_int_equal(wb_conf_get_int(conf, "graph.poll_interval_ms"), 9000);
    assert_string_equal(wb_conf_get_str(conf, "topic.events"), "last");
    assert_string_equal(wb_conf_get_str(conf, "topic.dlq"), "dlq-from-file");
    assert_false(wb_cli_has(cli, "--once"));
    assert_int_equal(wb_cli_operand(cli), 7);
    wb_conf_destroy(conf);

    /* The producer runs on -X alone; the last -c wins. */
    assert_int_equal(PARSE(cli, &pr, "-X", "topic.events=x"), WB_CLI_RUN);
    printed_free(&pr);
    conf = wb_cli_conf_load(cli, err, sizeof(err));
    assert_non_null(conf);
    assert_string_equal(wb_conf_get_str(conf, "topic.events"), "x");
    wb_conf_destroy(conf);
    assert_int_equal(PARSE(cli, &pr, "-c", "/nonexistent/x.conf", "-c", path), WB_CLI_RUN);
    printed_free(&pr);
    conf = wb_cli_conf_load(cli, err, sizeof(err));
    assert_non_null(conf);
    assert_string_equal(wb_conf_get_str(conf, "topic.events"), "from-file");
    wb_conf_destroy(conf);

    wb_cli_destroy(cli);
    drop_file(path);
}

static void test_flags(void **state)
{
    char *path = write_text("worker.dry_run = false\n");
    wb_cli_t *cli = wb_cli_new(&prod_spec);
    struct printed pr;
    wb_conf_t *conf;
    char err[1024];

    (void)state;
    assert_int_equal(PARSE(cli, &pr, "--once", "-X", "topic.events=e"), WB_CLI_RUN);
    printed_free(&pr);
    assert_true(wb_cli_has(cli, "--once"));
    assert_false(wb_cli_has(cli, "--dry-run"));
    /* Parsing again forgets the flags seen before. */
    assert_int_equal(PARSE(cli, &pr, "--dry-run", "-X", "topic.events=e"), WB_CLI_RUN);
    printed_free(&pr);
    assert_false(wb_cli_has(cli, "--once"));
    assert_true(wb_cli_has(cli, "--dry-run"));
    wb_cli_destroy(cli);

    /* A flag with a key wins over the file and over -X, wherever it stands. */
    cli = wb_cli_new(&worker_spec);
    assert_int_equal(PARSE(cli, &pr, "--dry-run", "-c", path, "-X", "worker.dry_run=false"),
                     WB_CLI_RUN);
    printed_free(&pr);
    conf = wb_cli_conf_load(cli, err, sizeof(err));
    assert_non_null(conf);
    assert_true(wb_conf_get_bool(conf, "worker.dry_run"));
    wb_conf_destroy(conf);
    assert_int_equal(PARSE(cli, &pr, "-c", path), WB_CLI_RUN);
    printed_free(&pr);
    conf = wb_cli_conf_load(cli, err, sizeof(err));
    assert_non_null(conf);
    assert_false(wb_conf_get_bool(conf, "worker.dry_run"));
    wb_conf_destroy(conf);
    wb_cli_destroy(cli);
    drop_file(path);
}

static void test_usage_errors(void **state)
{
    wb_cli_t *cli = wb_cli_new(&prod_spec);
    struct printed pr;

    (void)state;
    /* An unknown argument: exit 2, named, usage on stderr, nothing on stdout. */
    assert_int_equal(PARSE(cli, &pr, "-X", "a=b", "--bogus", "--help"), 2);
    assert_string_equal(pr.out, "");
    assert_string_equal(pr.err, "test-producer: unknown or incomplete argument \"--bogus\"\n"
                                "usage: test-prog [options]\n");
    printed_free(&pr);
    /* -c and -X without a value. */
    assert_int_equal(PARSE(cli, &pr, "-X", "a=b", "-c"), 2);
    assert_non_null(strstr(pr.err, "test-producer: unknown or incomplete argument \"-c\"\n"));
    printed_free(&pr);
    assert_int_equal(PARSE(cli, &pr, "-c", "x.conf", "-X"), 2);
    assert_non_null(strstr(pr.err, "test-producer: unknown or incomplete argument \"-X\"\n"));
    printed_free(&pr);
    /* An operand where none is expected. */
    assert_int_equal(PARSE(cli, &pr, "-c", "x.conf", "lag"), 2);
    assert_non_null(strstr(pr.err, "unknown or incomplete argument \"lag\""));
    printed_free(&pr);
    /* Neither -c nor -X. */
    assert_int_equal(PARSE(cli, &pr, "--once"), 2);
    assert_string_equal(pr.err, "test-producer: -c producer.conf is required\n"
                                "usage: test-prog [options]\n");
    printed_free(&pr);
    wb_cli_destroy(cli);

    /* The worker wants -c even with -X. */
    cli = wb_cli_new(&worker_spec);
    assert_int_equal(PARSE(cli, &pr, "-X", "topic.events=e", "--dry-run"), 2);
    assert_non_null(strstr(pr.err, "test-worker: -c worker.conf is required\n"));
    printed_free(&pr);
    wb_cli_destroy(cli);
}

static void test_help_version(void **state)
{
    wb_cli_t *cli = wb_cli_new(&worker_spec);
    struct printed pr;

    (void)state;
    /* No -c needed; the first of --help, --version or an error wins. */
    assert_int_equal(PARSE(cli, &pr, "--help", "--bogus"), 0);
    assert_string_equal(pr.out, "usage: test-prog [options]\n");
    assert_string_equal(pr.err, "");
    printed_free(&pr);
    assert_int_equal(PARSE(cli, &pr, "-h"), 0);
    assert_string_equal(pr.out, "usage: test-prog [options]\n");
    printed_free(&pr);
    assert_int_equal(PARSE(cli, &pr, "-c", "w.conf", "--version", "--help"), 0);
    assert_string_equal(pr.out, "test-worker " WB_VERSION "\n");
    assert_string_equal(pr.err, "");
    printed_free(&pr);
    wb_cli_destroy(cli);
}

static void test_ctl_subcommand(void **state)
{
    wb_cli_t *cli = wb_cli_new(&ctl_spec);
    struct printed pr;
    wb_conf_t *conf;
    char err[1024];
    char *argv[] = {"ctl",    "--json",  "-X", "topic.events=e", "dlq",    "list", "--json", "-c",
                    "x.conf", "--bogus", "-X", "nosuch=1",       "--help", NULL};

    (void)state;
    /* Everything from the subcommand on is left alone, options and all. */
    assert_int_equal(parse_argv(cli, argv, &pr), WB_CLI_RUN);
    assert_string_equal(pr.out, "");
    assert_string_equal(pr.err, "");
    printed_free(&pr);
    assert_int_equal(wb_cli_operand(cli), 4);
    assert_true(wb_cli_has(cli, "--json"));
    conf = wb_cli_conf_load(cli, err, sizeof(err));
    assert_non_null(conf);
    assert_string_equal(wb_conf_get_str(conf, "topic.events"), "e");
    wb_conf_destroy(conf);

    /* No subcommand: the program decides (operand == argc); -c stays optional. */
    assert_int_equal(PARSE(cli, &pr, "-X", "topic.events=e"), WB_CLI_RUN);
    assert_int_equal(wb_cli_operand(cli), 3);
    assert_false(wb_cli_has(cli, "--json"));
    printed_free(&pr);
    assert_int_equal(parse_argv(cli, (char *[]){"prog", NULL}, &pr), WB_CLI_RUN);
    assert_int_equal(wb_cli_operand(cli), 1);
    printed_free(&pr);

    /* Before the subcommand, unknown options are errors, reported as options. */
    assert_int_equal(PARSE(cli, &pr, "--bogus", "lag"), 2);
    assert_string_equal(pr.err, "test-ctl: unknown or incomplete option \"--bogus\"\n"
                                "usage: test-prog [options]\n");
    printed_free(&pr);
    assert_int_equal(PARSE(cli, &pr, "--version", "lag"), 0);
    assert_string_equal(pr.out, "test-ctl " WB_VERSION "\n");
    printed_free(&pr);
    assert_int_equal(PARSE(cli, &pr, "lag", "--version"), WB_CLI_RUN);
    assert_string_equal(pr.out, "");
    assert_int_equal(wb_cli_operand(cli), 1);
    printed_free(&pr);
    wb_cli_destroy(cli);
}

static void test_conf_errors(void **state)
{
    char *line;
    char *bad = write_text("nosuch.key = 1\ngraph.poll_interval_ms = 5\n");
    wb_cli_t *cli = wb_cli_new(&prod_spec);
    struct printed pr;
    wb_conf_t *conf;
    char err[4096];

    (void)state;
    /* File errors name file and line; -X is not applied after them. */
    assert_int_equal(PARSE(cli, &pr, "-c", bad, "-X", "other.nosuch=1"), WB_CLI_RUN);
    printed_free(&pr);
    assert_null(wb_cli_conf_load(cli, err, sizeof(err)));
    line = wb_asprintf("%s:1: ", bad);
    assert_non_null(strstr(err, line));
    free(line);
    line = wb_asprintf("%s:2: ", bad);
    assert_non_null(strstr(err, line));
    free(line);
    assert_null(strstr(err, "other.nosuch"));

    /* -X errors name the key. */
    assert_int_equal(PARSE(cli, &pr, "-X", "graph.poll_interval_ms=5"), WB_CLI_RUN);
    printed_free(&pr);
    assert_null(wb_cli_conf_load(cli, err, sizeof(err)));
    assert_non_null(strstr(err, "graph.poll_interval_ms"));

    /* Validation for the program: every missing key, one per line; logging untouched. */
    wb_log_set_level(LOG_INFO);
    assert_int_equal(PARSE(cli, &pr, "-X", "log.level=err"), WB_CLI_RUN);
    printed_free(&pr);
    conf = wb_cli_conf_load(cli, err, sizeof(err));
    assert_non_null(conf);
    assert_int_equal(wb_cli_conf_apply(conf, WB_CONF_PRODUCER, err, sizeof(err)), WB_ERR_INVALID);
    assert_non_null(strstr(err, "missing required key \"graph.tenant_id\" (needed by "
                                "writeback-producer)\n"));
    assert_non_null(strstr(err, "missing required key \"kafka.bootstrap.servers\""));
    assert_int_equal(wb_log_get_level(), LOG_INFO);
    wb_conf_destroy(conf);
    wb_cli_destroy(cli);
    drop_file(bad);
}

static void test_log_settings(void **state)
{
    wb_cli_t *cli = wb_cli_new(&ctl_spec);
    struct printed pr;
    wb_conf_t *conf;
    char err[1024];

    (void)state;
    assert_int_equal(PARSE(cli, &pr, "-X", "log.level=warning", "soa-policy"), WB_CLI_RUN);
    printed_free(&pr);
    conf = wb_cli_conf_load(cli, err, sizeof(err));
    assert_non_null(conf);
    assert_int_equal(wb_cli_conf_apply(conf, 0, err, sizeof(err)), WB_OK);
    assert_int_equal(wb_log_get_level(), LOG_WARNING);
    assert_false(wb_log_debug_on("kafka"));
    wb_conf_destroy(conf);

    /* log.debug as a list (spaces, duplicates) reaches wb_log and raises the level. */
    assert_int_equal(
        PARSE(cli, &pr, "-X", "log.level=err", "-Xlog.debug= kafka, ldap,kafka", "lag"),
        WB_CLI_RUN);
    printed_free(&pr);
    conf = wb_cli_conf_load(cli, err, sizeof(err));
    assert_non_null(conf);
    assert_int_equal(wb_cli_conf_apply(conf, 0, err, sizeof(err)), WB_OK);
    assert_int_equal(wb_log_get_level(), LOG_DEBUG);
    assert_true(wb_log_debug_on("kafka"));
    assert_true(wb_log_debug_on("ldap"));
    assert_false(wb_log_debug_on("graph"));
    wb_conf_destroy(conf);
    wb_log_set_debug("");
    wb_log_set_level(LOG_INFO);
    wb_cli_destroy(cli);
}

static void test_destroy_null(void **state)
{
    (void)state;
    wb_cli_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_and_overrides), cmocka_unit_test(test_flags),
        cmocka_unit_test(test_usage_errors),       cmocka_unit_test(test_help_version),
        cmocka_unit_test(test_ctl_subcommand),     cmocka_unit_test(test_conf_errors),
        cmocka_unit_test(test_log_settings),       cmocka_unit_test(test_destroy_null),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
