/*
 * writebackctl internals: the context every subcommand receives (configuration, output mode)
 * and the Kafka helpers they share (partitions, watermarks, committed offsets, group state,
 * reading a partition range, time parsing). One .c file per subcommand family.
 */
#ifndef WB_CTL_H
#define WB_CTL_H

#include "wb_conf.h"
#include "wb_err.h"

#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit codes (docs/errors.md); lag has its own (see lag.c). */
#define CTL_EXIT_OK    0
#define CTL_EXIT_FAIL  1
#define CTL_EXIT_USAGE 2

#define CTL_TIMEOUT_MS 15000

struct ctl {
    wb_conf_t *conf; /* validated for WB_CONF_CTL */
    bool json;       /* --json: machine output on stdout */
};

/* Subcommands: argv[0] is the subcommand name; they return an exit code. */
int ctl_lag(struct ctl *c, int argc, char **argv);
int ctl_replay(struct ctl *c, int argc, char **argv);
int ctl_dlq(struct ctl *c, int argc, char **argv);
int ctl_resync(struct ctl *c, int argc, char **argv);
int ctl_deletes(struct ctl *c, int argc, char **argv);
int ctl_soa(struct ctl *c, int argc, char **argv);
int ctl_provision(struct ctl *c, int argc, char **argv);
int ctl_drift(struct ctl *c, int argc, char **argv);

/* soa-policy check's coverage (soa_dcs.c): adds "domainControllers" (every DC computer object:
 * name, operatingSystem, operatingSystemVersion, readOnly, canEnforce, note), "writableDCs",
 * "enforcingDCs" and a one-line "summary" to doc; policy_ok says whether the policy object
 * exists with 1..64 resolvable SIDs. -1 (message on stderr) when the search fails. */
struct wb_ldap_s;
int ctl_soa_dcs(struct ctl *c, struct wb_ldap_s *ld, cJSON *doc, bool policy_ok);

/* Produces value under "<tenant>/<suffix>" to topic.state and waits for the broker's ack;
 * prints what was stored unless --json. */
wb_err_t ctl_state_put(struct ctl *c, const char *suffix, const char *value);

/* True when argv[i] is "--help" or "-h" anywhere in argv[1..). */
bool ctl_wants_help(int argc, char **argv);

/* Prints a cJSON document to stdout (pretty) and deletes it. */
void ctl_print_json(cJSON *doc);

/* A handle of type built from the kafka.* settings plus extra kv pairs (may be NULL); the
 * consumer is never subscribed, only assigned. NULL and a message on stderr on failure. */
rd_kafka_t *ctl_kafka_new(struct ctl *c, rd_kafka_type_t type, const char *const *extra);

/* The partition count of topic, or -1 (message on stderr) when it does not exist. */
int ctl_partitions(rd_kafka_t *rk, const char *topic);

/* Committed offsets of group for the partitions in parts (offsets filled in place;
 * RD_KAFKA_OFFSET_INVALID when none). Uses the admin API. */
wb_err_t ctl_committed(rd_kafka_t *rk, const char *group, rd_kafka_topic_partition_list_t *parts);

/* State name and active member count of group; *members -1 when unknown. */
wb_err_t ctl_group_state(rd_kafka_t *rk, const char *group, char *state, size_t statesz,
                         int *members);

/* Low and high watermarks. */
wb_err_t ctl_watermarks(rd_kafka_t *rk, const char *topic, int32_t part, int64_t *lo, int64_t *hi);

/* Per message callback of ctl_scan; return non-zero to stop. */
typedef int (*ctl_scan_cb)(const rd_kafka_message_t *m, void *opaque);

/* Reads every message of topic in partitions [from[p], to[p]) for p in 0..nparts (entries
 * with from >= to are skipped) with a consumer handle rk (no group commits), calling cb.
 * WB_ERR_TRANSIENT when the range was not read within timeout_ms. */
wb_err_t ctl_scan(rd_kafka_t *rk, const char *topic, int nparts, const int64_t *from,
                  const int64_t *to, int timeout_ms, ctl_scan_cb cb, void *opaque);

/* Parses RFC 3339 ("2024-05-01T12:00:00Z", ".123", "+02:00" offsets; a date alone is
 * midnight UTC) into unix ms; -1 when malformed. */
int64_t ctl_parse_time(const char *s);

/* Parses a duration "90s", "15m", "2h", "7d", "1h30m", or ISO 8601 "PT15M"/"P1D" into ms;
 * -1 when malformed. */
int64_t ctl_parse_duration(const char *s);

/* Current time in unix ms. */
int64_t ctl_now_ms(void);

/* Value of header name of m as a NUL-terminated caller-owned string, or NULL. */
char *ctl_header(const rd_kafka_message_t *m, const char *name);

/* Parses "1,3,5" into a sorted set of partitions: want[p] = true. Returns -1 on bad input. */
int ctl_parse_partitions(const char *s, bool *want, int nparts);

/* Option matcher: true when argv[*i] is name, as "name value" (then *i is advanced) or
 * "name=value"; *val is the value, or NULL when it is missing. */
bool ctl_opt(int argc, char **argv, int *i, const char *name, const char **val);

/* Prints "writebackctl <cmd>: <fmt with arg>" to stderr and returns CTL_EXIT_USAGE. */
int ctl_usage_error(const char *cmd, const char *fmt, const char *arg);

/* Whole-string decimal integer. */
bool ctl_parse_i64(const char *s, int64_t *out);

#endif
