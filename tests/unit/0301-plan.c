/*
 * 0301-plan: coalescing of a poll batch (wb_plan) and member sets (wb_mset): netting of adds
 * and removes in order, last attributes win, delete splits steps, snapshots across batches
 * hold the partition at their first chunk and turn a step exact only when complete; packed
 * member storage gives back exactly what was put.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "wb_mset.h"
#include "wb_plan.h"
#include "wb_wmetrics.h"

#define G1 "11111111-1111-1111-1111-111111111111"
#define G2 "22222222-2222-2222-2222-222222222222"
#define U1 "aaaaaaaa-0000-0000-0000-000000000001"
#define U2 "aaaaaaaa-0000-0000-0000-000000000002"
#define U3 "aaaaaaaa-0000-0000-0000-000000000003"

static struct wb_member user(const char *id, const char *sid)
{
    struct wb_member m = {WB_MEMBER_USER, (char *)id, (char *)sid, NULL};
    return m;
}

static struct wb_event ev_members(const char *group, struct wb_member *add, size_t na,
                                  struct wb_member *rm, size_t nr)
{
    struct wb_event ev = {0};

    ev.v = 1;
    ev.type = WB_EVENT_GROUP_MEMBERS;
    ev.group = (char *)group;
    ev.add = add;
    ev.add_count = na;
    ev.remove = rm;
    ev.remove_count = nr;
    return ev;
}

static struct wb_event ev_upsert(const char *group, const char *name)
{
    struct wb_event ev = {0};

    ev.v = 1;
    ev.type = WB_EVENT_GROUP_UPSERT;
    ev.group = (char *)group;
    ev.attrs.display_name = (char *)name;
    return ev;
}

static struct wb_event ev_snap(const char *group, const char *id, unsigned chunk, unsigned chunks,
                               struct wb_member *m, size_t n)
{
    struct wb_event ev = {0};

    ev.v = 1;
    ev.type = WB_EVENT_GROUP_SNAPSHOT;
    ev.group = (char *)group;
    ev.snapshot = (char *)id;
    ev.chunk = chunk;
    ev.chunks = chunks;
    ev.members = m;
    ev.members_count = n;
    return ev;
}

static void test_mset(void **state)
{
    wb_mset_t *s = wb_mset_new(), *t = wb_mset_new();
    struct wb_member a = user(U1, "S-1-5-21-1-2-3-1001"), b = user(U2, NULL);
    const struct wb_mset_entry *e;
    char id[64];
    size_t pos = 0, i;

    (void)state;
    wb_mset_put(s, &a, WB_MSET_ADD);
    wb_mset_put(s, &b, WB_MSET_ADD);
    wb_mset_put(s, &a, WB_MSET_REMOVE);
    assert_int_equal(wb_mset_count(s), 2);
    e = wb_mset_get(s, WB_MEMBER_USER, "AAAAAAAA-0000-0000-0000-000000000001");
    assert_non_null(e); /* ids compare case-insensitively */
    assert_int_equal(e->op, WB_MSET_REMOVE);
    assert_string_equal(e->m.sid, "S-1-5-21-1-2-3-1001");
    assert_null(wb_mset_get(s, WB_MEMBER_GROUP, U1)); /* kind is part of the key */
    e = wb_mset_next(s, &pos);
    assert_string_equal(e->m.id, U1); /* insertion order */
    /* Growth keeps every entry findable. */
    for (i = 0; i < 5000; i++) {
        struct wb_member m = {WB_MEMBER_USER, id, NULL, NULL};

        snprintf(id, sizeof(id), "bbbbbbbb-0000-0000-0000-%012zu", i);
        wb_mset_put(t, &m, WB_MSET_ADD);
    }
    assert_int_equal(wb_mset_count(t), 5000);
    assert_non_null(wb_mset_get(t, WB_MEMBER_USER, "bbbbbbbb-0000-0000-0000-000000004999"));
    wb_mset_merge(t, s);
    assert_int_equal(wb_mset_count(t), 5002);
    wb_mset_clear(t);
    assert_int_equal(wb_mset_count(t), 0);
    assert_null(wb_mset_get(t, WB_MEMBER_USER, U2));
    wb_mset_destroy(s);
    wb_mset_destroy(t);
    wb_mset_destroy(NULL);
}

/* Two groups interleaved on one partition: per-group steps, net member effect in order. */
/* Packed storage: every string comes back exactly as put (GUIDs and SIDs are stored in binary
 * only when that round-trips; other strings as they are), whatever the case or form. */
static void test_mset_packed(void **state)
{
    wb_mset_t *s = wb_mset_new(), *t = wb_mset_new();
    static const char *const dn = "CN=Some user\\, with a long name,OU=People,DC=wb,DC=test";
    struct wb_member up = {WB_MEMBER_USER, "AAAAAAAA-0000-0000-0000-00000000000A",
                           "S-1-5-21-1-2-3-1001", "BBBBBBBB-1111-2222-3333-444444444444"};
    struct wb_member mixed = {WB_MEMBER_USER, "Aaaaaaaa-0000-0000-0000-00000000000b",
                              "S-1-5-21-01-2-3-1002", "not-a-guid"};
    struct wb_member key = {WB_MEMBER_USER, "g:cccccccc-0000-0000-0000-000000000001", (char *)dn,
                            "cccccccc-0000-0000-0000-000000000001"};
    struct wb_member grp = {WB_MEMBER_GROUP, U1, NULL, NULL};
    const struct wb_mset_entry *e, *f;
    char id[64], sid[64];
    size_t pos = 0, i;

    (void)state;
    wb_mset_put(s, &up, WB_MSET_ADD);
    wb_mset_put(s, &mixed, WB_MSET_ADD);
    wb_mset_put(s, &key, WB_MSET_ADD);
    wb_mset_put(s, &grp, WB_MSET_REMOVE);
    e = wb_mset_get(s, WB_MEMBER_USER, "aaaaaaaa-0000-0000-0000-00000000000a");
    assert_non_null(e);
    assert_string_equal(e->m.id, up.id); /* upper case kept */
    assert_string_equal(e->m.sid, up.sid);
    assert_string_equal(e->m.guid, up.guid);
    e = wb_mset_get(s, WB_MEMBER_USER, "AAAAAAAA-0000-0000-0000-00000000000B");
    assert_non_null(e);
    assert_string_equal(e->m.id, mixed.id);     /* mixed case kept as a string */
    assert_string_equal(e->m.sid, mixed.sid);   /* non-canonical SID not rewritten */
    assert_string_equal(e->m.guid, mixed.guid); /* not a GUID: kept */
    e = wb_mset_get(s, WB_MEMBER_USER, "G:CCCCCCCC-0000-0000-0000-000000000001");
    assert_non_null(e);
    assert_string_equal(e->m.id, key.id);
    assert_string_equal(e->m.sid, dn);
    e = wb_mset_get(s, WB_MEMBER_GROUP, U1);
    assert_int_equal(e->m.kind, WB_MEMBER_GROUP);
    assert_int_equal(e->op, WB_MSET_REMOVE);
    assert_null(e->m.sid);
    assert_null(e->m.guid);
    assert_null(wb_mset_get(s, WB_MEMBER_USER, U1));
    /* A view of one set survives lookups in another. */
    e = wb_mset_next(s, &pos);
    wb_mset_put(t, &e->m, e->op); /* a view may be put (here into another set) */
    f = wb_mset_get(t, WB_MEMBER_USER, up.id);
    assert_non_null(f);
    assert_string_equal(e->m.id, up.id);
    assert_string_equal(f->m.sid, up.sid);
    /* An identity-less put only changes the mark; a new identity replaces sid and guid and
     * keeps the first id. */
    up.sid = NULL;
    up.guid = NULL;
    wb_mset_put(s, &up, WB_MSET_REMOVE);
    e = wb_mset_get(s, WB_MEMBER_USER, up.id);
    assert_int_equal(e->op, WB_MSET_REMOVE);
    assert_string_equal(e->m.sid, "S-1-5-21-1-2-3-1001");
    up.id = "aaaaaaaa-0000-0000-0000-00000000000a";
    up.guid = "dddddddd-0000-0000-0000-000000000001";
    wb_mset_put(s, &up, WB_MSET_ADD);
    e = wb_mset_get(s, WB_MEMBER_USER, up.id);
    assert_string_equal(e->m.id, "AAAAAAAA-0000-0000-0000-00000000000A");
    assert_null(e->m.sid);
    assert_string_equal(e->m.guid, up.guid);
    assert_int_equal(wb_mset_count(s), 4);
    /* Many identity changes (old records reclaimed) leave every entry intact and in order. */
    for (i = 0; i < 3000; i++) {
        struct wb_member m = {WB_MEMBER_USER, id, sid, NULL};

        snprintf(id, sizeof(id), "eeeeeeee-0000-0000-0000-%012zu", i % 300);
        snprintf(sid, sizeof(sid), "S-1-5-21-7-8-9-%zu", i);
        wb_mset_put(t, &m, i % 2 ? WB_MSET_ADD : WB_MSET_REMOVE);
    }
    assert_int_equal(wb_mset_count(t), 301);
    pos = 0;
    assert_string_equal(wb_mset_next(t, &pos)->m.id, "AAAAAAAA-0000-0000-0000-00000000000A");
    for (i = 0; i < 300; i++) {
        snprintf(id, sizeof(id), "eeeeeeee-0000-0000-0000-%012zu", i);
        snprintf(sid, sizeof(sid), "S-1-5-21-7-8-9-%zu", 2700 + i);
        e = wb_mset_next(t, &pos);
        assert_string_equal(e->m.id, id);
        assert_string_equal(e->m.sid, sid);
        assert_int_equal(e->op, i % 2 ? WB_MSET_ADD : WB_MSET_REMOVE);
    }
    assert_null(wb_mset_next(t, &pos));
    /* merge: dst keeps its id spelling, takes src's mark and identity */
    wb_mset_clear(t);
    wb_mset_put(
        t, &(struct wb_member){WB_MEMBER_USER, "aaaaaaaa-0000-0000-0000-00000000000b", NULL, NULL},
        WB_MSET_REMOVE);
    wb_mset_merge(t, s);
    assert_int_equal(wb_mset_count(t), 4);
    e = wb_mset_get(t, WB_MEMBER_USER, mixed.id);
    assert_string_equal(e->m.id, "aaaaaaaa-0000-0000-0000-00000000000b");
    assert_string_equal(e->m.sid, mixed.sid);
    assert_int_equal(e->op, WB_MSET_ADD);
    assert_string_equal(wb_mset_get(t, WB_MEMBER_USER, key.id)->m.sid, dn);
    /* SIDs at the edges of the formats, and many GUID ids found again by lookup */
    wb_mset_clear(t);
    {
        static const char *const sids[] = {"S-1-5-21-4294967295-0-10-1001", "S-1-0",
                                           "S-1-0x123456789ABC-1", "S-1-5-32-544"};

        for (i = 0; i < 4; i++) {
            snprintf(id, sizeof(id), "%08zx-abcd-ef01-2345-6789abcdef01", i);
            wb_mset_put(t, &(struct wb_member){WB_MEMBER_USER, id, (char *)sids[i], id},
                        WB_MSET_ADD);
        }
        for (i = 0; i < 4; i++) {
            snprintf(id, sizeof(id), "%08zX-ABCD-EF01-2345-6789ABCDEF01", i);
            e = wb_mset_get(t, WB_MEMBER_USER, id);
            assert_non_null(e);
            assert_string_equal(e->m.sid, sids[i]);
            snprintf(id, sizeof(id), "%08zx-abcd-ef01-2345-6789abcdef01", i);
            assert_string_equal(e->m.id, id);
            assert_string_equal(e->m.guid, id);
        }
    }
    wb_mset_destroy(s);
    wb_mset_destroy(t);
}

static void test_coalesce(void **state)
{
    struct wb_member a1[] = {user(U1, "S-1-5-21-1-2-3-1001"), user(U2, "S-1-5-21-1-2-3-1002")};
    struct wb_member r1[] = {user(U1, "S-1-5-21-1-2-3-1001")};
    struct wb_member a2[] = {user(U3, "S-1-5-21-1-2-3-1003")};
    struct wb_event evs[5];
    struct wb_plan_in in[5];
    wb_snapstore_t *ss = wb_plan_snapstore_new();
    wb_plan_t *p;
    struct wb_gplan *g;
    const struct wb_mset_entry *e;
    size_t i;

    (void)state;
    evs[0] = ev_upsert(G1, "first");
    evs[1] = ev_members(G1, a1, 2, NULL, 0);
    evs[2] = ev_members(G2, a2, 1, NULL, 0);
    evs[3] = ev_members(G1, a2, 1, r1, 1);
    evs[4] = ev_upsert(G1, "second");
    for (i = 0; i < 5; i++)
        in[i] = (struct wb_plan_in){3, 100 + (int64_t)i, &evs[i]};
    p = wb_plan_build(in, 5, ss);
    assert_int_equal(wb_plan_count(p), 2);
    g = wb_plan_get(p, 0);
    assert_string_equal(g->group, G1);
    assert_int_equal(g->first_offset, 100);
    assert_int_equal(g->nsteps, 1);
    assert_int_equal(g->steps[0].kind, WB_STEP_SYNC);
    assert_string_equal(g->steps[0].attrs->display_name, "second"); /* last upsert wins */
    assert_int_equal(g->steps[0].nevents, 4);
    assert_null(g->steps[0].desired);
    assert_int_equal(wb_mset_count(g->steps[0].delta), 3);
    e = wb_mset_get(g->steps[0].delta, WB_MEMBER_USER, U1);
    assert_int_equal(e->op, WB_MSET_REMOVE); /* added then removed: net remove */
    assert_int_equal(wb_mset_get(g->steps[0].delta, WB_MEMBER_USER, U2)->op, WB_MSET_ADD);
    assert_int_equal(wb_mset_get(g->steps[0].delta, WB_MEMBER_USER, U3)->op, WB_MSET_ADD);
    g = wb_plan_get(p, 1);
    assert_string_equal(g->group, G2);
    assert_int_equal(g->first_offset, 102);
    assert_null(g->steps[0].attrs); /* members only: the group must already exist */
    assert_null(wb_plan_get(p, 2));
    assert_int_equal(wb_plan_snapstore_count(ss), 0);
    wb_plan_destroy(p);
    wb_plan_snapstore_destroy(ss);
}

/* A delete ends the run: upsert, delete, upsert, unscoped -> DELETE (acknowledging the
 * upsert before it, which is moot), then UNSCOPED holding the upsert before it (written only
 * with worker.out_of_scope=keep, moot otherwise). */
static void test_delete_splits(void **state)
{
    struct wb_event evs[4];
    struct wb_plan_in in[4];
    wb_snapstore_t *ss = wb_plan_snapstore_new();
    wb_plan_t *p;
    struct wb_gplan *g;
    size_t i;

    (void)state;
    evs[0] = ev_upsert(G1, "a");
    evs[1] = ev_upsert(G1, "a");
    evs[1].type = WB_EVENT_GROUP_DELETE;
    evs[2] = ev_upsert(G1, "b");
    evs[3] = ev_upsert(G1, "c");
    evs[3].type = WB_EVENT_GROUP_UNSCOPED;
    for (i = 0; i < 4; i++)
        in[i] = (struct wb_plan_in){0, (int64_t)i, &evs[i]};
    p = wb_plan_build(in, 4, ss);
    g = wb_plan_get(p, 0);
    assert_int_equal(g->nsteps, 2);
    assert_int_equal(g->steps[0].kind, WB_STEP_DELETE);
    assert_int_equal(g->steps[0].nevents, 2);
    assert_int_equal(g->steps[0].events[0], 0);
    assert_int_equal(g->steps[0].events[1], 1);
    assert_null(g->steps[0].attrs);
    assert_null(g->steps[0].delta);
    assert_int_equal(g->steps[1].kind, WB_STEP_UNSCOPED);
    assert_string_equal(g->steps[1].attrs->display_name, "b");
    assert_non_null(g->steps[1].delta);
    assert_int_equal(g->steps[1].nevents, 2);
    assert_int_equal(g->steps[1].events[0], 2);
    assert_int_equal(g->steps[1].events[1], 3);
    wb_plan_destroy(p);
    /* an unscoped event alone: no changes to keep */
    p = wb_plan_build(&in[3], 1, ss);
    g = wb_plan_get(p, 0);
    assert_int_equal(g->nsteps, 1);
    assert_int_equal(g->steps[0].kind, WB_STEP_UNSCOPED);
    assert_null(g->steps[0].delta);
    wb_plan_destroy(p);
    wb_plan_snapstore_destroy(ss);
}

/* The redelivery after a crash between the writes and the offset commit: member changes of a
 * group, then its delete (already applied once). The member changes must not be applied on
 * their own (the group is gone: they would wait for it and be dead-lettered); the delete
 * acknowledges them. A snapshot of the group still in flight is dropped with the delete, so it
 * holds the partition no longer. */
static void test_delete_after_members(void **state)
{
    struct wb_member a1[] = {user(U1, "S-1-5-21-1-2-3-1001")};
    struct wb_member r1[] = {user(U2, "S-1-5-21-1-2-3-1002")};
    struct wb_event evs[4], chunk;
    struct wb_plan_in in[4], cin;
    wb_snapstore_t *ss = wb_plan_snapstore_new();
    wb_plan_t *p;
    struct wb_gplan *g;
    size_t i;

    (void)state;
    /* an earlier batch: chunk 1 of 2 of a snapshot of G1 */
    chunk = ev_snap(G1, "s1", 1, 2, a1, 1);
    cin = (struct wb_plan_in){5, 40, &chunk};
    wb_plan_destroy(wb_plan_build(&cin, 1, ss));
    assert_int_equal(wb_plan_snapstore_hold(ss, 5), 40);
    evs[0] = ev_members(G1, NULL, 0, r1, 1);
    evs[1] = ev_members(G2, a1, 1, NULL, 0);
    evs[2] = ev_members(G1, a1, 1, NULL, 0);
    evs[3] = ev_upsert(G1, "gone");
    evs[3].type = WB_EVENT_GROUP_DELETE;
    for (i = 0; i < 4; i++)
        in[i] = (struct wb_plan_in){5, 43 + (int64_t)i, &evs[i]};
    p = wb_plan_build(in, 4, ss);
    assert_int_equal(wb_plan_count(p), 2);
    g = wb_plan_get(p, 0);
    assert_string_equal(g->group, G1);
    assert_int_equal(g->nsteps, 1);
    assert_int_equal(g->steps[0].kind, WB_STEP_DELETE);
    assert_int_equal(g->steps[0].nevents, 3);
    assert_int_equal(g->steps[0].events[2], 3);
    g = wb_plan_get(p, 1); /* another group of the partition is untouched */
    assert_string_equal(g->group, G2);
    assert_int_equal(g->steps[0].kind, WB_STEP_SYNC);
    assert_int_equal(wb_plan_snapstore_count(ss), 0);
    assert_int_equal(wb_plan_snapstore_hold(ss, 5), -1);
    wb_plan_destroy(p);
    wb_plan_snapstore_destroy(ss);
}

/* Undecodable inputs (ev NULL) are not planned. */
static void test_poison_skipped(void **state)
{
    struct wb_event ev = ev_upsert(G1, "x");
    struct wb_plan_in in[2] = {{0, 1, NULL}, {0, 2, &ev}};
    wb_snapstore_t *ss = wb_plan_snapstore_new();
    wb_plan_t *p = wb_plan_build(in, 2, ss);

    (void)state;
    assert_int_equal(wb_plan_count(p), 1);
    assert_int_equal(wb_plan_get(p, 0)->first, 1);
    wb_plan_destroy(p);
    wb_plan_snapstore_destroy(ss);
}

/* A snapshot over two batches: the first batch adds early and holds the partition at chunk
 * 1's offset; the second completes it (exact set = both chunks) and a replayed chunk changes
 * nothing; a later remove in the same run is applied to the exact set. */
static void test_snapshot_across_batches(void **state)
{
    struct wb_member c1[] = {user(U1, "S-1-5-21-1-2-3-1001")};
    struct wb_member c2[] = {user(U2, "S-1-5-21-1-2-3-1002")};
    struct wb_member rm[] = {user(U1, "S-1-5-21-1-2-3-1001")};
    struct wb_event e1 = ev_snap(G1, "snapA", 1, 2, c1, 1);
    struct wb_event e2 = ev_snap(G1, "snapA", 2, 2, c2, 1);
    struct wb_event e3 = ev_members(G1, NULL, 0, rm, 1);
    struct wb_plan_in b1[] = {{5, 40, &e1}};
    struct wb_plan_in b2[] = {{5, 40, &e1}, {5, 41, &e2}, {5, 42, &e3}};
    wb_snapstore_t *ss = wb_plan_snapstore_new();
    wb_plan_t *p;
    struct wb_step *st;

    (void)state;
    p = wb_plan_build(b1, 1, ss);
    st = &wb_plan_get(p, 0)->steps[0];
    assert_null(st->desired);
    assert_null(st->snapshot);
    assert_int_equal(wb_mset_get(st->delta, WB_MEMBER_USER, U1)->op, WB_MSET_ADD);
    assert_int_equal(wb_plan_snapstore_count(ss), 1);
    assert_int_equal(wb_plan_snapstore_hold(ss, 5), 40);
    assert_int_equal(wb_plan_snapstore_hold(ss, 6), -1);
    wb_plan_destroy(p);

    /* Replay from the held offset plus the rest. */
    p = wb_plan_build(b2, 3, ss);
    st = &wb_plan_get(p, 0)->steps[0];
    assert_non_null(st->desired);
    assert_string_equal(st->snapshot, "snapA");
    assert_false(st->snapshot_incomplete);
    assert_int_equal(wb_mset_count(st->desired), 2);
    assert_int_equal(wb_mset_get(st->desired, WB_MEMBER_USER, U1)->op, WB_MSET_REMOVE);
    assert_int_equal(wb_mset_get(st->desired, WB_MEMBER_USER, U2)->op, WB_MSET_ADD);
    assert_int_equal(wb_mset_count(st->delta), 0);
    /* Still held until the worker releases it after applying. */
    assert_int_equal(wb_plan_snapstore_hold(ss, 5), 40);
    wb_plan_snapstore_release(ss, G1, "other");
    assert_int_equal(wb_plan_snapstore_count(ss), 1);
    wb_plan_snapstore_release(ss, G1, "snapA");
    assert_int_equal(wb_plan_snapstore_hold(ss, 5), -1);
    wb_plan_destroy(p);
    wb_plan_snapstore_destroy(ss);
}

/* The last chunk without the earlier ones: adds only, flagged incomplete; a new snapshot id
 * supersedes an unfinished one; a revoked partition forgets its snapshots. */
static void test_snapshot_incomplete_and_superseded(void **state)
{
    struct wb_member c[] = {user(U1, "S-1-5-21-1-2-3-1001")};
    struct wb_event last = ev_snap(G1, "s1", 3, 3, c, 1);
    struct wb_event n1 = ev_snap(G2, "s2", 1, 2, c, 1);
    struct wb_event n2 = ev_snap(G2, "s3", 1, 1, c, 1);
    struct wb_plan_in a[] = {{1, 7, &last}};
    struct wb_plan_in b[] = {{2, 9, &n1}};
    struct wb_plan_in d[] = {{2, 11, &n2}};
    wb_snapstore_t *ss = wb_plan_snapstore_new();
    wb_plan_t *p;
    struct wb_step *st;

    (void)state;
    p = wb_plan_build(a, 1, ss);
    st = &wb_plan_get(p, 0)->steps[0];
    assert_true(st->snapshot_incomplete);
    assert_null(st->desired);
    assert_int_equal(wb_mset_count(st->delta), 1);
    wb_plan_destroy(p);

    p = wb_plan_build(b, 1, ss);
    wb_plan_destroy(p);
    assert_int_equal(wb_plan_snapstore_hold(ss, 2), 9);
    p = wb_plan_build(d, 1, ss);
    st = &wb_plan_get(p, 0)->steps[0];
    assert_non_null(st->desired);
    assert_string_equal(st->snapshot, "s3");
    assert_int_equal(wb_plan_snapstore_hold(ss, 2), 11);
    wb_plan_destroy(p);
    wb_plan_snapstore_drop_partition(ss, 2);
    wb_plan_snapstore_drop_partition(ss, 1);
    assert_int_equal(wb_plan_snapstore_count(ss), 0);
    wb_plan_snapstore_destroy(ss);
}

/* Dead-letter headers: the documented names in order, values formatted. */
/* wb_plan_build_drop: user-only member arrays are freed once folded (the plan keeps copies);
 * an array naming a nested group stays for the dead-member match. */
static void test_build_drop(void **state)
{
    struct wb_member *m1 = calloc(2, sizeof(*m1)), *m2 = calloc(2, sizeof(*m2));
    struct wb_event evs[2];
    struct wb_plan_in in[2];
    wb_snapstore_t *ss = wb_plan_snapstore_new();
    wb_plan_t *p;
    struct wb_gplan *g;
    const struct wb_mset_entry *e;

    (void)state;
    m1[0] = (struct wb_member){WB_MEMBER_USER, strdup(U1), strdup("S-1-5-21-1-2-3-1001"), NULL};
    m1[1] = (struct wb_member){WB_MEMBER_USER, strdup(U2), NULL, NULL};
    m2[0] = (struct wb_member){WB_MEMBER_USER, strdup(U3), NULL, NULL};
    m2[1] = (struct wb_member){WB_MEMBER_GROUP, strdup(G1), NULL, NULL};
    evs[0] = ev_snap(G2, "s1", 1, 2, m1, 2);
    evs[1] = ev_snap(G2, "s1", 2, 2, m2, 2);
    in[0] = (struct wb_plan_in){1, 10, &evs[0]};
    in[1] = (struct wb_plan_in){1, 11, &evs[1]};
    p = wb_plan_build_drop(in, 2, ss);
    assert_null(evs[0].members); /* users only: freed */
    assert_int_equal(evs[0].members_count, 0);
    assert_ptr_equal(evs[1].members, m2); /* names a group: kept */
    assert_int_equal(evs[1].members_count, 2);
    g = wb_plan_get(p, 0);
    assert_int_equal(g->nsteps, 1);
    assert_non_null(g->steps[0].desired);
    assert_int_equal(wb_mset_count(g->steps[0].desired), 4);
    e = wb_mset_get(g->steps[0].desired, WB_MEMBER_USER, U1);
    assert_non_null(e);
    assert_string_equal(e->m.sid, "S-1-5-21-1-2-3-1001");
    wb_plan_destroy(p);
    wb_plan_snapstore_destroy(ss);
    for (size_t i = 0; i < 2; i++) {
        free(m2[i].id);
        free(m2[i].sid);
    }
    free(m2);
}

/* Lag from librdkafka statistics. */
static void test_stats_lag(void **state)
{
    static const char json[] =
        "{\"topics\":{\"t\":{\"partitions\":{\"0\":{\"consumer_lag\":5},\"1\":{\"consumer_lag\":"
        "-1},\"-1\":{\"consumer_lag\":3}}}}}";
    wb_metrics_t *reg = wb_metrics_new();
    struct wb_wmetrics wm;
    static const char revoked[] =
        "{\"topics\":{\"t\":{\"partitions\":{\"0\":{\"desired\":false,\"consumer_lag\":5},"
        "\"2\":{\"desired\":true,\"consumer_lag\":0}}}}}";
    const char *lv[3] = {"g", "t", "0"};
    const char *lv2[1] = {"2"};
    double v = 0;
    char *text;

    (void)state;
    wb_wmetrics_init(&wm, reg);
    assert_int_equal(wb_wmetrics_stats(&wm, json, sizeof(json) - 1, "g", "t"), 1);
    assert_int_equal(wb_metrics_value(wm.cg_lag, lv, &v), WB_OK);
    assert_true(v == 5);
    assert_int_equal(wb_wmetrics_stats(&wm, "{", 1, "g", "t"), -1);
    wb_wmetrics_ldap(&wm, "modify", true, true);
    wb_wmetrics_ldap(&wm, "search", true, true);
    wb_wmetrics_ldap(&wm, "add", false, false);
    assert_int_equal(wb_metrics_value(wm.ldap_writes, NULL, &v), WB_OK);
    assert_true(v == 1);
    text = wb_metrics_render(reg);
    assert_non_null(strstr(text, "kafka_consumergroup_lag{consumergroup=\"g\",topic=\"t\","
                                 "partition=\"0\"} 5"));
    free(text);
    /* partition 0 revoked: librdkafka still lists it, not desired; its series go */
    assert_int_equal(wb_wmetrics_stats(&wm, revoked, sizeof(revoked) - 1, "g", "t"), 1);
    assert_int_equal(wb_metrics_value(wm.cg_lag, lv, &v), WB_ERR_INVALID);
    assert_int_equal(wb_metrics_value(wm.lag, lv + 2, &v), WB_ERR_INVALID);
    assert_int_equal(wb_metrics_value(wm.lag, lv2, &v), WB_OK);
    assert_true(v == 0);
    text = wb_metrics_render(reg);
    assert_null(strstr(text, "partition=\"0\""));
    assert_non_null(strstr(text, "writeback_worker_lag_messages{partition=\"2\"} 0"));
    assert_non_null(strstr(text, "writeback_worker_ldap_operations_total{op=\"add\","
                                 "result=\"error\"} 1"));
    free(text);
    wb_wmetrics_ldap(NULL, "add", true, true); /* NULL is a no-op */
    wb_metrics_destroy(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mset),
        cmocka_unit_test(test_mset_packed),
        cmocka_unit_test(test_coalesce),
        cmocka_unit_test(test_delete_splits),
        cmocka_unit_test(test_delete_after_members),
        cmocka_unit_test(test_poison_skipped),
        cmocka_unit_test(test_snapshot_across_batches),
        cmocka_unit_test(test_snapshot_incomplete_and_superseded),
        cmocka_unit_test(test_build_drop),
        cmocka_unit_test(test_stats_lag),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
