/*
 * replay_group: writebackctl replay --group-id: reads one Entra group's events from its
 * partition (the producer's placement), from a position to the end, and with --execute
 * produces them again with a wb.replay.from header; no offset is touched.
 */
#include "ctl_kafka.h"
#include "ctl_replay_int.h"
#include "wb_kafka.h"
#include "wb_mem.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REPLAY_MAX_EVENTS 100000

static int grp_cb(const rd_kafka_message_t *m, void *opaque)
{
    struct grp_scan *gs = opaque;
    rd_kafka_headers_t *h = NULL;
    rd_kafka_timestamp_type_t tt;
    struct grp_ev *e;

    if (!m->key || m->key_len != strlen(gs->key) || strncasecmp(m->key, gs->key, m->key_len))
        return 0;
    if (gs->n >= REPLAY_MAX_EVENTS) {
        gs->too_many = true;
        return 1;
    }
    if (gs->n == gs->cap) {
        gs->cap = gs->cap ? gs->cap * 2 : 64;
        gs->ev = wb_realloc(gs->ev, gs->cap * sizeof(*gs->ev));
    }
    e = &gs->ev[gs->n++];
    e->offset = m->offset;
    e->ts = rd_kafka_message_timestamp(m, &tt);
    e->value = m->payload ? wb_strndup(m->payload, m->len) : NULL;
    e->len = m->len;
    e->hdrs = rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR
                  ? rd_kafka_headers_copy(h)
                  : NULL;
    return 0;
}

/* Produces the group's events again, each with a wb.replay.from header naming where it was
 * read, and waits for the broker's acks. Returns 0, or -1 (message on stderr). */
static int reproduce(struct ctl *c, const struct replay_result *r)
{
    rd_kafka_t *prod = ctl_kafka_new(c, RD_KAFKA_PRODUCER);
    int rc = -1;
    size_t k;

    if (!prod)
        goto out;
    for (k = 0; k < r->gs.n; k++) {
        const struct grp_ev *e = &r->gs.ev[k];
        char from_s[300];
        struct wb_kafka_header hd = {"wb.replay.from", from_s, 0};

        snprintf(from_s, sizeof(from_s), "%s/%d/%lld", r->topic, (int)r->part,
                 (long long)e->offset);
        hd.len = strlen(from_s);
        if (ctl_kafka_reproduce(prod, r->topic, r->key, strlen(r->key), e->value, e->len, e->hdrs,
                                &hd, 1) != WB_OK)
            goto out;
    }
    if (wb_kafka_flush(prod, 30000) != WB_OK) {
        fprintf(stderr, "writebackctl replay: events not acknowledged by the broker\n");
        goto out;
    }
    rc = 0;
out:
    wb_kafka_destroy(prod);
    return rc;
}

/* --group-id: reads the group's events from the position on and, with --execute, produces
 * them again. */
int ctl_replay_group(struct ctl *c, rd_kafka_t *admin, rd_kafka_t *reader, int nparts,
                     const struct replay_opts *o, struct replay_result *r)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(admin, r->topic, NULL);
    int64_t lo, *from = wb_calloc((size_t)nparts, sizeof(int64_t)),
                *to = wb_calloc((size_t)nparts, sizeof(int64_t)),
                *res = wb_calloc((size_t)nparts, sizeof(int64_t));
    bool *want = wb_calloc((size_t)nparts, sizeof(bool));
    int rc = CTL_EXIT_FAIL, i;

    for (i = 0; o->gid[i] && i < (int)sizeof(r->key) - 1; i++)
        r->key[i] = (char)tolower((unsigned char)o->gid[i]);
    r->key[i] = '\0';
    r->gs.key = r->key;
    /* The same placement as the producer's murmur2_random partitioner. */
    r->part =
        rd_kafka_msg_partitioner_murmur2_random(rkt, r->key, strlen(r->key), nparts, NULL, NULL);
    if (ctl_kafka_watermarks(admin, r->topic, r->part, &lo, &r->hi) != WB_OK)
        goto out;
    if (o->mode == M_DATETIME || o->mode == M_DURATION) {
        want[r->part] = true;
        to[r->part] = r->hi;
        if (ctl_replay_offsets_for_time(admin, r->topic, nparts, want, o->arg, to, res) != WB_OK)
            goto out;
        r->start = res[r->part];
    } else if (o->mode == M_OFFSET || o->mode == M_EARLIEST) {
        r->start = o->mode == M_OFFSET ? clamp(o->arg, lo, r->hi) : lo;
    } else {
        rc = ctl_usage_error("replay",
                             "%s--group-id takes --to-datetime, --by-duration, --to-offset "
                             "or --to-earliest",
                             "");
        goto out;
    }
    from[r->part] = r->start;
    to[r->part] = r->hi;
    if (ctl_kafka_scan(reader, r->topic, nparts, from, to, 120000, grp_cb, &r->gs) != WB_OK)
        goto out;
    if (r->gs.too_many) {
        fprintf(stderr, "writebackctl replay: more than %d events of %s; choose a later position\n",
                REPLAY_MAX_EVENTS, r->key);
        goto out;
    }
    if (o->execute && r->gs.n > 0 && reproduce(c, r) != 0)
        goto out;
    rc = CTL_EXIT_OK;
out:
    free(want);
    free(res);
    free(from);
    free(to);
    rd_kafka_topic_destroy(rkt);
    return rc;
}
