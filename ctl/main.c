/*
 * writebackctl: the operator tool. Global options (-c, -X, --json, --help, --version), the
 * configuration, then one subcommand: lag, replay, dlq, resync, deletes, provision,
 * soa-policy. Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error
 * (lag: 0 OK, 1 WARN, 2 ERR, 3 UNKNOWN).
 */
#include "ctl.h"
#include "wb_conf.h"
#include "wb_log.h"
#include "wb_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERRSZ 8192

static const struct {
    const char *name;
    int (*fn)(struct ctl *c, int argc, char **argv);
    bool kafka; /* needs kafka.bootstrap.servers */
    const char *summary;
} commands[] = {
    {"lag", ctl_lag, true, "consumer lag per partition with Burrow-style status (exit 0/1/2)"},
    {"replay", ctl_replay, true, "rewind the workers' offsets, or re-apply one group's events"},
    {"dlq", ctl_dlq, true, "dead letters: list, show, redrive"},
    {"resync", ctl_resync, true, "ask the producer for a full sync at its next round"},
    {"deletes", ctl_deletes, true, "staged deletes over graph.delete_threshold: show, allow"},
    {"provision", ctl_provision, true,
     "provision one group from Graph now (--dry-run: planned events and LDAP operations)"},
    {"soa-policy", ctl_soa, false, "AD enforcement policy: show, add-sid, remove-sid, check"},
};

static void usage(FILE *fp)
{
    size_t i;

    fputs("usage: writebackctl [-c ctl.conf] [-X key=value ...] [--json] <command> [options]\n"
          "\n"
          "Operator tool for writeback (Entra ID cloud groups -> Kafka -> Active Directory).\n"
          "\n"
          "Global options:\n"
          "  -c FILE        configuration file (key = value; see deploy/CONFIG.md)\n"
          "  -X KEY=VALUE   override one configuration key (repeatable)\n"
          "  --json         machine-readable output on stdout\n"
          "  --help         this text; `writebackctl <command> --help` for a command\n"
          "  --version      print the version\n"
          "\n"
          "Commands:\n",
          fp);
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(fp, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fputs("\n"
          "Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error;\n"
          "lag: 0 OK, 1 WARN, 2 ERR, 3 UNKNOWN.\n"
          "\n"
          "Recovering from outages (details in ctl/OPERATIONS.md):\n"
          "  Broker outage: workers and producer retry on their own; when the broker is back,\n"
          "    watch `writebackctl lag` return to OK. If events were lost or AD must be\n"
          "    re-checked, stop the workers and `writebackctl replay --to-datetime <before the\n"
          "    outage>` (dry run), then `--execute`, then start the workers; or `resync`.\n"
          "  AD outage: workers pause partitions and retry transient errors without\n"
          "    dead-lettering; lag shows STALL. Once AD is back they catch up. Dead letters\n"
          "    from conflicts: `dlq list`, fix the cause, `dlq redrive`.\n"
          "\n"
          "Provisioning one group now (Cloud Sync's \"provision on demand\"):\n"
          "  `writebackctl provision --group <objectId> --dry-run` shows import, scope (and the\n"
          "  clause that excludes a group), the AD match and the LDAP operations a worker would\n"
          "  perform; without --dry-run the group's events go to topic.events for the workers.\n",
          fp);
}

int main(int argc, char **argv)
{
    const char *cfile = NULL;
    const char **xargs = wb_calloc((size_t)argc + 1, sizeof(char *));
    char **rest = wb_calloc((size_t)argc + 1, sizeof(char *));
    char *errstr = wb_calloc(1, ERRSZ);
    struct ctl c = {0};
    size_t nx = 0, ci;
    int rc = CTL_EXIT_USAGE, i, nrest = 0, cmd = -1;
    const char *const *dbg;

    /* Global options come before the command; --json is accepted anywhere. */
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            c.json = true;
        } else if (cmd >= 0) {
            rest[nrest++] = argv[i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            rc = 0;
            goto out;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("writebackctl %s\n", WB_VERSION);
            rc = 0;
            goto out;
        } else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            cfile = argv[++i];
        } else if (strcmp(argv[i], "-X") == 0 && i + 1 < argc) {
            xargs[nx++] = argv[++i];
        } else if (strncmp(argv[i], "-X", 2) == 0 && argv[i][2]) {
            xargs[nx++] = argv[i] + 2;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "writebackctl: unknown or incomplete option \"%s\"\n", argv[i]);
            usage(stderr);
            goto out;
        } else {
            for (ci = 0; ci < sizeof(commands) / sizeof(commands[0]); ci++)
                if (strcmp(argv[i], commands[ci].name) == 0)
                    cmd = (int)ci;
            if (cmd < 0) {
                fprintf(stderr, "writebackctl: unknown command \"%s\"\n", argv[i]);
                usage(stderr);
                goto out;
            }
            rest[nrest++] = argv[i];
        }
    }
    if (cmd < 0) {
        fprintf(stderr, "writebackctl: no command given\n");
        usage(stderr);
        goto out;
    }
    if (ctl_wants_help(nrest, rest)) {
        rc = commands[cmd].fn(&c, nrest, rest);
        goto out;
    }
    c.conf = wb_conf_new();
    if (cfile && wb_conf_load_file(c.conf, cfile, errstr, ERRSZ) != WB_OK)
        goto conf_err;
    if (wb_conf_apply_args(c.conf, xargs, nx, errstr, ERRSZ) != WB_OK)
        goto conf_err;
    /* soa-policy talks to AD only; everything else needs the broker. */
    if (commands[cmd].kafka || wb_conf_is_set(c.conf, "kafka.bootstrap.servers")) {
        if (wb_conf_validate(c.conf, WB_CONF_CTL, errstr, ERRSZ) != WB_OK)
            goto conf_err;
    } else if (wb_conf_validate(c.conf, 0, errstr, ERRSZ) != WB_OK) {
        goto conf_err;
    }
    wb_log_set_level(wb_log_level_parse(wb_conf_get_str(c.conf, "log.level")));
    dbg = wb_conf_get_list(c.conf, "log.debug");
    if (dbg[0]) {
        char buf[512] = "";

        for (i = 0; dbg[i]; i++) {
            if (i)
                strncat(buf, ",", sizeof(buf) - strlen(buf) - 1);
            strncat(buf, dbg[i], sizeof(buf) - strlen(buf) - 1);
        }
        wb_log_set_debug(buf);
    }
    rc = commands[cmd].fn(&c, nrest, rest);
    goto out;
conf_err:
    fprintf(stderr, "writebackctl: %s\n", errstr);
    rc = strcmp(commands[cmd].name, "lag") == 0 ? 3 : CTL_EXIT_USAGE;
out:
    wb_conf_destroy(c.conf);
    free(errstr);
    free(rest);
    free(xargs);
    return rc;
}
