/*
 * wb_fnv: FNV-1a, 64 bits: xor each byte in, multiply by the FNV prime.
 */
#include "wb_fnv.h"

uint64_t wb_fnv(uint64_t h, const void *data, size_t n)
{
    const unsigned char *s = data;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}
