/*
 * wb_producer: a round is fetched completely (groups delta, member lists of groups entering
 * scope, unknown users) before its transaction begins, so a Graph failure never leaves a
 * transaction open and a crash at any point either commits the whole round with its
 * checkpoint or nothing. Events are generated while they are produced: a 100,000-group
 * initial sync never holds its encoded events in memory.
 */
#include "wb_producer.h"

#include "wb_delta.h"
#include "wb_emit.h"
#include "wb_event.h"
#include "wb_graph.h"
#include "wb_idmap.h"
#include "wb_kafka.h"
#include "wb_log.h"
#include "wb_mem.h"
#include "wb_round.h"
#include "wb_scope.h"
#include "wb_signal.h"
#include "wb_state.h"
#include "wb_users.h"

#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define TXN_TIMEOUT_MS 120000

struct wb_producer_s {
    const wb_conf_t *conf;
    bool dry_run;
    FILE *out;
    const char *tenant, *topic_events, *topic_state, *topic_dlq;
    char *txn_id;
    int64_t threshold, chunk, moves_max;
    int max_retries;
    wb_graph_t *g;
    wb_users_t *users;
    wb_delta_t *gdelta; /* the groups delta; its link mirrors ck.delta_link */
    wb_scope_t *scope;
    char *initial_url;
    rd_kafka_t *rk;
    wb_state_t *st;
    struct wb_ckpt ck;
    wb_idmap_t *hashes;   /* group id -> (void *)props hash of the last upsert */
    struct wb_emitter em; /* the round being emitted */
    /* rounds failed in a row, and why the last one failed (one line, no link or token) */
    unsigned failed;
    char fail_stage[32];
    const char *fail_err; /* wb_err_name of the last failure */
    /* identity changes made while the producer was down cannot be followed (the checkpoint has
     * no users deltaLink, or it was dead): rounds are full until one commits */
    bool blind;
    char fail_reason[160];
    /* metrics */
    wb_metric_t *m_rounds, *m_pages, *m_last_ok, *m_in_scope, *m_staged, *m_round_s, *m_users;
    wb_metric_t *m_failed, *m_failure, *m_moves;
};

static long long now_ms(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* The producer's metric families, and those its emitter counts in, in metrics. */
static void register_metrics(wb_producer_t *p, wb_metrics_t *metrics)
{
    static const char *const l_result[] = {"result"}, *const l_type[] = {"type"},
                             *const l_reason[] = {"reason"}, *const l_fail[] = {"stage", "error"},
                             *const l_how[] = {"how"};

    p->m_rounds = wb_metrics_counter(metrics, "writeback_producer_rounds_total",
                                     "Delta rounds by result", 1, l_result);
    p->m_pages = wb_metrics_counter(metrics, "writeback_producer_pages_total",
                                    "Groups delta pages fetched", 0, NULL);
    p->em.m_events =
        wb_metrics_counter(metrics, "writeback_producer_events_total",
                           "Events published (committed or printed) by type", 1, l_type);
    p->em.m_dropped = wb_metrics_counter(metrics, "writeback_producer_dropped_members_total",
                                         "Member references not passed on, by reason", 1, l_reason);
    p->em.m_rejected = wb_metrics_counter(
        metrics, "writeback_producer_rejected_events_total",
        "Events the worker's decoder would refuse, not published, by type (the group is "
        "named in the log)",
        1, l_type);
    p->m_last_ok = wb_metrics_gauge(metrics, "writeback_producer_last_success_timestamp_seconds",
                                    "Unix time of the last committed round", 0, NULL);
    p->m_in_scope = wb_metrics_gauge(metrics, "writeback_producer_groups_in_scope",
                                     "Groups in scope after the last round", 0, NULL);
    p->m_staged = wb_metrics_gauge(metrics, "writeback_producer_staged_deletes",
                                   "Deletions staged by the delete threshold", 0, NULL);
    p->m_round_s = wb_metrics_gauge(metrics, "writeback_producer_round_duration_seconds",
                                    "Duration of the last committed round", 0, NULL);
    p->m_users = wb_metrics_gauge(metrics, "writeback_producer_users_known",
                                  "Users in the identity map", 0, NULL);
    p->m_failed = wb_metrics_gauge(metrics, "writeback_producer_consecutive_failed_rounds",
                                   "Delta rounds failed in a row since the last committed "
                                   "round",
                                   0, NULL);
    p->m_failure = wb_metrics_gauge(
        metrics, "writeback_producer_round_failure",
        "1 for the stage and error class of the last failed round while rounds keep "
        "failing; absent once a round commits",
        2, l_fail);
    p->m_moves = wb_metrics_counter(
        metrics, "writeback_producer_identity_moves_total",
        "Users whose on-premises identity changed, by how their groups were updated "
        "(memberof: member changes or snapshots of the groups memberOf lists; full_resync: "
        "more than graph.identity_moves_max in one round)",
        1, l_how);
}

wb_producer_t *wb_producer_new(const wb_conf_t *conf, bool dry_run, FILE *out,
                               wb_metrics_t *metrics, char *errstr, size_t errsz)
{
    wb_producer_t *p = wb_calloc(1, sizeof(*p));
    struct wb_graph_opts go;
    const char *txn, *kill;

    p->conf = conf;
    p->dry_run = dry_run;
    p->out = out ? out : stdout;
    p->tenant = wb_conf_get_str(conf, "tenant");
    p->topic_events = wb_conf_get_str(conf, "topic.events");
    p->topic_state = wb_conf_get_str(conf, "topic.state");
    p->topic_dlq = wb_conf_get_str(conf, "topic.dlq");
    p->threshold = wb_conf_get_int(conf, "graph.delete_threshold");
    p->chunk = wb_conf_get_int(conf, "producer.member_chunk");
    p->moves_max = wb_conf_get_int(conf, "graph.identity_moves_max");
    p->max_retries = (int)wb_conf_get_int(conf, "graph.max_retries");
    txn = wb_conf_get_str(conf, "producer.transactional_id");
    p->txn_id = txn && *txn ? wb_strdup(txn) : wb_asprintf("writeback-producer-%s", p->tenant);
    kill = getenv("WB_PRODUCER_TEST_KILL_AFTER");
    p->em.kill_after = kill ? atoll(kill) : 0;
    wb_ckpt_init(&p->ck);
    p->hashes = wb_idmap_new();
    p->scope =
        wb_scope_new(wb_conf_get_str(conf, "scope.mode"), wb_conf_get_list(conf, "scope.group_ids"),
                     wb_conf_get_str(conf, "scope.filter"), errstr, errsz);
    if (!p->scope)
        goto fail;
    p->initial_url = wb_round_initial_url(wb_scope_attrs(p->scope));
    wb_graph_opts_from_conf(conf, &go);
    go.max_retries = p->max_retries;
    go.metrics = metrics;
    if (!go.tenant_id || !go.client_id) {
        snprintf(errstr, errsz, "graph.tenant_id and graph.client_id are required");
        goto fail;
    }
    p->g = wb_graph_new(&go, errstr, errsz);
    if (!p->g)
        goto fail;
    p->users = wb_users_new(p->g, p->max_retries, metrics);
    p->gdelta = wb_delta_new(p->g, "groups", p->initial_url, p->max_retries, metrics);
    p->em.dry_run = dry_run;
    p->em.out = p->out;
    p->em.topic = p->topic_events;
    p->em.tenant = p->tenant;
    p->em.users = p->users;
    p->em.chunk = p->chunk;
    if (metrics)
        register_metrics(p, metrics);
    return p;
fail:
    wb_producer_destroy(p);
    return NULL;
}

void wb_producer_destroy(wb_producer_t *p)
{
    if (!p)
        return;
    wb_state_destroy(p->st);
    if (p->rk)
        wb_kafka_destroy(p->rk);
    wb_users_destroy(p->users);
    wb_delta_destroy(p->gdelta);
    wb_graph_destroy(p->g);
    wb_scope_destroy(p->scope);
    wb_ckpt_free(&p->ck);
    wb_idmap_destroy(p->hashes, NULL);
    free(p->initial_url);
    free(p->txn_id);
    free(p);
}

/* ---------------------------------------------------------------- Kafka */

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

wb_err_t wb_producer_start(wb_producer_t *p)
{
    const char *const events_cfg[] = {"retention.ms", "604800000", NULL};
    const char *const dlq_cfg[] = {"retention.ms", "2592000000", NULL};
    const char *const state_cfg[] = {"cleanup.policy", "compact", NULL};
    const char *const *kv = wb_conf_kafka_kv(p->conf);
    int parts = (int)wb_conf_get_int(p->conf, "topic.partitions");
    rd_kafka_conf_t *kc = NULL;
    rd_kafka_error_t *e;
    char errstr[512];
    wb_err_t err;
    int attempt;

    if (p->dry_run)
        return WB_OK;
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
    wb_log(LOG_INFO, "PRODUCER",
           "transactional.id %s ready; checkpoint: round %" PRIu64 ", %zu groups in scope, "
           "%zu staged deletions, %s",
           p->txn_id, p->ck.round, wb_idmap_count(p->ck.in_scope), wb_idmap_count(p->ck.staged),
           p->ck.delta_link ? "incremental next" : "full sync next");
    return WB_OK;
}

/* ---------------------------------------------------------------- one round */

static wb_err_t write_checkpoint(wb_producer_t *p, const struct wb_ckpt *nc);

struct plan {
    struct wb_round r;
    wb_idmap_t *s1;      /* in scope after the round */
    wb_idmap_t *both;    /* S0 | S1, for member removals of nested groups */
    wb_idmap_t *snap;    /* groups that get upsert + snapshot */
    wb_idmap_t *resnap;  /* groups in scope whose member list goes out whole (complete()) */
    wb_idmap_t *upsert;  /* groups (already in scope) whose properties changed */
    wb_idmap_t *gone;    /* deletion candidates: id -> WB_CKPT_STAGED_* */
    wb_idmap_t *staged;  /* staged after the round */
    wb_idmap_t *release; /* staged deletions released now: id -> kind */
    wb_idmap_t *refused; /* groups with an event the decoder refused (NULL: none) */
    bool resync_cmd, allow_all;
    wb_idmap_t *allow;
    int64_t cmd_offset;
};

static void plan_free(struct plan *pl)
{
    wb_round_free(&pl->r);
    wb_idmap_destroy(pl->s1, NULL);
    wb_idmap_destroy(pl->both, NULL);
    wb_idmap_destroy(pl->snap, NULL);
    wb_idmap_destroy(pl->resnap, NULL);
    wb_idmap_destroy(pl->upsert, NULL);
    wb_idmap_destroy(pl->gone, NULL);
    wb_idmap_destroy(pl->staged, NULL);
    wb_idmap_destroy(pl->release, NULL);
    wb_idmap_destroy(pl->allow, NULL);
    wb_idmap_destroy(pl->refused, NULL);
}

static wb_idmap_t *idmap_copy(const wb_idmap_t *src)
{
    wb_idmap_t *m = wb_idmap_new();
    struct wb_idkey k;
    void *v;
    size_t pos = 0;

    while (wb_idmap_next(src, &pos, &k, &v))
        *wb_idmap_put(m, &k, NULL) = v;
    return m;
}

static void read_commands(wb_producer_t *p, struct plan *pl)
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
static void persist_reset(wb_producer_t *p, const char *which)
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

/* Groups delta: through p->gdelta, which restarts it as a full round when Graph lost the
 * sync state (of the checkpoint's link or of a nextLink). */
static wb_err_t fetch(wb_producer_t *p, struct plan *pl, bool full)
{
    struct wb_delta_result res;
    wb_err_t err;

    wb_round_init(&pl->r);
    wb_delta_set_link(p->gdelta, full ? NULL : p->ck.delta_link);
    err = wb_round_fetch(p->gdelta, &pl->r, &res);
    if (p->m_pages)
        wb_metrics_inc(p->m_pages, NULL, (double)res.pages);
    if (res.resets && p->ck.delta_link) {
        free(p->ck.delta_link);
        p->ck.delta_link = NULL;
        p->ck.resync = true;
        persist_reset(p, "groups");
    }
    return err;
}

/* S1, the groups in scope after the round: S0 (none in a full round) with the round's
 * removals and scope changes. */
static void plan_scope(wb_producer_t *p, struct plan *pl)
{
    struct wb_idkey k;
    void *v;
    size_t pos = 0;
    char id[37];

    pl->s1 = pl->r.full ? wb_idmap_new() : idmap_copy(p->ck.in_scope);
    while (wb_idmap_next(pl->r.groups, &pos, &k, &v)) {
        struct wb_rgroup *rg = v;

        wb_idkey_format(&k, id);
        if (rg->removed) {
            wb_idmap_del(pl->s1, &k);
        } else if (rg->have_props) {
            if (wb_scope_match(p->scope, id, &rg->props))
                wb_idmap_add(pl->s1, &k);
            else
                wb_idmap_del(pl->s1, &k);
        }
    }
}

/* Groups entering scope (snap) and groups in scope whose properties changed (upsert). */
static void plan_changes(wb_producer_t *p, struct plan *pl)
{
    const wb_idmap_t *s0 = p->ck.in_scope;
    struct wb_idkey k;
    void *v;
    size_t pos = 0;

    while (wb_idmap_next(pl->r.groups, &pos, &k, &v)) {
        struct wb_rgroup *rg = v;
        void **h;

        if (!wb_idmap_has(pl->s1, &k))
            continue;
        if (pl->r.full || !wb_idmap_has(s0, &k)) {
            wb_idmap_add(pl->snap, &k);
            continue;
        }
        h = wb_idmap_get(p->hashes, &k);
        if (rg->have_props && (!h || (uintptr_t)*h != (uintptr_t)wb_gprops_hash(&rg->props)))
            wb_idmap_add(pl->upsert, &k);
    }
}

/* Groups leaving scope (gone: deleted in Graph, or out of scope), and the staged deletions:
 * released by a command, cancelled by a return to scope, or kept; more deletions than
 * graph.delete_threshold are staged instead of emitted. */
static void plan_leaving(wb_producer_t *p, struct plan *pl)
{
    const wb_idmap_t *s0 = p->ck.in_scope;
    struct wb_idkey k;
    void *v;
    size_t pos = 0;

    while (wb_idmap_next(s0, &pos, &k, NULL)) {
        void **rv;

        if (wb_idmap_has(pl->s1, &k))
            continue;
        rv = wb_idmap_get(pl->r.groups, &k);
        if (rv && *rv && !((struct wb_rgroup *)*rv)->removed)
            *wb_idmap_put(pl->gone, &k, NULL) = WB_CKPT_STAGED_UNSCOPED;
        else if (pl->r.full || (rv && *rv))
            *wb_idmap_put(pl->gone, &k, NULL) = WB_CKPT_STAGED_DELETE;
    }
    pl->staged = idmap_copy(p->ck.staged);
    pos = 0;
    while (wb_idmap_next(p->ck.staged, &pos, &k, &v)) {
        if (wb_idmap_has(pl->s1, &k)) {
            wb_idmap_del(pl->staged, &k);
        } else if (pl->allow_all || (pl->allow && wb_idmap_has(pl->allow, &k))) {
            *wb_idmap_put(pl->release, &k, NULL) = v;
            wb_idmap_del(pl->staged, &k);
        }
    }
    if (p->threshold > 0 && wb_idmap_count(pl->gone) > (size_t)p->threshold) {
        wb_log(LOG_WARNING, "PRODUCER",
               "%zu group deletions in one round exceed graph.delete_threshold=%" PRId64
               ": staged in the checkpoint, not emitted; release them with "
               "`writebackctl deletes allow`",
               wb_idmap_count(pl->gone), p->threshold);
        pos = 0;
        while (wb_idmap_next(pl->gone, &pos, &k, &v))
            *wb_idmap_put(pl->staged, &k, NULL) = v;
        wb_idmap_destroy(pl->gone, NULL);
        pl->gone = wb_idmap_new();
    }
}

/* Scope and the differences to the last checkpoint. */
static wb_err_t plan_round(wb_producer_t *p, struct plan *pl)
{
    struct wb_idkey k;
    size_t pos = 0;

    pl->snap = wb_idmap_new();
    pl->resnap = wb_idmap_new();
    pl->upsert = wb_idmap_new();
    pl->gone = wb_idmap_new();
    pl->release = wb_idmap_new();
    plan_scope(p, pl);
    plan_changes(p, pl);
    plan_leaving(p, pl);
    pl->both = idmap_copy(pl->s1);
    while (wb_idmap_next(p->ck.in_scope, &pos, &k, NULL))
        wb_idmap_add(pl->both, &k);
    return WB_OK;
}

/* Reads the whole member list of every group in set into its round entry. A group deleted
 * meanwhile is taken out of set and of also (when given): the next round reports it. */
static wb_err_t read_members(wb_producer_t *p, struct plan *pl, wb_idmap_t *set, wb_idmap_t *also)
{
    struct wb_idkey *keys;
    size_t n, i;
    wb_err_t err = WB_OK;
    char id[37];

    keys = wb_idmap_keys_sorted(set, &n);
    for (i = 0; i < n && err == WB_OK; i++) {
        struct wb_rgroup *rg = *wb_idmap_get(pl->r.groups, &keys[i]);
        bool gone = false;

        wb_idkey_format(&keys[i], id);
        rg->nm = 0;
        err = wb_round_members(p->g, id, rg, &gone);
        if (err != WB_OK && gone) {
            wb_idmap_del(set, &keys[i]);
            if (also)
                wb_idmap_del(also, &keys[i]);
            err = WB_OK;
        }
    }
    free(keys);
    return err;
}

/* Resolves the unknown user members of the round's groups in scope (only those in only, when
 * given) with getByIds. */
static wb_err_t resolve_unknown(wb_producer_t *p, struct plan *pl, const wb_idmap_t *only)
{
    struct wb_idkey k, *ids = NULL;
    size_t pos = 0, n = 0, cap = 0, i;
    void *v;
    wb_err_t err = WB_OK;

    while (wb_idmap_next(pl->r.groups, &pos, &k, &v)) {
        struct wb_rgroup *rg = v;

        if (!wb_idmap_has(pl->s1, &k) && !wb_idmap_has(pl->both, &k))
            continue;
        if (only && !wb_idmap_has(only, &k))
            continue;
        wb_rgroup_net(rg);
        for (i = 0; i < rg->nm; i++) {
            if (rg->m[i].kind != WB_MK_USER)
                continue;
            if (wb_users_get(p->users, &rg->m[i].id))
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 256;
                ids = wb_realloc(ids, cap * sizeof(*ids));
            }
            ids[n++] = rg->m[i].id;
        }
    }
    if (n) {
        wb_dbg("producer", "PRODUCER", "resolving %zu unknown member ids with getByIds", n);
        err = wb_users_resolve(p->users, ids, n);
    }
    free(ids);
    return err;
}

/* An incremental round that removes a user member nobody can name any more (deleted in
 * Entra: the users delta, or a restart's full users round, no longer lists it, and getByIds
 * does not return it) cannot say which AD member value to remove. Such a group's whole member
 * list is read and sent as a snapshot instead, which removes whatever AD holds beyond it. */
static wb_err_t resnap_unnamed(wb_producer_t *p, struct plan *pl)
{
    struct wb_idkey k;
    size_t pos = 0, i;
    void *v;
    wb_err_t err = WB_OK;
    char id[37];
    const wb_idmap_t *moved = wb_users_moved(p->users);

    while (wb_idmap_next(pl->r.groups, &pos, &k, &v)) {
        struct wb_rgroup *rg = v;
        size_t unnamed = 0, changed = 0;

        if (!wb_idmap_has(pl->s1, &k) || wb_idmap_has(pl->snap, &k))
            continue;
        for (i = 0; i < rg->nm; i++) {
            const struct wb_uident *ui;

            if (rg->m[i].kind != WB_MK_USER || rg->m[i].added)
                continue;
            ui = wb_users_get(p->users, &rg->m[i].id);
            /* a removed placeholder without SID: deleted before the map ever held it (while
             * the producer was down) */
            if (!ui || ui->missing || (ui->removed && !ui->sid))
                unnamed++;
            /* its identity changed this round (made cloud-only, a new SID, or anything while
             * the producer was down): the value AD holds is not the one the map has now, and
             * memberOf no longer lists this group for follow_moves */
            else if (wb_idmap_has(moved, &rg->m[i].id))
                changed++;
        }
        if (unnamed || changed) {
            wb_idmap_add(pl->resnap, &k);
            wb_idkey_format(&k, id);
            wb_log(LOG_INFO, "PRODUCER",
                   "group %s: %zu removed member(s) no longer known to Graph (deleted users), "
                   "%zu whose identity changed; sending its whole member list",
                   id, unnamed, changed);
        }
    }
    err = read_members(p, pl, pl->resnap, NULL);
    if (err == WB_OK && wb_idmap_count(pl->resnap))
        err = resolve_unknown(p, pl, pl->resnap);
    return err;
}

static bool sid_eq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* The round's group in pl->r for id, created without properties when the round did not carry
 * it. */
static struct wb_rgroup *round_group(struct plan *pl, const struct wb_idkey *id)
{
    void **slot = wb_idmap_put(pl->r.groups, id, NULL);

    if (!*slot) {
        struct wb_rgroup *rg = wb_calloc(1, sizeof(*rg));

        wb_gprops_init(&rg->props);
        *slot = rg;
    }
    return *slot;
}

/*
 * Users whose on-premises identity changed (wb_users_moved) stay members of the same Entra
 * groups, so the groups delta reports nothing, yet the AD groups must change: a user made
 * cloud-only leaves them, one made synced joins them, one with a new SID moves. For each such
 * user the groups that hold it are listed (memberOf) and every one in scope that the round
 * does not send whole anyway gets a member change: a removal of the old identity or an
 * addition of the new one (wb_emit_members), or, for a new SID (one entry per member cannot
 * both remove and add), its whole member list as a snapshot. Incremental rounds only: a full
 * round sends every member list whole with the current identities.
 */
static wb_err_t follow_moves(wb_producer_t *p, struct plan *pl)
{
    const wb_idmap_t *moved = wb_users_moved(p->users);
    struct wb_idkey *ids;
    size_t n, i;
    wb_err_t err = WB_OK;

    if (pl->r.full || !wb_idmap_count(moved))
        return WB_OK;
    ids = wb_idmap_keys_sorted(moved, &n);
    for (i = 0; i < n && err == WB_OK; i++) {
        const struct wb_uident *was = wb_users_before(p->users, &ids[i]);
        const struct wb_uident *now = wb_users_get(p->users, &ids[i]);
        wb_idmap_t *groups;
        struct wb_idkey g;
        size_t pos = 0, changed = 0, whole = 0;
        bool gone = false;
        char uid[37];

        if (!now || now->missing || (!was->unknown && sid_eq(was->sid, now->sid)))
            continue;
        groups = wb_idmap_new();
        err = wb_users_member_of(p->users, &ids[i], groups, &gone);
        if (err != WB_OK && gone)
            err = WB_OK; /* deleted meanwhile: the groups delta reports the removals */
        while (err == WB_OK && wb_idmap_next(groups, &pos, &g, NULL)) {
            if (!wb_idmap_has(pl->s1, &g) || wb_idmap_has(pl->snap, &g) ||
                wb_idmap_has(pl->resnap, &g))
                continue;
            if (was->unknown || (was->sid && now->sid)) {
                /* the value AD holds is unknown, or one entry cannot both remove and add */
                round_group(pl, &g);
                wb_idmap_add(pl->resnap, &g);
                whole++;
            } else {
                struct wb_rgroup *rg = round_group(pl, &g);

                wb_rgroup_push(rg, &ids[i], WB_MK_USER, now->sid != NULL, pl->r.seq++);
                wb_rgroup_net(rg);
                changed++;
            }
        }
        wb_idmap_destroy(groups, NULL);
        wb_idkey_format(&ids[i], uid);
        if (err == WB_OK)
            wb_log(LOG_INFO, "PRODUCER",
                   "user %s %s: member change in %zu group(s) in scope, whole member list of "
                   "%zu",
                   uid,
                   was->unknown ? "changed while the producer was down"
                   : !now->sid  ? "made cloud-only"
                   : !was->sid  ? "made synced"
                                : "has a new onPremisesSecurityIdentifier",
                   changed, whole);
    }
    free(ids);
    if (err == WB_OK && p->m_moves) {
        const char *v[] = {"memberof"};

        wb_metrics_inc(p->m_moves, v, (double)n);
    }
    return err;
}

/* Member lists of groups entering scope incrementally; unknown users. */
static wb_err_t complete(wb_producer_t *p, struct plan *pl)
{
    wb_err_t err = WB_OK;

    if (!pl->r.full) {
        err = read_members(p, pl, pl->snap, pl->s1);
        if (err != WB_OK)
            return err;
    }
    err = resolve_unknown(p, pl, NULL);
    if (err == WB_OK && !pl->r.full)
        err = resnap_unnamed(p, pl);
    return err;
}

/*
 * Nested-group edges of in-scope parents, carried in the checkpoint: a group entering scope
 * is added to the AD groups of its in-scope parents, and one leaving scope is removed from
 * them, although Graph reports no membership change of those parents.
 */
static void nested_update(wb_producer_t *p, struct plan *pl, struct wb_ckpt *nc)
{
    struct wb_idkey k, *keys;
    size_t pos = 0, n, i, j;
    void *v;

    if (!pl->r.full)
        wb_ckpt_nested_copy(nc, &p->ck);
    keys = wb_idmap_keys_sorted(nc->nested, &n);
    for (i = 0; i < n; i++)
        if (!wb_idmap_has(pl->s1, &keys[i]))
            wb_ckpt_nested_clear(nc, &keys[i]);
    free(keys);
    while (wb_idmap_next(pl->r.groups, &pos, &k, &v)) {
        struct wb_rgroup *rg = v;
        bool snap = wb_idmap_has(pl->snap, &k);

        if (!wb_idmap_has(pl->s1, &k))
            continue;
        if (snap)
            wb_ckpt_nested_clear(nc, &k);
        for (i = 0; i < rg->nm; i++) {
            if (rg->m[i].kind != WB_MK_GROUP)
                continue;
            if (rg->m[i].added)
                wb_ckpt_nested_add(nc, &k, &rg->m[i].id);
            else if (!snap)
                wb_ckpt_nested_del(nc, &k, &rg->m[i].id);
        }
    }
    if (pl->r.full)
        return;
    keys = wb_idmap_keys_sorted(nc->nested, &n);
    for (i = 0; i < n; i++) {
        const struct wb_kids *kids = *wb_idmap_get(nc->nested, &keys[i]);
        struct wb_rgroup *rg = NULL;

        if (wb_idmap_has(pl->snap, &keys[i]))
            continue;
        for (j = 0; j < kids->n; j++) {
            const struct wb_idkey *c = &kids->ids[j];
            int added = -1;

            if (wb_idmap_has(pl->snap, c))
                added = 1; /* entered scope */
            else if (wb_idmap_has(p->ck.in_scope, c) && !wb_idmap_has(pl->s1, c))
                added = 0; /* left scope */
            if (added < 0)
                continue;
            if (!rg)
                rg = round_group(pl, &keys[i]);
            wb_rgroup_push(rg, c, WB_MK_GROUP, added, pl->r.seq++);
        }
        if (rg)
            wb_rgroup_net(rg);
    }
    free(keys);
}

/*
 * A group one of whose events the decoder refused (wb_emit logged the reason and counted it).
 * Publishing it would only feed the workers poison, and failing the round would hold every
 * other group back for as long as the group stays as it is in Entra. So the round goes on, and:
 * - a group entering scope whose upsert was refused is not provisioned: no snapshot, and it is
 *   left out of the checkpoint's in-scope set, so it enters scope again, whole, when Graph next
 *   reports a change to it (or at a full resync);
 * - for any other refused event the group's AD object keeps its last state, and its property
 *   fingerprint is not recorded, so its next change in Graph is emitted whole.
 */
static wb_err_t refuse(struct plan *pl, const struct wb_idkey *k, const char *id, bool upsert)
{
    if (!pl->refused)
        pl->refused = wb_idmap_new();
    wb_idmap_add(pl->refused, k);
    if (upsert && wb_idmap_has(pl->snap, k)) {
        wb_idmap_del(pl->snap, k);
        wb_idmap_del(pl->s1, k);
        wb_log(LOG_ERR, "PRODUCER",
               "group %s: not provisioned; it is tried again when it changes in Entra", id);
    } else {
        wb_log(LOG_ERR, "PRODUCER",
               "group %s: this change is not applied to AD; the group's next change in Entra "
               "is emitted whole",
               id);
    }
    return WB_OK;
}

static bool refused(const struct plan *pl, const struct wb_idkey *k)
{
    return pl->refused && wb_idmap_has(pl->refused, k);
}

static wb_err_t emit_round(wb_producer_t *p, struct plan *pl)
{
    struct wb_idkey *keys;
    size_t n, i;
    wb_err_t err = WB_OK;
    char id[37];

    /* pass 1: attributes and deletions, so that nested groups exist before their parents'
     * member lists arrive wherever possible */
    keys = wb_idmap_keys_sorted(pl->r.groups, &n);
    for (i = 0; i < n && err == WB_OK; i++) {
        if (!wb_idmap_has(pl->snap, &keys[i]) && !wb_idmap_has(pl->upsert, &keys[i]))
            continue;
        wb_idkey_format(&keys[i], id);
        err = wb_emit_upsert(&p->em, id,
                             &((struct wb_rgroup *)*wb_idmap_get(pl->r.groups, &keys[i]))->props);
        if (err == WB_OK)
            wb_emit_count(&p->em, WB_EVENT_GROUP_UPSERT, 1);
        else if (err == WB_ERR_INVALID)
            err = refuse(pl, &keys[i], id, true);
    }
    for (int pass = 0; pass < 2 && err == WB_OK; pass++) {
        wb_idmap_t *m = pass == 0 ? pl->gone : pl->release;
        struct wb_idkey *gk;
        size_t ng, j;

        gk = wb_idmap_keys_sorted(m, &ng);
        for (j = 0; j < ng && err == WB_OK; j++) {
            enum wb_event_type t = *wb_idmap_get(m, &gk[j]) == WB_CKPT_STAGED_UNSCOPED
                                       ? WB_EVENT_GROUP_UNSCOPED
                                       : WB_EVENT_GROUP_DELETE;

            wb_idkey_format(&gk[j], id);
            err = wb_emit_simple(&p->em, id, t);
            if (err == WB_OK)
                wb_emit_count(&p->em, t, 1);
            else if (err == WB_ERR_INVALID)
                err = refuse(pl, &gk[j], id, false);
        }
        free(gk);
    }
    /* pass 2: member lists */
    for (i = 0; i < n && err == WB_OK; i++) {
        struct wb_rgroup *rg = *wb_idmap_get(pl->r.groups, &keys[i]);

        wb_idkey_format(&keys[i], id);
        if (wb_idmap_has(pl->snap, &keys[i]) || wb_idmap_has(pl->resnap, &keys[i]))
            err = wb_emit_snapshot(&p->em, id, rg, pl->s1);
        else if (wb_idmap_has(pl->s1, &keys[i]) && rg->nm > 0)
            err = wb_emit_members(&p->em, id, rg, pl->s1, pl->both);
        if (err == WB_ERR_INVALID)
            err = refuse(pl, &keys[i], id, false);
    }
    free(keys);
    return err;
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

/* Counts failed rounds in a row (stage NULL: the round committed) for /readyz and metrics. */
static void round_outcome(wb_producer_t *p, const char *stage, wb_err_t err)
{
    if (p->m_failure && p->failed) {
        const char *v[] = {p->fail_stage, p->fail_err};

        wb_metrics_remove(p->m_failure, v);
    }
    if (!stage) {
        if (p->failed)
            wb_log(LOG_NOTICE, "PRODUCER", "round committed after %u failed round(s)", p->failed);
        p->failed = 0;
        p->fail_reason[0] = '\0';
    } else {
        size_t i;

        p->failed++;
        /* metric label: the stage's first word (users, groups, member, kafka, ...) */
        for (i = 0; stage[i] && stage[i] != ' ' && i + 1 < sizeof(p->fail_stage); i++)
            p->fail_stage[i] = stage[i];
        p->fail_stage[i] = '\0';
        p->fail_err = wb_err_name(err);
        snprintf(p->fail_reason, sizeof(p->fail_reason), "%s failed (%s)", stage, p->fail_err);
        wb_log(LOG_WARNING, "PRODUCER", "round failed: %s; %u in a row", p->fail_reason, p->failed);
        if (p->m_failure) {
            const char *v[] = {p->fail_stage, p->fail_err};

            wb_metrics_set(p->m_failure, v, 1);
        }
    }
    if (p->m_failed)
        wb_metrics_set(p->m_failed, NULL, (double)p->failed);
}

unsigned wb_producer_failed_rounds(const wb_producer_t *p, const char **reason)
{
    if (reason)
        *reason = p->failed ? p->fail_reason : NULL;
    return p->failed;
}

/* Whether this round is full: no groups link, a resync pending or commanded, identity changes
 * that could not be followed, or a changed scope configuration. */
static bool round_full(const wb_producer_t *p, const struct plan *pl)
{
    bool full = !p->ck.delta_link || p->ck.resync || pl->resync_cmd || p->blind;

    if (!full && (!p->ck.scope || strcmp(p->ck.scope, wb_scope_fingerprint(p->scope)) != 0)) {
        wb_log(LOG_NOTICE, "PRODUCER", "scope configuration changed: full resync");
        full = true;
    }
    return full;
}

/* The users delta round that comes before the groups (a full round rebuilds the identity map).
 * A lost users link is dropped from the checkpoint; changes made while the producer was down
 * that cannot be followed one by one, and more identity moves than
 * graph.identity_moves_max, make the groups round full (*full). */
static wb_err_t refresh_users(wb_producer_t *p, bool *full)
{
    unsigned long resets;
    size_t moves;
    wb_err_t err;

    if (*full) /* a full round also rebuilds the identity map */
        wb_users_resync(p->users);
    resets = wb_users_resets(p->users);
    err = wb_users_refresh(p->users);
    if (wb_users_resets(p->users) != resets && p->ck.users_link) {
        free(p->ck.users_link);
        p->ck.users_link = NULL;
        persist_reset(p, "users");
    }
    if (wb_users_take_blind(p->users) && !*full) {
        wb_log(LOG_NOTICE, "PRODUCER",
               "users changed while the producer was down cannot be "
               "followed one by one: full groups resync");
        p->blind = *full = true;
    }
    if (err != WB_OK)
        return err;
    if (p->m_users)
        wb_metrics_set(p->m_users, NULL, (double)wb_users_count(p->users));
    moves = wb_idmap_count(wb_users_moved(p->users));
    if (!*full && moves > (size_t)p->moves_max) {
        wb_log(LOG_NOTICE, "PRODUCER",
               "%zu users changed their on-premises identity, more than "
               "graph.identity_moves_max=%" PRId64 ": full groups resync",
               moves, p->moves_max);
        *full = true;
        if (p->m_moves) {
            const char *v[] = {"full_resync"};

            wb_metrics_inc(p->m_moves, v, (double)moves);
        }
    }
    return WB_OK;
}

/* Fetches and plans the round: the groups delta, the memberOf lookups of users whose identity
 * changed, the member lists and user lookups it still needs, the nested-group state of nc.
 * *stage names the step that failed. */
static wb_err_t gather(wb_producer_t *p, struct plan *pl, bool full, struct wb_ckpt *nc,
                       const char **stage)
{
    wb_err_t err;

    *stage = "groups delta";
    err = fetch(p, pl, full);
    if (err != WB_OK)
        return err;
    plan_round(p, pl);
    *stage = "memberof lookups of users whose identity changed";
    err = follow_moves(p, pl);
    if (err != WB_OK)
        return err;
    *stage = "member lists and user lookups";
    err = complete(p, pl);
    if (err != WB_OK)
        return err;
    nested_update(p, pl, nc);
    return WB_OK;
}

/* The checkpoint the round commits: its links, scope, command offset, and the in-scope and
 * staged sets of the plan (moved into nc). */
static void next_checkpoint(wb_producer_t *p, struct plan *pl, struct wb_ckpt *nc)
{
    nc->round = p->ck.round + 1;
    nc->delta_link = wb_strdup(pl->r.delta_link);
    nc->users_link = wb_users_link(p->users) ? wb_strdup(wb_users_link(p->users)) : NULL;
    nc->scope = wb_strdup(wb_scope_fingerprint(p->scope));
    nc->command_offset = pl->cmd_offset;
    wb_idmap_destroy(nc->in_scope, NULL);
    nc->in_scope = pl->s1;
    pl->s1 = NULL;
    wb_idmap_destroy(nc->staged, NULL);
    nc->staged = pl->staged;
    pl->staged = NULL;
}

/* The round's events and checkpoint nc in one transaction (dry run: to the output stream).
 * *txn_open: a transaction is open, which the caller aborts. */
static wb_err_t publish(wb_producer_t *p, struct plan *pl, const struct wb_ckpt *nc, bool *txn_open)
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
    err = emit_round(p, pl);
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

/* The round committed: nc becomes the checkpoint (nc is left empty), the property hashes of
 * the groups upserted are kept and those of groups out of scope dropped, the identity moves it
 * carried are forgotten; logged and measured. Returns the kind of the round. */
static const char *committed(wb_producer_t *p, struct plan *pl, struct wb_ckpt *nc, long long t0)
{
    struct wb_idkey k;
    void *v;
    size_t pos = 0;
    const char *kind = pl->r.full ? "full" : "incremental";

    while (wb_idmap_next(pl->r.groups, &pos, &k, &v)) {
        struct wb_rgroup *rg = v;

        if (wb_idmap_has(nc->in_scope, &k) && rg->have_props && !refused(pl, &k))
            *wb_idmap_put(p->hashes, &k, NULL) = (void *)(uintptr_t)wb_gprops_hash(&rg->props);
        else if (!wb_idmap_has(nc->in_scope, &k))
            wb_idmap_del(p->hashes, &k);
    }
    wb_ckpt_free(&p->ck);
    p->ck = *nc;
    wb_ckpt_init(nc);
    wb_users_moved_clear(p->users); /* this round carried them */
    if (pl->r.full)
        p->blind = false;
    wb_log(LOG_NOTICE, "PRODUCER",
           "round %s committed: %s, %zu pages, %zu groups changed, %zu events, %zu groups refused, "
           "%zu in scope, %zu staged, %lld ms",
           p->em.round_id, kind, pl->r.pages, wb_idmap_count(pl->r.groups), p->em.events,
           pl->refused ? wb_idmap_count(pl->refused) : 0, wb_idmap_count(p->ck.in_scope),
           wb_idmap_count(p->ck.staged), now_ms() - t0);
    if (p->m_last_ok) {
        wb_metrics_set(p->m_last_ok, NULL, (double)now_ms() / 1000.0);
        wb_metrics_set(p->m_in_scope, NULL, (double)wb_idmap_count(p->ck.in_scope));
        wb_metrics_set(p->m_staged, NULL, (double)wb_idmap_count(p->ck.staged));
        wb_metrics_set(p->m_round_s, NULL, (double)(now_ms() - t0) / 1000.0);
    }
    return kind;
}

wb_err_t wb_producer_round(wb_producer_t *p)
{
    struct plan pl;
    struct wb_ckpt nc;
    bool full, txn_open = false;
    long long t0 = now_ms();
    wb_err_t err;
    rd_kafka_error_t *e;
    const char *result = "failed", *stage = "commands";

    memset(&pl, 0, sizeof(pl));
    wb_ckpt_init(&nc);
    read_commands(p, &pl);
    full = round_full(p, &pl);
    stage = "users delta";
    err = refresh_users(p, &full);
    if (err != WB_OK)
        goto out;
    err = gather(p, &pl, full, &nc, &stage);
    if (err != WB_OK)
        goto out;
    if (wb_signal_stop_requested()) {
        stage = "stopped";
        err = WB_ERR_TRANSIENT;
        goto out;
    }
    stage = "kafka transaction";
    next_checkpoint(p, &pl, &nc);
    err = publish(p, &pl, &nc, &txn_open);
    if (err != WB_OK)
        goto out;
    result = committed(p, &pl, &nc, t0);
out:
    if (txn_open) {
        e = rd_kafka_abort_transaction(p->rk, TXN_TIMEOUT_MS);
        if (e) {
            if (txn_error(p, "abort_transaction", e) == WB_ERR_FATAL)
                err = WB_ERR_FATAL;
        } else {
            wb_log(LOG_WARNING, "PRODUCER", "round %s aborted; nothing of it was published",
                   p->em.round_id);
        }
    }
    if (p->m_rounds) {
        const char *v[] = {result};

        wb_metrics_inc(p->m_rounds, v, 1);
    }
    round_outcome(p, err == WB_OK ? NULL : stage, err);
    wb_ckpt_free(&nc);
    plan_free(&pl);
    return err;
}
