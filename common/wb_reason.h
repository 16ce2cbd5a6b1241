/*
 * wb_reason: every reason tag the programs emit, in one table {tag, kind, error class, when,
 * the operator's fix}. A dead letter carries its tag in header wb.reason and the label reason
 * of writeback_worker_dead_letters_total; member skips, producer member drops and events left
 * alone carry theirs in their metrics and logs. The reason tables of docs/errors.md are
 * generated from this table (wb_reason_markdown) and a unit test fails when they are stale.
 */
#ifndef WB_REASON_H
#define WB_REASON_H

#include "wb_err.h"

#include <stdio.h>

/* Where a reason is reported: one table of docs/errors.md each. */
enum wb_reason_kind {
    WB_REASON_KIND_DEAD_LETTER, /* the worker dead-letters the event */
    WB_REASON_KIND_SKIP,        /* the worker leaves one member reference out */
    WB_REASON_KIND_DROP,        /* the producer does not pass a member reference on */
    WB_REASON_KIND_LEFT_ALONE,  /* the worker leaves the AD group as it is */
    WB_REASON_KIND_COUNT
};

/* Identifier = WB_REASON_ + the tag in upper case (tests/unit/0062-docs.py relies on it). */
enum wb_reason {
    WB_REASON_POISON,
    WB_REASON_DN_CONFLICT,
    WB_REASON_SAM_CONFLICT,
    WB_REASON_DUPLICATE_ANCHOR,
    WB_REASON_UNOWNED_WRITEBACK_GROUP,
    WB_REASON_GROUP_NOT_FOUND,
    WB_REASON_MEMBER_GROUP_NOT_FOUND,
    WB_REASON_BAD_ATTRIBUTES,
    WB_REASON_BAD_GROUP_ID,
    WB_REASON_UNKNOWN_STEP,
    WB_REASON_SEARCH_FAILED,
    WB_REASON_ADD_FAILED,
    WB_REASON_MODIFY_FAILED,
    WB_REASON_MODRDN_FAILED,
    WB_REASON_ADOPT_FAILED,
    WB_REASON_DELETE_FAILED,
    WB_REASON_RESOLVE_FAILED,
    WB_REASON_MEMBER_MODIFY_FAILED,
    WB_REASON_READ_MEMBERS_FAILED,
    WB_REASON_USER_NOT_FOUND,
    WB_REASON_NO_ONPREM_IDENTITY,
    WB_REASON_CLOUD_ONLY,
    WB_REASON_UNRESOLVED,
    WB_REASON_GROUP_OUT_OF_SCOPE,
    WB_REASON_UNSUPPORTED_TYPE,
    WB_REASON_OUT_OF_SCOPE_KEEP,
    WB_REASON_COUNT
};

struct wb_reason_info {
    const char *tag;          /* the text in wb.reason, metric labels and logs */
    enum wb_reason_kind kind; /* which table of docs/errors.md lists it */
    wb_err_t cls;             /* dead letters: its class; WB_OK when the LDAP code decides */
    const char *when;         /* Markdown: when it happens */
    const char *fix;          /* Markdown: what the operator does (left alone: the effect) */
};

/* Indexed by enum wb_reason. */
extern const struct wb_reason_info wb_reason_table[WB_REASON_COUNT];

/* The tag of a reason; "" for a value outside the enum. */
const char *wb_reason_tag(enum wb_reason r);

/* The reason whose tag is TAG, or -1 (also for NULL). */
int wb_reason_find(const char *tag);

/* The Markdown table of the reasons of one kind, as docs/errors.md holds it between
 * "<!-- reasons:NAME -->" and "<!-- /reasons -->" (NAME from wb_reason_kind_name). */
void wb_reason_markdown(FILE *fp, enum wb_reason_kind kind);

/* "dead_letter", "skip", "drop", "left_alone"; NULL outside the enum. */
const char *wb_reason_kind_name(enum wb_reason_kind kind);

#endif
