/*
 * wb_conf_int: private to the wb_conf*.c files: the configuration's representation and the
 * helpers that setting (wb_conf.c), value parsing (wb_conf_value.c), validation
 * (wb_conf_validate.c) and output (wb_conf_doc.c) share. Nothing else includes it.
 */
#ifndef WB_CONF_INT_H
#define WB_CONF_INT_H

#include "wb_conf.h"

#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wb_mem.h"

#define MAX_LINE       (1024 * 1024) /* a file line, or a value */
#define MAX_SECRET     (64 * 1024)
#define MAX_ERRORS     50 /* per file, then give up */
#define KAFKA_PREFIX   "kafka."
#define KAFKA_PREFIXSZ (sizeof(KAFKA_PREFIX) - 1)

struct value {
    char *str;    /* canonical text; NULL when unset */
    int64_t num;  /* INT, BOOL */
    char **list;  /* LIST items, NULL-terminated; never NULL */
    char *origin; /* "path:line" or "-X key=value"; NULL for a default or wb_conf_set */
    char *secret; /* contents of a secret *_file, read by wb_conf_validate */
    bool set;
};

struct kafka_kv {
    char *name; /* without the prefix */
    char *value;
    char *origin;
};

struct wb_conf_s {
    struct value *vals; /* one per table row */
    size_t nvals;
    struct kafka_kv *kv;
    size_t nkv;
    const char **kvarr; /* 2 * nkv + 1 */
    rd_kafka_conf_t *kcheck;
};

/* Collects several error lines into the caller's buffer; the count goes on past its end. */
struct errbuf {
    char *buf;
    size_t size;
    size_t len;
    int count;
};

static inline void eb_init(struct errbuf *eb, char *buf, size_t size)
{
    eb->buf = buf;
    eb->size = buf ? size : 0;
    eb->len = 0;
    eb->count = 0;
    if (eb->size)
        buf[0] = '\0';
}

static inline void eb_add(struct errbuf *eb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline void eb_add(struct errbuf *eb, const char *fmt, ...)
{
    va_list ap;
    int n;

    eb->count++;
    if (eb->size == 0 || eb->len + 1 >= eb->size)
        return;
    if (eb->len > 0)
        eb->buf[eb->len++] = '\n';
    eb->buf[eb->len] = '\0';
    va_start(ap, fmt);
    n = vsnprintf(eb->buf + eb->len, eb->size - eb->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        eb->len += (size_t)n < eb->size - eb->len ? (size_t)n : eb->size - eb->len - 1;
}

static inline void errf(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void errf(char *err, size_t errsz, const char *fmt, ...)
{
    va_list ap;

    if (!err || errsz == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
}

static inline void wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static inline size_t prop_index(const struct wb_conf_prop *p)
{
    return (size_t)(p - wb_conf_props);
}

static inline bool is_kafka_key(const char *key)
{
    return strncmp(key, KAFKA_PREFIX, KAFKA_PREFIXSZ) == 0;
}

/* librdkafka property names whose values must not be shown. */
static inline bool kafka_sensitive(const char *name)
{
    static const char *const words[] = {"password",           "secret", "sasl.jaas", "key.pem",
                                        "oauthbearer.config", NULL};
    size_t i;

    for (i = 0; words[i]; i++)
        if (strstr(name, words[i]))
            return true;
    return false;
}

static inline struct kafka_kv *kv_find(const wb_conf_t *conf, const char *name)
{
    size_t i;

    for (i = 0; i < conf->nkv; i++)
        if (strcmp(conf->kv[i].name, name) == 0)
            return &conf->kv[i];
    return NULL;
}

/* Printable, bounded rendering of untrusted text for messages. */
static inline void quote(const char *s, char *out, size_t outsz)
{
    size_t o = 0;

    for (; *s && o + 8 < outsz; s++) {
        unsigned char c = (unsigned char)*s;

        if (o >= 60) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
            o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    out[o] = '\0';
}

/* s[0..n) without leading and trailing blanks, as a new string. */
static inline char *trim_dup(const char *s, size_t n)
{
    while (n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return wb_strndup(s, n);
}

/* Parses value for row p into out (which the caller clears with wb_conf_value_clear): 0, or -1
 * with a message naming the key in err (wb_conf_value.c). */
int wb_conf_value_parse(const struct wb_conf_prop *p, const char *value, struct value *out,
                        char *err, size_t errsz);

/* Frees what v holds (the secret wiped) and zeroes it. */
void wb_conf_value_clear(struct value *v);

/* Why s is not acceptable text (not UTF-8, a control character), or NULL when it is. */
const char *wb_conf_value_problem(const char *s);

#endif
