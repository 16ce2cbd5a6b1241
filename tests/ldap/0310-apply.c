/*
 * 0310-apply: wb_apply against the real Samba AD DC: create with the default mappings, no
 * writes when converged, update and rename, member changes with Samba's multi-value
 * permissive-modify refusal handled, exact snapshots with nested groups, dependencies,
 * conflicts, Connect Sync writeback groups (left alone / adopted), dry run, delete.
 * Everything happens in a per-run OU under WB_TEST_LDAP_TARGET_OU, removed at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <ldap.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wb_apply.h"
#include "wb_id.h"
#include "wb_map.h"
#include "wb_mem.h"
#include "wb_metrics.h"
#include "wbt_env.h"
#include "wbt_ldap.h"

#define NUSERS 6

static struct wbt_ldap_ou fx; /* the run's OU and users */
static wb_ldap_t *ld;         /* fx's session: the apply uses it; setup and checks its handle */
static char *ou, *base;       /* fx.dn, WB_TEST_LDAP_BASE_DN */
static unsigned run;

static int add_entry(const char *dn, const char *const *kv)
{
    return wbt_ldap_add(ld, dn, kv);
}

static char *read_attr(const char *dn, const char *attr)
{
    return wbt_ldap_read(ld, dn, attr);
}

static bool exists(const char *dn)
{
    return wbt_ldap_exists(ld, dn);
}

/* The writes an apply's observer saw (at most 8). */
struct seen {
    enum wb_apply_op_kind kind[8];
    size_t members[8];
    char *dn[8];
    size_t n;
};

static void observe(const struct wb_apply_op *op, void *opaque)
{
    struct seen *sn = opaque;

    if (sn->n < 8) {
        sn->kind[sn->n] = op->kind;
        sn->members[sn->n] = op->members;
        sn->dn[sn->n++] = wb_strdup(op->dn);
    }
}

static wb_apply_t *new_apply(bool rbw, bool dry, bool adopt, bool keep)
{
    struct wb_apply_cfg c = {base, ou, false, dry, adopt, keep, rbw, 2, 2};

    return wb_apply_new(ld, &c, NULL);
}

/* DNs equal but for case (the server may spell attribute types in its own case). */
static bool apply_dn_eq(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

static char *gid(unsigned n)
{
    return wb_asprintf("%08x-0310-4000-8000-%04x%08u", run, run & 0xffffu,
                       n); /* sAMAccountName: last 12 */
}

static char *group_dn(const char *name, const char *id)
{
    return wb_map_dn(name, strlen(name), id, ou);
}

/* Number of current members, and whether the user index i is one. */
static size_t members(wb_apply_t *ap, const char *dn, int want_user, bool *has)
{
    wb_mset_t *cur = NULL;
    const struct wb_mset_entry *e;
    size_t pos = 0, n = 0;
    char *key = want_user >= 0 ? wb_asprintf("s:%s", fx.usid[want_user]) : NULL;

    assert_int_equal(wb_apply_read_members(ap, dn, &cur), LDAP_SUCCESS);
    while ((e = wb_mset_next(cur, &pos)) != NULL)
        if (strncmp(e->m.id, "g:", 2) == 0)
            n++;
    if (has)
        *has = key && wb_mset_get(cur, WB_MEMBER_USER, key) != NULL;
    free(key);
    wb_mset_destroy(cur);
    return n;
}

static struct wb_member um(int i)
{
    struct wb_member m = {WB_MEMBER_USER, fx.uid[i], fx.usid[i], NULL};
    return m;
}

static int setup(void **state)
{
    (void)state;
    if (wbt_ldap_ou_create(&fx, "0310", NUSERS) != 0)
        return -1;
    ld = fx.ld;
    ou = fx.dn;
    run = fx.run;
    base = getenv("WB_TEST_LDAP_BASE_DN");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    wbt_ldap_ou_destroy(&fx);
    return 0;
}

static struct wb_step sync_step(struct wb_group_attrs *a)
{
    struct wb_step st = {0};

    st.kind = WB_STEP_SYNC;
    st.attrs = a;
    st.delta = wb_mset_new();
    return st;
}

static void step_free(struct wb_step *st)
{
    wb_mset_destroy(st->delta);
    wb_mset_destroy(st->desired);
}

/* Create, converged replay, update + rename, members both ways, delete. */
static void test_lifecycle(void **state)
{
    char *id = gid(1), *dn = group_dn("Sales Team", id), *dn2 = group_dn("Sales  Team 2", id);
    char *anchor = wb_map_anchor(id), *v;
    struct wb_group_attrs a = {"Sales Team", "  Quarterly numbers  ", true, false, NULL, 0, NULL};
    struct wb_group_attrs a2 = {"Sales  Team 2", NULL, true, false, NULL, 0, NULL};
    struct wb_apply_ctx cx = {id, 4, 100, false};
    struct wb_member m0 = um(0), m1 = um(1), m2 = um(2);
    struct wb_apply_result res;
    struct wb_step st = sync_step(&a);
    wb_apply_t *ap = new_apply(true, false, false, false);
    bool has;

    (void)state;
    wb_mset_put(st.delta, &m0, WB_MSET_ADD);
    wb_mset_put(st.delta, &m1, WB_MSET_ADD);
    wb_mset_put(st.delta, &m2, WB_MSET_ADD);
    assert_int_equal(wb_apply_step(ap, &cx, &st, &res), WB_OK);
    /* the add carries the first member chunk (2 values), one modify the rest */
    assert_int_equal(res.writes, 2);
    wb_apply_result_free(&res);
    assert_true(exists(dn));
    assert_int_equal(members(ap, dn, 2, &has), 3);
    assert_true(has);
    v = read_attr(dn, "msDS-ExternalDirectoryObjectId");
    assert_string_equal(v, anchor);
    free(v);
    v = read_attr(dn, "adminDescription");
    assert_string_equal(v, anchor);
    free(v);
    v = read_attr(dn, "description");
    assert_string_equal(v, "Quarterly numbers");
    free(v);
    v = read_attr(dn, "groupType");
    assert_string_equal(v, "-2147483640");
    free(v);
    v = read_attr(dn, "sAMAccountName");
    assert_int_equal(strncmp(v, "Group_", 6), 0);
    assert_int_equal(strlen(v), 18);
    free(v);
    assert_int_equal(members(ap, dn, 2, &has), 3);
    assert_true(has);

    /* Converged: the same step again writes nothing. */
    assert_int_equal(wb_apply_step(ap, &cx, &st, &res), WB_OK);
    assert_int_equal(res.writes, 0);
    wb_apply_result_free(&res);
    step_free(&st);

    /* Rename (new cn), description cleared, U1 removed, U3 added. */
    st = sync_step(&a2);
    wb_mset_put(st.delta, &m1, WB_MSET_REMOVE);
    {
        struct wb_member m3 = um(3);

        wb_mset_put(st.delta, &m3, WB_MSET_ADD);
    }
    assert_int_equal(wb_apply_step(ap, &cx, &st, &res), WB_OK);
    assert_int_equal(res.writes, 4); /* modify attrs, modrdn, add member, delete member */
    wb_apply_result_free(&res);
    step_free(&st);
    assert_false(exists(dn));
    assert_true(exists(dn2));
    v = read_attr(dn2, "description");
    assert_null(v);
    v = read_attr(dn2, "displayName");
    assert_string_equal(v, "Sales  Team 2");
    free(v);
    assert_int_equal(members(ap, dn2, 1, &has), 3);
    assert_false(has);

    /* Delete, then delete again (already gone: no write). */
    st = (struct wb_step){0};
    st.kind = WB_STEP_DELETE;
    assert_int_equal(wb_apply_step(ap, &cx, &st, &res), WB_OK);
    assert_int_equal(res.writes, 1);
    wb_apply_result_free(&res);
    assert_false(exists(dn2));
    assert_int_equal(wb_apply_step(ap, &cx, &st, &res), WB_OK);
    assert_int_equal(res.writes, 0);
    wb_apply_result_free(&res);
    wb_apply_destroy(ap);
    free(anchor);
    free(dn);
    free(dn2);
    free(id);
}

/* Without read-before-write, Samba answers 68/53 to multi-value permissive modifies; the
 * apply must then read and send only the difference, never taking the answer as success. */
static void test_samba_fallback(void **state)
{
    char *id = gid(2), *dn = group_dn("Fallback", id);
    struct wb_group_attrs a = {"Fallback", NULL, true, false, NULL, 0, NULL};
    struct wb_apply_ctx cx = {id, 0, 1, false};
    struct wb_member m[4] = {um(0), um(1), um(2), um(3)};
    struct wb_apply_result res;
    struct wb_step st = sync_step(&a);
    wb_apply_t *ap = new_apply(false, false, false, false);
    bool has;

    (void)state;
    wb_mset_put(st.delta, &m[0], WB_MSET_ADD);
    wb_mset_put(st.delta, &m[1], WB_MSET_ADD);
    assert_int_equal(wb_apply_step(ap, &cx, &st, &res), WB_OK);
    wb_apply_result_free(&res);
    step_free(&st);
    assert_int_equal(members(ap, dn, 0, NULL), 2);

    /* Add {U0 present, U2 new} and remove {U1 present, U3 absent} in one step. */
    st = sync_step(NULL);
    wb_mset_put(st.delta, &m[0], WB_MSET_ADD);
    wb_mset_put(st.delta, &m[2], WB_MSET_ADD);
    wb_mset_put(st.delta, &m[1], WB_MSET_REMOVE);
    wb_mset_put(st.delta, &m[3], WB_MSET_REMOVE);
    assert_int_equal(wb_apply_step(ap, &cx, &st, &res), WB_OK);
    /* refused add, real add; the delete then uses the members read for the add */
    assert_int_equal(res.writes, 3);
    wb_apply_result_free(&res);
    step_free(&st);
    assert_int_equal(members(ap, dn, 2, &has), 2);
    assert_true(has);
    assert_int_equal(members(ap, dn, 1, &has), 2);
    assert_false(has);

    /* Removes alone: {U2 present, U3 absent} → refused (53), then the real delete. */
    st = sync_step(NULL);
    wb_mset_put(st.delta, &m[2], WB_MSET_REMOVE);
    wb_mset_put(st.delta, &m[3], WB_MSET_REMOVE);
    assert_int_equal(wb_apply_step(ap, &cx, &st, &res), WB_OK);
    assert_int_equal(res.writes, 2);
    wb_apply_result_free(&res);
    step_free(&st);
    assert_int_equal(members(ap, dn, 2, &has), 1);
    assert_false(has);
    wb_apply_destroy(ap);
    free(dn);
    free(id);
}

/* Exact snapshot with a nested group; missing nested group and missing user are dependency
 * errors until the final attempt, then dead members / skipped users. */
static void test_snapshot_nested_dependencies(void **state)
{
    char *id = gid(3), *child = gid(4), *ghost = gid(5);
    char *dn = group_dn("Parent", id), *cdn = group_dn("Child", child);
    struct wb_group_attrs a = {"Parent", NULL, true, false, NULL, 0, NULL};
    struct wb_group_attrs ca = {"Child", NULL, true, false, NULL, 0, NULL};
    struct wb_apply_ctx cx = {id, 0, 1, false};
    struct wb_member m0 = um(0), m1 = um(1), m4 = um(4), m5 = um(5);
    struct wb_member g = {WB_MEMBER_GROUP, child, NULL, NULL};
    struct wb_member gg = {WB_MEMBER_GROUP, ghost, NULL, NULL};
    char *bad_sid = wb_asprintf("%s-987654", getenv("WB_TEST_LDAP_DOMAIN_SID"));
    struct wb_member nouser = {WB_MEMBER_USER, fx.uid[5], bad_sid, NULL};
    struct wb_apply_result res;
    struct wb_step st = sync_step(&a);
    wb_apply_t *ap = new_apply(true, false, false, false);
    bool has;

    (void)state;
    /* Members only, group absent: dependency. */
    st.attrs = NULL;
    wb_mset_put(st.delta, &m0, WB_MSET_ADD);
    assert_int_equal(wb_apply_step(ap, &cx, &st, &res), WB_ERR_DEPENDENCY);
    assert_string_equal(res.reason, "group_not_found");
    wb_apply_result_free(&res);
    st.attrs = &a;
    wb_mset_put(st.delta, &m1, WB_MSET_ADD);
    assert_int_equal(wb_apply_step(ap, &cx, &st, &res), WB_OK);
    wb_apply_result_free(&res);
    step_free(&st);

    /* Child group first, then an exact snapshot {U4, U5, Child}: U0 and U1 go. */
    st = sync_step(&ca);
    cx.group = child;
    assert_int_equal(wb_apply_step(ap, &cx, &st, &res), WB_OK);
    wb_apply_result_free(&res);
    step_free(&st);
    cx.group = id;
    st = sync_step(&a);
    st.desired = wb_mset_new();
    wb_mset_put(st.desired, &m4, WB_MSET_ADD);
    wb_mset_put(st.desired, &m5, WB_MSET_ADD);
    wb_mset_put(st.desired, &g, WB_MSET_ADD);
    assert_int_equal(wb_apply_step(ap, &cx, &st, &res), WB_OK);
    wb_apply_result_free(&res);
    assert_int_equal(members(ap, dn, 4, &has), 3);
    assert_true(has);
    assert_int_equal(members(ap, dn, 0, &has), 3);
    assert_false(has);
    /* Replay of the converged snapshot: no writes. */
    assert_int_equal(wb_apply_step(ap, &cx, &st, &res), WB_OK);
    assert_int_equal(res.writes, 0);
    wb_apply_result_free(&res);
    step_free(&st);

    /* A nested group not in AD: retry, then give up on it only. */
    st = sync_step(NULL);
    wb_mset_put(st.delta, &gg, WB_MSET_ADD);
    wb_mset_put(st.delta, &m0, WB_MSET_ADD);
    assert_int_equal(wb_apply_step(ap, &cx, &st, &res), WB_ERR_DEPENDENCY);
    assert_string_equal(res.reason, "member_group_not_found");
    wb_apply_result_free(&res);
    cx.final_attempt = true;
    assert_int_equal(wb_apply_step(ap, &cx, &st, &res), WB_OK);
    assert_non_null(res.dead_members);
    assert_non_null(wb_mset_get(res.dead_members, WB_MEMBER_GROUP, ghost));
    wb_apply_result_free(&res);
    step_free(&st);
    assert_int_equal(members(ap, dn, 0, &has), 4);
    assert_true(has);

    /* A SID that is not in AD: retry, then skip it and add the rest. */
    cx.final_attempt = false;
    st = sync_step(NULL);
    wb_mset_put(st.delta, &nouser, WB_MSET_ADD);
    wb_mset_put(st.delta, &m1, WB_MSET_ADD);
    assert_int_equal(wb_apply_step(ap, &cx, &st, &res), WB_ERR_DEPENDENCY);
    assert_string_equal(res.reason, "user_not_found");
    wb_apply_result_free(&res);
    cx.final_attempt = true;
    assert_int_equal(wb_apply_step(ap, &cx, &st, &res), WB_OK);
    wb_apply_result_free(&res);
    step_free(&st);
    assert_int_equal(members(ap, dn, 1, &has), 5);
    assert_true(has);

    wb_apply_destroy(ap);
    free(bad_sid);
    free(dn);
    free(cdn);
    free(id);
    free(child);
    free(ghost);
}

/* The op hook deletes the child group right after the apply's third search (the locate, the
 * nested group resolution and the read of the current members, read_before_write on), so the
 * member delete that follows names a DN the server can no longer resolve, and the members
 * read before still list it. */
struct race {
    const char *dn;
    int searches, deleted;
};

static void delete_after_resolve(const char *op, int rc, int sent, double seconds, void *opaque)
{
    struct race *r = opaque;

    (void)rc, (void)sent, (void)seconds;
    if (strcmp(op, "search") == 0 && ++r->searches == 3 && !r->deleted)
        r->deleted = ldap_delete_ext_s(wb_ldap_handle(ld), r->dn, NULL, NULL) == LDAP_SUCCESS;
}

/* Found by the long soak (seed 10): a nested group removed from its parent while another
 * worker deleted that group from AD at the same moment. The resolution found the child, the
 * delete removed it (and AD the link), and Samba refused the member delete of the now
 * unresolvable DN (53): the step was dead-lettered as member_modify_failed. The value is no
 * member any more, so the step succeeds. */
static void test_nested_gone_before_remove(void **state)
{
    char *id = gid(20), *child = gid(21);
    char *dn = group_dn("RaceParent", id), *cdn = group_dn("RaceChild", child);
    struct wb_group_attrs a = {"RaceParent", NULL, true, false, NULL, 0, NULL};
    struct wb_group_attrs ca = {"RaceChild", NULL, true, false, NULL, 0, NULL};
    struct wb_apply_ctx cx = {child, 0, 1, false};
    struct wb_member m0 = um(0);
    struct wb_member g = {WB_MEMBER_GROUP, child, NULL, NULL};
    struct wb_apply_result res;
    struct wb_step st = sync_step(&ca);
    wb_apply_t *ap = new_apply(true, false, false, false);
    struct race r = {cdn, 0, 0};
    bool has;

    (void)state;
    assert_int_equal(wb_apply_step(ap, &cx, &st, &res), WB_OK); /* the child */
    wb_apply_result_free(&res);
    step_free(&st);
    cx.group = id;
    st = sync_step(&a); /* the parent with U0 and the child */
    wb_mset_put(st.delta, &m0, WB_MSET_ADD);
    wb_mset_put(st.delta, &g, WB_MSET_ADD);
    assert_int_equal(wb_apply_step(ap, &cx, &st, &res), WB_OK);
    wb_apply_result_free(&res);
    step_free(&st);
    assert_int_equal(members(ap, dn, 0, &has), 2);

    st = sync_step(NULL); /* the child leaves the parent; meanwhile it is deleted */
    wb_mset_put(st.delta, &g, WB_MSET_REMOVE);
    wb_ldap_set_op_hook(ld, delete_after_resolve, &r);
    assert_int_equal(wb_apply_step(ap, &cx, &st, &res), WB_OK);
    wb_ldap_set_op_hook(ld, NULL, NULL);
    assert_true(r.deleted);
    wb_apply_result_free(&res);
    step_free(&st);
    assert_int_equal(members(ap, dn, 0, &has), 1);
    assert_true(has);

    wb_apply_destroy(ap);
    free(dn);
    free(cdn);
    free(id);
    free(child);
}

/* Objects we do not own: a name taken → conflict; a Connect Sync writeback group → left
 * alone, or adopted; two objects with our anchor → conflict; dry run writes nothing. */
/* Creation with members in the add: a member value the server refuses (a SID not in AD)
 * makes the add fall back to a bare add plus the member path (retry, then skip, counted in the
 * skipped-members counter the apply was given). */
static void test_create_missing_member(void **state)
{
    char *id = gid(10), *dn = group_dn("Fresh", id);
    char *bad_sid = wb_asprintf("%s-987655", getenv("WB_TEST_LDAP_DOMAIN_SID"));
    struct wb_group_attrs a = {"Fresh", NULL, true, false, NULL, 0, NULL};
    struct wb_apply_ctx cx = {id, 0, 1, false};
    struct wb_member m3 = um(3), nouser = {WB_MEMBER_USER, fx.uid[5], bad_sid, NULL};
    struct wb_apply_result res;
    struct wb_step st = sync_step(&a);
    struct wb_apply_cfg c = {base, ou, false, false, false, false, false, 2, 2};
    wb_metrics_t *reg = wb_metrics_new();
    const char *label[] = {"reason"}, *not_found[] = {"user_not_found"};
    wb_metric_t *skipped =
        wb_metrics_counter(reg, "writeback_worker_members_skipped_total", NULL, 1, label);
    wb_apply_t *ap = wb_apply_new(ld, &c, skipped);
    double n = 0;
    bool has;

    (void)state;
    wb_mset_put(st.delta, &m3, WB_MSET_ADD);
    wb_mset_put(st.delta, &nouser, WB_MSET_ADD);
    assert_int_equal(wb_apply_step(ap, &cx, &st, &res), WB_ERR_DEPENDENCY);
    assert_string_equal(res.reason, "user_not_found");
    /* refused add, bare add, refused member modify */
    assert_int_equal(res.writes, 3);
    wb_apply_result_free(&res);
    assert_true(exists(dn));
    assert_int_equal(members(ap, dn, 3, &has), 0);
    assert_int_equal(wb_metrics_value(skipped, not_found, &n), WB_ERR_INVALID); /* not yet */
    cx.final_attempt = true;
    assert_int_equal(wb_apply_step(ap, &cx, &st, &res), WB_OK);
    wb_apply_result_free(&res);
    step_free(&st);
    assert_int_equal(members(ap, dn, 3, &has), 1);
    assert_true(has);
    assert_int_equal(wb_metrics_value(skipped, not_found, &n), WB_OK);
    assert_true(n == 1);

    wb_apply_destroy(ap);
    wb_metrics_destroy(reg);
    free(bad_sid);
    free(dn);
    free(id);
}

static void test_ownership(void **state)
{
    char *id = gid(6), *wid = gid(7), *did = gid(8), *yid = gid(9);
    char *dn = group_dn("Taken", id), *wnew = group_dn("Old", wid);
    /* Not the name the mapping computes (an admin renamed it), so only adminDescription,
     * which AD does not index, tells whose it is. */
    char *wdn = wb_asprintf("CN=Renamed by admin %08x,%s", run, ou);
    char *wanchor = wb_map_anchor(wid), *danchor = wb_map_anchor(did), *v;
    char *d1 = wb_asprintf("CN=dup1-%08x,%s", run, ou),
         *d2 = wb_asprintf("CN=dup2-%08x,%s", run, ou);
    char *ydn = group_dn("Dry", yid);
    struct wb_group_attrs a = {"Taken", NULL, true, false, NULL, 0, NULL};
    struct wb_group_attrs wa = {"Old", "now managed", true, false, NULL, 0, NULL};
    struct wb_group_attrs ya = {"Dry", NULL, true, false, NULL, 0, NULL};
    struct wb_apply_ctx cx = {id, 0, 1, false};
    struct wb_apply_result res;
    struct wb_step st = sync_step(&a);
    wb_apply_t *ap = new_apply(true, false, false, false);
    wb_apply_t *adopt = new_apply(true, false, true, false);
    wb_apply_t *dry = new_apply(true, true, false, false);
    struct wb_member m0 = um(0);

    (void)state;
    assert_int_equal(add_entry(dn, (const char *const[]){"objectClass", "group", NULL}), 0);
    assert_int_equal(wb_apply_step(ap, &cx, &st, &res), WB_ERR_CONFLICT);
    assert_string_equal(res.reason, "dn_conflict");
    assert_int_equal(res.ldap_rc, LDAP_ALREADY_EXISTS);
    assert_string_equal(res.matched_dn, dn);
    wb_apply_result_free(&res);
    v = read_attr(dn, "msDS-ExternalDirectoryObjectId");
    assert_null(v); /* untouched */
    step_free(&st);

    /* sAMAccountName taken by an object we do not own (another name): a conflict known from
     * the anchor search, so no add is sent (a replay writes nothing), matched DN = holder. */
    {
        char *sid_ = gid(11), *sdn = wb_asprintf("CN=samholder-%08x,%s", run, ou), err[128];
        struct wb_map_group mg = {0};
        struct wb_group_attrs sa = {"SamTaken", NULL, true, false, NULL, 0, NULL};

        assert_true(wb_map_group(&mg, "SamTaken", 8, NULL, 0, sid_, ou, err, sizeof(err)));
        assert_int_equal(
            add_entry(sdn, (const char *const[]){"objectClass", "group", "sAMAccountName",
                                                 mg.sam_account_name, NULL}),
            0);
        cx.group = sid_;
        st = sync_step(&sa);
        assert_int_equal(wb_apply_step(ap, &cx, &st, &res), WB_ERR_CONFLICT);
        assert_string_equal(res.reason, "sam_conflict");
        assert_int_equal(res.ldap_rc, LDAP_ALREADY_EXISTS);
        assert_int_equal(res.writes, 0);
        assert_true(res.matched_dn && apply_dn_eq(res.matched_dn, sdn));
        wb_apply_result_free(&res);
        assert_false(exists(mg.dn));
        step_free(&st);
        cx.group = id;
        wb_map_group_free(&mg);
        free(sdn);
        free(sid_);
    }

    /* Connect Sync writeback v2 group: adminDescription only. ap listed the Connect-written
     * groups during the steps above, before this one existed: it is found as changed since
     * that listing. adopt lists them at its first step, with this one. */
    assert_int_equal(add_entry(wdn, (const char *const[]){"objectClass", "group",
                                                          "adminDescription", wanchor, NULL}),
                     0);
    cx.group = wid;
    st = sync_step(&wa);
    /* without adoption: a conflict for the dead-letter queue, the object untouched */
    assert_int_equal(wb_apply_step(ap, &cx, &st, &res), WB_ERR_CONFLICT);
    assert_string_equal(res.reason, "unowned_writeback_group");
    assert_int_equal(res.ldap_rc, LDAP_ALREADY_EXISTS);
    assert_false(res.skipped);
    assert_int_equal(res.writes, 0);
    assert_string_equal(res.matched_dn, wdn);
    wb_apply_result_free(&res);
    assert_null(read_attr(wdn, "description"));
    assert_null(read_attr(wdn, "msDS-ExternalDirectoryObjectId"));
    {
        /* a later change, so that adopt finds it in its listing, not as changed since */
        char *bump = wb_asprintf("CN=usn-bump-%08x,%s", run, ou);

        assert_int_equal(add_entry(bump, (const char *const[]){"objectClass", "group", NULL}), 0);
        free(bump);
    }
    assert_int_equal(wb_apply_step(adopt, &cx, &st, &res), WB_OK);
    assert_false(res.skipped);
    wb_apply_result_free(&res);
    /* adopted, then renamed to the computed name */
    assert_false(exists(wdn));
    v = read_attr(wnew, "msDS-ExternalDirectoryObjectId");
    assert_string_equal(v, wanchor);
    free(v);
    v = read_attr(wnew, "description");
    assert_string_equal(v, "now managed");
    free(v);
    step_free(&st);

    /* Two objects carrying one anchor. */
    assert_int_equal(
        add_entry(d1, (const char *const[]){"objectClass", "group",
                                            "msDS-ExternalDirectoryObjectId", danchor, NULL}),
        0);
    assert_int_equal(
        add_entry(d2, (const char *const[]){"objectClass", "group",
                                            "msDS-ExternalDirectoryObjectId", danchor, NULL}),
        0);
    cx.group = did;
    st = (struct wb_step){0};
    st.kind = WB_STEP_DELETE;
    assert_int_equal(wb_apply_step(ap, &cx, &st, &res), WB_ERR_CONFLICT);
    assert_string_equal(res.reason, "duplicate_anchor");
    wb_apply_result_free(&res);
    assert_true(exists(d1) && exists(d2));

    /* Out of scope with keep: nothing happens. */
    st.kind = WB_STEP_UNSCOPED;
    {
        wb_apply_t *keep = new_apply(true, false, false, true);

        cx.group = wid;
        assert_int_equal(wb_apply_step(keep, &cx, &st, &res), WB_OK);
        assert_true(res.skipped);
        wb_apply_result_free(&res);
        assert_true(exists(wnew));
        wb_apply_destroy(keep);
    }

    /* Dry run: the writes are counted and logged, AD is unchanged. */
    cx.group = yid;
    st = sync_step(&ya);
    wb_mset_put(st.delta, &m0, WB_MSET_ADD);
    assert_int_equal(wb_apply_step(dry, &cx, &st, &res), WB_OK);
    assert_int_equal(res.writes, 1); /* one add, the member in it */
    wb_apply_result_free(&res);
    step_free(&st);
    assert_false(exists(ydn));

    /* Dry run of a rename plus a member change on an existing group: members are read at
     * the current DN (the rename was not performed), not at the new one. */
    st = sync_step(&ya);
    assert_int_equal(wb_apply_step(ap, &cx, &st, &res), WB_OK);
    wb_apply_result_free(&res);
    step_free(&st);
    assert_true(exists(ydn));
    {
        struct wb_group_attrs ra = {"Dry Renamed", NULL, true, false, NULL, 0, NULL};
        char *rdn = group_dn("Dry Renamed", yid);
        bool has = true;

        struct seen sn = {0};
        size_t i;

        st = sync_step(&ra);
        wb_mset_put(st.delta, &m0, WB_MSET_ADD);
        wb_apply_set_observer(dry, observe, &sn);
        assert_int_equal(wb_apply_step(dry, &cx, &st, &res), WB_OK);
        assert_int_equal(res.writes, 3); /* displayName, modrdn, member modify */
        /* The observer sees the plan: the same three writes, the members at the current DN. */
        assert_int_equal(sn.n, 3);
        assert_int_equal(sn.kind[0], WB_APPLY_OP_MODIFY);
        assert_int_equal(sn.kind[1], WB_APPLY_OP_RENAME);
        assert_int_equal(sn.kind[2], WB_APPLY_OP_ADD_MEMBERS);
        assert_int_equal(sn.members[2], 1);
        assert_string_equal(sn.dn[2], ydn);
        for (i = 0; i < sn.n; i++)
            free(sn.dn[i]);
        wb_apply_result_free(&res);
        step_free(&st);
        assert_true(exists(ydn));
        assert_false(exists(rdn));
        assert_int_equal(members(ap, ydn, 0, &has), 0);
        assert_false(has);
        free(rdn);
    }

    wb_apply_destroy(ap);
    wb_apply_destroy(adopt);
    wb_apply_destroy(dry);
    free(wanchor);
    free(danchor);
    free(d1);
    free(d2);
    free(dn);
    free(wdn);
    free(wnew);
    free(ydn);
    free(id);
    free(wid);
    free(did);
    free(yid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_samba_fallback),
        cmocka_unit_test(test_snapshot_nested_dependencies),
        cmocka_unit_test(test_nested_gone_before_remove),
        cmocka_unit_test(test_create_missing_member),
        cmocka_unit_test(test_ownership),
    };

    if (wbt_env_missing("0310-apply", WBT_ENV_LDAP))
        return WBT_ENV_SKIP;
    return cmocka_run_group_tests(tests, setup, teardown);
}
