/*
 * 0013-url: the origin checks that keep the Graph bearer token and the client secret on the
 * configured hosts (issue 13, finding 1): links Graph returns or the checkpoint holds are
 * resolved against graph.endpoint and refused when they would reach any other host, port or
 * scheme; and the strict loopback test behind "http:// only to localhost" (finding 6).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "wb_url.h"

#include <stdlib.h>
#include <string.h>

static void refused(const char *base, const char *link)
{
    char why[256] = "";
    char *u = wb_url_resolve(base, link, why, sizeof(why));

    if (u)
        fail_msg("%s + \"%s\" accepted as %s", base, link, u);
    assert_true(why[0] != '\0');
}

static void accepted(const char *base, const char *link, const char *want)
{
    char why[256] = "";
    char *u = wb_url_resolve(base, link, why, sizeof(why));

    if (!u)
        fail_msg("%s + \"%s\" refused: %s", base, link, why);
    assert_string_equal(u, want);
    free(u);
}

/* The attack strings of the issue, and their relatives: each one, appended to the endpoint
 * as text, names another host. */
static void test_relative_attacks(void **state)
{
    static const char *const links[] = {
        "@evil.example/v1.0/groups/delta?$deltatoken=x",
        ".evil.example/v1.0/groups/delta?$deltatoken=x",
        ":443@evil.example/v1.0/groups/delta",
        ":8443/v1.0/groups/delta",
        "//evil.example/v1.0/groups/delta",
        "/\\evil.example/v1.0/groups/delta",
        "\\\\evil.example/v1.0/groups/delta",
        "v1.0/groups/delta",
        "evil.example/v1.0/groups/delta",
        "%40evil.example/v1.0",
        "",
        " https://evil.example/v1.0",
        "ftp://graph.microsoft.com/v1.0/groups/delta",
        "file:///etc/passwd",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(links) / sizeof(links[0]); i++)
        refused("https://graph.microsoft.com", links[i]);
    refused("http://127.0.0.1:8080", "@127.0.0.2:8080/v1.0/groups/delta");
    refused("http://127.0.0.1:8080", ".nip.io/v1.0/groups/delta");
}

static void test_absolute_attacks(void **state)
{
    static const char *const links[] = {
        "https://evil.example/v1.0/groups/delta",
        "https://graph.microsoft.com@evil.example/v1.0/groups/delta",
        "https://graph.microsoft.com:443@evil.example/v1.0/groups/delta",
        "https://user:pw@graph.microsoft.com/v1.0/groups/delta",
        "https://graph.microsoft.com.evil.example/v1.0/groups/delta",
        "https://graph.microsoft.com:444/v1.0/groups/delta",
        "http://graph.microsoft.com/v1.0/groups/delta",
        "HTTP://graph.microsoft.com/v1.0/groups/delta",
        "https://graph.microsoft.co/v1.0/groups/delta",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(links) / sizeof(links[0]); i++)
        refused("https://graph.microsoft.com", links[i]);
    refused("http://127.0.0.1:8080", "http://127.0.0.2:8080/v1.0/groups/delta");
    refused("http://127.0.0.1:8080", "http://127.0.0.1:8081/v1.0/groups/delta");
    refused("http://127.0.0.1:8080", "http://127.0.0.1/v1.0/groups/delta");
    /* a base with userinfo is itself refused */
    refused("https://graph.microsoft.com@evil.example", "/v1.0/groups/delta");
}

static void test_good_links(void **state)
{
    (void)state;
    accepted("https://graph.microsoft.com", "/v1.0/groups/delta?$select=id",
             "https://graph.microsoft.com/v1.0/groups/delta?$select=id");
    accepted("https://graph.microsoft.com",
             "https://graph.microsoft.com/v1.0/groups/delta?$deltatoken=abc",
             "https://graph.microsoft.com/v1.0/groups/delta?$deltatoken=abc");
    /* the default port written out is the same origin, and host case does not matter */
    accepted("https://graph.microsoft.com", "https://Graph.Microsoft.com:443/v1.0/x",
             "https://Graph.Microsoft.com:443/v1.0/x");
    /* a path prefix of the endpoint (a proxy) is kept for relative links */
    accepted("https://proxy.example/graph", "/v1.0/groups/delta",
             "https://proxy.example/graph/v1.0/groups/delta");
    accepted("http://127.0.0.1:8080", "http://127.0.0.1:8080/v1.0/groups/delta?$skiptoken=a",
             "http://127.0.0.1:8080/v1.0/groups/delta?$skiptoken=a");
    /* an '@' in the path or query stays there */
    accepted("https://graph.microsoft.com", "/v1.0/users/a@b.example",
             "https://graph.microsoft.com/v1.0/users/a@b.example");
}

static void test_loopback(void **state)
{
    static const char *const yes[] = {"localhost",        "LOCALHOST",       "127.0.0.1",
                                      "127.1.2.3",        "127.255.255.254", "[::1]",
                                      "[0:0:0:0:0:0:0:1]"};
    static const char *const no[] = {"127.evil.example",
                                     "127.0.0.1.nip.io",
                                     "localhost.evil.example",
                                     "evil.example",
                                     "128.0.0.1",
                                     "10.0.0.1",
                                     "[::2]",
                                     "[::ffff:127.0.0.1]",
                                     "::1x",
                                     "",
                                     "127.0.0.1x"};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        if (!wb_url_host_is_loopback(yes[i]))
            fail_msg("%s is loopback", yes[i]);
    for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        if (wb_url_host_is_loopback(no[i]))
            fail_msg("%s is not loopback", no[i]);
    assert_false(wb_url_host_is_loopback(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relative_attacks),
        cmocka_unit_test(test_absolute_attacks),
        cmocka_unit_test(test_good_links),
        cmocka_unit_test(test_loopback),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
