/*
 * wb_producer_int.h: what the files of the wb_producer module share: the producer's struct, a
 * round's plan, and the steps one file runs for another. wb_producer.c creates the producer
 * and runs the round (wb_producer_round); wb_producer_kafka.c is the Kafka side (topics,
 * transactions, the state topic's checkpoint and operator commands); wb_producer_plan.c plans
 * the round (scope, the differences to the checkpoint, nested groups); wb_producer_members.c
 * reads the member lists and users the plan still needs and follows identity changes;
 * wb_producer_emit.c emits the planned events. Not for use outside the module.
 */
#ifndef WB_PRODUCER_INT_H
#define WB_PRODUCER_INT_H

#include "wb_producer.h"

#include "wb_ckpt.h"
#include "wb_delta.h"
#include "wb_emit.h"
#include "wb_graph.h"
#include "wb_idmap.h"
#include "wb_kafka.h"
#include "wb_round.h"
#include "wb_scope.h"
#include "wb_state.h"
#include "wb_users.h"

#include <stdint.h>
#include <sys/time.h>

#define TXN_TIMEOUT_MS 120000

struct wb_producer_s {
    const wb_conf_t *conf;
    bool dry_run;
    FILE *out;
    const char *tenant, *topic_events, *topic_state, *topic_dlq;
    char *txn_id;
    int64_t threshold, chunk, moves_max;
    int max_retries;
    wb_graph_t *g;
    wb_users_t *users;
    wb_delta_t *gdelta; /* the groups delta; its link mirrors ck.delta_link */
    wb_scope_t *scope;
    char *initial_url;
    rd_kafka_t *rk;
    wb_state_t *st;
    struct wb_ckpt ck;
    wb_idmap_t *hashes;   /* group id -> (void *)props hash of the last upsert */
    struct wb_emitter em; /* the round being emitted */
    /* rounds failed in a row, and why the last one failed (one line, no link or token) */
    unsigned failed;
    char fail_stage[32];
    const char *fail_err; /* wb_err_name of the last failure */
    /* identity changes made while the producer was down cannot be followed (the checkpoint has
     * no users deltaLink, or it was dead): rounds are full until one commits */
    bool blind;
    char fail_reason[160];
    /* metrics */
    wb_metric_t *m_rounds, *m_pages, *m_last_ok, *m_in_scope, *m_staged, *m_round_s, *m_users;
    wb_metric_t *m_failed, *m_failure, *m_moves;
};

struct plan {
    struct wb_round r;
    wb_idmap_t *s1;      /* in scope after the round */
    wb_idmap_t *both;    /* S0 | S1, for member removals of nested groups */
    wb_idmap_t *snap;    /* groups that get upsert + snapshot */
    wb_idmap_t *resnap;  /* groups in scope sent whole (wb_producer_members.c) */
    wb_idmap_t *upsert;  /* groups (already in scope) whose properties changed */
    wb_idmap_t *gone;    /* deletion candidates: id -> WB_CKPT_STAGED_* */
    wb_idmap_t *staged;  /* staged after the round */
    wb_idmap_t *release; /* staged deletions released now: id -> kind */
    wb_idmap_t *refused; /* groups with an event the decoder refused (NULL: none) */
    bool resync_cmd, allow_all;
    wb_idmap_t *allow;
    int64_t cmd_offset;
};

static inline long long now_ms(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* wb_producer_kafka.c */

/* The operator commands of the state topic after the checkpoint's command offset, into pl
 * (resync, allowed deletions, the new offset). Dry run: none. */
void wb_producer_read_commands(wb_producer_t *p, struct plan *pl);

/* Commits p->ck at once after a delta's link was found dead; which names the delta in the
 * log. */
void wb_producer_persist_reset(wb_producer_t *p, const char *which);

/* The round's events and checkpoint nc in one transaction (dry run: to the output stream).
 * *txn_open: a transaction is open, which the caller aborts with wb_producer_abort. */
wb_err_t wb_producer_publish(wb_producer_t *p, struct plan *pl, const struct wb_ckpt *nc,
                             bool *txn_open);

/* Aborts the round's open transaction: WB_OK, or the class of the failure (WB_ERR_FATAL: the
 * process must exit). */
wb_err_t wb_producer_abort(wb_producer_t *p);

/* wb_producer_plan.c */

void wb_producer_plan_free(struct plan *pl);

/* Fetches and plans the round: the groups delta, the memberOf lookups of users whose identity
 * changed, the member lists and user lookups it still needs, the nested-group state of nc.
 * *stage names the step that failed. */
wb_err_t wb_producer_gather(wb_producer_t *p, struct plan *pl, bool full, struct wb_ckpt *nc,
                            const char **stage);

/* wb_producer_members.c */

/* The round's group in pl->r for id, created without properties when the round did not carry
 * it. */
struct wb_rgroup *wb_producer_round_group(struct plan *pl, const struct wb_idkey *id);

/* Member changes of the groups in scope that hold a user whose on-premises identity changed
 * (incremental rounds). */
wb_err_t wb_producer_follow_moves(wb_producer_t *p, struct plan *pl);

/* Member lists of groups entering scope incrementally; unknown users. */
wb_err_t wb_producer_complete(wb_producer_t *p, struct plan *pl);

/* wb_producer_emit.c */

/* The round's events, group properties and deletions first, then member lists. */
wb_err_t wb_producer_emit_round(wb_producer_t *p, struct plan *pl);

/* Whether one of the group's events was refused this round. */
bool wb_producer_refused(const struct plan *pl, const struct wb_idkey *k);

#endif
