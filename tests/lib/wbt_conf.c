/*
 * wbt_conf: test configurations (see wbt_conf.h).
 */
#include "wbt_conf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>

static void set_all(wb_conf_t *c, const char *const (*kv)[2])
{
    char err[2048];
    size_t i;

    for (i = 0; kv && kv[i][0]; i++)
        if (wb_conf_set(c, kv[i][0], kv[i][1], err, sizeof(err)) != WB_OK)
            fail_msg("%s", err);
}

wb_conf_t *wbt_conf_worker(const char *topic, const char *dlq, const char *target_ou,
                           const char *group, const char *const (*extra)[2])
{
    wb_conf_t *c = wb_conf_new();
    const char *const kv[][2] = {
        {"kafka.bootstrap.servers", getenv("WB_TEST_KAFKA_BOOTSTRAP")},
        {"topic.events", topic},
        {"topic.dlq", dlq},
        {"ldap.uri", getenv("WB_TEST_LDAP_URI")},
        {"ldap.bind_dn", getenv("WB_TEST_LDAP_BIND_DN")},
        {"ldap.password_file", getenv("WB_TEST_LDAP_PASSWORD_FILE")},
        {"ldap.ca_file", getenv("WB_TEST_LDAP_CA_FILE")},
        {"ldap.base_dn", getenv("WB_TEST_LDAP_BASE_DN")},
        {"ldap.target_ou", target_ou},
        {"worker.group_id", group},
        {"worker.metrics_listen", ""},
        {"worker.retry_backoff_ms", "100"},
        {"worker.retry_backoff_max_ms", "300"},
        {"kafka.session.timeout.ms", "6000"},
        {NULL, NULL},
    };
    char err[2048];

    set_all(c, kv);
    set_all(c, extra);
    if (wb_conf_validate(c, WB_CONF_WORKER, err, sizeof(err)) != WB_OK)
        fail_msg("%s", err);
    return c;
}
