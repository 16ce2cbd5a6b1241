/*
 * wb_notify: what makes the producer start a delta round before its poll interval ends. Reads
 * Graph's change notifications from the Event Hub's Kafka endpoint (SASL_SSL, PLAIN with the
 * connection string), keeps only those carrying our clientState, and turns them into a trigger:
 * notifications never carry data into a round, they only start one (docs/notifications.md).
 * Keeps the subscription alive (wb_subscr), handles lifecycle notifications, exports metrics and
 * publishes its status under <tenant>/notify in topic.state for writebackctl. Application
 * thread only.
 */
#ifndef WB_NOTIFY_H
#define WB_NOTIFY_H

#include "wb_conf.h"
#include "wb_http.h"
#include "wb_metrics.h"

#include <stdint.h>

typedef struct wb_notify_s wb_notify_t;

/* Why wb_notify_wait returned. */
enum wb_notify_trigger {
    WB_NOTIFY_POLL,      /* the poll interval ran out */
    WB_NOTIFY_CHANGE,    /* a change notification */
    WB_NOTIFY_LIFECYCLE, /* missed, subscriptionRemoved, reauthorizationRequired, or a new
                          * subscription replaced a lost one: changes may have gone unseen */
    WB_NOTIFY_STOP,      /* a stop was requested */
};

/* conf validated for the producer with notify.enabled=true (borrowed for the handle's life);
 * metrics may be NULL. NULL and errstr when a notify.* key is missing or inconsistent, or when
 * a Kafka client cannot be made. */
wb_notify_t *wb_notify_new(const wb_conf_t *conf, wb_metrics_t *metrics, char *errstr,
                           size_t errsz);
void wb_notify_destroy(wb_notify_t *n);

/* Makes sure the subscription exists and subscribes to the hubs; call once before the first
 * delta round so that no change falls between that round and the first notification. A Graph
 * failure is logged and retried later, never fatal: the poll still runs rounds. */
void wb_notify_start(wb_notify_t *n);

/* Waits up to ms (the poll interval) for a reason to run a round, keeping http (may be NULL)
 * alive and the subscription renewed meanwhile. Notifications that arrived during the last
 * round are read first, so however many came they queue exactly one more round; a burst is
 * gathered for notify.coalesce_ms before returning. Counts the round that follows. */
enum wb_notify_trigger wb_notify_wait(wb_notify_t *n, int64_t ms, wb_http_t *http);

#endif
