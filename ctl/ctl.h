/*
 * writebackctl's command skeleton. Every command is one struct ctl_cmd: an option table that
 * fills the command's option struct, a run function that fills its result struct, and a text
 * and a JSON renderer of that result; ctl_cmd_run does the parsing, --help, usage errors and
 * the choice of renderer, so a command file holds only its work and its two outputs.
 */
#ifndef WB_CTL_H
#define WB_CTL_H

#include "wb_conf.h"
#include "wb_err.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes (docs/errors.md); lag has its own (see ctl_lag.c). */
#define CTL_EXIT_OK    0
#define CTL_EXIT_FAIL  1
#define CTL_EXIT_USAGE 2

struct ctl {
    wb_conf_t *conf; /* validated for WB_CONF_CTL; NULL while only --help is served */
    bool json;       /* --json: machine output on stdout */
};

/* What an option row does with its value. */
enum ctl_opt_kind {
    CTL_OPT_FLAG,     /* no value: the int field is set to val */
    CTL_OPT_STR,      /* const char * field, borrowed from argv */
    CTL_OPT_I64,      /* int64_t field: a whole decimal integer in [val, max] */
    CTL_OPT_TIME,     /* int64_t field: RFC 3339 (wb_time_parse), unix ms */
    CTL_OPT_DURATION, /* int64_t field: a duration (ctl_parse_duration), ms */
};

/* One row of a command's option table, ended by a row whose name is NULL. Values are given
 * as "--name value" or "--name=value". */
struct ctl_opt {
    const char *name; /* "--topic" */
    enum ctl_opt_kind kind;
    size_t off;  /* offsetof the field in the command's option struct */
    int64_t val; /* FLAG: the value stored; I64: the minimum */
    int64_t max; /* I64: the maximum (0: INT64_MAX) */
    /* Rows with choice != 0 are alternatives: the int field at choice_off receives choice,
     * and giving two of them is a usage error ("give exactly one ..."). */
    int choice;
    size_t choice_off;
};

/* A row for field of the option struct type; extra designators may follow
 * (.val = 1, .max = 100, .choice = M_X, .choice_off = offsetof(type, mode)). */
#define CTL_OPT(n, k, type, field, ...)                                                            \
    {                                                                                              \
        .name = (n), .kind = (k), .off = offsetof(type, field), __VA_ARGS__                        \
    }

/* A command. opts and result are the command's own structs, sized here; the skeleton
 * allocates both (opts copied from defaults), parses, runs, renders and frees. */
struct ctl_cmd {
    const char *name;          /* "lag": the command word and message prefix */
    const char *summary;       /* its line in writebackctl --help */
    bool kafka;                /* needs kafka.bootstrap.servers */
    void (*usage)(FILE *fp);   /* the --help text */
    const char *const *verbs;  /* "list", "show", ... NULL-ended: the first operand must be one
                                * (missing: usage on stderr, exit usage_exit); NULL for none */
    const struct ctl_opt *opt; /* the option table */
    size_t opts_size;
    const void *defaults;    /* the option struct's initial value (opts_size bytes);
                              * NULL: all zero */
    size_t verb_off;         /* with verbs: offsetof an int field receiving the verb's index */
    size_t operands_off;     /* offsetof a const char ** field receiving the other operands
                              * (NULL-ended, borrowed from argv); 0: operands are refused */
    const char *choice_what; /* "position option" in "give exactly one position option" */
    int usage_exit;          /* exit code of a usage error (0: CTL_EXIT_USAGE; lag: 3) */
    size_t result_size;
    /* Does the work; returns the exit code. Sets *render when the result is to be printed
     * (with text or json by --json), also on some failures (provision, soa check). */
    int (*run)(struct ctl *c, const void *opts, void *result, bool *render);
    void (*text)(struct ctl *c, const void *opts, const void *result);
    cJSON *(*json)(struct ctl *c, const void *opts, const void *result); /* caller-owned */
    void (*free)(void *result); /* releases what run put in result; may be NULL */
};

/* Runs cmd with argv[0] = its name: --help/-h anywhere prints the usage on stdout (exit 0),
 * then parses argv[1..) by the option table, runs, renders; returns the exit code. */
int ctl_cmd_run(const struct ctl_cmd *cmd, struct ctl *c, int argc, char **argv);

/* The commands, in writebackctl --help's order (main.c's table). */
extern const struct ctl_cmd ctl_lag_cmd, ctl_replay_cmd, ctl_dlq_cmd, ctl_resync_cmd,
    ctl_deletes_cmd, ctl_provision_cmd, ctl_soa_cmd, ctl_drift_cmd, ctl_notifications_cmd;

/* Produces value under "<tenant>/<suffix>" (*key, caller frees) to topic.state and waits for
 * the broker's ack (dr); a message on stderr when it is not stored (ctl_state.c). */
struct wb_kafka_delivery;
wb_err_t ctl_state_put(struct ctl *c, const char *suffix, const char *value, char **key,
                       struct wb_kafka_delivery *dr);

/* soa-policy check's coverage (ctl_soa_dcs.c): adds "domainControllers" (every DC computer object:
 * name, operatingSystem, operatingSystemVersion, readOnly, canEnforce, note), "writableDCs",
 * "enforcingDCs" and a one-line "summary" to doc; policy_ok says whether the policy object
 * exists with 1..64 resolvable SIDs. -1 (message on stderr) when the search fails. */
struct wb_ldap_s;
int ctl_soa_dcs(struct ctl *c, struct wb_ldap_s *ld, cJSON *doc, bool policy_ok);

/* True when argv[i] is "--help" or "-h" anywhere in argv[1..). */
bool ctl_wants_help(int argc, char **argv);

/* Prints "writebackctl <cmd>: <fmt with arg>" to stderr and returns CTL_EXIT_USAGE. */
int ctl_usage_error(const char *cmd, const char *fmt, const char *arg);

/* Parses a duration "90s", "15m", "2h", "7d", "1h30m", or ISO 8601 "PT15M"/"P1D" into ms;
 * -1 when malformed. */
int64_t ctl_parse_duration(const char *s);

/* Parses "1,3,5" into a set of partitions: want[p] = true. Returns -1 on bad input. */
int ctl_parse_partitions(const char *s, bool *want, int nparts);

/* Sleeps ms milliseconds. */
void ctl_sleep_ms(int64_t ms);

#endif
