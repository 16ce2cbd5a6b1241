/*
 * provision: on-demand provisioning of one group straight from Graph, reported in the steps
 * of Cloud Sync's "provision on demand": import (the group, its members and their on-prem
 * identities), scope evaluation (with the excluding clause), match (the AD object carrying
 * its anchor) and action (the LDAP operations a worker performs, planned by the worker's own
 * apply code in dry-run mode, read-only). Without --dry-run the group.upsert and
 * group.snapshot events go to topic.events through an idempotent producer, keyed by the
 * group id; the producer's checkpoint is not touched.
 */
#include "ctl.h"
#include "ctl_kafka.h"
#include "wb_apply.h"
#include "wb_kafka.h"
#include "wb_log.h"
#include "wb_map.h"
#include "wb_mem.h"
#include "wb_plan.h"
#include "wb_single.h"
#include "wb_time.h"

#include <ldap.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OPS 64

static void usage(FILE *fp)
{
    fputs("usage: writebackctl [-c FILE] [-X k=v] provision --group OBJECTID [--dry-run] "
          "[--json]\n"
          "\n"
          "On-demand provisioning of one Entra group, straight from Graph, without waiting for\n"
          "the producer's next round. Steps, as in Cloud Sync's provision on demand:\n"
          "  import  GET /v1.0/groups/{id} (the producer's $select), its members, the on-prem\n"
          "          identities of user members (getByIds), the scope of nested groups\n"
          "  scope   the fixed clause (security group, not mail-enabled, not synced from AD,\n"
          "          not Microsoft 365) and scope.mode; an out-of-scope group is refused with\n"
          "          the clause that excludes it, nothing is emitted, exit 1\n"
          "  match   the AD group carrying the anchor msDS-ExternalDirectoryObjectId=Group_<id>\n"
          "  action  the LDAP operations a worker performs (create, modify attributes, rename,\n"
          "          add/remove members), planned read-only with the worker's apply code\n"
          "Then (without --dry-run) group.upsert + group.snapshot chunk(s) are produced to\n"
          "topic.events keyed by the group id (idempotent producer); the workers apply them.\n"
          "The producer's checkpoint is not touched: its next round carries on as before.\n"
          "\n"
          "Options:\n"
          "  --group ID   the group's objectId (required)\n"
          "  --dry-run    print the events and the planned LDAP operations; write nothing to\n"
          "               Kafka or AD (AD is only searched and read)\n"
          "  --json       machine-readable report\n"
          "\n"
          "Needs graph.tenant_id, graph.client_id, graph.client_secret_file (and graph.authority,\n"
          "graph.endpoint, scope.* as the producer has them); the action step needs the ldap.*\n"
          "keys of the workers (skipped with a note when ldap.uri is not set).\n"
          "Exit: 0 provisioned (or planned), 1 out of scope, not found or failed (or the dry\n"
          "run's plan fails, e.g. a name conflict), 2 usage or configuration error.\n",
          fp);
}

/* One planned LDAP operation (or a failure the worker would hit). */
struct op {
    char *kind; /* create, modify, rename, adopt, delete, add-members, remove-members, fail,
                 * skip, dead-letter */
    char *dn;
    char *detail;
    size_t count; /* member operations */
};

struct capture {
    struct op ops[MAX_OPS];
    size_t n;
    char *notes[MAX_OPS]; /* the worker's warnings during planning */
    size_t nnotes;
};

static void capture_free(struct capture *cp)
{
    size_t i;

    for (i = 0; i < cp->n; i++) {
        free(cp->ops[i].kind);
        free(cp->ops[i].dn);
        free(cp->ops[i].detail);
    }
    for (i = 0; i < cp->nnotes; i++)
        free(cp->notes[i]);
    memset(cp, 0, sizeof(*cp));
}

static void add_op(struct capture *cp, const char *kind, const char *dn, const char *detail,
                   size_t count)
{
    size_t i;

    /* member chunks of one group fold into one line */
    if (count > 0)
        for (i = 0; i < cp->n; i++)
            if (strcmp(cp->ops[i].kind, kind) == 0 && strcmp(cp->ops[i].dn, dn) == 0) {
                cp->ops[i].count += count;
                return;
            }
    if (cp->n >= MAX_OPS)
        return;
    cp->ops[cp->n].kind = wb_strdup(kind);
    cp->ops[cp->n].dn = wb_strdup(dn ? dn : "");
    cp->ops[cp->n].detail = detail ? wb_strdup(detail) : NULL;
    cp->ops[cp->n].count = count;
    cp->n++;
}

/* The apply's observer: one planned write. Member chunks of one group fold into one op. */
static void observe(const struct wb_apply_op *op, void *opaque)
{
    struct capture *cp = opaque;

    switch (op->kind) {
    case WB_APPLY_OP_CREATE:
        add_op(cp, "create", op->dn, op->attrs, 0);
        /* The worker's add carries the first chunk of members: show them as their own step. */
        if (op->members > 0)
            add_op(cp, "add-members", op->dn, NULL, op->members);
        break;
    case WB_APPLY_OP_ADD_MEMBERS:
        add_op(cp, "add-members", op->dn, NULL, op->members);
        break;
    case WB_APPLY_OP_REMOVE_MEMBERS:
        add_op(cp, "remove-members", op->dn, NULL, op->members);
        break;
    case WB_APPLY_OP_MODIFY:
        add_op(cp, "modify", op->dn, op->attrs, 0);
        break;
    case WB_APPLY_OP_RENAME:
        add_op(cp, "rename", op->dn, op->attrs, 0);
        break;
    case WB_APPLY_OP_ADOPT:
        add_op(cp, "adopt", op->dn, op->attrs, 0);
        break;
    case WB_APPLY_OP_DELETE:
        add_op(cp, "delete", op->dn, op->attrs, 0);
        break;
    }
}

/* The worker's warnings while planning, shown as notes (the plan itself comes from observe). */
static void sink(int level, const char *fac, const char *line, void *opaque)
{
    struct capture *cp = opaque;

    (void)fac;
    if (level <= LOG_WARNING && cp->nnotes < MAX_OPS)
        cp->notes[cp->nnotes++] = wb_strdup(line);
}

/* The events as JSON lines (lines[0..n)), owned. */
struct lines {
    char **v;
    size_t n;
};

static void lines_split(struct lines *l, char *buf)
{
    char *save = NULL, *tok;

    for (tok = strtok_r(buf, "\n", &save); tok; tok = strtok_r(NULL, "\n", &save)) {
        l->v = wb_realloc(l->v, (l->n + 1) * sizeof(*l->v));
        l->v[l->n++] = wb_strdup(tok);
    }
}

static void lines_free(struct lines *l)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* The match step: the AD object carrying the anchor (filled by plan_ldap). */
struct plan_out {
    bool planned;
    char *match_dn; /* NULL: no object carries the anchor */
    int match_n;
    char *anchor;
};

/* Applies one step in dry-run mode; the observer records its writes, and here what the
 * worker would do besides (fail, dead-letter, skip). Returns 0, or 1 when the worker would
 * fail. */
static int plan_step(wb_apply_t *ap, const struct wb_gplan *g, const struct wb_step *st,
                     struct capture *cp)
{
    struct wb_apply_ctx cx = {g->group, g->partition, g->first_offset, true};
    struct wb_apply_result res;
    int rc = 0;

    if (wb_apply_step(ap, &cx, st, &res) != WB_OK) {
        char *d =
            wb_asprintf("%s (%s%s%s)", res.reason ? res.reason : "failed", wb_err_name(res.err),
                        res.ldap_message ? ": " : "", res.ldap_message ? res.ldap_message : "");

        add_op(cp, "fail", res.matched_dn ? res.matched_dn : "", d, 0);
        free(d);
        rc = 1;
    } else if (res.dead_members && wb_mset_count(res.dead_members) > 0) {
        add_op(cp, "dead-letter", "",
               "nested group member(s) not in AD (member_group_not_found); the other "
               "members are applied",
               wb_mset_count(res.dead_members));
    }
    if (res.err == WB_OK && res.skipped)
        add_op(cp, "skip", res.matched_dn ? res.matched_dn : "",
               res.reason ? res.reason : "skipped", 0);
    wb_apply_result_free(&res);
    return rc;
}

/* Plans every step of plan; matched: an AD group carries the anchor. Returns 0, or 1 at the
 * first step the worker would fail. */
static int plan_steps(wb_apply_t *ap, wb_plan_t *plan, bool matched, struct capture *cp)
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
                rc = plan_step(ap, g, &parts[k], cp);
        }
    }
    wb_mset_destroy(empty);
    return rc;
}

/* Plans the worker's LDAP operations for the events (dry-run apply, its writes seen through
 * the observer). Returns 0 when the plan succeeds, 1 when the worker would fail (a fail op is
 * recorded), -1 when AD could not be read (message in err). */
static int plan_ldap(const wb_conf_t *conf, const char *gid, const struct lines *ev,
                     struct capture *cp, struct plan_out *po, char *err, size_t errsz)
{
    struct wb_ldap_opts ao;
    struct wb_apply_cfg ac = {0};
    struct wb_event *evs = wb_calloc(ev->n + 1, sizeof(*evs));
    struct wb_plan_in *in = wb_calloc(ev->n + 1, sizeof(*in));
    wb_snapstore_t *ss = NULL;
    wb_plan_t *plan = NULL;
    wb_apply_t *ap = NULL;
    wb_ldap_t *ld = NULL;
    size_t i, nin = 0;
    int rc = -1, lrc, level = wb_log_level_parse(wb_conf_get_str(conf, "log.level"));
    char reason[256];

    wb_ldap_opts_from_conf(conf, &ao);
    ac.base_dn = wb_conf_get_str(conf, "ldap.base_dn");
    ac.target_ou = wb_conf_get_str(conf, "ldap.target_ou");
    if (!ac.base_dn || !ac.target_ou || !ao.bind_dn || !ao.password) {
        snprintf(err, errsz,
                 "ldap.bind_dn, ldap.password_file, ldap.base_dn and ldap.target_ou "
                 "are needed to plan the LDAP operations");
        goto out;
    }
    ld = wb_ldap_new(&ao, err, errsz);
    if (!ld)
        goto out;
    ac.soa = wb_conf_get_bool(conf, "mapping.soa");
    ac.dry_run = true; /* never write: the observer's ops are the plan */
    ac.adopt = wb_conf_get_bool(conf, "worker.adopt_writeback_v2");
    ac.keep_unscoped = strcmp(wb_conf_get_str(conf, "worker.out_of_scope"), "keep") == 0;
    ac.read_before_write = wb_conf_get_bool(conf, "worker.read_before_write");
    ac.member_chunk = (int)wb_conf_get_int(conf, "ldap.member_chunk");
    ac.range_window = (int)wb_conf_get_int(conf, "ldap.range_window");
    ap = wb_apply_new(ld, &ac, NULL);
    wb_apply_set_observer(ap, observe, cp);
    po->anchor = wb_map_anchor(gid);
    lrc = wb_apply_find_anchor(ap, po->anchor, &po->match_dn, &po->match_n);
    if (lrc != LDAP_SUCCESS) {
        snprintf(err, errsz, "searching %s for the anchor: %s (%s)", ac.base_dn,
                 ldap_err2string(lrc), wb_ldap_last_error(ld));
        goto out;
    }
    for (i = 0; i < ev->n; i++) {
        if (wb_event_decode(ev->v[i], strlen(ev->v[i]), &evs[i], reason, sizeof(reason)) != WB_OK) {
            snprintf(err, errsz, "event %zu does not decode: %s", i + 1, reason);
            goto out;
        }
        in[nin].partition = 0;
        in[nin].offset = (int64_t)i;
        in[nin].ev = &evs[i];
        nin++;
    }
    ss = wb_plan_snapstore_new();
    plan = wb_plan_build(in, nin, ss);
    /* the worker's warnings are notes of the plan: make sure they are not filtered out */
    wb_log_set_level(level < LOG_WARNING ? LOG_WARNING : level);
    wb_log_set_sink(sink, cp);
    rc = plan_steps(ap, plan, po->match_dn != NULL, cp);
    wb_log_set_sink(NULL, NULL);
    wb_log_set_level(level);
    po->planned = true;
out:
    wb_plan_destroy(plan);
    wb_plan_snapstore_destroy(ss);
    for (i = 0; i < nin; i++)
        wb_event_free(&evs[i]);
    free(evs);
    free(in);
    wb_apply_destroy(ap);
    wb_ldap_destroy(ld);
    return rc;
}

/* Produces the events keyed by gid; fills part and offsets. WB_OK when all were acked. */
static wb_err_t produce(struct ctl *c, const char *gid, const struct lines *ev, int32_t *part,
                        int64_t *first, int64_t *last)
{
    const char *topic = wb_conf_get_str(c->conf, "topic.events");
    struct wb_kafka_delivery *dl = wb_calloc(ev->n + 1, sizeof(*dl));
    rd_kafka_t *rk = ctl_kafka_new(c, RD_KAFKA_PRODUCER);
    struct wb_kafka_header hd[1];
    wb_err_t err = WB_ERR_TRANSIENT;
    char now[32];
    size_t i;

    *part = -1;
    *first = *last = -1;
    if (!rk)
        goto out;
    if (ctl_kafka_partitions(rk, topic) <= 0)
        goto out; /* never auto-create the events topic */
    wb_event_ts_format(wb_time_now_ms(), now);
    hd[0].name = "wb.provision.time";
    hd[0].value = now;
    hd[0].len = strlen(now);
    for (i = 0; i < ev->n; i++) {
        err = wb_kafka_produce(rk, topic, gid, strlen(gid), ev->v[i], strlen(ev->v[i]), hd, 1,
                               &dl[i]);
        if (err != WB_OK)
            goto out;
    }
    err = wb_kafka_flush(rk, 30000);
    if (err != WB_OK) {
        fprintf(stderr, "writebackctl provision: events not acknowledged by the broker\n");
        goto out;
    }
    for (i = 0; i < ev->n; i++) {
        if (!dl[i].done || dl[i].err) {
            fprintf(stderr, "writebackctl provision: event %zu not delivered: %s\n", i + 1,
                    dl[i].done ? rd_kafka_err2str(dl[i].err) : "no delivery report");
            err = WB_ERR_TRANSIENT;
            goto out;
        }
        *part = dl[i].partition;
        if (*first < 0)
            *first = dl[i].offset;
        *last = dl[i].offset;
    }
    err = WB_OK;
out:
    if (rk)
        wb_kafka_destroy(rk);
    free(dl);
    return err;
}

static const char *op_text(const struct op *o, char *buf, size_t sz)
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

struct provision_opts {
    const char *gid;
    int dry;
};

static const struct provision_opts defaults = {NULL, 0};

static const struct ctl_opt options[] = {
    CTL_OPT("--group", CTL_OPT_STR, struct provision_opts, gid),
    CTL_OPT("--group-id", CTL_OPT_STR, struct provision_opts, gid),
    CTL_OPT("--dry-run", CTL_OPT_FLAG, struct provision_opts, dry, .val = 1),
    {.name = NULL},
};

/* The steps' findings, as far as they got. */
struct report {
    char gid[37];
    const char *topic, *result;
    struct wb_single s;
    struct lines ev;
    struct capture cp;
    struct plan_out po;
    char plan_err[1024];
    int32_t part;
    int64_t first, last;
};

static int run(struct ctl *c, const void *opts, void *result, bool *render)
{
    const struct provision_opts *o = opts;
    struct report *r = result;
    bool dry = o->dry, have_ldap;
    char errstr[1024] = "";
    wb_single_t *sg = NULL;
    char round_id[64], ts[WB_EVENT_TS_SIZE];
    struct wb_idkey key;
    char *buf = NULL;
    size_t buflen = 0;
    FILE *mem = NULL;
    int rc = CTL_EXIT_FAIL, prc = 0;
    wb_err_t err;

    wb_single_init(&r->s);
    r->part = -1;
    r->first = r->last = -1;
    r->result = "failed";
    if (!o->gid) {
        rc = ctl_usage_error("provision", "%s--group OBJECTID is required", "");
        goto out;
    }
    if (!wb_idkey_parse(o->gid, &key)) {
        rc = ctl_usage_error("provision", "\"%s\" is not an objectId (GUID)", o->gid);
        goto out;
    }
    wb_idkey_format(&key, r->gid);
    r->topic = wb_conf_get_str(c->conf, "topic.events");

    /* import */
    sg = wb_single_new(c->conf, errstr, sizeof(errstr));
    if (!sg) {
        fprintf(stderr, "writebackctl provision: %s\n", errstr);
        rc = CTL_EXIT_USAGE;
        goto out;
    }
    err = wb_single_read(sg, r->gid, &r->s);
    if (err != WB_OK) {
        fprintf(stderr, "writebackctl provision: reading group %s from Graph failed (%s)\n", r->gid,
                wb_err_name(err));
        goto report;
    }
    if (!r->s.found) {
        r->result = "not_found";
        goto report;
    }
    if (!r->s.in_scope) {
        r->result = "out_of_scope";
        goto report;
    }

    /* events, built by the producer's emitter (printed to memory, then produced as is) */
    mem = open_memstream(&buf, &buflen);
    snprintf(round_id, sizeof(round_id), "provision-%lld", (long long)wb_time_now_ms());
    wb_event_ts_format(wb_time_now_ms(), ts);
    err = wb_single_emit(sg, &r->s, mem, round_id, ts);
    fclose(mem);
    mem = NULL;
    if (err != WB_OK || !buf) {
        fprintf(stderr, "writebackctl provision: building the events failed\n");
        goto report;
    }
    lines_split(&r->ev, buf);
    if (r->ev.n == 0) {
        fprintf(stderr, "writebackctl provision: no valid event for group %s (see the log)\n",
                r->gid);
        goto report;
    }

    /* match and action: planned read-only with the worker's apply in dry-run mode */
    have_ldap = wb_conf_get_str(c->conf, "ldap.uri") != NULL;
    if (have_ldap) {
        prc = plan_ldap(c->conf, r->gid, &r->ev, &r->cp, &r->po, r->plan_err, sizeof(r->plan_err));
        if (prc < 0 && dry) {
            fprintf(stderr, "writebackctl provision: cannot plan the LDAP operations: %s\n",
                    r->plan_err);
            goto report;
        }
    } else {
        snprintf(r->plan_err, sizeof(r->plan_err),
                 "ldap.uri not configured: LDAP operations not planned");
    }

    if (!dry) {
        err = produce(c, r->gid, &r->ev, &r->part, &r->first, &r->last);
        if (err != WB_OK)
            goto report;
        r->result = "produced";
        rc = 0;
    } else {
        r->result = prc > 0 ? "would_fail" : "planned";
        rc = prc > 0 ? CTL_EXIT_FAIL : 0;
    }

report:
    *render = true;
    if (strcmp(r->result, "out_of_scope") == 0) {
        fprintf(stderr, "writebackctl provision: group %s is out of scope: %s; nothing emitted\n",
                r->gid, r->s.reason);
    } else if (strcmp(r->result, "not_found") == 0) {
        fprintf(stderr, "writebackctl provision: group %s does not exist in Graph\n", r->gid);
    }
out:
    if (mem)
        fclose(mem);
    free(buf);
    wb_single_destroy(sg);
    return rc;
}

static cJSON *json(struct ctl *c, const void *opts, const void *result)
{
    const struct provision_opts *opt = opts;
    const struct report *r = result;
    cJSON *doc = cJSON_CreateObject(), *imp, *arr, *o;
    char line[2048];
    size_t i;

    (void)c;
    cJSON_AddStringToObject(doc, "group", r->gid);
    cJSON_AddBoolToObject(doc, "dryRun", opt->dry);
    cJSON_AddStringToObject(doc, "result", r->result);
    cJSON_AddBoolToObject(doc, "found", r->s.found);
    if (r->s.display_name)
        cJSON_AddStringToObject(doc, "displayName", r->s.display_name);
    cJSON_AddBoolToObject(doc, "inScope", r->s.found && r->s.in_scope);
    if (r->s.found && !r->s.in_scope)
        cJSON_AddStringToObject(doc, "reason", r->s.reason);
    else
        cJSON_AddNullToObject(doc, "reason");
    imp = cJSON_AddObjectToObject(doc, "import");
    cJSON_AddNumberToObject(imp, "members", (double)r->s.members);
    cJSON_AddNumberToObject(imp, "usersSynced", (double)r->s.users_synced);
    cJSON_AddNumberToObject(imp, "usersCloudOnly", (double)r->s.users_cloud);
    cJSON_AddNumberToObject(imp, "usersUnresolved", (double)r->s.users_missing);
    cJSON_AddNumberToObject(imp, "groups", (double)r->s.groups);
    cJSON_AddNumberToObject(imp, "groupsInScope", (double)wb_idmap_count(r->s.nested));
    cJSON_AddNumberToObject(imp, "others", (double)r->s.others);
    arr = cJSON_AddArrayToObject(doc, "events");
    for (i = 0; i < r->ev.n; i++) {
        cJSON *e = cJSON_Parse(r->ev.v[i]);

        cJSON_AddItemToArray(arr, e ? e : cJSON_CreateString(r->ev.v[i]));
    }
    if (r->po.planned) {
        o = cJSON_AddObjectToObject(doc, "match");
        cJSON_AddStringToObject(o, "anchor", r->po.anchor);
        if (r->po.match_dn)
            cJSON_AddStringToObject(o, "dn", r->po.match_dn);
        else
            cJSON_AddNullToObject(o, "dn");
        cJSON_AddNumberToObject(o, "count", r->po.match_n);
        arr = cJSON_AddArrayToObject(doc, "ldap");
        for (i = 0; i < r->cp.n; i++) {
            const struct op *op = &r->cp.ops[i];
            cJSON *x = cJSON_CreateObject();

            cJSON_AddStringToObject(x, "op", op->kind);
            cJSON_AddStringToObject(x, "dn", op->dn);
            if (op->detail)
                cJSON_AddStringToObject(x, "detail", op->detail);
            if (op->count)
                cJSON_AddNumberToObject(x, "count", (double)op->count);
            cJSON_AddStringToObject(x, "text", op_text(op, line, sizeof(line)));
            cJSON_AddItemToArray(arr, x);
        }
    } else {
        cJSON_AddNullToObject(doc, "match");
        cJSON_AddNullToObject(doc, "ldap");
    }
    if (r->plan_err[0])
        cJSON_AddStringToObject(doc, "ldapNote", r->plan_err);
    if (r->part >= 0) {
        o = cJSON_AddObjectToObject(doc, "produced");
        cJSON_AddStringToObject(o, "topic", r->topic);
        cJSON_AddNumberToObject(o, "partition", r->part);
        cJSON_AddNumberToObject(o, "firstOffset", (double)r->first);
        cJSON_AddNumberToObject(o, "lastOffset", (double)r->last);
    } else {
        cJSON_AddNullToObject(doc, "produced");
    }
    return doc;
}

/* The import and scope steps. */
static void text_import(struct ctl *c, const struct wb_single *s)
{
    if (!s->found) {
        printf("  import: the group does not exist in Graph (404)\n");
        return;
    }
    printf("  import: read from Graph; %zu member%s: %zu synced user%s, %zu cloud-only "
           "user%s (not provisioned), %zu unresolved, %zu nested group%s (%zu in "
           "scope), %zu other object%s (not provisioned)\n",
           s->members, s->members == 1 ? "" : "s", s->users_synced, s->users_synced == 1 ? "" : "s",
           s->users_cloud, s->users_cloud == 1 ? "" : "s", s->users_missing, s->groups,
           s->groups == 1 ? "" : "s", wb_idmap_count(s->nested), s->others,
           s->others == 1 ? "" : "s");
    if (s->in_scope)
        printf("  scope: in scope (scope.mode=%s)\n", wb_conf_get_str(c->conf, "scope.mode"));
    else
        printf("  scope: OUT OF SCOPE: %s\n", s->reason);
}

static void text(struct ctl *c, const void *opts, const void *result)
{
    bool dry = ((const struct provision_opts *)opts)->dry;
    const struct report *r = result;
    const char *name = r->s.display_name;
    char line[2048];
    size_t i;

    if (!r->s.found && strcmp(r->result, "not_found") != 0)
        return;
    printf("provision group %s%s%s%s%s\n", r->gid, name ? " (\"" : "", name ? name : "",
           name ? "\")" : "", dry ? " [dry run]" : "");
    text_import(c, &r->s);
    if (r->ev.n) {
        printf("  events: %zu for %s (key %s)%s\n", r->ev.n, r->topic, r->gid,
               dry ? ", not produced" : "");
        for (i = 0; i < r->ev.n; i++)
            printf("    %s\n", r->ev.v[i]);
    }
    if (r->po.planned) {
        if (r->po.match_dn)
            printf("  match: %s carries anchor %s%s\n", r->po.match_dn, r->po.anchor,
                   r->po.match_n > 1 ? " (and other objects too: duplicate anchor)" : "");
        else
            printf("  match: no AD group carries anchor %s\n", r->po.anchor);
        printf("  action%s:%s\n", dry ? "" : " (planned; the workers apply it)",
               r->cp.n ? "" : " none (AD already matches)");
        for (i = 0; i < r->cp.n; i++)
            printf("    %s\n", op_text(&r->cp.ops[i], line, sizeof(line)));
        for (i = 0; i < r->cp.nnotes; i++)
            printf("    worker warning: %s\n", r->cp.notes[i]);
    } else if (r->plan_err[0] && r->ev.n) {
        printf("  match/action: %s\n", r->plan_err);
    }
    if (r->part >= 0)
        printf("  produced: %zu event%s to %s partition %d, offsets %lld..%lld\n", r->ev.n,
               r->ev.n == 1 ? "" : "s", r->topic, (int)r->part, (long long)r->first,
               (long long)r->last);
    else if (dry && r->ev.n)
        printf("  dry run: nothing was written to Kafka or AD\n");
}

static void result_free(void *result)
{
    struct report *r = result;

    lines_free(&r->ev);
    capture_free(&r->cp);
    free(r->po.match_dn);
    free(r->po.anchor);
    wb_single_free(&r->s);
}

const struct ctl_cmd ctl_provision_cmd = {
    .name = "provision",
    .summary = "provision one group from Graph now (--dry-run: planned events and LDAP operations)",
    .kafka = true,
    .usage = usage,
    .opt = options,
    .opts_size = sizeof(struct provision_opts),
    .defaults = &defaults,
    .result_size = sizeof(struct report),
    .run = run,
    .text = text,
    .json = json,
    .free = result_free,
};
