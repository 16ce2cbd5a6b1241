/*
 * wb_drift_report: the DRIFT lines of the drift watch (docs/drift.md): one structured log line
 * per change (group, DN, kind, attribute, values added and removed, new DN, the originating DC
 * and time where AD gives them, the action), writeback_worker_drift_total{kind}, and the same
 * fields as a record of drift.topic when it is set.
 */
#include "wb_drift_int.h"

#include "wb_log.h"
#include "wb_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define FAC WB_DRIFT_FAC
/* Values named in one DRIFT line; the rest are counted. */
#define LINE_VALUES 20

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

/* Where and when: from replPropertyMetaData when its latest entry is newer than the baseline
 * (an attribute change or a rename), else whenChanged (members: AD keeps their metadata per
 * value, which Samba does not return). */
static void origin(wb_drift_t *dr, const struct wb_drift_grp *g, const struct wb_gstate *cur,
                   char *dc, size_t dcsz, char *when, size_t whensz)
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

void wb_drift_report_one(wb_drift_t *dr, const struct wb_drift_grp *g, struct wb_drift_line *ln)
{
    const char *lv[1] = {ln->kind};

    ln->group = g->id;
    ln->partition = g->partition;
    ln->action = wb_drift_check_repairs(dr, g) ? "repair"
                 : dr->mode == WB_DRIFT_REPAIR ? "paused"
                                               : "audit";
    wb_log(LOG_WARNING, FAC,
           "DRIFT group=%s partition=%d dn=\"%s\" kind=%s attribute=%s added=\"%s\" "
           "removed=\"%s\" new_dn=\"%s\" dc=%s time=%s action=%s",
           ln->group, (int)ln->partition, ln->dn, ln->kind, ln->attr ? ln->attr : "",
           ln->added ? ln->added : "", ln->removed ? ln->removed : "", ln->new_dn ? ln->new_dn : "",
           ln->dc, ln->when, ln->action);
    wb_metrics_inc(dr->m_drift, lv, 1);
    wb_drift_records_put(dr->rec, ln);
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

/* The member changes: no per-value metadata here, so whenChanged and an unknown DC. */
static void report_members(wb_drift_t *dr, const struct wb_drift_grp *g,
                           const struct wb_gstate *cur, const struct wb_gdiff *d)
{
    const char *when = cur->when ? cur->when : "unknown";

    if (d->nadded) {
        char *t = values_text(d->added, d->nadded);
        struct wb_drift_line ln = {.dn = cur->dn,
                                   .kind = "member_add",
                                   .attr = "member",
                                   .added = t,
                                   .dc = "unknown",
                                   .when = when};

        wb_drift_report_one(dr, g, &ln);
        free(t);
    }
    if (d->nremoved) {
        char *t = values_text(d->removed, d->nremoved);
        struct wb_drift_line ln = {.dn = cur->dn,
                                   .kind = "member_remove",
                                   .attr = "member",
                                   .removed = t,
                                   .dc = "unknown",
                                   .when = when};

        wb_drift_report_one(dr, g, &ln);
        free(t);
    }
}

void wb_drift_report_diff(wb_drift_t *dr, const struct wb_drift_grp *g, const struct wb_gstate *cur,
                          const struct wb_gdiff *d)
{
    char dc[256], when[64];
    size_t i;

    origin(dr, g, cur, dc, sizeof(dc), when, sizeof(when));
    if (d->moved || d->renamed) {
        struct wb_drift_line ln = {.dn = g->base.dn,
                                   .kind = d->moved ? "move" : "rename",
                                   .attr = "distinguishedName",
                                   .new_dn = cur->dn,
                                   .dc = dc,
                                   .when = when};

        wb_drift_report_one(dr, g, &ln);
    }
    for (i = 0; i < WB_GSTATE_NATTR; i++)
        if (d->attr[i]) {
            struct wb_drift_line ln = {.dn = cur->dn,
                                       .kind = "attribute",
                                       .attr = wb_gstate_attrs[i],
                                       .added = cur->attr[i],
                                       .removed = g->base.attr[i],
                                       .dc = dc,
                                       .when = when};

            wb_drift_report_one(dr, g, &ln);
        }
    report_members(dr, g, cur, d);
}
