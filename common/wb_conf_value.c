/*
 * wb_conf_value: one value of the property table from text to its typed, canonical form
 * (string with the row's check, bounded integer, boolean words, enum and list items matched
 * against the allowed words), with a message naming the key when it is not acceptable.
 */
#include "wb_conf_int.h"
#include "wb_mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void list_free(char **list)
{
    size_t i;

    if (!list)
        return;
    for (i = 0; list[i]; i++)
        free(list[i]);
    free(list);
}

void wb_conf_value_clear(struct value *v)
{
    free(v->str);
    list_free(v->list);
    free(v->origin);
    wipe_free(v->secret);
    memset(v, 0, sizeof(*v));
}

/* Valid UTF-8 without control characters (tab allowed). */
const char *wb_conf_value_problem(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        int n, i;

        if (*p < 0x80) {
            if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
                return "contains a control character";
            p++;
            continue;
        }
        if (*p >= 0xc2 && *p <= 0xdf)
            n = 1;
        else if (*p >= 0xe0 && *p <= 0xef)
            n = 2;
        else if (*p >= 0xf0 && *p <= 0xf4)
            n = 3;
        else
            return "is not valid UTF-8";
        for (i = 1; i <= n; i++)
            if ((p[i] & 0xc0) != 0x80)
                return "is not valid UTF-8";
        /* Overlongs and surrogates. */
        if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) ||
            (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
            return "is not valid UTF-8";
        p += n + 1;
    }
    return NULL;
}

/* Is item one of the comma-separated words in allowed (any case)? Returns the canonical
 * spelling (a new string) or NULL. */
static char *allowed_match(const char *allowed, const char *item)
{
    const char *p = allowed;
    size_t len = strlen(item);

    while (*p) {
        size_t n = strcspn(p, ",");

        if (n == len && strncasecmp(p, item, n) == 0)
            return wb_strndup(p, n);
        p += n;
        if (*p == ',')
            p++;
    }
    return NULL;
}

static void allowed_render(const char *allowed, char *out, size_t outsz)
{
    const char *p = allowed;
    size_t o = 0;

    out[0] = '\0';
    while (*p && o + 1 < outsz) {
        size_t n = strcspn(p, ",");
        int w = snprintf(out + o, outsz - o, "%s%.*s", o ? ", " : "", (int)n, p);

        if (w < 0)
            break;
        o += (size_t)w;
        p += n;
        if (*p == ',')
            p++;
    }
}

static int parse_bool(const char *s, int64_t *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1", NULL};
    static const char *const no[] = {"false", "no", "off", "0", NULL};
    int i;

    for (i = 0; yes[i]; i++)
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
    for (i = 0; no[i]; i++)
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    return -1;
}

/* Runs row p's check on s (*canon as the check sets it). 0, or -1 with err naming the key. */
static int run_check(const struct wb_conf_prop *p, const char *s, char **canon, char *err,
                     size_t errsz)
{
    char msg[512];

    msg[0] = '\0';
    if (p->check(s, canon, msg, sizeof(msg)) != 0) {
        errf(err, errsz, "%s: %s", p->name, msg);
        return -1;
    }
    return 0;
}

/* Fills err: s is not one of row p's allowed values. Returns -1. */
static int not_allowed(const struct wb_conf_prop *p, const char *s, char *err, size_t errsz)
{
    char q[128], msg[512];

    quote(s, q, sizeof(q));
    allowed_render(p->allowed, msg, sizeof(msg));
    errf(err, errsz, "%s: \"%s\" is not one of: %s", p->name, q, msg);
    return -1;
}

/* An integer within row p's min .. max. */
static int parse_int(const struct wb_conf_prop *p, const char *value, struct value *out, char *err,
                     size_t errsz)
{
    char q[128];
    char *end = NULL;
    long long n;

    errno = 0;
    n = strtoll(value, &end, 10);
    if (!*value || *end != '\0' || errno == ERANGE) {
        quote(value, q, sizeof(q));
        errf(err, errsz, "%s: \"%s\" is not an integer", p->name, q);
        return -1;
    }
    if (n < p->min || n > p->max) {
        errf(err, errsz, "%s: %lld is out of range (%lld .. %lld)", p->name, n, (long long)p->min,
             (long long)p->max);
        return -1;
    }
    out->num = n;
    out->str = wb_asprintf("%lld", n);
    return 0;
}

/* One non-empty item of a list value, checked against row p's allowed values or its check.
 * Takes item; returns what to keep (its canonical form), or NULL with err filled. */
static char *list_item(const struct wb_conf_prop *p, char *item, char *err, size_t errsz)
{
    char *canon = NULL;

    if (p->allowed) {
        canon = allowed_match(p->allowed, item);
        if (!canon) {
            not_allowed(p, item, err, errsz);
            free(item);
            return NULL;
        }
    } else if (p->check && run_check(p, item, &canon, err, errsz) != 0) {
        free(item);
        return NULL;
    }
    if (canon) {
        free(item);
        item = canon;
    }
    return item;
}

/* A comma-separated list: items trimmed, empty ones and repeats dropped, each checked;
 * out->str is the canonical list joined with commas. */
static int parse_list(const struct wb_conf_prop *p, const char *value, struct value *out, char *err,
                      size_t errsz)
{
    const char *s = value;
    size_t n = 0, i, total = 1;
    char *joined;

    while (*s) {
        size_t len = strcspn(s, ",");
        char *item = trim_dup(s, len);

        s += len;
        if (*s == ',')
            s++;
        if (!*item) {
            free(item);
            continue;
        }
        item = list_item(p, item, err, errsz);
        if (!item)
            return -1;
        for (i = 0; i < n && strcmp(out->list[i], item) != 0; i++)
            ;
        if (i < n) {
            free(item);
            continue;
        }
        out->list = wb_realloc(out->list, (n + 2) * sizeof(char *));
        out->list[n++] = item;
        out->list[n] = NULL;
        total += strlen(item) + 1;
    }
    joined = wb_malloc(total);
    joined[0] = '\0';
    for (i = 0; i < n; i++) {
        if (i)
            strcat(joined, ",");
        strcat(joined, out->list[i]);
    }
    out->str = joined;
    return 0;
}

/* Parses value for row p into out (which the caller clears). Messages name the key. */
int wb_conf_value_parse(const struct wb_conf_prop *p, const char *value, struct value *out,
                        char *err, size_t errsz)
{
    char q[128];
    const char *problem;
    char *canon = NULL;

    quote(value, q, sizeof(q));
    out->list = wb_calloc(1, sizeof(char *));
    if (strlen(value) > MAX_LINE) {
        errf(err, errsz, "%s: value too long (more than %d bytes)", p->name, MAX_LINE);
        return -1;
    }
    problem = wb_conf_value_problem(value);
    if (problem) {
        errf(err, errsz, "%s: value \"%s\" %s", p->name, q, problem);
        return -1;
    }
    switch (p->type) {
    case WB_CONF_T_STR:
        if (*value && p->check && run_check(p, value, &canon, err, errsz) != 0)
            return -1;
        out->str = canon ? canon : wb_strdup(value);
        return 0;
    case WB_CONF_T_INT:
        return parse_int(p, value, out, err, errsz);
    case WB_CONF_T_BOOL:
        if (parse_bool(value, &out->num) != 0) {
            errf(err, errsz, "%s: \"%s\" is not a boolean (true/false, yes/no, on/off, 1/0)",
                 p->name, q);
            return -1;
        }
        out->str = wb_strdup(out->num ? "true" : "false");
        return 0;
    case WB_CONF_T_ENUM:
        out->str = allowed_match(p->allowed, value);
        if (!out->str)
            return not_allowed(p, value, err, errsz);
        return 0;
    case WB_CONF_T_LIST:
        return parse_list(p, value, out, err, errsz);
    }
    return -1;
}
