/*
 * writebackctl: the operator tool. Global options (-c, -X, --json, --help, --version), the
 * configuration, then one subcommand: lag, replay, dlq, resync, deletes, provision,
 * soa-policy. Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error
 * (lag: 0 OK, 1 WARN, 2 ERR, 3 UNKNOWN).
 */
#include "ctl.h"
#include "wb_cli.h"
#include "wb_conf.h"
#include "wb_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERRSZ 8192

static const struct ctl_cmd *const commands[] = {
    &ctl_lag_cmd,       &ctl_replay_cmd, &ctl_dlq_cmd,   &ctl_resync_cmd,        &ctl_deletes_cmd,
    &ctl_provision_cmd, &ctl_soa_cmd,    &ctl_drift_cmd, &ctl_notifications_cmd,
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
        fprintf(fp, "  %-12s %s\n", commands[i]->name, commands[i]->summary);
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

static const struct wb_cli_flag flags[] = {
    {"--json", NULL, NULL},
    {NULL, NULL, NULL},
};

/* Global options come before the command; the command and its options are left to it. */
static const struct wb_cli_spec spec = {
    .prog = "writebackctl",
    .usage = usage,
    .flags = flags,
    .need = WB_CLI_FILE_OPTIONAL,
    .operands = true,
};

int main(int argc, char **argv)
{
    wb_cli_t *cli = wb_cli_new(&spec);
    char **rest = wb_calloc((size_t)argc + 1, sizeof(char *));
    char *errstr = wb_calloc(1, ERRSZ);
    struct ctl c = {0};
    size_t ci;
    unsigned programs;
    const struct ctl_cmd *cmd = NULL;
    int rc, i, nrest = 0;

    rc = wb_cli_parse(cli, argc, argv);
    if (rc != WB_CLI_RUN)
        goto out;
    rc = CTL_EXIT_USAGE;
    c.json = wb_cli_has(cli, "--json");
    i = wb_cli_operand(cli);
    if (i == argc) {
        fprintf(stderr, "writebackctl: no command given\n");
        usage(stderr);
        goto out;
    }
    for (ci = 0; ci < sizeof(commands) / sizeof(commands[0]); ci++)
        if (strcmp(argv[i], commands[ci]->name) == 0)
            cmd = commands[ci];
    if (!cmd) {
        fprintf(stderr, "writebackctl: unknown command \"%s\"\n", argv[i]);
        usage(stderr);
        goto out;
    }
    /* --json is accepted after the command too; the command does not see it. */
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            c.json = true;
        else
            rest[nrest++] = argv[i];
    }
    if (ctl_wants_help(nrest, rest)) {
        rc = ctl_cmd_run(cmd, &c, nrest, rest);
        goto out;
    }
    c.conf = wb_cli_conf_load(cli, errstr, ERRSZ);
    if (!c.conf)
        goto conf_err;
    /* soa-policy talks to AD only; everything else needs the broker. */
    programs = cmd->kafka || wb_conf_is_set(c.conf, "kafka.bootstrap.servers") ? WB_CONF_CTL : 0;
    if (wb_cli_conf_apply(c.conf, programs, errstr, ERRSZ) != WB_OK)
        goto conf_err;
    rc = ctl_cmd_run(cmd, &c, nrest, rest);
    goto out;
conf_err:
    fprintf(stderr, "writebackctl: %s\n", errstr);
    rc = cmd->usage_exit ? cmd->usage_exit : CTL_EXIT_USAGE;
out:
    wb_conf_destroy(c.conf);
    free(errstr);
    free(rest);
    wb_cli_destroy(cli);
    return rc;
}
