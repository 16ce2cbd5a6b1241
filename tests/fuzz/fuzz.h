/*
 * fuzz.h: what every target in tests/fuzz shares. A target defines LLVMFuzzerTestOneInput
 * (libFuzzer's entry point), its name and an optional dictionary for driver.c, and reports a
 * broken property with WB_FUZZ_CHECK, which aborts (the driver saves the input first).
 */
#ifndef WB_FUZZ_H
#define WB_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Read by driver.c; NULL-terminated. */
extern const char *const wb_fuzz_dict[];
extern const char *const wb_fuzz_name;

#define WB_FUZZ_CHECK(cond, ...)                                                                   \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "wb-fuzz: property broken: %s: ", #cond);                              \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* data[0..size) as a caller-owned NUL-terminated string of exactly size + 1 bytes. */
static inline char *wb_fuzz_str(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (!s)
        abort();
    for (size_t i = 0; i < size; i++)
        s[i] = (char)data[i];
    s[size] = '\0';
    return s;
}

#endif
