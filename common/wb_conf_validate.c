/*
 * wb_conf_validate: start-of-program checks. Every problem is collected, not just the first,
 * so an operator fixes a configuration in one pass; secret files are read here, once, and
 * wiped when the configuration is destroyed.
 */
#include "wb_conf_int.h"
#include "wb_log.h"
#include "wb_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <ldap.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *prog_names(unsigned progs, char *buf, size_t bufsz)
{
    snprintf(buf, bufsz, "%s%s%s%s%s", progs & WB_CONF_PRODUCER ? "writeback-producer" : "",
             (progs & WB_CONF_PRODUCER) && (progs & (WB_CONF_WORKER | WB_CONF_CTL)) ? ", " : "",
             progs & WB_CONF_WORKER ? "writeback-worker" : "",
             (progs & WB_CONF_WORKER) && (progs & WB_CONF_CTL) ? ", " : "",
             progs & WB_CONF_CTL ? "writebackctl" : "");
    return buf;
}

/* Reads a secret file: a regular file of at most MAX_SECRET bytes without NUL bytes;
 * trailing CR/LF removed; must not be empty. Like ssh with a private key, a file of ours that
 * the group or others may read or write is refused: the secret has already leaked to them, or
 * can be swapped. A file owned by another user (root's 0444 systemd credential, a Kubernetes
 * secret volume read by a non-root container user) is that owner's business. */
static char *read_secret(const char *path, char *err, size_t errsz)
{
    char *buf = NULL;
    size_t len = 0;
    struct stat st;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        errf(err, errsz, "cannot open \"%s\": %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        errf(err, errsz, "\"%s\" is not a regular file", path);
        goto fail;
    }
    if (st.st_uid == geteuid() && (st.st_mode & 077) != 0) {
        errf(err, errsz,
             "\"%s\" has mode %04o: a secret file must not be accessible by group or others "
             "(run: chmod 600 %s)",
             path, (unsigned)(st.st_mode & 07777), path);
        goto fail;
    }
    buf = wb_malloc(MAX_SECRET + 1);
    for (;;) {
        ssize_t n = read(fd, buf + len, MAX_SECRET + 1 - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            errf(err, errsz, "cannot read \"%s\": %s", path, strerror(errno));
            goto fail;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > MAX_SECRET) {
            errf(err, errsz, "\"%s\" is larger than %d bytes", path, MAX_SECRET);
            goto fail;
        }
    }
    if (memchr(buf, '\0', len)) {
        errf(err, errsz, "\"%s\" contains a NUL byte", path);
        goto fail;
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    buf[len] = '\0';
    if (len == 0) {
        errf(err, errsz, "\"%s\" is empty", path);
        goto fail;
    }
    close(fd);
    return buf;
fail:
    if (buf) {
        explicit_bzero(buf, MAX_SECRET + 1);
        free(buf);
    }
    close(fd);
    return NULL;
}

static const struct value *val(const wb_conf_t *conf, const char *key)
{
    return &conf->vals[prop_index(wb_conf_prop_find(key))];
}

static const char *where(const struct value *v, char *buf, size_t bufsz)
{
    if (v->origin)
        snprintf(buf, bufsz, "%s: ", v->origin);
    else
        buf[0] = '\0';
    return buf;
}

/* Compares two parsed DNs from the right: is dn equal to or below base? Attribute types and
 * values compare case-insensitively, as AD does. */
static int dn_under(const char *dn, const char *base)
{
    LDAPDN d = NULL, b = NULL;
    int nd = 0, nb = 0, i, j, rc = -1;

    if (ldap_str2dn(dn, &d, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS ||
        ldap_str2dn(base, &b, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS || !d || !b)
        goto out;
    while (d[nd])
        nd++;
    while (b[nb])
        nb++;
    rc = 0;
    if (nb > nd)
        goto out;
    for (i = 0; i < nb; i++) {
        LDAPRDN rd = d[nd - nb + i], rb = b[i];

        for (j = 0; rd[j] || rb[j]; j++) {
            if (!rd[j] || !rb[j])
                goto out;
            if (rd[j]->la_attr.bv_len != rb[j]->la_attr.bv_len ||
                rd[j]->la_value.bv_len != rb[j]->la_value.bv_len ||
                strncasecmp(rd[j]->la_attr.bv_val, rb[j]->la_attr.bv_val, rd[j]->la_attr.bv_len) !=
                    0 ||
                strncasecmp(rd[j]->la_value.bv_val, rb[j]->la_value.bv_val,
                            rd[j]->la_value.bv_len) != 0)
                goto out;
        }
    }
    rc = 1;
out:
    if (d)
        ldap_dnfree(d);
    if (b)
        ldap_dnfree(b);
    return rc;
}

static void validate_ldap(const wb_conf_t *conf, struct errbuf *eb)
{
    const struct value *uri = val(conf, "ldap.uri"), *ou = val(conf, "ldap.target_ou");
    const struct value *base = val(conf, "ldap.base_dn");
    bool starttls = wb_conf_get_bool(conf, "ldap.starttls");
    bool insecure = wb_conf_get_bool(conf, "ldap.allow_insecure");
    char w[4200];
    const char *p;

    if (ou->str && *ou->str && base->str && *base->str && dn_under(ou->str, base->str) != 1)
        eb_add(eb, "%sldap.target_ou \"%s\" is not under ldap.base_dn \"%s\"",
               where(ou, w, sizeof(w)), ou->str, base->str);
    for (p = uri->str; p && *p;) {
        size_t n = strcspn(p, " \t,");

        if (n >= 8 && strncasecmp(p, "ldaps://", 8) == 0 && starttls)
            eb_add(eb, "%sldap.starttls=true cannot be used with the ldaps:// URI \"%.*s\"",
                   where(uri, w, sizeof(w)), (int)n, p);
        if (n >= 7 && strncasecmp(p, "ldap://", 7) == 0 && !starttls && !insecure)
            eb_add(eb,
                   "%sldap.uri \"%.*s\" is plain LDAP: use ldaps://, set ldap.starttls=true, "
                   "or (tests only) ldap.allow_insecure=true",
                   where(uri, w, sizeof(w)), (int)n, p);
        p += n;
        p += strspn(p, " \t,");
    }
}

static void validate_scope(const wb_conf_t *conf, struct errbuf *eb)
{
    const struct value *mode = val(conf, "scope.mode"), *ids = val(conf, "scope.group_ids");
    const struct value *filter = val(conf, "scope.filter");
    bool has_ids = ids->list[0] != NULL, has_filter = filter->str && *filter->str;
    char w[4200];

    if (strcmp(mode->str, "selected") == 0 && !has_ids)
        eb_add(eb, "%sscope.mode=selected needs scope.group_ids", where(mode, w, sizeof(w)));
    if (strcmp(mode->str, "filter") == 0 && !has_filter)
        eb_add(eb, "%sscope.mode=filter needs scope.filter", where(mode, w, sizeof(w)));
    /* Ids or a filter with the wrong mode would silently widen the scope to every group. */
    if (strcmp(mode->str, "selected") != 0 && has_ids)
        eb_add(eb, "%sscope.group_ids is set but scope.mode is %s (set scope.mode=selected)",
               where(ids, w, sizeof(w)), mode->str);
    if (strcmp(mode->str, "filter") != 0 && has_filter)
        eb_add(eb, "%sscope.filter is set but scope.mode is %s (set scope.mode=filter)",
               where(filter, w, sizeof(w)), mode->str);
}

/* worker.id makes the worker a static member with group.instance.id
 * <worker.group_id>-<worker.id> (worker/wb_worker.c), which Kafka accepts only as at most
 * 249 characters of [a-zA-Z0-9._-]; an explicit kafka.group.instance.id is used instead. */
static void validate_worker_id(const wb_conf_t *conf, struct errbuf *eb)
{
    const struct value *wid = val(conf, "worker.id"), *gid = val(conf, "worker.group_id");
    const char *const *kv = wb_conf_kafka_kv(conf);
    char w[4200];
    size_t i;

    if (!wid->str || !*wid->str)
        return;
    for (i = 0; kv[i]; i += 2)
        if (strcmp(kv[i], "group.instance.id") == 0)
            return;
    if (strspn(wid->str, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
            strlen(wid->str) ||
        strspn(gid->str, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
            strlen(gid->str) ||
        strlen(gid->str) + 1 + strlen(wid->str) > 249)
        eb_add(eb,
               "%sworker.id \"%s\": the static member id worker.group_id-worker.id must be at "
               "most 249 characters of [a-zA-Z0-9._-]; change worker.id or worker.group_id, or "
               "set kafka.group.instance.id",
               where(wid, w, sizeof(w)), wid->str);
}

wb_err_t wb_conf_validate(wb_conf_t *conf, unsigned programs, char *errstr, size_t errsz)
{
    static const char *const topics[] = {"topic.events", "topic.dlq", "topic.state"};
    const struct wb_conf_prop *p;
    struct errbuf eb;
    char names[128], w[4200], err[1024];
    size_t i, j;

    eb_init(&eb, errstr, errsz);
    for (p = wb_conf_props; p->name; p++) {
        struct value *v = &conf->vals[prop_index(p)];
        bool has =
            is_kafka_key(p->name) ? wb_conf_get_str(conf, p->name) != NULL : v->str && *v->str;
        bool used = (p->programs & programs) != 0;

        if ((p->required & programs) && !has)
            eb_add(&eb, "missing required key \"%s\" (needed by %s)", p->name,
                   prog_names(p->required & programs, names, sizeof(names)));
        if (p->flags & WB_CONF_F_SECRET) {
            wipe_free(v->secret);
            v->secret = NULL;
            if (has && used) {
                err[0] = '\0';
                v->secret = read_secret(v->str, err, sizeof(err));
                if (!v->secret)
                    eb_add(&eb, "%s%s: %s", where(v, w, sizeof(w)), p->name, err);
                wb_log_secret(v->secret);
            }
        }
        if ((p->flags & WB_CONF_F_PATH) && has && used && access(v->str, R_OK) != 0)
            eb_add(&eb, "%s%s: cannot read \"%s\": %s", where(v, w, sizeof(w)), p->name, v->str,
                   strerror(errno));
    }
    for (i = 0; i < conf->nkv; i++)
        if (kafka_sensitive(conf->kv[i].name))
            wb_log_secret(conf->kv[i].value);
    validate_ldap(conf, &eb);
    validate_scope(conf, &eb);
    if (programs & WB_CONF_WORKER)
        validate_worker_id(conf, &eb);
    if (wb_conf_get_int(conf, "worker.retry_backoff_ms") >
        wb_conf_get_int(conf, "worker.retry_backoff_max_ms"))
        eb_add(&eb, "%sworker.retry_backoff_ms is larger than worker.retry_backoff_max_ms",
               where(val(conf, "worker.retry_backoff_ms"), w, sizeof(w)));
    for (i = 0; i < 3; i++)
        for (j = i + 1; j < 3; j++)
            if (strcmp(val(conf, topics[i])->str, val(conf, topics[j])->str) == 0)
                eb_add(&eb, "%s and %s are both \"%s\"", topics[i], topics[j],
                       val(conf, topics[i])->str);
    return eb.count ? WB_ERR_INVALID : WB_OK;
}
