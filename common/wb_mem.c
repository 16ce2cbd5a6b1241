/*
 * wb_mem: aborting allocators. A daemon that cannot allocate a few bytes cannot make
 * progress safely; failing loudly beats propagating NULL through every call chain.
 */
#include "wb_mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
    fprintf(stderr, "writeback: out of memory allocating %zu bytes\n", n);
    abort();
}

void *wb_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (!p)
        oom(n);
    return p;
}

void *wb_calloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

    if (!p)
        oom(nmemb * size);
    return p;
}

void *wb_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (!q)
        oom(n);
    return q;
}

char *wb_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = wb_malloc(n);

    memcpy(p, s, n);
    return p;
}

char *wb_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = wb_malloc(len + 1);

    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *wb_asprintf(const char *fmt, ...)
{
    va_list ap;
    int n;
    char *p;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    p = wb_malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}
