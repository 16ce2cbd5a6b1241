/*
 * 0001-conf: the configuration module: defaults, file syntax, -X order, error messages with
 * file:line and suggestions, bounds, enums, booleans, secret files (never dumped), kafka.*
 * passthrough, validation of required keys and cross-key rules, hostile input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "wb_conf.h"
#include "wb_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/wb-0001-XXXXXX";

/* Writes len bytes to a new file under tmpdir and returns its caller-owned path. */
static char *write_file(const char *name, const char *data, size_t len)
{
    char *path = wb_asprintf("%s/%s", tmpdir, name);
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    fclose(fp);
    /* secret files must be private (test_secret_file_modes); the others do not care */
    assert_int_equal(chmod(path, 0600), 0);
    return path;
}

static char *write_text(const char *name, const char *text)
{
    return write_file(name, text, strlen(text));
}

static char *dump_string(const wb_conf_t *conf)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);

    assert_non_null(fp);
    wb_conf_dump(conf, fp);
    fclose(fp);
    return buf;
}

static int count_lines(const char *s)
{
    int n = *s ? 1 : 0;

    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void test_defaults(void **state)
{
    wb_conf_t *conf = wb_conf_new();

    (void)state;
    assert_int_equal(wb_conf_get_int(conf, "graph.poll_interval_ms"), 120000);
    assert_int_equal(wb_conf_get_int(conf, "graph.delete_threshold"), 500);
    assert_int_equal(wb_conf_get_int(conf, "topic.partitions"), 12);
    assert_int_equal(wb_conf_get_int(conf, "ldap.range_window"), 5000);
    assert_string_equal(wb_conf_get_str(conf, "graph.authority"),
                        "https://login.microsoftonline.com");
    assert_string_equal(wb_conf_get_str(conf, "graph.endpoint"), "https://graph.microsoft.com");
    assert_string_equal(wb_conf_get_str(conf, "topic.events"), "writeback.groups");
    assert_string_equal(wb_conf_get_str(conf, "topic.dlq"), "writeback.groups.dlq");
    assert_string_equal(wb_conf_get_str(conf, "topic.state"), "writeback.state");
    assert_string_equal(wb_conf_get_str(conf, "scope.mode"), "all");
    assert_string_equal(wb_conf_get_str(conf, "worker.out_of_scope"), "delete");
    assert_string_equal(wb_conf_get_str(conf, "worker.metrics_listen"), "127.0.0.1:9464");
    assert_string_equal(wb_conf_get_str(conf, "producer.metrics_listen"), "127.0.0.1:9465");
    assert_string_equal(wb_conf_get_str(conf, "worker.group_id"), "writeback-workers");
    assert_string_equal(wb_conf_get_str(conf, "tenant"), "default");
    assert_string_equal(wb_conf_get_str(conf, "log.level"), "info");
    assert_false(wb_conf_get_bool(conf, "worker.dry_run"));
    assert_false(wb_conf_get_bool(conf, "ldap.allow_insecure"));
    assert_null(wb_conf_get_str(conf, "ldap.uri"));
    assert_null(wb_conf_get_str(conf, "worker.id"));
    assert_null(wb_conf_get_str(conf, "kafka.bootstrap.servers"));
    assert_null(wb_conf_get_list(conf, "scope.group_ids")[0]);
    assert_null(wb_conf_get_list(conf, "log.debug")[0]);
    assert_null(wb_conf_kafka_kv(conf)[0]);
    assert_false(wb_conf_is_set(conf, "graph.poll_interval_ms"));
    assert_null(wb_conf_secret(conf, "ldap.password_file"));
    wb_conf_destroy(conf);
    wb_conf_destroy(NULL);
}

/* Every stable key name of docs/configuration.md is in the table. */
static void test_stable_keys(void **state)
{
    static const char *const keys[] = {"graph.tenant_id",
                                       "graph.client_id",
                                       "graph.client_secret_file",
                                       "graph.authority",
                                       "graph.endpoint",
                                       "graph.ca_file",
                                       "graph.poll_interval_ms",
                                       "graph.delete_threshold",
                                       "scope.mode",
                                       "scope.group_ids",
                                       "scope.filter",
                                       "kafka.bootstrap.servers",
                                       "topic.events",
                                       "topic.dlq",
                                       "topic.state",
                                       "ldap.uri",
                                       "ldap.bind_dn",
                                       "ldap.password_file",
                                       "ldap.ca_file",
                                       "ldap.base_dn",
                                       "ldap.target_ou",
                                       "mapping.soa",
                                       "worker.dry_run",
                                       "worker.adopt_writeback_v2",
                                       "worker.out_of_scope",
                                       "worker.metrics_listen",
                                       "producer.metrics_listen",
                                       NULL};
    const struct wb_conf_prop *p;
    size_t i;

    (void)state;
    for (i = 0; keys[i]; i++)
        assert_non_null(wb_conf_prop_find(keys[i]));
    for (p = wb_conf_props; p->name; p++) {
        size_t n = strlen(p->desc);

        assert_true(n > 10 && n < 400);
        assert_int_equal(p->desc[n - 1], '.');
        assert_true(p->programs != 0);
        assert_int_equal(p->required & ~p->programs, 0);
        if (p->flags & WB_CONF_F_SECRET)
            assert_non_null(strstr(p->name, "_file"));
    }
}

static void test_file_parse(void **state)
{
    char err[1024];
    char *path =
        write_text("parse.conf", "\xef\xbb\xbf# a comment\n"
                                 "\n"
                                 "   # indented comment\n"
                                 "graph.poll_interval_ms=5000\n"
                                 "  tenant   =   contoso  \n"
                                 "scope.filter = \"  spaces kept  \"\n"
                                 "ldap.bind_dn = CN=svc,OU=Svc,DC=example,DC=com\r\n"
                                 "scope.mode = SELECTED\n"
                                 "scope.group_ids = 0A1B2C3D-0000-4000-8000-00000000000A, ,"
                                 "0a1b2c3d-0000-4000-8000-00000000000a,"
                                 "11111111-2222-4333-8444-555555555555\n"
                                 "graph.endpoint = http://127.0.0.1:8443/\n"
                                 "log.debug = kafka, LDAP\n"
                                 "worker.id =\n");
    wb_conf_t *conf = wb_conf_new();
    const char *const *ids;

    (void)state;
    assert_int_equal(wb_conf_load_file(conf, path, err, sizeof(err)), WB_OK);
    assert_string_equal(err, "");
    assert_int_equal(wb_conf_get_int(conf, "graph.poll_interval_ms"), 5000);
    assert_true(wb_conf_is_set(conf, "graph.poll_interval_ms"));
    assert_string_equal(wb_conf_get_str(conf, "tenant"), "contoso");
    assert_string_equal(wb_conf_get_str(conf, "scope.filter"), "  spaces kept  ");
    assert_string_equal(wb_conf_get_str(conf, "ldap.bind_dn"), "CN=svc,OU=Svc,DC=example,DC=com");
    assert_string_equal(wb_conf_get_str(conf, "scope.mode"), "selected");
    ids = wb_conf_get_list(conf, "scope.group_ids");
    /* Lower-cased, empty item and duplicate dropped. */
    assert_string_equal(ids[0], "0a1b2c3d-0000-4000-8000-00000000000a");
    assert_string_equal(ids[1], "11111111-2222-4333-8444-555555555555");
    assert_null(ids[2]);
    assert_string_equal(wb_conf_get_str(conf, "graph.endpoint"), "http://127.0.0.1:8443");
    assert_string_equal(wb_conf_get_str(conf, "log.debug"), "kafka,ldap");
    assert_null(wb_conf_get_str(conf, "worker.id"));
    wb_conf_destroy(conf);
    free(path);
}

static void test_override_order(void **state)
{
    char err[1024];
    char *path = write_text("order.conf", "graph.poll_interval_ms = 5000\n"
                                          "worker.dry_run = false\n"
                                          "kafka.client.id = from-file\n");
    const char *args[] = {"graph.poll_interval_ms=7000", "worker.dry_run = yes",
                          "graph.poll_interval_ms=9000", "kafka.client.id=from-x"};
    wb_conf_t *conf = wb_conf_new();

    (void)state;
    assert_int_equal(wb_conf_load_file(conf, path, err, sizeof(err)), WB_OK);
    assert_int_equal(wb_conf_get_int(conf, "graph.poll_interval_ms"), 5000);
    assert_int_equal(wb_conf_apply_args(conf, args, 4, err, sizeof(err)), WB_OK);
    assert_int_equal(wb_conf_get_int(conf, "graph.poll_interval_ms"), 9000);
    assert_true(wb_conf_get_bool(conf, "worker.dry_run"));
    assert_string_equal(wb_conf_get_str(conf, "kafka.client.id"), "from-x");
    assert_int_equal(wb_conf_set_arg(conf, "no-equals-sign", err, sizeof(err)), WB_ERR_INVALID);
    assert_string_equal(err, "-X no-equals-sign: expected key=value");
    wb_conf_destroy(conf);
    free(path);
}

static void test_unknown_key(void **state)
{
    char err[2048], *want;
    char *path = write_text("unknown.conf", "# header\n"
                                            "tenant = t1\n"
                                            "ldap.bindn = CN=x\n"
                                            "bootstrap.servers = k:9092\n"
                                            "bind_dn = CN=x\n"
                                            "totally.unrelated.thing = 1\n");
    wb_conf_t *conf = wb_conf_new();
    const char *arg = "grph.endpoint=https://x.example";

    (void)state;
    assert_int_equal(wb_conf_load_file(conf, path, err, sizeof(err)), WB_ERR_INVALID);
    want = wb_asprintf(
        "%s:3: unknown configuration key \"ldap.bindn\" (did you mean \"ldap.bind_dn\"?)\n"
        "%s:4: unknown configuration key \"bootstrap.servers\" (did you mean "
        "\"kafka.bootstrap.servers\"?)\n"
        "%s:5: unknown configuration key \"bind_dn\" (did you mean \"ldap.bind_dn\"?)\n"
        "%s:6: unknown configuration key \"totally.unrelated.thing\"",
        path, path, path, path);
    assert_string_equal(err, want);
    free(want);
    /* The good line still applied. */
    assert_string_equal(wb_conf_get_str(conf, "tenant"), "t1");
    assert_int_equal(wb_conf_apply_args(conf, &arg, 1, err, sizeof(err)), WB_ERR_INVALID);
    assert_string_equal(err, "-X grph.endpoint=https://x.example: unknown configuration key "
                             "\"grph.endpoint\" (did you mean \"graph.endpoint\"?)");
    wb_conf_destroy(conf);
    free(path);
}

static void test_bounds(void **state)
{
    char err[512];
    wb_conf_t *conf = wb_conf_new();

    (void)state;
    assert_int_equal(wb_conf_set(conf, "graph.poll_interval_ms", "999", err, sizeof(err)),
                     WB_ERR_INVALID);
    assert_string_equal(err, "graph.poll_interval_ms: 999 is out of range (1000 .. 86400000)");
    assert_int_equal(wb_conf_get_int(conf, "graph.poll_interval_ms"), 120000);
    assert_int_equal(wb_conf_set(conf, "graph.poll_interval_ms", "1000", err, sizeof(err)), WB_OK);
    assert_int_equal(wb_conf_get_int(conf, "graph.poll_interval_ms"), 1000);
    assert_int_equal(wb_conf_set(conf, "graph.poll_interval_ms", "86400001", err, sizeof(err)),
                     WB_ERR_INVALID);
    assert_int_equal(wb_conf_set(conf, "graph.delete_threshold", "12abc", err, sizeof(err)),
                     WB_ERR_INVALID);
    assert_string_equal(err, "graph.delete_threshold: \"12abc\" is not an integer");
    assert_int_equal(
        wb_conf_set(conf, "graph.delete_threshold", "99999999999999999999999", err, sizeof(err)),
        WB_ERR_INVALID);
    assert_int_equal(wb_conf_set(conf, "graph.delete_threshold", "", err, sizeof(err)),
                     WB_ERR_INVALID);
    assert_int_equal(wb_conf_set(conf, "graph.delete_threshold", "-1", err, sizeof(err)),
                     WB_ERR_INVALID);
    assert_int_equal(wb_conf_set(conf, "graph.delete_threshold", "0", err, sizeof(err)), WB_OK);
    assert_int_equal(wb_conf_get_int(conf, "graph.delete_threshold"), 0);
    assert_int_equal(wb_conf_set(conf, "ldap.member_chunk", "5001", err, sizeof(err)),
                     WB_ERR_INVALID);
    wb_conf_destroy(conf);
}

static void test_enum_and_formats(void **state)
{
    char err[512];
    wb_conf_t *conf = wb_conf_new();

    (void)state;
    assert_int_equal(wb_conf_set(conf, "worker.out_of_scope", "Keep", err, sizeof(err)), WB_OK);
    assert_string_equal(wb_conf_get_str(conf, "worker.out_of_scope"), "keep");
    assert_int_equal(wb_conf_set(conf, "worker.out_of_scope", "release", err, sizeof(err)),
                     WB_ERR_INVALID);
    assert_string_equal(err, "worker.out_of_scope: \"release\" is not one of: delete, keep");
    assert_string_equal(wb_conf_get_str(conf, "worker.out_of_scope"), "keep");
    assert_int_equal(wb_conf_set(conf, "scope.mode", "some", err, sizeof(err)), WB_ERR_INVALID);
    assert_string_equal(err, "scope.mode: \"some\" is not one of: all, selected, filter");
    assert_int_equal(wb_conf_set(conf, "log.debug", "kafka,nosuch", err, sizeof(err)),
                     WB_ERR_INVALID);
    assert_int_equal(wb_conf_set(conf, "scope.group_ids", "not-a-guid", err, sizeof(err)),
                     WB_ERR_INVALID);
    assert_non_null(strstr(err, "is not a GUID"));
    assert_int_equal(
        wb_conf_set(conf, "graph.authority", "http://login.example.com", err, sizeof(err)),
        WB_ERR_INVALID);
    assert_non_null(strstr(err, "must use https://"));
    assert_int_equal(wb_conf_set(conf, "graph.client_id", "abc", err, sizeof(err)), WB_ERR_INVALID);
    assert_int_equal(
        wb_conf_set(conf, "graph.tenant_id", "contoso.onmicrosoft.com", err, sizeof(err)), WB_OK);
    assert_int_equal(wb_conf_set(conf, "graph.tenant_id", "a/b", err, sizeof(err)), WB_ERR_INVALID);
    assert_int_equal(wb_conf_set(conf, "ldap.uri", "http://dc1", err, sizeof(err)), WB_ERR_INVALID);
    assert_int_equal(wb_conf_set(conf, "ldap.uri", "ldaps://dc1 ldaps://dc2:636", err, sizeof(err)),
                     WB_OK);
    assert_int_equal(wb_conf_set(conf, "ldap.base_dn", "not a dn", err, sizeof(err)),
                     WB_ERR_INVALID);
    assert_int_equal(wb_conf_set(conf, "topic.events", "bad topic", err, sizeof(err)),
                     WB_ERR_INVALID);
    assert_int_equal(wb_conf_set(conf, "worker.metrics_listen", "9464", err, sizeof(err)),
                     WB_ERR_INVALID);
    assert_int_equal(wb_conf_set(conf, "worker.metrics_listen", "[::1]:9464", err, sizeof(err)),
                     WB_OK);
    assert_int_equal(wb_conf_set(conf, "worker.metrics_listen", "", err, sizeof(err)), WB_OK);
    assert_null(wb_conf_get_str(conf, "worker.metrics_listen"));
    assert_int_equal(wb_conf_set(conf, "tenant", "a/b", err, sizeof(err)), WB_ERR_INVALID);
    wb_conf_destroy(conf);
}

static void test_bool_forms(void **state)
{
    static const char *const yes[] = {"true", "TRUE", "yes", "On", "1", NULL};
    static const char *const no[] = {"false", "No", "off", "0", NULL};
    char err[512];
    wb_conf_t *conf = wb_conf_new();
    size_t i;

    (void)state;
    for (i = 0; yes[i]; i++) {
        assert_int_equal(wb_conf_set(conf, "worker.dry_run", "false", err, sizeof(err)), WB_OK);
        assert_int_equal(wb_conf_set(conf, "worker.dry_run", yes[i], err, sizeof(err)), WB_OK);
        assert_true(wb_conf_get_bool(conf, "worker.dry_run"));
        assert_string_equal(wb_conf_get_str(conf, "worker.dry_run"), "true");
    }
    for (i = 0; no[i]; i++) {
        assert_int_equal(wb_conf_set(conf, "worker.dry_run", "true", err, sizeof(err)), WB_OK);
        assert_int_equal(wb_conf_set(conf, "worker.dry_run", no[i], err, sizeof(err)), WB_OK);
        assert_false(wb_conf_get_bool(conf, "worker.dry_run"));
    }
    assert_int_equal(wb_conf_set(conf, "worker.dry_run", "maybe", err, sizeof(err)),
                     WB_ERR_INVALID);
    assert_string_equal(
        err, "worker.dry_run: \"maybe\" is not a boolean (true/false, yes/no, on/off, 1/0)");
    assert_int_equal(wb_conf_set(conf, "worker.dry_run", "2", err, sizeof(err)), WB_ERR_INVALID);
    wb_conf_destroy(conf);
}

/* A producer configuration with every required key; secret is the client secret file. */
static wb_conf_t *producer_conf(const char *secret_path)
{
    char err[1024];
    wb_conf_t *conf = wb_conf_new();

    assert_int_equal(wb_conf_set(conf, "graph.tenant_id", "11111111-2222-4333-8444-555555555555",
                                 err, sizeof(err)),
                     WB_OK);
    assert_int_equal(wb_conf_set(conf, "graph.client_id", "21111111-2222-4333-8444-555555555555",
                                 err, sizeof(err)),
                     WB_OK);
    assert_int_equal(wb_conf_set(conf, "graph.client_secret_file", secret_path, err, sizeof(err)),
                     WB_OK);
    assert_int_equal(
        wb_conf_set(conf, "kafka.bootstrap.servers", "127.0.0.1:19092", err, sizeof(err)), WB_OK);
    return conf;
}

static void test_secret_file(void **state)
{
    static const char secret[] = "s3cr3t-Value-do-not-print";
    static const char kpass[] = "kafka-pass-do-not-print";
    char err[2048];
    char *body = wb_asprintf("%s\r\n\n", secret);
    char *path = write_text("client.secret", body);
    wb_conf_t *conf = producer_conf(path);
    char *dump;

    (void)state;
    assert_int_equal(wb_conf_set(conf, "kafka.sasl.password", kpass, err, sizeof(err)), WB_OK);
    assert_int_equal(wb_conf_set(conf, "kafka.sasl.username", "svc-user", err, sizeof(err)), WB_OK);
    /* Not read before validation. */
    assert_null(wb_conf_secret(conf, "graph.client_secret_file"));
    assert_int_equal(wb_conf_validate(conf, WB_CONF_PRODUCER, err, sizeof(err)), WB_OK);
    assert_string_equal(err, "");
    assert_string_equal(wb_conf_secret(conf, "graph.client_secret_file"), secret);
    /* The path itself is ordinary configuration. */
    assert_string_equal(wb_conf_get_str(conf, "graph.client_secret_file"), path);
    dump = dump_string(conf);
    assert_null(strstr(dump, secret));
    assert_null(strstr(dump, kpass));
    assert_non_null(strstr(dump, "kafka.sasl.password = ****\n"));
    assert_non_null(strstr(dump, "kafka.sasl.username = svc-user\n"));
    assert_non_null(strstr(dump, "# ldap.uri =\n"));
    free(dump);
    /* A worker does not read the producer's secret. */
    assert_int_equal(wb_conf_validate(conf, WB_CONF_WORKER, err, sizeof(err)), WB_ERR_INVALID);
    assert_null(wb_conf_secret(conf, "graph.client_secret_file"));
    assert_null(strstr(err, secret));
    wb_conf_destroy(conf);
    free(path);
    free(body);
}

/* Issue 13, finding 8: secret files of ours that group or others can read or write are
 * refused, naming the file, its mode and the fix; owner-only modes pass. */
static void test_secret_file_modes(void **state)
{
    static const mode_t bad[] = {0640, 0604, 0620, 0602, 0644, 0660, 0666, 0610, 0601};
    static const mode_t good[] = {0600, 0400};
    char err[2048], want[512];
    char *path = write_text("mode.secret", "s3cr3t\n");
    wb_conf_t *conf;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(chmod(path, bad[i]), 0);
        conf = producer_conf(path);
        assert_int_equal(wb_conf_validate(conf, WB_CONF_PRODUCER, err, sizeof(err)),
                         WB_ERR_INVALID);
        snprintf(want, sizeof(want),
                 "graph.client_secret_file: \"%s\" has mode %04o: a secret file must not be "
                 "accessible by group or others (run: chmod 600 %s)",
                 path, (unsigned)bad[i], path);
        assert_string_equal(err, want);
        assert_null(wb_conf_secret(conf, "graph.client_secret_file"));
        wb_conf_destroy(conf);
    }
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(chmod(path, good[i]), 0);
        conf = producer_conf(path);
        assert_int_equal(wb_conf_validate(conf, WB_CONF_PRODUCER, err, sizeof(err)), WB_OK);
        assert_string_equal(wb_conf_secret(conf, "graph.client_secret_file"), "s3cr3t");
        wb_conf_destroy(conf);
    }
    assert_int_equal(chmod(path, 0600), 0);
    free(path);
}

/* Issue 13, finding 6: http:// only to loopback addresses, never to names that start like
 * one; no user name or password in Graph URLs. */
static void test_url_loopback(void **state)
{
    static const char *const bad[] = {"http://127.evil.example",
                                      "http://127.0.0.1.nip.io",
                                      "http://127.0.0.1.nip.io:8080/",
                                      "http://localhost.evil.example",
                                      "http://[::2]:80",
                                      "http://10.0.0.1",
                                      "https://graph.microsoft.com@evil.example",
                                      "https://user:pw@graph.microsoft.com",
                                      "http://127.0.0.1:80@evil.example"};
    static const char *const good[] = {
        "http://localhost:8080", "http://127.0.0.1:8080",       "http://127.1.2.3",
        "http://[::1]:8080",     "https://graph.microsoft.com", "https://evil.example"};
    char err[1024];
    wb_conf_t *conf = wb_conf_new();
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (wb_conf_set(conf, "graph.endpoint", bad[i], err, sizeof(err)) != WB_ERR_INVALID)
            fail_msg("graph.endpoint %s accepted", bad[i]);
        if (wb_conf_set(conf, "graph.authority", bad[i], err, sizeof(err)) != WB_ERR_INVALID)
            fail_msg("graph.authority %s accepted", bad[i]);
    }
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (wb_conf_set(conf, "graph.endpoint", good[i], err, sizeof(err)) != WB_OK)
            fail_msg("graph.endpoint %s refused: %s", good[i], err);
    wb_conf_destroy(conf);
}

static void test_secret_file_errors(void **state)
{
    char err[2048], *cpath, *want;
    char *empty = write_text("empty.secret", "\n");
    char *nul = write_file("nul.secret", "ab\0cd", 5);
    wb_conf_t *conf;

    (void)state;
    conf = producer_conf("/nonexistent/secret");
    assert_int_equal(wb_conf_validate(conf, WB_CONF_PRODUCER, err, sizeof(err)), WB_ERR_INVALID);
    assert_string_equal(err, "graph.client_secret_file: cannot open \"/nonexistent/secret\": No "
                             "such file or directory");
    wb_conf_destroy(conf);

    conf = producer_conf(empty);
    assert_int_equal(wb_conf_validate(conf, WB_CONF_PRODUCER, err, sizeof(err)), WB_ERR_INVALID);
    assert_non_null(strstr(err, "is empty"));
    wb_conf_destroy(conf);

    conf = producer_conf(nul);
    assert_int_equal(wb_conf_validate(conf, WB_CONF_PRODUCER, err, sizeof(err)), WB_ERR_INVALID);
    assert_non_null(strstr(err, "NUL byte"));
    wb_conf_destroy(conf);

    /* Errors carry the file and line where the key was set. */
    cpath = write_text("secretref.conf", "\ngraph.client_secret_file = /nonexistent/s2\n");
    conf = producer_conf(empty);
    assert_int_equal(wb_conf_load_file(conf, cpath, err, sizeof(err)), WB_OK);
    assert_int_equal(wb_conf_validate(conf, WB_CONF_PRODUCER, err, sizeof(err)), WB_ERR_INVALID);
    want = wb_asprintf("%s:2: graph.client_secret_file: cannot open \"/nonexistent/s2\": No such "
                       "file or directory",
                       cpath);
    assert_string_equal(err, want);
    free(want);
    wb_conf_destroy(conf);
    free(cpath);
    free(empty);
    free(nul);
}

static void test_kafka_passthrough(void **state)
{
    char err[1024];
    wb_conf_t *conf = wb_conf_new();
    const char *const *kv;

    (void)state;
    assert_int_equal(wb_conf_set(conf, "kafka.bootstrap.servers", "a:9092", err, sizeof(err)),
                     WB_OK);
    assert_int_equal(wb_conf_set(conf, "kafka.client.id", "wb", err, sizeof(err)), WB_OK);
    assert_int_equal(wb_conf_set(conf, "kafka.acks", "all", err, sizeof(err)), WB_OK);
    /* Setting again keeps the first position. */
    assert_int_equal(
        wb_conf_set(conf, "kafka.bootstrap.servers", "b:9092,c:9092", err, sizeof(err)), WB_OK);
    kv = wb_conf_kafka_kv(conf);
    assert_string_equal(kv[0], "bootstrap.servers");
    assert_string_equal(kv[1], "b:9092,c:9092");
    assert_string_equal(kv[2], "client.id");
    assert_string_equal(kv[3], "wb");
    assert_string_equal(kv[4], "acks");
    assert_string_equal(kv[5], "all");
    assert_null(kv[6]);
    assert_string_equal(wb_conf_get_str(conf, "kafka.bootstrap.servers"), "b:9092,c:9092");
    assert_true(wb_conf_is_set(conf, "kafka.acks"));
    assert_false(wb_conf_is_set(conf, "kafka.linger.ms"));

    assert_int_equal(wb_conf_set(conf, "kafka.no.such.property", "1", err, sizeof(err)),
                     WB_ERR_INVALID);
    assert_non_null(strstr(err, "unknown configuration key \"kafka.no.such.property\""));
    assert_int_equal(wb_conf_set(conf, "kafka.acks", "several", err, sizeof(err)), WB_ERR_INVALID);
    assert_non_null(strstr(err, "kafka.acks: "));
    assert_int_equal(wb_conf_set(conf, "kafka.group.id", "x", err, sizeof(err)), WB_ERR_INVALID);
    assert_string_equal(err, "kafka.group.id is managed by writeback: set worker.group_id instead");
    assert_int_equal(wb_conf_set(conf, "kafka.", "x", err, sizeof(err)), WB_ERR_INVALID);
    /* Failed sets changed nothing. */
    kv = wb_conf_kafka_kv(conf);
    assert_string_equal(kv[5], "all");
    assert_null(kv[6]);
    wb_conf_destroy(conf);
}

static void test_required_keys(void **state)
{
    static const char *const keys[] = {"ldap.uri",
                                       "ldap.bind_dn",
                                       "ldap.password_file",
                                       "ldap.base_dn",
                                       "ldap.target_ou",
                                       "kafka.bootstrap.servers",
                                       NULL};
    char err[4096], want[256];
    wb_conf_t *conf = wb_conf_new();
    size_t i;

    (void)state;
    assert_int_equal(wb_conf_validate(conf, WB_CONF_WORKER, err, sizeof(err)), WB_ERR_INVALID);
    for (i = 0; keys[i]; i++) {
        snprintf(want, sizeof(want), "missing required key \"%s\" (needed by writeback-worker)",
                 keys[i]);
        assert_non_null(strstr(err, want));
    }
    assert_int_equal(count_lines(err), 6);
    assert_null(strstr(err, "graph.tenant_id"));

    assert_int_equal(wb_conf_validate(conf, WB_CONF_PRODUCER, err, sizeof(err)), WB_ERR_INVALID);
    assert_non_null(strstr(err, "\"graph.tenant_id\""));
    assert_non_null(strstr(err, "\"graph.client_secret_file\""));
    assert_null(strstr(err, "ldap.uri"));
    assert_int_equal(count_lines(err), 4);

    /* Program-independent checks pass on defaults. */
    assert_int_equal(wb_conf_validate(conf, 0, err, sizeof(err)), WB_OK);
    /* A small buffer is filled, terminated and not overrun. */
    memset(err, 'Z', sizeof(err));
    assert_int_equal(wb_conf_validate(conf, WB_CONF_ALL, err, 16), WB_ERR_INVALID);
    assert_int_equal(strlen(err), 15);
    assert_int_equal(err[16], 'Z');
    assert_int_equal(wb_conf_validate(conf, WB_CONF_ALL, NULL, 0), WB_ERR_INVALID);
    wb_conf_destroy(conf);
}

static wb_conf_t *worker_conf(const char *pwfile, const char *target)
{
    char err[1024];
    wb_conf_t *conf = wb_conf_new();

    assert_int_equal(wb_conf_set(conf, "ldap.uri", "ldaps://127.0.0.1:636", err, sizeof(err)),
                     WB_OK);
    assert_int_equal(wb_conf_set(conf, "ldap.bind_dn", "CN=Administrator,CN=Users,DC=wb,DC=test",
                                 err, sizeof(err)),
                     WB_OK);
    assert_int_equal(wb_conf_set(conf, "ldap.password_file", pwfile, err, sizeof(err)), WB_OK);
    assert_int_equal(wb_conf_set(conf, "ldap.base_dn", "DC=wb,DC=test", err, sizeof(err)), WB_OK);
    assert_int_equal(wb_conf_set(conf, "ldap.target_ou", target, err, sizeof(err)), WB_OK);
    assert_int_equal(
        wb_conf_set(conf, "kafka.bootstrap.servers", "127.0.0.1:19092", err, sizeof(err)), WB_OK);
    return conf;
}

static void test_cross_checks(void **state)
{
    char err[4096];
    char *pw = write_text("ldap.pw", "Passw0rd!\n");
    wb_conf_t *conf;

    (void)state;
    conf = worker_conf(pw, "OU=Groups , dc=WB,DC=test");
    assert_int_equal(wb_conf_validate(conf, WB_CONF_WORKER, err, sizeof(err)), WB_OK);
    assert_string_equal(wb_conf_secret(conf, "ldap.password_file"), "Passw0rd!");

    /* Plain LDAP needs StartTLS or the explicit escape hatch. */
    assert_int_equal(wb_conf_set(conf, "ldap.uri", "ldap://127.0.0.1:389", err, sizeof(err)),
                     WB_OK);
    assert_int_equal(wb_conf_validate(conf, WB_CONF_WORKER, err, sizeof(err)), WB_ERR_INVALID);
    assert_non_null(strstr(err, "is plain LDAP"));
    assert_int_equal(wb_conf_set(conf, "ldap.starttls", "true", err, sizeof(err)), WB_OK);
    assert_int_equal(wb_conf_validate(conf, WB_CONF_WORKER, err, sizeof(err)), WB_OK);
    assert_int_equal(wb_conf_set(conf, "ldap.starttls", "false", err, sizeof(err)), WB_OK);
    assert_int_equal(wb_conf_set(conf, "ldap.allow_insecure", "true", err, sizeof(err)), WB_OK);
    assert_int_equal(wb_conf_validate(conf, WB_CONF_WORKER, err, sizeof(err)), WB_OK);

    /* All problems at once. */
    assert_int_equal(
        wb_conf_set(conf, "ldap.target_ou", "OU=Groups,DC=other,DC=test", err, sizeof(err)), WB_OK);
    assert_int_equal(wb_conf_set(conf, "scope.mode", "selected", err, sizeof(err)), WB_OK);
    assert_int_equal(wb_conf_set(conf, "worker.retry_backoff_ms", "70000", err, sizeof(err)),
                     WB_OK);
    assert_int_equal(wb_conf_set(conf, "topic.dlq", "writeback.groups", err, sizeof(err)), WB_OK);
    assert_int_equal(wb_conf_validate(conf, WB_CONF_WORKER, err, sizeof(err)), WB_ERR_INVALID);
    assert_non_null(strstr(err, "ldap.target_ou \"OU=Groups,DC=other,DC=test\" is not under "
                                "ldap.base_dn \"DC=wb,DC=test\""));
    assert_non_null(strstr(err, "scope.mode=selected needs scope.group_ids"));
    assert_non_null(strstr(err, "worker.retry_backoff_ms is larger"));
    assert_non_null(strstr(err, "topic.events and topic.dlq are both \"writeback.groups\""));
    assert_int_equal(count_lines(err), 4);
    wb_conf_destroy(conf);

    /* worker.id makes a static member <worker.group_id>-<worker.id>: Kafka's rules for a
     * group.instance.id apply, unless kafka.group.instance.id is given. */
    conf = worker_conf(pw, "OU=Groups,DC=wb,DC=test");
    assert_int_equal(wb_conf_set(conf, "worker.id", "host-1.example_2", err, sizeof(err)), WB_OK);
    assert_int_equal(wb_conf_validate(conf, WB_CONF_WORKER, err, sizeof(err)), WB_OK);
    assert_int_equal(wb_conf_set(conf, "worker.id", "host:1", err, sizeof(err)), WB_OK);
    assert_int_equal(wb_conf_validate(conf, WB_CONF_WORKER, err, sizeof(err)), WB_ERR_INVALID);
    assert_non_null(strstr(err, "worker.id \"host:1\": the static member id"));
    assert_int_equal(wb_conf_set(conf, "kafka.group.instance.id", "mine", err, sizeof(err)), WB_OK);
    assert_int_equal(wb_conf_validate(conf, WB_CONF_WORKER, err, sizeof(err)), WB_OK);
    wb_conf_destroy(conf);
    conf = worker_conf(pw, "OU=Groups,DC=wb,DC=test");
    {
        char gid[201], wid[61];

        memset(gid, 'g', 200); /* each within check_ident's 200, together too long */
        gid[200] = '\0';
        memset(wid, 'w', 60);
        wid[60] = '\0';
        assert_int_equal(wb_conf_set(conf, "worker.group_id", gid, err, sizeof(err)), WB_OK);
        assert_int_equal(wb_conf_set(conf, "worker.id", wid, err, sizeof(err)), WB_OK);
    }
    assert_int_equal(wb_conf_validate(conf, WB_CONF_WORKER, err, sizeof(err)), WB_ERR_INVALID);
    assert_non_null(strstr(err, "the static member id"));
    wb_conf_destroy(conf);

    /* A suffix that is not a whole RDN is not "under". */
    conf = worker_conf(pw, "OU=Groups,DC=xwb,DC=test");
    assert_int_equal(wb_conf_validate(conf, WB_CONF_WORKER, err, sizeof(err)), WB_ERR_INVALID);
    assert_non_null(strstr(err, "is not under"));
    wb_conf_destroy(conf);

    /* Ids without selected mode would widen the scope: refused. */
    conf = wb_conf_new();
    assert_int_equal(wb_conf_set(conf, "scope.group_ids", "11111111-2222-4333-8444-555555555555",
                                 err, sizeof(err)),
                     WB_OK);
    assert_int_equal(wb_conf_validate(conf, 0, err, sizeof(err)), WB_ERR_INVALID);
    assert_non_null(strstr(err, "scope.group_ids is set but scope.mode is all"));
    assert_int_equal(wb_conf_set(conf, "scope.mode", "selected", err, sizeof(err)), WB_OK);
    assert_int_equal(wb_conf_validate(conf, 0, err, sizeof(err)), WB_OK);
    assert_int_equal(wb_conf_set(conf, "graph.ca_file", "/nonexistent/ca.pem", err, sizeof(err)),
                     WB_OK);
    assert_int_equal(wb_conf_validate(conf, WB_CONF_PRODUCER, err, sizeof(err)), WB_ERR_INVALID);
    assert_non_null(strstr(err, "graph.ca_file: cannot read \"/nonexistent/ca.pem\""));
    wb_conf_destroy(conf);
    free(pw);
}

static void test_hostile_input(void **state)
{
    static const char bad[] = "scope.filter = a\0b\n"
                              "scope.filter = \xff\xfe\n"
                              "scope.filter = a\x01z\n"
                              "just words\n"
                              "= value\n"
                              "scope.filter = \"unterminated\n"
                              "\x80\x81 = 1\n";
    char err[8192];
    size_t big = 2 * 1024 * 1024, i;
    char *data = wb_malloc(big + 64);
    char *path, *want;
    wb_conf_t *conf = wb_conf_new();
    uint64_t x = 88172645463325252ULL;

    (void)state;
    /* A 2 MiB line, then a good line that must still be read. */
    memset(data, 'a', big);
    memcpy(data, "tenant = ", 9);
    memcpy(data + big, "\ntenant = after\n", 16);
    path = write_file("long.conf", data, big + 16);
    assert_int_equal(wb_conf_load_file(conf, path, err, sizeof(err)), WB_ERR_INVALID);
    want = wb_asprintf("%s:1: line too long (more than 1048576 bytes)", path);
    assert_string_equal(err, want);
    assert_string_equal(wb_conf_get_str(conf, "tenant"), "after");
    free(want);
    free(path);

    /* NUL bytes, invalid UTF-8, control characters, no '='. */
    path = write_file("bad.conf", bad, sizeof(bad) - 1);
    assert_int_equal(wb_conf_load_file(conf, path, err, sizeof(err)), WB_ERR_INVALID);
    assert_non_null(strstr(err, ":1: NUL byte in line"));
    assert_non_null(strstr(err, ":2: scope.filter: value \"\\xff\\xfe\" is not valid UTF-8"));
    assert_non_null(strstr(err, ":3: scope.filter: value \"a\\x01z\" contains a control"));
    assert_non_null(strstr(err, ":4: expected \"key = value\""));
    assert_non_null(strstr(err, ":5: missing key before '='"));
    assert_non_null(strstr(err, ":6: scope.filter: unterminated quoted value"));
    assert_non_null(strstr(err, ":7: unknown configuration key \"\\x80\\x81\""));
    free(path);

    /* Random bytes: errors, not a crash; the error count is bounded. */
    for (i = 0; i < 65536; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data[i] = (char)(x & 0xff);
    }
    path = write_file("random.conf", data, 65536);
    assert_int_equal(wb_conf_load_file(conf, path, err, sizeof(err)), WB_ERR_INVALID);
    assert_true(strlen(err) > 0);
    assert_true(count_lines(err) <= 51);
    free(path);

    assert_int_equal(wb_conf_load_file(conf, "/nonexistent/x.conf", err, sizeof(err)),
                     WB_ERR_INVALID);
    assert_string_equal(err, "/nonexistent/x.conf: cannot open: No such file or directory");
    assert_int_equal(wb_conf_load_file(conf, "/tmp", err, sizeof(err)), WB_ERR_INVALID);
    assert_string_equal(err, "/tmp: not a regular file");
    free(data);
    wb_conf_destroy(conf);
}

static void test_dump_roundtrip(void **state)
{
    char err[2048];
    wb_conf_t *a = wb_conf_new(), *b = wb_conf_new();
    char *da, *db, *path;

    (void)state;
    assert_int_equal(wb_conf_set(a, "scope.filter", " padded ", err, sizeof(err)), WB_OK);
    assert_int_equal(wb_conf_set(a, "scope.mode", "filter", err, sizeof(err)), WB_OK);
    assert_int_equal(wb_conf_set(a, "graph.poll_interval_ms", "60000", err, sizeof(err)), WB_OK);
    assert_int_equal(wb_conf_set(a, "log.debug", "ldap,kafka", err, sizeof(err)), WB_OK);
    assert_int_equal(wb_conf_set(a, "kafka.bootstrap.servers", "x:1", err, sizeof(err)), WB_OK);
    da = dump_string(a);
    path = write_text("dump.conf", da);
    assert_int_equal(wb_conf_load_file(b, path, err, sizeof(err)), WB_OK);
    db = dump_string(b);
    assert_string_equal(da, db);
    assert_string_equal(wb_conf_get_str(b, "scope.filter"), " padded ");
    free(da);
    free(db);
    free(path);
    wb_conf_destroy(a);
    wb_conf_destroy(b);
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    char *cmd = wb_asprintf("rm -rf '%s'", tmpdir);
    int rc;

    (void)state;
    rc = system(cmd);
    free(cmd);
    return rc == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),          cmocka_unit_test(test_stable_keys),
        cmocka_unit_test(test_file_parse),        cmocka_unit_test(test_override_order),
        cmocka_unit_test(test_unknown_key),       cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_enum_and_formats),  cmocka_unit_test(test_bool_forms),
        cmocka_unit_test(test_secret_file),       cmocka_unit_test(test_secret_file_errors),
        cmocka_unit_test(test_secret_file_modes), cmocka_unit_test(test_url_loopback),
        cmocka_unit_test(test_kafka_passthrough), cmocka_unit_test(test_required_keys),
        cmocka_unit_test(test_cross_checks),      cmocka_unit_test(test_hostile_input),
        cmocka_unit_test(test_dump_roundtrip),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
