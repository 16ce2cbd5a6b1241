/*
 * wb_batch_collect: the batch's messages: polling them from the consumer (what the last batch
 * carried first), decoding them, dropping those of partitions revoked meanwhile, and carrying
 * the messages of partitions whose batch time ran out over to the next batch.
 */
#include "wb_batch_int.h"
#include "wb_log.h"
#include "wb_mem.h"
#include "wb_time.h"

#include <stdlib.h>
#include <string.h>

/* Payload bytes of one batch. The batch holds its messages (librdkafka keeps their fetch
 * buffers, ~1.3 x the payload) and their decoded events (~1.5 x the payload for member lists)
 * until the plan is built, so this bounds the worker's peak memory. Past BATCH_BYTES
 * wb_batch_collect() goes on only while a snapshot is still open, up to BATCH_BYTES_MAX, so that a
 * snapshot that started late in a batch is still applied whole (a 60,000-member snapshot is ~6 MB).
 */
#define BATCH_BYTES     (4 * 1024 * 1024)
#define BATCH_BYTES_MAX (16 * 1024 * 1024)
/* Extra wait in wb_batch_collect() for the rest of a snapshot whose chunks are still arriving, so
 * that a big snapshot is applied in one batch (no member read in between). */
#define SNAPSHOT_WAIT_MS 1000

/* Forgets the carried messages of partition (-1: all); its new owner fetches them. */
static void carry_drop(wb_batch_t *b, int32_t partition)
{
    size_t i, k = 0;

    for (i = 0; i < b->ncarry; i++) {
        if (partition < 0 || b->carry[i]->partition == partition)
            rd_kafka_message_destroy(b->carry[i]);
        else
            b->carry[k++] = b->carry[i];
    }
    b->ncarry = k;
}

void wb_batch_forget(wb_batch_t *b)
{
    carry_drop(b, -1);
}

void wb_batch_revoke(wb_batch_t *b, int32_t partition)
{
    carry_drop(b, partition);
    if (!b->collecting)
        return;
    b->revoked = wb_realloc(b->revoked, (b->nrevoked + 1) * sizeof(*b->revoked));
    b->revoked[b->nrevoked++] = (struct revoked){partition, b->n};
}

/* Whether partition was revoked while collecting; *before: how many messages the batch held
 * at its last revocation. */
static bool revoked_has(const wb_batch_t *b, int32_t partition, size_t *before)
{
    bool found = false;
    size_t j;

    *before = 0;
    for (j = 0; j < b->nrevoked; j++)
        if (b->revoked[j].partition == partition) {
            found = true;
            if (b->revoked[j].before > *before)
                *before = b->revoked[j].before;
        }
    return found;
}

/* --- collecting --- */

/* Partitions whose latest message in the batch is a snapshot chunk before the last. */
struct open_snaps {
    struct open_snap {
        int32_t partition;
        bool open;
    } * os;
    size_t nos, nopen;
};

static void open_snaps_note(struct open_snaps *o, const struct bmsg *bm)
{
    size_t i;

    for (i = 0; i < o->nos && o->os[i].partition != bm->rkm->partition; i++)
        ;
    if (i == o->nos) {
        o->os = wb_realloc(o->os, (o->nos + 1) * sizeof(*o->os));
        o->os[o->nos++] = (struct open_snap){bm->rkm->partition, false};
    }
    if (o->os[i].open)
        o->nopen--;
    o->os[i].open =
        bm->ok && bm->ev.type == WB_EVENT_GROUP_SNAPSHOT && bm->ev.chunk < bm->ev.chunks;
    if (o->os[i].open)
        o->nopen++;
}

/* Polls into b->bm until batch_max messages or BATCH_BYTES (see there): wait for the first,
 * then take what is already fetched. held[*ci..nheld) (what the last batch left) come first. */
static void poll_messages(wb_batch_t *b, rd_kafka_message_t **held, size_t nheld, size_t *ci)
{
    struct open_snaps o = {0};
    size_t bytes = 0;
    int timeout = 200;
    int64_t wait_until = 0;

    while (b->n < b->cfg.batch_max && bytes < BATCH_BYTES_MAX &&
           (bytes < BATCH_BYTES || o.nopen > 0)) {
        rd_kafka_message_t *m =
            *ci < nheld ? held[(*ci)++] : rd_kafka_consumer_poll(b->cfg.consumer, timeout);
        struct bmsg *bm = &b->bm[b->n];

        if (!m) {
            int64_t now = wb_time_mono_ms();

            if (timeout == 200 || o.nopen == 0)
                break;
            if (!wait_until)
                wait_until = now + SNAPSHOT_WAIT_MS;
            if (now >= wait_until)
                break;
            timeout = (int)(wait_until - now < 50 ? wait_until - now : 50);
            continue;
        }
        timeout = 0;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                wb_log(LOG_WARNING, "KAFKA", "consumer: %s", rd_kafka_message_errstr(m));
            if (rd_kafka_fatal_error(b->cfg.consumer, NULL, 0))
                b->fatal = true;
            rd_kafka_message_destroy(m);
            continue;
        }
        memset(bm, 0, sizeof(*bm));
        bm->rkm = m;
        bm->ok = wb_event_decode(m->payload ? m->payload : "", m->len, &bm->ev, bm->reason,
                                 sizeof(bm->reason)) == WB_OK;
        bytes += m->len;
        open_snaps_note(&o, bm);
        b->n++;
    }
    free(o.os);
}

/* Collects the batch into b->bm[0..b->n). */
void wb_batch_collect(wb_batch_t *b)
{
    size_t ci = 0, nheld = b->ncarry, before, i, k;
    /* What the last batch left, taken out of b->carry, which a revoke may change. */
    rd_kafka_message_t **held = wb_malloc((nheld ? nheld : 1) * sizeof(*held));

    memcpy(held, b->carry, nheld * sizeof(*held));
    b->ncarry = 0;
    b->nrevoked = 0;
    b->n = 0;
    b->collecting = true;
    poll_messages(b, held, nheld, &ci);
    b->collecting = false;
    /* Held messages not taken go back (revoked partitions' are dropped). */
    for (; ci < nheld; ci++) {
        if (revoked_has(b, held[ci]->partition, &before))
            rd_kafka_message_destroy(held[ci]);
        else
            b->carry[b->ncarry++] = held[ci];
    }
    free(held);
    /* Messages taken before their partition was revoked are not ours to apply any more. */
    for (i = 0, k = 0; i < b->n; i++) {
        struct bmsg *bm = &b->bm[i];

        if (revoked_has(b, bm->rkm->partition, &before) && i < before) {
            wb_dbg("worker", FAC, "partition=%d offset=%lld: revoked before it was applied",
                   (int)bm->rkm->partition, (long long)bm->rkm->offset);
            wb_event_free(&bm->ev);
            rd_kafka_message_destroy(bm->rkm);
            continue;
        }
        if (k != i)
            b->bm[k] = *bm;
        k++;
    }
    b->n = k;
}

/* Frees the batch's messages but those to carry, which go to the front of b->carry: older
 * than any still carried (left by collect), they come first. */
void wb_batch_carry_over(wb_batch_t *b)
{
    size_t i, keep = 0;

    for (i = 0; i < b->n; i++)
        keep += b->bm[i].carry;
    if (keep)
        memmove(b->carry + keep, b->carry, b->ncarry * sizeof(*b->carry));
    b->ncarry += keep;
    for (i = 0, keep = 0; i < b->n; i++) {
        wb_event_free(&b->bm[i].ev);
        if (b->bm[i].carry)
            b->carry[keep++] = b->bm[i].rkm;
        else
            rd_kafka_message_destroy(b->bm[i].rkm);
    }
    b->n = 0;
}
