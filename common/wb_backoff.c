/*
 * wb_backoff: exponential backoff with a cap and jitter. The random source is a small
 * xorshift64* generator per instance: jitter needs spread, not secrecy, and a per-instance
 * state keeps it thread-free and reproducible under wb_backoff_seed().
 */
#include "wb_backoff.h"

#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* splitmix64: turns any seed, including 0 or small counters, into a well-mixed state. */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static uint64_t rnd(struct wb_backoff *b)
{
    b->rng ^= b->rng >> 12;
    b->rng ^= b->rng << 25;
    b->rng ^= b->rng >> 27;
    return b->rng * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [lo, hi]; the modulo bias is negligible for delays far below 2^64. */
static uint64_t between(struct wb_backoff *b, uint64_t lo, uint64_t hi)
{
    if (hi <= lo)
        return lo;
    if (hi - lo == UINT64_MAX)
        return rnd(b);
    return lo + rnd(b) % (hi - lo + 1);
}

void wb_backoff_seed(struct wb_backoff *b, uint64_t seed)
{
    b->rng = mix(seed);
    if (b->rng == 0)
        b->rng = 0x9e3779b97f4a7c15ULL;
}

void wb_backoff_init(struct wb_backoff *b, uint64_t base_ms, uint64_t cap_ms,
                     enum wb_backoff_jitter jitter)
{
    uint64_t seed = 0;
    struct timespec ts;

    b->base_ms = base_ms ? base_ms : 1;
    b->cap_ms = cap_ms < b->base_ms ? b->base_ms : cap_ms;
    b->jitter = jitter;
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        seed = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 16) ^
               (uint64_t)(uintptr_t)b;
    }
    wb_backoff_seed(b, seed);
    wb_backoff_reset(b);
}

void wb_backoff_reset(struct wb_backoff *b)
{
    b->attempts = 0;
    b->prev_ms = b->base_ms;
}

/* min(cap, base * 2^n) without overflow. */
static uint64_t ceiling(const struct wb_backoff *b, unsigned n)
{
    if (n >= 63 || b->base_ms > (b->cap_ms >> n))
        return b->cap_ms;
    return b->base_ms << n;
}

uint64_t wb_backoff_next(struct wb_backoff *b)
{
    uint64_t d, hi;

    switch (b->jitter) {
    case WB_BACKOFF_FULL:
        d = between(b, 0, ceiling(b, b->attempts));
        break;
    case WB_BACKOFF_DECORRELATED:
        hi = b->prev_ms > UINT64_MAX / 3 ? UINT64_MAX : b->prev_ms * 3;
        d = between(b, b->base_ms, hi);
        if (d > b->cap_ms)
            d = b->cap_ms;
        break;
    case WB_BACKOFF_NONE:
    default:
        d = ceiling(b, b->attempts);
        break;
    }
    if (b->attempts < 1000000)
        b->attempts++;
    b->prev_ms = d;
    return d;
}
