/*
 * wb_event_validate: the content checks of an event (tokens, GUIDs, SIDs, RFC 3339 times,
 * member lists, snapshot chunks), run by the decoder after the JSON shape and by the producer
 * before it encodes, and the RFC 3339 time helpers the checks and the producer share.
 */
#include "wb_event_int.h"

#include "wb_id.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static bool token_valid(const char *s, const char *extra_chars)
{
    size_t i;

    if (!s || !*s)
        return false;
    for (i = 0; s[i]; i++) {
        char ch = s[i];

        if (i >= WB_EVENT_MAX_TOKEN)
            return false;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              strchr(extra_chars, ch)))
            return false;
    }
    return true;
}

static bool digits(const char *s, int n, int *out)
{
    int i, v = 0;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool wb_event_ts_valid(const char *ts)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, s, n;
    bool leap;

    if (!ts || strlen(ts) < 20)
        return false;
    if (!digits(ts, 4, &y) || ts[4] != '-' || !digits(ts + 5, 2, &mo) || ts[7] != '-' ||
        !digits(ts + 8, 2, &d) || ts[10] != 'T' || !digits(ts + 11, 2, &h) || ts[13] != ':' ||
        !digits(ts + 14, 2, &mi) || ts[16] != ':' || !digits(ts + 17, 2, &s))
        return false;
    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) ||
        h > 23 || mi > 59 || s > 60)
        return false;
    ts += 19;
    if (*ts == '.') {
        for (n = 0, ts++; *ts >= '0' && *ts <= '9'; ts++)
            n++;
        if (n < 1 || n > 9)
            return false;
    }
    return strcmp(ts, "Z") == 0;
}

void wb_event_ts_format(int64_t unix_ms, char out[WB_EVENT_TS_SIZE])
{
    time_t t = (time_t)(unix_ms / 1000);
    int ms = (int)(unix_ms % 1000);
    struct tm tm;
    char tmp[96];

    if (ms < 0) {
        ms += 1000;
        t--;
    }
    gmtime_r(&t, &tm);
    /* A roomy buffer first: the compiler cannot know every field has two digits. */
    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (tm.tm_year + 1900) % 10000,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
    memcpy(out, tmp, WB_EVENT_TS_SIZE - 1);
    out[WB_EVENT_TS_SIZE - 1] = '\0';
}

static wb_err_t member_validate(const struct wb_member *m, const char *arr, size_t i, struct ctx *c)
{
    if (m->kind != WB_MEMBER_USER && m->kind != WB_MEMBER_GROUP)
        return wb_err_invalid(c->reason, c->reasonsz, "%s[%zu].kind: unknown kind %d", arr, i,
                              (int)m->kind);
    if (!m->id)
        return wb_err_invalid(c->reason, c->reasonsz, "%s[%zu].id: missing", arr, i);
    if (!wb_id_guid_valid(m->id))
        return wb_err_invalid(c->reason, c->reasonsz, "%s[%zu].id: not a GUID", arr, i);
    if (m->sid && !wb_id_sid_valid(m->sid))
        return wb_err_invalid(c->reason, c->reasonsz, "%s[%zu].sid: not a SID", arr, i);
    if (m->guid && !wb_id_guid_valid(m->guid))
        return wb_err_invalid(c->reason, c->reasonsz, "%s[%zu].guid: not a GUID", arr, i);
    if (m->kind == WB_MEMBER_USER && !m->sid && !m->guid)
        return wb_err_invalid(c->reason, c->reasonsz, "%s[%zu]: user needs sid or guid", arr, i);
    return WB_OK;
}

static wb_err_t members_validate(const struct wb_member *v, size_t n, const char *arr,
                                 struct ctx *c)
{
    size_t i;
    wb_err_t err;

    if (n && !v)
        return wb_err_invalid(c->reason, c->reasonsz, "%s: count %zu without members", arr, n);
    for (i = 0; i < n; i++) {
        err = member_validate(&v[i], arr, i, c);
        if (err != WB_OK)
            return err;
    }
    return WB_OK;
}

/* The attributes of an upsert: a display name, at most WB_EVENT_MAX_GROUP_TYPES group types,
 * extra attributes in an object and none under a reserved name. */
static wb_err_t attrs_validate(const struct wb_group_attrs *a, char *reason, size_t reasonsz)
{
    const cJSON *x;
    size_t i;

    if (!a->display_name)
        return wb_err_invalid(reason, reasonsz, "attrs.displayName: missing");
    if (a->group_types_count > WB_EVENT_MAX_GROUP_TYPES)
        return wb_err_invalid(reason, reasonsz, "attrs.groupTypes: too many entries (max %d)",
                              WB_EVENT_MAX_GROUP_TYPES);
    if (a->group_types_count && !a->group_types)
        return wb_err_invalid(reason, reasonsz, "attrs.groupTypes: count without entries");
    for (i = 0; i < a->group_types_count; i++)
        if (!token_valid(a->group_types[i], "._-"))
            return wb_err_invalid(reason, reasonsz, "attrs.groupTypes[%zu]: not a group type", i);
    if (a->extra && !cJSON_IsObject(a->extra))
        return wb_err_invalid(reason, reasonsz, "attrs: extra attributes are not an object");
    cJSON_ArrayForEach(x, a->extra)
    {
        if (!x->string || wb_event_is_attr_key(x->string))
            return wb_err_invalid(reason, reasonsz, "attrs: extra attribute with a reserved name");
    }
    return WB_OK;
}

/* The fields of a snapshot chunk: its snapshot id, chunk within 1..chunks, the members. */
static wb_err_t snapshot_validate(const struct wb_event *ev, struct ctx *c)
{
    if (!token_valid(ev->snapshot, "._:-"))
        return wb_err_invalid(c->reason, c->reasonsz,
                              "field snapshot: not a snapshot id (1..%d of A-Za-z0-9._:-)",
                              WB_EVENT_MAX_TOKEN);
    if (ev->chunks < 1 || ev->chunks > WB_EVENT_MAX_CHUNKS)
        return wb_err_invalid(c->reason, c->reasonsz, "field chunks: %u out of range 1..%d",
                              ev->chunks, WB_EVENT_MAX_CHUNKS);
    if (ev->chunk < 1 || ev->chunk > ev->chunks)
        return wb_err_invalid(c->reason, c->reasonsz, "field chunk: %u out of range 1..chunks (%u)",
                              ev->chunk, ev->chunks);
    return members_validate(ev->members, ev->members_count, "members", c);
}

wb_err_t wb_event_validate(const struct wb_event *ev, char *reason, size_t reasonsz)
{
    struct ctx c = {reason, reasonsz};
    wb_err_t err = WB_OK;

    if (reason && reasonsz)
        reason[0] = '\0';
    if (ev->v != WB_EVENT_VERSION)
        return wb_err_invalid(reason, reasonsz, "unknown v %d", ev->v);
    if (!wb_event_type_name(ev->type))
        return wb_err_invalid(reason, reasonsz, "unknown type %d", (int)ev->type);
    if (!token_valid(ev->tenant, "._-"))
        return wb_err_invalid(reason, reasonsz,
                              "field tenant: not a tenant id (1..%d of A-Za-z0-9._-)",
                              WB_EVENT_MAX_TOKEN);
    if (!wb_id_guid_valid(ev->group))
        return wb_err_invalid(reason, reasonsz, "field group: not a GUID");
    if (!token_valid(ev->round, "._:-"))
        return wb_err_invalid(reason, reasonsz,
                              "field round: not a round id (1..%d of A-Za-z0-9._:-)",
                              WB_EVENT_MAX_TOKEN);
    if (!wb_event_ts_valid(ev->ts))
        return wb_err_invalid(reason, reasonsz, "field ts: not an RFC 3339 UTC time");
    if (ev->type == WB_EVENT_GROUP_UPSERT)
        err = attrs_validate(&ev->attrs, reason, reasonsz);
    if (err != WB_OK)
        return err;
    if (ev->add_count + ev->remove_count + ev->members_count > WB_EVENT_MAX_MEMBERS)
        return wb_err_invalid(reason, reasonsz, "too many members in one event (max %d)",
                              WB_EVENT_MAX_MEMBERS);
    if (ev->type == WB_EVENT_GROUP_UPSERT || ev->type == WB_EVENT_GROUP_MEMBERS) {
        err = members_validate(ev->add, ev->add_count, "add", &c);
        if (err == WB_OK)
            err = members_validate(ev->remove, ev->remove_count, "remove", &c);
    }
    if (err == WB_OK && ev->type == WB_EVENT_GROUP_SNAPSHOT)
        err = snapshot_validate(ev, &c);
    return err;
}
