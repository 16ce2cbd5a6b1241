/*
 * wb_emit: turning one group's round data into events (docs/events.md): upserts, chunked
 * snapshots and member deltas with the on-prem identities resolved, checked after encoding by
 * the worker's own decoder, and written to Kafka (inside the round's transaction) or printed
 * (dry run). Member references that must not reach a worker are dropped here, counted by
 * reason and logged once per group.
 */
#include "wb_emit.h"

#include "wb_kafka.h"
#include "wb_log.h"
#include "wb_map.h"
#include "wb_mem.h"
#include "wb_reason.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

enum drop {
    DROP_CLOUD_ONLY,
    DROP_UNRESOLVED,
    DROP_GROUP_OUT_OF_SCOPE,
    DROP_UNSUPPORTED,
    DROP_N,
};
/* The reason of each drop: its tag labels writeback_producer_dropped_members_total. */
static const enum wb_reason drop_reasons[DROP_N] = {WB_REASON_CLOUD_ONLY, WB_REASON_UNRESOLVED,
                                                    WB_REASON_GROUP_OUT_OF_SCOPE,
                                                    WB_REASON_UNSUPPORTED_TYPE};

/* The class of a produce failure: fatal when the producer is fenced or dead. */
wb_err_t wb_emit_kafka_failed(rd_kafka_t *rk, wb_err_t err)
{
    char buf[256];
    rd_kafka_resp_err_t fe = rd_kafka_fatal_error(rk, buf, sizeof(buf));

    if (fe) {
        wb_log(LOG_ERR, "KAFKA", "producer is dead (%s): %s%s", rd_kafka_err2name(fe), buf,
               fe == RD_KAFKA_RESP_ERR__FENCED || fe == RD_KAFKA_RESP_ERR_PRODUCER_FENCED
                   ? " (fenced by another producer with the same transactional.id)"
                   : "");
        return WB_ERR_FATAL;
    }
    return err == WB_ERR_FATAL ? WB_ERR_FATAL : WB_ERR_TRANSIENT;
}

/* Invalid UTF-8 from Graph (raw bytes cJSON passed through) becomes U+FFFD, as wb_map does
 * for AD; the worker's decoder refuses any message that is not UTF-8. Takes json over. */
static char *clean_utf8(const struct wb_event *ev, char *json)
{
    size_t len = strlen(json);
    char *clean;

    if (wb_map_utf8_valid(json, len, NULL))
        return json;
    clean = wb_map_clean(json, len);
    free(json);
    wb_log(LOG_NOTICE, "PRODUCER", "group %s: invalid UTF-8 in Graph text replaced by U+FFFD",
           ev->group);
    return clean;
}

static wb_err_t emit(struct wb_emitter *em, struct wb_event *ev)
{
    struct wb_event check;
    char reason[256];
    char *json;
    wb_err_t err = WB_OK;

    ev->v = WB_EVENT_VERSION;
    ev->tenant = (char *)em->tenant;
    ev->round = em->round_id;
    ev->ts = em->ts;
    json = clean_utf8(ev, wb_event_encode(ev));
    /* One validation, the worker's: an event its decoder refuses would be dead-lettered as
     * poison on every round and the group never provisioned. */
    if (wb_event_decode(json, strlen(json), &check, reason, sizeof(reason)) != WB_OK) {
        const char *v[] = {wb_event_type_name(ev->type)};

        wb_log(LOG_ERR, "PRODUCER", "group %s: %s event refused, not emitted: %s", ev->group,
               wb_event_type_name(ev->type), reason);
        if (em->m_rejected)
            wb_metrics_inc(em->m_rejected, v, 1);
        free(json);
        return WB_ERR_INVALID;
    }
    wb_event_free(&check);
    if (em->dry_run) {
        fputs(json, em->out);
        fputc('\n', em->out);
    } else {
        err = wb_kafka_produce(em->rk, em->topic, ev->group, strlen(ev->group), json, strlen(json),
                               NULL, 0, NULL);
        if (err != WB_OK)
            err = wb_emit_kafka_failed(em->rk, err);
    }
    free(json);
    if (err == WB_OK) {
        em->events++;
        if (em->kill_after > 0 && ++em->produced >= em->kill_after) {
            wb_log(LOG_WARNING, "PRODUCER", "test hook: SIGKILL after %lld events", em->produced);
            if (em->rk)
                rd_kafka_flush(em->rk, 10000);
            raise(SIGKILL);
        }
    }
    return err;
}

void wb_emit_count(struct wb_emitter *em, enum wb_event_type t, double n)
{
    const char *v[] = {wb_event_type_name(t)};

    if (em->m_events && n > 0)
        wb_metrics_inc(em->m_events, v, n);
}

wb_err_t wb_emit_simple(struct wb_emitter *em, const char *gid, enum wb_event_type t)
{
    struct wb_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.type = t;
    ev.group = (char *)gid;
    return emit(em, &ev);
}

wb_err_t wb_emit_upsert(struct wb_emitter *em, const char *gid, const struct wb_gprops *gp)
{
    struct wb_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.type = WB_EVENT_GROUP_UPSERT;
    ev.group = (char *)gid;
    ev.attrs.display_name = gp->display_name ? gp->display_name : "";
    ev.attrs.description = gp->description;
    ev.attrs.security_enabled = gp->security_enabled == 1;
    ev.attrs.mail_enabled = gp->mail_enabled == 1;
    ev.attrs.group_types = gp->group_types;
    ev.attrs.group_types_count = gp->ngroup_types;
    ev.attrs.extra = gp->extra;
    return emit(em, &ev);
}

/* Member references of rg whose added flag is `added` (all entries when added < 0), resolved
 * for the wire. ids is a pool of id strings the members point into. Borrowed strings: sid and
 * guid from the user map. Returns the count; drops are added to drops[]. */
static size_t resolve(struct wb_emitter *em, const struct wb_rgroup *rg, int added,
                      const wb_idmap_t *groups_ok, struct wb_member *out, char (*ids)[37],
                      size_t drops[DROP_N])
{
    size_t i, n = 0;

    for (i = 0; i < rg->nm; i++) {
        const struct wb_mref *m = &rg->m[i];

        if (added >= 0 && m->added != added)
            continue;
        if (m->kind == WB_MK_USER) {
            const struct wb_uident *ui = NULL;

            /* a removal names the value AD holds: the identity before a pending change */
            if (!m->added)
                ui = wb_users_before(em->users, &m->id);
            if (!ui || !ui->sid)
                ui = wb_users_get(em->users, &m->id);

            if (!ui || ui->missing) {
                drops[DROP_UNRESOLVED]++;
                continue;
            }
            if (!ui->sid) {
                drops[DROP_CLOUD_ONLY]++;
                continue;
            }
            out[n].kind = WB_MEMBER_USER;
            out[n].sid = ui->sid;
            out[n].guid = ui->guid;
        } else if (m->kind == WB_MK_GROUP) {
            if (!wb_idmap_has(groups_ok, &m->id)) {
                drops[DROP_GROUP_OUT_OF_SCOPE]++;
                continue;
            }
            out[n].kind = WB_MEMBER_GROUP;
            out[n].sid = out[n].guid = NULL;
        } else {
            drops[DROP_UNSUPPORTED]++;
            continue;
        }
        wb_idkey_format(&m->id, ids[n]);
        out[n].id = ids[n];
        n++;
    }
    return n;
}

static void report_drops(struct wb_emitter *em, const char *gid, const size_t drops[DROP_N])
{
    size_t total = 0;
    int i;

    for (i = 0; i < DROP_N; i++) {
        const char *v[] = {wb_reason_tag(drop_reasons[i])};

        total += drops[i];
        if (em->m_dropped && drops[i])
            wb_metrics_inc(em->m_dropped, v, (double)drops[i]);
    }
    if (total)
        wb_log(LOG_INFO, "PRODUCER",
               "group %s: %zu member(s) not passed on: %zu cloud-only user(s), %zu unresolved, "
               "%zu group(s) out of scope, %zu unsupported",
               gid, total, drops[DROP_CLOUD_ONLY], drops[DROP_UNRESOLVED],
               drops[DROP_GROUP_OUT_OF_SCOPE], drops[DROP_UNSUPPORTED]);
}

wb_err_t wb_emit_snapshot(struct wb_emitter *em, const char *gid, const struct wb_rgroup *rg,
                          const wb_idmap_t *s1)
{
    struct wb_member *mem = wb_malloc((rg->nm ? rg->nm : 1) * sizeof(*mem));
    char(*ids)[37] = wb_malloc((rg->nm ? rg->nm : 1) * 37);
    size_t drops[DROP_N] = {0}, n, chunks, c;
    wb_err_t err = WB_OK;

    n = resolve(em, rg, 1, s1, mem, ids, drops);
    report_drops(em, gid, drops);
    chunks = n == 0 ? 1 : (n + (size_t)em->chunk - 1) / (size_t)em->chunk;
    for (c = 0; c < chunks && err == WB_OK; c++) {
        struct wb_event ev;
        size_t off = c * (size_t)em->chunk;

        memset(&ev, 0, sizeof(ev));
        ev.type = WB_EVENT_GROUP_SNAPSHOT;
        ev.group = (char *)gid;
        ev.snapshot = em->round_id;
        ev.chunk = (unsigned)c + 1;
        ev.chunks = (unsigned)chunks;
        ev.members = mem + off;
        ev.members_count = n - off < (size_t)em->chunk ? n - off : (size_t)em->chunk;
        err = emit(em, &ev);
        if (err == WB_OK)
            wb_emit_count(em, WB_EVENT_GROUP_SNAPSHOT, 1);
    }
    free(ids);
    free(mem);
    return err;
}

wb_err_t wb_emit_members(struct wb_emitter *em, const char *gid, const struct wb_rgroup *rg,
                         const wb_idmap_t *s1, const wb_idmap_t *both)
{
    struct wb_member *add = wb_malloc((rg->nm ? rg->nm : 1) * sizeof(*add));
    struct wb_member *rem = wb_malloc((rg->nm ? rg->nm : 1) * sizeof(*rem));
    char(*aids)[37] = wb_malloc((rg->nm ? rg->nm : 1) * 37);
    char(*rids)[37] = wb_malloc((rg->nm ? rg->nm : 1) * 37);
    size_t drops[DROP_N] = {0}, na, nr, ia = 0, ir = 0;
    wb_err_t err = WB_OK;

    na = resolve(em, rg, 1, s1, add, aids, drops);
    /* a removed nested group may have left scope in this very round: still remove it */
    nr = resolve(em, rg, 0, both, rem, rids, drops);
    report_drops(em, gid, drops);
    while ((ia < na || ir < nr) && err == WB_OK) {
        struct wb_event ev;
        size_t room = (size_t)em->chunk;

        memset(&ev, 0, sizeof(ev));
        ev.type = WB_EVENT_GROUP_MEMBERS;
        ev.group = (char *)gid;
        ev.add = add + ia;
        ev.add_count = na - ia < room ? na - ia : room;
        ia += ev.add_count;
        room -= ev.add_count;
        ev.remove = rem + ir;
        ev.remove_count = nr - ir < room ? nr - ir : room;
        ir += ev.remove_count;
        err = emit(em, &ev);
        if (err == WB_OK)
            wb_emit_count(em, WB_EVENT_GROUP_MEMBERS, 1);
    }
    free(aids);
    free(rids);
    free(add);
    free(rem);
    return err;
}
