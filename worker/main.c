/*
 * writeback-worker: command line. Loads the configuration (-c file, -X key=value overrides,
 * --dry-run), validates it for the worker, and runs the consumer loop until SIGTERM/SIGINT.
 * Exit codes: 0 clean stop, 1 runtime failure (including a refused LDAP bind), 2 usage/config.
 */
#include "wb_cli.h"
#include "wb_conf.h"
#include "wb_log.h"
#include "wb_signal.h"
#include "wb_worker.h"

#include <stdio.h>

static void usage(FILE *fp)
{
    fprintf(fp, "usage: writeback-worker -c worker.conf [-X key=value ...] [--dry-run]\n"
                "       writeback-worker --help | --version\n"
                "Consumes group events from Kafka and applies them to Active Directory.\n"
                "  -c FILE       configuration file (key = value; see deploy/CONFIG.md)\n"
                "  -X KEY=VALUE  override one key (repeatable)\n"
                "  --dry-run     log the LDAP operations that would be made; write nothing\n");
}

/* --dry-run is worker.dry_run = true, over any -X worker.dry_run. */
static const struct wb_cli_flag flags[] = {
    {"--dry-run", "worker.dry_run", "true"},
    {NULL, NULL, NULL},
};

static const struct wb_cli_spec spec = {
    .prog = "writeback-worker",
    .usage = usage,
    .flags = flags,
    .need = WB_CLI_FILE_REQUIRED,
    .file_hint = "worker.conf",
};

int main(int argc, char **argv)
{
    wb_cli_t *cli = wb_cli_new(&spec);
    wb_conf_t *conf = NULL;
    wb_worker_t *wk = NULL;
    char err[4096];
    int rc;

    rc = wb_cli_parse(cli, argc, argv);
    if (rc != WB_CLI_RUN)
        goto out;
    rc = 2;
    conf = wb_cli_conf_load(cli, err, sizeof(err));
    if (!conf || wb_cli_conf_apply(conf, WB_CONF_WORKER, err, sizeof(err)) != WB_OK) {
        fprintf(stderr, "writeback-worker: configuration error:\n%s\n", err);
        goto out;
    }
    wb_log_route_ldap();
    if (wb_signal_init() != 0) {
        fprintf(stderr, "writeback-worker: cannot install signal handlers\n");
        rc = 1;
        goto out;
    }
    wk = wb_worker_new(conf, err, sizeof(err));
    if (!wk) {
        wb_log(LOG_CRIT, "WORKER", "cannot start: %s", err);
        fprintf(stderr, "writeback-worker: %s\n", err);
        rc = 1;
        goto out;
    }
    rc = wb_worker_run(wk);
out:
    wb_worker_destroy(wk);
    wb_conf_destroy(conf);
    wb_cli_destroy(cli);
    return rc;
}
