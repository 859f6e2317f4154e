/*
 * The weir tool's signal plumbing (src/cli/sig.c): the self-pipe a
 * command polls, the flags of SIGINT / SIGTERM and SIGUSR1, a pipe that
 * fills up, and pipe() failing (-Wl,--wrap=pipe): no handler installed,
 * -1 returned, and a sleep that then polls no descriptor.
 */
#include "weir_test.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include "cli/sig.h"
#include "libc_fail.h" /* the allocation wraps every tool unit links */

int __real_pipe(int fds[2]);
int __wrap_pipe(int fds[2]);

static int pipe_fail;

int
__wrap_pipe(int fds[2])
{
	if (pipe_fail) {
		errno = EMFILE;
		return -1;
	}
	return __real_pipe(fds);
}

static int
readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, 0) == 1;
}

static void
test_signals(void **state)
{
	(void) state;
	/* not installed yet: a sleep polls nothing and returns */
	weir__sig_sleep_ms(1);
	pipe_fail = 1;
	assert_int_equal(weir__sig_install(), -1);
	pipe_fail = 0;
	int fd    = weir__sig_install();
	assert_true(fd >= 0);
	assert_int_equal(weir__sig_install(), fd); /* once only */
	assert_false(readable(fd));
	/* SIGUSR1: a flag taken once, a wake-up, no stop */
	assert_int_equal(weir__sig_take_usr1(), 0);
	raise(SIGUSR1);
	assert_int_equal(weir__sig_take_usr1(), 1);
	assert_int_equal(weir__sig_take_usr1(), 0);
	assert_int_equal(weir__sig_stopping(), 0);
	assert_true(readable(fd));
	weir__sig_drain();
	assert_false(readable(fd));
	/* more signals than the pipe holds: the handler's write fails
	 * (EAGAIN), nothing blocks, and one drain empties it */
	for (int i = 0; i < 70000; i++)
		raise(SIGUSR1);
	assert_int_equal(weir__sig_take_usr1(), 1);
	weir__sig_drain();
	assert_false(readable(fd));
	/* SIGTERM: stopping; a sleep returns at once, long before 30 s */
	raise(SIGTERM);
	assert_int_equal(weir__sig_stopping(), 1);
	assert_int_equal(weir__sig_take_usr1(), 0);
	int64_t t0 = wt_now_ms();
	weir__sig_sleep_ms(30000);
	assert_true(wt_now_ms() - t0 < 20000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
