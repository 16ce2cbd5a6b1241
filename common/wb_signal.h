/*
 * wb_signal: graceful shutdown. SIGTERM and SIGINT set a stop flag that main loops poll and
 * make a self-pipe readable, so a poll() loop wakes at once; SIGPIPE is ignored (a closed
 * socket is an error return, not death). A second SIGTERM/SIGINT exits at once.
 */
#ifndef WB_SIGNAL_H
#define WB_SIGNAL_H

#include <stdbool.h>

/* Installs the handlers and creates the self-pipe. Call once from the main thread before
 * starting other threads. Returns 0, or -1 with errno set. Calling it again is harmless. */
int wb_signal_init(void);

/* True once SIGTERM or SIGINT arrived or wb_signal_request_stop() was called. Any thread. */
bool wb_signal_stop_requested(void);

/* The signal that requested the stop (SIGTERM, SIGINT), or 0. */
int wb_signal_received(void);

/* Read end of the self-pipe (non-blocking, close-on-exec): readable once a stop is
 * requested; add it to poll() sets. -1 before wb_signal_init(). Do not close it. */
int wb_signal_fd(void);

/* Requests a stop as a signal would (for fatal errors found by other threads).
 * Async-signal-safe. */
void wb_signal_request_stop(void);

/* Clears the stop request and drains the pipe (tests, or a program that stops and goes on). */
void wb_signal_reset(void);

/* Restores default dispositions of SIGTERM, SIGINT and SIGPIPE and closes the pipe. */
void wb_signal_restore(void);

#endif
