/*
 * writeback-worker: command line. Loads the configuration (-c file, -X key=value overrides,
 * --dry-run), validates it for the worker, and runs the consumer loop until SIGTERM/SIGINT.
 * Exit codes: 0 clean stop, 1 runtime failure (including a refused LDAP bind), 2 usage/config.
 */
#include "wb_conf.h"
#include "wb_log.h"
#include "wb_mem.h"
#include "wb_signal.h"
#include "wb_worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *fp)
{
    fprintf(fp, "usage: writeback-worker -c worker.conf [-X key=value ...] [--dry-run]\n"
                "       writeback-worker --help | --version\n"
                "Consumes group events from Kafka and applies them to Active Directory.\n"
                "  -c FILE       configuration file (key = value; see deploy/CONFIG.md)\n"
                "  -X KEY=VALUE  override one key (repeatable)\n"
                "  --dry-run     log the LDAP operations that would be made; write nothing\n");
}

int main(int argc, char **argv)
{
    const char **xs = wb_calloc((size_t)argc + 1, sizeof(*xs));
    const char *file = NULL;
    size_t nx = 0;
    bool dry = false;
    wb_conf_t *conf = NULL;
    wb_worker_t *wk = NULL;
    char err[4096];
    int i, rc = 2;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            rc = 0;
            goto out;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("writeback-worker %s\n", WB_VERSION);
            rc = 0;
            goto out;
        } else if (strcmp(argv[i], "--dry-run") == 0) {
            dry = true;
        } else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            file = argv[++i];
        } else if (strcmp(argv[i], "-X") == 0 && i + 1 < argc) {
            xs[nx++] = argv[++i];
        } else if (strncmp(argv[i], "-X", 2) == 0 && argv[i][2]) {
            xs[nx++] = argv[i] + 2;
        } else {
            fprintf(stderr, "writeback-worker: unknown or incomplete argument \"%s\"\n", argv[i]);
            usage(stderr);
            goto out;
        }
    }
    if (!file) {
        fprintf(stderr, "writeback-worker: -c worker.conf is required\n");
        usage(stderr);
        goto out;
    }
    conf = wb_conf_new();
    if (wb_conf_load_file(conf, file, err, sizeof(err)) != WB_OK ||
        wb_conf_apply_args(conf, xs, nx, err, sizeof(err)) != WB_OK ||
        (dry && wb_conf_set(conf, "worker.dry_run", "true", err, sizeof(err)) != WB_OK) ||
        wb_conf_validate(conf, WB_CONF_WORKER, err, sizeof(err)) != WB_OK) {
        fprintf(stderr, "writeback-worker: configuration error:\n%s\n", err);
        goto out;
    }
    wb_log_set_level(wb_log_level_parse(wb_conf_get_str(conf, "log.level")));
    if (wb_conf_get_str(conf, "log.debug"))
        wb_log_set_debug(wb_conf_get_str(conf, "log.debug"));
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
    free(xs);
    return rc;
}
