/*
 * wb_event: event codec. Decoding is two passes: the JSON shape (types, presence, duplicates,
 * sizes) while converting to structs, then wb_event_validate for content (GUIDs, SIDs, times),
 * the same check the producer runs before it encodes. The first failure is the reason.
 */
#include "wb_event.h"

#include "wb_id.h"
#include "wb_map.h"
#include "wb_mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Untrusted text quoted in a reason: printable ASCII only, at most 40 characters. */
static void quote(char out[48], const char *s)
{
    size_t i;

    for (i = 0; s[i] && i < 40; i++)
        out[i] = s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' ? s[i] : '?';
    if (s[i]) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
}

/* ---- type table ---------------------------------------------------------------------- */

struct ctx {
    char *reason;
    size_t reasonsz;
};

typedef wb_err_t (*body_decode_fn)(const cJSON *root, struct wb_event *ev, struct ctx *c);
typedef void (*body_encode_fn)(cJSON *root, const struct wb_event *ev);

static wb_err_t upsert_decode(const cJSON *root, struct wb_event *ev, struct ctx *c);
static void upsert_encode(cJSON *root, const struct wb_event *ev);
static wb_err_t members_decode(const cJSON *root, struct wb_event *ev, struct ctx *c);
static void members_encode(cJSON *root, const struct wb_event *ev);
static wb_err_t snapshot_decode(const cJSON *root, struct wb_event *ev, struct ctx *c);
static void snapshot_encode(cJSON *root, const struct wb_event *ev);

static const struct {
    enum wb_event_type type;
    const char *name;
    body_decode_fn decode; /* NULL: envelope only */
    body_encode_fn encode;
} types[] = {
    {WB_EVENT_GROUP_UPSERT, "group.upsert", upsert_decode, upsert_encode},
    {WB_EVENT_GROUP_MEMBERS, "group.members", members_decode, members_encode},
    {WB_EVENT_GROUP_SNAPSHOT, "group.snapshot", snapshot_decode, snapshot_encode},
    {WB_EVENT_GROUP_DELETE, "group.delete", NULL, NULL},
    {WB_EVENT_GROUP_UNSCOPED, "group.unscoped", NULL, NULL},
};

#define NTYPES (sizeof(types) / sizeof(types[0]))

static int type_row(enum wb_event_type type)
{
    size_t i;

    for (i = 0; i < NTYPES; i++)
        if (types[i].type == type)
            return (int)i;
    return -1;
}

const char *wb_event_type_name(enum wb_event_type type)
{
    int i = type_row(type);

    return i < 0 ? NULL : types[i].name;
}

enum wb_event_type wb_event_type_from_name(const char *name)
{
    size_t i;

    for (i = 0; name && i < NTYPES; i++)
        if (strcmp(types[i].name, name) == 0)
            return types[i].type;
    return WB_EVENT_NONE;
}

/* ---- content checks ------------------------------------------------------------------ */

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

static const char *const attr_keys[] = {"displayName", "description", "securityEnabled",
                                        "mailEnabled", "groupTypes"};

static bool is_attr_key(const char *k)
{
    size_t i;

    for (i = 0; i < sizeof(attr_keys) / sizeof(attr_keys[0]); i++)
        if (strcmp(attr_keys[i], k) == 0)
            return true;
    return false;
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

wb_err_t wb_event_validate(const struct wb_event *ev, char *reason, size_t reasonsz)
{
    struct ctx c = {reason, reasonsz};
    const struct wb_group_attrs *a = &ev->attrs;
    const cJSON *x;
    size_t i;
    wb_err_t err;

    if (reason && reasonsz)
        reason[0] = '\0';
    if (ev->v != WB_EVENT_VERSION)
        return wb_err_invalid(reason, reasonsz, "unknown v %d", ev->v);
    if (type_row(ev->type) < 0)
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

    if (ev->type == WB_EVENT_GROUP_UPSERT) {
        if (!a->display_name)
            return wb_err_invalid(reason, reasonsz, "attrs.displayName: missing");
        if (a->group_types_count > WB_EVENT_MAX_GROUP_TYPES)
            return wb_err_invalid(reason, reasonsz, "attrs.groupTypes: too many entries (max %d)",
                                  WB_EVENT_MAX_GROUP_TYPES);
        if (a->group_types_count && !a->group_types)
            return wb_err_invalid(reason, reasonsz, "attrs.groupTypes: count without entries");
        for (i = 0; i < a->group_types_count; i++)
            if (!token_valid(a->group_types[i], "._-"))
                return wb_err_invalid(reason, reasonsz, "attrs.groupTypes[%zu]: not a group type",
                                      i);
        if (a->extra && !cJSON_IsObject(a->extra))
            return wb_err_invalid(reason, reasonsz, "attrs: extra attributes are not an object");
        cJSON_ArrayForEach(x, a->extra)
        {
            if (!x->string || is_attr_key(x->string))
                return wb_err_invalid(reason, reasonsz,
                                      "attrs: extra attribute with a reserved name");
        }
    }
    if (ev->add_count + ev->remove_count + ev->members_count > WB_EVENT_MAX_MEMBERS)
        return wb_err_invalid(reason, reasonsz, "too many members in one event (max %d)",
                              WB_EVENT_MAX_MEMBERS);
    if (ev->type == WB_EVENT_GROUP_UPSERT || ev->type == WB_EVENT_GROUP_MEMBERS) {
        err = members_validate(ev->add, ev->add_count, "add", &c);
        if (err == WB_OK)
            err = members_validate(ev->remove, ev->remove_count, "remove", &c);
        if (err != WB_OK)
            return err;
    }
    if (ev->type == WB_EVENT_GROUP_SNAPSHOT) {
        if (!token_valid(ev->snapshot, "._:-"))
            return wb_err_invalid(reason, reasonsz,
                                  "field snapshot: not a snapshot id (1..%d of A-Za-z0-9._:-)",
                                  WB_EVENT_MAX_TOKEN);
        if (ev->chunks < 1 || ev->chunks > WB_EVENT_MAX_CHUNKS)
            return wb_err_invalid(reason, reasonsz, "field chunks: %u out of range 1..%d",
                                  ev->chunks, WB_EVENT_MAX_CHUNKS);
        if (ev->chunk < 1 || ev->chunk > ev->chunks)
            return wb_err_invalid(reason, reasonsz, "field chunk: %u out of range 1..chunks (%u)",
                                  ev->chunk, ev->chunks);
        err = members_validate(ev->members, ev->members_count, "members", &c);
        if (err != WB_OK)
            return err;
    }
    return WB_OK;
}

/* ---- encoding ------------------------------------------------------------------------ */

static void add_str(cJSON *obj, const char *key, const char *val)
{
    if (val)
        cJSON_AddItemToObject(obj, key, cJSON_CreateString(val));
}

static void add_members(cJSON *root, const char *key, const struct wb_member *v, size_t n)
{
    cJSON *arr = cJSON_AddArrayToObject(root, key);
    size_t i;

    for (i = 0; v && i < n; i++) {
        cJSON *m = cJSON_CreateObject();

        cJSON_AddItemToArray(arr, m);
        add_str(m, "kind", v[i].kind == WB_MEMBER_GROUP ? "group" : "user");
        add_str(m, "id", v[i].id);
        add_str(m, "sid", v[i].sid);
        add_str(m, "guid", v[i].guid);
    }
}

static void upsert_encode(cJSON *root, const struct wb_event *ev)
{
    const struct wb_group_attrs *a = &ev->attrs;
    cJSON *attrs = cJSON_AddObjectToObject(root, "attrs"), *gt, *x;
    size_t i;

    add_str(attrs, "displayName", a->display_name);
    if (a->description)
        add_str(attrs, "description", a->description);
    else
        cJSON_AddNullToObject(attrs, "description");
    cJSON_AddBoolToObject(attrs, "securityEnabled", a->security_enabled);
    cJSON_AddBoolToObject(attrs, "mailEnabled", a->mail_enabled);
    gt = cJSON_AddArrayToObject(attrs, "groupTypes");
    for (i = 0; a->group_types && i < a->group_types_count; i++)
        if (a->group_types[i])
            cJSON_AddItemToArray(gt, cJSON_CreateString(a->group_types[i]));
    cJSON_ArrayForEach(x, a->extra)
    {
        if (x->string)
            cJSON_AddItemToObject(attrs, x->string, cJSON_Duplicate(x, 1));
    }
    if (ev->add_count)
        add_members(root, "add", ev->add, ev->add_count);
    if (ev->remove_count)
        add_members(root, "remove", ev->remove, ev->remove_count);
}

static void members_encode(cJSON *root, const struct wb_event *ev)
{
    add_members(root, "add", ev->add, ev->add_count);
    add_members(root, "remove", ev->remove, ev->remove_count);
}

static void snapshot_encode(cJSON *root, const struct wb_event *ev)
{
    add_str(root, "snapshot", ev->snapshot);
    cJSON_AddNumberToObject(root, "chunk", ev->chunk);
    cJSON_AddNumberToObject(root, "chunks", ev->chunks);
    add_members(root, "members", ev->members, ev->members_count);
}

char *wb_event_encode(const struct wb_event *ev)
{
    cJSON *root = cJSON_CreateObject();
    int row = type_row(ev->type);
    char *out;

    if (!root)
        abort(); /* cJSON allocates with malloc; out of memory is fatal, as in wb_mem */
    cJSON_AddNumberToObject(root, "v", ev->v);
    add_str(root, "type", row < 0 ? "" : types[row].name);
    add_str(root, "tenant", ev->tenant);
    add_str(root, "group", ev->group);
    add_str(root, "round", ev->round);
    add_str(root, "ts", ev->ts);
    if (row >= 0 && types[row].encode)
        types[row].encode(root, ev);
    out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!out)
        abort();
    return out;
}

/* ---- decoding ------------------------------------------------------------------------ */

/*
 * One pass over the raw text before cJSON sees it: JSON nesting depth (cJSON recurses, and we
 * recurse over its tree) and \u0000 escapes (cJSON would cut the string there silently).
 */
static wb_err_t prescan(const char *s, size_t len, struct ctx *c)
{
    size_t i;
    int depth = 0;
    bool in_str = false;

    for (i = 0; i < len; i++) {
        char ch = s[i];

        if (in_str) {
            if (ch == '\\') {
                if (i + 5 < len && memcmp(s + i + 1, "u0000", 5) == 0)
                    return wb_err_invalid(c->reason, c->reasonsz,
                                          "string contains \\u0000 (NUL) at byte %zu", i);
                i++;
            } else if (ch == '"') {
                in_str = false;
            }
        } else if (ch == '"') {
            in_str = true;
        } else if (ch == '[' || ch == '{') {
            depth++;
            if (depth > WB_EVENT_MAX_DEPTH)
                return wb_err_invalid(c->reason, c->reasonsz, "JSON nested too deeply (max %d)",
                                      WB_EVENT_MAX_DEPTH);
        } else if (ch == ']' || ch == '}') {
            depth--;
        }
    }
    return WB_OK;
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every object in the tree: at most WB_EVENT_MAX_KEYS keys, none twice. */
static wb_err_t check_keys(const cJSON *item, struct ctx *c)
{
    const char *keys[WB_EVENT_MAX_KEYS];
    const cJSON *x;
    size_t n = 0, i;
    char q[48];
    wb_err_t err;

    cJSON_ArrayForEach(x, item)
    {
        if (cJSON_IsObject(item)) {
            if (n == WB_EVENT_MAX_KEYS)
                return wb_err_invalid(c->reason, c->reasonsz,
                                      "too many keys in one object (max %d)", WB_EVENT_MAX_KEYS);
            keys[n++] = x->string;
        }
        err = check_keys(x, c);
        if (err != WB_OK)
            return err;
    }
    if (n < 2)
        return WB_OK;
    qsort(keys, n, sizeof(keys[0]), cmp_key);
    for (i = 1; i < n; i++) {
        if (strcmp(keys[i - 1], keys[i]) == 0) {
            quote(q, keys[i]);
            return wb_err_invalid(c->reason, c->reasonsz, "duplicate key \"%s\"", q);
        }
    }
    return WB_OK;
}

/* A string field: required (missing is an error) or optional (absent/null leaves NULL). */
static wb_err_t get_str(const cJSON *obj, const char *key, bool required, const char *path,
                        char **out, struct ctx *c)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (!x || (!required && cJSON_IsNull(x))) {
        if (required)
            return wb_err_invalid(c->reason, c->reasonsz, "%s: missing", path);
        return WB_OK;
    }
    if (!cJSON_IsString(x))
        return wb_err_invalid(c->reason, c->reasonsz, "%s: not a string", path);
    *out = wb_strdup(x->valuestring);
    return WB_OK;
}

static wb_err_t get_bool(const cJSON *obj, const char *key, const char *path, bool *out,
                         struct ctx *c)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (!x)
        return wb_err_invalid(c->reason, c->reasonsz, "%s: missing", path);
    if (!cJSON_IsBool(x))
        return wb_err_invalid(c->reason, c->reasonsz, "%s: not a boolean", path);
    *out = cJSON_IsTrue(x);
    return WB_OK;
}

static wb_err_t get_uint(const cJSON *obj, const char *key, unsigned max, unsigned *out,
                         struct ctx *c)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(obj, key);
    double d;

    if (!x)
        return wb_err_invalid(c->reason, c->reasonsz, "field %s: missing", key);
    if (!cJSON_IsNumber(x))
        return wb_err_invalid(c->reason, c->reasonsz, "field %s: not a number", key);
    d = x->valuedouble;
    if (!(d >= 0 && d <= max) || d != (double)(unsigned)d)
        return wb_err_invalid(c->reason, c->reasonsz, "field %s: not an integer in 0..%u", key,
                              max);
    *out = (unsigned)d;
    return WB_OK;
}

/* Size of an optional array field (absent = 0); -1 with a reason if it is not an array. */
static long array_size(const cJSON *root, const char *key, struct ctx *c)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(root, key);

    if (!x)
        return 0;
    if (!cJSON_IsArray(x)) {
        wb_err_invalid(c->reason, c->reasonsz, "%s: not an array", key);
        return -1;
    }
    return cJSON_GetArraySize(x);
}

static wb_err_t get_members(const cJSON *root, const char *key, bool required,
                            struct wb_member **out, size_t *count, struct ctx *c)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, key), *x;
    char path[64], q[48];
    size_t n = 0;
    wb_err_t err;

    if (!arr)
        return required ? wb_err_invalid(c->reason, c->reasonsz, "%s: missing", key) : WB_OK;
    /* array_size has checked the type and the total before any allocation. */
    *out = wb_calloc((size_t)cJSON_GetArraySize(arr), sizeof(**out));
    cJSON_ArrayForEach(x, arr)
    {
        struct wb_member *m = &(*out)[n];
        char *kind = NULL;

        *count = ++n;
        if (!cJSON_IsObject(x))
            return wb_err_invalid(c->reason, c->reasonsz, "%s[%zu]: not an object", key, n - 1);
        snprintf(path, sizeof(path), "%s[%zu].kind", key, n - 1);
        err = get_str(x, "kind", true, path, &kind, c);
        if (err != WB_OK)
            return err;
        if (strcmp(kind, "user") == 0) {
            m->kind = WB_MEMBER_USER;
        } else if (strcmp(kind, "group") == 0) {
            m->kind = WB_MEMBER_GROUP;
        } else {
            quote(q, kind);
            free(kind);
            return wb_err_invalid(c->reason, c->reasonsz, "%s: unknown kind \"%s\"", path, q);
        }
        free(kind);
        snprintf(path, sizeof(path), "%s[%zu].id", key, n - 1);
        err = get_str(x, "id", true, path, &m->id, c);
        if (err != WB_OK)
            return err;
        snprintf(path, sizeof(path), "%s[%zu].sid", key, n - 1);
        err = get_str(x, "sid", false, path, &m->sid, c);
        if (err != WB_OK)
            return err;
        snprintf(path, sizeof(path), "%s[%zu].guid", key, n - 1);
        err = get_str(x, "guid", false, path, &m->guid, c);
        if (err != WB_OK)
            return err;
    }
    return WB_OK;
}

static wb_err_t upsert_decode(const cJSON *root, struct wb_event *ev, struct ctx *c)
{
    const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(root, "attrs"), *gt, *x;
    struct wb_group_attrs *a = &ev->attrs;
    wb_err_t err;

    if (!attrs)
        return wb_err_invalid(c->reason, c->reasonsz, "field attrs: missing");
    if (!cJSON_IsObject(attrs))
        return wb_err_invalid(c->reason, c->reasonsz, "field attrs: not an object");
    err = get_str(attrs, "displayName", true, "attrs.displayName", &a->display_name, c);
    if (err == WB_OK)
        err = get_str(attrs, "description", false, "attrs.description", &a->description, c);
    if (err == WB_OK)
        err = get_bool(attrs, "securityEnabled", "attrs.securityEnabled", &a->security_enabled, c);
    if (err == WB_OK)
        err = get_bool(attrs, "mailEnabled", "attrs.mailEnabled", &a->mail_enabled, c);
    if (err != WB_OK)
        return err;
    gt = cJSON_GetObjectItemCaseSensitive(attrs, "groupTypes");
    if (!gt)
        return wb_err_invalid(c->reason, c->reasonsz, "attrs.groupTypes: missing");
    if (!cJSON_IsArray(gt))
        return wb_err_invalid(c->reason, c->reasonsz, "attrs.groupTypes: not an array");
    if (cJSON_GetArraySize(gt) > WB_EVENT_MAX_GROUP_TYPES)
        return wb_err_invalid(c->reason, c->reasonsz, "attrs.groupTypes: too many entries (max %d)",
                              WB_EVENT_MAX_GROUP_TYPES);
    a->group_types = wb_calloc((size_t)cJSON_GetArraySize(gt), sizeof(char *));
    cJSON_ArrayForEach(x, gt)
    {
        if (!cJSON_IsString(x))
            return wb_err_invalid(c->reason, c->reasonsz, "attrs.groupTypes[%zu]: not a string",
                                  a->group_types_count);
        a->group_types[a->group_types_count++] = wb_strdup(x->valuestring);
    }
    cJSON_ArrayForEach(x, attrs)
    {
        if (is_attr_key(x->string))
            continue;
        if (!a->extra)
            a->extra = cJSON_CreateObject();
        cJSON_AddItemToObject(a->extra, x->string, cJSON_Duplicate(x, 1));
    }
    err = get_members(root, "add", false, &ev->add, &ev->add_count, c);
    if (err == WB_OK)
        err = get_members(root, "remove", false, &ev->remove, &ev->remove_count, c);
    return err;
}

static wb_err_t members_decode(const cJSON *root, struct wb_event *ev, struct ctx *c)
{
    wb_err_t err = get_members(root, "add", false, &ev->add, &ev->add_count, c);

    if (err == WB_OK)
        err = get_members(root, "remove", false, &ev->remove, &ev->remove_count, c);
    return err;
}

static wb_err_t snapshot_decode(const cJSON *root, struct wb_event *ev, struct ctx *c)
{
    wb_err_t err = get_str(root, "snapshot", true, "field snapshot", &ev->snapshot, c);

    if (err == WB_OK)
        err = get_uint(root, "chunk", WB_EVENT_MAX_CHUNKS, &ev->chunk, c);
    if (err == WB_OK)
        err = get_uint(root, "chunks", WB_EVENT_MAX_CHUNKS, &ev->chunks, c);
    if (err == WB_OK)
        err = get_members(root, "members", true, &ev->members, &ev->members_count, c);
    return err;
}

static wb_err_t decode_tree(const cJSON *root, struct wb_event *ev, struct ctx *c)
{
    const cJSON *v, *t;
    long n_add, n_remove, n_members;
    char q[48];
    int row;
    wb_err_t err;

    if (!cJSON_IsObject(root))
        return wb_err_invalid(c->reason, c->reasonsz, "not a JSON object");
    err = check_keys(root, c);
    if (err != WB_OK)
        return err;
    v = cJSON_GetObjectItemCaseSensitive(root, "v");
    if (!v)
        return wb_err_invalid(c->reason, c->reasonsz, "field v: missing");
    if (!cJSON_IsNumber(v))
        return wb_err_invalid(c->reason, c->reasonsz, "field v: not a number");
    if (v->valuedouble != WB_EVENT_VERSION)
        return wb_err_invalid(c->reason, c->reasonsz, "unknown v %.17g", v->valuedouble);
    ev->v = WB_EVENT_VERSION;
    t = cJSON_GetObjectItemCaseSensitive(root, "type");
    if (!t)
        return wb_err_invalid(c->reason, c->reasonsz, "field type: missing");
    if (!cJSON_IsString(t))
        return wb_err_invalid(c->reason, c->reasonsz, "field type: not a string");
    ev->type = wb_event_type_from_name(t->valuestring);
    row = type_row(ev->type);
    if (row < 0) {
        quote(q, t->valuestring);
        return wb_err_invalid(c->reason, c->reasonsz, "unknown type \"%s\"", q);
    }
    err = get_str(root, "tenant", true, "field tenant", &ev->tenant, c);
    if (err == WB_OK)
        err = get_str(root, "group", true, "field group", &ev->group, c);
    if (err == WB_OK)
        err = get_str(root, "round", true, "field round", &ev->round, c);
    if (err == WB_OK)
        err = get_str(root, "ts", true, "field ts", &ev->ts, c);
    if (err != WB_OK)
        return err;
    /* Sizes first, so a huge array is refused before anything is allocated for it. */
    n_add = n_remove = n_members = 0;
    if (ev->type == WB_EVENT_GROUP_UPSERT || ev->type == WB_EVENT_GROUP_MEMBERS) {
        n_add = array_size(root, "add", c);
        if (n_add < 0)
            return WB_ERR_INVALID;
        n_remove = array_size(root, "remove", c);
        if (n_remove < 0)
            return WB_ERR_INVALID;
    } else if (ev->type == WB_EVENT_GROUP_SNAPSHOT) {
        n_members = array_size(root, "members", c);
        if (n_members < 0)
            return WB_ERR_INVALID;
    }
    if (n_add + n_remove + n_members > WB_EVENT_MAX_MEMBERS)
        return wb_err_invalid(c->reason, c->reasonsz, "too many members in one event (max %d)",
                              WB_EVENT_MAX_MEMBERS);
    if (types[row].decode)
        return types[row].decode(root, ev, c);
    return WB_OK;
}

wb_err_t wb_event_decode(const char *buf, size_t len, struct wb_event *ev, char *reason,
                         size_t reasonsz)
{
    struct ctx c = {reason, reasonsz};
    const char *nul, *end = NULL;
    char *copy = NULL;
    cJSON *root = NULL;
    size_t off;
    wb_err_t err;

    memset(ev, 0, sizeof(*ev));
    if (reason && reasonsz)
        reason[0] = '\0';
    if (!buf || len == 0) {
        err = wb_err_invalid(reason, reasonsz, "not JSON (empty message)");
        goto out;
    }
    if (len > WB_EVENT_MAX_BYTES) {
        err = wb_err_invalid(reason, reasonsz, "message too large (%zu bytes, max %d)", len,
                             WB_EVENT_MAX_BYTES);
        goto out;
    }
    nul = memchr(buf, '\0', len);
    if (nul) {
        err = wb_err_invalid(reason, reasonsz, "not JSON (NUL byte at byte %zu)",
                             (size_t)(nul - buf));
        goto out;
    }
    if (!wb_map_utf8_valid(buf, len, &off)) {
        err = wb_err_invalid(reason, reasonsz, "not UTF-8 (invalid byte at byte %zu)", off);
        goto out;
    }
    err = prescan(buf, len, &c);
    if (err != WB_OK)
        goto out;
    copy = wb_strndup(buf, len);
    /* ParseWithOpts, not ParseWithLengthOpts: with require_null_terminated, 1.7.15 wants the
     * terminator inside the length. The error position comes back without cJSON's global. */
    root = cJSON_ParseWithOpts(copy, &end, 1);
    if (!root) {
        off = end ? (size_t)(end - copy) : 0;
        if (off >= len)
            err = wb_err_invalid(reason, reasonsz, "not JSON (truncated at byte %zu)", len);
        else
            err = wb_err_invalid(reason, reasonsz, "not JSON (error at byte %zu)", off);
        goto out;
    }
    err = decode_tree(root, ev, &c);
    if (err == WB_OK)
        err = wb_event_validate(ev, reason, reasonsz);
out:
    cJSON_Delete(root);
    free(copy);
    if (err != WB_OK)
        wb_event_free(ev);
    return err;
}

static void members_free(struct wb_member *v, size_t n)
{
    size_t i;

    for (i = 0; v && i < n; i++) {
        free(v[i].id);
        free(v[i].sid);
        free(v[i].guid);
    }
    free(v);
}

void wb_event_free(struct wb_event *ev)
{
    size_t i;

    if (!ev)
        return;
    free(ev->tenant);
    free(ev->group);
    free(ev->round);
    free(ev->ts);
    free(ev->attrs.display_name);
    free(ev->attrs.description);
    for (i = 0; ev->attrs.group_types && i < ev->attrs.group_types_count; i++)
        free(ev->attrs.group_types[i]);
    free(ev->attrs.group_types);
    cJSON_Delete(ev->attrs.extra);
    members_free(ev->add, ev->add_count);
    members_free(ev->remove, ev->remove_count);
    members_free(ev->members, ev->members_count);
    free(ev->snapshot);
    memset(ev, 0, sizeof(*ev));
}

size_t wb_event_strip_nul_escapes(char *json, size_t len)
{
    size_t i, o = 0;

    for (i = 0; i < len; i++) {
        if (json[i] == '\\' && i + 5 < len && memcmp(json + i + 1, "u0000", 5) == 0) {
            i += 5;
            continue;
        }
        json[o++] = json[i];
        if (json[i] == '\\' && i + 1 < len)
            json[o++] = json[++i];
    }
    if (o < len)
        json[o] = '\0';
    return o;
}
