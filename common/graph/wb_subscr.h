/*
 * wb_subscr: the Microsoft Graph subscription that sends change notifications for /groups to an
 * Azure Event Hub (docs/notifications.md). Finds ours among the app's subscriptions (by its
 * EventHub: notificationUrl), creates it, renews it before it expires, creates it again when
 * Graph no longer knows it, and deletes it. Graph only, no Kafka. Part of libwbproducer's public
 * interface: the producer keeps the subscription alive, writebackctl notifications unsubscribe
 * deletes it. Application thread only.
 */
#ifndef WB_SUBSCR_H
#define WB_SUBSCR_H

#include "wb_conf.h"
#include "wb_err.h"
#include "wb_metrics.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wb_subscr_s wb_subscr_t;

/*
 * From the graph.* and notify.* keys of conf (validated; borrowed for the handle's life).
 * client_state (may be NULL: the handle can then list and delete but not create) is copied
 * and never logged. metrics may be NULL. Returns NULL and fills errstr when notify.namespace is
 * missing or libcurl cannot start.
 */
wb_subscr_t *wb_subscr_new(const wb_conf_t *conf, const char *client_state, wb_metrics_t *metrics,
                           char *errstr, size_t errsz);
void wb_subscr_destroy(wb_subscr_t *s);

/*
 * Makes sure a live subscription exists: adopts ours when none is held yet (the newest one
 * with our notificationUrl; other copies are deleted), creates one when there is none, renews
 * it when less than notify.renew_before_minutes remain (or always with force_renew: a
 * reauthorizationRequired notification), and with check reads it back and creates it again
 * when Graph answers 404. *created (may be NULL) is set when a new subscription replaced a lost
 * one, so notifications may have been missed. WB_OK, or the Graph client's error class (logged
 * there and here with what to do).
 */
wb_err_t wb_subscr_ensure(wb_subscr_t *s, bool check, bool force_renew, bool *created);

/* Forgets the held subscription, so the next wb_subscr_ensure finds or creates one (a
 * subscriptionRemoved notification for it). */
void wb_subscr_forget(wb_subscr_t *s, const char *id);

/* The held subscription's id ("" when none) and expiry in unix ms (0 when none). Borrowed. */
const char *wb_subscr_id(const wb_subscr_t *s);
int64_t wb_subscr_expiry_ms(const wb_subscr_t *s);

/* The notificationUrl and lifecycleNotificationUrl this configuration uses. Borrowed. */
const char *wb_subscr_url(const wb_subscr_t *s);
const char *wb_subscr_lifecycle_url(const wb_subscr_t *s);

/* Deletes every subscription of this app whose notificationUrl is ours; their ids (caller-owned
 * array of caller-owned strings, *n of them) in *ids (may be NULL). */
wb_err_t wb_subscr_delete_all(wb_subscr_t *s, char ***ids, size_t *n);

/* Graph requests made by this handle's client (tests, benchmarks). */
unsigned long wb_subscr_requests(const wb_subscr_t *s);

#endif
