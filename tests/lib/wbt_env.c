/*
 * wbt_env: the services a test needs, its run id and repository paths (see wbt_env.h).
 */
#include "wbt_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wb_mem.h"

#ifndef WB_SOURCE_DIR
#define WB_SOURCE_DIR "."
#endif

static const struct {
    unsigned need;
    const char *name, *script;
} vars[] = {
    {WBT_ENV_KAFKA, "WB_TEST_KAFKA_BOOTSTRAP", "kafka.sh"},
    {WBT_ENV_LDAP, "WB_TEST_LDAP_URI", "samba.sh"},
    {WBT_ENV_LDAP, "WB_TEST_LDAP_PLAIN_URI", "samba.sh"},
    {WBT_ENV_LDAP, "WB_TEST_LDAP_CA_FILE", "samba.sh"},
    {WBT_ENV_LDAP, "WB_TEST_LDAP_BIND_DN", "samba.sh"},
    {WBT_ENV_LDAP, "WB_TEST_LDAP_PASSWORD_FILE", "samba.sh"},
    {WBT_ENV_LDAP, "WB_TEST_LDAP_BASE_DN", "samba.sh"},
    {WBT_ENV_LDAP, "WB_TEST_LDAP_TARGET_OU", "samba.sh"},
    {WBT_ENV_LDAP, "WB_TEST_LDAP_DOMAIN_SID", "samba.sh"},
};

bool wbt_env_missing(const char *test, unsigned needs)
{
    size_t i;

    for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        const char *v = getenv(vars[i].name);

        if ((vars[i].need & needs) && (!v || !*v)) {
            fprintf(stderr,
                    "SKIP: %s: %s is not set: start the service with "
                    "`eval \"$(tests/services/%s up)\"` or run the test through tests/run.sh\n",
                    test, vars[i].name, vars[i].script);
            return true;
        }
    }
    return false;
}

unsigned wbt_env_run_id(void)
{
    static unsigned run;
    static bool drawn;

    if (!drawn) {
        srand((unsigned)time(NULL) ^ (unsigned)getpid());
        run = (unsigned)rand();
        drawn = true;
    }
    return run;
}

char *wbt_env_password(void)
{
    const char *path = getenv("WB_TEST_LDAP_PASSWORD_FILE");
    char buf[512], *pw;
    FILE *f = path ? fopen(path, "r") : NULL;
    size_t n;

    if (!f)
        return NULL;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    pw = n ? wb_strdup(buf) : NULL;
    explicit_bzero(buf, sizeof(buf));
    return pw;
}

char *wbt_env_source_path(const char *rel)
{
    const char *d = getenv("WB_SOURCE_DIR");

    return wb_asprintf("%s/%s", d && *d ? d : WB_SOURCE_DIR, rel);
}
