/*
 * wb_producer: one delta round from Graph to Kafka. Fetches the round, evaluates scope, turns
 * the differences into events (docs/events.md), and writes them with the round's checkpoint in one
 * Kafka transaction (or prints them as JSON lines in dry-run mode). Application thread only.
 */
#ifndef WB_PRODUCER_H
#define WB_PRODUCER_H

#include "wb_conf.h"
#include "wb_err.h"
#include "wb_metrics.h"

#include <stdbool.h>
#include <stdio.h>

typedef struct wb_producer_s wb_producer_t;

/*
 * conf must be validated for WB_CONF_PRODUCER and outlive the producer; metrics (may be NULL)
 * too. dry_run: no Kafka at all, events go to out (borrowed) as one JSON line each. Returns
 * NULL and fills errstr on a bad scope or when libcurl cannot start.
 */
wb_producer_t *wb_producer_new(const wb_conf_t *conf, bool dry_run, FILE *out,
                               wb_metrics_t *metrics, char *errstr, size_t errsz);

void wb_producer_destroy(wb_producer_t *p);

/* Kafka mode: creates missing topics, initialises transactions (fencing an older producer
 * with the same transactional.id and aborting its open transaction) and reads the last
 * committed checkpoint. Dry run: nothing. WB_ERR_TRANSIENT (broker unreachable, retry) or
 * WB_ERR_FATAL. */
wb_err_t wb_producer_start(wb_producer_t *p);

/* One round. WB_OK when committed; WB_ERR_TRANSIENT when abandoned (nothing published, retry
 * later); WB_ERR_FATAL when the process must exit (fenced, bad credentials). */
wb_err_t wb_producer_round(wb_producer_t *p);

/* Rounds failed in a row since the last committed one. reason (may be NULL) receives, when
 * that is not 0, one line saying where the last one failed ("groups delta failed
 * (transient)"; never a link or a secret), borrowed until the next round; else NULL. */
unsigned wb_producer_failed_rounds(const wb_producer_t *p, const char **reason);

#endif
