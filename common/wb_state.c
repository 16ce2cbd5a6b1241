/*
 * wb_state: the topic.state reader. It keeps only the latest value of each of our keys (the
 * topic is compacted, so older ones may be gone anyway) and every command record, because
 * several commands may arrive between two rounds.
 */
#include "wb_state.h"

#include "wb_kafka.h"
#include "wb_log.h"
#include "wb_mem.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- topic.state reader */

struct rec {
    char *key;
    char *value; /* NULL: tombstone */
    size_t len;
    int64_t offset;
};

struct wb_state_s {
    rd_kafka_t *rk;
    char *topic, *tenant, *prefix;
    int nparts;
    int *at_end;
    struct rec *recs; /* latest per key (checkpoint keys) */
    size_t nrecs;
    struct rec *cmds; /* every command, in offset order */
    size_t ncmds;
    bool pauses_only; /* keep drift pauses only (the worker's reader) */
};

static void rec_set(struct rec *r, const rd_kafka_message_t *m)
{
    free(r->value);
    r->value = m->payload ? wb_strndup(m->payload, m->len) : NULL;
    r->len = m->payload ? m->len : 0;
    r->offset = m->offset;
}

wb_state_t *wb_state_new(const char *const *kv, const char *topic, const char *tenant, char *errstr,
                         size_t errsz)
{
    wb_state_t *st = wb_calloc(1, sizeof(*st));
    rd_kafka_topic_partition_list_t *parts = NULL;
    rd_kafka_resp_err_t kerr;
    int i;

    st->topic = wb_strdup(topic);
    st->tenant = wb_strdup(tenant);
    st->prefix = wb_asprintf("%s/", tenant);
    st->rk = wb_kafka_reader_new(kv, "writeback-producer-state-reader", errstr, errsz);
    if (!st->rk)
        goto fail;
    st->nparts = wb_kafka_partitions(st->rk, topic, 10000, errstr, errsz);
    if (st->nparts < 1)
        goto fail;
    st->at_end = wb_calloc((size_t)st->nparts, sizeof(int));
    parts = rd_kafka_topic_partition_list_new(st->nparts);
    for (i = 0; i < st->nparts; i++)
        rd_kafka_topic_partition_list_add(parts, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
    kerr = rd_kafka_assign(st->rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (kerr) {
        snprintf(errstr, errsz, "%s: assign: %s", topic, rd_kafka_err2str(kerr));
        goto fail;
    }
    return st;
fail:
    wb_state_destroy(st);
    return NULL;
}

void wb_state_destroy(wb_state_t *st)
{
    size_t i;

    if (!st)
        return;
    if (st->rk) {
        rd_kafka_assign(st->rk, NULL);
        wb_kafka_destroy(st->rk);
    }
    for (i = 0; i < st->nrecs; i++) {
        free(st->recs[i].key);
        free(st->recs[i].value);
    }
    for (i = 0; i < st->ncmds; i++) {
        free(st->cmds[i].key);
        free(st->cmds[i].value);
    }
    free(st->recs);
    free(st->cmds);
    free(st->at_end);
    free(st->topic);
    free(st->tenant);
    free(st->prefix);
    free(st);
}

static void take(wb_state_t *st, const rd_kafka_message_t *m)
{
    size_t plen = strlen(st->prefix), i;
    const char *k = m->key;

    if (!k || m->key_len <= plen || memcmp(k, st->prefix, plen) != 0)
        return;
    if (m->key_len > plen + strlen(WB_COMMAND_PAUSE_PREFIX) &&
        memcmp(k + plen, WB_COMMAND_PAUSE_PREFIX, strlen(WB_COMMAND_PAUSE_PREFIX)) == 0)
        goto keep_latest;
    if (st->pauses_only)
        return;
    if (m->key_len == plen + 7 && memcmp(k + plen, "command", 7) == 0) {
        if (!m->payload)
            return;
        st->cmds = wb_realloc(st->cmds, (st->ncmds + 1) * sizeof(*st->cmds));
        memset(&st->cmds[st->ncmds], 0, sizeof(struct rec));
        st->cmds[st->ncmds].key = wb_strndup(k, m->key_len);
        rec_set(&st->cmds[st->ncmds++], m);
        return;
    }
    if (m->key_len == plen + strlen(WB_STATE_NOTIFY) &&
        memcmp(k + plen, WB_STATE_NOTIFY, strlen(WB_STATE_NOTIFY)) == 0)
        goto keep_latest;
    if (m->key_len < plen + 10 || memcmp(k + plen, "checkpoint", 10) != 0)
        return;
keep_latest:
    for (i = 0; i < st->nrecs; i++)
        if (strlen(st->recs[i].key) == m->key_len && memcmp(st->recs[i].key, k, m->key_len) == 0)
            break;
    if (i == st->nrecs) {
        st->recs = wb_realloc(st->recs, (st->nrecs + 1) * sizeof(*st->recs));
        memset(&st->recs[i], 0, sizeof(struct rec));
        st->recs[i].key = wb_strndup(k, m->key_len);
        st->nrecs++;
    }
    rec_set(&st->recs[i], m);
}

wb_err_t wb_state_poll(wb_state_t *st, int timeout_ms)
{
    struct timespec t0, t1;
    int i;

    for (i = 0; i < st->nparts; i++)
        st->at_end[i] = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        rd_kafka_message_t *m;
        int done = 1;
        long elapsed;

        for (i = 0; i < st->nparts; i++)
            done &= st->at_end[i];
        if (done)
            return WB_OK;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        elapsed = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
        if (elapsed > timeout_ms) {
            wb_log(LOG_WARNING, "STATE", "%s: end not reached within %d ms", st->topic, timeout_ms);
            return WB_ERR_TRANSIENT;
        }
        m = rd_kafka_consumer_poll(st->rk, 200);
        if (!m) {
            /* No new EOF arrives for a partition already at its end: ask for positions. */
            rd_kafka_topic_partition_list_t *pos = rd_kafka_topic_partition_list_new(st->nparts);

            for (i = 0; i < st->nparts; i++)
                rd_kafka_topic_partition_list_add(pos, st->topic, i);
            if (rd_kafka_position(st->rk, pos) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                for (i = 0; i < pos->cnt; i++) {
                    int64_t lo = 0, hi = 0;

                    if (st->at_end[i] ||
                        rd_kafka_get_watermark_offsets(st->rk, st->topic, i, &lo, &hi) != 0)
                        continue;
                    if ((hi > 0 && pos->elems[i].offset >= hi) || (hi >= 0 && lo == hi))
                        st->at_end[i] = 1;
                }
            }
            rd_kafka_topic_partition_list_destroy(pos);
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            /* right after a commit the last stable offset may lag the high watermark until
             * the markers are written: at the end only once the position reached it */
            int64_t lo = 0, hi = 0;

            if (m->partition >= 0 && m->partition < st->nparts &&
                (rd_kafka_query_watermark_offsets(st->rk, st->topic, m->partition, &lo, &hi,
                                                  5000) != RD_KAFKA_RESP_ERR_NO_ERROR ||
                 m->offset >= hi))
                st->at_end[m->partition] = 1;
        } else if (m->err) {
            wb_log(LOG_WARNING, "STATE", "%s: %s", st->topic, rd_kafka_message_errstr(m));
        } else {
            take(st, m);
        }
        rd_kafka_message_destroy(m);
    }
}

wb_err_t wb_state_checkpoint(wb_state_t *st, struct wb_ckpt *c)
{
    char *hkey = wb_asprintf("%scheckpoint", st->prefix);
    char reason[256];
    unsigned parts = 1, k;
    wb_err_t err = WB_OK;
    size_t i;

    wb_ckpt_free(c);
    wb_ckpt_init(c);
    for (i = 0; i < st->nrecs; i++)
        if (strcmp(st->recs[i].key, hkey) == 0)
            break;
    if (i == st->nrecs || !st->recs[i].value)
        goto out;
    err = wb_ckpt_decode(c, st->recs[i].value, st->recs[i].len, &parts, reason, sizeof(reason));
    if (err != WB_OK) {
        wb_log(LOG_ERR, "STATE", "%s: key %s: malformed checkpoint: %s", st->topic, hkey, reason);
        goto out;
    }
    for (k = 1; k < parts && err == WB_OK; k++) {
        char *pk = wb_asprintf("%s/%u", hkey, k);

        for (i = 0; i < st->nrecs; i++)
            if (strcmp(st->recs[i].key, pk) == 0)
                break;
        if (i == st->nrecs || !st->recs[i].value) {
            wb_log(LOG_ERR, "STATE", "%s: checkpoint part %s missing", st->topic, pk);
            err = WB_ERR_INVALID;
        } else {
            err = wb_ckpt_decode_part(c, k, st->recs[i].value, st->recs[i].len, reason,
                                      sizeof(reason));
            if (err != WB_OK)
                wb_log(LOG_ERR, "STATE", "%s: key %s: %s", st->topic, pk, reason);
        }
        free(pk);
    }
    if (err != WB_OK) {
        wb_ckpt_free(c);
        wb_ckpt_init(c);
    }
out:
    free(hkey);
    return err;
}

struct wb_command *wb_state_commands(wb_state_t *st, int64_t after, size_t *n)
{
    struct wb_command *out = wb_calloc(st->ncmds ? st->ncmds : 1, sizeof(*out));
    size_t i, k = 0;

    for (i = 0; i < st->ncmds; i++) {
        char reason[256];

        if (st->cmds[i].offset <= after)
            continue;
        if (wb_command_decode(&out[k], st->cmds[i].value, st->cmds[i].len, reason,
                              sizeof(reason)) != WB_OK) {
            wb_log(LOG_WARNING, "STATE", "%s: command at offset %" PRId64 " ignored: %s", st->topic,
                   st->cmds[i].offset, reason);
            continue;
        }
        out[k++].offset = st->cmds[i].offset;
    }
    *n = k;
    return out;
}

void wb_state_pauses_only(wb_state_t *st)
{
    st->pauses_only = true;
}

void wb_state_pauses(wb_state_t *st, wb_state_pause_cb cb, void *opaque)
{
    size_t plen = strlen(st->prefix) + strlen(WB_COMMAND_PAUSE_PREFIX), i;

    for (i = 0; i < st->nrecs; i++) {
        const struct rec *r = &st->recs[i];
        char reason[256];
        int64_t until = 0;

        if (strlen(r->key) <= plen || strncmp(r->key + strlen(st->prefix), WB_COMMAND_PAUSE_PREFIX,
                                              strlen(WB_COMMAND_PAUSE_PREFIX)) != 0)
            continue;
        if (r->value &&
            wb_command_decode_pause(r->value, r->len, &until, reason, sizeof(reason)) != WB_OK) {
            wb_log(LOG_WARNING, "STATE", "%s: key %s ignored: %s", st->topic, r->key, reason);
            continue;
        }
        cb(r->key + plen, until, opaque);
    }
}

const char *wb_state_notify(const wb_state_t *st, size_t *len)
{
    char *key = wb_asprintf("%s%s", st->prefix, WB_STATE_NOTIFY);
    const char *v = NULL;
    size_t i;

    *len = 0;
    for (i = 0; i < st->nrecs; i++)
        if (strcmp(st->recs[i].key, key) == 0 && st->recs[i].value) {
            v = st->recs[i].value;
            *len = st->recs[i].len;
        }
    free(key);
    return v;
}
