// The loop backend CMake chose (WEIR_LOOP_BACKEND: auto picks epoll on
// Linux, poll elsewhere) is the one the library reports and runs, and
// its wake-up makes weir_loop_fd() readable and is drained by a pass.
#include <poll.h>

#include "weir_test.h"

static int
fd_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void
test_backend_name(void **state)
{
	(void) state;
	assert_string_equal(weir_loop_backend(), WEIR_BACKEND_EXPECTED);
}

static void
test_wake_readable_then_drained(void **state)
{
	(void) state;
	weir_loop *loop;
	assert_weir_ok(weir_loop_create(&loop));
	int fd = weir_loop_fd(loop);
	assert_true(fd >= 0);
	assert_weir_ok(weir_loop_run(loop, WEIR_RUN_NOWAIT));
	assert_false(fd_readable(fd));
	for (int i = 0; i < 3; i++) {
		weir_loop_stop(loop); // a stop wakes the loop
		assert_true(fd_readable(fd));
		assert_weir_ok(weir_loop_run(loop, WEIR_RUN_NOWAIT));
		assert_false(fd_readable(fd)); // every wake-up drained
	}
	assert_weir_ok(weir_loop_destroy(loop));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backend_name),
		cmocka_unit_test(test_wake_readable_then_drained),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
