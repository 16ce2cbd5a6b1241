/*
 * wbt_env: what a C test needs from its environment. The WB_TEST_* variables the service
 * scripts print (a test whose services are missing is skipped, never passed), a run id that
 * keeps one run's OUs, topics and groups apart from another's, and paths in the repository.
 */
#ifndef WBT_ENV_H
#define WBT_ENV_H

#include <stdbool.h>

#define WBT_ENV_KAFKA 0x1u /* WB_TEST_KAFKA_BOOTSTRAP (tests/services/kafka.sh) */
#define WBT_ENV_LDAP  0x2u /* every WB_TEST_LDAP_* (tests/services/samba.sh) */

/* main's exit status for a skipped test: CTest's SKIP_RETURN_CODE (tests/CMakeLists.txt). */
#define WBT_ENV_SKIP 77

/* True when a variable of the services in needs (WBT_ENV_* bits) is unset or empty, after one
 * "SKIP: <test>: ..." line on stderr naming it and how to start the service. main returns
 * WBT_ENV_SKIP then, before cmocka_run_group_tests. */
bool wbt_env_missing(const char *test, unsigned needs);

/* A random number fixed for the life of the process (the first call draws it). */
unsigned wbt_env_run_id(void);

/* The test administrator's password, read from WB_TEST_LDAP_PASSWORD_FILE without its line
 * end; NULL when the file cannot be read or is empty. Caller frees. */
char *wbt_env_password(void);

/* rel (a path inside the repository) under $WB_SOURCE_DIR, or under the source directory the
 * test was built from when that is unset. Caller frees. */
char *wbt_env_source_path(const char *rel);

#endif
