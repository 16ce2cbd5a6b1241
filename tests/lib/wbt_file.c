/*
 * wbt_file: whole-file reads and the generated-document check (see wbt_file.h).
 */
#include "wbt_file.h"

#include <stdlib.h>
#include <string.h>

char *wbt_file_read_stream(FILE *fp)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    char chunk[4096];
    size_t n;

    if (!out)
        abort();
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        fwrite(chunk, 1, n, out);
    fclose(out);
    return buf;
}

char *wbt_file_read(const char *path)
{
    FILE *fp = fopen(path, "rb");
    char *buf;

    if (!fp)
        return NULL;
    buf = wbt_file_read_stream(fp);
    fclose(fp);
    return buf;
}

bool wbt_file_fresh(const char *path, const char *have, const char *want, const char *source,
                    const char *test)
{
    const char *update = getenv("WB_UPDATE_DOCS");
    FILE *fp;
    bool ok;

    if (want && have && strcmp(have, want) == 0)
        return true;
    if (want && update && strcmp(update, "1") == 0) {
        fp = fopen(path, "wb");
        ok = fp && fwrite(want, 1, strlen(want), fp) == strlen(want);
        if (fp && fclose(fp) != 0)
            ok = false;
        fprintf(stderr, ok ? "wrote %s\n" : "cannot write %s\n", path);
        return ok;
    }
    fprintf(stderr,
            "%s is %s %s.\n"
            "Refresh it with: WB_UPDATE_DOCS=1 ctest --test-dir <build> -R %s\n",
            path, have ? "out of date with" : "missing; it is generated from", source, test);
    return false;
}
