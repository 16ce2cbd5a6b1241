/*
 * wb_plan: folds a poll batch into per-group steps (see wb_plan.h). The snapshot store keeps
 * chunk members in memory by group; a bitmap of chunk numbers makes replays harmless.
 */
#include "wb_plan.h"
#include "wb_log.h"
#include "wb_mem.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct snap {
    char *group;
    char *id;
    int32_t partition;
    int64_t first_offset;
    unsigned chunks;
    unsigned char *seen; /* bitmap of chunk numbers 1..chunks */
    unsigned nseen;
    wb_mset_t *members;
    unsigned long born; /* the wb_plan_build call that recorded its first chunk */
};

struct wb_snapstore_s {
    struct snap *v;
    size_t n, cap;
    unsigned long builds; /* wb_plan_build calls so far */
};

struct wb_plan_s {
    struct wb_gplan *g;
    size_t n, cap;
};

wb_snapstore_t *wb_plan_snapstore_new(void)
{
    return wb_calloc(1, sizeof(wb_snapstore_t));
}

static void snap_free(struct snap *s)
{
    free(s->group);
    free(s->id);
    free(s->seen);
    wb_mset_destroy(s->members);
    memset(s, 0, sizeof(*s));
}

void wb_plan_snapstore_destroy(wb_snapstore_t *ss)
{
    size_t i;

    if (!ss)
        return;
    for (i = 0; i < ss->n; i++)
        snap_free(&ss->v[i]);
    free(ss->v);
    free(ss);
}

static struct snap *snap_find(const wb_snapstore_t *ss, const char *group)
{
    size_t i;

    for (i = 0; i < ss->n; i++)
        if (strcasecmp(ss->v[i].group, group) == 0)
            return &ss->v[i];
    return NULL;
}

static void snap_remove(wb_snapstore_t *ss, struct snap *s)
{
    size_t i = (size_t)(s - ss->v);

    snap_free(s);
    ss->v[i] = ss->v[--ss->n];
}

void wb_plan_snapstore_release(wb_snapstore_t *ss, const char *group, const char *snapshot)
{
    struct snap *s = snap_find(ss, group);

    if (s && (!snapshot || strcmp(s->id, snapshot) == 0))
        snap_remove(ss, s);
}

void wb_plan_snapstore_drop_partition(wb_snapstore_t *ss, int32_t partition)
{
    size_t i = 0;

    while (i < ss->n) {
        if (ss->v[i].partition == partition)
            snap_remove(ss, &ss->v[i]);
        else
            i++;
    }
}

int64_t wb_plan_snapstore_hold(const wb_snapstore_t *ss, int32_t partition)
{
    int64_t hold = -1;
    size_t i;

    for (i = 0; i < ss->n; i++)
        if (ss->v[i].partition == partition && (hold < 0 || ss->v[i].first_offset < hold))
            hold = ss->v[i].first_offset;
    return hold;
}

size_t wb_plan_snapstore_count(const wb_snapstore_t *ss)
{
    return ss->n;
}

/* Records one chunk; returns the snapshot (new or existing). */
static struct snap *snap_add_chunk(wb_snapstore_t *ss, int32_t partition, int64_t offset,
                                   const struct wb_event *ev)
{
    struct snap *s = snap_find(ss, ev->group);
    size_t i;

    if (s && (strcmp(s->id, ev->snapshot) != 0 || s->chunks != ev->chunks)) {
        wb_log(LOG_INFO, "WORKER",
               "group=%s snapshot %s superseded by %s before its last chunk (partition=%d "
               "offset=%lld)",
               ev->group, s->id, ev->snapshot, (int)partition, (long long)offset);
        snap_remove(ss, s);
        s = NULL;
    }
    if (!s) {
        if (ss->n == ss->cap) {
            ss->cap = ss->cap ? ss->cap * 2 : 8;
            ss->v = wb_realloc(ss->v, ss->cap * sizeof(*ss->v));
        }
        s = &ss->v[ss->n++];
        memset(s, 0, sizeof(*s));
        s->group = wb_strdup(ev->group);
        s->id = wb_strdup(ev->snapshot);
        s->partition = partition;
        s->first_offset = offset;
        s->chunks = ev->chunks;
        s->seen = wb_calloc(ev->chunks / 8 + 1, 1);
        s->members = wb_mset_new();
        s->born = ss->builds;
    }
    if (offset < s->first_offset)
        s->first_offset = offset;
    if (!(s->seen[ev->chunk / 8] & (1u << (ev->chunk % 8)))) {
        s->seen[ev->chunk / 8] |= (unsigned char)(1u << (ev->chunk % 8));
        s->nseen++;
    }
    for (i = 0; i < ev->members_count; i++)
        wb_mset_put(s->members, &ev->members[i], WB_MSET_ADD);
    return s;
}

static struct wb_gplan *plan_group(wb_plan_t *p, const struct wb_plan_in *in, size_t idx)
{
    struct wb_gplan *g;
    size_t i;

    for (i = 0; i < p->n; i++)
        if (p->g[i].partition == in->partition && strcasecmp(p->g[i].group, in->ev->group) == 0)
            return &p->g[i];
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->g = wb_realloc(p->g, p->cap * sizeof(*p->g));
    }
    g = &p->g[p->n++];
    memset(g, 0, sizeof(*g));
    g->group = wb_strdup(in->ev->group);
    for (i = 0; g->group[i]; i++)
        if (g->group[i] >= 'A' && g->group[i] <= 'F')
            g->group[i] = (char)(g->group[i] - 'A' + 'a');
    g->partition = in->partition;
    g->first_offset = in->offset;
    g->first = idx;
    return g;
}

static struct wb_step *step_push(struct wb_gplan *g, enum wb_step_kind kind)
{
    struct wb_step *st;

    g->steps = wb_realloc(g->steps, (g->nsteps + 1) * sizeof(*g->steps));
    st = &g->steps[g->nsteps++];
    memset(st, 0, sizeof(*st));
    st->kind = kind;
    if (kind == WB_STEP_SYNC)
        st->delta = wb_mset_new();
    return st;
}

static void step_event(struct wb_step *st, size_t idx)
{
    st->events = wb_realloc(st->events, (st->nevents + 1) * sizeof(*st->events));
    st->events[st->nevents++] = idx;
}

/* The open SYNC step of g (the last step, if it is a SYNC), or a new one. */
static struct wb_step *sync_step(struct wb_gplan *g)
{
    if (g->nsteps > 0 && g->steps[g->nsteps - 1].kind == WB_STEP_SYNC)
        return &g->steps[g->nsteps - 1];
    return step_push(g, WB_STEP_SYNC);
}

/*
 * The step of a delete. A delete ends the group, so the open SYNC step before it in the batch
 * is moot: it becomes the DELETE step and its events are acknowledged with it. Applying it
 * first is not only wasted work: a batch that starts after the group's creation (a replay, or
 * the redelivery after a crash between the write and the offset commit) meets a member change
 * for a group the delete already removed, which would wait for the group and then be
 * dead-lettered as group_not_found. A snapshot of the group still in flight is dropped too: its
 * last chunk will not come, and it would hold the partition's offset.
 */
static struct wb_step *delete_step(struct wb_gplan *g, const struct wb_plan_in *in,
                                   wb_snapstore_t *ss)
{
    struct snap *s = snap_find(ss, in->ev->group);
    struct wb_step *st;

    if (s) {
        wb_log(LOG_INFO, "WORKER",
               "group=%s snapshot %s dropped before its last chunk: the group is deleted "
               "(partition=%d offset=%lld)",
               in->ev->group, s->id, (int)in->partition, (long long)in->offset);
        snap_remove(ss, s);
    }
    if (g->nsteps == 0 || g->steps[g->nsteps - 1].kind != WB_STEP_SYNC)
        return step_push(g, WB_STEP_DELETE);
    st = &g->steps[g->nsteps - 1];
    wb_mset_destroy(st->delta);
    wb_mset_destroy(st->desired);
    st->delta = st->desired = NULL;
    st->attrs = NULL;
    st->snapshot_incomplete = false;
    st->kind = WB_STEP_DELETE; /* st->snapshot stays: the worker releases it once applied */
    return st;
}

/*
 * The step of a group leaving scope. With worker.out_of_scope=delete (the default) it ends the
 * group like a delete, and the SYNC step before it is moot for the same reason; with keep, the
 * group stays and that step must still be written. The plan does not know the setting, so the
 * SYNC step becomes the UNSCOPED step with its changes kept: the apply deletes (changes moot)
 * or writes them and keeps the group (wb_apply_step).
 */
static struct wb_step *unscoped_step(struct wb_gplan *g)
{
    if (g->nsteps == 0 || g->steps[g->nsteps - 1].kind != WB_STEP_SYNC)
        return step_push(g, WB_STEP_UNSCOPED);
    g->steps[g->nsteps - 1].kind = WB_STEP_UNSCOPED;
    return &g->steps[g->nsteps - 1];
}

/* Member changes go to the exact set once a snapshot completed in this step. */
static void step_members(struct wb_step *st, const struct wb_member *m, size_t n,
                         enum wb_mset_op op)
{
    size_t i;

    for (i = 0; i < n; i++)
        wb_mset_put(st->desired ? st->desired : st->delta, &m[i], op);
}

static void fold_snapshot(struct wb_step *st, const struct wb_plan_in *in, wb_snapstore_t *ss)
{
    const struct wb_event *ev = in->ev;
    struct snap *s = snap_add_chunk(ss, in->partition, in->offset, ev);

    /* Chunk members are added early; the removal of extras waits for the last chunk. */
    step_members(st, ev->members, ev->members_count, WB_MSET_ADD);
    if (ev->chunk != ev->chunks)
        return;
    free(st->snapshot);
    st->snapshot = wb_strdup(s->id);
    if (s->nseen != s->chunks) {
        wb_log(LOG_WARNING, "WORKER",
               "group=%s snapshot %s: last chunk arrived with only %u of %u chunks held; adding "
               "members without removing extras (partition=%d offset=%lld)",
               ev->group, s->id, s->nseen, s->chunks, (int)in->partition, (long long)in->offset);
        st->snapshot_incomplete = true;
        return;
    }
    /* The snapshot is the state at its time: earlier deltas of the run are superseded (freed
     * before the copy, so a big snapshot is not held three times at once). */
    wb_mset_destroy(st->delta);
    st->delta = wb_mset_new();
    wb_mset_destroy(st->desired);
    if (s->born == ss->builds) {
        /* Every chunk is in this batch, so a failed step replays them all: hand the members
         * over instead of copying them, and forget the chunks so a replay records them anew
         * (a partial replay then counts as incomplete, never as exact). */
        st->desired = s->members;
        s->members = wb_mset_new();
        memset(s->seen, 0, s->chunks / 8 + 1);
        s->nseen = 0;
    } else {
        st->desired = wb_mset_new();
        wb_mset_merge(st->desired, s->members);
    }
    st->snapshot_incomplete = false;
}

/* Frees one member array of an event when it names users only (nested groups are kept: the
 * worker matches them against dead members later). */
static void drop_list(struct wb_member **v, size_t *n)
{
    size_t j;

    for (j = 0; j < *n; j++)
        if ((*v)[j].kind != WB_MEMBER_USER)
            return;
    for (j = 0; j < *n; j++) {
        free((*v)[j].id);
        free((*v)[j].sid);
        free((*v)[j].guid);
    }
    free(*v);
    *v = NULL;
    *n = 0;
}

/* The plan holds its own copies of an event's members once it is folded in. */
static void drop_members(struct wb_event *ev)
{
    drop_list(&ev->add, &ev->add_count);
    drop_list(&ev->remove, &ev->remove_count);
    drop_list(&ev->members, &ev->members_count);
}

static wb_plan_t *plan_build(const struct wb_plan_in *in, size_t n, wb_snapstore_t *ss, bool drop)
{
    wb_plan_t *p = wb_calloc(1, sizeof(*p));
    size_t i;

    ss->builds++;
    for (i = 0; i < n; i++) {
        const struct wb_event *ev = in[i].ev;
        struct wb_gplan *g;
        struct wb_step *st;

        if (!ev)
            continue;
        g = plan_group(p, &in[i], i);
        switch (ev->type) {
        case WB_EVENT_GROUP_DELETE:
            st = delete_step(g, &in[i], ss);
            break;
        case WB_EVENT_GROUP_UNSCOPED:
            st = unscoped_step(g);
            break;
        case WB_EVENT_GROUP_UPSERT:
            st = sync_step(g);
            st->attrs = &ev->attrs;
            step_members(st, ev->add, ev->add_count, WB_MSET_ADD);
            step_members(st, ev->remove, ev->remove_count, WB_MSET_REMOVE);
            break;
        case WB_EVENT_GROUP_MEMBERS:
            st = sync_step(g);
            step_members(st, ev->add, ev->add_count, WB_MSET_ADD);
            step_members(st, ev->remove, ev->remove_count, WB_MSET_REMOVE);
            break;
        case WB_EVENT_GROUP_SNAPSHOT:
            st = sync_step(g);
            fold_snapshot(st, &in[i], ss);
            break;
        default:
            continue;
        }
        step_event(st, i);
        if (drop)
            drop_members((struct wb_event *)ev);
    }
    return p;
}

wb_plan_t *wb_plan_build(const struct wb_plan_in *in, size_t n, wb_snapstore_t *ss)
{
    return plan_build(in, n, ss, false);
}

wb_plan_t *wb_plan_build_drop(const struct wb_plan_in *in, size_t n, wb_snapstore_t *ss)
{
    return plan_build(in, n, ss, true);
}

size_t wb_plan_count(const wb_plan_t *p)
{
    return p->n;
}

struct wb_gplan *wb_plan_get(wb_plan_t *p, size_t i)
{
    return i < p->n ? &p->g[i] : NULL;
}

void wb_plan_destroy(wb_plan_t *p)
{
    size_t i, j;

    if (!p)
        return;
    for (i = 0; i < p->n; i++) {
        for (j = 0; j < p->g[i].nsteps; j++) {
            struct wb_step *st = &p->g[i].steps[j];

            wb_mset_destroy(st->delta);
            wb_mset_destroy(st->desired);
            free(st->snapshot);
            free(st->events);
        }
        free(p->g[i].steps);
        free(p->g[i].group);
    }
    free(p->g);
    free(p);
}
