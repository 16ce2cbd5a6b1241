/*
 * wb_drift: the watch for out-of-band changes to the groups this worker owns. Each poll reads
 * the rootDSE's highestCommittedUSN, refreshes the baselines of groups the consumer wrote, asks
 * for our anchored groups and group tombstones with uSNChanged above the last watermark, and
 * compares each changed group with its baseline; differences are logged (DRIFT lines), counted
 * and, with drift.mode=repair, written back. Design and limits: docs/drift.md.
 */
#include "wb_drift.h"

#include "wb_gstate.h"

#include "wb_id.h"
#include "wb_idmap.h"
#include "wb_ldap.h"
#include "wb_log.h"
#include "wb_mem.h"
#include "wb_state.h"

#include <inttypes.h>
#include <ldap.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define FAC "DRIFT"
/* Values named in one DRIFT line; the rest are counted. */
#define LINE_VALUES      20
#define SHOW_DELETED_OID "1.2.840.113556.1.4.417"

enum mode { MODE_OFF, MODE_AUDIT, MODE_REPAIR };

/* The mapped attributes compared with the baseline (the apply writes these; cn follows the DN). */
struct grp {
    char id[WB_ID_GUID_STR_SIZE];
    int32_t partition;
    bool stale; /* queued for a new baseline */
    bool have;  /* base holds a baseline */
    struct wb_gstate base;
};

struct wb_drift_s {
    const wb_conf_t *conf;
    enum mode mode;
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

    wb_idmap_t *groups; /* Entra id -> struct grp */
    char (*stale)[WB_ID_GUID_STR_SIZE];
    size_t nstale, capstale;

    int64_t watermark; /* 0: none yet (take one at the next round) */
    int64_t next_ms;
    wb_state_t *st;     /* topic.state reader of drift pauses; NULL until needed */
    wb_idmap_t *paused; /* group -> int64_t * until (unix ms) */
    bool pauses_read;   /* this round */
    unsigned char inv_cache[16];
    char *inv_name; /* DC name of inv_cache */
};

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void grp_free(void *p)
{
    struct grp *g = p;

    if (!g)
        return;
    wb_gstate_free(&g->base);
    free(g);
}

static struct grp *grp_find(const wb_drift_t *dr, const char *id)
{
    struct wb_idkey k;
    void **slot;

    if (!wb_idkey_parse(id, &k))
        return NULL;
    slot = wb_idmap_get(dr->groups, &k);
    return slot ? *slot : NULL;
}

static void grp_forget(wb_drift_t *dr, const char *id)
{
    struct wb_idkey k;

    if (wb_idkey_parse(id, &k))
        grp_free(wb_idmap_del(dr->groups, &k));
}

static void stale_push(wb_drift_t *dr, struct grp *g)
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
static struct grp *grp_get(wb_drift_t *dr, const char *id, int32_t partition)
{
    struct wb_idkey k;
    struct grp *g;
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
    stale_push(dr, g);
    return g;
}

static bool is_owned(const wb_drift_t *dr, int32_t p)
{
    return p >= 0 && (size_t)p < dr->nowned && dr->owned[p];
}

static void lost_connection(wb_drift_t *dr)
{
    if (dr->connected && wb_ldap_conn_gone(wb_ldap_last_rc(dr->ld))) {
        wb_log(LOG_WARNING, FAC, "connection to AD lost (%s); the watch resumes after a reconnect",
               wb_ldap_last_error(dr->ld));
        wb_ldap_disconnect(dr->ld);
        dr->connected = false;
    }
}

static wb_err_t read_group(wb_drift_t *dr, const char *id, struct wb_gstate *s, bool *found)
{
    wb_err_t err = wb_gstate_read(dr->ld, dr->base_dn, id, s, found);

    if (err != WB_OK)
        lost_connection(dr);
    return err;
}

/* The name of the DC whose invocation id is inv (its server object's cn), or NULL. Cached. */
static const char *dc_name(wb_drift_t *dr, const unsigned char inv[16])
{
    static const char *const attrs[] = {"configurationNamingContext", NULL};
    struct wb_ldap_entry *root = NULL, *e = NULL;
    const struct wb_ldap_val *cfg;
    char filter[128], *p = filter;
    size_t i;

    if (dr->inv_name && memcmp(dr->inv_cache, inv, 16) == 0)
        return dr->inv_name;
    if (wb_ldap_search_unique(dr->ld, "", WB_LDAP_SCOPE_BASE, "(objectClass=*)", attrs, &root) !=
            WB_OK ||
        !root)
        goto out;
    cfg = wb_ldap_entry_get(root, "configurationNamingContext");
    if (!cfg)
        goto out;
    p += snprintf(p, sizeof(filter), "(&(objectClass=nTDSDSA)(invocationId=");
    for (i = 0; i < 16; i++)
        p += snprintf(p, 4, "\\%02x", inv[i]);
    snprintf(p, 3, "))");
    if (wb_ldap_search_unique(dr->ld, cfg->data, WB_LDAP_SCOPE_SUB, filter, NULL, &e) != WB_OK ||
        !e)
        goto out;
    /* CN=NTDS Settings,CN=<server>,CN=Servers,...: the server's cn is the second RDN */
    p = strchr(e->dn, ',');
    if (p && strncasecmp(p + 1, "CN=", 3) == 0) {
        free(dr->inv_name);
        dr->inv_name = wb_strndup(p + 4, strcspn(p + 4, ","));
        memcpy(dr->inv_cache, inv, 16);
    }
out:
    wb_ldap_entry_free(root);
    wb_ldap_entry_free(e);
    return dr->inv_name && memcmp(dr->inv_cache, inv, 16) == 0 ? dr->inv_name : NULL;
}

/* ------------------------------------------------------------------ comparing, reporting */

/* Where and when: from replPropertyMetaData when its latest entry is newer than the baseline
 * (an attribute change or a rename), else whenChanged (members: AD keeps their metadata per
 * value, which Samba does not return). */
static void origin(wb_drift_t *dr, const struct grp *g, const struct wb_gstate *cur, char *dc,
                   size_t dcsz, char *when, size_t whensz)
{
    snprintf(dc, dcsz, "unknown");
    snprintf(when, whensz, "%s", cur->when ? cur->when : "unknown");
    if (cur->meta_usn > g->base.usn) {
        const char *name = dc_name(dr, cur->meta_inv);
        time_t t = (time_t)cur->meta_time;
        struct tm tm;

        if (name)
            snprintf(dc, dcsz, "%s", name);
        if (gmtime_r(&t, &tm))
            strftime(when, whensz, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
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
static bool repairs(wb_drift_t *dr, const struct grp *g)
{
    struct wb_idkey k;
    void **slot;
    struct timespec ts;

    if (dr->mode != MODE_REPAIR)
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

static void report(wb_drift_t *dr, const struct grp *g, const char *dn, const char *kind,
                   const char *attr, const char *added, const char *removed, const char *new_dn,
                   const char *dc, const char *when)
{
    const char *lv[1] = {kind};

    wb_log(LOG_WARNING, FAC,
           "DRIFT group=%s partition=%d dn=\"%s\" kind=%s attribute=%s added=\"%s\" "
           "removed=\"%s\" new_dn=\"%s\" dc=%s time=%s action=%s",
           g->id, (int)g->partition, dn, kind, attr ? attr : "", added ? added : "",
           removed ? removed : "", new_dn ? new_dn : "", dc, when,
           repairs(dr, g)            ? "repair"
           : dr->mode == MODE_REPAIR ? "paused"
                                     : "audit");
    wb_metrics_inc(dr->m_drift, lv, 1);
}

/* "dn1; dn2; ... (+N more)" of the members in list[0..n). Caller-owned. */
static char *values_text(struct wb_gmember *const *list, size_t n)
{
    size_t i, len = 1;
    char *s, *p;

    for (i = 0; i < n && i < LINE_VALUES; i++)
        len += strlen(list[i]->dn) + 2;
    len += 32;
    s = p = wb_malloc(len);
    *p = '\0';
    for (i = 0; i < n && i < LINE_VALUES; i++)
        p += snprintf(p, len - (size_t)(p - s), "%s%s", i ? "; " : "", list[i]->dn);
    if (n > LINE_VALUES)
        snprintf(p, len - (size_t)(p - s), " (+%zu more)", n - LINE_VALUES);
    return s;
}

static void report_diff(wb_drift_t *dr, const struct grp *g, const struct wb_gstate *cur,
                        const struct wb_gdiff *d)
{
    char dc[256], when[64];
    size_t i;

    origin(dr, g, cur, dc, sizeof(dc), when, sizeof(when));
    if (d->moved || d->renamed)
        report(dr, g, g->base.dn, d->moved ? "move" : "rename", "distinguishedName", NULL, NULL,
               cur->dn, dc, when);
    for (i = 0; i < WB_GSTATE_NATTR; i++)
        if (d->attr[i])
            report(dr, g, cur->dn, "attribute", wb_gstate_attrs[i], cur->attr[i], g->base.attr[i],
                   NULL, dc, when);
    /* member changes carry no per-value metadata here: whenChanged, DC unknown */
    snprintf(dc, sizeof(dc), "unknown");
    snprintf(when, sizeof(when), "%s", cur->when ? cur->when : "unknown");
    if (d->nadded) {
        char *t = values_text(d->added, d->nadded);

        report(dr, g, cur->dn, "member_add", "member", t, NULL, NULL, dc, when);
        free(t);
    }
    if (d->nremoved) {
        char *t = values_text(d->removed, d->nremoved);

        report(dr, g, cur->dn, "member_remove", "member", NULL, t, NULL, dc, when);
        free(t);
    }
}

/* ------------------------------------------------------------------ repair */

static void repair_result(wb_drift_t *dr, const struct grp *g, bool ok, size_t writes)
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

/* ------------------------------------------------------------------ one group */

/* Takes cur as g's new baseline (cur is emptied). */
static void adopt(struct grp *g, struct wb_gstate *cur)
{
    wb_gstate_free(&g->base);
    g->base = *cur;
    g->have = true;
    memset(cur, 0, sizeof(*cur));
}

/* Reads g again after a repair: the baseline takes the new USN, GUID and SID when AD equals it
 * again. Returns whether it does. */
static bool verify(wb_drift_t *dr, struct grp *g)
{
    struct wb_gstate cur;
    struct wb_gdiff d;
    bool found, ok = false;

    if (read_group(dr, g->id, &cur, &found) != WB_OK || !found)
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
static void check_group(wb_drift_t *dr, struct grp *g)
{
    struct wb_gstate cur;
    struct wb_gdiff d;
    bool found;
    size_t writes = 0;

    if (read_group(dr, g->id, &cur, &found) != WB_OK)
        return;
    if (!found) /* anchor gone without a tombstone seen yet: the tombstone search reports it */
        return;
    wb_gstate_compare(&g->base, &cur, &d);
    if (d.count == 0) {
        g->base.usn = cur.usn; /* changed and changed back, or an attribute we do not map */
    } else {
        report_diff(dr, g, &cur, &d);
        if (repairs(dr, g)) {
            wb_err_t err = wb_gstate_repair(dr->ld, &g->base, &cur, &d, &writes);

            repair_result(dr, g, err == WB_OK && verify(dr, g), writes);
        } else {
            adopt(g, &cur);
        }
    }
    wb_gstate_diff_free(&d);
    wb_gstate_free(&cur);
}

static void check_deleted(wb_drift_t *dr, struct grp *g, const char *tomb_dn, const char *when)
{
    char old_sid[WB_ID_SID_STR_SIZE];
    size_t writes = 0;
    wb_err_t err;

    report(dr, g, g->base.dn, "delete", "", NULL, NULL, tomb_dn, "unknown", when);
    if (!repairs(dr, g)) {
        grp_forget(dr, g->id);
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

/* ------------------------------------------------------------------ rounds */

static bool partition_count(wb_drift_t *dr)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e;

    if (dr->nparts > 0)
        return true;
    if (!dr->rk)
        return false;
    if (!dr->rkt)
        dr->rkt = rd_kafka_topic_new(dr->rk, dr->topic, NULL);
    e = rd_kafka_metadata(dr->rk, 0, dr->rkt, &md, 5000);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 && !md->topics[0].err)
        dr->nparts = md->topics[0].partition_cnt;
    else
        wb_log(LOG_WARNING, FAC, "topic %s: no partition count yet (%s)", dr->topic,
               rd_kafka_err2str(e               ? e
                                : md->topic_cnt ? md->topics[0].err
                                                : e));
    if (md)
        rd_kafka_metadata_destroy(md);
    return dr->nparts > 0;
}

static int32_t partition_of(wb_drift_t *dr, const char *id)
{
    /* the producer's placement (wb_kafka: partitioner=murmur2_random), key = the lower-case id */
    return rd_kafka_msg_partitioner_murmur2_random(dr->rkt, id, strlen(id), dr->nparts, NULL, NULL);
}

static wb_err_t enum_cb(const struct wb_ldap_entry *e, void *opaque)
{
    wb_drift_t *dr = opaque;
    const struct wb_ldap_val *v = wb_ldap_entry_get(e, WB_LDAP_ANCHOR_ATTR);
    char id[WB_ID_GUID_STR_SIZE];
    struct wb_idkey k;
    int32_t p;

    if (!v || strncmp(v->data, WB_LDAP_ANCHOR_PREFIX, strlen(WB_LDAP_ANCHOR_PREFIX)) != 0 ||
        !wb_idkey_parse(v->data + strlen(WB_LDAP_ANCHOR_PREFIX), &k))
        return WB_OK;
    wb_idkey_format(&k, id);
    p = partition_of(dr, id);
    if (is_owned(dr, p))
        grp_get(dr, id, p);
    return WB_OK;
}

/*
 * Lists the anchored groups under ldap.target_ou (where writeback puts them: another
 * deployment sharing the domain keeps its groups elsewhere) and takes those of owned
 * partitions. A group found later outside it keeps being watched.
 */
static wb_err_t enumerate(wb_drift_t *dr)
{
    static const char *const attrs[] = {WB_LDAP_ANCHOR_ATTR, NULL};

    return wb_ldap_search_paged(dr->ld, dr->target_ou, WB_LDAP_SCOPE_SUB,
                                "(&(objectClass=group)(" WB_LDAP_ANCHOR_ATTR
                                "=" WB_LDAP_ANCHOR_PREFIX "*))",
                                attrs, 500, enum_cb, dr);
}

static wb_err_t root_usn(wb_drift_t *dr, int64_t *usn)
{
    static const char *const attrs[] = {"highestCommittedUSN", NULL};
    struct wb_ldap_entry *e = NULL;
    const struct wb_ldap_val *v;
    wb_err_t err =
        wb_ldap_search_unique(dr->ld, "", WB_LDAP_SCOPE_BASE, "(objectClass=*)", attrs, &e);

    if (err == WB_OK) {
        v = e ? wb_ldap_entry_get(e, "highestCommittedUSN") : NULL;
        if (v)
            *usn = strtoll(v->data, NULL, 10);
        else
            err = WB_ERR_TRANSIENT;
    }
    wb_ldap_entry_free(e);
    return err;
}

/* A changed group found by the uSNChanged search. */
struct changed {
    char id[WB_ID_GUID_STR_SIZE];
};

struct found {
    wb_drift_t *dr;
    struct changed *c;
    size_t n, cap;
};

static wb_err_t changed_cb(const struct wb_ldap_entry *e, void *opaque)
{
    struct found *f = opaque;
    const struct wb_ldap_val *v = wb_ldap_entry_get(e, WB_LDAP_ANCHOR_ATTR);
    const struct wb_ldap_val *u = wb_ldap_entry_get(e, "uSNChanged");
    struct grp *g;

    if (!v || !u || strncmp(v->data, WB_LDAP_ANCHOR_PREFIX, strlen(WB_LDAP_ANCHOR_PREFIX)) != 0)
        return WB_OK;
    g = grp_find(f->dr, v->data + strlen(WB_LDAP_ANCHOR_PREFIX));
    if (!g || !g->have || g->stale || strtoll(u->data, NULL, 10) <= g->base.usn)
        return WB_OK;
    if (f->n == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 16;
        f->c = wb_realloc(f->c, f->cap * sizeof(*f->c));
    }
    memcpy(f->c[f->n++].id, g->id, WB_ID_GUID_STR_SIZE);
    return WB_OK;
}

/* Group tombstones changed since the watermark, matched to baselines by objectGUID. */
static wb_err_t tombstones(wb_drift_t *dr)
{
    static const char *const attrs[] = {"objectGUID", "whenChanged", NULL};
    LDAPControl show = {SHOW_DELETED_OID, {0, NULL}, 1};
    LDAPControl *ctrls[] = {&show, NULL};
    struct timeval tv = {30, 0};
    LDAPMessage *res = NULL, *msg;
    LDAP *l = wb_ldap_handle(dr->ld);
    char filter[96];
    int rc;

    if (!l)
        return WB_ERR_TRANSIENT;
    snprintf(filter, sizeof(filter),
             "(&(objectClass=group)(isDeleted=TRUE)(uSNChanged>=%" PRId64 "))", dr->watermark + 1);
    rc = ldap_search_ext_s(l, dr->base_dn, LDAP_SCOPE_SUBTREE, filter, (char **)attrs, 0, ctrls,
                           NULL, &tv, 0, &res);
    if (rc != LDAP_SUCCESS) {
        wb_log(LOG_WARNING, FAC, "tombstone search: %s", ldap_err2string(rc));
        ldap_msgfree(res);
        if (wb_ldap_conn_gone(rc)) {
            wb_ldap_disconnect(dr->ld);
            dr->connected = false;
        }
        return WB_ERR_TRANSIENT;
    }
    for (msg = ldap_first_entry(l, res); msg; msg = ldap_next_entry(l, msg)) {
        struct berval **gv = ldap_get_values_len(l, msg, "objectGUID");
        struct berval **wv = ldap_get_values_len(l, msg, "whenChanged");
        char guid[WB_ID_GUID_STR_SIZE], *dn = ldap_get_dn(l, msg);
        struct wb_idkey k;
        size_t pos = 0;
        void *val;

        if (gv && gv[0] && gv[0]->bv_len == WB_ID_GUID_BIN_SIZE) {
            wb_id_guid_to_str((const unsigned char *)gv[0]->bv_val, guid);
            while (wb_idmap_next(dr->groups, &pos, &k, &val)) {
                struct grp *g = val;

                if (g && g->have && !g->stale && strcmp(g->base.guid, guid) == 0) {
                    check_deleted(dr, g, dn ? dn : "", wv && wv[0] ? wv[0]->bv_val : "unknown");
                    break; /* the map may have changed */
                }
            }
        }
        ldap_value_free_len(gv);
        ldap_value_free_len(wv);
        ldap_memfree(dn);
    }
    ldap_msgfree(res);
    return WB_OK;
}

static void gauge(wb_drift_t *dr)
{
    wb_metrics_set(dr->m_groups, NULL, (double)wb_idmap_count(dr->groups));
}

void wb_drift_poll(wb_drift_t *dr, int64_t budget_ms)
{
    static const char *const cattrs[] = {WB_LDAP_ANCHOR_ATTR, "uSNChanged", NULL};
    struct found f = {dr, NULL, 0, 0};
    int64_t now, deadline, high = 0;
    char filter[160];
    size_t i;

    if (!dr || dr->mode == MODE_OFF)
        return;
    now = mono_ms();
    if (now < dr->next_ms)
        return;
    dr->next_ms = now + dr->interval_ms;
    dr->pauses_read = false;
    deadline = now + budget_ms;
    if (!dr->connected) {
        size_t pos = 0;
        void *val;

        if (wb_ldap_reconnect(dr->ld) != WB_OK)
            return;
        dr->connected = true;
        /* a new connection may be another DC, whose USNs are its own: start again */
        dr->watermark = 0;
        while (wb_idmap_next(dr->groups, &pos, NULL, &val))
            if (val)
                stale_push(dr, val);
    }
    if (dr->need_enum && partition_count(dr)) {
        if (enumerate(dr) != WB_OK) {
            lost_connection(dr);
            return;
        }
        dr->need_enum = false;
    }
    if (root_usn(dr, &high) != WB_OK) {
        lost_connection(dr);
        return;
    }
    while (dr->nstale > 0 && mono_ms() < deadline) {
        char id[WB_ID_GUID_STR_SIZE];
        struct grp *g;
        struct wb_gstate cur;
        bool found;

        memcpy(id, dr->stale[--dr->nstale], sizeof(id));
        g = grp_find(dr, id);
        if (!g)
            continue;
        g->stale = false;
        if (read_group(dr, id, &cur, &found) != WB_OK) {
            stale_push(dr, g);
            return;
        }
        if (found)
            adopt(g, &cur);
        else
            grp_forget(dr, id);
    }
    gauge(dr);
    if (dr->nstale > 0)
        return; /* the rest next round; the watermark stays */
    if (dr->watermark == 0) {
        dr->watermark = high;
        return;
    }
    snprintf(filter, sizeof(filter),
             "(&(objectClass=group)(" WB_LDAP_ANCHOR_ATTR "=" WB_LDAP_ANCHOR_PREFIX
             "*)(uSNChanged>=%" PRId64 "))",
             dr->watermark + 1);
    if (wb_ldap_search_paged(dr->ld, dr->base_dn, WB_LDAP_SCOPE_SUB, filter, cattrs, 500,
                             changed_cb, &f) != WB_OK) {
        lost_connection(dr);
        goto out;
    }
    for (i = 0; i < f.n; i++) {
        struct grp *g = grp_find(dr, f.c[i].id);

        if (mono_ms() >= deadline)
            goto out; /* the watermark stays: the rest is found again next round */
        if (g)
            check_group(dr, g);
        if (!dr->connected)
            goto out;
    }
    if (tombstones(dr) != WB_OK)
        goto out;
    dr->watermark = high;
out:
    gauge(dr);
    free(f.c);
}

/* ------------------------------------------------------------------ the consumer's calls */

void wb_drift_written(wb_drift_t *dr, const char *group, int32_t partition)
{
    struct grp *g;

    if (!dr || dr->mode == MODE_OFF || !group)
        return;
    g = grp_get(dr, group, partition);
    if (g)
        stale_push(dr, g);
}

void wb_drift_rebalance(wb_drift_t *dr, rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *l,
                        int assigned)
{
    int i;

    if (!dr || dr->mode == MODE_OFF)
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
    if (assigned) {
        dr->need_enum = true;
    } else {
        struct wb_idkey k;
        size_t pos = 0;
        void *val;
        bool again = true;

        while (again) { /* deleting changes the map: start over after each */
            again = false;
            pos = 0;
            while (wb_idmap_next(dr->groups, &pos, &k, &val)) {
                struct grp *g = val;

                if (g && !is_owned(dr, g->partition)) {
                    grp_free(wb_idmap_del(dr->groups, &k));
                    again = true;
                    break;
                }
            }
        }
        gauge(dr);
    }
}

wb_drift_t *wb_drift_new(const wb_conf_t *conf, wb_metrics_t *reg, char *errstr, size_t errsz)
{
    static const char *const kind[] = {"kind"};
    static const char *const result[] = {"result"};
    wb_drift_t *dr = wb_calloc(1, sizeof(*dr));
    const char *mode = wb_conf_get_str(conf, "drift.mode");
    struct wb_ldap_opts o;

    dr->conf = conf;
    dr->mode = !mode || strcmp(mode, "audit") == 0 ? MODE_AUDIT
               : strcmp(mode, "repair") == 0       ? MODE_REPAIR
                                                   : MODE_OFF;
    if (dr->mode == MODE_REPAIR && wb_conf_get_bool(conf, "worker.dry_run")) {
        /* worker.dry_run promises no AD write at all */
        wb_log(LOG_NOTICE, FAC, "worker.dry_run: drift.mode=repair only reports (as audit)");
        dr->mode = MODE_AUDIT;
        mode = "audit";
    }
    dr->interval_ms = wb_conf_get_int(conf, "drift.interval_ms");
    dr->base_dn = wb_conf_get_str(conf, "ldap.base_dn");
    dr->target_ou = wb_conf_get_str(conf, "ldap.target_ou");
    dr->topic = wb_conf_get_str(conf, "topic.events");
    dr->groups = wb_idmap_new();
    dr->paused = wb_idmap_new();
    if (dr->mode == MODE_OFF)
        return dr;
    wb_ldap_opts_from_conf(conf, &o);
    o.lazy = 1;
    dr->ld = wb_ldap_new(&o, errstr, errsz);
    if (!dr->ld) {
        wb_drift_destroy(dr);
        return NULL;
    }
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
    wb_log(LOG_NOTICE, FAC, "drift watch: mode %s, every %lld ms", mode ? mode : "audit",
           (long long)dr->interval_ms);
    return dr;
}

void wb_drift_destroy(wb_drift_t *dr)
{
    if (!dr)
        return;
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
