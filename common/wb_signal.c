/*
 * wb_signal: the handler only stores to volatile sig_atomic_t and write()s one byte, both
 * async-signal-safe. SA_RESTART keeps libraries that do not retry EINTR working; poll()
 * loops wake through the pipe instead. An impatient second signal calls _exit(128 + signo).
 */
#include "wb_signal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t signal_count;
static int pipe_fd[2] = {-1, -1};

static void poke(void)
{
    int saved = errno;

    if (pipe_fd[1] >= 0) {
        /* A full pipe already wakes the reader; the result does not matter. */
        ssize_t n = write(pipe_fd[1], "x", 1);

        (void)n;
    }
    errno = saved;
}

static void on_signal(int signo)
{
    if (signal_count > 0)
        _exit(128 + signo);
    signal_count = 1;
    stop_signal = signo;
    stop_flag = 1;
    poke();
}

int wb_signal_init(void)
{
    struct sigaction sa;

    if (pipe_fd[0] < 0 && pipe2(pipe_fd, O_NONBLOCK | O_CLOEXEC) != 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaddset(&sa.sa_mask, SIGINT);
    sa.sa_flags = SA_RESTART;
    sa.sa_handler = on_signal;
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
        return -1;
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) != 0)
        return -1;
    return 0;
}

bool wb_signal_stop_requested(void)
{
    return stop_flag != 0;
}

int wb_signal_received(void)
{
    return (int)stop_signal;
}

int wb_signal_fd(void)
{
    return pipe_fd[0];
}

void wb_signal_request_stop(void)
{
    stop_flag = 1;
    poke();
}

void wb_signal_reset(void)
{
    char buf[64];

    stop_flag = 0;
    stop_signal = 0;
    signal_count = 0;
    if (pipe_fd[0] >= 0)
        while (read(pipe_fd[0], buf, sizeof(buf)) > 0)
            ;
}

void wb_signal_restore(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGPIPE, &sa, NULL);
    if (pipe_fd[0] >= 0) {
        close(pipe_fd[0]);
        close(pipe_fd[1]);
        pipe_fd[0] = pipe_fd[1] = -1;
    }
}
