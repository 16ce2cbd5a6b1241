/*
 * 0004-signal: SIGTERM and SIGINT raised in-process set the stop flag and wake the
 * self-pipe; SIGPIPE is ignored; a second signal exits at once with 128 + signo.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "wb_signal.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static int readable(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};

    return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}

static void test_sigterm(void **state)
{
    (void)state;
    assert_int_equal(wb_signal_init(), 0);
    assert_true(wb_signal_fd() >= 0);
    assert_false(wb_signal_stop_requested());
    assert_false(readable(wb_signal_fd()));
    assert_int_equal(raise(SIGTERM), 0);
    assert_true(wb_signal_stop_requested());
    assert_int_equal(wb_signal_received(), SIGTERM);
    assert_true(readable(wb_signal_fd()));
    wb_signal_reset();
    assert_false(wb_signal_stop_requested());
    assert_int_equal(wb_signal_received(), 0);
    assert_false(readable(wb_signal_fd()));
}

static void test_sigint(void **state)
{
    (void)state;
    assert_int_equal(wb_signal_init(), 0); /* again: harmless */
    assert_int_equal(raise(SIGINT), 0);
    assert_true(wb_signal_stop_requested());
    assert_int_equal(wb_signal_received(), SIGINT);
    wb_signal_reset();
}

static void test_request_stop(void **state)
{
    (void)state;
    wb_signal_request_stop();
    assert_true(wb_signal_stop_requested());
    assert_int_equal(wb_signal_received(), 0);
    assert_true(readable(wb_signal_fd()));
    /* A programmatic stop does not make the next signal the forcing second one. */
    assert_int_equal(raise(SIGTERM), 0);
    assert_int_equal(wb_signal_received(), SIGTERM);
    wb_signal_reset();
}

static void test_sigpipe_ignored(void **state)
{
    int fds[2];

    (void)state;
    assert_int_equal(raise(SIGPIPE), 0); /* still alive */
    assert_int_equal(pipe(fds), 0);
    close(fds[0]);
    errno = 0;
    assert_int_equal(write(fds[1], "x", 1), -1);
    assert_int_equal(errno, EPIPE);
    close(fds[1]);
    assert_false(wb_signal_stop_requested());
}

static void test_second_signal_exits(void **state)
{
    int status = 0;
    pid_t pid;

    (void)state;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        wb_signal_reset();
        raise(SIGTERM);
        if (!wb_signal_stop_requested())
            _exit(1);
        raise(SIGTERM);
        _exit(2); /* not reached when the second signal works */
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 128 + SIGTERM);
    assert_false(wb_signal_stop_requested()); /* the parent is untouched */
}

static void test_restore(void **state)
{
    struct sigaction sa;

    (void)state;
    wb_signal_restore();
    assert_int_equal(wb_signal_fd(), -1);
    assert_int_equal(sigaction(SIGTERM, NULL, &sa), 0);
    assert_true(sa.sa_handler == SIG_DFL);
    assert_int_equal(sigaction(SIGPIPE, NULL, &sa), 0);
    assert_true(sa.sa_handler == SIG_DFL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigterm),
        cmocka_unit_test(test_sigint),
        cmocka_unit_test(test_request_stop),
        cmocka_unit_test(test_sigpipe_ignored),
        cmocka_unit_test(test_second_signal_exits),
        cmocka_unit_test(test_restore),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
