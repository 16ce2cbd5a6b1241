/*
 * wb_url: checks on the URLs that carry secrets (the Graph endpoint, the token authority and
 * the links Graph returns), on libcurl's URL parser, so that what is checked is what libcurl
 * will connect to. Pure functions, any thread.
 */
#ifndef WB_URL_H
#define WB_URL_H

#include <stdbool.h>
#include <stddef.h>

/*
 * true if host (as libcurl's URL API returns it: "localhost", "127.0.0.1", "[::1]") is a
 * loopback name: "localhost", a numeric IPv4 address in 127.0.0.0/8 or the IPv6 address ::1.
 * Names that merely start with "127." ("127.0.0.1.nip.io", "127.evil.example") are not.
 */
bool wb_url_host_is_loopback(const char *host);

/*
 * Resolves a link against base (an absolute http(s) URL without userinfo, such as
 * graph.endpoint) and accepts it only if it stays on base's origin:
 * - an absolute link must have the scheme, host and port of base (default ports resolved) and
 *   no user name or password;
 * - a relative link must start with exactly one '/' and is appended to base (whose path is
 *   kept as a prefix), and the result must again have base's origin.
 * Anything else ("@evil.example/...", ".evil.example/...", ":443@evil.example/...",
 * "//evil.example/...", another scheme, host or port) is refused. Returns the caller-owned
 * URL as libcurl will request it (free()), or NULL with why filled (a short reason that does
 * not repeat the link).
 */
char *wb_url_resolve(const char *base, const char *link, char *why, size_t whysz);

#endif
