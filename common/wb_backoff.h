/*
 * wb_backoff: exponential retry delays with a cap and jitter ("full" or "decorrelated", as in
 * the AWS Architecture Blog's "Exponential Backoff And Jitter"), so that many workers
 * retrying one failed domain controller or broker do not retry in lock-step.
 */
#ifndef WB_BACKOFF_H
#define WB_BACKOFF_H

#include <stdint.h>

enum wb_backoff_jitter {
    WB_BACKOFF_NONE,         /* base * 2^n, capped: deterministic */
    WB_BACKOFF_FULL,         /* uniform in [0, min(cap, base * 2^n)] */
    WB_BACKOFF_DECORRELATED, /* uniform in [base, 3 * previous delay], capped */
};

/* Plain state, embedded by its owner; one thread uses it at a time. */
struct wb_backoff {
    uint64_t base_ms; /* first delay (at least 1) */
    uint64_t cap_ms;  /* no delay exceeds this (at least base_ms) */
    enum wb_backoff_jitter jitter;
    unsigned attempts; /* wb_backoff_next calls since init or reset */
    uint64_t prev_ms;  /* last delay returned (decorrelated jitter grows from it) */
    uint64_t rng;      /* xorshift64* state, never 0 */
};

/* Sets up b with a random seed (getrandom, falling back to time and pid). */
void wb_backoff_init(struct wb_backoff *b, uint64_t base_ms, uint64_t cap_ms,
                     enum wb_backoff_jitter jitter);

/* Reseeds the jitter: the same seed gives the same sequence of delays (for tests). */
void wb_backoff_seed(struct wb_backoff *b, uint64_t seed);

/* The delay before the next retry, in milliseconds, always <= cap_ms; counts an attempt. */
uint64_t wb_backoff_next(struct wb_backoff *b);

/* Back to the first delay after a success; keeps base, cap, jitter and the random state. */
void wb_backoff_reset(struct wb_backoff *b);

#endif
