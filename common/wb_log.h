/*
 * wb_log: one line per message to stderr, "TIME LEVEL FACILITY message". Levels are
 * syslog's; debug lines are switched on by topic (wb_log_set_debug("kafka,ldap")), as
 * librdkafka's debug= property does. librdkafka's and libldap's own logs are routed here.
 */
#ifndef WB_LOG_H
#define WB_LOG_H

#include <stdarg.h>
#include <syslog.h>

/* Messages above level (numerically greater, less severe) are dropped. Default LOG_INFO. */
void wb_log_set_level(int level);
int wb_log_get_level(void);

/* Comma-separated debug topics ("all" for every one); sets the level to LOG_DEBUG when
 * non-empty. Returns 0, or -1 and leaves the setting unchanged on an unknown topic. Topics:
 * conf, kafka, ldap, graph, event, http, worker, producer, ctl, all. */
int wb_log_set_debug(const char *topics);

/* Non-zero when debug lines for topic are on. */
int wb_log_debug_on(const char *topic);

/* Level name ("debug".."emerg") to number, -1 if unknown. */
int wb_log_level_parse(const char *name);

/* Log one line. fac is a short upper-case tag ("LDAP", "KAFKA", "CONF"). Newlines in the
 * message are replaced so a message is always one line. Thread-safe. */
void wb_log(int level, const char *fac, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void wb_log_va(int level, const char *fac, const char *fmt, va_list ap);

/* Debug line for topic, printed only when that topic is on. */
#define wb_dbg(topic, fac, ...)                                                                    \
    do {                                                                                           \
        if (wb_log_debug_on(topic))                                                                \
            wb_log(LOG_DEBUG, fac, __VA_ARGS__);                                                   \
    } while (0)

/* Route libldap's debug output (ber/ldap printf hooks) through wb_log. Call once at start.
 * With the "ldap" topic on, libldap traces calls and connections; packet and BER dumps, which
 * would print the bind password, are never switched on. */
void wb_log_route_ldap(void);

/*
 * Registers a secret (a copy is kept) that no line may show: every occurrence in a message is
 * replaced by "****" before the line is written or passed to the sink. A second line of
 * defence behind never formatting secrets at all: the configuration registers its secrets
 * when it reads them, the producer each bearer token it receives. The newest
 * WB_LOG_MAX_SECRETS are kept (older tokens are dropped); strings shorter than
 * WB_LOG_MIN_SECRET are ignored, as masking them would garble ordinary text. Thread-safe.
 */
#define WB_LOG_MAX_SECRETS 32
#define WB_LOG_MIN_SECRET  6
void wb_log_secret(const char *secret);

/* Capture: when set, each formatted line is also passed to fn (tests use it). NULL clears. */
void wb_log_set_sink(void (*fn)(int level, const char *fac, const char *line, void *opaque),
                     void *opaque);

#endif
