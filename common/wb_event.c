/*
 * wb_event: event codec. Decoding is two passes: the JSON shape (types, presence, duplicates,
 * sizes) while converting to structs, then wb_event_validate (wb_event_validate.c) for content
 * (GUIDs, SIDs, times), the same check the producer runs before it encodes. The first failure
 * is the reason.
 */
#include "wb_event_int.h"

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

/* ---- attribute keys ------------------------------------------------------------------ */

static const char *const attr_keys[] = {"displayName", "description", "securityEnabled",
                                        "mailEnabled", "groupTypes"};

bool wb_event_is_attr_key(const char *k)
{
    size_t i;

    for (i = 0; i < sizeof(attr_keys) / sizeof(attr_keys[0]); i++)
        if (strcmp(attr_keys[i], k) == 0)
            return true;
    return false;
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
        if (wb_event_is_attr_key(x->string))
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
