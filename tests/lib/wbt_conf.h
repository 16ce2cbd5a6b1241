/*
 * wbt_conf: a program's configuration for a test, built from key/value tables and validated
 * as the program would: the worker's on the test services.
 */
#ifndef WBT_CONF_H
#define WBT_CONF_H

#include "wb_conf.h"

/* A worker's configuration on the test broker and DC: topic.events, topic.dlq,
 * ldap.target_ou and worker.group_id as given, retries 100-300 ms apart, no metrics listener,
 * a 6 s Kafka session; then the keys of extra ({NULL, NULL} ends it; may be NULL) on top.
 * A refused key or a failed validation fails the test (cmocka). Caller destroys. */
wb_conf_t *wbt_conf_worker(const char *topic, const char *dlq, const char *target_ou,
                           const char *group, const char *const (*extra)[2]);

#endif
