/*
 * 0405-ctl-skeleton: writebackctl's command skeleton (ctl/ctl.c) on a made-up command: the
 * option table fills every kind of field ("--name value" and "--name=value"), bad values,
 * missing values, unknown options, two alternatives of one choice, missing or unknown verbs
 * and refused operands are usage errors with the command's exit code that never reach run;
 * --help prints the usage and exits 0; the result is rendered as text or JSON only when run
 * asks for it, and freed either way.
 */
#include "ctl.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

enum { C_NONE, C_A, C_B };

struct t_opts {
    int verb;
    const char **args;
    const char *name;
    int flag, choice;
    int64_t num, when, dur;
};

static const struct t_opts t_defaults = {.num = -1, .when = -1, .dur = -1};

static const struct ctl_opt t_options[] = {
    CTL_OPT("--name", CTL_OPT_STR, struct t_opts, name),
    CTL_OPT("--flag", CTL_OPT_FLAG, struct t_opts, flag, .val = 7),
    CTL_OPT("--num", CTL_OPT_I64, struct t_opts, num, .val = 1, .max = 10),
    CTL_OPT("--when", CTL_OPT_TIME, struct t_opts, when),
    CTL_OPT("--dur", CTL_OPT_DURATION, struct t_opts, dur),
    CTL_OPT("--a", CTL_OPT_FLAG, struct t_opts, choice, .val = C_A, .choice = C_A,
            .choice_off = offsetof(struct t_opts, choice)),
    CTL_OPT("--b", CTL_OPT_FLAG, struct t_opts, choice, .val = C_B, .choice = C_B,
            .choice_off = offsetof(struct t_opts, choice)),
    {.name = NULL},
};

static const char *const t_verbs[] = {"one", "two", NULL};

/* What the callbacks saw. */
static struct {
    int runs, texts, jsons, frees, usages;
    struct t_opts got;
    const char *args[8];
    bool render;
    int rc;
} seen;

struct t_result {
    int value;
};

static void t_usage(FILE *fp)
{
    (void)fp;
    seen.usages++;
}

static int t_run(struct ctl *c, const void *opts, void *result, bool *render)
{
    const struct t_opts *o = opts;
    size_t i;

    (void)c;
    seen.runs++;
    seen.got = *o;
    for (i = 0; o->args && o->args[i] && i < 7; i++)
        seen.args[i] = o->args[i];
    ((struct t_result *)result)->value = 42;
    *render = seen.render;
    return seen.rc;
}

static void t_text(struct ctl *c, const void *opts, const void *result)
{
    (void)c, (void)opts;
    assert_int_equal(((const struct t_result *)result)->value, 42);
    seen.texts++;
}

static cJSON *t_json(struct ctl *c, const void *opts, const void *result)
{
    (void)c, (void)opts;
    assert_int_equal(((const struct t_result *)result)->value, 42);
    seen.jsons++;
    return cJSON_CreateObject();
}

static void t_free(void *result)
{
    (void)result;
    seen.frees++;
}

static const struct ctl_cmd t_cmd = {
    .name = "t",
    .usage = t_usage,
    .opt = t_options,
    .opts_size = sizeof(struct t_opts),
    .defaults = &t_defaults,
    .choice_what = "give exactly one of --a and --b",
    .usage_exit = 3,
    .result_size = sizeof(struct t_result),
    .run = t_run,
    .text = t_text,
    .json = t_json,
    .free = t_free,
};

static int run_argv(const struct ctl_cmd *cmd, bool json, const char *const *args)
{
    char *argv[16];
    struct ctl c = {NULL, json};
    int argc = 0;

    while (args[argc] && argc < 15) {
        argv[argc] = (char *)args[argc];
        argc++;
    }
    argv[argc] = NULL;
    return ctl_cmd_run(cmd, &c, argc, argv);
}

static int setup(void **state)
{
    (void)state;
    memset(&seen, 0, sizeof(seen));
    return 0;
}

static void test_fills_fields(void **state)
{
    const char *a[] = {
        "t",     "--name", "x",   "--flag", "--num=10", "--when", "1970-01-01T00:00:01Z",
        "--dur", "1h30m",  "--b", NULL};

    (void)state;
    seen.rc = 5;
    assert_int_equal(run_argv(&t_cmd, false, a), 5);
    assert_int_equal(seen.runs, 1);
    assert_string_equal(seen.got.name, "x");
    assert_int_equal(seen.got.flag, 7);
    assert_int_equal(seen.got.num, 10);
    assert_int_equal(seen.got.when, 1000);
    assert_int_equal(seen.got.dur, 90 * 60 * 1000);
    assert_int_equal(seen.got.choice, C_B);
    assert_int_equal(seen.frees, 1);
}

static void test_defaults(void **state)
{
    const char *a[] = {"t", NULL};

    (void)state;
    assert_int_equal(run_argv(&t_cmd, false, a), 0);
    assert_int_equal(seen.got.num, -1);
    assert_int_equal(seen.got.when, -1);
    assert_null(seen.got.name);
    assert_int_equal(seen.got.choice, C_NONE);
}

/* Without defaults every field starts at zero. */
static void test_no_defaults(void **state)
{
    const char *a[] = {"t", NULL};
    struct ctl_cmd z = t_cmd;

    (void)state;
    z.defaults = NULL;
    assert_int_equal(run_argv(&z, false, a), 0);
    assert_int_equal(seen.got.num, 0);
    assert_int_equal(seen.got.when, 0);
}

/* Every usage error: the command's exit code, run never called. */
static void test_usage_errors(void **state)
{
    static const char *const cases[][4] = {
        {"t", "--num", "11", NULL}, {"t", "--num", "0", NULL},     {"t", "--num", "x", NULL},
        {"t", "--num", NULL},       {"t", "--when", "noon", NULL}, {"t", "--dur", "5y", NULL},
        {"t", "--a", "--b", NULL},  {"t", "--bogus", NULL},        {"t", "operand", NULL},
        {"t", "--name", NULL},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(run_argv(&t_cmd, false, cases[i]), 3);
        assert_int_equal(seen.runs, 0);
        assert_int_equal(seen.frees, 0);
    }
}

static void test_help(void **state)
{
    const char *a[] = {"t", "--num", "x", "--help", NULL};

    (void)state;
    assert_int_equal(run_argv(&t_cmd, false, a), 0);
    assert_int_equal(seen.usages, 1);
    assert_int_equal(seen.runs, 0);
}

static void test_render(void **state)
{
    const char *a[] = {"t", NULL};

    (void)state;
    assert_int_equal(run_argv(&t_cmd, false, a), 0);
    assert_int_equal(seen.texts + seen.jsons, 0);
    seen.render = true;
    seen.rc = 1; /* a failure may still be reported (soa check, provision) */
    assert_int_equal(run_argv(&t_cmd, false, a), 1);
    assert_int_equal(seen.texts, 1);
    assert_int_equal(seen.jsons, 0);
    assert_int_equal(run_argv(&t_cmd, true, a), 1);
    assert_int_equal(seen.texts, 1);
    assert_int_equal(seen.jsons, 1);
    assert_int_equal(seen.frees, 3);
}

static void test_verbs_and_operands(void **state)
{
    struct ctl_cmd v = t_cmd;
    const char *none[] = {"t", NULL};
    const char *bad[] = {"t", "three", NULL};
    const char *good[] = {"t", "two", "p", "--flag", "q", NULL};

    (void)state;
    v.verbs = t_verbs;
    v.verb_off = offsetof(struct t_opts, verb);
    v.operands_off = offsetof(struct t_opts, args);
    v.usage_exit = 0; /* 0: CTL_EXIT_USAGE */
    assert_int_equal(run_argv(&v, false, none), CTL_EXIT_USAGE);
    assert_int_equal(seen.usages, 1);
    assert_int_equal(run_argv(&v, false, bad), CTL_EXIT_USAGE);
    assert_int_equal(seen.runs, 0);
    assert_int_equal(run_argv(&v, false, good), 0);
    assert_int_equal(seen.got.verb, 1);
    assert_int_equal(seen.got.flag, 7);
    assert_string_equal(seen.args[0], "p");
    assert_string_equal(seen.args[1], "q");
    assert_null(seen.args[2]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_fills_fields, setup),
        cmocka_unit_test_setup(test_defaults, setup),
        cmocka_unit_test_setup(test_no_defaults, setup),
        cmocka_unit_test_setup(test_usage_errors, setup),
        cmocka_unit_test_setup(test_help, setup),
        cmocka_unit_test_setup(test_render, setup),
        cmocka_unit_test_setup(test_verbs_and_operands, setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
