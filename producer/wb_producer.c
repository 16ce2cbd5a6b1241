/*
 * wb_producer: a round is fetched completely (groups delta, member lists of groups entering
 * scope, unknown users) before its transaction begins, so a Graph failure never leaves a
 * transaction open and a crash at any point either commits the whole round with its
 * checkpoint or nothing. Events are generated while they are produced: a 100,000-group
 * initial sync never holds its encoded events in memory.
 */
#include "wb_producer.h"
#include "wb_producer_int.h"

#include "wb_log.h"
#include "wb_mem.h"
#include "wb_signal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

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
        wb_producer_persist_reset(p, "users");
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

        if (wb_idmap_has(nc->in_scope, &k) && rg->have_props && !wb_producer_refused(pl, &k))
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
    const char *result = "failed", *stage = "commands";

    memset(&pl, 0, sizeof(pl));
    wb_ckpt_init(&nc);
    wb_producer_read_commands(p, &pl);
    full = round_full(p, &pl);
    stage = "users delta";
    err = refresh_users(p, &full);
    if (err != WB_OK)
        goto out;
    err = wb_producer_gather(p, &pl, full, &nc, &stage);
    if (err != WB_OK)
        goto out;
    if (wb_signal_stop_requested()) {
        stage = "stopped";
        err = WB_ERR_TRANSIENT;
        goto out;
    }
    stage = "kafka transaction";
    next_checkpoint(p, &pl, &nc);
    err = wb_producer_publish(p, &pl, &nc, &txn_open);
    if (err != WB_OK)
        goto out;
    result = committed(p, &pl, &nc, t0);
out:
    if (txn_open && wb_producer_abort(p) == WB_ERR_FATAL)
        err = WB_ERR_FATAL;
    if (p->m_rounds) {
        const char *v[] = {result};

        wb_metrics_inc(p->m_rounds, v, 1);
    }
    round_outcome(p, err == WB_OK ? NULL : stage, err);
    wb_ckpt_free(&nc);
    wb_producer_plan_free(&pl);
    return err;
}
