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
#include "ctl_plan.h"
#include "wb_event.h"
#include "wb_kafka.h"
#include "wb_mem.h"
#include "wb_single.h"
#include "wb_time.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Produces the events keyed by gid; fills part and offsets. WB_OK when all were acked. */
static wb_err_t produce(struct ctl *c, const char *gid, const struct ctl_plan_lines *ev,
                        int32_t *part, int64_t *first, int64_t *last)
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
    struct ctl_plan_lines ev;
    struct ctl_plan po;
    char plan_err[1024];
    int32_t part;
    int64_t first, last;
};

/* The match and action steps: planned read-only with the worker's apply in dry-run mode.
 * Returns 0 planned, 1 the worker would fail, -1 not planned (reason in r->plan_err). */
static int plan(struct ctl *c, struct report *r)
{
    ctl_planner_t *pl;
    int prc;

    if (!wb_conf_get_str(c->conf, "ldap.uri")) {
        snprintf(r->plan_err, sizeof(r->plan_err),
                 "ldap.uri not configured: LDAP operations not planned");
        return -1;
    }
    pl = ctl_plan_open(c->conf, r->plan_err, sizeof(r->plan_err));
    if (!pl)
        return -1;
    prc = ctl_plan_group(pl, r->gid, &r->ev, &r->po, r->plan_err, sizeof(r->plan_err));
    ctl_plan_close(pl);
    return prc;
}

/* The import step and the events. Returns 0 when there are events to plan and produce; else
 * the exit code, with r->result saying why. */
static int import(struct ctl *c, struct report *r, wb_single_t **sg)
{
    char errstr[1024] = "";
    wb_err_t err;

    *sg = wb_single_new(c->conf, errstr, sizeof(errstr));
    if (!*sg) {
        fprintf(stderr, "writebackctl provision: %s\n", errstr);
        return CTL_EXIT_USAGE;
    }
    err = wb_single_read(*sg, r->gid, &r->s);
    if (err != WB_OK) {
        fprintf(stderr, "writebackctl provision: reading group %s from Graph failed (%s)\n", r->gid,
                wb_err_name(err));
        return CTL_EXIT_FAIL;
    }
    if (!r->s.found) {
        r->result = "not_found";
        fprintf(stderr, "writebackctl provision: group %s does not exist in Graph\n", r->gid);
        return CTL_EXIT_FAIL;
    }
    if (!r->s.in_scope) {
        r->result = "out_of_scope";
        fprintf(stderr, "writebackctl provision: group %s is out of scope: %s; nothing emitted\n",
                r->gid, r->s.reason);
        return CTL_EXIT_FAIL;
    }
    if (ctl_plan_events(*sg, &r->s, "provision", &r->ev) != 0)
        return CTL_EXIT_FAIL;
    return 0;
}

static int run(struct ctl *c, const void *opts, void *result, bool *render)
{
    const struct provision_opts *o = opts;
    struct report *r = result;
    wb_single_t *sg = NULL;
    struct wb_idkey key;
    int rc, prc;

    wb_single_init(&r->s);
    r->part = -1;
    r->first = r->last = -1;
    r->result = "failed";
    if (!o->gid)
        return ctl_usage_error("provision", "%s--group OBJECTID is required", "");
    if (!wb_idkey_parse(o->gid, &key))
        return ctl_usage_error("provision", "\"%s\" is not an objectId (GUID)", o->gid);
    wb_idkey_format(&key, r->gid);
    r->topic = wb_conf_get_str(c->conf, "topic.events");
    rc = import(c, r, &sg);
    *render = rc != CTL_EXIT_USAGE;
    if (rc != 0)
        goto out;
    prc = plan(c, r);
    rc = CTL_EXIT_FAIL;
    if (prc < 0 && o->dry && wb_conf_get_str(c->conf, "ldap.uri")) {
        fprintf(stderr, "writebackctl provision: cannot plan the LDAP operations: %s\n",
                r->plan_err);
    } else if (!o->dry) {
        if (produce(c, r->gid, &r->ev, &r->part, &r->first, &r->last) == WB_OK) {
            r->result = "produced";
            rc = 0;
        }
    } else {
        r->result = prc > 0 ? "would_fail" : "planned";
        rc = prc > 0 ? CTL_EXIT_FAIL : 0;
    }
out:
    wb_single_destroy(sg);
    return rc;
}

static cJSON *json(struct ctl *c, const void *opts, const void *result)
{
    const struct provision_opts *opt = opts;
    const struct report *r = result;
    cJSON *doc = cJSON_CreateObject(), *imp, *arr, *o;
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
        cJSON_AddItemToObject(doc, "ldap", ctl_plan_ops_json(&r->po));
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
               r->po.n ? "" : " none (AD already matches)");
        for (i = 0; i < r->po.n; i++)
            printf("    %s\n", ctl_plan_op_text(&r->po.ops[i], line, sizeof(line)));
        for (i = 0; i < r->po.nnotes; i++)
            printf("    worker warning: %s\n", r->po.notes[i]);
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

    ctl_plan_lines_free(&r->ev);
    ctl_plan_free(&r->po);
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
