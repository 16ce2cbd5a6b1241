/*
 * wb_command: the operator commands in topic.state, the contract between writebackctl, which
 * writes them, and the producer, which applies each once (see producer/ckpt.h for the topic).
 * Key "<tenant>/command", value JSON:
 *   {"v":1,"resync":true}                      a full resync at the next round;
 *   {"v":1,"allowDeletes":["id",...]}          releases these staged deletes (and unscoped);
 *   {"v":1,"allowDeletes":"all"}               releases all of them.
 * Drift pauses (docs/drift.md), one key per group so that compaction keeps each:
 * key "<tenant>/drift-pause/<group id>", value {"v":1,"until":<unix ms>} (0: resumed); workers
 * still report a paused group's drift but do not repair it until then.
 */
#ifndef WB_COMMAND_H
#define WB_COMMAND_H

#include "wb_err.h"
#include "wb_idmap.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An operator command. */
struct wb_command {
    int64_t offset;
    bool resync;
    bool allow_all;
    wb_idmap_t *allow; /* NULL or ids whose staged deletes are released */
};

/* Parses a command value; WB_ERR_INVALID with reason when malformed. */
wb_err_t wb_command_decode(struct wb_command *cmd, const char *json, size_t len, char *reason,
                           size_t reasonsz);
void wb_command_free(struct wb_command *cmd);

/* The value of a resync command. Caller frees. */
char *wb_command_encode_resync(void);

/* The value of an allowDeletes command: ids[0..n) in this order, or "all" when ids is NULL.
 * Caller frees. */
char *wb_command_encode_allow(const struct wb_idkey *ids, size_t n);

/* The key suffix of drift pauses, after "<tenant>/"; the group id follows. */
#define WB_COMMAND_PAUSE_PREFIX "drift-pause/"

/* The value of a drift pause until until_ms (unix ms; 0 resumes). Caller frees. */
char *wb_command_encode_pause(int64_t until_ms);

/* Parses a drift pause value into *until_ms; WB_ERR_INVALID with reason when malformed. */
wb_err_t wb_command_decode_pause(const char *json, size_t len, int64_t *until_ms, char *reason,
                                 size_t reasonsz);

#endif
