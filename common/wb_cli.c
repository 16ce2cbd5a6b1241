/*
 * wb_cli: the command line shared by writeback-producer, writeback-worker and writebackctl.
 * One parser driven by the program's wb_cli_spec, so that -c, -X, --help, --version and the
 * usage errors read and exit the same way in every program.
 */
#include "wb_cli.h"

#include "wb_log.h"
#include "wb_mem.h"

#include <stdlib.h>
#include <string.h>

struct wb_cli_s {
    const struct wb_cli_spec *spec;
    const char *file;   /* -c value (the last one given), borrowed from argv; NULL if none */
    const char **xargs; /* -X values in order, borrowed from argv */
    size_t nx;
    size_t nflags; /* rows in spec->flags */
    bool *seen;    /* per spec->flags row: given on the command line */
    int operand;   /* index of the first operand, or argc */
};

wb_cli_t *wb_cli_new(const struct wb_cli_spec *spec)
{
    wb_cli_t *cli = wb_calloc(1, sizeof(*cli));

    cli->spec = spec;
    while (spec->flags && spec->flags[cli->nflags].name)
        cli->nflags++;
    cli->seen = wb_calloc(cli->nflags + 1, sizeof(bool));
    return cli;
}

void wb_cli_destroy(wb_cli_t *cli)
{
    if (!cli)
        return;
    free(cli->xargs);
    free(cli->seen);
    free(cli);
}

/* The row of spec->flags named name, or -1. */
static int flag_find(const wb_cli_t *cli, const char *name)
{
    size_t i;

    for (i = 0; i < cli->nflags; i++)
        if (strcmp(cli->spec->flags[i].name, name) == 0)
            return (int)i;
    return -1;
}

int wb_cli_parse(wb_cli_t *cli, int argc, char **argv)
{
    const struct wb_cli_spec *spec = cli->spec;
    int i, f;

    /* Parsing again starts from nothing (the tests reuse a handle). */
    free(cli->xargs);
    cli->xargs = wb_calloc((size_t)argc + 1, sizeof(char *));
    cli->nx = 0;
    cli->file = NULL;
    memset(cli->seen, 0, (cli->nflags + 1) * sizeof(bool));
    cli->operand = argc;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];

        f = flag_find(cli, a);
        if (spec->operands && a[0] != '-') {
            cli->operand = i;
            break;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            spec->usage(stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("%s %s\n", spec->prog, WB_VERSION);
            return 0;
        } else if (strcmp(a, "-c") == 0 && i + 1 < argc) {
            cli->file = argv[++i];
        } else if (strcmp(a, "-X") == 0 && i + 1 < argc) {
            cli->xargs[cli->nx++] = argv[++i];
        } else if (strncmp(a, "-X", 2) == 0 && a[2]) {
            cli->xargs[cli->nx++] = a + 2;
        } else if (f >= 0) {
            cli->seen[f] = true;
        } else {
            /* With operands every non-option was taken above: what is left is an option. */
            fprintf(stderr, "%s: unknown or incomplete %s \"%s\"\n", spec->prog,
                    spec->operands ? "option" : "argument", a);
            spec->usage(stderr);
            return 2;
        }
    }
    if (!cli->file &&
        (spec->need == WB_CLI_FILE_REQUIRED || (spec->need == WB_CLI_FILE_OR_X && cli->nx == 0))) {
        fprintf(stderr, "%s: -c %s is required\n", spec->prog, spec->file_hint);
        spec->usage(stderr);
        return 2;
    }
    return WB_CLI_RUN;
}

bool wb_cli_has(const wb_cli_t *cli, const char *name)
{
    int f = flag_find(cli, name);

    if (f < 0) {
        fprintf(stderr, "wb_cli_has: \"%s\" is not a flag of %s\n", name, cli->spec->prog);
        abort();
    }
    return cli->seen[f];
}

int wb_cli_operand(const wb_cli_t *cli)
{
    return cli->operand;
}

wb_conf_t *wb_cli_conf_load(const wb_cli_t *cli, char *errstr, size_t errsz)
{
    wb_conf_t *conf = wb_conf_new();
    wb_err_t err = WB_OK;
    size_t i;

    if (cli->file)
        err = wb_conf_load_file(conf, cli->file, errstr, errsz);
    if (err == WB_OK)
        err = wb_conf_apply_args(conf, cli->xargs, cli->nx, errstr, errsz);
    /* After the -X overrides: a flag such as --dry-run says more than a key in a file. */
    for (i = 0; err == WB_OK && i < cli->nflags; i++) {
        const struct wb_cli_flag *fl = &cli->spec->flags[i];

        if (cli->seen[i] && fl->key)
            err = wb_conf_set(conf, fl->key, fl->value, errstr, errsz);
    }
    if (err != WB_OK) {
        wb_conf_destroy(conf);
        conf = NULL;
    }
    return conf;
}

wb_err_t wb_cli_conf_apply(wb_conf_t *conf, unsigned programs, char *errstr, size_t errsz)
{
    const char *debug;
    wb_err_t err = wb_conf_validate(conf, programs, errstr, errsz);

    if (err != WB_OK)
        return err;
    wb_log_set_level(wb_log_level_parse(wb_conf_get_str(conf, "log.level")));
    /* The list as text: its items joined by commas, NULL when empty. */
    debug = wb_conf_get_str(conf, "log.debug");
    if (debug)
        wb_log_set_debug(debug);
    return WB_OK;
}
