/*
 * wb_conf: setting and access, driven by the property table wb_conf_props
 * (wb_conf_table.c): keys from files and -X arguments, with did-you-mean for unknown ones.
 * Values are parsed once when set (wb_conf_value.c), so getters are plain reads; kafka.*
 * keys are checked against librdkafka's own table on a scratch rd_kafka_conf_t.
 */
#include "wb_conf_int.h"
#include "wb_mem.h"

#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static bool key_chars_ok(const char *key)
{
    const char *p;

    if (!*key)
        return false;
    for (p = key; *p; p++)
        if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') && !(*p >= '0' && *p <= '9') &&
            *p != '.' && *p != '_' && *p != '-')
            return false;
    return true;
}

/* Levenshtein distance, for did-you-mean suggestions. Both strings are short. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), i, j;
    size_t *prev = wb_calloc(lb + 1, sizeof(size_t)), *cur = wb_calloc(lb + 1, sizeof(size_t));
    size_t d;

    for (j = 0; j <= lb; j++)
        prev[j] = j;
    for (i = 1; i <= la; i++) {
        size_t *t;

        cur[0] = i;
        for (j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;

            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        t = prev;
        prev = cur;
        cur = t;
    }
    d = prev[lb];
    free(prev);
    free(cur);
    return d;
}

static const char *last_part(const char *s)
{
    const char *dot = strrchr(s, '.');

    return dot ? dot + 1 : s;
}

/* The closest table key, or "kafka.<key>" when librdkafka knows key. Caller frees. */
static char *suggest(const char *key, const char *value)
{
    const struct wb_conf_prop *p, *best = NULL;
    size_t bestd = (size_t)-1;
    rd_kafka_conf_t *kc;
    char kerr[256];

    if (strlen(key) > 100)
        return NULL;
    for (p = wb_conf_props; p->name; p++) {
        size_t d = distance(key, p->name);

        if (d < bestd) {
            bestd = d;
            best = p;
        }
    }
    if (best && (bestd <= 2 || bestd * 4 <= strlen(best->name)))
        return wb_strdup(best->name);
    for (p = wb_conf_props; p->name; p++)
        if (strcasecmp(last_part(key), last_part(p->name)) == 0)
            return wb_strdup(p->name);
    if (strcmp(key, "plugin.library.paths") == 0)
        return NULL;
    kc = rd_kafka_conf_new();
    if (rd_kafka_conf_set(kc, key, value, kerr, sizeof(kerr)) != RD_KAFKA_CONF_UNKNOWN) {
        rd_kafka_conf_destroy(kc);
        return wb_asprintf(KAFKA_PREFIX "%s", key);
    }
    rd_kafka_conf_destroy(kc);
    return NULL;
}

static void kv_rebuild(wb_conf_t *conf)
{
    size_t i;

    free(conf->kvarr);
    conf->kvarr = wb_calloc(2 * conf->nkv + 1, sizeof(char *));
    for (i = 0; i < conf->nkv; i++) {
        conf->kvarr[2 * i] = conf->kv[i].name;
        conf->kvarr[2 * i + 1] = conf->kv[i].value;
    }
}

static wb_err_t set_kafka(wb_conf_t *conf, const char *key, const char *value, const char *origin,
                          char *err, size_t errsz)
{
    static const struct {
        const char *name, *use;
    } reserved[] = {
        {"group.id", "set worker.group_id instead"},
        {"transactional.id", "set producer.transactional_id instead"},
        {"enable.auto.offset.store", "writeback stores offsets itself after each applied event"},
    };
    const char *name = key + KAFKA_PREFIXSZ;
    const char *problem = wb_conf_value_problem(value);
    struct kafka_kv *kv;
    char kerr[512];
    size_t i;

    if (!key_chars_ok(name)) {
        errf(err, errsz, "\"%s\" is not a librdkafka property name", key);
        return WB_ERR_INVALID;
    }
    if (problem || strlen(value) > MAX_LINE) {
        errf(err, errsz, "%s: value %s", key, problem ? problem : "too long");
        return WB_ERR_INVALID;
    }
    for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (strcmp(name, reserved[i].name) == 0) {
            errf(err, errsz, "%s is managed by writeback: %s", key, reserved[i].use);
            return WB_ERR_INVALID;
        }
    /* Setting plugin.library.paths loads the plugins at once: leave it to the real conf. */
    if (strcmp(name, "plugin.library.paths") != 0) {
        kerr[0] = '\0';
        switch (rd_kafka_conf_set(conf->kcheck, name, value, kerr, sizeof(kerr))) {
        case RD_KAFKA_CONF_OK:
            break;
        case RD_KAFKA_CONF_UNKNOWN:
            errf(err, errsz, "unknown configuration key \"%s\" (librdkafka has no property \"%s\")",
                 key, name);
            return WB_ERR_INVALID;
        default:
            if (kafka_sensitive(name))
                errf(err, errsz, "%s: invalid value", key);
            else
                errf(err, errsz, "%s: %s", key, kerr);
            return WB_ERR_INVALID;
        }
    }
    kv = kv_find(conf, name);
    if (kv) {
        wipe_free(kv->value);
        free(kv->origin);
    } else {
        conf->kv = wb_realloc(conf->kv, (conf->nkv + 1) * sizeof(*conf->kv));
        kv = &conf->kv[conf->nkv++];
        kv->name = wb_strdup(name);
    }
    kv->value = wb_strdup(value);
    kv->origin = origin ? wb_strdup(origin) : NULL;
    kv_rebuild(conf);
    return WB_OK;
}

static wb_err_t set0(wb_conf_t *conf, const char *key, const char *value, const char *origin,
                     char *err, size_t errsz)
{
    const struct wb_conf_prop *p;
    struct value nv;
    struct value *v;
    char q[128];

    if (is_kafka_key(key))
        return set_kafka(conf, key, value, origin, err, errsz);
    p = wb_conf_prop_find(key);
    if (!p) {
        char *s = key_chars_ok(key) ? suggest(key, value) : NULL;

        quote(key, q, sizeof(q));
        if (s)
            errf(err, errsz, "unknown configuration key \"%s\" (did you mean \"%s\"?)", q, s);
        else
            errf(err, errsz, "unknown configuration key \"%s\"", q);
        free(s);
        return WB_ERR_INVALID;
    }
    memset(&nv, 0, sizeof(nv));
    if (wb_conf_value_parse(p, value, &nv, err, errsz) != 0) {
        wb_conf_value_clear(&nv);
        return WB_ERR_INVALID;
    }
    v = &conf->vals[prop_index(p)];
    wb_conf_value_clear(v);
    *v = nv;
    v->set = true;
    v->origin = origin ? wb_strdup(origin) : NULL;
    return WB_OK;
}

wb_conf_t *wb_conf_new(void)
{
    wb_conf_t *conf = wb_calloc(1, sizeof(*conf));
    const struct wb_conf_prop *p;
    char err[512];

    for (p = wb_conf_props; p->name; p++)
        conf->nvals++;
    conf->vals = wb_calloc(conf->nvals, sizeof(*conf->vals));
    conf->kcheck = rd_kafka_conf_new();
    kv_rebuild(conf);
    for (p = wb_conf_props; p->name; p++) {
        struct value *v = &conf->vals[prop_index(p)];

        if (p->defval && !is_kafka_key(p->name)) {
            if (wb_conf_value_parse(p, p->defval, v, err, sizeof(err)) != 0) {
                /* A bad default is a bug in the table; the unit tests catch it. */
                fprintf(stderr, "wb_conf: bad default in table: %s\n", err);
                abort();
            }
        } else {
            v->list = wb_calloc(1, sizeof(char *));
        }
    }
    return conf;
}

void wb_conf_destroy(wb_conf_t *conf)
{
    size_t i;

    if (!conf)
        return;
    for (i = 0; i < conf->nvals; i++)
        wb_conf_value_clear(&conf->vals[i]);
    free(conf->vals);
    for (i = 0; i < conf->nkv; i++) {
        free(conf->kv[i].name);
        wipe_free(conf->kv[i].value);
        free(conf->kv[i].origin);
    }
    free(conf->kv);
    free(conf->kvarr);
    if (conf->kcheck)
        rd_kafka_conf_destroy(conf->kcheck);
    free(conf);
}

wb_err_t wb_conf_set(wb_conf_t *conf, const char *key, const char *value, char *errstr,
                     size_t errsz)
{
    if (errstr && errsz)
        errstr[0] = '\0';
    return set0(conf, key, value ? value : "", NULL, errstr, errsz);
}

/* Reads one line (without its newline) into *buf, keeping at most MAX_LINE bytes; the rest
 * of a longer line is consumed and *toolong set. Returns -1 at end of file. */
static int read_line(FILE *fp, char **buf, size_t *cap, size_t *len, bool *toolong)
{
    int c;
    bool any = false;

    *len = 0;
    *toolong = false;
    while ((c = getc(fp)) != EOF) {
        any = true;
        if (c == '\n')
            break;
        if (*len >= MAX_LINE) {
            *toolong = true;
            continue;
        }
        if (*len + 1 >= *cap) {
            *cap = *cap ? *cap * 2 : 256;
            *buf = wb_realloc(*buf, *cap);
        }
        (*buf)[(*len)++] = (char)c;
    }
    if (!any)
        return -1;
    if (!*buf) {
        *cap = 256;
        *buf = wb_malloc(*cap);
    }
    (*buf)[*len] = '\0';
    return 0;
}

/* Handles one line of a file; returns 0 or -1 with a message in err. */
static int load_line(wb_conf_t *conf, char *line, size_t len, const char *origin, char *err,
                     size_t errsz)
{
    char *s = line, *eq, *key = NULL, *value = NULL;
    size_t vlen;
    int rc = -1;

    if (strlen(line) != len) {
        errf(err, errsz, "NUL byte in line");
        goto out;
    }
    while (*s == ' ' || *s == '\t')
        s++;
    len = strlen(s);
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
        s[--len] = '\0';
    if (len == 0 || *s == '#') {
        rc = 0;
        goto out;
    }
    eq = strchr(s, '=');
    if (!eq) {
        errf(err, errsz, "expected \"key = value\"");
        goto out;
    }
    key = trim_dup(s, (size_t)(eq - s));
    value = trim_dup(eq + 1, strlen(eq + 1));
    if (!*key) {
        errf(err, errsz, "missing key before '='");
        goto out;
    }
    vlen = strlen(value);
    if (vlen > 0 && value[0] == '"') {
        if (vlen < 2 || value[vlen - 1] != '"') {
            errf(err, errsz, "%s: unterminated quoted value", key);
            goto out;
        }
        memmove(value, value + 1, vlen - 2);
        value[vlen - 2] = '\0';
    }
    rc = set0(conf, key, value, origin, err, errsz) == WB_OK ? 0 : -1;
out:
    free(key);
    wipe_free(value);
    return rc;
}

wb_err_t wb_conf_load_file(wb_conf_t *conf, const char *path, char *errstr, size_t errsz)
{
    struct errbuf eb;
    FILE *fp = NULL;
    char *line = NULL;
    size_t cap = 0, len = 0;
    unsigned lineno = 0;
    bool toolong;
    struct stat st;
    char err[1024];

    eb_init(&eb, errstr, errsz);
    fp = fopen(path, "re");
    if (!fp) {
        eb_add(&eb, "%s: cannot open: %s", path, strerror(errno));
        goto out;
    }
    if (fstat(fileno(fp), &st) != 0 || !(S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode))) {
        eb_add(&eb, "%s: not a regular file", path); /* a FIFO, as from <(...), is fine */
        goto out;
    }
    while (read_line(fp, &line, &cap, &len, &toolong) == 0) {
        char origin[4200];
        char *start = line;

        lineno++;
        snprintf(origin, sizeof(origin), "%s:%u", path, lineno);
        if (toolong) {
            eb_add(&eb, "%s: line too long (more than %d bytes)", origin, MAX_LINE);
        } else {
            /* A UTF-8 byte order mark some editors put at the start. */
            if (lineno == 1 && len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
                start += 3;
                len -= 3;
            }
            err[0] = '\0';
            if (load_line(conf, start, len, origin, err, sizeof(err)) != 0)
                eb_add(&eb, "%s: %s", origin, err);
        }
        if (eb.count >= MAX_ERRORS) {
            eb_add(&eb, "%s: too many errors, giving up", path);
            break;
        }
    }
    if (ferror(fp))
        eb_add(&eb, "%s: read error: %s", path, strerror(errno));
out:
    if (line)
        explicit_bzero(line, cap);
    free(line);
    if (fp)
        fclose(fp);
    return eb.count ? WB_ERR_INVALID : WB_OK;
}

/* "-X key=value" as shown in messages, with the value masked for sensitive kafka keys. */
static char *arg_origin(const char *key, const char *value)
{
    char qk[128], qv[128];

    quote(key, qk, sizeof(qk));
    quote(value, qv, sizeof(qv));
    if (is_kafka_key(key) && kafka_sensitive(key))
        return wb_asprintf("-X %s=****", qk);
    return wb_asprintf("-X %s=%s", qk, qv);
}

static wb_err_t set_arg(wb_conf_t *conf, const char *arg, struct errbuf *eb)
{
    const char *eq = strchr(arg, '=');
    char *key = NULL, *value = NULL, *origin = NULL;
    char err[1024], q[128];
    wb_err_t rc = WB_ERR_INVALID;

    if (!eq) {
        quote(arg, q, sizeof(q));
        eb_add(eb, "-X %s: expected key=value", q);
        goto out;
    }
    key = trim_dup(arg, (size_t)(eq - arg));
    value = trim_dup(eq + 1, strlen(eq + 1));
    origin = arg_origin(key, value);
    err[0] = '\0';
    rc = set0(conf, key, value, origin, err, sizeof(err));
    if (rc != WB_OK)
        eb_add(eb, "%s: %s", origin, err);
out:
    free(origin);
    wipe_free(value);
    free(key);
    return rc;
}

wb_err_t wb_conf_set_arg(wb_conf_t *conf, const char *arg, char *errstr, size_t errsz)
{
    struct errbuf eb;

    eb_init(&eb, errstr, errsz);
    return set_arg(conf, arg, &eb);
}

wb_err_t wb_conf_apply_args(wb_conf_t *conf, const char *const *args, size_t n, char *errstr,
                            size_t errsz)
{
    struct errbuf eb;
    size_t i;

    eb_init(&eb, errstr, errsz);
    for (i = 0; i < n; i++)
        set_arg(conf, args[i], &eb);
    return eb.count ? WB_ERR_INVALID : WB_OK;
}

static const struct wb_conf_prop *prop_must(const char *key, enum wb_conf_type type, const char *fn)
{
    const struct wb_conf_prop *p = wb_conf_prop_find(key);

    if (!p || p->type != type) {
        fprintf(stderr, "%s: \"%s\" is not a configuration key of that type\n", fn, key);
        abort();
    }
    return p;
}

const char *wb_conf_get_str(const wb_conf_t *conf, const char *key)
{
    const struct wb_conf_prop *p;
    const char *s;

    if (is_kafka_key(key)) {
        const struct kafka_kv *kv = kv_find(conf, key + KAFKA_PREFIXSZ);

        return kv && *kv->value ? kv->value : NULL;
    }
    p = wb_conf_prop_find(key);
    if (!p) {
        fprintf(stderr, "wb_conf_get_str: \"%s\" is not a configuration key\n", key);
        abort();
    }
    s = conf->vals[prop_index(p)].str;
    return s && *s ? s : NULL;
}

int64_t wb_conf_get_int(const wb_conf_t *conf, const char *key)
{
    return conf->vals[prop_index(prop_must(key, WB_CONF_T_INT, "wb_conf_get_int"))].num;
}

bool wb_conf_get_bool(const wb_conf_t *conf, const char *key)
{
    return conf->vals[prop_index(prop_must(key, WB_CONF_T_BOOL, "wb_conf_get_bool"))].num != 0;
}

const char *const *wb_conf_get_list(const wb_conf_t *conf, const char *key)
{
    const struct value *v =
        &conf->vals[prop_index(prop_must(key, WB_CONF_T_LIST, "wb_conf_get_list"))];

    return (const char *const *)v->list;
}

bool wb_conf_is_set(const wb_conf_t *conf, const char *key)
{
    const struct wb_conf_prop *p;

    if (is_kafka_key(key))
        return kv_find(conf, key + KAFKA_PREFIXSZ) != NULL;
    p = wb_conf_prop_find(key);
    return p && conf->vals[prop_index(p)].set;
}

const char *wb_conf_secret(const wb_conf_t *conf, const char *key)
{
    const struct wb_conf_prop *p = wb_conf_prop_find(key);

    if (!p || !(p->flags & WB_CONF_F_SECRET)) {
        fprintf(stderr, "wb_conf_secret: \"%s\" is not a secret key\n", key);
        abort();
    }
    return conf->vals[prop_index(p)].secret;
}

const char *const *wb_conf_kafka_kv(const wb_conf_t *conf)
{
    return (const char *const *)conf->kvarr;
}
