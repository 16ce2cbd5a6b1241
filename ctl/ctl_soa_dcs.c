/*
 * soa_dcs: enforcement coverage for soa-policy check. AD group enforcement works per DC: every
 * writable DC must run Windows Server 2022 or 2025 with the documented update
 * (docs/microsoft.md); a change made through any other DC is processed. This lists the domain's
 * DC computer objects, says which of them can enforce by their operating system, and what LDAP
 * cannot show (the installed update level), which the operator checks by hand.
 */
#include "ctl.h"
#include "wb_ldap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* userAccountControl bits of DC computer accounts (MS-ADTS 2.2.16). */
#define UAC_SERVER_TRUST  0x2000    /* a writable DC */
#define UAC_PARTIAL_TRUST 0x4000000 /* a read-only DC */

struct dcs {
    cJSON *arr;
    int writable, can;
};

/*
 * What the operating system says about enforcement: "yes" needs the minimum update too
 * (ntdsai.dll 10.0.20348.5257 on 2022, 10.0.26100.32995 on 2025), which LDAP does not show.
 */
static const char *verdict(const char *os, const char *ver, const char **note)
{
    *note = "";
    if (os && strcasestr(os, "samba")) {
        *note = "Samba does not implement AD group enforcement";
        return "no";
    }
    if (os && strcasestr(os, "Windows Server 2022")) {
        *note = "needs ntdsai.dll 10.0.20348.5257 or later and the KIR policy: check on the DC";
        return "yes-if-updated";
    }
    if (os && strcasestr(os, "Windows Server 2025")) {
        *note = "needs ntdsai.dll 10.0.26100.32995 or later and the KIR policy: check on the DC";
        return "yes-if-updated";
    }
    if (!os) {
        *note = "operatingSystem not set: check the DC by hand";
        return "unknown";
    }
    (void)ver;
    *note = "only Windows Server 2022 and 2025 can enforce";
    return "no";
}

static wb_err_t dc_cb(const struct wb_ldap_entry *e, void *opaque)
{
    struct dcs *d = opaque;
    const struct wb_ldap_val *name = wb_ldap_entry_get(e, "dNSHostName");
    const struct wb_ldap_val *cn = wb_ldap_entry_get(e, "cn");
    const struct wb_ldap_val *os = wb_ldap_entry_get(e, "operatingSystem");
    const struct wb_ldap_val *ver = wb_ldap_entry_get(e, "operatingSystemVersion");
    const struct wb_ldap_val *uac = wb_ldap_entry_get(e, "userAccountControl");
    long flags = uac ? strtol(uac->data, NULL, 10) : 0;
    bool ro = (flags & UAC_PARTIAL_TRUST) != 0;
    const char *note, *v = verdict(os ? os->data : NULL, ver ? ver->data : NULL, &note);
    cJSON *o = cJSON_CreateObject();

    cJSON_AddStringToObject(o, "name", name ? name->data : cn ? cn->data : e->dn);
    cJSON_AddStringToObject(o, "dn", e->dn);
    cJSON_AddStringToObject(o, "operatingSystem", os ? os->data : "");
    cJSON_AddStringToObject(o, "operatingSystemVersion", ver ? ver->data : "");
    cJSON_AddBoolToObject(o, "readOnly", ro);
    cJSON_AddStringToObject(o, "canEnforce", ro ? "n/a (read-only)" : v);
    cJSON_AddStringToObject(o, "note", ro ? "a read-only DC takes no writes" : note);
    cJSON_AddItemToArray(d->arr, o);
    if (!ro) {
        d->writable++;
        d->can += strcmp(v, "yes-if-updated") == 0;
    }
    return WB_OK;
}

int ctl_soa_dcs(struct ctl *c, wb_ldap_t *ld, cJSON *doc, bool policy_ok)
{
    static const char *const attrs[] = {
        "cn", "dNSHostName", "operatingSystem", "operatingSystemVersion", "userAccountControl",
        NULL};
    struct dcs d = {cJSON_AddArrayToObject(doc, "domainControllers"), 0, 0};
    char summary[512];
    const char *mode = wb_conf_get_str(c->conf, "drift.mode");

    /* DC accounts: writable (SERVER_TRUST) or read-only (PARTIAL_SECRETS) */
    if (wb_ldap_search_paged(ld, wb_conf_get_str(c->conf, "ldap.base_dn"), WB_LDAP_SCOPE_SUB,
                             "(&(objectCategory=computer)(|(userAccountControl:1.2.840.113556.1.4."
                             "803:=8192)(userAccountControl:1.2.840.113556.1.4.803:=67108864)))",
                             attrs, 500, dc_cb, &d) != WB_OK) {
        fprintf(stderr, "writebackctl soa-policy: listing the domain controllers failed: %s\n",
                wb_ldap_last_error(ld));
        return -1;
    }
    snprintf(summary, sizeof(summary),
             "%d of %d writable DCs can enforce%s; changes through the others are processed "
             "- drift mode is %s",
             policy_ok ? d.can : 0, d.writable,
             policy_ok ? (d.can ? " (if updated: check by hand)" : "")
                       : " (the policy is missing, off or invalid)",
             mode ? mode : "audit");
    cJSON_AddNumberToObject(doc, "writableDCs", d.writable);
    cJSON_AddNumberToObject(doc, "enforcingDCs", policy_ok ? d.can : 0);
    cJSON_AddStringToObject(doc, "summary", summary);
    return 0;
}
