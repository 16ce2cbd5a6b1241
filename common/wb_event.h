/*
 * wb_event: the JSON codec of the events on writeback.groups (docs/events.md, "v": 1).
 * Plain-data structs, one encoder and one strict decoder: anything the decoder accepts is safe
 * to apply, anything else comes back as WB_ERR_INVALID with a precise reason for the dead
 * letter. Pure functions, safe from any thread (cJSON also records its last parse error in a
 * global that nothing here reads).
 */
#ifndef WB_EVENT_H
#define WB_EVENT_H

#include "wb_err.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WB_EVENT_VERSION         1
#define WB_EVENT_MAX_BYTES       (1024 * 1024) /* one message */
#define WB_EVENT_MAX_MEMBERS     5000          /* add + remove + members in one event */
#define WB_EVENT_MAX_CHUNKS      100000        /* snapshot chunks */
#define WB_EVENT_MAX_GROUP_TYPES 16
#define WB_EVENT_MAX_KEYS        256 /* keys in any one JSON object */
#define WB_EVENT_MAX_DEPTH       32  /* JSON nesting of a whole message */
#define WB_EVENT_MAX_TOKEN       128 /* tenant, round, snapshot id, one groupTypes entry */
#define WB_EVENT_TS_SIZE         25  /* "2024-05-01T12:00:00.123Z" + NUL */

/*
 * Event types. The codec has one row per type (name + body encoder/decoder); adding a type is
 * one enum value, one row and its two body functions.
 */
enum wb_event_type {
    WB_EVENT_NONE = 0,
    WB_EVENT_GROUP_UPSERT,   /* "group.upsert": attrs (+ optional member delta) */
    WB_EVENT_GROUP_MEMBERS,  /* "group.members": add / remove */
    WB_EVENT_GROUP_SNAPSHOT, /* "group.snapshot": members, snapshot, chunk, chunks */
    WB_EVENT_GROUP_DELETE,   /* "group.delete": envelope only */
    WB_EVENT_GROUP_UNSCOPED, /* "group.unscoped": envelope only */
};

enum wb_member_kind {
    WB_MEMBER_USER = 1, /* "user": needs sid or guid (its on-prem identity) */
    WB_MEMBER_GROUP,    /* "group": found in AD by its anchor Group_<id> */
};

/* One member reference: {"kind": "user"|"group", "id": GUID, "sid"?: SID, "guid"?: GUID}. */
struct wb_member {
    enum wb_member_kind kind;
    char *id;   /* Entra objectId, a GUID string */
    char *sid;  /* NULL or the on-prem SID string (onPremisesSecurityIdentifier) */
    char *guid; /* NULL or the on-prem objectGUID string (onPremisesObjectIdentifier) */
};

/* The attrs object of group.upsert. */
struct wb_group_attrs {
    char *display_name; /* required, may be "" */
    char *description;  /* NULL when absent or JSON null */
    bool security_enabled;
    bool mail_enabled;
    char **group_types; /* group_types_count strings, e.g. "Unified" */
    size_t group_types_count;
    cJSON *extra; /* NULL or a JSON object with every other attrs key (e.g. directory
                     extensions), values any JSON */
};

/*
 * One event. Every pointer is owned by the struct and released by wb_event_free. Fields that a
 * type does not use stay zero/NULL and are neither encoded nor decoded.
 */
struct wb_event {
    int v; /* WB_EVENT_VERSION */
    enum wb_event_type type;
    char *tenant; /* 1..128 of [A-Za-z0-9._-] (a tenant GUID or domain) */
    char *group;  /* Entra objectId, a GUID string */
    char *round;  /* delta round id, 1..128 of [A-Za-z0-9._:-] */
    char *ts;     /* RFC 3339 UTC, "YYYY-MM-DDTHH:MM:SS[.fraction]Z" */

    struct wb_group_attrs attrs; /* group.upsert */

    /* group.members; group.upsert (optional member delta, empty = none) */
    struct wb_member *add;
    size_t add_count;
    struct wb_member *remove;
    size_t remove_count;

    /* group.snapshot: this chunk's members; the set is complete when chunk == chunks */
    struct wb_member *members;
    size_t members_count;
    char *snapshot; /* snapshot id shared by its chunks, same charset as round */
    unsigned chunk; /* 1-based, chunk <= chunks */
    unsigned chunks;
};

/* "group.upsert" … for a type; NULL for WB_EVENT_NONE or an unknown value. */
const char *wb_event_type_name(enum wb_event_type type);

/* The type called name, or WB_EVENT_NONE. name may be NULL. */
enum wb_event_type wb_event_type_from_name(const char *name);

/*
 * Checks *ev against every rule the decoder enforces (the producer calls it before encoding so
 * it never emits poison). Returns WB_OK, or WB_ERR_INVALID with reason filled (reason may be
 * NULL when reasonsz is 0).
 */
wb_err_t wb_event_validate(const struct wb_event *ev, char *reason, size_t reasonsz);

/*
 * Encodes *ev as compact JSON. Returns a caller-owned NUL-terminated string (free()); never
 * NULL. NULL strings are left out, so an invalid *ev encodes into JSON that does not decode:
 * validate first. Decoding the result of a valid *ev yields an equal struct.
 */
char *wb_event_encode(const struct wb_event *ev);

/*
 * Decodes buf[0..len) (need not be NUL-terminated) into *ev. Returns WB_OK, or WB_ERR_INVALID
 * with reason filled: "not JSON (error at byte 17)", "field group: not a GUID", "unknown v 2",
 * "add[3].sid: not a SID", "too many members in one event (max 5000)", … Refused besides bad
 * fields: more than WB_EVENT_MAX_BYTES, NUL bytes or \u0000 escapes (use
 * wb_event_strip_nul_escapes upstream), invalid UTF-8, trailing data, nesting deeper than
 * WB_EVENT_MAX_DEPTH, duplicate keys, objects with more than WB_EVENT_MAX_KEYS keys. Unknown keys
 * are ignored (forward compatible within v 1). *ev is always (re)initialised; on failure it is left
 * empty. wb_event_free(ev) is safe either way and must be called after success.
 */
wb_err_t wb_event_decode(const char *buf, size_t len, struct wb_event *ev, char *reason,
                         size_t reasonsz);

/* Frees everything *ev owns and zeroes it (ev itself is not freed). ev may be NULL. */
void wb_event_free(struct wb_event *ev);

/*
 * Removes every \u0000 escape (a JSON-encoded NUL) from the JSON text json[0..len) in place and
 * returns the new length; when anything was removed, json[new length] is set to NUL. For Graph
 * responses before cJSON parses them: cJSON 1.7.15 silently cuts a string at \u0000, and wb_map
 * drops NUL anyway. Only real escapes are removed ("\\u0000", an escaped backslash followed by
 * text, is kept).
 */
size_t wb_event_strip_nul_escapes(char *json, size_t len);

/* Writes unix_ms as RFC 3339 UTC with milliseconds, "2024-05-01T12:00:00.123Z". */
void wb_event_ts_format(int64_t unix_ms, char out[WB_EVENT_TS_SIZE]);

/* true if ts is RFC 3339 UTC as the envelope requires (upper-case T and Z, real date). */
bool wb_event_ts_valid(const char *ts);

#endif
