/*
 * wbt_ldap: the test DC's session, plain libldap set-up and check helpers, and the per-run
 * OU (see wbt_ldap.h).
 */
#include "wbt_ldap.h"

#include <ldap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wb_id.h"
#include "wb_mem.h"
#include "wbt_env.h"

wb_ldap_t *wbt_ldap_connect(void)
{
    struct wb_ldap_opts o = {0};
    char err[512], *pw = wbt_env_password();
    wb_ldap_t *ld;

    o.uri = getenv("WB_TEST_LDAP_URI");
    o.bind_dn = getenv("WB_TEST_LDAP_BIND_DN");
    o.password = pw;
    o.ca_file = getenv("WB_TEST_LDAP_CA_FILE");
    o.timeout_ms = 30000;
    o.reconnect = 1;
    ld = wb_ldap_new(&o, err, sizeof(err));
    if (!ld)
        fprintf(stderr, "connect to %s: %s\n", o.uri ? o.uri : "(no URI)", err);
    free(pw);
    return ld;
}

int wbt_ldap_add(wb_ldap_t *ld, const char *dn, const char *const *kv)
{
    LDAPMod store[8], *mods[9];
    char *vals[8][2];
    size_t i;

    for (i = 0; i < 8 && kv[2 * i]; i++) {
        store[i].mod_op = LDAP_MOD_ADD;
        store[i].mod_type = (char *)kv[2 * i];
        vals[i][0] = (char *)kv[2 * i + 1];
        vals[i][1] = NULL;
        store[i].mod_values = vals[i];
        mods[i] = &store[i];
    }
    mods[i] = NULL;
    return ldap_add_ext_s(wb_ldap_handle(ld), dn, mods, NULL, NULL);
}

char *wbt_ldap_read(wb_ldap_t *ld, const char *dn, const char *attr)
{
    const char *attrs[2] = {attr, NULL};
    LDAPMessage *res = NULL, *e;
    struct berval **v = NULL;
    char *out = NULL;

    if (ldap_search_ext_s(wb_ldap_handle(ld), dn, LDAP_SCOPE_BASE, "(objectClass=*)",
                          (char **)attrs, 0, NULL, NULL, NULL, 0, &res) == LDAP_SUCCESS) {
        e = ldap_first_entry(wb_ldap_handle(ld), res);
        v = e ? ldap_get_values_len(wb_ldap_handle(ld), e, attr) : NULL;
        if (v && v[0]) {
            if (strcmp(attr, "objectSid") == 0) {
                char s[WB_ID_SID_STR_SIZE];

                if (wb_id_sid_to_str((unsigned char *)v[0]->bv_val, v[0]->bv_len, s))
                    out = wb_strdup(s);
            } else {
                out = wb_strndup(v[0]->bv_val, v[0]->bv_len);
            }
        }
    }
    ldap_value_free_len(v);
    ldap_msgfree(res);
    return out;
}

bool wbt_ldap_exists(wb_ldap_t *ld, const char *dn)
{
    LDAPMessage *res = NULL;
    int rc = ldap_search_ext_s(wb_ldap_handle(ld), dn, LDAP_SCOPE_BASE, "(objectClass=*)",
                               (char **)(const char *const[]){"1.1", NULL}, 0, NULL, NULL, NULL, 0,
                               &res);

    ldap_msgfree(res);
    return rc == LDAP_SUCCESS;
}

void wbt_ldap_delete_tree(wb_ldap_t *ld, const char *dn)
{
    LDAPMessage *res = NULL, *e;

    if (ldap_search_ext_s(wb_ldap_handle(ld), dn, LDAP_SCOPE_ONELEVEL, "(objectClass=*)",
                          (char **)(const char *const[]){"1.1", NULL}, 0, NULL, NULL, NULL, 0,
                          &res) == LDAP_SUCCESS) {
        for (e = ldap_first_entry(wb_ldap_handle(ld), res); e;
             e = ldap_next_entry(wb_ldap_handle(ld), e)) {
            char *child = ldap_get_dn(wb_ldap_handle(ld), e);

            ldap_delete_ext_s(wb_ldap_handle(ld), child, NULL, NULL);
            ldap_memfree(child);
        }
    }
    ldap_msgfree(res);
    ldap_delete_ext_s(wb_ldap_handle(ld), dn, NULL, NULL);
}

int wbt_ldap_ou_create(struct wbt_ldap_ou *ou, const char *num, size_t nusers)
{
    int rc;
    size_t i;

    memset(ou, 0, sizeof(*ou));
    ou->ld = wbt_ldap_connect();
    if (!ou->ld)
        return -1;
    ou->run = wbt_env_run_id();
    ou->dn = wb_asprintf("OU=t%s-%08x,%s", num, ou->run, getenv("WB_TEST_LDAP_TARGET_OU"));
    rc = wbt_ldap_add(ou->ld, ou->dn,
                      (const char *const[]){"objectClass", "organizationalUnit", NULL});
    if (rc != LDAP_SUCCESS) {
        fprintf(stderr, "add %s: %s\n", ou->dn, ldap_err2string(rc));
        free(ou->dn);
        ou->dn = NULL; /* not ours: leave it alone at the end */
        return -1;
    }
    ou->udn = wb_calloc(nusers, sizeof(*ou->udn));
    ou->uid = wb_calloc(nusers, sizeof(*ou->uid));
    ou->usid = wb_calloc(nusers, sizeof(*ou->usid));
    ou->nusers = nusers;
    for (i = 0; i < nusers; i++) {
        char *sam = wb_asprintf("u%zu-%s-%08x", i, num, ou->run); /* at most 20 characters */

        ou->udn[i] = wb_asprintf("CN=%s,%s", sam, ou->dn);
        ou->uid[i] = wb_asprintf("%08x-%s-4000-9000-%012zu", ou->run, num, i);
        rc =
            wbt_ldap_add(ou->ld, ou->udn[i],
                         (const char *const[]){"objectClass", "user", "sAMAccountName", sam, NULL});
        free(sam);
        if (rc != LDAP_SUCCESS) {
            fprintf(stderr, "add %s: %s\n", ou->udn[i], ldap_err2string(rc));
            return -1;
        }
        ou->usid[i] = wbt_ldap_read(ou->ld, ou->udn[i], "objectSid");
        if (!ou->usid[i]) {
            fprintf(stderr, "no objectSid on %s\n", ou->udn[i]);
            return -1;
        }
    }
    return 0;
}

void wbt_ldap_ou_destroy(struct wbt_ldap_ou *ou)
{
    size_t i;

    if (ou->ld && ou->dn)
        wbt_ldap_delete_tree(ou->ld, ou->dn);
    for (i = 0; i < ou->nusers; i++) {
        free(ou->udn[i]);
        free(ou->uid[i]);
        free(ou->usid[i]);
    }
    free(ou->udn);
    free(ou->uid);
    free(ou->usid);
    free(ou->dn);
    wb_ldap_destroy(ou->ld);
    memset(ou, 0, sizeof(*ou));
}
