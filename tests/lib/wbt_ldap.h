/*
 * wbt_ldap: the test DC from a C test. A session from the WB_TEST_LDAP_* variables, plain
 * libldap reads and writes for setting up and checking (independent of the code under test),
 * and the per-run OU with users that the 03xx tests work in, removed again at the end.
 */
#ifndef WBT_LDAP_H
#define WBT_LDAP_H

#include <stdbool.h>
#include <stddef.h>

#include "wb_ldap.h"

/* A session to WB_TEST_LDAP_URI as WB_TEST_LDAP_BIND_DN, TLS verified with
 * WB_TEST_LDAP_CA_FILE, 30 s timeout, reconnecting; NULL after a line on stderr. */
wb_ldap_t *wbt_ldap_connect(void);

/* Adds dn with one value per attribute: kv is "attr", "value", ..., NULL (at most 8
 * attributes). Returns the LDAP result code. */
int wbt_ldap_add(wb_ldap_t *ld, const char *dn, const char *const *kv);

/* The first value of attr at dn (objectSid as its S-1-5-... string), or NULL when the entry
 * or the value is missing. Caller frees. */
char *wbt_ldap_read(wb_ldap_t *ld, const char *dn, const char *attr);

bool wbt_ldap_exists(wb_ldap_t *ld, const char *dn);

/* Deletes the entries right below dn, then dn; what is missing is passed over. */
void wbt_ldap_delete_tree(wb_ldap_t *ld, const char *dn);

/* One run's OU under WB_TEST_LDAP_TARGET_OU, with users. Arrays have nusers entries. */
struct wbt_ldap_ou {
    wb_ldap_t *ld; /* the session the OU was made with (owned) */
    char *dn;      /* OU=t<num>-<run>,<target OU> */
    unsigned run;  /* wbt_env_run_id() */
    size_t nusers;
    char **udn;  /* CN=u<i>-<num>-<run>,<dn> (sAMAccountName the same) */
    char **uid;  /* <run>-<num>-4000-9000-<i>: the user's made-up cloud object id */
    char **usid; /* objectSid the DC gave the user */
};

/* Connects, creates the OU (num: the test's four-digit number) and nusers users in it.
 * Returns 0, or -1 after a line on stderr (ou->ld and whatever was made stay set for
 * wbt_ldap_ou_destroy). */
int wbt_ldap_ou_create(struct wbt_ldap_ou *ou, const char *num, size_t nusers);

/* Deletes everything in the OU, the OU, and closes the session; a zeroed ou does nothing. */
void wbt_ldap_ou_destroy(struct wbt_ldap_ou *ou);

#endif
