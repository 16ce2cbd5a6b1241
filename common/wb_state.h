/*
 * wb_state: the reader of the compacted topic.state: the producer's checkpoint (wb_ckpt.h) and
 * the operator commands (wb_command.h). Used by the producer at start and by writebackctl.
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

#endif
