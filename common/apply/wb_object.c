/*
 * wb_object: the group object half of a step (see wb_object.h): the search that finds it,
 * create, update, rename/move, adopt, delete. Every write is audited through wb_aenv.
 */
#include "wb_object.h"
#include "wb_id.h"
#include "wb_log.h"
#include "wb_mem.h"
#include "wb_reason.h"

#include <ldap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const obj_attrs[] = {"cn",
                                        "displayName",
                                        "description",
                                        "adminDescription",
                                        "sAMAccountName",
                                        "groupType",
                                        "msDS-ObjectSoa",
                                        "msDS-ExternalDirectoryObjectId",
                                        NULL};

void wb_object_free(struct wb_object *o)
{
    free(o->dn);
    free(o->cn);
    free(o->display_name);
    free(o->description);
    free(o->admin_description);
    free(o->group_type);
    free(o->soa);
    free(o->ext_id);
    free(o->sam);
    memset(o, 0, sizeof(*o));
}

void wb_object_names_clear(struct wb_object_names *nc)
{
    free(nc->sam_holder);
    memset(nc, 0, sizeof(*nc));
}

/* The first value of attr in e, caller-owned, or NULL. */
static char *first_value(const struct wb_ldap_entry *e, const char *attr)
{
    const struct wb_ldap_val *v = wb_ldap_entry_get(e, attr);

    return v ? wb_strndup(v->data, v->len) : NULL;
}

static void object_read(const struct wb_ldap_entry *e, struct wb_object *o)
{
    o->dn = wb_strdup(e->dn ? e->dn : "");
    o->cn = first_value(e, "cn");
    o->display_name = first_value(e, "displayName");
    o->description = first_value(e, "description");
    o->admin_description = first_value(e, "adminDescription");
    o->group_type = first_value(e, "groupType");
    o->soa = first_value(e, "msDS-ObjectSoa");
    o->ext_id = first_value(e, "msDS-ExternalDirectoryObjectId");
    o->sam = first_value(e, "sAMAccountName");
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

static bool dn_equal(const char *a, const char *b)
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

/* --- the search --- */

struct find_ctx {
    const char *attr, *value;
    const struct wb_map_group *names;
    struct wb_object_names *nc;
    struct wb_object *first;
    int n;
};

static wb_err_t find_entry(const struct wb_ldap_entry *e, void *opaque)
{
    struct find_ctx *fc = opaque;
    struct wb_object o = {0};

    object_read(e, &o);
    if (!fc->names) {
        if (fc->n++ == 0)
            *fc->first = o;
        else
            wb_object_free(&o);
        return WB_OK;
    }
    {
        char *v = first_value(e, fc->attr);

        if (v && strcasecmp(v, fc->value) == 0 && fc->n++ == 0) {
            *fc->first = o;
            memset(&o, 0, sizeof(o));
        }
        free(v);
    }
    if (o.dn && dn_equal(o.dn, fc->names->dn))
        fc->nc->dn_taken = true;
    if (o.dn && o.sam && strcasecmp(o.sam, fc->names->sam_account_name) == 0 && !fc->nc->sam_holder)
        fc->nc->sam_holder = wb_strdup(o.dn);
    wb_object_free(&o);
    return WB_OK;
}

int wb_object_find(const struct wb_aenv *env, const char *attr, const char *value,
                   const struct wb_map_group *names, struct wb_object_names *nc,
                   struct wb_object *o, int *n)
{
    struct find_ctx fc = {attr, value, names, nc, o, 0};
    char *esc = wb_id_filter_escape(value, strlen(value));
    char *ec = NULL, *es = NULL, *filter;
    int rc;

    if (names) {
        /* cn and sAMAccountName are indexed: one request instead of two before a create. */
        ec = wb_id_filter_escape(names->cn, strlen(names->cn));
        es = wb_id_filter_escape(names->sam_account_name, strlen(names->sam_account_name));
        filter = wb_asprintf("(|(&(objectClass=group)(%s=%s))(cn=%s)(sAMAccountName=%s))", attr,
                             esc, ec, es);
        wb_object_names_clear(nc);
    } else {
        filter = wb_asprintf("(&(objectClass=group)(%s=%s))", attr, esc);
    }
    wb_ldap_search_paged(env->ld, env->cfg.base_dn, WB_LDAP_SCOPE_SUB, filter, obj_attrs, 0,
                         find_entry, &fc);
    rc = wb_ldap_last_rc(env->ld);
    if (rc == LDAP_SUCCESS && names)
        nc->checked = true;
    *n = fc.n;
    free(filter);
    free(es);
    free(ec);
    free(esc);
    return rc;
}

/* --- writes --- */

/* The attributes of one add or modify (at most 16), and their names for the audit line. */
struct mods {
    struct wb_ldap_mod m[16];
    const char *vals[16];
    size_t n;
    char names[256]; /* "displayName,description" */
};

static void mods_add(struct mods *ms, enum wb_ldap_mod_op op, const char *attr, const char *value)
{
    struct wb_ldap_mod *m = &ms->m[ms->n];

    ms->vals[ms->n] = value;
    m->op = op;
    m->attr = attr;
    m->values = value ? &ms->vals[ms->n] : NULL;
    m->nvalues = value ? 1 : 0;
    ms->n++;
    if (ms->names[0])
        strncat(ms->names, ",", sizeof(ms->names) - strlen(ms->names) - 1);
    strncat(ms->names, attr, sizeof(ms->names) - strlen(ms->names) - 1);
}

/* Adds a replace (or delete when want is NULL) of attr when the current value differs. */
static void mods_diff(struct mods *ms, const char *attr, const char *cur, const char *want)
{
    if (want && (!cur || strcmp(cur, want) != 0))
        mods_add(ms, WB_LDAP_MOD_REPLACE, attr, want);
    else if (!want && cur)
        mods_add(ms, WB_LDAP_MOD_DELETE, attr, NULL);
}

/* Base read of dn: LDAP_SUCCESS with its entry in *e (owned), LDAP_NO_SUCH_OBJECT when absent,
 * else the code. */
static int base_read(const struct wb_aenv *env, const char *dn, const char *const *attrs,
                     struct wb_ldap_entry **e)
{
    *e = NULL;
    if (wb_ldap_search_unique(env->ld, dn, WB_LDAP_SCOPE_BASE, "(objectClass=*)", attrs, e) !=
        WB_OK)
        return wb_ldap_last_rc(env->ld);
    return *e ? LDAP_SUCCESS : LDAP_NO_SUCH_OBJECT;
}

static wb_err_t dn_conflict(const struct wb_aenv *env, const struct wb_apply_ctx *cx,
                            const struct wb_map_group *m, int rc, struct wb_apply_result *res)
{
    wb_log(LOG_WARNING, "WORKER",
           "group=%s: cannot create %s: an object we do not own has that name", cx->group, m->dn);
    return wb_aenv_fail(env, res, WB_ERR_CONFLICT, WB_REASON_DN_CONFLICT, rc, m->dn);
}

/* Before the add: a name known to be taken by an object we do not own is a conflict, found
 * without sending the add, so a replay of a converged topic writes nothing, even for its
 * conflicts (0320 asserts it). Returns WB_OK when the add may go. */
static wb_err_t create_check(const struct wb_aenv *env, const struct wb_apply_ctx *cx,
                             const struct wb_map_group *m, const struct wb_object_names *nc,
                             struct wb_apply_result *res)
{
    struct wb_ldap_entry *e = NULL;
    int brc;

    if (nc && nc->checked && nc->sam_holder && !nc->dn_taken) {
        wb_log(LOG_WARNING, "WORKER",
               "group=%s: cannot create %s: sAMAccountName %s is taken by %s", cx->group, m->dn,
               m->sam_account_name, nc->sam_holder);
        return wb_aenv_fail(env, res, WB_ERR_CONFLICT, WB_REASON_SAM_CONFLICT, LDAP_ALREADY_EXISTS,
                            nc->sam_holder);
    }
    /* The names search already looked for an object at the DN (one search saved). */
    if (nc && nc->checked)
        brc = nc->dn_taken ? LDAP_SUCCESS : LDAP_NO_SUCH_OBJECT;
    else
        brc = base_read(env, m->dn, NULL, &e);
    wb_ldap_entry_free(e);
    if (brc == LDAP_SUCCESS)
        return dn_conflict(env, cx, m, LDAP_ALREADY_EXISTS, res);
    if (brc != LDAP_NO_SUCH_OBJECT)
        return wb_aenv_ldap_fail(env, res, WB_REASON_SEARCH_FAILED, brc, m->dn);
    return WB_OK;
}

/* The add answered 68: the DN holds our anchor (created meanwhile: *outcome OURS), or a name
 * is taken by an object we do not own. */
static wb_err_t create_taken(const struct wb_aenv *env, const struct wb_apply_ctx *cx,
                             const struct wb_map_group *m, int rc, enum wb_object_created *outcome,
                             struct wb_apply_result *res)
{
    struct wb_ldap_entry *e = NULL;
    struct wb_object other = {0};
    char *ext;
    int cnt = 0;
    int brc =
        base_read(env, m->dn, (const char *const[]){"msDS-ExternalDirectoryObjectId", NULL}, &e);

    ext = brc == LDAP_SUCCESS ? first_value(e, "msDS-ExternalDirectoryObjectId") : NULL;
    wb_ldap_entry_free(e);
    if (brc == LDAP_SUCCESS && ext && strcasecmp(ext, m->anchor) == 0) {
        wb_log(LOG_INFO, "WORKER", "group=%s: %s appeared with our anchor meanwhile", cx->group,
               m->dn);
        free(ext);
        *outcome = WB_OBJECT_OURS;
        return WB_OK;
    }
    free(ext);
    if (brc == LDAP_SUCCESS)
        return dn_conflict(env, cx, m, rc, res);
    if (brc != LDAP_NO_SUCH_OBJECT)
        return wb_aenv_ldap_fail(env, res, WB_REASON_SEARCH_FAILED, brc, m->dn);
    wb_object_find(env, "sAMAccountName", m->sam_account_name, NULL, NULL, &other, &cnt);
    wb_log(LOG_WARNING, "WORKER", "group=%s: cannot create %s: sAMAccountName %s is taken by %s",
           cx->group, m->dn, m->sam_account_name,
           cnt ? other.dn : "(an object not visible under base_dn)");
    wb_aenv_fail(env, res, WB_ERR_CONFLICT, WB_REASON_SAM_CONFLICT, rc, cnt ? other.dn : m->dn);
    wb_object_free(&other);
    return WB_ERR_CONFLICT;
}

wb_err_t wb_object_create(const struct wb_aenv *env, const struct wb_apply_ctx *cx,
                          const struct wb_map_group *m, const struct wb_object_names *nc,
                          const char *const *vals, size_t n, enum wb_object_created *outcome,
                          struct wb_apply_result *res)
{
    struct mods ms = {0};
    char gt[16], mattr[32];
    int rc;
    wb_err_t err, cls;

    *outcome = WB_OBJECT_CREATED;
    snprintf(gt, sizeof(gt), "%d", (int)m->group_type);
    mods_add(&ms, WB_LDAP_MOD_ADD, "objectClass", "group");
    mods_add(&ms, WB_LDAP_MOD_ADD, "cn", m->cn);
    mods_add(&ms, WB_LDAP_MOD_ADD, "sAMAccountName", m->sam_account_name);
    mods_add(&ms, WB_LDAP_MOD_ADD, "groupType", gt);
    if (m->display_name)
        mods_add(&ms, WB_LDAP_MOD_ADD, "displayName", m->display_name);
    if (m->description)
        mods_add(&ms, WB_LDAP_MOD_ADD, "description", m->description);
    mods_add(&ms, WB_LDAP_MOD_ADD, "adminDescription", m->anchor);
    mods_add(&ms, WB_LDAP_MOD_ADD, "msDS-ExternalDirectoryObjectId", m->anchor);
    if (env->cfg.soa)
        mods_add(&ms, WB_LDAP_MOD_ADD, "msDS-ObjectSoa", "Cloud");
    if (n > 0) {
        ms.m[ms.n++] = (struct wb_ldap_mod){WB_LDAP_MOD_ADD, "member", vals, n};
        snprintf(mattr, sizeof(mattr), ",member(+%zu)", n);
        strncat(ms.names, mattr, sizeof(ms.names) - strlen(ms.names) - 1);
    }
    err = create_check(env, cx, m, nc, res);
    if (err != WB_OK)
        return err;
    res->writes++;
    if (!env->cfg.dry_run)
        wb_ldap_add(env->ld, m->dn, ms.m, ms.n);
    rc = wb_aenv_write_rc(env);
    if (rc == LDAP_SUCCESS) {
        wb_aenv_audit(env, cx, WB_APPLY_OP_CREATE, m->dn, ms.names, n);
        return WB_OK;
    }
    if (rc == LDAP_ALREADY_EXISTS)
        return create_taken(env, cx, m, rc, outcome, res);
    cls = wb_err_from_ldap(rc);
    if (n > 0 && cls != WB_ERR_TRANSIENT && cls != WB_ERR_FATAL) {
        wb_dbg("worker", "WORKER",
               "group=%s: add %s with %zu members answered %d (%s); creating it without members",
               cx->group, m->dn, n, rc, wb_ldap_last_error(env->ld));
        *outcome = WB_OBJECT_MEMBER_REFUSED;
        return WB_ERR_INVALID;
    }
    wb_log(LOG_WARNING, "WORKER", "group=%s: add %s failed: %s (%s)", cx->group, m->dn,
           ldap_err2string(rc), wb_ldap_last_error(env->ld));
    return wb_aenv_ldap_fail(env, res, WB_REASON_ADD_FAILED, rc, m->dn);
}

/* Renames/moves the object at *dn to m's name under cfg.target_ou when either differs. */
static wb_err_t rename_move(const struct wb_aenv *env, const struct wb_apply_ctx *cx,
                            const struct wb_object *o, const struct wb_map_group *m, char **dn,
                            struct wb_apply_result *res)
{
    char *parent = dn_parent(*dn), attrs[1024];
    bool move = !dn_equal(parent, env->cfg.target_ou);
    bool rename = !o->cn || strcmp(o->cn, m->cn) != 0;
    wb_err_t err = WB_OK;
    int rc;

    if (!move && !rename)
        goto out;
    snprintf(attrs, sizeof(attrs), "newrdn=\"%s\"%s%s%s", m->rdn, move ? ",newsuperior=\"" : "",
             move ? env->cfg.target_ou : "", move ? "\"" : "");
    res->writes++;
    if (!env->cfg.dry_run)
        wb_ldap_rename(env->ld, *dn, m->rdn, move ? env->cfg.target_ou : NULL);
    rc = wb_aenv_write_rc(env);
    if (rc == LDAP_ALREADY_EXISTS) {
        wb_log(LOG_WARNING, "WORKER", "group=%s: cannot rename %s to %s: name taken", cx->group,
               *dn, m->dn);
        err = wb_aenv_fail(env, res, WB_ERR_CONFLICT, WB_REASON_DN_CONFLICT, rc, m->dn);
        goto out;
    }
    if (rc != LDAP_SUCCESS) {
        wb_log(LOG_WARNING, "WORKER", "group=%s: modrdn %s failed: %s (%s)", cx->group, *dn,
               ldap_err2string(rc), wb_ldap_last_error(env->ld));
        err = wb_aenv_ldap_fail(env, res, WB_REASON_MODRDN_FAILED, rc, *dn);
        goto out;
    }
    wb_aenv_audit(env, cx, WB_APPLY_OP_RENAME, *dn, attrs, 0);
    /* A dry run renamed nothing: later reads (members) stay at the current DN. */
    if (!env->cfg.dry_run) {
        free(*dn);
        *dn = wb_asprintf("%s,%s", m->rdn, move ? env->cfg.target_ou : parent);
    }
out:
    free(parent);
    return err;
}

wb_err_t wb_object_update(const struct wb_aenv *env, const struct wb_apply_ctx *cx,
                          const struct wb_object *o, const struct wb_map_group *m, char **dn,
                          struct wb_apply_result *res)
{
    struct mods ms = {0};
    char gt[16];
    int rc;

    snprintf(gt, sizeof(gt), "%d", (int)m->group_type);
    mods_diff(&ms, "displayName", o->display_name, m->display_name);
    mods_diff(&ms, "description", o->description, m->description);
    mods_diff(&ms, "adminDescription", o->admin_description, m->anchor);
    mods_diff(&ms, "groupType", o->group_type, gt);
    if (env->cfg.soa)
        mods_diff(&ms, "msDS-ObjectSoa", o->soa, "Cloud");
    if (ms.n > 0) {
        res->writes++;
        if (!env->cfg.dry_run)
            wb_ldap_modify(env->ld, *dn, ms.m, ms.n, 0);
        rc = wb_aenv_write_rc(env);
        if (rc != LDAP_SUCCESS) {
            wb_log(LOG_WARNING, "WORKER", "group=%s: modify %s (%s) failed: %s (%s)", cx->group,
                   *dn, ms.names, ldap_err2string(rc), wb_ldap_last_error(env->ld));
            return wb_aenv_ldap_fail(env, res, WB_REASON_MODIFY_FAILED, rc, *dn);
        }
        wb_aenv_audit(env, cx, WB_APPLY_OP_MODIFY, *dn, ms.names, 0);
    }
    return rename_move(env, cx, o, m, dn, res);
}

wb_err_t wb_object_adopt(const struct wb_aenv *env, const struct wb_apply_ctx *cx,
                         struct wb_object *o, const char *anchor, struct wb_apply_result *res)
{
    struct mods ms = {0};
    int rc;

    mods_add(&ms, WB_LDAP_MOD_ADD, "msDS-ExternalDirectoryObjectId", anchor);
    res->writes++;
    if (!env->cfg.dry_run)
        wb_ldap_modify(env->ld, o->dn, ms.m, ms.n, 0);
    rc = wb_aenv_write_rc(env);
    if (rc != LDAP_SUCCESS) {
        wb_log(LOG_WARNING, "WORKER", "group=%s: adopting %s failed: %s (%s)", cx->group, o->dn,
               ldap_err2string(rc), wb_ldap_last_error(env->ld));
        return wb_aenv_ldap_fail(env, res, WB_REASON_ADOPT_FAILED, rc, o->dn);
    }
    wb_aenv_audit(env, cx, WB_APPLY_OP_ADOPT, o->dn, "msDS-ExternalDirectoryObjectId", 0);
    free(o->ext_id);
    o->ext_id = wb_strdup(anchor);
    return WB_OK;
}

wb_err_t wb_object_delete(const struct wb_aenv *env, const struct wb_apply_ctx *cx,
                          const struct wb_object *o, struct wb_apply_result *res)
{
    int rc;

    res->writes++;
    if (!env->cfg.dry_run)
        wb_ldap_delete(env->ld, o->dn);
    rc = wb_aenv_write_rc(env);
    if (rc == LDAP_NO_SUCH_OBJECT)
        rc = LDAP_SUCCESS; /* gone meanwhile: the goal is reached */
    if (rc != LDAP_SUCCESS) {
        wb_log(LOG_WARNING, "WORKER", "group=%s: delete %s failed: %s (%s)", cx->group, o->dn,
               ldap_err2string(rc), wb_ldap_last_error(env->ld));
        return wb_aenv_ldap_fail(env, res, WB_REASON_DELETE_FAILED, rc, o->dn);
    }
    wb_aenv_audit(env, cx, WB_APPLY_OP_DELETE, o->dn, "-", 0);
    return WB_OK;
}
