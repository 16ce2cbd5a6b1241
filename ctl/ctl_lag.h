/*
 * ctl_lag evaluator: the Burrow-style status of one partition over a sliding window of lag
 * samples, and the group status from the partition statuses. Pure functions (no Kafka), so
 * that tests/unit/0404-ctl-burrow.c can exercise every rule.
 */
#ifndef WB_CTL_LAG_H
#define WB_CTL_LAG_H

#include <stddef.h>
#include <stdint.h>

/* Partition status; the group is OK, WARN or ERR. */
enum ctl_lag_status {
    CTL_LAG_OK,
    CTL_LAG_WARN,
    CTL_LAG_ERR, /* threshold mode only (or the group) */
    CTL_LAG_STOP,
    CTL_LAG_STALL,
    CTL_LAG_REWIND,
};

/* One sample of every partition of the topic. */
struct ctl_lag_sample {
    int64_t t;          /* unix ms */
    int64_t *committed; /* per partition; -1: no committed offset */
    int64_t *lag;       /* per partition: messages not yet consumed */
};

/*
 * The Burrow rules for partition p over the window w[0..n) (oldest first, n >= 1); members
 * is the active member count of the group (-1 unknown). In order: lag 0 in the last sample:
 * OK; a committed offset going backwards: REWIND; no members: STOP; committed offset never
 * moving across a window of two or more samples: STALL; lag never decreasing: WARN; else OK.
 */
enum ctl_lag_status ctl_lag_evaluate(const struct ctl_lag_sample *w, size_t n, int p, int members);

/* Group status of the partition statuses ps[0..n): 0 OK, 1 WARN (some WARN), 2 ERR (some
 * ERR, STOP, STALL or REWIND); these are also lag's exit codes. */
int ctl_lag_group(const enum ctl_lag_status *ps, size_t n);

/* "OK", "WARN", "ERR", "STOP", "STALL", "REWIND"; "UNKNOWN" for anything else. */
const char *ctl_lag_status_name(int status);

#endif
