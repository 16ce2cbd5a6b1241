/*
 * wb_batch_int.h: what the files of the wb_batch module share: the batch's struct and its
 * messages, and the steps of one batch that wb_batch.c runs in turn: collecting
 * (wb_batch_collect.c), applying the plan (wb_batch_apply.c) and dead letters
 * (wb_batch_dlq.c). Not for use outside the module.
 */
#ifndef WB_BATCH_INT_H
#define WB_BATCH_INT_H

#include "wb_batch.h"
#include "wb_event.h"

#include <stdbool.h>

#define FAC "WORKER"

/* Groups whose own upsert this worker dead-lettered lately (kept so that their later member
 * events, which cannot succeed by waiting, are dead-lettered without the dependency wait). */
#define GONE_MAX 1024

/* One message of a batch. */
struct bmsg {
    rd_kafka_message_t *rkm;
    struct wb_event ev;
    bool ok; /* decoded */
    char reason[256];
    bool done;  /* applied, skipped or dead-lettered */
    bool carry; /* not applied: kept for the next batch (wb_batch_s.carry) */
};

struct wb_batch_s {
    struct wb_batch_cfg cfg;
    struct bmsg *bm; /* batch_max */
    size_t n;
    bool fatal;
    /* Messages of partitions whose batch time ran out, in consumption order, kept for the
     * next batch rather than fetched again: a seek would drop what librdkafka has fetched
     * and the next batch would wait for it anew (about a second each time, measured). */
    rd_kafka_message_t **carry;
    size_t ncarry;
    /* Partitions revoked while wb_batch_collect() polls, with how many messages the batch held
     * then. */
    struct revoked {
        int32_t partition;
        size_t before;
    } * revoked;
    size_t nrevoked;
    bool collecting;
    char *gone[GONE_MAX]; /* ring of group ids (see GONE_MAX) */
    size_t ngone, gone_next;
};

/* Collects the batch into b->bm[0..b->n): what the last batch carried first, then polled
 * messages, decoded; the messages of partitions revoked meanwhile are dropped
 * (wb_batch_collect.c). */
void wb_batch_collect(wb_batch_t *b);

/* Frees the batch's messages but those marked carry, which go to the front of b->carry, and
 * empties the batch (wb_batch_collect.c). */
void wb_batch_carry_over(wb_batch_t *b);

/* Applies every group of plan, in plan order, in two passes (the groups whose dependency was
 * missing come again after the rest); each partition's stop and why are set in b->cfg.pt
 * (wb_batch_apply.c). */
void wb_batch_apply(wb_batch_t *b, wb_plan_t *plan);

/* Dead-letters bm with the dead-letter headers (wb_batch_dlq.c); counts it done when the
 * broker accepted it. Returns WB_OK or the class of the failure to send. */
wb_err_t wb_batch_dlq_send(wb_batch_t *b, struct bmsg *bm, const char *reason, wb_err_t cls,
                           int ldap_rc, const char *ldap_msg, const char *matched,
                           unsigned attempts);

/* Dead-letters the undecodable messages before their partition's stop (wb_batch_dlq.c). */
void wb_batch_dlq_poison(wb_batch_t *b);

#endif
