/*
 * 0014-log: the log's second line of defence against leaked secrets (issue 13, finding 2):
 * registered secrets never reach a line, whatever formats them; the configuration registers
 * its secret files and sensitive kafka.* values when it validates.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "wb_conf.h"
#include "wb_log.h"
#include "wb_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char last[8192];

static void sink(int level, const char *fac, const char *line, void *opaque)
{
    (void)level;
    (void)fac;
    (void)opaque;
    snprintf(last, sizeof(last), "%s", line);
}

static void test_redact(void **state)
{
    char name[32];
    int i;

    (void)state;
    wb_log_set_sink(sink, NULL);
    wb_log_secret("Tok3n-Secret-Value");
    wb_log_secret("abc"); /* too short to mask */
    wb_log(LOG_ERR, "T", "bearer %s and again %sX, abc", "Tok3n-Secret-Value",
           "Tok3n-Secret-Value");
    assert_string_equal(last, "bearer **** and again ****X, abc");
    /* the newest WB_LOG_MAX_SECRETS are kept: the first is dropped after that many more */
    for (i = 0; i < WB_LOG_MAX_SECRETS; i++) {
        snprintf(name, sizeof(name), "rotating-token-%02d", i);
        wb_log_secret(name);
    }
    wb_log(LOG_ERR, "T", "%s %s", "rotating-token-00", "rotating-token-31");
    assert_string_equal(last, "**** ****");
    wb_log(LOG_ERR, "T", "%s", "Tok3n-Secret-Value");
    assert_string_equal(last, "Tok3n-Secret-Value");
    wb_log_set_sink(NULL, NULL);
}

static void test_conf_registers(void **state)
{
    char dir[] = "/tmp/wb-0014-XXXXXX", err[2048];
    char *path;
    FILE *fp;
    wb_conf_t *conf = wb_conf_new();

    (void)state;
    assert_non_null(mkdtemp(dir));
    path = wb_asprintf("%s/secret", dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("file-Secret-4711\n", fp);
    fclose(fp);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(wb_conf_set(conf, "graph.client_secret_file", path, err, sizeof(err)), WB_OK);
    assert_int_equal(wb_conf_set(conf, "kafka.sasl.password", "kafka-Pass-0815", err, sizeof(err)),
                     WB_OK);
    /* other required keys are missing: validation fails, but the secrets are read */
    assert_int_equal(wb_conf_validate(conf, WB_CONF_PRODUCER, err, sizeof(err)), WB_ERR_INVALID);
    assert_string_equal(wb_conf_secret(conf, "graph.client_secret_file"), "file-Secret-4711");
    wb_log_set_sink(sink, NULL);
    wb_log(LOG_ERR, "T", "[%s] [%s]", "file-Secret-4711", "kafka-Pass-0815");
    assert_string_equal(last, "[****] [****]");
    wb_log_set_sink(NULL, NULL);
    wb_conf_destroy(conf);
    unlink(path);
    rmdir(dir);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_conf_registers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
