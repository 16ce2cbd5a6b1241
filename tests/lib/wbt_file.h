/*
 * wbt_file: files in C tests. Whole-file reads, and the check behind the tests that keep a
 * generated document in step with its table (rewritten in place with WB_UPDATE_DOCS=1).
 */
#ifndef WBT_FILE_H
#define WBT_FILE_H

#include <stdbool.h>
#include <stdio.h>

/* Everything from fp's position to its end, NUL-terminated; fp stays open. Caller frees. */
char *wbt_file_read_stream(FILE *fp);

/* The whole file at path, NUL-terminated, or NULL when it cannot be opened. Caller frees. */
char *wbt_file_read(const char *path);

/* Whether the file at path, whose contents are have (NULL: missing), equals want, the text
 * generated from source (a phrase naming the table, for the message). When it does not:
 * with WB_UPDATE_DOCS=1 want is written to path (then true); otherwise a message on stderr
 * says how to refresh it through the CTest test named test (then false). want NULL (nothing
 * could be generated) is never fresh and never written. */
bool wbt_file_fresh(const char *path, const char *have, const char *want, const char *source,
                    const char *test);

#endif
