/*
 * ctl: the command skeleton (option tables, usage errors, rendering) and the option value
 * parsers the commands share: times, durations, partition lists.
 */
#include "ctl.h"

#include "wb_mem.h"
#include "wb_time.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bool ctl_wants_help(int argc, char **argv)
{
    int i;

    for (i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

/* Prints a cJSON document to stdout (pretty) and deletes it. */
static void print_json(cJSON *doc)
{
    char *s = cJSON_Print(doc);

    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
    cJSON_Delete(doc);
}

int64_t ctl_parse_duration(const char *s)
{
    int64_t total = 0;
    bool iso = false, any = false;

    if (!s || !*s)
        return -1;
    if (*s == 'P' || *s == 'p') {
        iso = true;
        s++;
    }
    while (*s) {
        int64_t v = 0, unit;
        int digits = 0;

        if (iso && (*s == 'T' || *s == 't')) {
            s++;
            continue;
        }
        while (isdigit((unsigned char)*s) && digits < 12) {
            v = v * 10 + (*s++ - '0');
            digits++;
        }
        if (digits == 0)
            return -1;
        switch (tolower((unsigned char)*s)) {
        case 's':
            unit = 1000;
            break;
        case 'm':
            unit = 60000;
            break;
        case 'h':
            unit = 3600000;
            break;
        case 'd':
            unit = 86400000;
            break;
        case 'w':
            unit = 7 * 86400000LL;
            break;
        default:
            return -1;
        }
        s++;
        total += v * unit;
        any = true;
    }
    return any ? total : -1;
}

int ctl_parse_partitions(const char *s, bool *want, int nparts)
{
    const char *p = s;

    while (*p) {
        char *end = NULL;
        long v = strtol(p, &end, 10);

        if (end == p || v < 0 || v >= nparts || (*end && *end != ','))
            return -1;
        want[v] = true;
        p = *end ? end + 1 : end;
    }
    return 0;
}

/* True when argv[*i] is name, as "name value" (then *i is advanced) or "name=value"; *val is
 * the value, NULL when it is missing. */
static bool opt_match(int argc, char **argv, int *i, const char *name, const char **val)
{
    size_t n = strlen(name);

    *val = NULL;
    if (strncmp(argv[*i], name, n) != 0)
        return false;
    if (argv[*i][n] == '=') {
        *val = argv[*i] + n + 1;
        return true;
    }
    if (argv[*i][n] != '\0')
        return false;
    if (*i + 1 < argc)
        *val = argv[++*i];
    return true;
}

int ctl_usage_error(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "writebackctl %s: ", cmd);
    fprintf(stderr, fmt, arg ? arg : "");
    fprintf(stderr, " (see writebackctl %s --help)\n", cmd);
    return CTL_EXIT_USAGE;
}

/* Whole-string decimal integer. */
static bool parse_i64(const char *s, int64_t *out)
{
    char *end = NULL;
    long long v;

    if (!s || !*s)
        return false;
    v = strtoll(s, &end, 10);
    if (*end)
        return false;
    *out = v;
    return true;
}

void ctl_sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* The row of tab matching argv[*i] ("--name", "--name=value"); *val as opt_match. */
static const struct ctl_opt *opt_find(const struct ctl_opt *tab, int argc, char **argv, int *i,
                                      const char **val)
{
    for (; tab && tab->name; tab++) {
        if (tab->kind == CTL_OPT_FLAG) {
            *val = "";
            if (strcmp(argv[*i], tab->name) == 0)
                return tab;
        } else if (opt_match(argc, argv, i, tab->name, val)) {
            return tab;
        }
    }
    return NULL;
}

/* Stores val into opts by row o; returns 0 or prints the usage error and returns -1. */
static int opt_set(const struct ctl_cmd *cmd, const struct ctl_opt *o, char *opts, const char *val)
{
    int64_t v = 0, max = o->max ? o->max : INT64_MAX;
    char why[96];

    if (o->choice) {
        int *ch = (int *)(opts + o->choice_off);

        if (*ch != 0) {
            ctl_usage_error(cmd->name, "%s", cmd->choice_what);
            return -1;
        }
        *ch = o->choice;
    }
    switch (o->kind) {
    case CTL_OPT_FLAG:
        *(int *)(opts + o->off) = (int)o->val;
        break;
    case CTL_OPT_STR:
        *(const char **)(opts + o->off) = val;
        break;
    case CTL_OPT_I64:
        if (!parse_i64(val, &v) || v < o->val || v > max) {
            if (o->max)
                snprintf(why, sizeof(why), "a whole number in %lld..%lld", (long long)o->val,
                         (long long)max);
            else if (o->val > INT64_MIN)
                snprintf(why, sizeof(why), "a whole number >= %lld", (long long)o->val);
            else
                snprintf(why, sizeof(why), "a whole number");
            goto bad;
        }
        *(int64_t *)(opts + o->off) = v;
        break;
    case CTL_OPT_TIME:
        v = wb_time_parse(val);
        snprintf(why, sizeof(why), "RFC 3339, e.g. 2024-05-01T12:00:00Z");
        if (v < 0)
            goto bad;
        *(int64_t *)(opts + o->off) = v;
        break;
    case CTL_OPT_DURATION:
        v = ctl_parse_duration(val);
        snprintf(why, sizeof(why), "e.g. 15m, 2h, PT1H");
        if (v < 0)
            goto bad;
        *(int64_t *)(opts + o->off) = v;
        break;
    }
    return 0;
bad:
    fprintf(stderr, "writebackctl %s: bad %s \"%s\" (%s) (see writebackctl %s --help)\n", cmd->name,
            o->name, val, why, cmd->name);
    return -1;
}

/* Parses argv[first..) into opts (and the operands); 0 or a usage error already printed. */
static int parse(const struct ctl_cmd *cmd, int argc, char **argv, int first, char *opts)
{
    const char **operands = NULL;
    size_t n = 0;
    int i;

    if (cmd->operands_off) {
        operands = wb_calloc((size_t)argc + 1, sizeof(char *));
        *(const char ***)(opts + cmd->operands_off) = operands;
    }
    for (i = first; i < argc; i++) {
        const char *val = NULL;
        const struct ctl_opt *o = opt_find(cmd->opt, argc, argv, &i, &val);

        if (!o && operands && argv[i][0] != '-') {
            operands[n++] = argv[i];
            continue;
        }
        if (!o) {
            ctl_usage_error(cmd->name,
                            operands            ? "unknown option or bad argument %s"
                            : argv[i][0] == '-' ? "unknown option %s"
                                                : "unexpected argument %s",
                            argv[i]);
            return -1;
        }
        if (!val) {
            ctl_usage_error(cmd->name, "option %s needs a value", argv[i]);
            return -1;
        }
        if (opt_set(cmd, o, opts, val) != 0)
            return -1;
    }
    return 0;
}

/* The index of argv[1] in cmd->verbs, or -1 (usage error printed). */
static int verb_find(const struct ctl_cmd *cmd, const char *arg)
{
    char list[256] = "";
    size_t len = 0;
    int i;

    for (i = 0; cmd->verbs[i]; i++) {
        if (strcmp(cmd->verbs[i], arg) == 0)
            return i;
        len +=
            (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "", cmd->verbs[i]);
        if (len >= sizeof(list))
            len = sizeof(list) - 1;
    }
    fprintf(stderr, "writebackctl %s: unknown subcommand %s (%s) (see writebackctl %s --help)\n",
            cmd->name, arg, list, cmd->name);
    return -1;
}

int ctl_cmd_run(const struct ctl_cmd *cmd, struct ctl *c, int argc, char **argv)
{
    char *opts = NULL;
    void *res = NULL;
    bool render = false;
    int usage_exit = cmd->usage_exit ? cmd->usage_exit : CTL_EXIT_USAGE;
    int rc = usage_exit, first = 1, verb = 0;

    if (ctl_wants_help(argc, argv)) {
        cmd->usage(stdout);
        return CTL_EXIT_OK;
    }
    if (cmd->verbs && argc < 2) {
        cmd->usage(stderr);
        return usage_exit;
    }
    if (cmd->verbs) {
        verb = verb_find(cmd, argv[1]);
        if (verb < 0)
            return usage_exit;
        first = 2;
    }
    opts = wb_calloc(1, cmd->opts_size ? cmd->opts_size : 1);
    if (cmd->defaults)
        memcpy(opts, cmd->defaults, cmd->opts_size);
    if (cmd->verbs)
        *(int *)(opts + cmd->verb_off) = verb;
    if (parse(cmd, argc, argv, first, opts) != 0)
        goto out;
    res = wb_calloc(1, cmd->result_size);
    rc = cmd->run(c, opts, res, &render);
    if (render && c->json)
        print_json(cmd->json(c, opts, res));
    else if (render)
        cmd->text(c, opts, res);
    if (cmd->free)
        cmd->free(res);
out:
    if (cmd->operands_off)
        free(*(const char ***)(opts + cmd->operands_off));
    free(opts);
    free(res);
    return rc;
}
