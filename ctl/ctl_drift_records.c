/*
 * drift records: the workers' drift records in drift.topic (docs/drift.md), read from the
 * start of every partition to its end as they are now; --group keeps one group's (the
 * records are keyed by the group id). Read-only.
 */
#include "ctl.h"
#include "ctl_drift.h"
#include "ctl_kafka.h"

#include "wb_idkey.h"
#include "wb_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct scan {
    const char *group;
    cJSON *list;
};

static int record_cb(const rd_kafka_message_t *m, void *opaque)
{
    struct scan *s = opaque;
    cJSON *rec;

    if (!m->payload)
        return 0;
    if (s->group && (m->key_len != strlen(s->group) || memcmp(m->key, s->group, m->key_len) != 0))
        return 0;
    rec = cJSON_ParseWithLength(m->payload, m->len);
    if (!cJSON_IsObject(rec)) { /* not a drift record: shown as it is */
        cJSON_Delete(rec);
        rec = cJSON_CreateObject();
        cJSON_AddStringToObject(rec, "kind", "(not a drift record)");
    }
    cJSON_AddNumberToObject(rec, "offset", (double)m->offset);
    cJSON_AddItemToArray(s->list, rec);
    return 0;
}

int ctl_drift_records(struct ctl *c, const char *group, struct ctl_drift_records *rs)
{
    struct scan s = {group, cJSON_CreateArray()};
    rd_kafka_t *admin = NULL, *reader = NULL;
    int64_t *from = NULL, *to = NULL;
    int nparts, p, rc = CTL_EXIT_FAIL;

    rs->topic = wb_conf_get_str(c->conf, "drift.topic");
    rs->list = s.list;
    if (!rs->topic || !rs->topic[0]) {
        fprintf(stderr, "writebackctl drift records: drift.topic is not set (the workers "
                        "produce no drift records)\n");
        return CTL_EXIT_USAGE;
    }
    admin = ctl_kafka_new(c, RD_KAFKA_PRODUCER);
    reader = admin ? ctl_kafka_new(c, RD_KAFKA_CONSUMER) : NULL;
    nparts = reader ? ctl_kafka_partitions(admin, rs->topic) : -1;
    if (nparts <= 0)
        goto out;
    from = wb_calloc((size_t)nparts, sizeof(int64_t));
    to = wb_calloc((size_t)nparts, sizeof(int64_t));
    for (p = 0; p < nparts; p++)
        if (ctl_kafka_watermarks(admin, rs->topic, p, &from[p], &to[p]) != WB_OK)
            goto out;
    if (ctl_kafka_scan(reader, rs->topic, nparts, from, to, 120000, record_cb, &s) != WB_OK)
        goto out;
    rc = CTL_EXIT_OK;
out:
    free(from);
    free(to);
    if (reader)
        wb_kafka_destroy(reader);
    if (admin)
        wb_kafka_destroy(admin);
    return rc;
}

static const char *str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsString(v) ? v->valuestring : "";
}

void ctl_drift_records_text(const struct ctl_drift_records *rs)
{
    const cJSON *r;
    int n = 0;

    cJSON_ArrayForEach(r, rs->list)
    {
        const char *added = str(r, "added"), *removed = str(r, "removed");
        const char *new_dn = str(r, "new_dn");

        n++;
        printf("%s  %s  %-13s %s  dn=\"%s\"", str(r, "detected"), str(r, "group"), str(r, "kind"),
               str(r, "action"), str(r, "dn"));
        if (str(r, "attribute")[0] && strcmp(str(r, "attribute"), "member") != 0)
            printf(" attribute=%s", str(r, "attribute"));
        if (added[0])
            printf(" added=\"%s\"", added);
        if (removed[0])
            printf(" removed=\"%s\"", removed);
        if (new_dn[0])
            printf(" new_dn=\"%s\"", new_dn);
        printf(" dc=%s time=%s worker=%s\n", str(r, "dc"), str(r, "time"), str(r, "worker"));
    }
    printf("%d drift record%s in %s\n", n, n == 1 ? "" : "s", rs->topic);
}
