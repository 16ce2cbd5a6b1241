/*
 * wb_cli: the command line the three programs share, as OpenLDAP's clients/tools/common.c
 * is for its tools: -c FILE, -X KEY=VALUE / -XKEY=VALUE (repeatable), --help/-h, --version,
 * the program's own flags, usage errors (exit 2), then loading, overriding and validating
 * the configuration and applying log.level and log.debug. Called from main() only.
 */
#ifndef WB_CLI_H
#define WB_CLI_H

#include "wb_conf.h"

#include <stdbool.h>
#include <stdio.h>

typedef struct wb_cli_s wb_cli_t;

/* wb_cli_parse's result when the program should go on (anything else is an exit code). */
#define WB_CLI_RUN (-1)

/* How a program needs -c FILE. */
enum wb_cli_need {
    WB_CLI_FILE_OPTIONAL, /* writebackctl: a file, -X overrides, or neither */
    WB_CLI_FILE_REQUIRED, /* writeback-worker */
    WB_CLI_FILE_OR_X,     /* writeback-producer: a file or at least one -X override */
};

/* One program flag ("--once"). When key is set, giving the flag also sets key to value, after
 * every -X override (so `--dry-run` wins over `-X worker.dry_run=false`). */
struct wb_cli_flag {
    const char *name;  /* the whole argument, "--dry-run" */
    const char *key;   /* configuration key the flag sets, or NULL */
    const char *value; /* its value (with key) */
};

/* What a program accepts; usually a static const in main.c. */
struct wb_cli_spec {
    const char *prog;                /* "writeback-worker": message prefix and --version line */
    void (*usage)(FILE *fp);         /* prints the usage text (stdout for --help, else stderr) */
    const struct wb_cli_flag *flags; /* ended by a row whose name is NULL; NULL for none */
    enum wb_cli_need need;
    const char *file_hint; /* "worker.conf" in "-c worker.conf is required" */
    /* true: parsing stops at the first argument not starting with '-' (writebackctl's
     * subcommand), which with everything after it is left untouched for the program (see
     * wb_cli_operand); unknown arguments are then reported as "option". false: every
     * argument must be an option, unknown ones are reported as "argument". */
    bool operands;
};

/* A parser for spec (borrowed: it must outlive the handle). Never NULL. */
wb_cli_t *wb_cli_new(const struct wb_cli_spec *spec);

/* Frees cli. NULL does nothing. */
void wb_cli_destroy(wb_cli_t *cli);

/* Reads argv[1..argc-1] (borrowed: -c and -X values point into it until cli is destroyed).
 * --help/-h prints the usage on stdout and returns 0; --version prints "<prog> <version>"
 * and returns 0; an unknown argument, -c or -X without a value, or a missing -c print
 * "<prog>: ..." and the usage on stderr and return 2. Otherwise returns WB_CLI_RUN. Options
 * are handled in order, so the first of --help, --version or an error wins. */
int wb_cli_parse(wb_cli_t *cli, int argc, char **argv);

/* True when the program flag name (a row of spec->flags; anything else aborts) was given. */
bool wb_cli_has(const wb_cli_t *cli, const char *name);

/* With spec->operands, the index in argv of the first operand (the subcommand), or argc when
 * there was none. Without, always argc. */
int wb_cli_operand(const wb_cli_t *cli);

/* A configuration from the command line: the -c file when given, then the -X overrides in
 * order, then the keys of the flags given. Returns a new configuration (caller-owned,
 * wb_conf_destroy) or NULL with every problem in errstr, one per line. Not validated. */
wb_conf_t *wb_cli_conf_load(const wb_cli_t *cli, char *errstr, size_t errsz);

/* Validates conf for programs (a WB_CONF_* mask, 0 for the checks common to all) and, when it
 * is valid, applies log.level and log.debug to wb_log. Returns WB_OK, or WB_ERR_INVALID with
 * every problem in errstr, one per line (wb_conf_validate's messages). */
wb_err_t wb_cli_conf_apply(wb_conf_t *conf, unsigned programs, char *errstr, size_t errsz);

#endif
