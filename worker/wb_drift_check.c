/*
 * wb_drift_check: one changed group of the drift watch (docs/drift.md): read it, compare it
 * with its baseline, report what differs and, with drift.mode=repair and no break-glass pause
 * of the group running, write the baseline back (re-creating a deleted group) and verify.
 */
#include "wb_drift_int.h"

#include "wb_log.h"
#include "wb_mem.h"

#include <ldap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FAC WB_DRIFT_FAC

wb_err_t wb_drift_check_read(wb_drift_t *dr, const char *id, struct wb_gstate *s, bool *found)
{
    wb_err_t err = wb_gstate_read(dr->ld, dr->base_dn, id, s, found);

    if (err != WB_OK)
        wb_drift_lost_connection(dr);
    return err;
}

static void pause_cb(const char *group, int64_t until_ms, void *opaque)
{
    wb_drift_t *dr = opaque;
    struct wb_idkey k;
    void **slot;

    if (!wb_idkey_parse(group, &k))
        return;
    slot = wb_idmap_put(dr->paused, &k, NULL);
    if (!*slot)
        *slot = wb_malloc(sizeof(int64_t));
    *(int64_t *)*slot = until_ms;
}

/* Reads new drift pauses from topic.state, once per round and only when a drift needs them. */
static void pauses_read(wb_drift_t *dr)
{
    char err[512];

    if (dr->pauses_read)
        return;
    dr->pauses_read = true;
    if (!dr->st) {
        dr->st = wb_state_new(wb_conf_kafka_kv(dr->conf), wb_conf_get_str(dr->conf, "topic.state"),
                              wb_conf_get_str(dr->conf, "tenant"), err, sizeof(err));
        if (!dr->st) {
            wb_log(LOG_WARNING, FAC, "drift pauses unknown (repairs go ahead): %s", err);
            return;
        }
        wb_state_pauses_only(dr->st);
    }
    if (wb_state_poll(dr->st, 5000) != WB_OK)
        wb_log(LOG_WARNING, FAC, "drift pauses may be incomplete: topic.state not read to its end");
    wb_state_pauses(dr->st, pause_cb, dr);
}

/* Whether a drift of g is written back: repair mode and no pause of g running now. */
bool wb_drift_check_repairs(wb_drift_t *dr, const struct wb_drift_grp *g)
{
    struct wb_idkey k;
    void **slot;
    struct timespec ts;

    if (dr->mode != WB_DRIFT_REPAIR)
        return false;
    pauses_read(dr);
    if (!wb_idkey_parse(g->id, &k))
        return true;
    slot = wb_idmap_get(dr->paused, &k);
    if (!slot || !*slot)
        return true;
    clock_gettime(CLOCK_REALTIME, &ts);
    return *(int64_t *)*slot <= (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void repair_result(wb_drift_t *dr, const struct wb_drift_grp *g, bool ok, size_t writes)
{
    const char *lv[1] = {ok ? "ok" : "failed"};

    wb_metrics_inc(dr->m_repair, lv, 1);
    if (ok)
        wb_log(LOG_NOTICE, FAC, "group=%s: repaired with %zu LDAP write%s", g->id, writes,
               writes == 1 ? "" : "s");
    else
        wb_log(LOG_ERR, FAC, "group=%s: repair failed: %s (%s); retried at the next change", g->id,
               ldap_err2string(wb_ldap_last_rc(dr->ld)), wb_ldap_last_error(dr->ld));
}

void wb_drift_check_adopt(struct wb_drift_grp *g, struct wb_gstate *cur)
{
    wb_gstate_free(&g->base);
    g->base = *cur;
    g->have = true;
    memset(cur, 0, sizeof(*cur));
}

/* Reads g again after a repair: the baseline takes the new USN, GUID and SID when AD equals it
 * again. Returns whether it does. */
static bool verify(wb_drift_t *dr, struct wb_drift_grp *g)
{
    struct wb_gstate cur;
    struct wb_gdiff d;
    bool found, ok = false;

    if (wb_drift_check_read(dr, g->id, &cur, &found) != WB_OK || !found)
        return false;
    wb_gstate_compare(&g->base, &cur, &d);
    if (d.count == 0) {
        g->base.usn = cur.usn;
        memcpy(g->base.guid, cur.guid, sizeof(cur.guid));
        memcpy(g->base.sid, cur.sid, sizeof(cur.sid));
        ok = true;
    }
    wb_gstate_diff_free(&d);
    wb_gstate_free(&cur);
    return ok;
}

/* A group whose uSNChanged moved past its baseline's: compare, report, repair or adopt. */
void wb_drift_check_group(wb_drift_t *dr, struct wb_drift_grp *g)
{
    struct wb_gstate cur;
    struct wb_gdiff d;
    bool found;
    size_t writes = 0;

    if (wb_drift_check_read(dr, g->id, &cur, &found) != WB_OK)
        return;
    if (!found) /* anchor gone without a tombstone seen yet: the tombstone search reports it */
        return;
    wb_gstate_compare(&g->base, &cur, &d);
    if (d.count == 0) {
        g->base.usn = cur.usn; /* changed and changed back, or an attribute we do not map */
    } else {
        wb_drift_report_diff(dr, g, &cur, &d);
        if (wb_drift_check_repairs(dr, g)) {
            wb_err_t err = wb_gstate_repair(dr->ld, &g->base, &cur, &d, &writes);

            repair_result(dr, g, err == WB_OK && verify(dr, g), writes);
        } else {
            wb_drift_check_adopt(g, &cur);
        }
    }
    wb_gstate_diff_free(&d);
    wb_gstate_free(&cur);
}

void wb_drift_check_deleted(wb_drift_t *dr, struct wb_drift_grp *g, const char *tomb_dn,
                            const char *when)
{
    struct wb_drift_line ln = {.dn = g->base.dn,
                               .kind = "delete",
                               .attr = "",
                               .new_dn = tomb_dn,
                               .dc = "unknown",
                               .when = when};
    char old_sid[WB_ID_SID_STR_SIZE];
    size_t writes = 0;
    wb_err_t err;

    wb_drift_report_one(dr, g, &ln);
    if (!wb_drift_check_repairs(dr, g)) {
        wb_drift_grp_forget(dr, g->id);
        return;
    }
    memcpy(old_sid, g->base.sid, sizeof(old_sid));
    err = wb_gstate_recreate(dr->ld, g->id, &g->base, &writes);
    if (err == WB_OK && verify(dr, g)) {
        wb_log(LOG_WARNING, FAC,
               "group=%s: re-created %s; its SID changed from %s to %s (grants made to the "
               "old SID do not apply to it)",
               g->id, g->base.dn, old_sid, g->base.sid);
        repair_result(dr, g, true, writes);
    } else {
        repair_result(dr, g, false, writes);
    }
}
