/*
 * ctl_plan: one group planned against AD, read-only (ctl_plan.h): the match and action steps
 * of writebackctl provision, and the comparison of writebackctl drift report.
 */
#include "ctl_plan.h"

#include "wb_apply.h"
#include "wb_log.h"
#include "wb_map.h"
#include "wb_mem.h"
#include "wb_plan.h"
#include "wb_time.h"

#include <ldap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ctl_planner_s {
    wb_ldap_t *ld;
    wb_apply_t *ap;
    int level; /* log.level */
};

void ctl_plan_free(struct ctl_plan *p)
{
    size_t i;

    for (i = 0; i < p->n; i++) {
        free(p->ops[i].kind);
        free(p->ops[i].dn);
        free(p->ops[i].detail);
    }
    for (i = 0; i < p->nnotes; i++)
        free(p->notes[i]);
    free(p->match_dn);
    free(p->anchor);
    memset(p, 0, sizeof(*p));
}

void ctl_plan_lines_free(struct ctl_plan_lines *l)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static void lines_split(struct ctl_plan_lines *l, char *buf)
{
    char *save = NULL, *tok;

    for (tok = strtok_r(buf, "\n", &save); tok; tok = strtok_r(NULL, "\n", &save)) {
        l->v = wb_realloc(l->v, (l->n + 1) * sizeof(*l->v));
        l->v[l->n++] = wb_strdup(tok);
    }
}

int ctl_plan_events(wb_single_t *sg, const struct wb_single *s, const char *cmd,
                    struct ctl_plan_lines *out)
{
    char round_id[64], ts[WB_EVENT_TS_SIZE];
    char *buf = NULL;
    size_t buflen = 0;
    FILE *mem = open_memstream(&buf, &buflen);
    wb_err_t err;
    char *sp;

    /* printed to memory by the producer's emitter, then split into lines */
    snprintf(round_id, sizeof(round_id), "%s-%lld", cmd, (long long)wb_time_now_ms());
    while ((sp = strchr(round_id, ' '))) /* a round id has no space ("drift report") */
        *sp = '-';
    wb_event_ts_format(wb_time_now_ms(), ts);
    err = wb_single_emit(sg, s, mem, round_id, ts);
    fclose(mem);
    if (err != WB_OK || !buf) {
        fprintf(stderr, "writebackctl %s: building the events of group %s failed\n", cmd, s->id);
        free(buf);
        return -1;
    }
    lines_split(out, buf);
    free(buf);
    if (out->n == 0) {
        fprintf(stderr, "writebackctl %s: no valid event for group %s (see the log)\n", cmd, s->id);
        return -1;
    }
    return 0;
}

static void add_op(struct ctl_plan *p, const char *kind, const char *dn, const char *detail,
                   size_t count)
{
    size_t i;

    /* member chunks of one group fold into one line */
    if (count > 0)
        for (i = 0; i < p->n; i++)
            if (strcmp(p->ops[i].kind, kind) == 0 && strcmp(p->ops[i].dn, dn) == 0) {
                p->ops[i].count += count;
                return;
            }
    if (p->n >= CTL_PLAN_MAX_OPS)
        return;
    p->ops[p->n].kind = wb_strdup(kind);
    p->ops[p->n].dn = wb_strdup(dn ? dn : "");
    p->ops[p->n].detail = detail ? wb_strdup(detail) : NULL;
    p->ops[p->n].count = count;
    p->n++;
}

/* The apply's observer: one planned write. Member chunks of one group fold into one op. */
static void observe(const struct wb_apply_op *op, void *opaque)
{
    struct ctl_plan *p = opaque;

    switch (op->kind) {
    case WB_APPLY_OP_CREATE:
        add_op(p, "create", op->dn, op->attrs, 0);
        /* The worker's add carries the first chunk of members: show them as their own step. */
        if (op->members > 0)
            add_op(p, "add-members", op->dn, NULL, op->members);
        break;
    case WB_APPLY_OP_ADD_MEMBERS:
        add_op(p, "add-members", op->dn, NULL, op->members);
        break;
    case WB_APPLY_OP_REMOVE_MEMBERS:
        add_op(p, "remove-members", op->dn, NULL, op->members);
        break;
    case WB_APPLY_OP_MODIFY:
        add_op(p, "modify", op->dn, op->attrs, 0);
        break;
    case WB_APPLY_OP_RENAME:
        add_op(p, "rename", op->dn, op->attrs, 0);
        break;
    case WB_APPLY_OP_ADOPT:
        add_op(p, "adopt", op->dn, op->attrs, 0);
        break;
    case WB_APPLY_OP_DELETE:
        add_op(p, "delete", op->dn, op->attrs, 0);
        break;
    }
}

/* The worker's warnings while planning, shown as notes (the plan itself comes from observe). */
static void sink(int level, const char *fac, const char *line, void *opaque)
{
    struct ctl_plan *p = opaque;

    (void)fac;
    if (level <= LOG_WARNING && p->nnotes < CTL_PLAN_MAX_OPS)
        p->notes[p->nnotes++] = wb_strdup(line);
}

/* Applies one step in dry-run mode; the observer records its writes, and here what the
 * worker would do besides (fail, dead-letter, skip). Returns 0, or 1 when the worker would
 * fail. */
static int plan_step(wb_apply_t *ap, const struct wb_gplan *g, const struct wb_step *st,
                     struct ctl_plan *p)
{
    struct wb_apply_ctx cx = {g->group, g->partition, g->first_offset, true};
    struct wb_apply_result res;
    int rc = 0;

    if (wb_apply_step(ap, &cx, st, &res) != WB_OK) {
        char *d =
            wb_asprintf("%s (%s%s%s)", res.reason ? res.reason : "failed", wb_err_name(res.err),
                        res.ldap_message ? ": " : "", res.ldap_message ? res.ldap_message : "");

        add_op(p, "fail", res.matched_dn ? res.matched_dn : "", d, 0);
        free(d);
        rc = 1;
    } else if (res.dead_members && wb_mset_count(res.dead_members) > 0) {
        add_op(p, "dead-letter", "",
               "nested group member(s) not in AD (member_group_not_found); the other "
               "members are applied",
               wb_mset_count(res.dead_members));
    }
    if (res.err == WB_OK && res.skipped)
        add_op(p, "skip", res.matched_dn ? res.matched_dn : "", res.reason ? res.reason : "skipped",
               0);
    wb_apply_result_free(&res);
    return rc;
}

/* Plans every step of plan; matched: an AD group carries the anchor. Returns 0, or 1 at the
 * first step the worker would fail. */
static int plan_steps(wb_apply_t *ap, wb_plan_t *plan, bool matched, struct ctl_plan *p)
{
    wb_mset_t *empty = wb_mset_new();
    size_t i, j, k;
    int rc = 0;

    for (i = 0; i < wb_plan_count(plan) && rc == 0; i++) {
        struct wb_gplan *g = wb_plan_get(plan, i);

        for (j = 0; j < g->nsteps && rc == 0; j++) {
            struct wb_step parts[2];
            size_t np = 1;

            /* An existing group is planned in two steps, attributes then members, so that
             * the member read happens at its current DN: in a dry run a planned rename is not
             * performed, and the apply would read the members at the new, absent DN. */
            parts[0] = g->steps[j];
            if (g->steps[j].kind == WB_STEP_SYNC && g->steps[j].attrs && matched) {
                parts[1] = g->steps[j];
                parts[0].delta = empty;
                parts[0].desired = NULL;
                parts[0].snapshot = NULL;
                parts[0].snapshot_incomplete = false;
                parts[1].attrs = NULL;
                np = 2;
            }
            for (k = 0; k < np && rc == 0; k++)
                rc = plan_step(ap, g, &parts[k], p);
        }
    }
    wb_mset_destroy(empty);
    return rc;
}

ctl_planner_t *ctl_plan_open(const wb_conf_t *conf, char *err, size_t errsz)
{
    struct wb_ldap_opts ao;
    struct wb_apply_cfg ac = {0};
    ctl_planner_t *pl;
    wb_ldap_t *ld;

    wb_ldap_opts_from_conf(conf, &ao);
    ac.base_dn = wb_conf_get_str(conf, "ldap.base_dn");
    ac.target_ou = wb_conf_get_str(conf, "ldap.target_ou");
    if (!ac.base_dn || !ac.target_ou || !ao.bind_dn || !ao.password) {
        snprintf(err, errsz,
                 "ldap.bind_dn, ldap.password_file, ldap.base_dn and ldap.target_ou "
                 "are needed to plan the LDAP operations");
        return NULL;
    }
    ld = wb_ldap_new(&ao, err, errsz);
    if (!ld)
        return NULL;
    ac.soa = wb_conf_get_bool(conf, "mapping.soa");
    ac.dry_run = true; /* never write: the observer's ops are the plan */
    ac.adopt = wb_conf_get_bool(conf, "worker.adopt_writeback_v2");
    ac.keep_unscoped = strcmp(wb_conf_get_str(conf, "worker.out_of_scope"), "keep") == 0;
    ac.read_before_write = wb_conf_get_bool(conf, "worker.read_before_write");
    ac.member_chunk = (int)wb_conf_get_int(conf, "ldap.member_chunk");
    ac.range_window = (int)wb_conf_get_int(conf, "ldap.range_window");
    pl = wb_calloc(1, sizeof(*pl));
    pl->ld = ld;
    pl->ap = wb_apply_new(ld, &ac, NULL);
    pl->level = wb_log_level_parse(wb_conf_get_str(conf, "log.level"));
    return pl;
}

void ctl_plan_close(ctl_planner_t *pl)
{
    if (!pl)
        return;
    wb_apply_destroy(pl->ap);
    wb_ldap_destroy(pl->ld);
    free(pl);
}

wb_ldap_t *ctl_plan_ldap(ctl_planner_t *pl)
{
    return pl->ld;
}

/* The events decoded into the plan's input (evs and in hold ev->n entries). */
static int decode(const struct ctl_plan_lines *ev, struct wb_event *evs, struct wb_plan_in *in,
                  size_t *nin, char *err, size_t errsz)
{
    char reason[256];
    size_t i;

    for (i = 0; i < ev->n; i++) {
        if (wb_event_decode(ev->v[i], strlen(ev->v[i]), &evs[i], reason, sizeof(reason)) != WB_OK) {
            snprintf(err, errsz, "event %zu does not decode: %s", i + 1, reason);
            return -1;
        }
        in[i].partition = 0;
        in[i].offset = (int64_t)i;
        in[i].ev = &evs[i];
        *nin = i + 1;
    }
    return 0;
}

int ctl_plan_group(ctl_planner_t *pl, const char *gid, const struct ctl_plan_lines *ev,
                   struct ctl_plan *p, char *err, size_t errsz)
{
    struct wb_event *evs = wb_calloc(ev->n + 1, sizeof(*evs));
    struct wb_plan_in *in = wb_calloc(ev->n + 1, sizeof(*in));
    wb_snapstore_t *ss = NULL;
    wb_plan_t *plan = NULL;
    size_t i, nin = 0;
    int rc = -1, lrc;

    wb_apply_set_observer(pl->ap, observe, p);
    p->anchor = wb_map_anchor(gid);
    lrc = wb_apply_find_anchor(pl->ap, p->anchor, &p->match_dn, &p->match_n);
    if (lrc != LDAP_SUCCESS) {
        snprintf(err, errsz, "searching for the anchor %s: %s (%s)", p->anchor,
                 ldap_err2string(lrc), wb_ldap_last_error(pl->ld));
        goto out;
    }
    if (decode(ev, evs, in, &nin, err, errsz) != 0)
        goto out;
    ss = wb_plan_snapstore_new();
    plan = wb_plan_build(in, nin, ss);
    /* the worker's warnings are notes of the plan: make sure they are not filtered out */
    wb_log_set_level(pl->level < LOG_WARNING ? LOG_WARNING : pl->level);
    wb_log_set_sink(sink, p);
    rc = plan_steps(pl->ap, plan, p->match_dn != NULL, p);
    wb_log_set_sink(NULL, NULL);
    wb_log_set_level(pl->level);
    p->planned = true;
out:
    wb_apply_set_observer(pl->ap, NULL, NULL);
    wb_plan_destroy(plan);
    wb_plan_snapstore_destroy(ss);
    for (i = 0; i < nin; i++)
        wb_event_free(&evs[i]);
    free(evs);
    free(in);
    return rc;
}

const char *ctl_plan_op_text(const struct ctl_plan_op *o, char *buf, size_t sz)
{
    if (strcmp(o->kind, "create") == 0)
        snprintf(buf, sz, "create %s", o->dn);
    else if (strcmp(o->kind, "modify") == 0)
        snprintf(buf, sz, "modify %s on %s", o->detail ? o->detail : "", o->dn);
    else if (strcmp(o->kind, "rename") == 0)
        snprintf(buf, sz, "rename %s to %s", o->dn, o->detail ? o->detail : "");
    else if (strcmp(o->kind, "add-members") == 0)
        snprintf(buf, sz, "add %zu member%s to %s", o->count, o->count == 1 ? "" : "s", o->dn);
    else if (strcmp(o->kind, "remove-members") == 0)
        snprintf(buf, sz, "remove %zu member%s from %s", o->count, o->count == 1 ? "" : "s", o->dn);
    else if (strcmp(o->kind, "fail") == 0)
        snprintf(buf, sz, "the worker would fail: %s%s%s", o->detail ? o->detail : "",
                 o->dn[0] ? " at " : "", o->dn);
    else if (strcmp(o->kind, "dead-letter") == 0)
        snprintf(buf, sz, "dead-letter %zu %s", o->count, o->detail ? o->detail : "");
    else if (strcmp(o->kind, "skip") == 0)
        snprintf(buf, sz, "the worker would leave it alone: %s %s", o->detail ? o->detail : "",
                 o->dn);
    else
        snprintf(buf, sz, "%s %s%s%s", o->kind, o->dn, o->detail ? " " : "",
                 o->detail ? o->detail : "");
    return buf;
}

cJSON *ctl_plan_ops_json(const struct ctl_plan *p)
{
    cJSON *arr = cJSON_CreateArray();
    char line[2048];
    size_t i;

    for (i = 0; i < p->n; i++) {
        const struct ctl_plan_op *op = &p->ops[i];
        cJSON *x = cJSON_CreateObject();

        cJSON_AddStringToObject(x, "op", op->kind);
        cJSON_AddStringToObject(x, "dn", op->dn);
        if (op->detail)
            cJSON_AddStringToObject(x, "detail", op->detail);
        if (op->count)
            cJSON_AddNumberToObject(x, "count", (double)op->count);
        cJSON_AddStringToObject(x, "text", ctl_plan_op_text(op, line, sizeof(line)));
        cJSON_AddItemToArray(arr, x);
    }
    return arr;
}
