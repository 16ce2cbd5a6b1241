/*
 * wb_conf_doc: output generated from the property table: the effective configuration
 * (wb_conf_dump, secrets masked), deploy/CONFIG.md and deploy/writeback.conf.example.
 * tests/unit/0002-conf-docs.c keeps the checked-in files equal to what this writes.
 */
#include "wb_conf_int.h"

/* Writes a value so that loading it back gives the same value. */
static void put_value(FILE *fp, const char *s)
{
    size_t n = strlen(s);

    if (n > 0 &&
        (s[0] == ' ' || s[0] == '\t' || s[0] == '"' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        fprintf(fp, "\"%s\"", s);
    else
        fputs(s, fp);
}

void wb_conf_dump(const wb_conf_t *conf, FILE *fp)
{
    const struct wb_conf_prop *p;
    size_t i;

    fprintf(fp, "# writeback effective configuration\n");
    for (p = wb_conf_props; p->name; p++) {
        const struct value *v = &conf->vals[prop_index(p)];

        if (is_kafka_key(p->name))
            continue;
        if (!v->str) {
            fprintf(fp, "# %s =\n", p->name);
            continue;
        }
        fprintf(fp, "%s = ", p->name);
        /* A *_file key's value is a path; only an inline secret would need masking. */
        if ((p->flags & WB_CONF_F_SECRET) && !strstr(p->name, "_file"))
            fputs("****", fp);
        else
            put_value(fp, v->str);
        fputc('\n', fp);
    }
    for (i = 0; i < conf->nkv; i++) {
        fprintf(fp, KAFKA_PREFIX "%s = ", conf->kv[i].name);
        if (kafka_sensitive(conf->kv[i].name))
            fputs("****", fp);
        else
            put_value(fp, conf->kv[i].value);
        fputc('\n', fp);
    }
}

/* Documentation sections, in order; a row belongs to the first whose prefixes match. */
static const struct section {
    const char *prefixes; /* space-separated, each followed by '.'; "" matches keys without */
    const char *title;
    const char *intro;
} sections[] = {
    {"", "General", "Settings every program reads."},
    {"graph", "graph: Microsoft Graph",
     "How the producer reaches the tenant: OAuth2 client credentials, then Graph delta queries."},
    {"scope", "scope: which groups are provisioned",
     "Evaluated by the producer; a group leaving scope produces a group.unscoped event."},
    {"kafka topic", "kafka, topic: Apache Kafka",
     "Every kafka.* key is handed to librdkafka with the prefix removed (kafka.security.protocol "
     "= ssl sets security.protocol), so any librdkafka property can be used; names are checked "
     "against librdkafka when the file is read. group.id, transactional.id and "
     "enable.auto.offset.store are managed by writeback."},
    {"ldap", "ldap: Active Directory", "How the worker reaches the domain controllers."},
    {"mapping", "mapping: attribute mappings",
     "The default mappings are Microsoft Entra Cloud Sync's; these keys change them."},
    {"worker", "worker: writeback-worker", NULL},
    {"drift", "drift: out-of-band changes in AD",
     "How workers watch the groups they own for changes made by anyone else (docs/drift.md)."},
    {"producer", "producer: writeback-producer", NULL},
    {"notify", "notify: Graph change notifications through Azure Event Hubs",
     "Optional (off by default): notifications only trigger delta rounds, which stay the source "
     "of truth (docs/notifications.md)."},
    {"log", "log: logging", "Lines go to stderr, one per message."},
};
#define NSECTIONS (sizeof(sections) / sizeof(sections[0]))

static size_t section_of(const char *name)
{
    const char *dot = strchr(name, '.');
    size_t plen = dot ? (size_t)(dot - name) : 0, i;

    for (i = 0; i < NSECTIONS; i++) {
        const char *s = sections[i].prefixes;

        if (!dot) {
            if (!*s)
                return i;
            continue;
        }
        while (*s) {
            size_t n = strcspn(s, " ");

            if (n == plen && strncmp(s, name, n) == 0)
                return i;
            s += n;
            s += strspn(s, " ");
        }
    }
    return 0;
}

static const char *type_name(const struct wb_conf_prop *p)
{
    if (p->flags & WB_CONF_F_SECRET)
        return "secret file";
    if (p->flags & WB_CONF_F_PATH)
        return "path";
    switch (p->type) {
    case WB_CONF_T_STR:
        return "string";
    case WB_CONF_T_INT:
        return "integer";
    case WB_CONF_T_BOOL:
        return "boolean";
    case WB_CONF_T_ENUM:
        return "enum";
    case WB_CONF_T_LIST:
        return "list";
    }
    return "?";
}

static void range_text(const struct wb_conf_prop *p, char *buf, size_t bufsz, bool markdown)
{
    buf[0] = '\0';
    if (p->type == WB_CONF_T_INT)
        snprintf(buf, bufsz, "%lld .. %lld", (long long)p->min, (long long)p->max);
    else if (p->allowed) {
        const char *s = p->allowed;
        size_t o = 0;

        while (*s && o + 1 < bufsz) {
            size_t n = strcspn(s, ",");
            int k = snprintf(buf + o, bufsz - o, markdown ? "%s`%.*s`" : "%s%.*s", o ? ", " : "",
                             (int)n, s);

            if (k < 0)
                break;
            o += (size_t)k;
            s += n;
            s += *s == ',';
        }
    }
}

static void programs_text(const struct wb_conf_prop *p, char *buf, size_t bufsz)
{
    static const struct {
        unsigned bit;
        const char *name;
    } progs[] = {{WB_CONF_PRODUCER, "producer"}, {WB_CONF_WORKER, "worker"}, {WB_CONF_CTL, "ctl"}};
    size_t i, o = 0;

    buf[0] = '\0';
    for (i = 0; i < 3 && o + 1 < bufsz; i++) {
        int k;

        if (!(p->programs & progs[i].bit))
            continue;
        k = snprintf(buf + o, bufsz - o, "%s%s%s", o ? ", " : "", progs[i].name,
                     p->required & progs[i].bit ? " (required)" : "");
        if (k < 0)
            break;
        o += (size_t)k;
    }
}

/* Markdown text: '|' would end a table cell, '*' start emphasis, and <tenant> would be
 * taken for an HTML tag. Text inside `backticks` is left alone. */
static void md_cell(FILE *fp, const char *s)
{
    bool code = false;

    for (; *s; s++) {
        if (*s == '`')
            code = !code;
        if (*s == '|')
            fputs("\\|", fp);
        else if (!code && *s == '*')
            fputs("\\*", fp);
        else if (!code && *s == '<')
            fputs("&lt;", fp);
        else if (!code && *s == '>')
            fputs("&gt;", fp);
        else
            fputc(*s, fp);
    }
}

void wb_conf_markdown(FILE *fp)
{
    const struct wb_conf_prop *p;
    size_t cur = NSECTIONS;
    char buf[512];

    fputs("# writeback configuration reference\n\n"
          "<!-- Generated from common/wb_conf_table.c; do not edit. Refresh with\n"
          "     WB_UPDATE_DOCS=1 ctest --test-dir <build> -R 0002-conf-docs -->\n\n"
          "All three programs read a `key = value` file named with `-c` and then apply each\n"
          "`-X key=value` option in order, so `-X` overrides the file. In the file, blank lines\n"
          "and lines starting with `#` are ignored, whitespace around key and value is trimmed,\n"
          "and a value wholly in double quotes loses the quotes; there are no inline comments.\n"
          "Errors name the place: `worker.conf:12: ...` or `-X key=value: ...`; every error is\n"
          "reported, and a program with a configuration error exits with status 2.\n\n"
          "Booleans accept `true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0`; lists are\n"
          "comma-separated. Secrets are never written in the file: a *secret file* key names a\n"
          "file whose contents (one trailing newline ignored) are read at start and never logged.\n"
          "`deploy/writeback.conf.example` lists every key with its default.\n",
          fp);
    for (p = wb_conf_props; p->name; p++) {
        size_t sec = section_of(p->name);

        if (sec != cur) {
            cur = sec;
            fprintf(fp, "\n## %s\n\n", sections[sec].title);
            if (sections[sec].intro) {
                md_cell(fp, sections[sec].intro);
                fputs("\n\n", fp);
            }
            fputs("| key | type | default | range / allowed | programs | description |\n"
                  "|---|---|---|---|---|---|\n",
                  fp);
        }
        fprintf(fp, "| `%s` | %s | ", p->name, type_name(p));
        if (p->defval && *p->defval)
            fprintf(fp, "`%s`", p->defval);
        fputs(" | ", fp);
        range_text(p, buf, sizeof(buf), true);
        md_cell(fp, buf);
        fputs(" | ", fp);
        programs_text(p, buf, sizeof(buf));
        fputs(buf, fp);
        fputs(" | ", fp);
        md_cell(fp, p->desc);
        fputs(" |\n", fp);
    }
}

/* Writes text as "# " comment lines of at most 100 columns. */
static void comment_wrap(FILE *fp, const char *text)
{
    const char *s = text;

    while (*s) {
        size_t n = strlen(s), cut = n;

        if (n > 98) {
            cut = 98;
            while (cut > 0 && s[cut] != ' ')
                cut--;
            if (cut == 0)
                cut = 98;
        }
        fprintf(fp, "# %.*s\n", (int)cut, s);
        s += cut;
        while (*s == ' ')
            s++;
    }
}

void wb_conf_example(FILE *fp)
{
    const struct wb_conf_prop *p;
    size_t cur = NSECTIONS;
    char range[512], progs[128], line[1024];

    fputs("# writeback configuration: every key, commented out, set to its default.\n"
          "# Generated from common/wb_conf_table.c; do not edit. Refresh with\n"
          "#   WB_UPDATE_DOCS=1 ctest --test-dir <build> -R 0002-conf-docs\n"
          "# Syntax: key = value; '#' starts a comment line; -X key=value overrides a key.\n"
          "# Reference: deploy/CONFIG.md.\n",
          fp);
    for (p = wb_conf_props; p->name; p++) {
        size_t sec = section_of(p->name);

        if (sec != cur) {
            cur = sec;
            fprintf(fp, "\n##\n## %s\n##\n", sections[sec].title);
            if (sections[sec].intro) {
                comment_wrap(fp, sections[sec].intro);
            }
        }
        fputc('\n', fp);
        comment_wrap(fp, p->desc);
        range_text(p, range, sizeof(range), false);
        programs_text(p, progs, sizeof(progs));
        snprintf(line, sizeof(line), "Type: %s%s%s%s. Programs: %s.", type_name(p),
                 *range ? (p->type == WB_CONF_T_INT ? ", range " : ", one of ") : "", range,
                 p->type == WB_CONF_T_LIST && p->allowed ? " (each item)" : "", progs);
        comment_wrap(fp, line);
        fprintf(fp, "#%s =%s%s\n", p->name, p->defval && *p->defval ? " " : "",
                p->defval ? p->defval : "");
    }
}
