/*
 * soa: the AD group enforcement policy (docs/microsoft.md). The allowed writer SIDs
 * live in msDS-Settings of the policy object under CN=SOA-Policies,CN=System,<domain>; one
 * stale or bad SID makes a DC drop the whole policy, so every SID is resolved in AD before
 * anything is written, and more than 64 are refused. check lists the enforced groups
 * (msDS-ObjectSoa=Cloud) and the DCs that can enforce (soa_dcs.c).
 */
#include "ctl.h"
#include "wb_id.h"
#include "wb_ldap.h"
#include "wb_mem.h"

#include <ldap.h>
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

int ctl_soa(struct ctl *c, int argc, char **argv)
{
    const char *verb, *forced = NULL, *v;
    bool dry = false;
    wb_ldap_t *ld = NULL;
    char *password = NULL, *dn = NULL;
    struct wb_ldap_entry *pol = NULL;
    struct sidlist cur = {0}, args = {0}, result = {0};
    const struct wb_ldap_val *vals = NULL;
    cJSON *doc = NULL, *arr;
    size_t i, nvals = 0, bad = 0;
    int rc = CTL_EXIT_FAIL, k;

    if (ctl_wants_help(argc, argv) || argc < 2) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CTL_EXIT_USAGE : 0;
    }
    verb = argv[1];
    if (strcmp(verb, "show") && strcmp(verb, "add-sid") && strcmp(verb, "remove-sid") &&
        strcmp(verb, "check"))
        return ctl_usage_error("soa-policy", "unknown subcommand %s", verb);
    args.v = wb_calloc((size_t)argc, sizeof(char *));
    for (k = 2; k < argc; k++) {
        if (ctl_opt(argc, argv, &k, "--policy-dn", &v)) {
            if (!v) {
                rc = ctl_usage_error("soa-policy", "%s--policy-dn needs a DN", "");
                goto out;
            }
            forced = v;
        } else if (strcmp(argv[k], "--dry-run") == 0) {
            dry = true;
        } else if ((strcmp(verb, "add-sid") == 0 || strcmp(verb, "remove-sid") == 0) &&
                   argv[k][0] != '-') {
            if (!wb_id_sid_valid(argv[k])) {
                rc = ctl_usage_error("soa-policy", "\"%s\" is not a SID (S-1-5-21-...)", argv[k]);
                goto out;
            }
            if (!has(&args, argv[k]))
                args.v[args.n++] = wb_strdup(argv[k]);
        } else {
            rc = ctl_usage_error("soa-policy", "unexpected argument %s", argv[k]);
            goto out;
        }
    }
    if ((strcmp(verb, "add-sid") == 0 || strcmp(verb, "remove-sid") == 0) && args.n == 0) {
        rc = ctl_usage_error("soa-policy", "%sgive at least one SID", "");
        goto out;
    }
    ld = ad_connect(c, &password);
    if (!ld)
        goto out;
    if (find_policy(c, ld, forced, &pol, &dn) != WB_OK)
        goto out;
    if (pol) {
        for (i = 0; i < pol->nattrs; i++)
            if (strcasecmp(pol->attrs[i].name, SOA_ATTR) == 0) {
                vals = pol->attrs[i].vals;
                nvals = pol->attrs[i].nvals;
            }
    }
    cur.v = wb_calloc(nvals + 1, sizeof(char *));
    for (i = 0; i < nvals; i++)
        cur.v[cur.n++] = wb_strndup(vals[i].data, vals[i].len);

    /* The list as it would be after the change. */
    result.v = wb_calloc(cur.n + args.n + 1, sizeof(char *));
    for (i = 0; i < cur.n; i++)
        if (strcmp(verb, "remove-sid") != 0 || !has(&args, cur.v[i]))
            result.v[result.n++] = wb_strdup(cur.v[i]);
    if (strcmp(verb, "remove-sid") == 0) {
        for (i = 0; i < args.n; i++)
            if (!has(&cur, args.v[i]))
                fprintf(stderr, "writebackctl soa-policy: %s is not in the policy\n", args.v[i]);
    }
    if (strcmp(verb, "add-sid") == 0)
        for (i = 0; i < args.n; i++)
            if (!has(&result, args.v[i]))
                result.v[result.n++] = wb_strdup(args.v[i]);

    doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "policy", dn);
    cJSON_AddBoolToObject(doc, "exists", pol != NULL);
    arr = cJSON_AddArrayToObject(doc, "sids");
    for (i = 0; i < result.n; i++) {
        cJSON *o = cJSON_CreateObject();
        char *name = NULL;
        bool ok = wb_id_sid_valid(result.v[i]);

        if (ok && resolve_sid(ld, result.v[i], &name) != WB_OK) {
            fprintf(stderr, "writebackctl soa-policy: cannot resolve %s: %s\n", result.v[i],
                    wb_ldap_last_error(ld) ? wb_ldap_last_error(ld) : "LDAP error");
            cJSON_Delete(o);
            goto out;
        }
        cJSON_AddStringToObject(o, "sid", result.v[i]);
        if (name)
            cJSON_AddStringToObject(o, "name", name);
        else
            cJSON_AddNullToObject(o, "name");
        cJSON_AddBoolToObject(o, "valid", name != NULL);
        if (!name) {
            bad++;
            fprintf(stderr, "writebackctl soa-policy: %s %s\n", result.v[i],
                    ok ? "does not resolve to any object in AD" : "is not a SID");
        }
        free(name);
        cJSON_AddItemToArray(arr, o);
    }
    cJSON_AddNumberToObject(doc, "count", (double)result.n);
    cJSON_AddStringToObject(doc, "state",
                            !pol && result.n == cur.n ? "absent"
                            : result.n == 0           ? "off"
                            : bad                     ? "invalid"
                                                      : "valid");
    if (strcmp(verb, "add-sid") == 0 || strcmp(verb, "remove-sid") == 0) {
        bool adding = strcmp(verb, "add-sid") == 0;
        struct wb_ldap_mod m = {adding ? WB_LDAP_MOD_ADD : WB_LDAP_MOD_DELETE, SOA_ATTR, NULL, 0};
        const char **list = wb_calloc(args.n + 1, sizeof(char *));

        if (result.n > SOA_MAX_SIDS) {
            fprintf(stderr,
                    "writebackctl soa-policy: refused: %zu SIDs, a policy holds at most %d\n",
                    result.n, SOA_MAX_SIDS);
            free(list);
            goto out;
        }
        if (bad) {
            fprintf(stderr,
                    "writebackctl soa-policy: refused: %zu SID(s) do not resolve in AD; "
                    "one bad SID disables the whole policy (remove stale ones first)\n",
                    bad);
            free(list);
            goto out;
        }
        for (i = 0; i < args.n; i++)
            if (adding ? !has(&cur, args.v[i]) : has(&cur, args.v[i]))
                list[m.nvalues++] = args.v[i];
        m.values = list;
        if (!dry && m.nvalues > 0) {
            wb_err_t e = WB_OK;

            if (!pol)
                e = create_policy(c, ld, dn);
            if (e == WB_OK)
                e = wb_ldap_modify(ld, dn, &m, 1, 0);
            if (e != WB_OK) {
                fprintf(stderr, "writebackctl soa-policy: writing %s failed: %s\n", dn,
                        wb_ldap_last_error(ld) ? wb_ldap_last_error(ld) : wb_err_name(e));
                free(list);
                goto out;
            }
        }
        free(list);
        cJSON_AddBoolToObject(doc, "written", !dry && m.nvalues > 0);
    }
    if (strcmp(verb, "check") == 0) {
        cJSON *groups = cJSON_AddArrayToObject(doc, "enforcedGroups");

        if (enforced_groups(c, ld, groups) < 0)
            goto out;
        if (ctl_soa_dcs(c, ld, doc, pol && result.n > 0 && !bad) < 0)
            goto out;
    }
    if (c->json) {
        ctl_print_json(doc);
        doc = NULL;
    } else {
        cJSON *it;

        printf("policy %s: %s, %d SID(s)\n", dn, cJSON_GetObjectItem(doc, "state")->valuestring,
               (int)cJSON_GetObjectItem(doc, "count")->valuedouble);
        cJSON_ArrayForEach(it, arr)
        {
            cJSON *nm = cJSON_GetObjectItem(it, "name");

            printf("  %-50s %s\n", cJSON_GetObjectItem(it, "sid")->valuestring,
                   cJSON_IsString(nm) ? nm->valuestring : "NOT FOUND IN AD");
        }
        it = cJSON_GetObjectItem(doc, "enforcedGroups");
        if (it) {
            cJSON *g;

            printf("%d enforced group(s) (msDS-ObjectSoa=Cloud)\n", cJSON_GetArraySize(it));
            cJSON_ArrayForEach(g, it) printf("  %s\n", g->valuestring);
        }
        it = cJSON_GetObjectItem(doc, "domainControllers");
        if (it) {
            cJSON *g;

            printf("domain controllers (the update level cannot be read over LDAP):\n");
            cJSON_ArrayForEach(g, it) printf(
                "  %-30s %-32s %-16s %-16s %s\n", cJSON_GetObjectItem(g, "name")->valuestring,
                cJSON_GetObjectItem(g, "operatingSystem")->valuestring,
                cJSON_GetObjectItem(g, "operatingSystemVersion")->valuestring,
                cJSON_GetObjectItem(g, "canEnforce")->valuestring,
                cJSON_GetObjectItem(g, "note")->valuestring);
            printf("%s\n", cJSON_GetObjectItem(doc, "summary")->valuestring);
        }
        if (dry)
            printf("(dry run: nothing written)\n");
    }
    rc = 0;
    if (strcmp(verb, "check") == 0 && (!pol || result.n == 0 || bad))
        rc = CTL_EXIT_FAIL;
out:
    cJSON_Delete(doc);
    sl_free(&result);
    sl_free(&args);
    sl_free(&cur);
    wb_ldap_entry_free(pol);
    free(dn);
    wb_ldap_destroy(ld);
    if (password) {
        memset(password, 0, strlen(password));
        free(password);
    }
    return rc;
}
