/*
 * wb_producer_kafka.c: the producer's Kafka side: its topics and transactional.id at start,
 * the last committed checkpoint and the operator commands after it (topic.state), and the
 * transaction that publishes a round's events with its checkpoint, or drops a dead deltaLink
 * from the committed checkpoint at once.
 */
#include "wb_producer_int.h"

#include "wb_log.h"
#include "wb_signal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Logs a transactional error; returns its class. */
static wb_err_t txn_error(wb_producer_t *p, const char *what, rd_kafka_error_t *e)
{
    wb_err_t err = WB_ERR_TRANSIENT;
    rd_kafka_resp_err_t code = rd_kafka_error_code(e);

    if (rd_kafka_error_is_fatal(e) || code == RD_KAFKA_RESP_ERR__FENCED ||
        code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
        code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH) {
        err = WB_ERR_FATAL;
        if (code == RD_KAFKA_RESP_ERR__FENCED || code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
            code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH)
            wb_log(LOG_ERR, "KAFKA",
                   "%s: fenced: another producer took over transactional.id %s; exiting", what,
                   p->txn_id);
        else
            wb_log(LOG_ERR, "KAFKA", "%s: fatal: %s", what, rd_kafka_error_string(e));
    } else {
        wb_log(LOG_WARNING, "KAFKA", "%s: %s", what, rd_kafka_error_string(e));
    }
    rd_kafka_error_destroy(e);
    return err;
}

/* The transactional Kafka producer (p->rk) and the three topics, created when missing. */
static wb_err_t open_kafka(wb_producer_t *p, const char *const *kv)
{
    const char *const events_cfg[] = {"retention.ms", "604800000", NULL};
    const char *const dlq_cfg[] = {"retention.ms", "2592000000", NULL};
    const char *const state_cfg[] = {"cleanup.policy", "compact", NULL};
    int parts = (int)wb_conf_get_int(p->conf, "topic.partitions");
    rd_kafka_conf_t *kc = NULL;
    char errstr[512];
    wb_err_t err;

    kc = wb_kafka_producer_conf_new(kv, errstr, sizeof(errstr));
    if (!kc) {
        wb_log(LOG_ERR, "KAFKA", "%s", errstr);
        return WB_ERR_FATAL;
    }
    if (rd_kafka_conf_set(kc, "transactional.id", p->txn_id, errstr, sizeof(errstr)) ||
        (!wb_conf_get_str(p->conf, "kafka.transaction.timeout.ms") &&
         rd_kafka_conf_set(kc, "transaction.timeout.ms", "300000", errstr, sizeof(errstr)))) {
        wb_log(LOG_ERR, "KAFKA", "%s", errstr);
        rd_kafka_conf_destroy(kc);
        return WB_ERR_FATAL;
    }
    p->rk = p->em.rk = wb_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof(errstr));
    if (!p->rk) {
        wb_log(LOG_ERR, "KAFKA", "%s", errstr);
        return WB_ERR_FATAL;
    }
    err = wb_kafka_create_topic(p->rk, p->topic_events, parts, events_cfg, 30000);
    if (err == WB_OK)
        err = wb_kafka_create_topic(p->rk, p->topic_dlq, parts, dlq_cfg, 30000);
    if (err == WB_OK)
        err = wb_kafka_create_topic(p->rk, p->topic_state, 1, state_cfg, 30000);
    return err;
}

/* The last committed checkpoint of topic.state into p->ck, and the users delta resumed from
 * its link. */
static wb_err_t read_checkpoint(wb_producer_t *p, const char *const *kv)
{
    char errstr[512];
    wb_err_t err;

    p->st = wb_state_new(kv, p->topic_state, p->tenant, errstr, sizeof(errstr));
    if (!p->st) {
        wb_log(LOG_ERR, "STATE", "%s", errstr);
        return WB_ERR_TRANSIENT;
    }
    err = wb_state_poll(p->st, 60000);
    if (err != WB_OK)
        return err;
    if (wb_state_checkpoint(p->st, &p->ck) != WB_OK)
        return WB_ERR_FATAL;
    if (p->ck.users_link) {
        wb_users_resume(p->users, p->ck.users_link);
    } else if (p->ck.round > 0) {
        wb_log(LOG_NOTICE, "PRODUCER",
               "checkpoint of round %" PRIu64 " holds no users deltaLink (written by an older "
               "version, or the link was dead): the next round is full for users and groups, "
               "since identity changes made meanwhile cannot be followed otherwise",
               p->ck.round);
        p->blind = true;
    }
    return WB_OK;
}

wb_err_t wb_producer_start(wb_producer_t *p)
{
    const char *const *kv = wb_conf_kafka_kv(p->conf);
    rd_kafka_error_t *e;
    wb_err_t err;
    int attempt;

    if (p->dry_run)
        return WB_OK;
    err = open_kafka(p, kv);
    if (err != WB_OK)
        return err;
    for (attempt = 0;; attempt++) {
        e = rd_kafka_init_transactions(p->rk, 60000);
        if (!e)
            break;
        if (!rd_kafka_error_is_retriable(e) || attempt >= 5 || wb_signal_stop_requested())
            return txn_error(p, "init_transactions", e) == WB_ERR_FATAL ? WB_ERR_FATAL
                                                                        : WB_ERR_TRANSIENT;
        rd_kafka_error_destroy(e);
    }
    err = read_checkpoint(p, kv);
    if (err != WB_OK)
        return err;
    wb_log(LOG_INFO, "PRODUCER",
           "transactional.id %s ready; checkpoint: round %" PRIu64 ", %zu groups in scope, "
           "%zu staged deletions, %s",
           p->txn_id, p->ck.round, wb_idmap_count(p->ck.in_scope), wb_idmap_count(p->ck.staged),
           p->ck.delta_link ? "incremental next" : "full sync next");
    return WB_OK;
}

static wb_err_t write_checkpoint(wb_producer_t *p, const struct wb_ckpt *nc)
{
    char **keys = NULL, **values = NULL;
    size_t n, i;
    wb_err_t err = WB_OK;

    n = wb_ckpt_encode(nc, p->tenant, 0, &keys, &values);
    for (i = 0; i < n; i++) {
        if (err == WB_OK && !p->dry_run) {
            err = wb_kafka_produce(p->rk, p->topic_state, keys[i], strlen(keys[i]), values[i],
                                   strlen(values[i]), NULL, 0, NULL);
            if (err != WB_OK)
                err = wb_emit_kafka_failed(p->rk, err);
        }
        free(keys[i]);
        free(values[i]);
    }
    free(keys);
    free(values);
    return err;
}

void wb_producer_read_commands(wb_producer_t *p, struct plan *pl)
{
    struct wb_command *cmds;
    size_t n, i;

    pl->cmd_offset = p->ck.command_offset;
    if (p->dry_run)
        return;
    wb_state_poll(p->st, 10000);
    cmds = wb_state_commands(p->st, p->ck.command_offset, &n);
    for (i = 0; i < n; i++) {
        struct wb_idkey k;
        size_t pos = 0;

        if (cmds[i].resync) {
            pl->resync_cmd = true;
            wb_log(LOG_NOTICE, "PRODUCER", "command at offset %" PRId64 ": full resync",
                   cmds[i].offset);
        }
        if (cmds[i].allow_all) {
            pl->allow_all = true;
            wb_log(LOG_NOTICE, "PRODUCER",
                   "command at offset %" PRId64 ": allow all staged "
                   "deletions",
                   cmds[i].offset);
        }
        if (cmds[i].allow) {
            if (!pl->allow)
                pl->allow = wb_idmap_new();
            while (wb_idmap_next(cmds[i].allow, &pos, &k, NULL))
                wb_idmap_add(pl->allow, &k);
            wb_log(LOG_NOTICE, "PRODUCER",
                   "command at offset %" PRId64 ": allow %zu staged "
                   "deletion(s)",
                   cmds[i].offset, wb_idmap_count(cmds[i].allow));
        }
        if (cmds[i].offset > pl->cmd_offset)
            pl->cmd_offset = cmds[i].offset;
        wb_command_free(&cmds[i]);
    }
    free(cmds);
}

/*
 * A deltaLink of the checkpoint answered that the sync state is lost: it is dropped from the
 * committed checkpoint at once (same round; groups: no link, resync due; users: no link, so a
 * restart runs a full round), so that no restart before the full round commits requests it
 * again. which names the delta in the log. A failure here is logged only: the next round's own
 * commit replaces the link anyway.
 */
void wb_producer_persist_reset(wb_producer_t *p, const char *which)
{
    rd_kafka_error_t *e;
    wb_err_t err;

    if (p->dry_run)
        return;
    e = rd_kafka_begin_transaction(p->rk);
    if (e) {
        txn_error(p, "begin_transaction (dropping the dead deltaLink)", e);
        return;
    }
    err = write_checkpoint(p, &p->ck);
    if (err == WB_OK) {
        e = rd_kafka_commit_transaction(p->rk, TXN_TIMEOUT_MS);
        if (!e) {
            wb_log(LOG_NOTICE, "PRODUCER",
                   "checkpoint of round %" PRIu64 " no longer holds the dead %s deltaLink",
                   p->ck.round, which);
            return;
        }
        txn_error(p, "commit_transaction (dropping the dead deltaLink)", e);
    }
    e = rd_kafka_abort_transaction(p->rk, TXN_TIMEOUT_MS);
    if (e)
        txn_error(p, "abort_transaction", e);
}

/* The round's events and checkpoint nc in one transaction (dry run: to the output stream).
 * *txn_open: a transaction is open, which the caller aborts. */
wb_err_t wb_producer_publish(wb_producer_t *p, struct plan *pl, const struct wb_ckpt *nc,
                             bool *txn_open)
{
    rd_kafka_error_t *e;
    wb_err_t err;

    snprintf(p->em.round_id, sizeof(p->em.round_id), "%lld-%" PRIu64, now_ms(), nc->round);
    wb_event_ts_format(now_ms(), p->em.ts);
    p->em.events = 0;
    if (!p->dry_run) {
        e = rd_kafka_begin_transaction(p->rk);
        if (e)
            return txn_error(p, "begin_transaction", e);
        *txn_open = true;
    }
    /* pl->s1 moved into nc: emission reads the new set from there */
    pl->s1 = nc->in_scope;
    err = wb_producer_emit_round(p, pl);
    pl->s1 = NULL;
    if (err == WB_OK)
        err = write_checkpoint(p, nc);
    if (err != WB_OK)
        return err;
    if (p->dry_run) {
        fflush(p->out);
        return WB_OK;
    }
    e = rd_kafka_commit_transaction(p->rk, TXN_TIMEOUT_MS);
    if (e)
        return txn_error(p, "commit_transaction", e);
    *txn_open = false;
    return WB_OK;
}

wb_err_t wb_producer_abort(wb_producer_t *p)
{
    rd_kafka_error_t *e = rd_kafka_abort_transaction(p->rk, TXN_TIMEOUT_MS);

    if (e)
        return txn_error(p, "abort_transaction", e);
    wb_log(LOG_WARNING, "PRODUCER", "round %s aborted; nothing of it was published",
           p->em.round_id);
    return WB_OK;
}
