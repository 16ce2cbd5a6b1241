/*
 * wb_log: single-line logging to stderr with syslog levels and debug topics. A mutex keeps
 * lines whole when librdkafka's background threads log through the same path.
 */
#include "wb_log.h"

#include <lber.h>
#include <ldap.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const topics[] = {"conf", "kafka",  "ldap",     "graph", "event",
                                     "http", "worker", "producer", "ctl",   NULL};

static int log_level = LOG_INFO;
static unsigned debug_mask;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static void (*log_sink)(int, const char *, const char *, void *);
static void *log_sink_opaque;

/* Registered secrets, a ring of the newest; guarded by log_lock. */
static char *secrets[WB_LOG_MAX_SECRETS];
static size_t nsecrets_added;

static const char *const level_names[] = {"emerg",   "alert",  "crit", "err",
                                          "warning", "notice", "info", "debug"};

void wb_log_set_level(int level)
{
    if (level < LOG_EMERG)
        level = LOG_EMERG;
    if (level > LOG_DEBUG)
        level = LOG_DEBUG;
    log_level = level;
}

int wb_log_get_level(void)
{
    return log_level;
}

int wb_log_level_parse(const char *name)
{
    int i;

    for (i = 0; i <= LOG_DEBUG; i++)
        if (strcasecmp(name, level_names[i]) == 0)
            return i;
    if (strcasecmp(name, "warn") == 0)
        return LOG_WARNING;
    if (strcasecmp(name, "error") == 0)
        return LOG_ERR;
    return -1;
}

static int topic_bit(const char *name, size_t len)
{
    int i;

    for (i = 0; topics[i]; i++)
        if (strlen(topics[i]) == len && strncmp(topics[i], name, len) == 0)
            return i;
    return -1;
}

int wb_log_set_debug(const char *list)
{
    unsigned mask = 0;
    const char *p = list;

    while (p && *p) {
        size_t len = strcspn(p, ",");
        int bit;

        if (len == 3 && strncmp(p, "all", 3) == 0) {
            mask = ~0u;
        } else if (len > 0) {
            bit = topic_bit(p, len);
            if (bit < 0)
                return -1;
            mask |= 1u << bit;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    debug_mask = mask;
    if (mask)
        log_level = LOG_DEBUG;
    return 0;
}

int wb_log_debug_on(const char *topic)
{
    int bit = topic_bit(topic, strlen(topic));

    return log_level >= LOG_DEBUG && bit >= 0 && (debug_mask & (1u << bit));
}

void wb_log_set_sink(void (*fn)(int, const char *, const char *, void *), void *opaque)
{
    pthread_mutex_lock(&log_lock);
    log_sink = fn;
    log_sink_opaque = opaque;
    pthread_mutex_unlock(&log_lock);
}

void wb_log_secret(const char *secret)
{
    char *copy, *old;
    size_t i;

    if (!secret || strlen(secret) < WB_LOG_MIN_SECRET)
        return;
    copy = strdup(secret);
    if (!copy)
        abort();
    pthread_mutex_lock(&log_lock);
    for (i = 0; i < WB_LOG_MAX_SECRETS; i++)
        if (secrets[i] && strcmp(secrets[i], copy) == 0)
            break;
    if (i < WB_LOG_MAX_SECRETS) {
        free(copy);
        copy = NULL;
    } else {
        old = secrets[nsecrets_added % WB_LOG_MAX_SECRETS];
        secrets[nsecrets_added++ % WB_LOG_MAX_SECRETS] = copy;
        if (old) {
            explicit_bzero(old, strlen(old));
            free(old);
        }
    }
    pthread_mutex_unlock(&log_lock);
}

/* Replaces every registered secret in msg by "****" (never longer than the secret). Called
 * with log_lock held. */
static void redact(char *msg)
{
    size_t i, n;
    char *p;

    for (i = 0; i < WB_LOG_MAX_SECRETS; i++) {
        if (!secrets[i])
            continue;
        n = strlen(secrets[i]);
        while ((p = strstr(msg, secrets[i])) != NULL) {
            memcpy(p, "****", 4);
            memmove(p + 4, p + n, strlen(p + n) + 1);
        }
    }
}

void wb_log_va(int level, const char *fac, const char *fmt, va_list ap)
{
    char msg[4096];
    char stamp[32];
    struct timespec ts;
    struct tm tm;
    char *p;
    int n;

    if (level > log_level)
        return;
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(msg))
        memcpy(msg + sizeof(msg) - 4, "...", 4);
    /* One message, one line: fold any newline or carriage return. */
    for (p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    n = (int)strlen(msg);
    while (n > 0 && msg[n - 1] == ' ')
        msg[--n] = '\0';

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);

    if (level < LOG_EMERG)
        level = LOG_EMERG;
    if (level > LOG_DEBUG)
        level = LOG_DEBUG;
    pthread_mutex_lock(&log_lock);
    redact(msg);
    fprintf(stderr, "%s.%03ldZ %-7s %-8s %s\n", stamp, ts.tv_nsec / 1000000, level_names[level],
            fac ? fac : "-", msg);
    fflush(stderr);
    if (log_sink)
        log_sink(level, fac ? fac : "-", msg, log_sink_opaque);
    pthread_mutex_unlock(&log_lock);
}

void wb_log(int level, const char *fac, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    wb_log_va(level, fac, fmt, ap);
    va_end(ap);
}

/* libldap and liblber print debug text in fragments through one hook; print each as a
 * debug line of its own under the "ldap" topic. */
static void ldap_print(const char *buf)
{
    if (wb_log_debug_on("ldap"))
        wb_log(LOG_DEBUG, "LIBLDAP", "%s", buf);
}

/*
 * OpenLDAP's debug bits (ldap_log.h, not installed): TRACE 0x1 (function calls), PACKETS 0x2
 * (hex dumps of every request, the simple bind's password included, before TLS encrypts it),
 * ARGS 0x4, CONNS 0x8, BER 0x10 (BER element dumps). Only the bits that print no message
 * content are ever enabled, and liblber's own debug (the dumps) never is: no debug level may
 * print a secret.
 */
#define LIBLDAP_DEBUG_SAFE (0x1 | 0x4 | 0x8)

void wb_log_route_ldap(void)
{
    int level = wb_log_debug_on("ldap") ? LIBLDAP_DEBUG_SAFE : 0, off = 0;

    ber_set_option(NULL, LBER_OPT_LOG_PRINT_FN, (void *)ldap_print);
    ldap_set_option(NULL, LDAP_OPT_DEBUG_LEVEL, &level);
    ber_set_option(NULL, LBER_OPT_DEBUG_LEVEL, &off);
}
