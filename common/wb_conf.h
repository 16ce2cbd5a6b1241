/*
 * wb_conf: configuration for all three programs, driven by one property table
 * (wb_conf_table.c) as librdkafka's rdkafka_conf.c is: the table parses `key = value` files
 * and -X overrides, validates at start, dumps with secrets masked and generates
 * deploy/CONFIG.md and deploy/writeback.conf.example. Keys under "kafka." go to librdkafka.
 */
#ifndef WB_CONF_H
#define WB_CONF_H

#include "wb_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct wb_conf_s wb_conf_t;

/* Programs, as a bitmask: which programs use a key, which require it, what to validate. */
#define WB_CONF_PRODUCER 0x1u
#define WB_CONF_WORKER   0x2u
#define WB_CONF_CTL      0x4u
#define WB_CONF_ALL      0x7u

enum wb_conf_type {
    WB_CONF_T_STR,  /* any text (optionally checked by the row's check function) */
    WB_CONF_T_INT,  /* decimal 64-bit integer within [min, max] */
    WB_CONF_T_BOOL, /* true/false, yes/no, on/off, 1/0 (any case); stored as "true"/"false" */
    WB_CONF_T_ENUM, /* one of the comma-separated allowed values (any case) */
    WB_CONF_T_LIST, /* comma-separated items, trimmed, empty and duplicate items dropped */
};

/* Row flags. */
#define WB_CONF_F_SECRET                                                                           \
    0x1u                    /* "*_file" key: the file's contents are a secret, read by             \
                             * wb_conf_validate; any other key: the value is masked */
#define WB_CONF_F_PATH 0x2u /* value names a file that must be readable at validation */

/* One row of the property table. check, when set, vets a STR value (or each LIST item) and
 * may return a canonical form in *canon (caller-owned, e.g. a lower-cased GUID); it returns
 * 0, or -1 with a message (without the key name) in err. */
struct wb_conf_prop {
    const char *name;
    enum wb_conf_type type;
    const char *defval;  /* NULL: no default (the key is unset until configured) */
    int64_t min, max;    /* WB_CONF_T_INT bounds, inclusive */
    const char *allowed; /* ENUM, LIST: comma-separated allowed values; NULL for any */
    unsigned flags;      /* WB_CONF_F_* */
    unsigned programs;   /* WB_CONF_* that read the key */
    unsigned required;   /* WB_CONF_* that refuse to start without a value */
    int (*check)(const char *value, char **canon, char *err, size_t errsz);
    const char *desc; /* one or two sentences, used for the docs */
};

/* The table, in documentation order, terminated by a row whose name is NULL. Rows under
 * "kafka." only document librdkafka keys; their values live in the passthrough list. */
extern const struct wb_conf_prop wb_conf_props[];

/* The row for name, or NULL. */
const struct wb_conf_prop *wb_conf_prop_find(const char *name);

/* A configuration holding every table default. Never NULL. Not thread-safe while being set;
 * once validated, the getters may be called from any thread. */
wb_conf_t *wb_conf_new(void);

/* Frees conf and wipes secrets read from files. NULL does nothing. */
void wb_conf_destroy(wb_conf_t *conf);

/* Sets key to value (both borrowed; copied). Keys under "kafka." are accepted when
 * librdkafka knows them (the prefix stripped) and kept in insertion order; setting one again
 * replaces its value in place. Returns WB_OK, or WB_ERR_INVALID with the reason in errstr
 * (errstr may be NULL): unknown key (with a suggestion when one is close), bad int, bool or
 * enum value, out of bounds, bad format. */
wb_err_t wb_conf_set(wb_conf_t *conf, const char *key, const char *value, char *errstr,
                     size_t errsz);

/* Reads a `key = value` file: one setting per line; blank lines and lines starting with '#'
 * are ignored; whitespace around key and value is trimmed; a value wholly in double quotes
 * loses the quotes (to keep surrounding spaces). No inline comments. Every error is reported,
 * one per line of errstr, as "path:line: message". Returns WB_OK or WB_ERR_INVALID. */
wb_err_t wb_conf_load_file(wb_conf_t *conf, const char *path, char *errstr, size_t errsz);

/* Applies one "-X key=value" argument (arg is "key=value"); errors read
 * "-X key=value: message". */
wb_err_t wb_conf_set_arg(wb_conf_t *conf, const char *arg, char *errstr, size_t errsz);

/* Applies n -X arguments in order (call after wb_conf_load_file so they override it); every
 * error is reported, one per line. */
wb_err_t wb_conf_apply_args(wb_conf_t *conf, const char *const *args, size_t n, char *errstr,
                            size_t errsz);

/* Start-of-program checks for programs (a WB_CONF_* mask; 0 checks only what does not
 * depend on a program): required keys, secret files read (those of keys the programs use;
 * trailing newlines stripped), readable CA files, ldap.target_ou under ldap.base_dn, scope
 * mode consistent with scope.group_ids / scope.filter, plain LDAP refused unless StartTLS or
 * ldap.allow_insecure, retry bounds, distinct topics. Every problem is reported, one per
 * line of errstr. Returns WB_OK or WB_ERR_INVALID. */
wb_err_t wb_conf_validate(wb_conf_t *conf, unsigned programs, char *errstr, size_t errsz);

/* Getters. key must be a table row of the matching type (anything else is a programming
 * error and aborts). Returned strings are borrowed until the key is set again or conf is
 * destroyed. */
/* String, enum, bool or list value as text; NULL when unset or empty. Any "kafka." key may
 * be asked for (NULL when not configured). */
const char *wb_conf_get_str(const wb_conf_t *conf, const char *key);
int64_t wb_conf_get_int(const wb_conf_t *conf, const char *key);
bool wb_conf_get_bool(const wb_conf_t *conf, const char *key);
/* LIST items, NULL-terminated; never NULL (an empty list is { NULL }). */
const char *const *wb_conf_get_list(const wb_conf_t *conf, const char *key);
/* True when the key was configured (file or -X) rather than left at its default. */
bool wb_conf_is_set(const wb_conf_t *conf, const char *key);

/* Contents of a WB_CONF_F_SECRET "*_file" key's file as read by wb_conf_validate, or NULL
 * (not validated for a program that uses it, or unset). Borrowed; never log it. */
const char *wb_conf_secret(const wb_conf_t *conf, const char *key);

/* The librdkafka settings: "name", "value", "name", "value", ..., NULL, with the "kafka."
 * prefix stripped, in the order first set. Borrowed until the next wb_conf_set or destroy;
 * never NULL. Feed each pair to rd_kafka_conf_set(). */
const char *const *wb_conf_kafka_kv(const wb_conf_t *conf);

/* Writes the effective configuration as a loadable file: every table key (unset ones
 * commented out), then the kafka.* keys. Secret values and kafka.* keys whose names contain
 * password, secret, sasl.jaas, key.pem or oauthbearer.config print as "****"; secret file
 * contents are never printed. */
void wb_conf_dump(const wb_conf_t *conf, FILE *fp);

/* Generate deploy/CONFIG.md and deploy/writeback.conf.example from the table. */
void wb_conf_markdown(FILE *fp);
void wb_conf_example(FILE *fp);

#endif
