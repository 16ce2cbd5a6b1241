/*
 * writeback-producer: command line, configuration, metrics endpoint and the poll loop around
 * wb_producer rounds. Exit codes: 0 success (or a clean stop), 1 runtime failure, 2 usage or
 * configuration error.
 */
#include "wb_producer.h"

#include "wb_notify.h"

#include "wb_cli.h"
#include "wb_conf.h"
#include "wb_http.h"
#include "wb_log.h"
#include "wb_mem.h"
#include "wb_metrics.h"
#include "wb_signal.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ERRSZ 8192

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: writeback-producer -c producer.conf [-X key=value ...] [--once] [--dry-run]\n"
            "\n"
            "Reads Microsoft Graph group deltas and publishes writeback events to Kafka, one\n"
            "transaction per round with its checkpoint.\n"
            "\n"
            "  -c FILE        configuration file (key = value; see deploy/CONFIG.md)\n"
            "  -X KEY=VALUE   override one configuration key (repeatable)\n"
            "  --once         run one round, then exit (exit 1 if it failed)\n"
            "  --dry-run      print the events as JSON lines on stdout; touch no Kafka\n"
            "  --help         this text\n"
            "  --version      print the version\n");
}

/* Sleeps up to ms, waking at once on a stop request; keeps /healthz alive meanwhile. */
static void sleep_ms(long long ms, wb_http_t *http)
{
    struct timespec t0, t1;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!wb_signal_stop_requested()) {
        struct pollfd pfd = {wb_signal_fd(), POLLIN, 0};
        long long el;

        clock_gettime(CLOCK_MONOTONIC, &t1);
        el = (t1.tv_sec - t0.tv_sec) * 1000LL + (t1.tv_nsec - t0.tv_nsec) / 1000000;
        if (el >= ms)
            return;
        if (http)
            wb_http_set_alive(http);
        poll(&pfd, 1, (int)(ms - el > 1000 ? 1000 : ms - el));
    }
}

/* Readiness after a round: not ready once unready_after rounds failed in a row, with a one-line
 * reason (it names the stage and the error class, never a link). Logged once when reached. */
static void report_failures(wb_producer_t *p, unsigned unready_after, wb_http_t *http)
{
    const char *why = NULL;
    unsigned failed = wb_producer_failed_rounds(p, &why);
    char line[256];

    if (failed < unready_after) {
        if (http)
            wb_http_set_ready(http, 1, NULL);
        return;
    }
    snprintf(line, sizeof(line), "%u delta rounds failed in a row, the last: %s", failed, why);
    if (failed == unready_after)
        wb_log(LOG_ERR, "PRODUCER",
               "%s; provisioning has stopped, /readyz reports not ready "
               "(graph.unready_after_failed_rounds=%u)",
               line, unready_after);
    if (http)
        wb_http_set_ready(http, 0, line);
}

/* The metrics endpoint on producer.metrics_listen (none when it is empty). False (logged)
 * when it cannot listen. */
static bool open_http(const wb_conf_t *conf, wb_metrics_t *metrics, wb_http_t **http, char *errstr)
{
    const char *listen = wb_conf_get_str(conf, "producer.metrics_listen");

    if (!listen || !*listen)
        return true;
    *http = wb_http_new(listen, metrics, errstr, ERRSZ);
    if (!*http) {
        wb_log(LOG_ERR, "PRODUCER", "metrics endpoint %s: %s", listen, errstr);
        return false;
    }
    return true;
}

/* The Event Hub consumer of change notifications when notify.enabled (*nt stays NULL
 * otherwise); false, with the reason on stderr, when its settings are refused. */
static bool open_notify(wb_conf_t *conf, wb_metrics_t *metrics, wb_notify_t **nt, char *errstr)
{
    if (!wb_conf_get_bool(conf, "notify.enabled"))
        return true;
    *nt = wb_notify_new(conf, metrics, errstr, ERRSZ);
    if (!*nt)
        fprintf(stderr, "writeback-producer: %s\n", errstr);
    return *nt != NULL;
}

/* wb_producer_start, retried every 5 s until it succeeds; false on a fatal failure, with
 * --once, or on a stop request. */
static bool start(wb_producer_t *p, bool once, wb_http_t *http)
{
    for (;;) {
        wb_err_t err = wb_producer_start(p);

        if (err == WB_OK)
            return true;
        if (err == WB_ERR_FATAL || once || wb_signal_stop_requested())
            return false;
        wb_log(LOG_WARNING, "PRODUCER", "start failed (%s); retrying in 5 s", wb_err_name(err));
        sleep_ms(5000, http);
    }
}

/* The rounds: one, with --once (exit 0 when it succeeded), or one per poll interval, or
 * sooner when a change notification starts one, until a stop request (0) or a fatal failure
 * (1). */
static int run(wb_producer_t *p, const wb_conf_t *conf, wb_notify_t *nt, wb_http_t *http, bool once)
{
    unsigned unready_after = (unsigned)wb_conf_get_int(conf, "graph.unready_after_failed_rounds");
    long long poll_ms = wb_conf_get_int(conf, "graph.poll_interval_ms");

    if (nt)
        wb_notify_start(nt);
    if (http)
        wb_http_set_ready(http, 1, NULL);
    for (;;) {
        wb_err_t err;

        if (http)
            wb_http_set_alive(http);
        err = wb_producer_round(p);
        if (err == WB_ERR_FATAL)
            return 1;
        if (once)
            return err == WB_OK ? 0 : 1;
        if (wb_signal_stop_requested())
            break;
        report_failures(p, unready_after, http);
        /* the poll interval, or less when a change notification starts the round */
        if (nt)
            wb_notify_wait(nt, poll_ms, http);
        else
            sleep_ms(poll_ms, http);
        if (wb_signal_stop_requested())
            break;
    }
    wb_log(LOG_INFO, "PRODUCER", "stopped by signal %d", wb_signal_received());
    return 0;
}

static const struct wb_cli_flag flags[] = {
    {"--once", NULL, NULL},
    {"--dry-run", NULL, NULL},
    {NULL, NULL, NULL},
};

static const struct wb_cli_spec spec = {
    .prog = "writeback-producer",
    .usage = usage,
    .flags = flags,
    .need = WB_CLI_FILE_OR_X,
    .file_hint = "producer.conf",
};

int main(int argc, char **argv)
{
    wb_cli_t *cli = wb_cli_new(&spec);
    bool once, dry;
    wb_conf_t *conf = NULL;
    wb_metrics_t *metrics = NULL;
    wb_http_t *http = NULL;
    wb_producer_t *p = NULL;
    wb_notify_t *nt = NULL;
    char *errstr = wb_calloc(1, ERRSZ);
    int rc;

    rc = wb_cli_parse(cli, argc, argv);
    if (rc != WB_CLI_RUN)
        goto out;
    rc = 1;
    once = wb_cli_has(cli, "--once");
    dry = wb_cli_has(cli, "--dry-run");
    conf = wb_cli_conf_load(cli, errstr, ERRSZ);
    if (!conf || wb_cli_conf_apply(conf, WB_CONF_PRODUCER, errstr, ERRSZ) != WB_OK) {
        fprintf(stderr, "writeback-producer: %s\n", errstr);
        rc = 2;
        goto out;
    }
    if (wb_signal_init() != 0) {
        wb_log(LOG_ERR, "PRODUCER", "cannot install signal handlers");
        goto out;
    }
    metrics = wb_metrics_new();
    p = wb_producer_new(conf, dry, stdout, metrics, errstr, ERRSZ);
    if (!p) {
        fprintf(stderr, "writeback-producer: %s\n", errstr);
        rc = 2;
        goto out;
    }
    if (!dry && !open_notify(conf, metrics, &nt, errstr)) {
        rc = 2;
        goto out;
    }
    if (!dry && !open_http(conf, metrics, &http, errstr))
        goto out;
    if (!start(p, once, http))
        goto out;
    rc = run(p, conf, nt, http, once);
out:
    wb_notify_destroy(nt);
    wb_producer_destroy(p);
    wb_http_destroy(http);
    wb_metrics_destroy(metrics);
    wb_conf_destroy(conf);
    free(errstr);
    wb_cli_destroy(cli);
    return rc;
}
