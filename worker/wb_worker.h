/*
 * wb_worker: the writeback-worker process: the consumer-group loop, one wb_batch per turn
 * (poll → decode → coalesce → apply → dead letters → store offsets, with pauses and seeks
 * kept per partition in wb_part), AD reconnects with backoff, metrics and health. One thread.
 */
#ifndef WB_WORKER_H
#define WB_WORKER_H

#include "wb_conf.h"
#include "wb_metrics.h"

#include <stddef.h>

typedef struct wb_worker_s wb_worker_t;

/*
 * Builds a worker from a validated configuration (borrowed; must outlive the worker): binds
 * to AD (checking ldap.target_ou exists), creates the consumer (subscribed to topic.events),
 * the dead-letter producer and, unless worker.metrics_listen is empty, the HTTP endpoint.
 * Returns NULL with a message naming the key to fix in errstr.
 */
wb_worker_t *wb_worker_new(const wb_conf_t *conf, char *errstr, size_t errsz);

/* Runs until a stop is requested (wb_signal) or a fatal error. Returns the process exit code:
 * 0 after a clean stop (offsets committed), 1 on a fatal runtime failure. */
int wb_worker_run(wb_worker_t *wk);

/* Closes the consumer (committing stored offsets), flushes and frees. NULL does nothing. */
void wb_worker_destroy(wb_worker_t *wk);

/* The worker's metrics registry (for tests). */
wb_metrics_t *wb_worker_metrics(wb_worker_t *wk);

#endif
