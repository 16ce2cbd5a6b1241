/*
 * wb_apply: one step of one group against AD (see wb_apply.h): the object half (match by
 * anchor, adopt, create, update, rename/move, delete). Member changes live in
 * wb_apply_members.c. Objects without our anchor are never modified or deleted.
 */
#include "wb_apply_int.h"
#include "wb_id.h"
#include "wb_log.h"
#include "wb_map.h"
#include "wb_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *const obj_attrs[] = {"cn",
                                        "displayName",
                                        "description",
                                        "adminDescription",
                                        "sAMAccountName",
                                        "groupType",
                                        "msDS-ObjectSoa",
                                        "msDS-ExternalDirectoryObjectId",
                                        NULL};

static void wbv2_forget(wb_apply_t *ap);

wb_apply_t *wb_apply_new(wb_ad_t *ad, const struct wb_apply_cfg *cfg, struct wb_wmetrics *wm)
{
    wb_apply_t *ap = wb_calloc(1, sizeof(*ap));

    ap->ad = ad;
    ap->wm = wm;
    ap->cfg = *cfg;
    ap->cfg.base_dn = wb_strdup(cfg->base_dn);
    ap->cfg.target_ou = wb_strdup(cfg->target_ou);
    ap->wbv2.usn = -1;
    if (ap->cfg.member_chunk <= 0)
        ap->cfg.member_chunk = 1000;
    if (ap->cfg.range_window <= 0)
        ap->cfg.range_window = 1000;
    return ap;
}

void wb_apply_destroy(wb_apply_t *ap)
{
    if (!ap)
        return;
    free((char *)ap->cfg.base_dn);
    free((char *)ap->cfg.target_ou);
    free(ap->create_sam_holder);
    wbv2_forget(ap);
    free(ap);
}

void wb_apply_result_free(struct wb_apply_result *res)
{
    if (!res)
        return;
    free(res->ldap_message);
    free(res->matched_dn);
    wb_mset_destroy(res->dead_members);
    memset(res, 0, sizeof(*res));
    res->ldap_rc = -1;
}

wb_err_t apply_fail(wb_apply_t *ap, struct wb_apply_result *res, wb_err_t err,
                    enum wb_reason reason, int rc, const char *dn)
{
    res->err = err;
    res->reason = wb_reason_tag(reason);
    res->ldap_rc = rc;
    free(res->ldap_message);
    free(res->matched_dn);
    res->ldap_message = rc >= 0 ? wb_strdup(wb_ad_last_message(ap->ad)) : NULL;
    res->matched_dn = dn ? wb_strdup(dn) : NULL;
    return err;
}

wb_err_t apply_ldap_fail(wb_apply_t *ap, struct wb_apply_result *res, enum wb_reason reason, int rc,
                         const char *dn)
{
    wb_err_t err = wb_err_from_ldap(rc);

    if (err == WB_OK)
        err = WB_ERR_TRANSIENT;
    return apply_fail(ap, res, err, reason, rc, dn);
}

void apply_audit(wb_apply_t *ap, const struct wb_apply_ctx *cx, const char *op, const char *dn,
                 const char *attrs)
{
    wb_log(LOG_NOTICE, ap->cfg.dry_run ? "DRYRUN" : "AUDIT",
           "op=%s group=%s dn=\"%s\" attrs=%s partition=%d offset=%lld", op, cx->group, dn, attrs,
           (int)cx->partition, (long long)cx->offset);
}

char *apply_first_value(LDAP *ld, LDAPMessage *e, const char *attr)
{
    struct berval **v = ldap_get_values_len(ld, e, attr);
    char *s = NULL;

    if (v && v[0])
        s = wb_strndup(v[0]->bv_val, v[0]->bv_len);
    ldap_value_free_len(v);
    return s;
}

struct adobj {
    char *dn, *cn, *display_name, *description, *admin_description, *group_type, *soa, *ext_id;
};

static void adobj_free(struct adobj *o)
{
    free(o->dn);
    free(o->cn);
    free(o->display_name);
    free(o->description);
    free(o->admin_description);
    free(o->group_type);
    free(o->soa);
    free(o->ext_id);
    memset(o, 0, sizeof(*o));
}

static void adobj_read(LDAP *ld, LDAPMessage *e, struct adobj *o)
{
    char *dn = ldap_get_dn(ld, e);

    o->dn = wb_strdup(dn ? dn : "");
    ldap_memfree(dn);
    o->cn = apply_first_value(ld, e, "cn");
    o->display_name = apply_first_value(ld, e, "displayName");
    o->description = apply_first_value(ld, e, "description");
    o->admin_description = apply_first_value(ld, e, "adminDescription");
    o->group_type = apply_first_value(ld, e, "groupType");
    o->soa = apply_first_value(ld, e, "msDS-ObjectSoa");
    o->ext_id = apply_first_value(ld, e, "msDS-ExternalDirectoryObjectId");
}

/* Searches base_dn for filter (attribute = value, value escaped here). *n is the number of
 * entries; the first is read into *o. Returns an LDAP code. */
static int find_by(wb_apply_t *ap, const char *attr, const char *value, struct adobj *o, int *n)
{
    char *esc = wb_id_filter_escape(value, strlen(value));
    char *filter = wb_asprintf("(&(objectClass=group)(%s=%s))", attr, esc);
    LDAPMessage *res = NULL, *e;
    int rc;

    *n = 0;
    rc = wb_ad_search(ap->ad, ap->cfg.base_dn, LDAP_SCOPE_SUBTREE, filter, obj_attrs, NULL, &res);
    if (rc == LDAP_SUCCESS) {
        LDAP *ld = wb_ad_handle(ap->ad);

        for (e = ldap_first_entry(ld, res); e; e = ldap_next_entry(ld, e)) {
            if (*n == 0)
                adobj_read(ld, e, o);
            (*n)++;
        }
    }
    ldap_msgfree(res);
    free(filter);
    free(esc);
    return rc;
}

int wb_apply_find_anchor(wb_apply_t *ap, const char *anchor, char **dn, int *n)
{
    struct adobj o = {0};
    int rc = find_by(ap, "msDS-ExternalDirectoryObjectId", anchor, &o, n);

    *dn = NULL;
    if (rc == LDAP_SUCCESS && *n > 0)
        *dn = wb_strdup(o.dn ? o.dn : "");
    adobj_free(&o);
    return rc;
}

/* Normalised form of a DN for comparisons (case-insensitive compare of the result). */
static char *dn_norm(const char *dn)
{
    char *out = NULL, *copy;

    if (ldap_dn_normalize(dn, LDAP_DN_FORMAT_LDAPV3, &out, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS ||
        !out)
        return wb_strdup(dn);
    copy = wb_strdup(out);
    ldap_memfree(out);
    return copy;
}

bool apply_dn_equal(const char *a, const char *b)
{
    char *na = dn_norm(a), *nb = dn_norm(b);
    bool eq = strcasecmp(na, nb) == 0;

    free(na);
    free(nb);
    return eq;
}

/* The parent of dn (everything after the first RDN), caller-owned; "" when none. */
static char *dn_parent(const char *dn)
{
    LDAPDN parts = NULL;
    char *out = NULL, *copy;

    if (ldap_str2dn(dn, &parts, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS || !parts || !parts[0]) {
        if (parts)
            ldap_dnfree(parts);
        return wb_strdup("");
    }
    if (ldap_dn2str(&parts[1], &out, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS || !out)
        copy = wb_strdup("");
    else
        copy = wb_strdup(out);
    ldap_memfree(out);
    ldap_dnfree(parts);
    return copy;
}

/* --- LDAPMod building --- */

struct mods {
    LDAPMod *m[16];
    LDAPMod store[16];
    char *vals[16][2];
    size_t n;
    char names[256]; /* "displayName,description" for the audit line */
};

static void mods_add(struct mods *ms, int op, const char *attr, const char *value)
{
    LDAPMod *m = &ms->store[ms->n];

    memset(m, 0, sizeof(*m));
    m->mod_op = op;
    m->mod_type = (char *)attr;
    ms->vals[ms->n][0] = (char *)value;
    ms->vals[ms->n][1] = NULL;
    m->mod_values = value ? ms->vals[ms->n] : NULL;
    ms->m[ms->n++] = m;
    ms->m[ms->n] = NULL;
    if (ms->names[0])
        strncat(ms->names, ",", sizeof(ms->names) - strlen(ms->names) - 1);
    strncat(ms->names, attr, sizeof(ms->names) - strlen(ms->names) - 1);
}

/* Adds a replace (or delete when want is NULL) of attr when the current value differs. */
static void mods_diff(struct mods *ms, const char *attr, const char *cur, const char *want)
{
    if (want && (!cur || strcmp(cur, want) != 0))
        mods_add(ms, LDAP_MOD_REPLACE, attr, want);
    else if (!want && cur)
        mods_add(ms, LDAP_MOD_DELETE, attr, NULL);
}

/* --- the object --- */

static bool map_attrs(wb_apply_t *ap, const char *group, const struct wb_group_attrs *a,
                      struct wb_map_group *m, struct wb_apply_result *res)
{
    char err[256];
    const char *dn = a && a->display_name ? a->display_name : "";
    const char *desc = a ? a->description : NULL;

    if (!wb_map_group(m, dn, strlen(dn), desc, desc ? strlen(desc) : 0, group, ap->cfg.target_ou,
                      err, sizeof(err))) {
        wb_log(LOG_WARNING, "WORKER", "group=%s: cannot map attributes: %s", group, err);
        apply_fail(ap, res, WB_ERR_INVALID, WB_REASON_BAD_ATTRIBUTES, -1, NULL);
        return false;
    }
    return true;
}

/*
 * Create: the add carries the first chunk of member values (vals, n may be 0). A base search
 * at the DN first (see below); a 68 answer (sAMAccountName, or a race) makes us look at the
 * object holding the name: ours (our anchor, created meanwhile: *outcome APPLY_CREATE_OURS,
 * WB_OK) or a conflict. A refusal that a bad
 * member value may explain (n > 0, not transient): APPLY_CREATE_MEMBER_REFUSED, WB_ERR_INVALID,
 * res untouched but for writes; the caller then creates the group bare.
 */
wb_err_t apply_create(wb_apply_t *ap, const struct wb_apply_ctx *cx, const struct wb_map_group *m,
                      struct berval **vals, size_t n, int *outcome, struct wb_apply_result *res)
{
    struct mods ms = {0};
    char gt[16], mattr[32];
    int rc, cnt = 0;
    struct adobj other = {0};
    wb_err_t cls;

    *outcome = APPLY_CREATE_DONE;
    snprintf(gt, sizeof(gt), "%d", (int)m->group_type);
    mods_add(&ms, LDAP_MOD_ADD, "objectClass", "group");
    mods_add(&ms, LDAP_MOD_ADD, "cn", m->cn);
    mods_add(&ms, LDAP_MOD_ADD, "sAMAccountName", m->sam_account_name);
    mods_add(&ms, LDAP_MOD_ADD, "groupType", gt);
    if (m->display_name)
        mods_add(&ms, LDAP_MOD_ADD, "displayName", m->display_name);
    if (m->description)
        mods_add(&ms, LDAP_MOD_ADD, "description", m->description);
    mods_add(&ms, LDAP_MOD_ADD, "adminDescription", m->anchor);
    mods_add(&ms, LDAP_MOD_ADD, "msDS-ExternalDirectoryObjectId", m->anchor);
    if (ap->cfg.soa)
        mods_add(&ms, LDAP_MOD_ADD, "msDS-ObjectSoa", "Cloud");
    if (n > 0) {
        LDAPMod *mm = &ms.store[ms.n];

        memset(mm, 0, sizeof(*mm));
        mm->mod_op = LDAP_MOD_ADD | LDAP_MOD_BVALUES;
        mm->mod_type = "member";
        mm->mod_bvalues = vals;
        ms.m[ms.n++] = mm;
        ms.m[ms.n] = NULL;
        snprintf(mattr, sizeof(mattr), ",member(+%zu)", n);
        strncat(ms.names, mattr, sizeof(ms.names) - strlen(ms.names) - 1);
    }
    /* A name taken by an object we do not own: known without sending the add, so a replay of
     * a converged topic writes nothing, even for its conflicts (0320 asserts it). */
    if (ap->create_checked && ap->create_sam_holder && !ap->create_dn_taken) {
        /* Known from the locate search: no add sent, so a replay writes nothing either. */
        wb_log(LOG_WARNING, "WORKER",
               "group=%s: cannot create %s: sAMAccountName %s is taken by %s", cx->group, m->dn,
               m->sam_account_name, ap->create_sam_holder);
        return apply_fail(ap, res, WB_ERR_CONFLICT, WB_REASON_SAM_CONFLICT, LDAP_ALREADY_EXISTS,
                          ap->create_sam_holder);
    }
    {
        LDAPMessage *r = NULL;
        int brc;

        /* The locate search already looked for an object at the DN (one search saved). */
        if (ap->create_checked)
            brc = ap->create_dn_taken ? LDAP_SUCCESS : LDAP_NO_SUCH_OBJECT;
        else
            brc = wb_ad_search(ap->ad, m->dn, LDAP_SCOPE_BASE, "(objectClass=*)",
                               (const char *const[]){"1.1", NULL}, NULL, &r);
        ldap_msgfree(r);
        if (brc == LDAP_SUCCESS) {
            wb_log(LOG_WARNING, "WORKER",
                   "group=%s: cannot create %s: an object we do not own has that name", cx->group,
                   m->dn);
            return apply_fail(ap, res, WB_ERR_CONFLICT, WB_REASON_DN_CONFLICT, LDAP_ALREADY_EXISTS,
                              m->dn);
        }
        if (brc != LDAP_NO_SUCH_OBJECT)
            return apply_ldap_fail(ap, res, WB_REASON_SEARCH_FAILED, brc, m->dn);
    }
    res->writes++;
    if (ap->cfg.dry_run) {
        apply_audit(ap, cx, "add", m->dn, ms.names);
        return WB_OK;
    }
    rc = wb_ad_add(ap->ad, m->dn, ms.m);
    if (rc == LDAP_SUCCESS) {
        apply_audit(ap, cx, "add", m->dn, ms.names);
        return WB_OK;
    }
    if (rc == LDAP_ALREADY_EXISTS) {
        LDAPMessage *r = NULL, *e;
        char *ext = NULL;
        int brc =
            wb_ad_search(ap->ad, m->dn, LDAP_SCOPE_BASE, "(objectClass=*)",
                         (const char *const[]){"msDS-ExternalDirectoryObjectId", NULL}, NULL, &r);

        if (brc == LDAP_SUCCESS && (e = ldap_first_entry(wb_ad_handle(ap->ad), r)) != NULL)
            ext = apply_first_value(wb_ad_handle(ap->ad), e, "msDS-ExternalDirectoryObjectId");
        ldap_msgfree(r);
        if (brc == LDAP_SUCCESS && ext && strcasecmp(ext, m->anchor) == 0) {
            wb_log(LOG_INFO, "WORKER", "group=%s: %s appeared with our anchor meanwhile", cx->group,
                   m->dn);
            free(ext);
            *outcome = APPLY_CREATE_OURS;
            return WB_OK;
        }
        free(ext);
        if (brc == LDAP_SUCCESS) {
            wb_log(LOG_WARNING, "WORKER",
                   "group=%s: cannot create %s: an object we do not own has that name", cx->group,
                   m->dn);
            return apply_fail(ap, res, WB_ERR_CONFLICT, WB_REASON_DN_CONFLICT, rc, m->dn);
        }
        if (brc != LDAP_NO_SUCH_OBJECT)
            return apply_ldap_fail(ap, res, WB_REASON_SEARCH_FAILED, brc, m->dn);
        find_by(ap, "sAMAccountName", m->sam_account_name, &other, &cnt);
        wb_log(LOG_WARNING, "WORKER",
               "group=%s: cannot create %s: sAMAccountName %s is taken by %s", cx->group, m->dn,
               m->sam_account_name, cnt ? other.dn : "(an object not visible under base_dn)");
        apply_fail(ap, res, WB_ERR_CONFLICT, WB_REASON_SAM_CONFLICT, rc, cnt ? other.dn : m->dn);
        adobj_free(&other);
        return WB_ERR_CONFLICT;
    }
    cls = wb_err_from_ldap(rc);
    if (n > 0 && cls != WB_ERR_TRANSIENT && cls != WB_ERR_FATAL) {
        wb_dbg("worker", "WORKER",
               "group=%s: add %s with %zu members answered %d (%s); creating "
               "it without members",
               cx->group, m->dn, n, rc, wb_ad_last_message(ap->ad));
        *outcome = APPLY_CREATE_MEMBER_REFUSED;
        return WB_ERR_INVALID;
    }
    wb_log(LOG_WARNING, "WORKER", "group=%s: add %s failed: %s (%s)", cx->group, m->dn,
           ldap_err2string(rc), wb_ad_last_message(ap->ad));
    return apply_ldap_fail(ap, res, WB_REASON_ADD_FAILED, rc, m->dn);
}

/* Update attributes that differ, then rename/move. *dn is updated to the new DN. */
static wb_err_t update(wb_apply_t *ap, const struct wb_apply_ctx *cx, const struct adobj *o,
                       const struct wb_map_group *m, char **dn, struct wb_apply_result *res)
{
    struct mods ms = {0};
    char gt[16], *parent = NULL;
    bool move, rename;
    int rc;
    wb_err_t err = WB_OK;

    snprintf(gt, sizeof(gt), "%d", (int)m->group_type);
    mods_diff(&ms, "displayName", o->display_name, m->display_name);
    mods_diff(&ms, "description", o->description, m->description);
    mods_diff(&ms, "adminDescription", o->admin_description, m->anchor);
    mods_diff(&ms, "groupType", o->group_type, gt);
    if (ap->cfg.soa)
        mods_diff(&ms, "msDS-ObjectSoa", o->soa, "Cloud");
    if (ms.n > 0) {
        res->writes++;
        rc = ap->cfg.dry_run ? LDAP_SUCCESS : wb_ad_modify(ap->ad, *dn, ms.m, false);
        if (rc != LDAP_SUCCESS) {
            wb_log(LOG_WARNING, "WORKER", "group=%s: modify %s (%s) failed: %s (%s)", cx->group,
                   *dn, ms.names, ldap_err2string(rc), wb_ad_last_message(ap->ad));
            return apply_ldap_fail(ap, res, WB_REASON_MODIFY_FAILED, rc, *dn);
        }
        apply_audit(ap, cx, "modify", *dn, ms.names);
    }

    parent = dn_parent(*dn);
    move = !apply_dn_equal(parent, ap->cfg.target_ou);
    rename = !o->cn || strcmp(o->cn, m->cn) != 0;
    if (move || rename) {
        char attrs[1024];

        snprintf(attrs, sizeof(attrs), "newrdn=\"%s\"%s%s%s", m->rdn, move ? ",newsuperior=\"" : "",
                 move ? ap->cfg.target_ou : "", move ? "\"" : "");
        res->writes++;
        rc = ap->cfg.dry_run ? LDAP_SUCCESS
                             : wb_ad_rename(ap->ad, *dn, m->rdn, move ? ap->cfg.target_ou : NULL);
        if (rc == LDAP_ALREADY_EXISTS) {
            wb_log(LOG_WARNING, "WORKER", "group=%s: cannot rename %s to %s: name taken", cx->group,
                   *dn, m->dn);
            err = apply_fail(ap, res, WB_ERR_CONFLICT, WB_REASON_DN_CONFLICT, rc, m->dn);
            goto out;
        }
        if (rc != LDAP_SUCCESS) {
            wb_log(LOG_WARNING, "WORKER", "group=%s: modrdn %s failed: %s (%s)", cx->group, *dn,
                   ldap_err2string(rc), wb_ad_last_message(ap->ad));
            err = apply_ldap_fail(ap, res, WB_REASON_MODRDN_FAILED, rc, *dn);
            goto out;
        }
        apply_audit(ap, cx, "modrdn", *dn, attrs);
        /* A dry run renamed nothing: later reads (members) stay at the current DN. */
        if (!ap->cfg.dry_run) {
            free(*dn);
            *dn = wb_asprintf("%s,%s", m->rdn, move ? ap->cfg.target_ou : parent);
        }
    }
out:
    free(parent);
    return err;
}

/*
 * Groups written by Connect Sync writeback carry adminDescription=Group_<id> and no anchor.
 * adminDescription is not indexed in AD, so looking for one before every create would scan the
 * directory each time (220 ms per create on a Samba DC holding 90,000 users, measured; 51 ms
 * restricted to objectClass=group with 1,000 groups). Instead the worker keeps the list of
 * those groups' adminDescription values: one paged scan fills it, and before each lookup the
 * groups changed since the previous one (uSNChanged above the server's highestCommittedUSN
 * read then; an indexed attribute) are added, which costs little because the window is short.
 * A value in the list is confirmed by the exact search, so the answer is as fresh as a full
 * search; entries gone stale (adopted, deleted) only cost that search. The list is scanned
 * afresh after WBV2_RESCAN_MS and after a reconnect (USNs belong to one domain controller).
 */
#define WBV2_RESCAN_MS (15 * 60 * 1000)
#define WBV2_PAGE      1000

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cmp_ci(const void *a, const void *b)
{
    return strcasecmp(*(char *const *)a, *(char *const *)b);
}

/* The server's highestCommittedUSN from the root DSE. */
static int read_usn(wb_apply_t *ap, long long *usn)
{
    LDAPMessage *r = NULL, *e;
    char *v = NULL;
    int rc = wb_ad_search(ap->ad, "", LDAP_SCOPE_BASE, "(objectClass=*)",
                          (const char *const[]){"highestCommittedUSN", NULL}, NULL, &r);

    *usn = -1;
    if (rc == LDAP_SUCCESS && (e = ldap_first_entry(wb_ad_handle(ap->ad), r)) != NULL)
        v = apply_first_value(wb_ad_handle(ap->ad), e, "highestCommittedUSN");
    ldap_msgfree(r);
    if (v)
        *usn = strtoll(v, NULL, 10);
    free(v);
    if (rc == LDAP_SUCCESS && *usn < 0)
        rc = LDAP_NO_SUCH_ATTRIBUTE; /* not an AD domain controller */
    return rc;
}

/* Appends one Connect-written group's adminDescription to the list (wbv2_list's callback). */
static wb_err_t wbv2_add(const struct wb_ldap_entry *e, void *opaque)
{
    wb_apply_t *ap = opaque;
    const struct wb_ldap_val *a = wb_ldap_entry_get(e, "adminDescription");

    if (!a)
        return WB_OK;
    if (ap->wbv2.n == ap->wbv2.cap) {
        ap->wbv2.cap = ap->wbv2.cap ? ap->wbv2.cap * 2 : 64;
        ap->wbv2.anchors = wb_realloc(ap->wbv2.anchors, ap->wbv2.cap * sizeof(*ap->wbv2.anchors));
    }
    ap->wbv2.anchors[ap->wbv2.n++] = wb_strndup(a->data, a->len);
    return WB_OK;
}

/* Appends to the list the Connect-written groups changed since USN since (all: -1), paged. */
static int wbv2_list(wb_apply_t *ap, long long since)
{
    char *filter;
    int rc;

    if (since < 0)
        filter = wb_asprintf("(&(objectClass=group)(adminDescription=Group_*)"
                             "(!(msDS-ExternalDirectoryObjectId=*)))");
    else
        filter = wb_asprintf("(&(objectClass=group)(uSNChanged>=%lld)(adminDescription=Group_*)"
                             "(!(msDS-ExternalDirectoryObjectId=*)))",
                             since);
    rc = wb_ad_search_paged(ap->ad, ap->cfg.base_dn, filter,
                            (const char *const[]){"adminDescription", NULL}, WBV2_PAGE, wbv2_add,
                            ap);
    free(filter);
    return rc;
}

static void wbv2_forget(wb_apply_t *ap)
{
    size_t i;

    for (i = 0; i < ap->wbv2.n; i++)
        free(ap->wbv2.anchors[i]);
    free(ap->wbv2.anchors);
    ap->wbv2.anchors = NULL;
    ap->wbv2.n = 0;
    ap->wbv2.cap = 0;
    ap->wbv2.usn = -1;
}

/* Brings the list up to date: a full scan when due, else the groups changed since the last
 * call. On failure the list is forgotten (the next call scans). Returns an LDAP code. */
static int wbv2_refresh(wb_apply_t *ap)
{
    long long usn, t0 = mono_ms();
    size_t before;
    unsigned conn;
    bool full = ap->wbv2.usn < 0 || t0 - ap->wbv2.scanned >= WBV2_RESCAN_MS ||
                ap->wbv2.conn != wb_ad_connections(ap->ad) || !wb_ad_connected(ap->ad);
    int rc;

    if (full)
        wbv2_forget(ap);
    rc = read_usn(ap, &usn);
    conn = wb_ad_connections(ap->ad);
    before = ap->wbv2.n;
    if (rc == LDAP_SUCCESS)
        rc = wbv2_list(ap, full ? -1 : ap->wbv2.usn);
    if (rc == LDAP_SUCCESS && conn != wb_ad_connections(ap->ad))
        rc = LDAP_SERVER_DOWN; /* reconnected meanwhile: USNs may be another server's */
    if (rc != LDAP_SUCCESS) {
        wbv2_forget(ap);
        return rc;
    }
    if (ap->wbv2.n > before && ap->wbv2.n > 1)
        qsort(ap->wbv2.anchors, ap->wbv2.n, sizeof(*ap->wbv2.anchors), cmp_ci);
    ap->wbv2.usn = usn;
    ap->wbv2.conn = conn;
    if (full) {
        ap->wbv2.scanned = mono_ms();
        wb_dbg("worker", "WORKER", "%zu Connect-written groups listed in %lld ms (USN %lld)",
               ap->wbv2.n, ap->wbv2.scanned - t0, usn);
    }
    return LDAP_SUCCESS;
}

/* Sets *maybe when a Connect-written group may carry anchor (the exact search then decides);
 * false means none does. Returns an LDAP code. */
static int wbv2_maybe(wb_apply_t *ap, const char *anchor, bool *maybe)
{
    int rc = wbv2_refresh(ap);

    *maybe = true;
    if (rc != LDAP_SUCCESS) {
        if (wb_err_from_ldap(rc) == WB_ERR_TRANSIENT)
            return rc;
        /* Not listable here (no USN, paging refused): the exact search decides. */
        wb_dbg("worker", "WORKER", "listing Connect-written groups failed: %s",
               ldap_err2string(rc));
        return LDAP_SUCCESS;
    }
    *maybe = ap->wbv2.n > 0 && bsearch(&anchor, ap->wbv2.anchors, ap->wbv2.n,
                                       sizeof(*ap->wbv2.anchors), cmp_ci) != NULL;
    return LDAP_SUCCESS;
}

/*
 * One search for what a SYNC step with attributes needs to know before it creates: objects
 * carrying our anchor and objects holding the wanted DN (cn) or sAMAccountName, all indexed
 * attributes (adminDescription is not, so adoption keeps its own search, only when the anchor
 * is not found). On success *n_ext counts the anchor holders (the first read into ext),
 * ap->create_checked is set and ap->create_dn_taken / ap->create_sam_holder say whether the
 * create would collide. Returns an LDAP code.
 */
static int find_all(wb_apply_t *ap, const char *anchor, const struct wb_map_group *m,
                    struct adobj *ext, int *n_ext)
{
    char *ea = wb_id_filter_escape(anchor, strlen(anchor));
    char *ec = wb_id_filter_escape(m->cn, strlen(m->cn));
    char *es = wb_id_filter_escape(m->sam_account_name, strlen(m->sam_account_name));
    char *filter = wb_asprintf("(|(&(objectClass=group)(msDS-ExternalDirectoryObjectId=%s))"
                               "(cn=%s)(sAMAccountName=%s))",
                               ea, ec, es);
    LDAPMessage *r = NULL, *e;
    int rc;

    *n_ext = 0;
    rc = wb_ad_search(ap->ad, ap->cfg.base_dn, LDAP_SCOPE_SUBTREE, filter, obj_attrs, NULL, &r);
    if (rc == LDAP_SUCCESS) {
        LDAP *ld = wb_ad_handle(ap->ad);

        ap->create_checked = true;
        ap->create_dn_taken = false;
        free(ap->create_sam_holder);
        ap->create_sam_holder = NULL;
        for (e = ldap_first_entry(ld, r); e; e = ldap_next_entry(ld, e)) {
            struct adobj o = {0};
            char *sam = apply_first_value(ld, e, "sAMAccountName");

            adobj_read(ld, e, &o);
            if (o.ext_id && strcasecmp(o.ext_id, anchor) == 0) {
                if ((*n_ext)++ == 0) {
                    *ext = o;
                    memset(&o, 0, sizeof(o));
                }
            }
            if (o.dn && apply_dn_equal(o.dn, m->dn))
                ap->create_dn_taken = true;
            if (o.dn && sam && strcasecmp(sam, m->sam_account_name) == 0 && !ap->create_sam_holder)
                ap->create_sam_holder = wb_strdup(o.dn);
            free(sam);
            adobj_free(&o);
        }
    }
    ldap_msgfree(r);
    free(filter);
    free(es);
    free(ec);
    free(ea);
    return rc;
}

/*
 * Finds our object: by msDS-ExternalDirectoryObjectId, else (adoption) by adminDescription.
 * m non-NULL (a step with attributes): the anchor search also checks the names a create
 * would take (find_all). *found: 0 none, 1 found (o filled). Returns WB_OK or a
 * failure in res.
 */
static wb_err_t locate(wb_apply_t *ap, const struct wb_apply_ctx *cx, const char *anchor,
                       bool may_adopt, const struct wb_map_group *m, struct adobj *o, int *found,
                       struct wb_apply_result *res)
{
    int rc, n = 0;

    *found = 0;
    ap->create_checked = false;
    if (m)
        rc = find_all(ap, anchor, m, o, &n);
    else
        rc = find_by(ap, "msDS-ExternalDirectoryObjectId", anchor, o, &n);
    if (rc != LDAP_SUCCESS)
        return apply_ldap_fail(ap, res, WB_REASON_SEARCH_FAILED, rc, ap->cfg.base_dn);
    if (n > 1) {
        wb_log(LOG_WARNING, "WORKER", "group=%s: %d objects carry anchor %s (one is %s)", cx->group,
               n, anchor, o->dn);
        return apply_fail(ap, res, WB_ERR_CONFLICT, WB_REASON_DUPLICATE_ANCHOR, -1, o->dn);
    }
    if (n == 1) {
        ap->create_checked = false;
        *found = 1;
        return WB_OK;
    }
    adobj_free(o);
    if (!may_adopt)
        return WB_OK;
    {
        bool maybe = true;

        rc = wbv2_maybe(ap, anchor, &maybe);
        if (rc != LDAP_SUCCESS)
            return apply_ldap_fail(ap, res, WB_REASON_SEARCH_FAILED, rc, ap->cfg.base_dn);
        if (!maybe)
            return WB_OK; /* no Connect-written group has it (create_checked still holds) */
    }
    rc = find_by(ap, "adminDescription", anchor, o, &n);
    if (rc != LDAP_SUCCESS)
        return apply_ldap_fail(ap, res, WB_REASON_SEARCH_FAILED, rc, ap->cfg.base_dn);
    if (n == 0)
        return WB_OK;
    ap->create_checked = false;
    if (n > 1) {
        wb_log(LOG_WARNING, "WORKER", "group=%s: %d objects carry adminDescription=%s", cx->group,
               n, anchor);
        return apply_fail(ap, res, WB_ERR_CONFLICT, WB_REASON_DUPLICATE_ANCHOR, -1, o->dn);
    }
    if (!ap->cfg.adopt) {
        /* A conflict, not a skip: the dead letter shows it and can be re-driven once
         * worker.adopt_writeback_v2=true. The object is left untouched. */
        wb_log(LOG_WARNING, "WORKER",
               "group=%s: %s was written by Connect Sync group writeback (adminDescription=%s, "
               "no msDS-ExternalDirectoryObjectId); not touching it: set "
               "worker.adopt_writeback_v2=true to adopt it, then re-drive the dead letter",
               cx->group, o->dn, anchor);
        /* 68 as for a name taken (no write was sent): the object exists and is not ours. */
        return apply_fail(ap, res, WB_ERR_CONFLICT, WB_REASON_UNOWNED_WRITEBACK_GROUP,
                          LDAP_ALREADY_EXISTS, o->dn);
    }
    {
        struct mods ms = {0};

        mods_add(&ms, LDAP_MOD_ADD, "msDS-ExternalDirectoryObjectId", anchor);
        res->writes++;
        rc = ap->cfg.dry_run ? LDAP_SUCCESS : wb_ad_modify(ap->ad, o->dn, ms.m, false);
        if (rc != LDAP_SUCCESS) {
            wb_log(LOG_WARNING, "WORKER", "group=%s: adopting %s failed: %s (%s)", cx->group, o->dn,
                   ldap_err2string(rc), wb_ad_last_message(ap->ad));
            return apply_ldap_fail(ap, res, WB_REASON_ADOPT_FAILED, rc, o->dn);
        }
        apply_audit(ap, cx, "adopt", o->dn, "msDS-ExternalDirectoryObjectId");
        free(o->ext_id);
        o->ext_id = wb_strdup(anchor);
        *found = 1;
    }
    return WB_OK;
}

static wb_err_t step_sync(wb_apply_t *ap, const struct wb_apply_ctx *cx, const struct wb_step *st,
                          struct wb_apply_result *res)
{
    struct wb_map_group m = {0};
    struct adobj o = {0};
    char *anchor = wb_map_anchor(cx->group), *dn = NULL;
    int found = 0;
    bool ours = false;
    wb_err_t err;

    if (!anchor) {
        err = apply_fail(ap, res, WB_ERR_INVALID, WB_REASON_BAD_GROUP_ID, -1, NULL);
        goto out;
    }
    if (st->attrs && !map_attrs(ap, cx->group, st->attrs, &m, res)) {
        err = res->err;
        goto out;
    }
    err = locate(ap, cx, anchor, true, st->attrs ? &m : NULL, &o, &found, res);
    if (err != WB_OK)
        goto out;
    if (!found) {
        if (!st->attrs) {
            wb_log(LOG_WARNING, "WORKER",
                   "group=%s: no AD group with anchor %s for a member change (partition=%d "
                   "offset=%lld)",
                   cx->group, anchor, (int)cx->partition, (long long)cx->offset);
            err = apply_fail(ap, res, WB_ERR_DEPENDENCY, WB_REASON_GROUP_NOT_FOUND, -1, NULL);
            goto out;
        }
        /* Created with the first chunk of members in the add. */
        err = apply_members(ap, cx, st, m.dn, &m, &ours, res);
        ap->create_checked = false;
        if (err != WB_OK || !ours)
            goto out;
        /* Our object took the name meanwhile: manage it as found. */
        err = locate(ap, cx, anchor, false, NULL, &o, &found, res);
        if (err != WB_OK)
            goto out;
        if (!found) {
            err = apply_fail(ap, res, WB_ERR_TRANSIENT, WB_REASON_SEARCH_FAILED, -1, m.dn);
            goto out;
        }
    }
    dn = wb_strdup(o.dn);
    if (st->attrs) {
        err = update(ap, cx, &o, &m, &dn, res);
        if (err != WB_OK)
            goto out;
    }
    err = apply_members(ap, cx, st, dn, NULL, NULL, res);
out:
    ap->create_checked = false;
    free(dn);
    free(anchor);
    adobj_free(&o);
    wb_map_group_free(&m);
    return err;
}

static wb_err_t step_delete(wb_apply_t *ap, const struct wb_apply_ctx *cx,
                            struct wb_apply_result *res)
{
    struct adobj o = {0};
    char *anchor = wb_map_anchor(cx->group);
    int found = 0, rc;
    wb_err_t err;

    if (!anchor) {
        err = apply_fail(ap, res, WB_ERR_INVALID, WB_REASON_BAD_GROUP_ID, -1, NULL);
        goto out;
    }
    /* Only an object carrying our anchor is deleted; no adoption on the way out. */
    err = locate(ap, cx, anchor, false, NULL, &o, &found, res);
    if (err != WB_OK || !found)
        goto out;
    res->writes++;
    rc = ap->cfg.dry_run ? LDAP_SUCCESS : wb_ad_delete(ap->ad, o.dn);
    if (rc == LDAP_NO_SUCH_OBJECT)
        rc = LDAP_SUCCESS; /* gone meanwhile: the goal is reached */
    if (rc != LDAP_SUCCESS) {
        wb_log(LOG_WARNING, "WORKER", "group=%s: delete %s failed: %s (%s)", cx->group, o.dn,
               ldap_err2string(rc), wb_ad_last_message(ap->ad));
        err = apply_ldap_fail(ap, res, WB_REASON_DELETE_FAILED, rc, o.dn);
        goto out;
    }
    apply_audit(ap, cx, "delete", o.dn, "-");
out:
    free(anchor);
    adobj_free(&o);
    return err;
}

wb_err_t wb_apply_step(wb_apply_t *ap, const struct wb_apply_ctx *cx, const struct wb_step *st,
                       struct wb_apply_result *res)
{
    memset(res, 0, sizeof(*res));
    res->ldap_rc = -1;
    switch (st->kind) {
    case WB_STEP_SYNC:
        res->err = step_sync(ap, cx, st, res);
        break;
    case WB_STEP_DELETE:
        res->err = step_delete(ap, cx, res);
        break;
    case WB_STEP_UNSCOPED:
        if (!ap->cfg.keep_unscoped) {
            res->err = step_delete(ap, cx, res); /* changes folded in before it are moot */
            break;
        }
        /* Kept: the changes made before it left scope (folded in by wb_plan) still count. */
        if (st->delta && (res->err = step_sync(ap, cx, st, res)) != WB_OK)
            break;
        wb_log(LOG_INFO, "WORKER",
               "group=%s left scope; keeping its AD group (worker.out_of_scope=keep) "
               "partition=%d offset=%lld",
               cx->group, (int)cx->partition, (long long)cx->offset);
        if (!st->delta) {
            res->skipped = true;
            res->reason = wb_reason_tag(WB_REASON_OUT_OF_SCOPE_KEEP);
        }
        res->err = WB_OK;
        break;
    default:
        res->err = apply_fail(ap, res, WB_ERR_INVALID, WB_REASON_UNKNOWN_STEP, -1, NULL);
        break;
    }
    return res->err;
}
