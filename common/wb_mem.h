/*
 * wb_mem: allocation that never returns NULL. Out of memory aborts the process with a
 * message, as redis's zmalloc does: every caller can then treat allocation as infallible.
 */
#ifndef WB_MEM_H
#define WB_MEM_H

#include <stddef.h>

void *wb_malloc(size_t n);
void *wb_calloc(size_t nmemb, size_t size);
void *wb_realloc(void *p, size_t n);
/* Returns a caller-owned copy of s; s must not be NULL. */
char *wb_strdup(const char *s);
/* Copies at most n bytes of s and terminates the copy. */
char *wb_strndup(const char *s, size_t n);
/* printf into a new caller-owned string. */
char *wb_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
