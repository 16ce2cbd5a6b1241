/*
 * wb_single: the one-group read behind on-demand provisioning. It reuses the producer's
 * pieces as they are (the delta $select list, wb_round_members, wb_scope, wb_users' getByIds,
 * wb_emit), so a provisioned group produces exactly the events a full round would.
 */
#include "wb_single.h"

#include "wb_emit.h"
#include "wb_graph.h"
#include "wb_log.h"
#include "wb_mem.h"
#include "wb_round.h"
#include "wb_scope.h"
#include "wb_users.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct wb_single_s {
    const wb_conf_t *conf; /* borrowed */
    wb_graph_t *g;
    wb_scope_t *sc;
    wb_users_t *u;
};

void wb_single_init(struct wb_single *s)
{
    memset(s, 0, sizeof(*s));
    s->rg = wb_calloc(1, sizeof(*s->rg));
    wb_gprops_init(&s->rg->props);
    s->nested = wb_idmap_new();
}

void wb_single_free(struct wb_single *s)
{
    if (!s)
        return;
    if (s->rg) {
        wb_gprops_free(&s->rg->props);
        free(s->rg->m);
        free(s->rg);
    }
    wb_idmap_destroy(s->nested, NULL);
    memset(s, 0, sizeof(*s));
}

static wb_graph_t *graph_new(const wb_conf_t *conf, char *errstr, size_t errsz)
{
    struct wb_graph_opts go;

    wb_graph_opts_from_conf(conf, &go);
    if (!go.tenant_id || !go.client_id || !go.client_secret) {
        snprintf(errstr, errsz,
                 "graph.tenant_id, graph.client_id and graph.client_secret_file are required");
        return NULL;
    }
    return wb_graph_new(&go, errstr, errsz);
}

wb_single_t *wb_single_new(const wb_conf_t *conf, char *errstr, size_t errsz)
{
    wb_single_t *sg = wb_calloc(1, sizeof(*sg));

    sg->conf = conf;
    sg->sc =
        wb_scope_new(wb_conf_get_str(conf, "scope.mode"), wb_conf_get_list(conf, "scope.group_ids"),
                     wb_conf_get_str(conf, "scope.filter"), errstr, errsz);
    if (sg->sc)
        sg->g = graph_new(conf, errstr, errsz);
    if (!sg->sc || !sg->g) {
        wb_single_destroy(sg);
        return NULL;
    }
    sg->u = wb_users_new(sg->g, (int)wb_conf_get_int(conf, "graph.max_retries"), NULL);
    return sg;
}

void wb_single_destroy(wb_single_t *sg)
{
    if (!sg)
        return;
    wb_users_destroy(sg->u);
    wb_graph_destroy(sg->g);
    wb_scope_destroy(sg->sc);
    free(sg);
}

/* The clause of sc (built from conf's scope.* keys) that excludes group id (lower case) with
 * properties p, as a sentence in out (e.g. "securityEnabled is false: only security groups
 * are provisioned"); false and out "" when the group is in scope. */
static bool scope_reason(const wb_scope_t *sc, const wb_conf_t *conf, const char *id,
                         const struct wb_gprops *p, char *out, size_t outsz)
{
    const char *mode = wb_conf_get_str(conf, "scope.mode");
    size_t i;

    out[0] = '\0';
    if (p->security_enabled != 1) {
        snprintf(out, outsz, "securityEnabled is %s: only security groups are provisioned",
                 p->security_enabled == 0 ? "false" : "not set");
    } else if (p->mail_enabled == 1) {
        snprintf(out, outsz, "mailEnabled is true: mail-enabled groups are not provisioned");
    } else if (p->onprem_sync == 1) {
        snprintf(out, outsz,
                 "onPremisesSyncEnabled is true: the group is synchronised from "
                 "on-premises AD, its source of authority is AD");
    } else {
        for (i = 0; i < p->ngroup_types; i++)
            if (strcmp(p->group_types[i], "Unified") == 0)
                snprintf(out, outsz,
                         "groupTypes contains \"Unified\": Microsoft 365 groups are not "
                         "provisioned");
    }
    if (out[0])
        return true;
    if (wb_scope_match(sc, id, p))
        return false;
    if (mode && strcasecmp(mode, "selected") == 0)
        snprintf(out, outsz, "scope.mode=selected and the group is not in scope.group_ids");
    else if (mode && strcasecmp(mode, "filter") == 0)
        snprintf(out, outsz, "scope.mode=filter and the group does not match scope.filter (%s)",
                 wb_conf_get_str(conf, "scope.filter") ? wb_conf_get_str(conf, "scope.filter")
                                                       : "");
    else
        snprintf(out, outsz, "not in scope (scope.mode=%s)", mode ? mode : "?");
    return true;
}

/* The producer's group $select without the members relation (not allowed on a single GET). */
static char *group_url(const wb_scope_t *sc, const char *id)
{
    char *delta = wb_round_initial_url(wb_scope_attrs(sc));
    const char *sel = strstr(delta, "$select=");
    char *copy, *tok, *save = NULL, *url;
    size_t len;

    sel = sel ? sel + strlen("$select=") : "id";
    copy = wb_strdup(sel);
    len = strlen(copy) + strlen(id) + 64;
    url = wb_malloc(len);
    snprintf(url, len, "/v1.0/groups/%s?$select=", id);
    for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (strcmp(tok, "members") == 0)
            continue;
        if (url[strlen(url) - 1] != '=')
            strcat(url, ",");
        strcat(url, tok);
    }
    free(copy);
    free(delta);
    return url;
}

/* GET one group: WB_OK with *out, or *found false on 404. */
static wb_err_t get_group(wb_graph_t *g, const wb_scope_t *sc, const char *id, cJSON **out,
                          bool *found)
{
    char *url = group_url(sc, id);
    bool resync = false;
    long status = 0;
    wb_err_t err;

    *found = true;
    err = wb_graph_request(g, "GET", url, NULL, WB_GRAPH_OBJECT, out, &resync, &status);
    free(url);
    if (err == WB_ERR_INVALID && status == 404) {
        *found = false;
        return WB_OK;
    }
    return err;
}

/* Whether nested group id is in scope (a missing group is not). */
static wb_err_t nested_in_scope(wb_graph_t *g, const wb_scope_t *sc, const char *id, bool *in)
{
    struct wb_gprops p;
    cJSON *obj = NULL;
    bool found = false;
    char reason[256];
    wb_err_t err;

    *in = false;
    err = get_group(g, sc, id, &obj, &found);
    if (err != WB_OK || !found)
        return err;
    wb_gprops_init(&p);
    if (wb_gprops_merge(&p, obj, reason, sizeof(reason)) == WB_OK)
        *in = wb_scope_match(sc, id, &p);
    else
        wb_log(LOG_WARNING, "PROVISION", "nested group %s: %s; treated as out of scope", id,
               reason);
    wb_gprops_free(&p);
    cJSON_Delete(obj);
    return WB_OK;
}

wb_err_t wb_single_read(wb_single_t *sg, const char *id, struct wb_single *s)
{
    wb_graph_t *g = sg->g;
    const wb_scope_t *sc = sg->sc;
    wb_users_t *u = sg->u;
    struct wb_idkey key, *uids = NULL;
    cJSON *obj = NULL;
    const cJSON *rid;
    char reason[256], mid[37];
    size_t i, nu = 0;
    bool gone = false;
    wb_err_t err;

    if (!wb_idkey_parse(id, &key))
        return WB_ERR_INVALID;
    wb_idkey_format(&key, s->id);
    err = get_group(g, sc, s->id, &obj, &s->found);
    if (err != WB_OK || !s->found)
        goto out;
    rid = cJSON_GetObjectItemCaseSensitive(obj, "id");
    if (!cJSON_IsString(rid) || strcasecmp(rid->valuestring, s->id) != 0) {
        wb_log(LOG_ERR, "PROVISION", "group %s: Graph answered with another object", s->id);
        err = WB_ERR_TRANSIENT;
        goto out;
    }
    if (wb_gprops_merge(&s->rg->props, obj, reason, sizeof(reason)) != WB_OK) {
        wb_log(LOG_ERR, "PROVISION", "group %s: %s", s->id, reason);
        err = WB_ERR_INVALID;
        goto out;
    }
    s->rg->have_props = true;
    s->in_scope = !scope_reason(sc, sg->conf, s->id, &s->rg->props, s->reason, sizeof(s->reason));
    if (!s->in_scope)
        goto out;
    err = wb_round_members(g, s->id, s->rg, &gone);
    if (err != WB_OK) {
        if (gone) { /* deleted between the two requests */
            s->found = false;
            err = WB_OK;
        }
        goto out;
    }
    wb_rgroup_net(s->rg);
    uids = wb_malloc((s->rg->nm ? s->rg->nm : 1) * sizeof(*uids));
    for (i = 0; i < s->rg->nm && err == WB_OK; i++) {
        const struct wb_mref *m = &s->rg->m[i];
        bool in = false;

        if (m->kind == WB_MK_USER) {
            uids[nu++] = m->id;
        } else if (m->kind == WB_MK_GROUP) {
            s->groups++;
            wb_idkey_format(&m->id, mid);
            err = nested_in_scope(g, sc, mid, &in);
            if (err == WB_OK && in)
                wb_idmap_add(s->nested, &m->id);
        } else {
            s->others++;
        }
    }
    if (err == WB_OK && nu)
        err = wb_users_resolve(u, uids, nu);
    for (i = 0; i < nu && err == WB_OK; i++) {
        const struct wb_uident *ui = wb_users_get(u, &uids[i]);

        if (!ui || ui->missing)
            s->users_missing++;
        else if (!ui->sid)
            s->users_cloud++;
        else
            s->users_synced++;
    }
out:
    s->display_name = s->rg->props.display_name;
    s->members = s->rg->nm;
    free(uids);
    cJSON_Delete(obj);
    return err;
}

wb_err_t wb_single_emit(wb_single_t *sg, const struct wb_single *s, FILE *out, const char *round_id,
                        const char *ts)
{
    struct wb_emitter em;
    wb_err_t err;

    memset(&em, 0, sizeof(em));
    em.dry_run = true;
    em.out = out;
    em.topic = wb_conf_get_str(sg->conf, "topic.events");
    em.tenant = wb_conf_get_str(sg->conf, "tenant");
    em.users = sg->u;
    em.chunk = wb_conf_get_int(sg->conf, "producer.member_chunk");
    snprintf(em.round_id, sizeof(em.round_id), "%s", round_id);
    snprintf(em.ts, sizeof(em.ts), "%s", ts);
    err = wb_emit_upsert(&em, s->id, &s->rg->props);
    if (err == WB_OK)
        err = wb_emit_snapshot(&em, s->id, s->rg, s->nested);
    return err;
}
