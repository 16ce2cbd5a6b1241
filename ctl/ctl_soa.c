/*
 * soa: the AD group enforcement policy (docs/microsoft.md). The allowed writer SIDs
 * live in msDS-Settings of the policy object under CN=SOA-Policies,CN=System,<domain>; one
 * stale or bad SID makes a DC drop the whole policy, so every SID is resolved in AD before
 * anything is written, and more than 64 are refused. check lists the enforced groups
 * (msDS-ObjectSoa=Cloud) and the DCs that can enforce (ctl_soa_dcs.c).
 */
#include "ctl.h"
#include "wb_id.h"
#include "wb_ldap.h"
#include "wb_mem.h"

#include <ldap.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SOA_MAX_SIDS  64
#define SOA_ATTR      "msDS-Settings"
#define SOA_CONTAINER "CN=SOA-Policies,CN=System,"

/* Policy object names seen in Microsoft's documentation, newest first. */
static const char *const policy_cns[] = {"CN=Cloud", "CN=CloudSyncSOAPolicy", NULL};

static void usage(FILE *fp)
{
    fputs("usage: writebackctl soa-policy show [--json]\n"
          "       writebackctl soa-policy add-sid SID ... [--dry-run]\n"
          "       writebackctl soa-policy remove-sid SID ... [--dry-run]\n"
          "       writebackctl soa-policy check [--json]\n"
          "\n"
          "Manages the AD group enforcement policy: groups with msDS-ObjectSoa=Cloud may only be\n"
          "changed by the identities whose SIDs are listed in msDS-Settings of the policy object\n"
          "CN=Cloud (or CN=CloudSyncSOAPolicy),CN=SOA-Policies,CN=System,<ldap.base_dn>.\n"
          "Updated Windows DCs create that container themselves; when it is absent (Samba,\n"
          "older DCs) add-sid creates the container and CN=Cloud (a serviceConnectionPoint).\n"
          "\n"
          "Every SID (the new ones and those already listed) must resolve to an object in AD\n"
          "before anything is written: one stale SID disables the whole policy on a DC. At most\n"
          "64 SIDs; zero SIDs means the policy is effectively off. Add the SID of the account\n"
          "the workers bind as (ldap.bind_dn) first, or the workers lose write access.\n"
          "\n"
          "  --policy-dn DN   use this policy object instead of looking it up\n"
          "  --dry-run        validate and print the resulting list, write nothing\n"
          "\n"
          "Uses ldap.uri, ldap.bind_dn, ldap.password_file, ldap.ca_file, ldap.base_dn.\n"
          "Exit: 0 done (check: policy valid), 1 failure or refused (check: policy missing,\n"
          "off or invalid), 2 usage or configuration error.\n",
          fp);
}

static char *read_secret(struct ctl *c)
{
    const char *s = wb_conf_secret(c->conf, "ldap.password_file");
    const char *path = wb_conf_get_str(c->conf, "ldap.password_file");
    char buf[1024];
    FILE *fp;
    size_t n;

    if (s)
        return wb_strdup(s);
    if (!path)
        return NULL;
    fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return wb_strdup(buf);
}

static wb_ldap_t *ad_connect(struct ctl *c, char **password)
{
    struct wb_ldap_opts o;
    char errstr[512];
    wb_ldap_t *ld;

    *password = read_secret(c);
    wb_ldap_opts_from_conf(c->conf, &o);
    o.password = *password; /* read_secret also reads the file when the conf has not */
    if (!o.uri || !o.bind_dn || !o.password || !wb_conf_get_str(c->conf, "ldap.base_dn")) {
        fprintf(stderr, "writebackctl soa-policy: ldap.uri, ldap.bind_dn, ldap.password_file "
                        "and ldap.base_dn are required\n");
        return NULL;
    }
    ld = wb_ldap_new(&o, errstr, sizeof(errstr));
    if (!ld)
        fprintf(stderr, "writebackctl soa-policy: %s\n", errstr);
    return ld;
}

/* Finds the policy object; *entry NULL when none exists. *dn receives the DN used (the
 * existing one, or the one add-sid would create). */
static wb_err_t find_policy(struct ctl *c, wb_ldap_t *ld, const char *forced,
                            struct wb_ldap_entry **entry, char **dn)
{
    static const char *const attrs[] = {SOA_ATTR, NULL};
    const char *base = wb_conf_get_str(c->conf, "ldap.base_dn");
    wb_err_t e;
    int i;

    *entry = NULL;
    *dn = NULL;
    for (i = 0; forced ? i == 0 : policy_cns[i] != NULL; i++) {
        char *try =
            forced ? wb_strdup(forced) : wb_asprintf("%s,%s%s", policy_cns[i], SOA_CONTAINER, base);

        e = wb_ldap_search_unique(ld, try, WB_LDAP_SCOPE_BASE, "(objectClass=*)", attrs, entry);
        if (e != WB_OK) {
            fprintf(stderr, "writebackctl soa-policy: reading %s: %s\n", try,
                    wb_ldap_last_error(ld) ? wb_ldap_last_error(ld) : wb_err_name(e));
            free(try);
            return e;
        }
        if (*entry) {
            *dn = try;
            return WB_OK;
        }
        free(try);
    }
    *dn = forced ? wb_strdup(forced) : wb_asprintf("%s,%s%s", policy_cns[0], SOA_CONTAINER, base);
    return WB_OK;
}

/* Resolves sid in AD; *name receives the object's sAMAccountName or DN (caller-owned), NULL
 * when no object has the SID. */
static wb_err_t resolve_sid(wb_ldap_t *ld, const char *sid, char **name)
{
    static const char *const attrs[] = {"sAMAccountName", NULL};
    struct wb_ldap_entry *e = NULL;
    char *base = wb_id_sid_dn(sid);
    wb_err_t rc;

    *name = NULL;
    if (!base)
        return WB_OK;
    rc = wb_ldap_search_unique(ld, base, WB_LDAP_SCOPE_BASE, "(objectClass=*)", attrs, &e);
    if (rc == WB_OK && e) {
        const struct wb_ldap_val *v = wb_ldap_entry_get(e, "sAMAccountName");

        *name = v ? wb_strndup(v->data, v->len) : wb_strdup(e->dn);
    }
    wb_ldap_entry_free(e);
    free(base);
    return rc;
}

struct sidlist {
    char **v;
    size_t n;
};

static bool has(const struct sidlist *l, const char *sid)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        if (strcasecmp(l->v[i], sid) == 0)
            return true;
    return false;
}

static void sl_free(struct sidlist *l)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

/* Ensures CN=SOA-Policies,CN=System,<base> and the policy object exist. */
static wb_err_t create_policy(struct ctl *c, wb_ldap_t *ld, const char *dn)
{
    static const char *const oc_cont[] = {"container"}, *const oc_scp[] = {
                                                            "serviceConnectionPoint"};
    const char *base = wb_conf_get_str(c->conf, "ldap.base_dn");
    char *cont = wb_asprintf("%s%s", SOA_CONTAINER, base);
    struct wb_ldap_entry *e = NULL;
    struct wb_ldap_mod m = {WB_LDAP_MOD_ADD, "objectClass", oc_cont, 1};
    wb_err_t rc;

    rc = wb_ldap_search_unique(ld, cont, WB_LDAP_SCOPE_BASE, "(objectClass=*)", NULL, &e);
    if (rc == WB_OK && !e && strstr(dn, cont)) {
        rc = wb_ldap_add(ld, cont, &m, 1);
        if (rc == WB_OK)
            fprintf(stderr, "writebackctl soa-policy: created %s\n", cont);
    }
    wb_ldap_entry_free(e);
    if (rc == WB_OK) {
        m.values = oc_scp;
        rc = wb_ldap_add(ld, dn, &m, 1);
        if (rc == WB_OK)
            fprintf(stderr, "writebackctl soa-policy: created %s\n", dn);
    }
    if (rc != WB_OK)
        fprintf(stderr, "writebackctl soa-policy: creating the policy object failed: %s\n",
                wb_ldap_last_error(ld) ? wb_ldap_last_error(ld) : wb_err_name(rc));
    free(cont);
    return rc;
}

/* Enforced groups through libldap on ld's connection (wb_ldap has no multi-entry search): DNs
 * of groups with msDS-ObjectSoa=Cloud under base, at most 1000. Returns -1 on failure. */
static int enforced_groups(struct ctl *c, wb_ldap_t *ld, cJSON *out)
{
    LDAP *l = wb_ldap_handle(ld);
    LDAPMessage *res = NULL, *m;
    struct timeval tv = {30, 0};
    int rc, n = -1;
    char *attrs[] = {"1.1", NULL};

    if (!l)
        goto out;
    rc = ldap_search_ext_s(l, wb_conf_get_str(c->conf, "ldap.base_dn"), LDAP_SCOPE_SUBTREE,
                           "(&(objectClass=group)(msDS-ObjectSoa=Cloud))", attrs, 0, NULL, NULL,
                           &tv, 1000, &res);
    if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED)
        goto out;
    n = 0;
    for (m = ldap_first_entry(l, res); m; m = ldap_next_entry(l, m)) {
        char *dn = ldap_get_dn(l, m);

        if (dn) {
            cJSON_AddItemToArray(out, cJSON_CreateString(dn));
            ldap_memfree(dn);
            n++;
        }
    }
out:
    if (n < 0)
        fprintf(stderr, "writebackctl soa-policy: searching enforced groups failed\n");
    ldap_msgfree(res);
    return n;
}

enum verb { V_SHOW, V_ADD, V_REMOVE, V_CHECK };

static const char *const verbs[] = {"show", "add-sid", "remove-sid", "check", NULL};

struct soa_opts {
    int verb; /* enum verb */
    const char **sids;
    const char *policy_dn;
    int dry;
};

static const struct ctl_opt options[] = {
    CTL_OPT("--policy-dn", CTL_OPT_STR, struct soa_opts, policy_dn),
    CTL_OPT("--dry-run", CTL_OPT_FLAG, struct soa_opts, dry, .val = 1),
    {.name = NULL},
};

/* The policy as it is (cur) and as it would be after the change (result); doc is the report
 * both renderers print. */
struct soa_result {
    wb_ldap_t *ld;
    char *password, *dn;
    struct wb_ldap_entry *pol;
    struct sidlist cur, args, result;
    size_t bad; /* SIDs of result that do not resolve */
    cJSON *doc;
};

/* The SID operands, checked and without duplicates, into r->args. */
static int take_sids(const struct soa_opts *o, struct soa_result *r)
{
    bool change = o->verb == V_ADD || o->verb == V_REMOVE;
    size_t k;

    for (k = 0; o->sids[k]; k++)
        ;
    r->args.v = wb_calloc(k + 1, sizeof(char *));
    for (k = 0; o->sids[k]; k++) {
        if (!change)
            return ctl_usage_error("soa-policy", "unexpected argument %s", o->sids[k]);
        if (!wb_id_sid_valid(o->sids[k]))
            return ctl_usage_error("soa-policy", "\"%s\" is not a SID (S-1-5-21-...)", o->sids[k]);
        if (!has(&r->args, o->sids[k]))
            r->args.v[r->args.n++] = wb_strdup(o->sids[k]);
    }
    if (change && r->args.n == 0)
        return ctl_usage_error("soa-policy", "%sgive at least one SID", "");
    return CTL_EXIT_OK;
}

/* r->cur from the policy object, r->result as it would be after the change. */
static void lists(const struct soa_opts *o, struct soa_result *r)
{
    const struct wb_ldap_val *vals = NULL;
    size_t i, nvals = 0;

    for (i = 0; r->pol && i < r->pol->nattrs; i++)
        if (strcasecmp(r->pol->attrs[i].name, SOA_ATTR) == 0) {
            vals = r->pol->attrs[i].vals;
            nvals = r->pol->attrs[i].nvals;
        }
    r->cur.v = wb_calloc(nvals + 1, sizeof(char *));
    for (i = 0; i < nvals; i++)
        r->cur.v[r->cur.n++] = wb_strndup(vals[i].data, vals[i].len);
    r->result.v = wb_calloc(r->cur.n + r->args.n + 1, sizeof(char *));
    for (i = 0; i < r->cur.n; i++)
        if (o->verb != V_REMOVE || !has(&r->args, r->cur.v[i]))
            r->result.v[r->result.n++] = wb_strdup(r->cur.v[i]);
    for (i = 0; o->verb == V_REMOVE && i < r->args.n; i++)
        if (!has(&r->cur, r->args.v[i]))
            fprintf(stderr, "writebackctl soa-policy: %s is not in the policy\n", r->args.v[i]);
    for (i = 0; o->verb == V_ADD && i < r->args.n; i++)
        if (!has(&r->result, r->args.v[i]))
            r->result.v[r->result.n++] = wb_strdup(r->args.v[i]);
}

/* The report: every SID of the resulting list resolved in AD, and the policy's state. */
static wb_err_t report(struct soa_result *r)
{
    cJSON *arr;
    size_t i;

    r->doc = cJSON_CreateObject();
    cJSON_AddStringToObject(r->doc, "policy", r->dn);
    cJSON_AddBoolToObject(r->doc, "exists", r->pol != NULL);
    arr = cJSON_AddArrayToObject(r->doc, "sids");
    for (i = 0; i < r->result.n; i++) {
        cJSON *o;
        char *name = NULL;
        bool ok = wb_id_sid_valid(r->result.v[i]);

        if (ok && resolve_sid(r->ld, r->result.v[i], &name) != WB_OK) {
            fprintf(stderr, "writebackctl soa-policy: cannot resolve %s: %s\n", r->result.v[i],
                    wb_ldap_last_error(r->ld) ? wb_ldap_last_error(r->ld) : "LDAP error");
            return WB_ERR_TRANSIENT;
        }
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "sid", r->result.v[i]);
        if (name)
            cJSON_AddStringToObject(o, "name", name);
        else
            cJSON_AddNullToObject(o, "name");
        cJSON_AddBoolToObject(o, "valid", name != NULL);
        if (!name) {
            r->bad++;
            fprintf(stderr, "writebackctl soa-policy: %s %s\n", r->result.v[i],
                    ok ? "does not resolve to any object in AD" : "is not a SID");
        }
        free(name);
        cJSON_AddItemToArray(arr, o);
    }
    cJSON_AddNumberToObject(r->doc, "count", (double)r->result.n);
    cJSON_AddStringToObject(r->doc, "state",
                            !r->pol && r->result.n == r->cur.n ? "absent"
                            : r->result.n == 0                 ? "off"
                            : r->bad                           ? "invalid"
                                                               : "valid");
    return WB_OK;
}

/* add-sid, remove-sid: refuses a list over 64 SIDs or with a stale one, then writes the
 * difference (creating the policy object for the first SID). */
static int change(struct ctl *c, const struct soa_opts *o, struct soa_result *r)
{
    bool adding = o->verb == V_ADD;
    struct wb_ldap_mod m = {adding ? WB_LDAP_MOD_ADD : WB_LDAP_MOD_DELETE, SOA_ATTR, NULL, 0};
    const char **list = NULL;
    wb_err_t e = WB_OK;
    size_t i;
    int rc = CTL_EXIT_FAIL;

    if (r->result.n > SOA_MAX_SIDS) {
        fprintf(stderr, "writebackctl soa-policy: refused: %zu SIDs, a policy holds at most %d\n",
                r->result.n, SOA_MAX_SIDS);
        return rc;
    }
    if (r->bad) {
        fprintf(stderr,
                "writebackctl soa-policy: refused: %zu SID(s) do not resolve in AD; "
                "one bad SID disables the whole policy (remove stale ones first)\n",
                r->bad);
        return rc;
    }
    list = wb_calloc(r->args.n + 1, sizeof(char *));
    for (i = 0; i < r->args.n; i++)
        if (adding ? !has(&r->cur, r->args.v[i]) : has(&r->cur, r->args.v[i]))
            list[m.nvalues++] = r->args.v[i];
    m.values = list;
    if (!o->dry && m.nvalues > 0) {
        if (!r->pol)
            e = create_policy(c, r->ld, r->dn);
        if (e == WB_OK)
            e = wb_ldap_modify(r->ld, r->dn, &m, 1, 0);
        if (e != WB_OK) {
            fprintf(stderr, "writebackctl soa-policy: writing %s failed: %s\n", r->dn,
                    wb_ldap_last_error(r->ld) ? wb_ldap_last_error(r->ld) : wb_err_name(e));
            goto out;
        }
    }
    cJSON_AddBoolToObject(r->doc, "written", !o->dry && m.nvalues > 0);
    rc = CTL_EXIT_OK;
out:
    free(list);
    return rc;
}

static int run(struct ctl *c, const void *opts, void *result, bool *render)
{
    const struct soa_opts *o = opts;
    struct soa_result *r = result;
    int rc = take_sids(o, r);

    if (rc != CTL_EXIT_OK)
        return rc;
    rc = CTL_EXIT_FAIL;
    r->ld = ad_connect(c, &r->password);
    if (!r->ld || find_policy(c, r->ld, o->policy_dn, &r->pol, &r->dn) != WB_OK)
        return rc;
    lists(o, r);
    if (report(r) != WB_OK)
        return rc;
    if ((o->verb == V_ADD || o->verb == V_REMOVE) && change(c, o, r) != CTL_EXIT_OK)
        return rc;
    if (o->verb == V_CHECK &&
        (enforced_groups(c, r->ld, cJSON_AddArrayToObject(r->doc, "enforcedGroups")) < 0 ||
         ctl_soa_dcs(c, r->ld, r->doc, r->pol && r->result.n > 0 && !r->bad) < 0))
        return rc;
    *render = true;
    if (o->verb == V_CHECK && (!r->pol || r->result.n == 0 || r->bad))
        return CTL_EXIT_FAIL;
    return CTL_EXIT_OK;
}

static cJSON *json(struct ctl *c, const void *opts, const void *result)
{
    const struct soa_result *r = result;

    (void)c, (void)opts;
    return cJSON_Duplicate(r->doc, true);
}

static void text(struct ctl *c, const void *opts, const void *result)
{
    const struct soa_opts *o = opts;
    const struct soa_result *r = result;
    cJSON *it, *g;

    (void)c;
    printf("policy %s: %s, %d SID(s)\n", r->dn, cJSON_GetObjectItem(r->doc, "state")->valuestring,
           (int)cJSON_GetObjectItem(r->doc, "count")->valuedouble);
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(r->doc, "sids"))
    {
        cJSON *nm = cJSON_GetObjectItem(it, "name");

        printf("  %-50s %s\n", cJSON_GetObjectItem(it, "sid")->valuestring,
               cJSON_IsString(nm) ? nm->valuestring : "NOT FOUND IN AD");
    }
    it = cJSON_GetObjectItem(r->doc, "enforcedGroups");
    if (it) {
        printf("%d enforced group(s) (msDS-ObjectSoa=Cloud)\n", cJSON_GetArraySize(it));
        cJSON_ArrayForEach(g, it) printf("  %s\n", g->valuestring);
    }
    it = cJSON_GetObjectItem(r->doc, "domainControllers");
    if (it) {
        printf("domain controllers (the update level cannot be read over LDAP):\n");
        cJSON_ArrayForEach(g, it)
            printf("  %-30s %-32s %-16s %-16s %s\n", cJSON_GetObjectItem(g, "name")->valuestring,
                   cJSON_GetObjectItem(g, "operatingSystem")->valuestring,
                   cJSON_GetObjectItem(g, "operatingSystemVersion")->valuestring,
                   cJSON_GetObjectItem(g, "canEnforce")->valuestring,
                   cJSON_GetObjectItem(g, "note")->valuestring);
        printf("%s\n", cJSON_GetObjectItem(r->doc, "summary")->valuestring);
    }
    if (o->dry)
        printf("(dry run: nothing written)\n");
}

static void result_free(void *result)
{
    struct soa_result *r = result;

    cJSON_Delete(r->doc);
    sl_free(&r->result);
    sl_free(&r->args);
    sl_free(&r->cur);
    wb_ldap_entry_free(r->pol);
    free(r->dn);
    wb_ldap_destroy(r->ld);
    if (r->password) {
        memset(r->password, 0, strlen(r->password));
        free(r->password);
    }
}

const struct ctl_cmd ctl_soa_cmd = {
    .name = "soa-policy",
    .summary = "AD enforcement policy: show, add-sid, remove-sid, check",
    .kafka = false,
    .usage = usage,
    .verbs = verbs,
    .opt = options,
    .opts_size = sizeof(struct soa_opts),
    .verb_off = offsetof(struct soa_opts, verb),
    .operands_off = offsetof(struct soa_opts, sids),
    .result_size = sizeof(struct soa_result),
    .run = run,
    .text = text,
    .json = json,
    .free = result_free,
};
