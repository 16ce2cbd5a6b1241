/*
 * wb_dlqhdr: the dead-letter header names, encoder and reader (see wb_dlqhdr.h).
 */
#include "wb_dlqhdr.h"
#include "wb_event.h"
#include "wb_mem.h"
#include "wb_time.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const names[WB_DLQHDR_COUNT] = {
    [WB_DLQHDR_REASON] = "wb.reason",
    [WB_DLQHDR_CLASS] = "wb.class",
    [WB_DLQHDR_LDAP_RC] = "wb.ldap.rc",
    [WB_DLQHDR_LDAP_MESSAGE] = "wb.ldap.message",
    [WB_DLQHDR_LDAP_MATCHED_DN] = "wb.ldap.matched_dn",
    [WB_DLQHDR_ORIG_TOPIC] = "wb.orig.topic",
    [WB_DLQHDR_ORIG_PARTITION] = "wb.orig.partition",
    [WB_DLQHDR_ORIG_OFFSET] = "wb.orig.offset",
    [WB_DLQHDR_ORIG_TIMESTAMP] = "wb.orig.timestamp",
    [WB_DLQHDR_CONSUMER_GROUP] = "wb.consumer_group",
    [WB_DLQHDR_WORKER_ID] = "wb.worker_id",
    [WB_DLQHDR_ATTEMPTS] = "wb.attempts",
    [WB_DLQHDR_TIME] = "wb.time",
    [WB_DLQHDR_TRUNCATED] = "wb.truncated",
    [WB_DLQHDR_ORIG_SIZE] = "wb.orig.size",
    [WB_DLQHDR_ORIG_ERROR] = "wb.orig.error",
};

const char *wb_dlqhdr_name(enum wb_dlqhdr id)
{
    return (unsigned)id < WB_DLQHDR_COUNT ? names[id] : NULL;
}

/* Header id with value (NULL: "") into *h. */
static void set(struct wb_kafka_header *h, enum wb_dlqhdr id, const char *value)
{
    h->name = names[id];
    h->value = value ? value : "";
    h->len = strlen(h->value);
}

void wb_dlqhdr_encode(const struct wb_dlqhdr_info *info, struct wb_kafka_header *hdrs,
                      struct wb_dlqhdr_buf *buf)
{
    const char *v[WB_DLQHDR_NSTANDARD];
    int i;

    memset(buf, 0, sizeof(*buf));
    if (info->ldap_rc >= 0)
        snprintf(buf->num[0], sizeof(buf->num[0]), "%d", info->ldap_rc);
    snprintf(buf->num[1], sizeof(buf->num[1]), "%" PRId32, info->orig_partition);
    snprintf(buf->num[2], sizeof(buf->num[2]), "%" PRId64, info->orig_offset);
    snprintf(buf->num[3], sizeof(buf->num[3]), "%" PRId64, info->orig_timestamp);
    snprintf(buf->num[4], sizeof(buf->num[4]), "%u", info->attempts);
    wb_event_ts_format(wb_time_now_ms(), buf->time);

    v[WB_DLQHDR_REASON] = info->reason;
    v[WB_DLQHDR_CLASS] = wb_err_name(info->cls);
    v[WB_DLQHDR_LDAP_RC] = buf->num[0];
    v[WB_DLQHDR_LDAP_MESSAGE] = info->ldap_message;
    v[WB_DLQHDR_LDAP_MATCHED_DN] = info->matched_dn;
    v[WB_DLQHDR_ORIG_TOPIC] = info->orig_topic;
    v[WB_DLQHDR_ORIG_PARTITION] = buf->num[1];
    v[WB_DLQHDR_ORIG_OFFSET] = buf->num[2];
    v[WB_DLQHDR_ORIG_TIMESTAMP] = buf->num[3];
    v[WB_DLQHDR_CONSUMER_GROUP] = info->consumer_group;
    v[WB_DLQHDR_WORKER_ID] = info->worker_id;
    v[WB_DLQHDR_ATTEMPTS] = buf->num[4];
    v[WB_DLQHDR_TIME] = buf->time;
    for (i = 0; i < WB_DLQHDR_NSTANDARD; i++)
        set(&hdrs[i], (enum wb_dlqhdr)i, v[i]);
}

void wb_dlqhdr_encode_bounded(size_t orig_size, const char *error, struct wb_kafka_header *hdrs,
                              struct wb_dlqhdr_buf *buf)
{
    snprintf(buf->size, sizeof(buf->size), "%zu", orig_size);
    set(&hdrs[0], WB_DLQHDR_TRUNCATED, "true");
    set(&hdrs[1], WB_DLQHDR_ORIG_SIZE, buf->size);
    set(&hdrs[2], WB_DLQHDR_ORIG_ERROR, error);
}

bool wb_dlqhdr_is_ours(const char *name)
{
    return name && strncmp(name, "wb.", 3) == 0;
}

char *wb_dlqhdr_get(const rd_kafka_headers_t *h, enum wb_dlqhdr id)
{
    const void *v = NULL;
    size_t len = 0;

    if (!h || (unsigned)id >= WB_DLQHDR_COUNT ||
        rd_kafka_header_get_last(h, names[id], &v, &len) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return NULL;
    return v ? wb_strndup(v, len) : wb_strdup("");
}
