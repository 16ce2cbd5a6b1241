/*
 * wb_event_int.h: what the files of the wb_event module (wb_event.c, the codec and type table;
 * wb_event_validate.c, the content checks) share. Not for use outside the module.
 */
#ifndef WB_EVENT_INT_H
#define WB_EVENT_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "wb_event.h"

/* Where a check writes its reason: the caller's buffer and its size. */
struct ctx {
    char *reason;
    size_t reasonsz;
};

/* True for the keys of attrs that are fields of struct wb_group_attrs (never extra attributes). */
bool wb_event_is_attr_key(const char *k);

#endif
