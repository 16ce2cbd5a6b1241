/*
 * wb_subscr: keeps the /groups change-notification subscription alive through Graph's
 * /subscriptions API (docs/notifications.md). Its own Graph client, so a subscription call never
 * disturbs a delta round's connection or token; its requests count in the same metrics.
 */
#include "wb_subscr.h"

#include "wb_graph.h"
#include "wb_log.h"
#include "wb_mem.h"
#include "wb_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct wb_subscr_s {
    wb_graph_t *g;
    char *url, *lifecycle_url;
    char *client_state; /* NULL in writebackctl */
    int64_t lifetime_ms, renew_before_ms;
    char id[128];
    int64_t expiry_ms;
    bool adopted; /* looked for ours at least once */
};

wb_subscr_t *wb_subscr_new(const wb_conf_t *conf, const char *client_state, wb_metrics_t *metrics,
                           char *errstr, size_t errsz)
{
    const char *ns = wb_conf_get_str(conf, "notify.namespace");
    const char *hub = wb_conf_get_str(conf, "notify.hub");
    const char *lhub = wb_conf_get_str(conf, "notify.lifecycle_hub");
    const char *tenant = wb_conf_get_str(conf, "graph.tenant_id");
    struct wb_graph_opts go;
    wb_subscr_t *s;

    if (!ns || !*ns) {
        snprintf(errstr, errsz,
                 "notify.enabled needs notify.namespace (the Event Hubs namespace, "
                 "e.g. contoso.servicebus.windows.net)");
        return NULL;
    }
    if (!tenant || !wb_conf_get_str(conf, "graph.client_id") ||
        !wb_conf_secret(conf, "graph.client_secret_file")) {
        snprintf(errstr, errsz,
                 "the subscription needs graph.tenant_id, graph.client_id and "
                 "graph.client_secret_file");
        return NULL;
    }
    if (!lhub || !*lhub)
        lhub = hub;
    s = wb_calloc(1, sizeof(*s));
    wb_graph_opts_from_conf(conf, &go);
    go.metrics = metrics;
    s->g = wb_graph_new(&go, errstr, errsz);
    if (!s->g) {
        free(s);
        return NULL;
    }
    /* Graph's Event Hubs form (docs/notifications.md); Graph sends no validation request */
    s->url = wb_asprintf("EventHub:https://%s/eventhubname/%s?tenantid=%s", ns, hub, tenant);
    s->lifecycle_url =
        wb_asprintf("EventHub:https://%s/eventhubname/%s?tenantid=%s", ns, lhub, tenant);
    s->client_state = client_state ? wb_strdup(client_state) : NULL;
    s->lifetime_ms = wb_conf_get_int(conf, "notify.expiration_minutes") * 60000;
    s->renew_before_ms = wb_conf_get_int(conf, "notify.renew_before_minutes") * 60000;
    return s;
}

void wb_subscr_destroy(wb_subscr_t *s)
{
    if (!s)
        return;
    wb_graph_destroy(s->g);
    if (s->client_state) {
        explicit_bzero(s->client_state, strlen(s->client_state));
        free(s->client_state);
    }
    free(s->url);
    free(s->lifecycle_url);
    free(s);
}

const char *wb_subscr_id(const wb_subscr_t *s)
{
    return s->id;
}

int64_t wb_subscr_expiry_ms(const wb_subscr_t *s)
{
    return s->id[0] ? s->expiry_ms : 0;
}

const char *wb_subscr_url(const wb_subscr_t *s)
{
    return s->url;
}

const char *wb_subscr_lifecycle_url(const wb_subscr_t *s)
{
    return s->lifecycle_url;
}

unsigned long wb_subscr_requests(const wb_subscr_t *s)
{
    return wb_graph_requests(s->g);
}

void wb_subscr_forget(wb_subscr_t *s, const char *id)
{
    if (id && strcmp(id, s->id) != 0)
        return;
    s->id[0] = '\0';
    s->expiry_ms = 0;
}

static void iso_utc(int64_t ms, char *out, size_t outsz)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, outsz, "%Y-%m-%dT%H:%M:%S.0000000Z", &tm);
}

/* Takes id and expirationDateTime from a subscription object Graph returned. */
static bool hold(wb_subscr_t *s, const cJSON *o)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(o, "expirationDateTime");
    int64_t e = cJSON_IsString(exp) ? wb_time_parse(exp->valuestring) : -1;

    if (!cJSON_IsString(id) || !*id->valuestring || strlen(id->valuestring) >= sizeof(s->id) ||
        e < 0) {
        wb_log(LOG_ERR, "NOTIFY", "Graph returned a subscription without id or expiry; ignored");
        return false;
    }
    snprintf(s->id, sizeof(s->id), "%s", id->valuestring);
    s->expiry_ms = e;
    return true;
}

static bool ours(const wb_subscr_t *s, const cJSON *o)
{
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(o, "notificationUrl");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "resource");
    const char *res = cJSON_IsString(r) ? r->valuestring : "";

    if (*res == '/')
        res++;
    return cJSON_IsString(u) && strcasecmp(u->valuestring, s->url) == 0 &&
           strcasecmp(res, "groups") == 0;
}

struct found {
    const wb_subscr_t *s;
    cJSON *list; /* our subscriptions, as Graph listed them */
};

static void each_sub(void *ctx, const cJSON *o)
{
    struct found *f = ctx;

    if (ours(f->s, o))
        cJSON_AddItemToArray(f->list, cJSON_Duplicate(o, 1));
}

static wb_err_t list_ours(wb_subscr_t *s, cJSON **list)
{
    struct found f = {s, cJSON_CreateArray()};
    wb_err_t err = wb_graph_list(s->g, "/v1.0/subscriptions", each_sub, &f, NULL);

    if (err != WB_OK) {
        cJSON_Delete(f.list);
        f.list = NULL;
    }
    *list = f.list;
    return err;
}

static wb_err_t delete_one(wb_subscr_t *s, const char *id)
{
    char *url = wb_asprintf("/v1.0/subscriptions/%s", id);
    bool resync = false;
    long status = 0;
    cJSON *out = NULL;
    wb_err_t err =
        wb_graph_request(s->g, "DELETE", url, NULL, WB_GRAPH_OBJECT, &out, &resync, &status);

    cJSON_Delete(out);
    free(url);
    if (err == WB_ERR_INVALID && status == 404)
        err = WB_OK; /* already gone */
    return err;
}

/* Adopts the newest of ours, deletes the other copies (left by an earlier run that crashed
 * between create and its first notification, or by two producers briefly overlapping). */
static wb_err_t adopt(wb_subscr_t *s)
{
    cJSON *list = NULL, *o;
    const cJSON *best = NULL;
    int64_t best_exp = -1;
    wb_err_t err = list_ours(s, &list);

    if (err != WB_OK)
        goto out;
    cJSON_ArrayForEach(o, list)
    {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "expirationDateTime");
        int64_t t = cJSON_IsString(e) ? wb_time_parse(e->valuestring) : -1;

        if (t > best_exp) {
            best = o;
            best_exp = t;
        }
    }
    if (best && hold(s, best))
        wb_log(LOG_INFO, "NOTIFY", "using subscription %s (expires in %lld min)", s->id,
               (long long)((s->expiry_ms - wb_time_now_ms()) / 60000));
    cJSON_ArrayForEach(o, list)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");

        if (o != best && cJSON_IsString(id) && delete_one(s, id->valuestring) == WB_OK)
            wb_log(LOG_NOTICE, "NOTIFY", "deleted extra subscription %s", id->valuestring);
    }
    s->adopted = true;
out:
    cJSON_Delete(list);
    return err;
}

static wb_err_t create(wb_subscr_t *s)
{
    char exp[64];
    cJSON *req = cJSON_CreateObject(), *out = NULL;
    char *body = NULL;
    bool resync = false;
    long status = 0;
    wb_err_t err;

    if (!s->client_state) {
        wb_log(LOG_ERR, "NOTIFY", "cannot create a subscription without notify.client_state_file");
        err = WB_ERR_INVALID;
        goto out;
    }
    iso_utc(wb_time_now_ms() + s->lifetime_ms, exp, sizeof(exp));
    cJSON_AddStringToObject(req, "changeType", "created,updated,deleted");
    cJSON_AddStringToObject(req, "notificationUrl", s->url);
    cJSON_AddStringToObject(req, "lifecycleNotificationUrl", s->lifecycle_url);
    cJSON_AddStringToObject(req, "resource", "groups");
    cJSON_AddStringToObject(req, "expirationDateTime", exp);
    cJSON_AddStringToObject(req, "clientState", s->client_state);
    body = cJSON_PrintUnformatted(req);
    err = wb_graph_request(s->g, "POST", "/v1.0/subscriptions", body, WB_GRAPH_OBJECT, &out,
                           &resync, &status);
    if (err == WB_OK && hold(s, out))
        wb_log(LOG_NOTICE, "NOTIFY", "created subscription %s for groups, expires %s", s->id, exp);
    else if (err == WB_OK)
        err = WB_ERR_TRANSIENT;
out:
    if (body) {
        explicit_bzero(body, strlen(body)); /* holds the clientState */
        free(body);
    }
    cJSON_Delete(req);
    cJSON_Delete(out);
    return err;
}

/* GET (read back) or PATCH (body: a new expirationDateTime, which renews and reauthorizes in
 * the same request) of the held subscription; takes the expiry Graph answers. 404: gone. */
static wb_err_t on_held(wb_subscr_t *s, const char *method, const char *body, long *status)
{
    char *url = wb_asprintf("/v1.0/subscriptions/%s", s->id);
    cJSON *out = NULL;
    bool resync = false;
    wb_err_t err =
        wb_graph_request(s->g, method, url, body, WB_GRAPH_OBJECT, &out, &resync, status);

    if (err == WB_OK && out)
        hold(s, out);
    cJSON_Delete(out);
    free(url);
    return err;
}

static wb_err_t renew(wb_subscr_t *s, long *status)
{
    char exp[64], body[128];
    wb_err_t err;

    iso_utc(wb_time_now_ms() + s->lifetime_ms, exp, sizeof(exp));
    snprintf(body, sizeof(body), "{\"expirationDateTime\":\"%s\"}", exp);
    err = on_held(s, "PATCH", body, status);
    if (err == WB_OK)
        wb_log(LOG_INFO, "NOTIFY", "renewed subscription %s until %s", s->id, exp);
    return err;
}

/* A 404 to a request about the held subscription: Graph no longer knows it (expired, or removed
 * without a lifecycle notification, which Microsoft does not promise for groups). */
static wb_err_t gone(wb_subscr_t *s, wb_err_t err, long status, const char *when, bool *lost)
{
    if (err != WB_ERR_INVALID || status != 404)
        return err;
    wb_log(LOG_WARNING, "NOTIFY",
           "subscription %s is gone (404 %s); creating a new one and running a delta round for "
           "what it would have reported",
           s->id, when);
    wb_subscr_forget(s, NULL);
    *lost = true;
    return WB_OK;
}

wb_err_t wb_subscr_ensure(wb_subscr_t *s, bool check, bool force_renew, bool *created)
{
    long status = 0;
    bool had = false;
    wb_err_t err = WB_OK;

    if (created)
        *created = false;
    if (!s->id[0] && !s->adopted) {
        err = adopt(s);
        if (err != WB_OK)
            goto out;
    }
    had = s->adopted && s->id[0];
    if (s->id[0] && check) {
        err = on_held(s, "GET", NULL, &status);
        err = gone(s, err, status, "on reading it back", &had);
        if (err != WB_OK)
            goto out;
    }
    if (s->id[0] && s->expiry_ms <= wb_time_now_ms()) {
        wb_log(LOG_WARNING, "NOTIFY", "subscription %s expired; creating a new one", s->id);
        wb_subscr_forget(s, NULL);
        had = true;
    }
    if (s->id[0] && (force_renew || s->expiry_ms - wb_time_now_ms() < s->renew_before_ms)) {
        err = gone(s, renew(s, &status), status, "at renewal", &had);
        if (err != WB_OK)
            goto out;
    }
    if (!s->id[0]) {
        err = create(s);
        if (err == WB_OK && created)
            *created = had;
    }
out:
    if (err != WB_OK)
        wb_log(LOG_ERR, "NOTIFY",
               "subscription upkeep failed (%s); changes still arrive with the next poll "
               "(graph.poll_interval_ms); check the app's Group.Read.All permission and "
               "notify.* settings; retried at the next check",
               wb_err_name(err));
    return err;
}

wb_err_t wb_subscr_delete_all(wb_subscr_t *s, char ***ids, size_t *n)
{
    cJSON *list = NULL, *o;
    wb_err_t err = list_ours(s, &list);
    size_t k = 0;

    if (ids)
        *ids = NULL;
    *n = 0;
    if (err != WB_OK)
        goto out;
    cJSON_ArrayForEach(o, list)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");

        if (!cJSON_IsString(id))
            continue;
        err = delete_one(s, id->valuestring);
        if (err != WB_OK)
            goto out;
        if (ids) {
            *ids = wb_realloc(*ids, (k + 1) * sizeof(**ids));
            (*ids)[k] = wb_strdup(id->valuestring);
        }
        k++;
        wb_subscr_forget(s, id->valuestring);
    }
out:
    *n = k;
    cJSON_Delete(list);
    return err;
}
