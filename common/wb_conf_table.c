/*
 * wb_conf_table: the one table of configuration properties (name, type, default, bounds,
 * flags, programs, description) and the format checks its rows use. Adding a key is one row
 * here; parsing, validation, dumps and the generated docs follow from it.
 */
#include "wb_conf.h"
#include "wb_mem.h"
#include "wb_url.h"

#include <ctype.h>
#include <curl/curl.h>
#include <ldap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define P WB_CONF_PRODUCER
#define W WB_CONF_WORKER
#define C WB_CONF_CTL

static int is_guid(const char *s)
{
    static const int dash[] = {8, 13, 18, 23};
    size_t i;

    if (strlen(s) != 36)
        return 0;
    for (i = 0; i < 36; i++) {
        int want_dash = i == (size_t)dash[0] || i == (size_t)dash[1] || i == (size_t)dash[2] ||
                        i == (size_t)dash[3];

        if (want_dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return 0;
    }
    return 1;
}

static char *lower_dup(const char *s)
{
    char *c = wb_strdup(s);
    char *p;

    for (p = c; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return c;
}

/* Entra object ids: canonical lower-case GUID, as Graph returns them. */
static int check_guid(const char *v, char **canon, char *err, size_t errsz)
{
    if (!is_guid(v)) {
        snprintf(err, errsz, "\"%s\" is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", v);
        return -1;
    }
    *canon = lower_dup(v);
    return 0;
}

/* Letters, digits, '-' and '.', at most 253, with at least one dot. */
static int is_dns_name(const char *v)
{
    size_t n = strlen(v), i;

    for (i = 0; i < n; i++)
        if (!isalnum((unsigned char)v[i]) && v[i] != '.' && v[i] != '-')
            return 0;
    return n <= 253 && strchr(v, '.') != NULL;
}

/* The tenant becomes part of the token URL: a GUID or a DNS name, nothing else. */
static int check_tenant_id(const char *v, char **canon, char *err, size_t errsz)
{
    if (is_guid(v)) {
        *canon = lower_dup(v);
        return 0;
    }
    if (!is_dns_name(v)) {
        snprintf(err, errsz, "\"%s\" is neither a GUID nor a domain name", v);
        return -1;
    }
    return 0;
}

/* The tenant name prefixes state keys ("<tenant>/<name>"), so no '/' and no spaces. */
static int check_name(const char *v, char **canon, char *err, size_t errsz)
{
    size_t n = strlen(v), i;

    (void)canon;
    for (i = 0; i < n; i++)
        if (!isalnum((unsigned char)v[i]) && v[i] != '.' && v[i] != '-' && v[i] != '_')
            break;
    if (i < n || n > 64) {
        snprintf(err, errsz, "must be 1 to 64 characters of A-Z a-z 0-9 . _ -");
        return -1;
    }
    return 0;
}

/* Identifiers that travel in Kafka headers and logs: printable ASCII without spaces. */
static int check_ident(const char *v, char **canon, char *err, size_t errsz)
{
    size_t n = strlen(v), i;

    (void)canon;
    for (i = 0; i < n; i++)
        if (!isgraph((unsigned char)v[i]))
            break;
    if (i < n || n > 200) {
        snprintf(err, errsz, "must be at most 200 printable ASCII characters without spaces");
        return -1;
    }
    return 0;
}

static int check_topic(const char *v, char **canon, char *err, size_t errsz)
{
    size_t n = strlen(v), i;

    (void)canon;
    for (i = 0; i < n; i++)
        if (!isalnum((unsigned char)v[i]) && v[i] != '.' && v[i] != '-' && v[i] != '_')
            break;
    if (i < n || n > 249 || strcmp(v, ".") == 0 || strcmp(v, "..") == 0) {
        snprintf(err, errsz,
                 "\"%s\" is not a valid Kafka topic name (1 to 249 of A-Z a-z 0-9 . _ -)", v);
        return -1;
    }
    return 0;
}

/* A DNS host name (the Event Hubs namespace): letters, digits, '-' and '.', with a dot. */
static int check_host(const char *v, char **canon, char *err, size_t errsz)
{
    if (!is_dns_name(v)) {
        snprintf(err, errsz, "\"%s\" is not a DNS name such as contoso.servicebus.windows.net", v);
        return -1;
    }
    *canon = lower_dup(v);
    return 0;
}

/* Graph and token URLs: https, or http to loopback only (the simulator: localhost, 127.0.0.0/8
 * or ::1 as numbers, never a name that merely starts with "127."); no user name or password
 * (the secret and the token go to the host, not to whoever the text names after an '@'). The
 * trailing '/' is dropped because request paths are appended to it. */
static int check_url(const char *v, char **canon, char *err, size_t errsz)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *query = NULL, *frag = NULL, *user = NULL, *pass = NULL;
    size_t n;
    int rc = -1;

    if (curl_url_set(u, CURLUPART_URL, v, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        snprintf(err, errsz, "\"%s\" is not a URL", v);
        goto out;
    }
    if (strcmp(scheme, "https") != 0 &&
        !(strcmp(scheme, "http") == 0 && wb_url_host_is_loopback(host))) {
        snprintf(err, errsz,
                 "\"%s\" must use https:// (http:// only to localhost, 127.x.x.x or [::1])", v);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
        curl_url_get(u, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK) {
        snprintf(err, errsz, "\"%s\" must not hold a user name or password", v);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK ||
        curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_OK) {
        snprintf(err, errsz, "\"%s\" must not have a query or fragment", v);
        goto out;
    }
    n = strlen(v);
    while (n > 0 && v[n - 1] == '/')
        n--;
    *canon = wb_strndup(v, n);
    rc = 0;
out:
    curl_free(pass);
    curl_free(user);
    curl_free(frag);
    curl_free(query);
    curl_free(host);
    curl_free(scheme);
    curl_url_cleanup(u);
    return rc;
}

/* One or more LDAP URIs separated by spaces or commas, as ldap_initialize() takes them. */
static int check_ldap_uri(const char *v, char **canon, char *err, size_t errsz)
{
    const char *p = v;

    (void)canon;
    while (*p) {
        size_t n = strcspn(p, " \t,");
        LDAPURLDesc *lud = NULL;
        char *one;
        int ok;

        if (n == 0) {
            p++;
            continue;
        }
        one = wb_strndup(p, n);
        ok = ldap_url_parse(one, &lud) == LDAP_URL_SUCCESS &&
             (strcasecmp(lud->lud_scheme, "ldap") == 0 ||
              strcasecmp(lud->lud_scheme, "ldaps") == 0 ||
              strcasecmp(lud->lud_scheme, "ldapi") == 0);
        if (!ok)
            snprintf(err, errsz, "\"%s\" is not an ldap://, ldaps:// or ldapi:// URI", one);
        if (lud)
            ldap_free_urldesc(lud);
        free(one);
        if (!ok)
            return -1;
        p += n;
    }
    return 0;
}

static int check_dn(const char *v, char **canon, char *err, size_t errsz)
{
    LDAPDN dn = NULL;
    int rc;

    (void)canon;
    rc = ldap_str2dn(v, &dn, LDAP_DN_FORMAT_LDAPV3);
    if (rc != LDAP_SUCCESS || !dn) {
        snprintf(err, errsz, "\"%s\" is not a distinguished name (RFC 4514)", v);
        if (dn)
            ldap_dnfree(dn);
        return -1;
    }
    ldap_dnfree(dn);
    return 0;
}

/* host:port or [v6]:port for the metrics endpoint. */
static int check_listen(const char *v, char **canon, char *err, size_t errsz)
{
    const char *colon = strrchr(v, ':');
    char *end = NULL;
    long port;

    (void)canon;
    if (!colon || colon == v || (v[0] == '[' && colon[-1] != ']'))
        goto bad;
    port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || port < 1 || port > 65535)
        goto bad;
    return 0;
bad:
    snprintf(err, errsz, "\"%s\" is not host:port (port 1-65535; [addr]:port for IPv6)", v);
    return -1;
}

const struct wb_conf_prop wb_conf_props[] = {
    /* general */
    {"tenant", WB_CONF_T_STR, "default", 0, 0, NULL, 0, P | W | C, 0, check_name,
     "Short name of this tenant configuration. It prefixes checkpoint keys in topic.state "
     "(<tenant>/<name>) and is stamped on every event, so several tenants can share topics."},

    /* graph */
    {"graph.tenant_id", WB_CONF_T_STR, NULL, 0, 0, NULL, 0, P | C, P, check_tenant_id,
     "Directory (tenant) ID of the Entra tenant: a GUID or a verified domain such as "
     "contoso.onmicrosoft.com."},
    {"graph.client_id", WB_CONF_T_STR, NULL, 0, 0, NULL, 0, P | C, P, check_guid,
     "Application (client) ID of the app registration used for the client credentials flow; "
     "it needs the Group.Read.All and User.Read.All application permissions."},
    {"graph.client_secret_file", WB_CONF_T_STR, NULL, 0, 0, NULL, WB_CONF_F_SECRET, P | C, P, NULL,
     "File holding the client secret (a trailing newline is ignored). Read once at start; the "
     "secret is never logged. A file owned by the program's user must not be accessible by group "
     "or others (chmod 600), as ssh requires of private keys."},
    {"graph.authority", WB_CONF_T_STR, "https://login.microsoftonline.com", 0, 0, NULL, 0, P | C, 0,
     check_url,
     "OAuth2 authority; tokens come from <authority>/<tenant_id>/oauth2/v2.0/token. Change it "
     "for national clouds or the Graph simulator (http:// is accepted for localhost, 127.x.x.x "
     "and [::1] only; no user name or password)."},
    {"graph.endpoint", WB_CONF_T_STR, "https://graph.microsoft.com", 0, 0, NULL, 0, P | C, 0,
     check_url,
     "Base URL of Microsoft Graph, without /v1.0. Change it for national clouds, proxies or the "
     "Graph simulator."},
    {"graph.ca_file", WB_CONF_T_STR, NULL, 0, 0, NULL, WB_CONF_F_PATH, P | C, 0, NULL,
     "PEM file of CA certificates that verify graph.authority and graph.endpoint; unset uses "
     "the system trust store."},
    {"graph.poll_interval_ms", WB_CONF_T_INT, "120000", 1000, 86400000, NULL, 0, P, 0, NULL,
     "Time from the end of one delta round to the start of the next, in milliseconds."},
    {"graph.delete_threshold", WB_CONF_T_INT, "500", 0, 100000000, NULL, 0, P, 0, NULL,
     "More group deletions than this in one round are staged in the checkpoint instead of "
     "emitted, until an operator runs `writebackctl deletes allow`; 0 turns the guard off."},
    {"graph.identity_moves_max", WB_CONF_T_INT, "200", 0, 100000, NULL, 0, P, 0, NULL,
     "Most users per round whose on-premises identity changed (made cloud-only, made synced, "
     "new SID) that the producer follows into their groups with one memberOf listing each; "
     "more turn the round into a full groups resync, which sends every member list whole. "
     "0 always resyncs."},
    {"graph.page_timeout_ms", WB_CONF_T_INT, "60000", 1000, 600000, NULL, 0, P | C, 0, NULL,
     "Timeout of one Graph or token request, including reading the whole response, in "
     "milliseconds."},
    {"graph.max_retries", WB_CONF_T_INT, "8", 0, 100, NULL, 0, P | C, 0, NULL,
     "Retries of one Graph request after throttling (429/503, honouring Retry-After), network "
     "errors or 5xx answers; then the round is abandoned and retried at the next poll."},
    {"graph.unready_after_failed_rounds", WB_CONF_T_INT, "3", 1, 1000000, NULL, 0, P, 0, NULL,
     "After this many delta rounds in a row failed, the producer's /readyz answers 503 with a "
     "one-line reason and an error is logged; the next committed round makes it ready again. "
     "writeback_producer_consecutive_failed_rounds shows the count."},

    /* scope */
    {"scope.mode", WB_CONF_T_ENUM, "all", 0, 0, "all,selected,filter", 0, P | C, 0, NULL,
     "Which cloud security groups are provisioned, on top of the fixed clause (security-enabled, "
     "not mail-enabled, not synced from AD, not Microsoft 365): all of them, the ids in "
     "scope.group_ids, or those matching scope.filter."},
    {"scope.group_ids", WB_CONF_T_LIST, "", 0, 0, NULL, 0, P | C, 0, check_guid,
     "Comma-separated object IDs of the groups to provision when scope.mode=selected."},
    {"scope.filter", WB_CONF_T_STR, NULL, 0, 0, NULL, 0, P | C, 0, NULL,
     "Attribute filter for scope.mode=filter: clauses over group attributes, including "
     "directory extensions, in the syntax of the producer's scope evaluator."},

    /* kafka, topic */
    {"kafka.bootstrap.servers", WB_CONF_T_STR, NULL, 0, 0, NULL, 0, P | W | C, P | W | C, NULL,
     "Comma-separated host:port list of Kafka brokers. Like every kafka.* key it goes to "
     "librdkafka with the kafka. prefix removed."},
    {"topic.events", WB_CONF_T_STR, "writeback.groups", 0, 0, NULL, 0, P | W | C, 0, check_topic,
     "Topic of group events, keyed by Entra group objectId."},
    {"topic.dlq", WB_CONF_T_STR, "writeback.groups.dlq", 0, 0, NULL, 0, P | W | C, 0, check_topic,
     "Dead-letter topic: events that could not be applied, unchanged, with the failure in "
     "headers."},
    {"topic.state", WB_CONF_T_STR, "writeback.state", 0, 0, NULL, 0, P | W | C, 0, check_topic,
     "Compacted topic of producer checkpoints (deltaLinks, in-scope id set, staged deletes), "
     "operator commands and drift pauses (workers read only the pauses, docs/drift.md)."},
    {"topic.partitions", WB_CONF_T_INT, "12", 1, 10000, NULL, 0, P | C, 0, NULL,
     "Partition count used when writeback creates topic.events and topic.dlq; existing topics "
     "are left as they are."},

    /* ldap */
    {"ldap.uri", WB_CONF_T_STR, NULL, 0, 0, NULL, 0, W | C, W, check_ldap_uri,
     "Domain controller URI(s), space- or comma-separated, e.g. ldaps://dc1.example.com. Plain "
     "ldap:// needs ldap.starttls=true (or ldap.allow_insecure=true)."},
    {"ldap.starttls", WB_CONF_T_BOOL, "false", 0, 0, NULL, 0, W | C, 0, NULL,
     "Upgrade ldap:// connections with StartTLS and fail if the server refuses."},
    {"ldap.allow_insecure", WB_CONF_T_BOOL, "false", 0, 0, NULL, 0, W | C, 0, NULL,
     "Allow a simple bind over plain ldap:// without StartTLS. For tests only: the password "
     "crosses the network in clear."},
    {"ldap.bind_dn", WB_CONF_T_STR, NULL, 0, 0, NULL, 0, W | C, W, check_dn,
     "DN of the service account to bind as; it needs rights to create, modify and delete groups "
     "under ldap.target_ou."},
    {"ldap.password_file", WB_CONF_T_STR, NULL, 0, 0, NULL, WB_CONF_F_SECRET, W | C, W, NULL,
     "File holding the bind password (a trailing newline is ignored). Read once at start; the "
     "password is never logged. A file owned by the program's user must not be accessible by "
     "group or others (chmod 600)."},
    {"ldap.ca_file", WB_CONF_T_STR, NULL, 0, 0, NULL, WB_CONF_F_PATH, W | C, 0, NULL,
     "PEM file of CA certificates that verify the domain controllers; unset uses the system "
     "trust store. Certificates are always verified."},
    {"ldap.base_dn", WB_CONF_T_STR, NULL, 0, 0, NULL, 0, W | C, W, check_dn,
     "Subtree searched for anchors and member references, normally the domain "
     "(DC=example,DC=com)."},
    {"ldap.target_ou", WB_CONF_T_STR, NULL, 0, 0, NULL, 0, W | C, W, check_dn,
     "Container where new groups are created (the parentDistinguishedName mapping); it must lie "
     "under ldap.base_dn."},
    {"ldap.timeout_ms", WB_CONF_T_INT, "30000", 100, 600000, NULL, 0, W | C, 0, NULL,
     "Timeout of connecting and of each LDAP operation, in milliseconds."},
    {"ldap.member_chunk", WB_CONF_T_INT, "1000", 1, 5000, NULL, 0, W | C, 0, NULL,
     "Most member values added or removed by one modify request."},
    {"ldap.range_window", WB_CONF_T_INT, "5000", 1, 5000, NULL, 0, W | C, 0, NULL,
     "Values asked for per request when reading large member attributes with ranged retrieval "
     "(member;range=); a server that returns fewer (AD's MaxValRange) is followed. Samba "
     "builds the extended DNs of the whole attribute for every request (0.4 s per request on "
     "a 60,000-member group, measured), so fewer, larger windows read big groups faster."},

    /* mapping */
    {"mapping.soa", WB_CONF_T_BOOL, "false", 0, 0, NULL, 0, W, 0, NULL,
     "Also write msDS-ObjectSoa=Cloud on the groups the worker creates and updates."},

    /* worker */
    {"worker.group_id", WB_CONF_T_STR, "writeback-workers", 0, 0, NULL, 0, W | C, 0, check_ident,
     "Kafka consumer group of the workers; writebackctl lag and replay act on it."},
    {"worker.id", WB_CONF_T_STR, "", 0, 0, NULL, 0, W, 0, check_ident,
     "Stable name of this worker, the same across its restarts: it names the worker in logs and "
     "dead-letter headers and makes it a static consumer group member (group.instance.id "
     "<worker.group_id>-<worker.id>), so a crashed worker restarted under it gets its partitions "
     "back without a rebalance. Empty: <hostname>-<pid>, a dynamic member."},
    {"worker.dry_run", WB_CONF_T_BOOL, "false", 0, 0, NULL, 0, W, 0, NULL,
     "Log the LDAP operations the worker would make and write nothing to AD."},
    {"worker.adopt_writeback_v2", WB_CONF_T_BOOL, "false", 0, 0, NULL, 0, W, 0, NULL,
     "Adopt groups written by Connect Sync group writeback v2 (anchored only by "
     "adminDescription=Group_<objectId>) instead of treating them as conflicts."},
    {"worker.out_of_scope", WB_CONF_T_ENUM, "delete", 0, 0, "delete,keep", 0, W, 0, NULL,
     "What happens to the AD group of an Entra group that left scope (group.unscoped): delete "
     "it, or keep it in AD and stop managing it."},
    {"worker.max_retries", WB_CONF_T_INT, "5", 0, 1000, NULL, 0, W, 0, NULL,
     "Retries of dependency errors (nested group not yet created, unknown SID) before the member "
     "is skipped or the event dead-lettered. Transient errors are retried without limit."},
    {"worker.dependency_timeout_ms", WB_CONF_T_INT, "120000", 0, 86400000, NULL, 0, W, 0, NULL,
     "Least time in milliseconds a dependency error is retried, from its first failure, before "
     "the member is skipped or the event dead-lettered (both this and worker.max_retries must be "
     "spent), so a nested group on a partition delayed by a rebalance is waited for; only that "
     "group's partition waits. 0 bounds the retries by count only."},
    {"worker.retry_backoff_ms", WB_CONF_T_INT, "500", 1, 3600000, NULL, 0, W, 0, NULL,
     "First retry delay in milliseconds; it doubles with each attempt, with jitter."},
    {"worker.retry_backoff_max_ms", WB_CONF_T_INT, "60000", 1, 3600000, NULL, 0, W, 0, NULL,
     "Largest retry delay in milliseconds."},
    {"worker.batch_max_messages", WB_CONF_T_INT, "1000", 1, 100000, NULL, 0, W, 0, NULL,
     "Most events taken in one poll batch; consecutive events of one group in a batch are "
     "coalesced into one search and one modify per member chunk."},
    {"worker.batch_time_ms", WB_CONF_T_INT, "2000", 1, 600000, NULL, 0, W, 0, NULL,
     "Apply time of one batch after which the rest of its groups wait for the next batch "
     "(kept in memory, not fetched again), so that rebalances are served and "
     "max.poll.interval.ms is respected while a backlog drains."},
    {"worker.read_before_write", WB_CONF_T_BOOL, "true", 0, 0, NULL, 0, W, 0, NULL,
     "Read a group's current members before changing them and send only the real difference "
     "(replaying a converged topic then writes nothing); false sends permissive modifies "
     "directly and reads only when the server rejects a multi-value change."},
    {"worker.metrics_listen", WB_CONF_T_STR, "127.0.0.1:9464", 0, 0, NULL, 0, W, 0, check_listen,
     "host:port of the worker's Prometheus /metrics, /healthz and /readyz endpoint; empty turns "
     "it off."},

    /* drift */
    {"drift.mode", WB_CONF_T_ENUM, "audit", 0, 0, "off,audit,repair", 0, W | C, 0, NULL,
     "What workers do about changes someone else makes in AD to the groups they own (members, "
     "mapped attributes, rename, move, delete; docs/drift.md): off (not watched), audit (one "
     "DRIFT log line and writeback_worker_drift_total{kind} per change, nothing written) or "
     "repair (the same, then the group is written back to its last applied state, only the "
     "difference)."},
    {"drift.interval_ms", WB_CONF_T_INT, "2000", 100, 3600000, NULL, 0, W, 0, NULL,
     "How often in milliseconds a worker looks for changes to its groups (one uSNChanged search "
     "of the anchored groups and one of group tombstones)."},
    {"drift.topic", WB_CONF_T_STR, "", 0, 0, NULL, 0, W | C, 0, check_topic,
     "Kafka topic of drift records: each DRIFT line is also produced there as one JSON record "
     "with the same fields, keyed by the group id, and writebackctl drift records lists them "
     "(docs/drift.md). Created on first use when absent. Empty: no records."},

    /* producer */
    {"producer.transactional_id", WB_CONF_T_STR, "", 0, 0, NULL, 0, P, 0, check_ident,
     "Kafka transactional.id of the producer; a second producer with the same id fences the "
     "first. Empty uses writeback-producer-<tenant>."},
    {"producer.member_chunk", WB_CONF_T_INT, "1000", 1, 5000, NULL, 0, P, 0, NULL,
     "Most members in one group.members or group.snapshot event; larger deltas are split into "
     "chunks."},
    {"producer.metrics_listen", WB_CONF_T_STR, "127.0.0.1:9465", 0, 0, NULL, 0, P, 0, check_listen,
     "host:port of the producer's Prometheus /metrics, /healthz and /readyz endpoint; empty "
     "turns it off."},

    /* notify */
    {"notify.enabled", WB_CONF_T_BOOL, "false", 0, 0, NULL, 0, P | C, 0, NULL,
     "React to Microsoft Graph change notifications for /groups delivered through an Azure Event "
     "Hub (docs/notifications.md): the producer keeps one subscription alive and starts a delta "
     "round as soon as a notification arrives; the poll stays as the safety net."},
    {"notify.namespace", WB_CONF_T_STR, NULL, 0, 0, NULL, 0, P | C, 0, check_host,
     "Fully qualified Event Hubs namespace, e.g. contoso.servicebus.windows.net: the host of "
     "the subscription's EventHub: notificationUrl and, unless notify.bootstrap_servers says "
     "otherwise, of the Kafka endpoint (port 9093)."},
    {"notify.hub", WB_CONF_T_STR, "writeback-notifications", 0, 0, NULL, 0, P | C, 0, check_topic,
     "Event hub (Kafka topic) Graph delivers the change notifications to."},
    {"notify.lifecycle_hub", WB_CONF_T_STR, "", 0, 0, NULL, 0, P | C, 0, NULL,
     "Event hub of the lifecycle notifications (reauthorizationRequired, subscriptionRemoved, "
     "missed); empty uses notify.hub."},
    {"notify.bootstrap_servers", WB_CONF_T_STR, "", 0, 0, NULL, 0, P, 0, NULL,
     "host:port of the Event Hubs Kafka endpoint; empty uses <notify.namespace>:9093."},
    {"notify.connection_string_file", WB_CONF_T_STR, NULL, 0, 0, NULL, WB_CONF_F_SECRET, P, 0, NULL,
     "File holding the Event Hubs connection string (Endpoint=sb://...;SharedAccessKeyName=...;"
     "SharedAccessKey=...), sent as the SASL PLAIN password with user name $ConnectionString "
     "over TLS. Needs the Listen right. Never logged; chmod 600."},
    {"notify.ca_file", WB_CONF_T_STR, NULL, 0, 0, NULL, WB_CONF_F_PATH, P, 0, NULL,
     "PEM file of CA certificates that verify the Event Hubs endpoint; unset uses the system "
     "trust store."},
    {"notify.client_state_file", WB_CONF_T_STR, NULL, 0, 0, NULL, WB_CONF_F_SECRET, P, 0, NULL,
     "File holding the subscription's clientState secret (at most 128 characters): Graph "
     "returns it in every notification and anything else is dropped. Never logged; chmod 600."},
    {"notify.consumer_group", WB_CONF_T_STR, "$Default", 0, 0, NULL, 0, P, 0, check_ident,
     "Event Hubs consumer group (Kafka group.id) the producer reads the hub with."},
    {"notify.expiration_minutes", WB_CONF_T_INT, "40320", 1, 41760, NULL, 0, P, 0, NULL,
     "Lifetime asked for at each creation and renewal of the subscription, in minutes; Graph "
     "allows at most 41760 (under 29 days) for groups and makes less than 45 into 45."},
    {"notify.renew_before_minutes", WB_CONF_T_INT, "4320", 1, 41760, NULL, 0, P, 0, NULL,
     "The subscription is renewed when less than this many minutes remain before it expires; "
     "must be below notify.expiration_minutes."},
    {"notify.check_interval_ms", WB_CONF_T_INT, "900000", 1000, 86400000, NULL, 0, P, 0, NULL,
     "How often the producer reads its subscription back from Graph; one that is gone (404) is "
     "created again and followed by an immediate delta round."},
    {"notify.coalesce_ms", WB_CONF_T_INT, "200", 0, 60000, NULL, 0, P, 0, NULL,
     "Wait after the first notification before the round starts, so that a burst of "
     "notifications becomes one round; notifications during a round queue one more round."},

    /* log */
    {"log.level", WB_CONF_T_ENUM, "info", 0, 0, "emerg,alert,crit,err,warning,notice,info,debug", 0,
     P | W | C, 0, NULL, "Least severe level logged (syslog levels)."},
    {"log.debug", WB_CONF_T_LIST, "", 0, 0,
     "conf,kafka,ldap,graph,event,http,worker,producer,ctl,all", 0, P | W | C, 0, NULL,
     "Debug topics to log, comma-separated; any topic raises log.level to debug. No topic prints "
     "a secret: ldap traces libldap's calls and connections but never its packet dumps, kafka "
     "passes librdkafka's own debug= output (kafka.debug), which redacts sensitive properties."},

    {NULL, WB_CONF_T_STR, NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL},
};

const struct wb_conf_prop *wb_conf_prop_find(const char *name)
{
    const struct wb_conf_prop *p;

    for (p = wb_conf_props; p->name; p++)
        if (strcmp(p->name, name) == 0)
            return p;
    return NULL;
}
