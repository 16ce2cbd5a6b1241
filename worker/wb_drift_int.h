/*
 * wb_drift_int: private to the wb_drift*.c files: the watch's state and the steps its parts
 * share. wb_drift.c holds the baselines and the rounds, wb_drift_scan.c the LDAP searches of a
 * round, wb_drift_check.c the comparison, pauses and repair of one group, wb_drift_report.c
 * the DRIFT lines and wb_drift_records.c the optional Kafka topic of drift records. Nothing
 * else includes it.
 */
#ifndef WB_DRIFT_INT_H
#define WB_DRIFT_INT_H

#include "wb_drift.h"

#include "wb_gstate.h"

#include "wb_id.h"
#include "wb_idmap.h"
#include "wb_ldap.h"
#include "wb_state.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

#define WB_DRIFT_FAC "DRIFT"

enum wb_drift_mode { WB_DRIFT_OFF, WB_DRIFT_AUDIT, WB_DRIFT_REPAIR };

/* One watched group: its baseline (AD as writeback last left it). */
struct wb_drift_grp {
    char id[WB_ID_GUID_STR_SIZE];
    int32_t partition;
    bool stale; /* queued for a new baseline */
    bool have;  /* base holds a baseline */
    struct wb_gstate base;
};

struct wb_drift_s {
    const wb_conf_t *conf;
    enum wb_drift_mode mode;
    int64_t interval_ms;
    const char *base_dn, *target_ou, *topic;
    wb_ldap_t *ld;
    bool connected;
    wb_metric_t *m_drift, *m_repair, *m_groups;

    rd_kafka_t *rk; /* the consumer, borrowed */
    rd_kafka_topic_t *rkt;
    int32_t nparts; /* partitions of topic.events; 0 = not known yet */
    bool *owned;
    size_t nowned;
    bool need_enum; /* list AD's anchored groups for newly assigned partitions */

    wb_idmap_t *groups; /* Entra id -> struct wb_drift_grp */
    char (*stale)[WB_ID_GUID_STR_SIZE];
    size_t nstale, capstale;

    int64_t watermark; /* 0: none yet (take one at the next round) */
    int64_t next_ms;
    wb_state_t *st;     /* topic.state reader of drift pauses; NULL until needed */
    wb_idmap_t *paused; /* group -> int64_t * until (unix ms) */
    bool pauses_read;   /* this round */
    unsigned char inv_cache[16];
    char *inv_name; /* DC name of inv_cache */

    struct wb_drift_records *rec; /* drift.topic's producer; NULL when drift.topic is empty */
};

/* wb_drift.c: the baselines. */
struct wb_drift_grp *wb_drift_grp_find(const wb_drift_t *dr, const char *id);
struct wb_drift_grp *wb_drift_grp_get(wb_drift_t *dr, const char *id, int32_t partition);
void wb_drift_grp_forget(wb_drift_t *dr, const char *id);
void wb_drift_stale_push(wb_drift_t *dr, struct wb_drift_grp *g);
bool wb_drift_is_owned(const wb_drift_t *dr, int32_t p);
/* Disconnects when the last LDAP failure lost the connection (logged). */
void wb_drift_lost_connection(wb_drift_t *dr);

/* wb_drift_scan.c: the searches of a round. */
bool wb_drift_scan_partition_count(wb_drift_t *dr);
wb_err_t wb_drift_scan_enumerate(wb_drift_t *dr);
wb_err_t wb_drift_scan_root_usn(wb_drift_t *dr, int64_t *usn);
/* The ids of baselined groups whose uSNChanged moved past the baseline's (caller frees *ids). */
wb_err_t wb_drift_scan_changed(wb_drift_t *dr, char (**ids)[WB_ID_GUID_STR_SIZE], size_t *n);
/* Group tombstones changed since the watermark, matched to baselines: wb_drift_check_deleted. */
wb_err_t wb_drift_scan_tombstones(wb_drift_t *dr);

/* wb_drift_check.c: one group. */
wb_err_t wb_drift_check_read(wb_drift_t *dr, const char *id, struct wb_gstate *s, bool *found);
/* Takes cur as g's new baseline (cur is emptied). */
void wb_drift_check_adopt(struct wb_drift_grp *g, struct wb_gstate *cur);
bool wb_drift_check_repairs(wb_drift_t *dr, const struct wb_drift_grp *g);
void wb_drift_check_group(wb_drift_t *dr, struct wb_drift_grp *g);
void wb_drift_check_deleted(wb_drift_t *dr, struct wb_drift_grp *g, const char *tomb_dn,
                            const char *when);

/* One drift: the fields of a DRIFT line and of a drift record (all borrowed). */
struct wb_drift_line {
    const char *group;
    int32_t partition;
    const char *dn, *kind, *attr, *added, *removed, *new_dn, *dc, *when, *action;
};

/* wb_drift_report.c: the DRIFT lines (and records). ln->group, partition and action are
 * filled from g here. */
void wb_drift_report_one(wb_drift_t *dr, const struct wb_drift_grp *g, struct wb_drift_line *ln);
void wb_drift_report_diff(wb_drift_t *dr, const struct wb_drift_grp *g, const struct wb_gstate *cur,
                          const struct wb_gdiff *d);

/* wb_drift_records.c: drift.topic. One JSON record per drift, keyed by the group id. */
struct wb_drift_records;
/* NULL when drift.topic is empty, or (errstr set) when its producer cannot be made. */
struct wb_drift_records *wb_drift_records_new(const wb_conf_t *conf, wb_metrics_t *reg,
                                              char *errstr, size_t errsz);
void wb_drift_records_put(struct wb_drift_records *rc, const struct wb_drift_line *ln);
/* Serves delivery reports (counts failures); once per round. */
void wb_drift_records_poll(struct wb_drift_records *rc);
/* Waits up to 5 s for undelivered records, then frees. NULL does nothing. */
void wb_drift_records_destroy(struct wb_drift_records *rc);

#endif
