/*
 * drift report: compares the owned groups in AD (or one, --group) with the Entra state now,
 * read-only (docs/drift.md, "drift report"). The groups: every anchored group under
 * ldap.target_ou, anchored groups elsewhere under ldap.base_dn whose Entra group is in scope
 * (moved out of the OU), and anchored group tombstones whose Entra group is in scope (deleted
 * in AD). Each is read from Graph as writebackctl provision reads it and planned against AD
 * with the worker's dry-run apply (ctl_plan): the planned writes are the differences. A group
 * in AD that Graph no longer has, or has out of scope, is a difference too. Paused groups are
 * marked. Nothing is written: the apply runs in dry-run mode and only searches and reads.
 */
#include "ctl.h"
#include "ctl_drift.h"
#include "ctl_plan.h"

#include "wb_event.h"
#include "wb_id.h"
#include "wb_idmap.h"
#include "wb_ldap.h"
#include "wb_mem.h"
#include "wb_state.h"
#include "wb_time.h"

#include <ldap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SHOW_DELETED_OID "1.2.840.113556.1.4.417"

/* Where a group was found in AD. */
enum where { IN_OU, ELSEWHERE, TOMBSTONE, NAMED };

struct cand {
    char id[WB_ID_GUID_STR_SIZE];
    char *dn;
    enum where where;
};

struct cands {
    struct cand *v;
    size_t n, cap;
    wb_idmap_t *seen;
    const char *target_ou;
};

static void cand_add(struct cands *cs, const char *anchor, const char *dn, enum where w)
{
    struct wb_idkey k;
    bool created;

    if (strncmp(anchor, WB_LDAP_ANCHOR_PREFIX, strlen(WB_LDAP_ANCHOR_PREFIX)) != 0 ||
        !wb_idkey_parse(anchor + strlen(WB_LDAP_ANCHOR_PREFIX), &k))
        return;
    wb_idmap_put(cs->seen, &k, &created);
    if (!created)
        return; /* a live group wins over its tombstones (searched first) */
    if (cs->n == cs->cap) {
        cs->cap = cs->cap ? 2 * cs->cap : 64;
        cs->v = wb_realloc(cs->v, cs->cap * sizeof(*cs->v));
    }
    wb_idkey_format(&k, cs->v[cs->n].id);
    cs->v[cs->n].dn = wb_strdup(dn);
    cs->v[cs->n].where = w;
    cs->n++;
}

/* True when dn is ou or below it (case-insensitive, as AD compares DNs). */
static bool under(const char *dn, const char *ou)
{
    size_t n = strlen(dn), m = strlen(ou);

    return n >= m && strcasecmp(dn + n - m, ou) == 0 && (n == m || dn[n - m - 1] == ',');
}

static wb_err_t live_cb(const struct wb_ldap_entry *e, void *opaque)
{
    struct cands *cs = opaque;
    const struct wb_ldap_val *v = wb_ldap_entry_get(e, WB_LDAP_ANCHOR_ATTR);

    if (v)
        cand_add(cs, v->data, e->dn, under(e->dn, cs->target_ou) ? IN_OU : ELSEWHERE);
    return WB_OK;
}

/* Anchored group tombstones last seen under ldap.target_ou (Samba keeps the anchor on them;
 * Windows may not, then a group deleted in AD is found only with --group). */
static int tombstones(wb_ldap_t *ld, const char *base, struct cands *cs)
{
    static const char *const attrs[] = {WB_LDAP_ANCHOR_ATTR, "lastKnownParent", NULL};
    LDAPControl show = {SHOW_DELETED_OID, {0, NULL}, 1};
    LDAPControl *ctrls[] = {&show, NULL};
    struct timeval tv = {60, 0};
    LDAPMessage *res = NULL, *msg;
    LDAP *l = wb_ldap_handle(ld);
    int rc;

    if (!l)
        return -1;
    rc = ldap_search_ext_s(l, base, LDAP_SCOPE_SUBTREE,
                           "(&(objectClass=group)(isDeleted=TRUE)(" WB_LDAP_ANCHOR_ATTR
                           "=" WB_LDAP_ANCHOR_PREFIX "*))",
                           (char **)attrs, 0, ctrls, NULL, &tv, 0, &res);
    if (rc != LDAP_SUCCESS) {
        fprintf(stderr, "writebackctl drift report: searching group tombstones: %s\n",
                ldap_err2string(rc));
        ldap_msgfree(res);
        return -1;
    }
    for (msg = ldap_first_entry(l, res); msg; msg = ldap_next_entry(l, msg)) {
        struct berval **v = ldap_get_values_len(l, msg, WB_LDAP_ANCHOR_ATTR);
        struct berval **p = ldap_get_values_len(l, msg, "lastKnownParent");
        char *dn = ldap_get_dn(l, msg), *parent = NULL;

        if (p && p[0])
            parent = wb_strndup(p[0]->bv_val, p[0]->bv_len);
        if (v && v[0] && parent && under(parent, cs->target_ou)) {
            char *a = wb_strndup(v[0]->bv_val, v[0]->bv_len);

            cand_add(cs, a, dn ? dn : "", TOMBSTONE);
            free(a);
        }
        free(parent);
        ldap_value_free_len(v);
        ldap_value_free_len(p);
        ldap_memfree(dn);
    }
    ldap_msgfree(res);
    return 0;
}

/* The groups to compare: one (--group), or every anchored group in AD. -1 on LDAP failure. */
static int candidates(struct ctl *c, wb_ldap_t *ld, const char *group, struct cands *cs)
{
    static const char *const attrs[] = {WB_LDAP_ANCHOR_ATTR, NULL};
    const char *base = wb_conf_get_str(c->conf, "ldap.base_dn");

    cs->seen = wb_idmap_new();
    cs->target_ou = wb_conf_get_str(c->conf, "ldap.target_ou");
    if (group) {
        char *a = wb_asprintf("%s%s", WB_LDAP_ANCHOR_PREFIX, group);

        cand_add(cs, a, "", NAMED);
        free(a);
        return 0;
    }
    if (wb_ldap_search_paged(ld, base, WB_LDAP_SCOPE_SUB,
                             "(&(objectClass=group)(" WB_LDAP_ANCHOR_ATTR "=" WB_LDAP_ANCHOR_PREFIX
                             "*))",
                             attrs, 500, live_cb, cs) != WB_OK) {
        fprintf(stderr, "writebackctl drift report: searching the anchored groups under %s: %s\n",
                base, wb_ldap_last_error(ld));
        return -1;
    }
    return tombstones(ld, base, cs);
}

static void pause_cb(const char *group, int64_t until, void *opaque)
{
    struct ctl_drift_report *rep = opaque;
    size_t i;

    for (i = 0; i < rep->n; i++)
        if (strcmp(rep->v[i].id, group) == 0 && until > rep->now)
            rep->v[i].paused_until = until;
}

/* The state of a group Graph has in scope, from its plan. */
static const char *plan_state(const struct ctl_drift_group *g, int prc)
{
    if (prc < 0)
        return "error";
    if (g->plan.n == 0)
        return "equal";
    if (!g->plan.match_dn)
        return "missing_in_ad";
    return prc > 0 ? "would_fail" : "differs";
}

/* Compares one candidate with Entra: Graph's group, then the plan against AD. */
static void compare(wb_single_t *sg, ctl_planner_t *pl, const struct cand *cd,
                    struct ctl_drift_group *g)
{
    struct wb_single s;
    struct ctl_plan_lines ev = {0};
    char err[1024] = "";
    wb_err_t e;

    memcpy(g->id, cd->id, sizeof(g->id));
    g->ad_dn = cd->dn[0] ? wb_strdup(cd->dn) : NULL;
    g->tombstone = cd->where == TOMBSTONE;
    g->elsewhere = cd->where == ELSEWHERE;
    wb_single_init(&s);
    e = wb_single_read(sg, cd->id, &s);
    if (e != WB_OK) {
        g->state = "error";
        g->reason = wb_asprintf("reading the group from Graph failed (%s)", wb_err_name(e));
    } else if (!s.found || !s.in_scope) {
        /* in AD, no longer in Entra or in scope; not ours when outside the OU or deleted */
        bool ours = cd->where == IN_OU || (cd->where == NAMED && cd->dn[0]);

        g->state = cd->where == NAMED && !ours ? "absent"
                   : !ours                     ? "skip"
                   : !s.found                  ? "not_in_entra"
                                               : "out_of_scope";
        g->reason = wb_strdup(s.found ? s.reason : "Graph does not know the group (404)");
    } else {
        g->display_name = s.display_name ? wb_strdup(s.display_name) : NULL;
        if (ctl_plan_events(sg, &s, "drift report", &ev) != 0) {
            g->state = "error";
            g->reason = wb_strdup("no event could be built for the group");
        } else {
            int prc = ctl_plan_group(pl, cd->id, &ev, &g->plan, err, sizeof(err));

            g->state = plan_state(g, prc);
            if (prc < 0)
                g->reason = wb_strdup(err);
        }
    }
    ctl_plan_lines_free(&ev);
    wb_single_free(&s);
}

/* For --group: where the group is in AD (its DN), so that a missing one is told apart. */
static void locate(ctl_planner_t *pl, struct cands *cs)
{
    struct ctl_plan p = {0};
    struct ctl_plan_lines none = {0};
    char err[256];

    /* the match step alone (no events): the anchor's DN */
    if (ctl_plan_group(pl, cs->v[0].id, &none, &p, err, sizeof(err)) >= 0 && p.match_dn) {
        free(cs->v[0].dn);
        cs->v[0].dn = wb_strdup(p.match_dn);
    }
    ctl_plan_free(&p);
}

static void cands_free(struct cands *cs)
{
    size_t i;

    for (i = 0; i < cs->n; i++)
        free(cs->v[i].dn);
    free(cs->v);
    wb_idmap_destroy(cs->seen, NULL);
}

/* Compares every candidate; fills rep (the groups that are ours). */
static void compare_all(wb_single_t *sg, ctl_planner_t *pl, struct cands *cs,
                        struct ctl_drift_report *rep)
{
    size_t i;

    rep->v = wb_calloc(cs->n + 1, sizeof(*rep->v));
    for (i = 0; i < cs->n; i++) {
        struct ctl_drift_group *g = &rep->v[rep->n];

        compare(sg, pl, &cs->v[i], g);
        if (strcmp(g->state, "skip") == 0) {
            ctl_drift_group_free(g);
            rep->skipped++;
            continue;
        }
        rep->n++;
        if (strcmp(g->state, "error") == 0)
            rep->errors++;
        else if (strcmp(g->state, "equal") != 0 && strcmp(g->state, "absent") != 0)
            rep->differing++;
    }
}

int ctl_drift_report(struct ctl *c, const char *group, struct ctl_drift_report *rep)
{
    char err[1024] = "";
    struct cands cs = {0};
    wb_single_t *sg = NULL;
    ctl_planner_t *pl = NULL;
    int rc = CTL_DRIFT_REPORT_ERROR;
    int64_t t0 = wb_time_now_ms();

    rep->now = t0;
    sg = wb_single_new(c->conf, err, sizeof(err));
    pl = sg ? ctl_plan_open(c->conf, err, sizeof(err)) : NULL;
    if (!pl) {
        fprintf(stderr, "writebackctl drift report: %s\n", err);
        rc = CTL_EXIT_USAGE;
        goto out;
    }
    if (candidates(c, ctl_plan_ldap(pl), group, &cs) != 0)
        goto out;
    if (group)
        locate(pl, &cs);
    compare_all(sg, pl, &cs, rep);
    if (ctl_drift_pauses(c, "report", pause_cb, rep) != CTL_EXIT_OK)
        rep->errors++;
    rep->seconds = (double)(wb_time_now_ms() - t0) / 1000.0;
    rc = rep->errors ? CTL_DRIFT_REPORT_ERROR : rep->differing ? CTL_EXIT_FAIL : CTL_EXIT_OK;
out:
    cands_free(&cs);
    ctl_plan_close(pl);
    wb_single_destroy(sg);
    return rc;
}

void ctl_drift_group_free(struct ctl_drift_group *g)
{
    free(g->ad_dn);
    free(g->display_name);
    free(g->reason);
    ctl_plan_free(&g->plan);
    memset(g, 0, sizeof(*g));
}

void ctl_drift_report_free(struct ctl_drift_report *rep)
{
    size_t i;

    for (i = 0; i < rep->n; i++)
        ctl_drift_group_free(&rep->v[i]);
    free(rep->v);
    memset(rep, 0, sizeof(*rep));
}

/* ------------------------------------------------------------------ output */

static void fmt_until(int64_t ms, char *out, size_t outsz)
{
    char ts[WB_EVENT_TS_SIZE];

    wb_event_ts_format(ms, ts);
    snprintf(out, outsz, "%s", ts);
}

static const char *state_text(const struct ctl_drift_group *g)
{
    if (strcmp(g->state, "differs") == 0)
        return g->elsewhere ? "differs (moved out of ldap.target_ou)" : "differs";
    if (strcmp(g->state, "missing_in_ad") == 0)
        return g->tombstone ? "missing in AD (deleted there)" : "missing in AD";
    if (strcmp(g->state, "would_fail") == 0)
        return "differs, and the worker would fail to repair it";
    if (strcmp(g->state, "not_in_entra") == 0)
        return "in AD, no longer in Entra";
    if (strcmp(g->state, "out_of_scope") == 0)
        return "in AD, out of scope in Entra";
    if (strcmp(g->state, "absent") == 0)
        return "neither in AD nor in scope in Entra";
    return g->state;
}

void ctl_drift_report_text(const struct ctl_drift_report *rep)
{
    char line[2048], until[32];
    size_t i, j;

    for (i = 0; i < rep->n; i++) {
        const struct ctl_drift_group *g = &rep->v[i];

        if (strcmp(g->state, "equal") == 0)
            continue;
        printf("%s%s%s%s: %s", g->id, g->display_name ? " \"" : "",
               g->display_name ? g->display_name : "", g->display_name ? "\"" : "", state_text(g));
        if (g->paused_until) {
            fmt_until(g->paused_until, until, sizeof(until));
            printf(" [paused until %s]", until);
        }
        printf("\n");
        if (g->ad_dn)
            printf("    in AD: %s\n", g->ad_dn);
        if (g->reason)
            printf("    %s\n", g->reason);
        for (j = 0; j < g->plan.n; j++)
            printf("    to do: %s\n", ctl_plan_op_text(&g->plan.ops[j], line, sizeof(line)));
        for (j = 0; j < g->plan.nnotes; j++)
            printf("    worker warning: %s\n", g->plan.notes[j]);
    }
    printf("%zu group%s compared with Entra in %.1f s: %zu differ%s, %zu equal%s%s\n", rep->n,
           rep->n == 1 ? "" : "s", rep->seconds, rep->differing, rep->differing == 1 ? "s" : "",
           rep->n - rep->differing - rep->errors, rep->errors ? ", errors: " : "",
           rep->errors ? "see above" : "");
    if (rep->skipped)
        printf("(%zu anchored group%s outside ldap.target_ou not in scope in Entra: not ours, "
               "not compared)\n",
               rep->skipped, rep->skipped == 1 ? "" : "s");
}

static cJSON *group_json(const struct ctl_drift_group *g)
{
    cJSON *o = cJSON_CreateObject();
    char until[32];

    cJSON_AddStringToObject(o, "group", g->id);
    cJSON_AddStringToObject(o, "state", g->state);
    if (g->display_name)
        cJSON_AddStringToObject(o, "displayName", g->display_name);
    if (g->ad_dn)
        cJSON_AddStringToObject(o, "dn", g->ad_dn);
    else
        cJSON_AddNullToObject(o, "dn");
    cJSON_AddBoolToObject(o, "deletedInAD", g->tombstone);
    cJSON_AddBoolToObject(o, "outsideTargetOU", g->elsewhere);
    cJSON_AddBoolToObject(o, "paused", g->paused_until != 0);
    if (g->paused_until) {
        fmt_until(g->paused_until, until, sizeof(until));
        cJSON_AddStringToObject(o, "pausedUntil", until);
    }
    if (g->reason)
        cJSON_AddStringToObject(o, "reason", g->reason);
    cJSON_AddItemToObject(o, "ldap", ctl_plan_ops_json(&g->plan));
    return o;
}

cJSON *ctl_drift_report_json(const struct ctl_drift_report *rep)
{
    cJSON *doc = cJSON_CreateObject(), *arr;
    size_t i;

    cJSON_AddNumberToObject(doc, "compared", (double)rep->n);
    cJSON_AddNumberToObject(doc, "differing", (double)rep->differing);
    cJSON_AddNumberToObject(doc, "errors", (double)rep->errors);
    cJSON_AddNumberToObject(doc, "notOurs", (double)rep->skipped);
    cJSON_AddNumberToObject(doc, "seconds", rep->seconds);
    arr = cJSON_AddArrayToObject(doc, "groups");
    for (i = 0; i < rep->n; i++)
        cJSON_AddItemToArray(arr, group_json(&rep->v[i]));
    return doc;
}
