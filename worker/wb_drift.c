/*
 * wb_drift: the watch for out-of-band changes to the groups this worker owns. Each poll reads
 * the rootDSE's highestCommittedUSN, refreshes the baselines of groups the consumer wrote, asks
 * for our anchored groups and group tombstones with uSNChanged above the last watermark, and
 * compares each changed group with its baseline; differences are logged (DRIFT lines), counted
 * and, with drift.mode=repair, written back. This file holds the baselines and the rounds; the
 * searches are in wb_drift_scan.c, one group's check and repair in wb_drift_check.c, the DRIFT
 * lines in wb_drift_report.c, drift.topic in wb_drift_records.c. Design and limits:
 * docs/drift.md.
 */
#include "wb_drift_int.h"

#include "wb_log.h"
#include "wb_mem.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FAC WB_DRIFT_FAC

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void grp_free(void *p)
{
    struct wb_drift_grp *g = p;

    if (!g)
        return;
    wb_gstate_free(&g->base);
    free(g);
}

struct wb_drift_grp *wb_drift_grp_find(const wb_drift_t *dr, const char *id)
{
    struct wb_idkey k;
    void **slot;

    if (!wb_idkey_parse(id, &k))
        return NULL;
    slot = wb_idmap_get(dr->groups, &k);
    return slot ? *slot : NULL;
}

void wb_drift_grp_forget(wb_drift_t *dr, const char *id)
{
    struct wb_idkey k;

    if (wb_idkey_parse(id, &k))
        grp_free(wb_idmap_del(dr->groups, &k));
}

void wb_drift_stale_push(wb_drift_t *dr, struct wb_drift_grp *g)
{
    if (g->stale)
        return;
    g->stale = true;
    if (dr->nstale == dr->capstale) {
        dr->capstale = dr->capstale ? 2 * dr->capstale : 64;
        dr->stale = wb_realloc(dr->stale, dr->capstale * sizeof(*dr->stale));
    }
    memcpy(dr->stale[dr->nstale++], g->id, WB_ID_GUID_STR_SIZE);
}

/* The group of id (lower-case GUID string), created (and queued for a baseline) if absent. */
struct wb_drift_grp *wb_drift_grp_get(wb_drift_t *dr, const char *id, int32_t partition)
{
    struct wb_idkey k;
    struct wb_drift_grp *g;
    void **slot;
    bool created;

    if (!wb_idkey_parse(id, &k))
        return NULL;
    slot = wb_idmap_put(dr->groups, &k, &created);
    if (!created)
        return *slot;
    g = wb_calloc(1, sizeof(*g));
    wb_idkey_format(&k, g->id);
    g->partition = partition;
    *slot = g;
    wb_drift_stale_push(dr, g);
    return g;
}

bool wb_drift_is_owned(const wb_drift_t *dr, int32_t p)
{
    return p >= 0 && (size_t)p < dr->nowned && dr->owned[p];
}

void wb_drift_lost_connection(wb_drift_t *dr)
{
    if (dr->connected && wb_ldap_conn_gone(wb_ldap_last_rc(dr->ld))) {
        wb_log(LOG_WARNING, FAC, "connection to AD lost (%s); the watch resumes after a reconnect",
               wb_ldap_last_error(dr->ld));
        wb_ldap_disconnect(dr->ld);
        dr->connected = false;
    }
}

static void gauge(wb_drift_t *dr)
{
    wb_metrics_set(dr->m_groups, NULL, (double)wb_idmap_count(dr->groups));
}

/* (Re)connects when needed; a new connection may be another DC, whose USNs are its own, so
 * the watermark starts again and every baseline is read again. Returns whether connected. */
static bool connect_watch(wb_drift_t *dr)
{
    size_t pos = 0;
    void *val;

    if (dr->connected)
        return true;
    if (wb_ldap_reconnect(dr->ld) != WB_OK)
        return false;
    dr->connected = true;
    dr->watermark = 0;
    while (wb_idmap_next(dr->groups, &pos, NULL, &val))
        if (val)
            wb_drift_stale_push(dr, val);
    return true;
}

/* Reads the baselines queued (stale) until deadline. Returns false when LDAP failed. */
static bool refresh_baselines(wb_drift_t *dr, int64_t deadline)
{
    while (dr->nstale > 0 && mono_ms() < deadline) {
        char id[WB_ID_GUID_STR_SIZE];
        struct wb_drift_grp *g;
        struct wb_gstate cur;
        bool found;

        memcpy(id, dr->stale[--dr->nstale], sizeof(id));
        g = wb_drift_grp_find(dr, id);
        if (!g)
            continue;
        g->stale = false;
        if (wb_drift_check_read(dr, id, &cur, &found) != WB_OK) {
            wb_drift_stale_push(dr, g);
            return false;
        }
        if (found)
            wb_drift_check_adopt(g, &cur);
        else
            wb_drift_grp_forget(dr, id);
    }
    return true;
}

/* The changes since the watermark: changed groups, then tombstones. Returns whether all were
 * looked at (then the watermark may move to high). */
static bool look_for_changes(wb_drift_t *dr, int64_t deadline)
{
    char(*ids)[WB_ID_GUID_STR_SIZE] = NULL;
    size_t i, n = 0;
    bool done = false;

    if (wb_drift_scan_changed(dr, &ids, &n) != WB_OK) {
        wb_drift_lost_connection(dr);
        goto out;
    }
    for (i = 0; i < n; i++) {
        struct wb_drift_grp *g = wb_drift_grp_find(dr, ids[i]);

        if (mono_ms() >= deadline)
            goto out; /* the watermark stays: the rest is found again next round */
        if (g)
            wb_drift_check_group(dr, g);
        if (!dr->connected)
            goto out;
    }
    done = wb_drift_scan_tombstones(dr) == WB_OK;
out:
    free(ids);
    return done;
}

void wb_drift_poll(wb_drift_t *dr, int64_t budget_ms)
{
    int64_t now, deadline, high = 0;

    if (!dr || dr->mode == WB_DRIFT_OFF)
        return;
    wb_drift_records_poll(dr->rec);
    now = mono_ms();
    if (now < dr->next_ms)
        return;
    dr->next_ms = now + dr->interval_ms;
    dr->pauses_read = false;
    deadline = now + budget_ms;
    if (!connect_watch(dr))
        return;
    if (dr->need_enum && wb_drift_scan_partition_count(dr)) {
        if (wb_drift_scan_enumerate(dr) != WB_OK) {
            wb_drift_lost_connection(dr);
            return;
        }
        dr->need_enum = false;
    }
    if (wb_drift_scan_root_usn(dr, &high) != WB_OK) {
        wb_drift_lost_connection(dr);
        return;
    }
    if (!refresh_baselines(dr, deadline) || dr->nstale > 0) {
        gauge(dr);
        return; /* the rest next round; the watermark stays */
    }
    gauge(dr);
    if (dr->watermark == 0) {
        dr->watermark = high;
        return;
    }
    if (look_for_changes(dr, deadline))
        dr->watermark = high;
    gauge(dr);
}

/* ------------------------------------------------------------------ the consumer's calls */

void wb_drift_written(wb_drift_t *dr, const char *group, int32_t partition)
{
    struct wb_drift_grp *g;

    if (!dr || dr->mode == WB_DRIFT_OFF || !group)
        return;
    g = wb_drift_grp_get(dr, group, partition);
    if (g)
        wb_drift_stale_push(dr, g);
}

/* Forgets the groups of partitions no longer owned. */
static void forget_unowned(wb_drift_t *dr)
{
    struct wb_idkey k;
    size_t pos;
    void *val;
    bool again = true;

    while (again) { /* deleting changes the map: start over after each */
        again = false;
        pos = 0;
        while (wb_idmap_next(dr->groups, &pos, &k, &val)) {
            struct wb_drift_grp *g = val;

            if (g && !wb_drift_is_owned(dr, g->partition)) {
                grp_free(wb_idmap_del(dr->groups, &k));
                again = true;
                break;
            }
        }
    }
    gauge(dr);
}

void wb_drift_rebalance(wb_drift_t *dr, rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *l,
                        int assigned)
{
    int i;

    if (!dr || dr->mode == WB_DRIFT_OFF)
        return;
    dr->rk = rk;
    for (i = 0; i < l->cnt; i++) {
        int32_t p = l->elems[i].partition;

        if (p < 0)
            continue;
        if ((size_t)p >= dr->nowned) {
            size_t n = (size_t)p + 1;

            dr->owned = wb_realloc(dr->owned, n * sizeof(*dr->owned));
            memset(dr->owned + dr->nowned, 0, (n - dr->nowned) * sizeof(*dr->owned));
            dr->nowned = n;
        }
        dr->owned[p] = assigned != 0;
    }
    if (assigned)
        dr->need_enum = true;
    else
        forget_unowned(dr);
}

static void metrics_new(wb_drift_t *dr, wb_metrics_t *reg)
{
    static const char *const kind[] = {"kind"};
    static const char *const result[] = {"result"};

    dr->m_drift = wb_metrics_counter(reg, "writeback_worker_drift_total",
                                     "Changes to owned AD groups made by someone else, by kind "
                                     "(docs/drift.md).",
                                     1, kind);
    dr->m_repair = wb_metrics_counter(reg, "writeback_worker_drift_repairs_total",
                                      "Drifted groups written back to their desired state "
                                      "(drift.mode=repair), by result.",
                                      1, result);
    dr->m_groups = wb_metrics_gauge(reg, "writeback_worker_drift_watched_groups",
                                    "Groups the drift watch holds a baseline for.", 0, NULL);
}

wb_drift_t *wb_drift_new(const wb_conf_t *conf, wb_metrics_t *reg, char *errstr, size_t errsz)
{
    wb_drift_t *dr = wb_calloc(1, sizeof(*dr));
    const char *mode = wb_conf_get_str(conf, "drift.mode");
    struct wb_ldap_opts o;

    dr->conf = conf;
    dr->mode = !mode || strcmp(mode, "audit") == 0 ? WB_DRIFT_AUDIT
               : strcmp(mode, "repair") == 0       ? WB_DRIFT_REPAIR
                                                   : WB_DRIFT_OFF;
    if (dr->mode == WB_DRIFT_REPAIR && wb_conf_get_bool(conf, "worker.dry_run")) {
        /* worker.dry_run promises no AD write at all */
        wb_log(LOG_NOTICE, FAC, "worker.dry_run: drift.mode=repair only reports (as audit)");
        dr->mode = WB_DRIFT_AUDIT;
        mode = "audit";
    }
    dr->interval_ms = wb_conf_get_int(conf, "drift.interval_ms");
    dr->base_dn = wb_conf_get_str(conf, "ldap.base_dn");
    dr->target_ou = wb_conf_get_str(conf, "ldap.target_ou");
    dr->topic = wb_conf_get_str(conf, "topic.events");
    dr->groups = wb_idmap_new();
    dr->paused = wb_idmap_new();
    if (dr->mode == WB_DRIFT_OFF)
        return dr;
    wb_ldap_opts_from_conf(conf, &o);
    o.lazy = 1;
    dr->ld = wb_ldap_new(&o, errstr, errsz);
    if (dr->ld)
        dr->rec = wb_drift_records_new(conf, reg, errstr, errsz);
    if (!dr->ld || (!dr->rec && errstr[0])) {
        wb_drift_destroy(dr);
        return NULL;
    }
    metrics_new(dr, reg);
    wb_log(LOG_NOTICE, FAC, "drift watch: mode %s, every %lld ms", mode ? mode : "audit",
           (long long)dr->interval_ms);
    return dr;
}

void wb_drift_destroy(wb_drift_t *dr)
{
    if (!dr)
        return;
    wb_drift_records_destroy(dr->rec);
    if (dr->rkt)
        rd_kafka_topic_destroy(dr->rkt);
    wb_idmap_destroy(dr->groups, grp_free);
    wb_idmap_destroy(dr->paused, free);
    wb_state_destroy(dr->st);
    wb_ldap_destroy(dr->ld);
    free(dr->owned);
    free(dr->stale);
    free(dr->inv_name);
    free(dr);
}
