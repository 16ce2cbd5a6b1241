/*
 * wb_fnv: the 64-bit FNV-1a hash behind the producer's fingerprints (a group's properties,
 * the scope configuration). Fingerprints are stored in checkpoints, so the function never
 * changes. Pure, any thread.
 */
#ifndef WB_FNV_H
#define WB_FNV_H

#include <stddef.h>
#include <stdint.h>

/* The FNV-1a offset basis: the h of an empty input. */
#define WB_FNV_OFFSET 0xcbf29ce484222325ULL

/* h extended by the n bytes at data. */
uint64_t wb_fnv(uint64_t h, const void *data, size_t n);

#endif
