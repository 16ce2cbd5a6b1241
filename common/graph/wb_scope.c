/*
 * wb_scope: the fixed Cloud Sync clause, the three scope modes and the attribute value filter
 * parser/evaluator. The filter grammar mirrors the Graph simulator's ScopeFilter so that the
 * simulator's expected AD state and the producer agree on what is in scope.
 */
#include "wb_scope.h"

#include "wb_fnv.h"
#include "wb_idmap.h"
#include "wb_mem.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum op {
    OP_EQUALS,
    OP_NOT_EQUALS,
    OP_IS_TRUE,
    OP_IS_FALSE,
    OP_IS_NULL,
    OP_IS_NOT_NULL,
    OP_GT,
    OP_GE,
    OP_REGEX,
    OP_NOT_REGEX,
};

/* Longest operators first, as the simulator matches them. */
static const struct {
    const char *words[4];
    enum op op;
} ops[] = {
    {{"GREATER", "THAN", "OR", "EQUALS"}, OP_GE},  {{"NOT", "REGEX", "MATCH", NULL}, OP_NOT_REGEX},
    {{"IS", "NOT", "NULL", NULL}, OP_IS_NOT_NULL}, {{"NOT", "EQUALS", NULL, NULL}, OP_NOT_EQUALS},
    {{"IS", "TRUE", NULL, NULL}, OP_IS_TRUE},      {{"IS", "FALSE", NULL, NULL}, OP_IS_FALSE},
    {{"IS", "NULL", NULL, NULL}, OP_IS_NULL},      {{"GREATER", "THAN", NULL, NULL}, OP_GT},
    {{"REGEX", "MATCH", NULL, NULL}, OP_REGEX},    {{"EQUALS", NULL, NULL, NULL}, OP_EQUALS},
};

static const struct {
    const char *word;
    enum op op;
} synonyms[] = {{"EQ", OP_EQUALS},     {"==", OP_EQUALS}, {"NE", OP_NOT_EQUALS},
                {"!=", OP_NOT_EQUALS}, {"GT", OP_GT},     {"GE", OP_GE}};

struct clause {
    char *attr;
    enum op op;
    char *text;    /* EQUALS / NOT EQUALS value */
    long long num; /* GREATER THAN value */
    regex_t re;    /* REGEX value */
    bool have_re;
    struct clause *next; /* next clause of the same filter (AND) */
};

struct wb_scope_s {
    int mode; /* 0 all, 1 selected, 2 filter */
    wb_idmap_t *ids;
    struct clause **alts; /* OR of AND-lists */
    size_t nalts;
    char **attrs; /* distinct attribute names, NULL-terminated */
    size_t nattrs;
    char *fingerprint;
};

/* ---------------------------------------------------------------- filter parsing */

struct tok {
    int is_str;
    char *text;
};

static void toks_free(struct tok *t, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(t[i].text);
    free(t);
}

static int tokenize(const char *s, struct tok **out, size_t *nout, char *err, size_t errsz)
{
    struct tok *t = NULL;
    size_t n = 0, cap = 0;

    while (*s) {
        if (isspace((unsigned char)*s)) {
            s++;
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            t = wb_realloc(t, cap * sizeof(*t));
        }
        if (*s == '\'' || *s == '"') {
            char q = *s++;
            size_t len = strlen(s), k = 0;
            char *buf = wb_malloc(len + 1);

            while (*s && *s != q) {
                if (*s == '\\' && s[1])
                    s++;
                buf[k++] = *s++;
            }
            buf[k] = '\0';
            if (!*s) {
                free(buf);
                toks_free(t, n);
                snprintf(err, errsz, "unterminated quote");
                return -1;
            }
            s++;
            t[n].is_str = 1;
            t[n++].text = buf;
        } else {
            const char *b = s;

            while (*s && !isspace((unsigned char)*s))
                s++;
            t[n].is_str = 0;
            t[n++].text = wb_strndup(b, (size_t)(s - b));
        }
    }
    *out = t;
    *nout = n;
    return 0;
}

static void clause_free(struct clause *c)
{
    while (c) {
        struct clause *next = c->next;

        free(c->attr);
        free(c->text);
        if (c->have_re)
            regfree(&c->re);
        free(c);
        c = next;
    }
}

/* Splits token k (a bare word) into upper-case words at '_'; returns the count (max 4). */
static size_t split_words(const char *text, char words[4][24])
{
    size_t n = 0;
    const char *p = text;

    while (*p && n < 4) {
        size_t len = strcspn(p, "_"), i;

        if (len > 0) {
            if (len >= 24)
                len = 23;
            for (i = 0; i < len; i++)
                words[n][i] = (char)toupper((unsigned char)p[i]);
            words[n][len] = '\0';
            n++;
        }
        p += len;
        if (*p == '_')
            p++;
    }
    return n;
}

/* The operator that follows the attribute name, from token *i on: up to four words of the
 * following bare tokens (split at '_'), a synonym or the words of an operator that ends on a
 * token boundary. Returns the operator with *i after it, or -1 (*i unchanged). */
static int parse_op(const struct tok *t, size_t nt, size_t *i)
{
    char flat_w[4][24];
    size_t flat_k[4], nflat = 0, k, j;
    int op = -1;

    for (k = *i; k < nt && !t[k].is_str && nflat < 4; k++) {
        char w[4][24];
        size_t nw = split_words(t[k].text, w);

        for (j = 0; j < nw && nflat < 4; j++) {
            memcpy(flat_w[nflat], w[j], 24);
            flat_k[nflat++] = k;
        }
    }
    if (nflat > 0)
        for (j = 0; j < sizeof(synonyms) / sizeof(synonyms[0]); j++)
            if (strcmp(flat_w[0], synonyms[j].word) == 0) {
                op = (int)synonyms[j].op;
                *i = flat_k[0] + 1;
                break;
            }
    for (j = 0; op < 0 && j < sizeof(ops) / sizeof(ops[0]); j++) {
        size_t len = 0, m;

        while (len < 4 && ops[j].words[len])
            len++;
        if (len > nflat)
            continue;
        for (m = 0; m < len; m++)
            if (strcmp(flat_w[m], ops[j].words[m]) != 0)
                break;
        if (m < len)
            continue;
        /* the operator must end on a token boundary */
        if (len < nflat && flat_k[len] == flat_k[len - 1])
            continue;
        op = (int)ops[j].op;
        *i = flat_k[len - 1] + 1;
    }
    return op;
}

/* The value of cur's operator at token *i, when it takes one: an integer for GREATER THAN, a
 * regex, else text. 0 with *i after it, or -1 and err. */
static int parse_value(struct clause *cur, const struct tok *t, size_t nt, size_t *i, char *err,
                       size_t errsz)
{
    const char *v;

    if (cur->op == OP_IS_TRUE || cur->op == OP_IS_FALSE || cur->op == OP_IS_NULL ||
        cur->op == OP_IS_NOT_NULL)
        return 0;
    if (*i >= nt) {
        snprintf(err, errsz, "missing value after the operator of \"%s\"", cur->attr);
        return -1;
    }
    v = t[(*i)++].text;
    if (cur->op == OP_GT || cur->op == OP_GE) {
        char *end = NULL;

        errno = 0;
        cur->num = strtoll(v, &end, 10);
        if (!*v || *end || errno) {
            snprintf(err, errsz, "GREATER THAN needs an integer, got \"%s\"", v);
            return -1;
        }
    } else if (cur->op == OP_REGEX || cur->op == OP_NOT_REGEX) {
        int rrc = regcomp(&cur->re, v, REG_EXTENDED | REG_NOSUB);

        if (rrc != 0) {
            char msg[128];

            regerror(rrc, &cur->re, msg, sizeof(msg));
            snprintf(err, errsz, "bad regex \"%s\": %s", v, msg);
            return -1;
        }
        cur->have_re = true;
    } else {
        cur->text = wb_strdup(v);
    }
    return 0;
}

/* The connector after a clause at token *i, if any: AND continues the alternative, OR starts
 * the next one (*tail: where the next clause goes). 0 with *i after it, or -1 and err. */
static int parse_connector(wb_scope_t *sc, const struct tok *t, size_t nt, size_t *i,
                           struct clause ***tail, char *err, size_t errsz)
{
    const char *c;

    if (*i >= nt)
        return 0;
    c = t[*i].is_str ? "" : t[*i].text;
    if (strcasecmp(c, "AND") == 0 || strcmp(c, "&&") == 0) {
        (*i)++;
    } else if (strcasecmp(c, "OR") == 0 || strcmp(c, "||") == 0) {
        sc->alts = wb_realloc(sc->alts, (sc->nalts + 1) * sizeof(*sc->alts));
        sc->alts[sc->nalts] = NULL;
        *tail = &sc->alts[sc->nalts++];
        (*i)++;
    } else {
        snprintf(err, errsz, "expected AND or OR, got \"%s\"", t[*i].text);
        return -1;
    }
    if (*i >= nt) {
        snprintf(err, errsz, "filter ends with a connector");
        return -1;
    }
    return 0;
}

static int parse_filter(wb_scope_t *sc, const char *text, char *err, size_t errsz)
{
    struct tok *t = NULL;
    size_t nt = 0, i = 0;
    struct clause **tail = NULL, *cur = NULL;
    int rc = -1, op;

    if (tokenize(text, &t, &nt, err, errsz) != 0)
        return -1;
    sc->alts = wb_calloc(1, sizeof(*sc->alts));
    sc->nalts = 1;
    tail = &sc->alts[0];
    while (i < nt) {
        if (t[i].is_str) {
            snprintf(err, errsz, "expected an attribute name, got a quoted string");
            goto out;
        }
        cur = wb_calloc(1, sizeof(*cur));
        cur->attr = wb_strdup(t[i].text);
        i++;
        op = parse_op(t, nt, &i);
        if (op < 0) {
            snprintf(err, errsz, "unknown operator after \"%s\"", cur->attr);
            goto out;
        }
        cur->op = (enum op)op;
        if (parse_value(cur, t, nt, &i, err, errsz) != 0)
            goto out;
        *tail = cur;
        tail = &cur->next;
        cur = NULL;
        if (parse_connector(sc, t, nt, &i, &tail, err, errsz) != 0)
            goto out;
    }
    if (!sc->alts[0]) {
        snprintf(err, errsz, "empty filter");
        goto out;
    }
    rc = 0;
out:
    clause_free(cur);
    toks_free(t, nt);
    return rc;
}

/* ---------------------------------------------------------------- evaluation */

/* A property value as the filter sees it. */
struct val {
    int kind; /* 0 null, 1 bool, 2 number, 3 string, 4 other JSON */
    int b;
    double num;
    const char *str;
    const cJSON *json;
};

static struct val lookup(const struct wb_gprops *p, const char *attr)
{
    struct val v = {0, 0, 0, NULL, NULL};
    const cJSON *j;

    if (strcasecmp(attr, "displayName") == 0) {
        if (p->display_name) {
            v.kind = 3;
            v.str = p->display_name;
        }
        return v;
    }
    if (strcasecmp(attr, "description") == 0) {
        if (p->description) {
            v.kind = 3;
            v.str = p->description;
        }
        return v;
    }
    if (strcasecmp(attr, "securityEnabled") == 0 || strcasecmp(attr, "mailEnabled") == 0 ||
        strcasecmp(attr, "onPremisesSyncEnabled") == 0) {
        int t = tolower((unsigned char)attr[0]) == 's'   ? p->security_enabled
                : tolower((unsigned char)attr[0]) == 'm' ? p->mail_enabled
                                                         : p->onprem_sync;
        if (t >= 0) {
            v.kind = 1;
            v.b = t;
        }
        return v;
    }
    j = p->extra ? cJSON_GetObjectItem(p->extra, attr) : NULL;
    if (!j || cJSON_IsNull(j))
        return v;
    if (cJSON_IsBool(j)) {
        v.kind = 1;
        v.b = cJSON_IsTrue(j);
    } else if (cJSON_IsNumber(j)) {
        v.kind = 2;
        v.num = j->valuedouble;
    } else if (cJSON_IsString(j)) {
        v.kind = 3;
        v.str = j->valuestring;
    } else {
        v.kind = 4;
        v.json = j;
    }
    return v;
}

/* The value as text (Python's str() of the JSON value, for scalars). Caller-owned. */
static char *val_text(const struct val *v)
{
    if (v->kind == 1)
        return wb_strdup(v->b ? "true" : "false");
    if (v->kind == 2) {
        if (v->num == floor(v->num) && fabs(v->num) < 1e15)
            return wb_asprintf("%lld", (long long)v->num);
        return wb_asprintf("%.17g", v->num);
    }
    if (v->kind == 3)
        return wb_strdup(v->str);
    {
        char *s = cJSON_PrintUnformatted(v->json);
        char *r = wb_strdup(s ? s : "");

        free(s);
        return r;
    }
}

static bool val_int(const struct val *v, long long *out)
{
    char *end = NULL;

    if (v->kind == 1) {
        *out = v->b;
        return true;
    }
    if (v->kind == 2) {
        *out = (long long)v->num;
        return true;
    }
    if (v->kind == 3) {
        const char *s = v->str;

        while (isspace((unsigned char)*s))
            s++;
        errno = 0;
        *out = strtoll(s, &end, 10);
        if (end == s || errno)
            return false;
        while (isspace((unsigned char)*end))
            end++;
        return *end == '\0';
    }
    return false;
}

static bool clause_match(const struct clause *c, const struct wb_gprops *p)
{
    struct val v = lookup(p, c->attr);
    long long n;
    char *s;
    bool r;

    switch (c->op) {
    case OP_IS_NULL:
        return v.kind == 0;
    case OP_IS_NOT_NULL:
        return v.kind != 0;
    case OP_IS_TRUE:
        return (v.kind == 1 && v.b) || (v.kind == 3 && strcasecmp(v.str, "true") == 0);
    case OP_IS_FALSE:
        return (v.kind == 1 && !v.b) || (v.kind == 3 && strcasecmp(v.str, "false") == 0);
    case OP_GT:
    case OP_GE:
        if (!val_int(&v, &n))
            return false;
        return c->op == OP_GT ? n > c->num : n >= c->num;
    default:
        break;
    }
    if (v.kind == 0)
        return c->op == OP_NOT_EQUALS;
    s = val_text(&v);
    if (c->op == OP_EQUALS)
        r = strcmp(s, c->text) == 0;
    else if (c->op == OP_NOT_EQUALS)
        r = strcmp(s, c->text) != 0;
    else if (c->op == OP_REGEX)
        r = regexec(&c->re, s, 0, NULL, 0) == 0;
    else
        r = regexec(&c->re, s, 0, NULL, 0) != 0;
    free(s);
    return r;
}

bool wb_scope_base(const struct wb_gprops *p)
{
    size_t i;

    if (p->security_enabled != 1 || p->mail_enabled == 1 || p->onprem_sync == 1)
        return false;
    for (i = 0; i < p->ngroup_types; i++)
        if (strcmp(p->group_types[i], "Unified") == 0)
            return false;
    return true;
}

bool wb_scope_match(const wb_scope_t *sc, const char *id, const struct wb_gprops *p)
{
    size_t i;

    if (!wb_scope_base(p))
        return false;
    if (sc->mode == 0)
        return true;
    if (sc->mode == 1) {
        struct wb_idkey k;

        return wb_idkey_parse(id, &k) && wb_idmap_has(sc->ids, &k);
    }
    for (i = 0; i < sc->nalts; i++) {
        const struct clause *c;

        for (c = sc->alts[i]; c; c = c->next)
            if (!clause_match(c, p))
                break;
        if (!c)
            return true;
    }
    return false;
}

/* ---------------------------------------------------------------- construction */

static void add_attr(wb_scope_t *sc, const char *a)
{
    size_t i;

    for (i = 0; i < sc->nattrs; i++)
        if (strcasecmp(sc->attrs[i], a) == 0)
            return;
    sc->attrs = wb_realloc(sc->attrs, (sc->nattrs + 2) * sizeof(char *));
    sc->attrs[sc->nattrs++] = wb_strdup(a);
    sc->attrs[sc->nattrs] = NULL;
}

wb_scope_t *wb_scope_new(const char *mode, const char *const *group_ids, const char *filter,
                         char *errstr, size_t errsz)
{
    wb_scope_t *sc = wb_calloc(1, sizeof(*sc));
    char err[256] = "";
    uint64_t h = WB_FNV_OFFSET;
    size_t i;

    sc->attrs = wb_calloc(1, sizeof(char *));
    if (!mode || strcasecmp(mode, "all") == 0) {
        sc->mode = 0;
        sc->fingerprint = wb_strdup("all");
    } else if (strcasecmp(mode, "selected") == 0) {
        struct wb_idkey *keys;
        size_t n;

        sc->mode = 1;
        sc->ids = wb_idmap_new();
        for (i = 0; group_ids && group_ids[i]; i++) {
            struct wb_idkey k;

            if (!wb_idkey_parse(group_ids[i], &k)) {
                snprintf(errstr, errsz, "scope.group_ids: \"%s\" is not a GUID", group_ids[i]);
                goto fail;
            }
            wb_idmap_add(sc->ids, &k);
        }
        if (wb_idmap_count(sc->ids) == 0) {
            snprintf(errstr, errsz, "scope.mode=selected needs scope.group_ids");
            goto fail;
        }
        keys = wb_idmap_keys_sorted(sc->ids, &n);
        h = wb_fnv(h, keys, n * sizeof(*keys));
        free(keys);
        sc->fingerprint = wb_asprintf("selected:%zu:%016" PRIx64, n, h);
    } else if (strcasecmp(mode, "filter") == 0) {
        const struct clause *c;

        sc->mode = 2;
        if (!filter || !*filter) {
            snprintf(errstr, errsz, "scope.mode=filter needs scope.filter");
            goto fail;
        }
        if (parse_filter(sc, filter, err, sizeof(err)) != 0) {
            snprintf(errstr, errsz, "scope.filter: %s", err);
            goto fail;
        }
        for (i = 0; i < sc->nalts; i++)
            for (c = sc->alts[i]; c; c = c->next)
                add_attr(sc, c->attr);
        h = wb_fnv(h, filter, strlen(filter));
        sc->fingerprint = wb_asprintf("filter:%016" PRIx64, h);
    } else {
        snprintf(errstr, errsz, "scope.mode: \"%s\" is not all, selected or filter", mode);
        goto fail;
    }
    return sc;
fail:
    wb_scope_destroy(sc);
    return NULL;
}

void wb_scope_destroy(wb_scope_t *sc)
{
    size_t i;

    if (!sc)
        return;
    wb_idmap_destroy(sc->ids, NULL);
    for (i = 0; i < sc->nalts; i++)
        clause_free(sc->alts[i]);
    free(sc->alts);
    for (i = 0; i < sc->nattrs; i++)
        free(sc->attrs[i]);
    free(sc->attrs);
    free(sc->fingerprint);
    free(sc);
}

const char *const *wb_scope_attrs(const wb_scope_t *sc)
{
    return (const char *const *)sc->attrs;
}

const char *wb_scope_fingerprint(const wb_scope_t *sc)
{
    return sc->fingerprint;
}
