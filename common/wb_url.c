/*
 * wb_url: a bearer token or a client secret must only ever reach the configured origin. The
 * checks parse with libcurl's URL API (curl_url) rather than comparing text, because the text
 * "https://graph.microsoft.com" + "@evil.example/" is a URL whose host is evil.example.
 */
#include "wb_url.h"

#include "wb_mem.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool wb_url_host_is_loopback(const char *host)
{
    unsigned char a4[4], a6[16];
    char buf[64];
    size_t n;

    if (!host || !*host)
        return false;
    if (strcasecmp(host, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET, host, a4) == 1)
        return a4[0] == 127;
    n = strlen(host);
    if (host[0] != '[' || host[n - 1] != ']' || n - 2 >= sizeof(buf))
        return false;
    memcpy(buf, host + 1, n - 2);
    buf[n - 2] = '\0';
    return inet_pton(AF_INET6, buf, a6) == 1 && memcmp(a6, &in6addr_loopback, 16) == 0;
}

/* The origin of an absolute URL: scheme, host and port (the scheme's default when absent). */
struct origin {
    char *scheme, *host, *port;
    bool has_user;
};

static void origin_free(struct origin *o)
{
    curl_free(o->scheme);
    curl_free(o->host);
    curl_free(o->port);
    memset(o, 0, sizeof(*o));
}

/* Parses url into *o (and keeps the parsed handle in *up when up is not NULL). */
static bool origin_of(const char *url, struct origin *o, CURLU **up)
{
    CURLU *u = curl_url();
    char *user = NULL, *pass = NULL;
    bool ok;

    memset(o, 0, sizeof(*o));
    ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
         curl_url_get(u, CURLUPART_SCHEME, &o->scheme, 0) == CURLUE_OK &&
         curl_url_get(u, CURLUPART_HOST, &o->host, 0) == CURLUE_OK &&
         curl_url_get(u, CURLUPART_PORT, &o->port, CURLU_DEFAULT_PORT) == CURLUE_OK;
    if (ok) {
        o->has_user = curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
                      curl_url_get(u, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK;
        curl_free(user);
        curl_free(pass);
    }
    if (ok && up)
        *up = u;
    else
        curl_url_cleanup(u);
    if (!ok)
        origin_free(o);
    return ok;
}

char *wb_url_resolve(const char *base, const char *link, char *why, size_t whysz)
{
    struct origin b, l;
    CURLU *u = NULL;
    char *full = NULL, *url = NULL, *out = NULL;

    memset(&l, 0, sizeof(l));
    if (!origin_of(base, &b, NULL)) {
        snprintf(why, whysz, "the base URL does not parse");
        return NULL;
    }
    if (!link || !*link) {
        snprintf(why, whysz, "empty link");
        goto out;
    }
    if (link[0] == '/') {
        if (link[1] == '/' || link[1] == '\\') {
            snprintf(why, whysz, "a scheme-relative link names another host");
            goto out;
        }
        full = wb_asprintf("%s%s", base, link);
    } else if (strncasecmp(link, "http://", 7) == 0 || strncasecmp(link, "https://", 8) == 0) {
        full = wb_strdup(link);
    } else {
        snprintf(why, whysz, "neither an absolute http(s) URL nor a path starting with '/'");
        goto out;
    }
    if (!origin_of(full, &l, &u)) {
        snprintf(why, whysz, "not a URL");
        goto out;
    }
    if (l.has_user || b.has_user) {
        snprintf(why, whysz, "a user name or password in the URL");
        goto out;
    }
    if (strcasecmp(l.scheme, b.scheme) != 0 || strcasecmp(l.host, b.host) != 0 ||
        strcmp(l.port, b.port) != 0) {
        snprintf(why, whysz, "origin %s://%s:%s is not %s://%s:%s", l.scheme, l.host, l.port,
                 b.scheme, b.host, b.port);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK) {
        snprintf(why, whysz, "not a URL");
        goto out;
    }
    out = wb_strdup(url);
out:
    curl_free(url);
    curl_url_cleanup(u);
    free(full);
    origin_free(&l);
    origin_free(&b);
    return out;
}
