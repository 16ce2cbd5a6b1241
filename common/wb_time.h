/*
 * wb_time: wall-clock time in unix milliseconds and RFC 3339 timestamps read into it (the
 * format events carry, wb_event_ts_format, and operators type). Pure functions, any thread.
 */
#ifndef WB_TIME_H
#define WB_TIME_H

#include <stdint.h>

/* Current wall-clock time in unix ms. */
int64_t wb_time_now_ms(void);
/* Monotonic milliseconds (CLOCK_MONOTONIC): for durations and deadlines. */
int64_t wb_time_mono_ms(void);

/* Parses RFC 3339 ("2024-05-01T12:00:00Z", a fraction of any length of which milliseconds are
 * kept, "+02:00" offsets; a date alone is midnight UTC) into unix ms; -1 when malformed or
 * before 1970. */
int64_t wb_time_parse(const char *s);

#endif
