/*
 * wb_ckpt: checkpoint records and the topic.state reader. The reader keeps only the latest
 * value of each of our keys (the topic is compacted, so older ones may be gone anyway) and
 * every command record, because several commands may arrive between two rounds.
 */
#include "ckpt.h"

#include "wb_kafka.h"
#include "wb_log.h"
#include "wb_mem.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void wb_ckpt_init(struct wb_ckpt *c)
{
    memset(c, 0, sizeof(*c));
    c->command_offset = -1;
    c->in_scope = wb_idmap_new();
    c->staged = wb_idmap_new();
    c->nested = wb_idmap_new();
}

static void kids_free(void *p)
{
    struct wb_kids *k = p;

    free(k->ids);
    free(k);
}

void wb_ckpt_free(struct wb_ckpt *c)
{
    if (!c)
        return;
    free(c->delta_link);
    free(c->scope);
    wb_idmap_destroy(c->in_scope, NULL);
    wb_idmap_destroy(c->staged, NULL);
    wb_idmap_destroy(c->nested, kids_free);
    memset(c, 0, sizeof(*c));
}

void wb_ckpt_nested_add(struct wb_ckpt *c, const struct wb_idkey *parent,
                        const struct wb_idkey *child)
{
    void **slot = wb_idmap_put(c->nested, parent, NULL);
    struct wb_kids *k = *slot;
    size_t i;

    if (!k)
        k = *slot = wb_calloc(1, sizeof(*k));
    for (i = 0; i < k->n; i++)
        if (memcmp(k->ids[i].b, child->b, 16) == 0)
            return;
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 4;
        k->ids = wb_realloc(k->ids, k->cap * sizeof(*k->ids));
    }
    k->ids[k->n++] = *child;
}

void wb_ckpt_nested_del(struct wb_ckpt *c, const struct wb_idkey *parent,
                        const struct wb_idkey *child)
{
    void **slot = wb_idmap_get(c->nested, parent);
    struct wb_kids *k = slot ? *slot : NULL;
    size_t i;

    if (!k)
        return;
    for (i = 0; i < k->n; i++)
        if (memcmp(k->ids[i].b, child->b, 16) == 0) {
            k->ids[i] = k->ids[--k->n];
            break;
        }
    if (k->n == 0)
        kids_free(wb_idmap_del(c->nested, parent));
}

void wb_ckpt_nested_clear(struct wb_ckpt *c, const struct wb_idkey *parent)
{
    void *v = wb_idmap_del(c->nested, parent);

    if (v)
        kids_free(v);
}

void wb_ckpt_nested_copy(struct wb_ckpt *dst, const struct wb_ckpt *src)
{
    struct wb_idkey k;
    void *v;
    size_t pos = 0, i;

    wb_idmap_destroy(dst->nested, kids_free);
    dst->nested = wb_idmap_new();
    while (wb_idmap_next(src->nested, &pos, &k, &v)) {
        const struct wb_kids *kids = v;

        for (i = 0; i < kids->n; i++)
            wb_ckpt_nested_add(dst, &k, &kids->ids[i]);
    }
}

/* Every edge as a parent/child pair, sorted by parent: 2 * *n keys, caller-owned. */
static struct wb_idkey *nested_pairs(const struct wb_ckpt *c, size_t *n)
{
    struct wb_idkey *parents, *out;
    size_t np, i, j, k = 0, total = 0;

    parents = wb_idmap_keys_sorted(c->nested, &np);
    for (i = 0; i < np; i++)
        total += ((struct wb_kids *)*wb_idmap_get(c->nested, &parents[i]))->n;
    out = wb_malloc((total ? total : 1) * 2 * sizeof(*out));
    for (i = 0; i < np; i++) {
        const struct wb_kids *kids = *wb_idmap_get(c->nested, &parents[i]);

        for (j = 0; j < kids->n; j++) {
            out[2 * k] = parents[i];
            out[2 * k + 1] = kids->ids[j];
            k++;
        }
    }
    free(parents);
    *n = k;
    return out;
}

static void add_id(cJSON *arr, const struct wb_idkey *k)
{
    char s[37];

    wb_idkey_format(k, s);
    cJSON_AddItemToArray(arr, cJSON_CreateString(s));
}

static struct wb_idkey *staged_keys(const wb_idmap_t *m, void *kind, size_t *n)
{
    struct wb_idkey *all = NULL, *out;
    size_t na, i, k = 0;

    all = wb_idmap_keys_sorted(m, &na);
    out = wb_malloc((na ? na : 1) * sizeof(*out));
    for (i = 0; i < na; i++)
        if (*wb_idmap_get(m, &all[i]) == kind)
            out[k++] = all[i];
    free(all);
    *n = k;
    return out;
}

size_t wb_ckpt_encode(const struct wb_ckpt *c, const char *tenant, size_t per, char ***keys_out,
                      char ***values_out)
{
    struct wb_idkey *lists[4];
    size_t counts[4], total, nrec, r, li = 0, pos = 0;
    static const char *const names[4] = {"inScope", "stagedDeletes", "stagedUnscoped", "nested"};
    char **keys, **values;

    if (per == 0)
        per = WB_CKPT_IDS_PER_RECORD;
    lists[0] = wb_idmap_keys_sorted(c->in_scope, &counts[0]);
    lists[1] = staged_keys(c->staged, WB_CKPT_STAGED_DELETE, &counts[1]);
    lists[2] = staged_keys(c->staged, WB_CKPT_STAGED_UNSCOPED, &counts[2]);
    lists[3] = nested_pairs(c, &counts[3]);
    total = counts[0] + counts[1] + counts[2] + counts[3];
    nrec = total == 0 ? 1 : (total + per - 1) / per;
    keys = wb_calloc(nrec, sizeof(char *));
    values = wb_calloc(nrec, sizeof(char *));
    for (r = 0; r < nrec; r++) {
        cJSON *j = cJSON_CreateObject();
        cJSON *arrs[4];
        size_t budget = per, a;

        cJSON_AddNumberToObject(j, "v", 1);
        cJSON_AddNumberToObject(j, "round", (double)c->round);
        if (r == 0) {
            keys[r] = wb_asprintf("%s/checkpoint", tenant);
            if (c->delta_link)
                cJSON_AddStringToObject(j, "deltaLink", c->delta_link);
            else
                cJSON_AddNullToObject(j, "deltaLink");
            cJSON_AddBoolToObject(j, "resync", c->resync);
            cJSON_AddStringToObject(j, "scope", c->scope ? c->scope : "");
            cJSON_AddNumberToObject(j, "commandOffset", (double)c->command_offset);
            cJSON_AddNumberToObject(j, "parts", (double)nrec);
            cJSON_AddNumberToObject(j, "inScopeCount", (double)counts[0]);
            cJSON_AddNumberToObject(j, "stagedCount", (double)(counts[1] + counts[2]));
            {
                char ts[32];
                time_t now = time(NULL);
                struct tm tm;

                gmtime_r(&now, &tm);
                strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
                cJSON_AddStringToObject(j, "ts", ts);
            }
        } else {
            keys[r] = wb_asprintf("%s/checkpoint/%zu", tenant, r);
            cJSON_AddNumberToObject(j, "part", (double)r);
        }
        for (a = 0; a < 4; a++)
            arrs[a] = cJSON_AddArrayToObject(j, names[a]);
        while (budget > 0 && li < 4) {
            if (pos >= counts[li]) {
                li++;
                pos = 0;
                continue;
            }
            if (li == 3) {
                char pa[37], ch[37], both[80];

                wb_idkey_format(&lists[3][2 * pos], pa);
                wb_idkey_format(&lists[3][2 * pos + 1], ch);
                snprintf(both, sizeof(both), "%s/%s", pa, ch);
                cJSON_AddItemToArray(arrs[3], cJSON_CreateString(both));
                pos++;
            } else {
                add_id(arrs[li], &lists[li][pos++]);
            }
            budget--;
        }
        values[r] = cJSON_PrintUnformatted(j);
        if (!values[r])
            abort();
        cJSON_Delete(j);
    }
    free(lists[0]);
    free(lists[1]);
    free(lists[2]);
    free(lists[3]);
    *keys_out = keys;
    *values_out = values;
    return nrec;
}

static wb_err_t read_lists(struct wb_ckpt *c, const cJSON *j, char *reason, size_t sz)
{
    static const char *const names[4] = {"inScope", "stagedDeletes", "stagedUnscoped", "nested"};
    size_t a;

    for (a = 0; a < 4; a++) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, names[a]), *e;

        if (!arr)
            continue;
        if (!cJSON_IsArray(arr))
            return wb_err_invalid(reason, sz, "%s is not an array", names[a]);
        cJSON_ArrayForEach(e, arr)
        {
            struct wb_idkey k, ch;

            if (a == 3) {
                const char *slash = cJSON_IsString(e) ? strchr(e->valuestring, '/') : NULL;
                char pa[40];

                if (!slash || slash - e->valuestring != 36 || !wb_idkey_parse(slash + 1, &ch))
                    return wb_err_invalid(reason, sz, "nested holds a malformed edge");
                memcpy(pa, e->valuestring, 36);
                pa[36] = '\0';
                if (!wb_idkey_parse(pa, &k))
                    return wb_err_invalid(reason, sz, "nested holds a malformed edge");
                wb_ckpt_nested_add(c, &k, &ch);
                continue;
            }
            if (!cJSON_IsString(e) || !wb_idkey_parse(e->valuestring, &k))
                return wb_err_invalid(reason, sz, "%s holds a non-GUID", names[a]);
            if (a == 0)
                wb_idmap_add(c->in_scope, &k);
            else
                *wb_idmap_put(c->staged, &k, NULL) =
                    a == 1 ? WB_CKPT_STAGED_DELETE : WB_CKPT_STAGED_UNSCOPED;
        }
    }
    return WB_OK;
}

static bool get_uint(const cJSON *j, const char *name, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);

    if (!cJSON_IsNumber(v) || v->valuedouble < -1 || v->valuedouble > 9007199254740992.0)
        return false;
    *out = v->valuedouble;
    return true;
}

wb_err_t wb_ckpt_decode(struct wb_ckpt *c, const char *json, size_t len, unsigned *parts,
                        char *reason, size_t sz)
{
    cJSON *j = cJSON_ParseWithLength(json, len);
    const cJSON *dl, *sc, *rs;
    double v, round, cmd = -1, np = 1;
    wb_err_t err = WB_ERR_INVALID;

    wb_ckpt_free(c);
    wb_ckpt_init(c);
    if (!cJSON_IsObject(j)) {
        wb_err_invalid(reason, sz, "not a JSON object");
        goto out;
    }
    if (!get_uint(j, "v", &v) || v != 1) {
        wb_err_invalid(reason, sz, "unknown or missing v");
        goto out;
    }
    if (!get_uint(j, "round", &round) || round < 0) {
        wb_err_invalid(reason, sz, "bad round");
        goto out;
    }
    if (cJSON_GetObjectItemCaseSensitive(j, "commandOffset") &&
        !get_uint(j, "commandOffset", &cmd)) {
        wb_err_invalid(reason, sz, "bad commandOffset");
        goto out;
    }
    if (cJSON_GetObjectItemCaseSensitive(j, "parts") &&
        (!get_uint(j, "parts", &np) || np < 1 || np > 1000000)) {
        wb_err_invalid(reason, sz, "bad parts");
        goto out;
    }
    dl = cJSON_GetObjectItemCaseSensitive(j, "deltaLink");
    if (dl && !cJSON_IsString(dl) && !cJSON_IsNull(dl)) {
        wb_err_invalid(reason, sz, "deltaLink is not a string");
        goto out;
    }
    sc = cJSON_GetObjectItemCaseSensitive(j, "scope");
    rs = cJSON_GetObjectItemCaseSensitive(j, "resync");
    c->round = (uint64_t)round;
    c->command_offset = (int64_t)cmd;
    c->delta_link = cJSON_IsString(dl) && *dl->valuestring ? wb_strdup(dl->valuestring) : NULL;
    c->scope = cJSON_IsString(sc) ? wb_strdup(sc->valuestring) : NULL;
    c->resync = cJSON_IsTrue(rs);
    err = read_lists(c, j, reason, sz);
    *parts = (unsigned)np;
out:
    if (err != WB_OK) {
        wb_ckpt_free(c);
        wb_ckpt_init(c);
    }
    cJSON_Delete(j);
    return err;
}

wb_err_t wb_ckpt_decode_part(struct wb_ckpt *c, unsigned k, const char *json, size_t len,
                             char *reason, size_t sz)
{
    cJSON *j = cJSON_ParseWithLength(json, len);
    double round, part;
    wb_err_t err = WB_ERR_INVALID;

    if (!cJSON_IsObject(j))
        wb_err_invalid(reason, sz, "part %u: not a JSON object", k);
    else if (!get_uint(j, "round", &round) || (uint64_t)round != c->round)
        wb_err_invalid(reason, sz, "part %u: belongs to another round", k);
    else if (!get_uint(j, "part", &part) || (unsigned)part != k)
        wb_err_invalid(reason, sz, "part %u: wrong part number", k);
    else
        err = read_lists(c, j, reason, sz);
    cJSON_Delete(j);
    return err;
}

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
    rd_kafka_conf_t *conf = NULL;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    rd_kafka_resp_err_t kerr;
    int i;

    st->topic = wb_strdup(topic);
    st->tenant = wb_strdup(tenant);
    st->prefix = wb_asprintf("%s/", tenant);
    conf = wb_kafka_conf_new(kv, errstr, errsz);
    if (!conf)
        goto fail;
    if (rd_kafka_conf_set(conf, "isolation.level", "read_committed", errstr, errsz) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, errsz) ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, errsz) ||
        rd_kafka_conf_set(conf, "group.id", "writeback-producer-state-reader", errstr, errsz)) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    st->rk = wb_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errsz);
    if (!st->rk)
        goto fail;
    rkt = rd_kafka_topic_new(st->rk, topic, NULL);
    kerr = rd_kafka_metadata(st->rk, 0, rkt, &md, 10000);
    if (kerr || md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt < 1) {
        snprintf(errstr, errsz, "%s: no metadata: %s", topic,
                 rd_kafka_err2str(kerr                       ? kerr
                                  : md && md->topic_cnt == 1 ? md->topics[0].err
                                                             : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
        goto fail;
    }
    st->nparts = md->topics[0].partition_cnt;
    st->at_end = wb_calloc((size_t)st->nparts, sizeof(int));
    parts = rd_kafka_topic_partition_list_new(st->nparts);
    for (i = 0; i < st->nparts; i++)
        rd_kafka_topic_partition_list_add(parts, topic, md->topics[0].partitions[i].id)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    kerr = rd_kafka_assign(st->rk, parts);
    if (kerr) {
        snprintf(errstr, errsz, "%s: assign: %s", topic, rd_kafka_err2str(kerr));
        goto fail;
    }
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return st;
fail:
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    if (md)
        rd_kafka_metadata_destroy(md);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
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
    if (m->key_len == plen + 7 && memcmp(k + plen, "command", 7) == 0) {
        if (!m->payload)
            return;
        st->cmds = wb_realloc(st->cmds, (st->ncmds + 1) * sizeof(*st->cmds));
        memset(&st->cmds[st->ncmds], 0, sizeof(struct rec));
        st->cmds[st->ncmds].key = wb_strndup(k, m->key_len);
        rec_set(&st->cmds[st->ncmds++], m);
        return;
    }
    if (m->key_len < plen + 10 || memcmp(k + plen, "checkpoint", 10) != 0)
        return;
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
