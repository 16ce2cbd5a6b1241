/*
 * ctl_drift: writebackctl drift's verbs beyond the break-glass pauses of ctl_drift.c:
 * report (ctl_drift_report.c: the owned groups in AD against Entra now, read-only) and records
 * (ctl_drift_records.c: the workers' drift records in drift.topic). docs/drift.md.
 */
#ifndef WB_CTL_DRIFT_H
#define WB_CTL_DRIFT_H

#include "ctl.h"
#include "ctl_plan.h"
#include "wb_state.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Calls cb for every drift pause in topic.state (ctl_drift.c). CTL_EXIT_OK, or CTL_EXIT_FAIL
 * with "writebackctl drift <verb>: ..." on stderr. */
int ctl_drift_pauses(struct ctl *c, const char *verb, wb_state_pause_cb cb, void *opaque);

/* drift report's exit code when something could not be read (Graph, AD, topic.state). */
#define CTL_DRIFT_REPORT_ERROR 3

/* One group of the report. state: equal, differs, missing_in_ad, would_fail, not_in_entra,
 * out_of_scope, absent (--group: neither in AD nor in Entra), error. */
struct ctl_drift_group {
    char id[37];
    const char *state;
    char *ad_dn;          /* where AD has it (a tombstone's DN when deleted); NULL: not in AD */
    bool tombstone;       /* found only as a deleted object */
    bool elsewhere;       /* found outside ldap.target_ou */
    char *display_name;   /* Entra's */
    char *reason;         /* not_in_entra, out_of_scope, error */
    int64_t paused_until; /* a drift pause running now (unix ms), else 0 */
    struct ctl_plan plan; /* the writes that would make AD equal to Entra */
};

struct ctl_drift_report {
    int64_t now;
    struct ctl_drift_group *v;
    size_t n;
    size_t differing, errors, skipped; /* skipped: anchored elsewhere, not ours */
    double seconds;
};

/* Fills rep for every owned group, or group (lower-case id) alone. Returns 0 (no difference),
 * 1 (differences), CTL_EXIT_USAGE (configuration) or CTL_DRIFT_REPORT_ERROR. */
int ctl_drift_report(struct ctl *c, const char *group, struct ctl_drift_report *rep);
void ctl_drift_report_text(const struct ctl_drift_report *rep);
cJSON *ctl_drift_report_json(const struct ctl_drift_report *rep);
void ctl_drift_report_free(struct ctl_drift_report *rep);
void ctl_drift_group_free(struct ctl_drift_group *g);

/* One record of drift.topic (its JSON, parsed). */
struct ctl_drift_records {
    const char *topic;
    cJSON *list; /* array of the records, oldest first per partition */
};

/* Reads drift.topic from its start (only group's records when group is set). Returns 0, or
 * CTL_EXIT_USAGE (drift.topic empty) or CTL_EXIT_FAIL with a message on stderr. */
int ctl_drift_records(struct ctl *c, const char *group, struct ctl_drift_records *rs);
void ctl_drift_records_text(const struct ctl_drift_records *rs);

#endif
