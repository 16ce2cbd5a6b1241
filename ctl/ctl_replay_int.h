/*
 * ctl_replay_int.h: what the files of writebackctl replay share: its options, its result,
 * and the two modes run() chooses between: moving the consumer group's offsets
 * (ctl_replay_offsets.c) and re-producing one Entra group's events (ctl_replay_group.c).
 * Not for use outside the command.
 */
#ifndef WB_CTL_REPLAY_INT_H
#define WB_CTL_REPLAY_INT_H

#include "ctl.h"
#include "wb_id.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mode { M_NONE, M_DATETIME, M_DURATION, M_OFFSET, M_SHIFT, M_EARLIEST, M_LATEST, M_FILE };

struct plan_row {
    int32_t partition;
    int64_t current; /* -1: nothing committed */
    int64_t target;
};

struct replay_opts {
    const char *topic, *group, *plist, *export, *file, *gid; /* NULL: not given */
    int mode;                                                /* enum mode */
    int64_t arg; /* --to-datetime, --by-duration (ms), --to-offset, --shift-by */
    int execute, force;
};

/* --group-id: one Entra group's events. */
struct grp_ev {
    int64_t offset, ts;
    char *value;
    size_t len;
    rd_kafka_headers_t *hdrs;
};

struct grp_scan {
    const char *key;
    struct grp_ev *ev;
    size_t n, cap;
    bool too_many;
};

/* The plan (offsets mode) or the group's events (--group-id). */
struct replay_result {
    const char *topic, *group;
    struct plan_row *rows;
    size_t nrows;
    char state[64];
    int members;
    char key[WB_ID_GUID_STR_SIZE]; /* --group-id, lower case */
    int32_t part;
    int64_t start, hi;
    struct grp_scan gs;
};

static inline int64_t clamp(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Offsets for timestamp ts (ms) per wanted partition into out[]; -1 answers (no later event)
 * -> hi (ctl_replay_offsets.c). */
wb_err_t ctl_replay_offsets_for_time(rd_kafka_t *rk, const char *topic, int nparts,
                                     const bool *want, int64_t ts, const int64_t *hi, int64_t *out);

/* A plan as JSON: {"group", "topic", "partitions": [{"partition", "current", "offset"}]}, the
 * format --export writes and --from-file reads (ctl_replay_offsets.c). Caller-owned. */
cJSON *ctl_replay_plan_json(const char *group, const char *topic, const struct plan_row *rows,
                            size_t n);

/* The offsets mode: plans into r->rows, exports, and with --execute moves the group's offsets
 * (ctl_replay_offsets.c). Returns the exit code. */
int ctl_replay_offsets(rd_kafka_t *admin, int nparts, const struct replay_opts *o,
                       struct replay_result *r);

/* --group-id: reads the group's events from the position on into r->gs and, with --execute,
 * produces them again (ctl_replay_group.c). Returns the exit code. */
int ctl_replay_group(struct ctl *c, rd_kafka_t *admin, rd_kafka_t *reader, int nparts,
                     const struct replay_opts *o, struct replay_result *r);

#endif
