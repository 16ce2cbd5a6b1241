/*
 * wb_emit: the events of one round, group by group (upsert, snapshot chunks, member deltas,
 * delete, unscoped), to Kafka or, in dry-run mode, to a stream as JSON lines. Every event is
 * encoded, cleaned of invalid UTF-8 (U+FFFD) and decoded again with the worker's decoder
 * before it is written: what the decoder refuses is never published. Application thread only.
 *
 * Every wb_emit_* returns WB_OK, WB_ERR_INVALID when an event of the group was refused by the
 * decoder (logged with the group id and the reason, counted in m_rejected; nothing of that
 * event was written, the caller decides what becomes of the group), or the class of a Kafka
 * failure (wb_emit_kafka_failed).
 */
#ifndef WB_EMIT_H
#define WB_EMIT_H

#include "wb_event.h"
#include "wb_idmap.h"
#include "wb_metrics.h"
#include "wb_round.h"
#include "wb_users.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdio.h>

/* Plain state embedded in the producer; every pointer is borrowed. */
struct wb_emitter {
    bool dry_run;
    FILE *out;               /* dry run: where the JSON lines go */
    rd_kafka_t *rk;          /* Kafka mode: the transactional producer */
    const char *topic;       /* topic.events */
    const char *tenant;      /* stamped on every event */
    const wb_users_t *users; /* identities of user members */
    int64_t chunk;           /* producer.member_chunk */
    char round_id[64];       /* the round being emitted (also the snapshot id) */
    char ts[WB_EVENT_TS_SIZE];
    size_t events;                                  /* events of this round so far */
    long long kill_after, produced;                 /* test hook: SIGKILL after that many events */
    wb_metric_t *m_events, *m_dropped, *m_rejected; /* may be NULL */
};

/* An envelope-only event (group.delete, group.unscoped). */
wb_err_t wb_emit_simple(struct wb_emitter *em, const char *gid, enum wb_event_type t);

/* group.upsert with the group's attributes. */
wb_err_t wb_emit_upsert(struct wb_emitter *em, const char *gid, const struct wb_gprops *gp);

/* group.snapshot chunk(s) of the added entries of rg (one empty chunk for no members); nested
 * groups only when in groups_ok. */
wb_err_t wb_emit_snapshot(struct wb_emitter *em, const char *gid, const struct wb_rgroup *rg,
                          const wb_idmap_t *groups_ok);

/* group.members chunks: adds of nested groups in s1, removes of nested groups in both. */
wb_err_t wb_emit_members(struct wb_emitter *em, const char *gid, const struct wb_rgroup *rg,
                         const wb_idmap_t *s1, const wb_idmap_t *both);

/* Counts n events of type t in the events metric. */
void wb_emit_count(struct wb_emitter *em, enum wb_event_type t, double n);

/* The class of a failed produce: WB_ERR_FATAL (logged) when the producer is fenced or dead,
 * else WB_ERR_TRANSIENT. */
wb_err_t wb_emit_kafka_failed(rd_kafka_t *rk, wb_err_t err);

#endif
