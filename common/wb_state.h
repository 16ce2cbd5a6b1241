/*
 * wb_state: the reader of the compacted topic.state: the producer's checkpoint (wb_ckpt.h) and
 * the operator commands and drift pauses (wb_command.h). Used by the producer at start, by
 * writebackctl and by the worker's drift watch (pauses only).
 */
#ifndef WB_STATE_H
#define WB_STATE_H

#include "wb_ckpt.h"
#include "wb_command.h"
#include "wb_err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct wb_state_s wb_state_t;

/* A read_committed reader of topic (every partition from the start) for tenant's records.
 * kv: librdkafka settings (kafka.* keys, prefix stripped). NULL and errstr on failure. */
wb_state_t *wb_state_new(const char *const *kv, const char *topic, const char *tenant, char *errstr,
                         size_t errsz);
void wb_state_destroy(wb_state_t *st);

/* Reads what is new, up to the end of every partition or timeout_ms. WB_ERR_TRANSIENT when
 * the end was not reached in time. */
wb_err_t wb_state_poll(wb_state_t *st, int timeout_ms);

/* The latest checkpoint read so far into *c (empty when none). WB_ERR_INVALID when the stored
 * checkpoint is malformed or its parts are missing (logged). */
wb_err_t wb_state_checkpoint(wb_state_t *st, struct wb_ckpt *c);

/* Commands read so far with offset > after, oldest first: *n entries, caller-owned (free each
 * with wb_command_free, then the array). Malformed commands are logged and skipped. */
struct wb_command *wb_state_commands(wb_state_t *st, int64_t after, size_t *n);

/* Keep only drift pauses from now on (the worker, which needs no checkpoint). */
void wb_state_pauses_only(wb_state_t *st);

/* Calls cb once per drift pause read so far (the latest record of each group; until_ms 0 when
 * resumed; expired ones too). group is borrowed for the call. Malformed values are logged and
 * skipped. */
typedef void (*wb_state_pause_cb)(const char *group, int64_t until_ms, void *opaque);
void wb_state_pauses(wb_state_t *st, wb_state_pause_cb cb, void *opaque);

/* Key suffix of the producer's change-notification status (<tenant>/notify: a JSON object
 * written by the producer with notify.enabled, docs/notifications.md). */
#define WB_STATE_NOTIFY "notify"

/* The latest notification status read so far, or NULL (never written, or deleted); *len its
 * length. Borrowed until the next wb_state_poll or wb_state_destroy. */
const char *wb_state_notify(const wb_state_t *st, size_t *len);

#endif
