/*
 * wb_drift_scan: the LDAP searches of a drift round (docs/drift.md, "How changes are found"):
 * the anchored groups of the owned partitions under ldap.target_ou, the rootDSE's
 * highestCommittedUSN, the anchored groups with uSNChanged above the watermark, and the group
 * tombstones changed since then.
 */
#include "wb_drift_int.h"

#include "wb_log.h"
#include "wb_mem.h"

#include <inttypes.h>
#include <ldap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAC              WB_DRIFT_FAC
#define SHOW_DELETED_OID "1.2.840.113556.1.4.417"

bool wb_drift_scan_partition_count(wb_drift_t *dr)
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
    if (wb_drift_is_owned(dr, p))
        wb_drift_grp_get(dr, id, p);
    return WB_OK;
}

/*
 * Lists the anchored groups under ldap.target_ou (where writeback puts them: another
 * deployment sharing the domain keeps its groups elsewhere) and takes those of owned
 * partitions. A group found later outside it keeps being watched.
 */
wb_err_t wb_drift_scan_enumerate(wb_drift_t *dr)
{
    static const char *const attrs[] = {WB_LDAP_ANCHOR_ATTR, NULL};

    return wb_ldap_search_paged(dr->ld, dr->target_ou, WB_LDAP_SCOPE_SUB,
                                "(&(objectClass=group)(" WB_LDAP_ANCHOR_ATTR
                                "=" WB_LDAP_ANCHOR_PREFIX "*))",
                                attrs, 500, enum_cb, dr);
}

wb_err_t wb_drift_scan_root_usn(wb_drift_t *dr, int64_t *usn)
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

/* The changed groups found by the uSNChanged search. */
struct found {
    wb_drift_t *dr;
    char (*ids)[WB_ID_GUID_STR_SIZE];
    size_t n, cap;
};

static wb_err_t changed_cb(const struct wb_ldap_entry *e, void *opaque)
{
    struct found *f = opaque;
    const struct wb_ldap_val *v = wb_ldap_entry_get(e, WB_LDAP_ANCHOR_ATTR);
    const struct wb_ldap_val *u = wb_ldap_entry_get(e, "uSNChanged");
    struct wb_drift_grp *g;

    if (!v || !u || strncmp(v->data, WB_LDAP_ANCHOR_PREFIX, strlen(WB_LDAP_ANCHOR_PREFIX)) != 0)
        return WB_OK;
    g = wb_drift_grp_find(f->dr, v->data + strlen(WB_LDAP_ANCHOR_PREFIX));
    if (!g || !g->have || g->stale || strtoll(u->data, NULL, 10) <= g->base.usn)
        return WB_OK;
    if (f->n == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 16;
        f->ids = wb_realloc(f->ids, f->cap * sizeof(*f->ids));
    }
    memcpy(f->ids[f->n++], g->id, WB_ID_GUID_STR_SIZE);
    return WB_OK;
}

wb_err_t wb_drift_scan_changed(wb_drift_t *dr, char (**ids)[WB_ID_GUID_STR_SIZE], size_t *n)
{
    static const char *const attrs[] = {WB_LDAP_ANCHOR_ATTR, "uSNChanged", NULL};
    struct found f = {dr, NULL, 0, 0};
    char filter[160];
    wb_err_t err;

    snprintf(filter, sizeof(filter),
             "(&(objectClass=group)(" WB_LDAP_ANCHOR_ATTR "=" WB_LDAP_ANCHOR_PREFIX
             "*)(uSNChanged>=%" PRId64 "))",
             dr->watermark + 1);
    err = wb_ldap_search_paged(dr->ld, dr->base_dn, WB_LDAP_SCOPE_SUB, filter, attrs, 500,
                               changed_cb, &f);
    *ids = f.ids;
    *n = f.n;
    return err;
}

/* The baseline whose objectGUID is that of the tombstone msg, checked as deleted. */
static void tombstone(wb_drift_t *dr, LDAP *l, LDAPMessage *msg)
{
    struct berval **gv = ldap_get_values_len(l, msg, "objectGUID");
    struct berval **wv = ldap_get_values_len(l, msg, "whenChanged");
    char guid[WB_ID_GUID_STR_SIZE], *dn = ldap_get_dn(l, msg);
    struct wb_idkey k;
    size_t pos = 0;
    void *val;

    if (gv && gv[0] && gv[0]->bv_len == WB_ID_GUID_BIN_SIZE) {
        wb_id_guid_to_str((const unsigned char *)gv[0]->bv_val, guid);
        while (wb_idmap_next(dr->groups, &pos, &k, &val)) {
            struct wb_drift_grp *g = val;

            if (g && g->have && !g->stale && strcmp(g->base.guid, guid) == 0) {
                wb_drift_check_deleted(dr, g, dn ? dn : "",
                                       wv && wv[0] ? wv[0]->bv_val : "unknown");
                break; /* the map may have changed */
            }
        }
    }
    ldap_value_free_len(gv);
    ldap_value_free_len(wv);
    ldap_memfree(dn);
}

wb_err_t wb_drift_scan_tombstones(wb_drift_t *dr)
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
    for (msg = ldap_first_entry(l, res); msg; msg = ldap_next_entry(l, msg))
        tombstone(dr, l, msg);
    ldap_msgfree(res);
    return WB_OK;
}
