/*
 * The bus's loop pool when a thread cannot be made: weir_bus_start()
 * with the address space limited (RLIMIT_AS, in a forked child) so that
 * the first loop thread's stack fits and the second's does not. The
 * start must fail with WEIR_EINTERNAL having stopped and joined the
 * thread it made, and succeed, and deliver, once the limit is lifted.
 * The sanitizers reserve terabytes of address space up front, so under
 * them the case is skipped (the plain and coverage builds run it).
 * Also: a loop a pool thread runs refuses a host and its destruction.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "weir_test.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define POOL_SANITIZED 1
#else
#define POOL_SANITIZED 0
#endif

// The child's checks: a non-zero exit code names the first that failed.
static int
pool_child(void)
{
	weir_bus_config      *cfg;
	weir_bus             *bus;
	weir_subscr          *sub;
	weir_subscr_config   *sc;
	atomic_uint_least64_t n = 0;
	if (weir_bus_config_create(&cfg) != WEIR_OK ||
	    weir_bus_config_set_loops(cfg, 3) != WEIR_OK ||
	    weir_bus_create(&bus, cfg) != WEIR_OK ||
	    weir_subscr_config_create(&sc) != WEIR_OK ||
	    weir_subscr_config_set_loop_index(sc, 2) != WEIR_OK ||
	    weir_subscribe(&sub, bus, "a", wt_count_handler, &n, NULL, sc) !=
	        WEIR_OK) {
		return 10;
	}
	weir_bus_config_destroy(cfg);
	weir_subscr_config_destroy(sc);
	pthread_attr_t at;
	size_t         stack = 0;
	long           pages = 0;
	FILE          *f     = fopen("/proc/self/statm", "r");
	if (pthread_getattr_default_np(&at) != 0 ||
	    pthread_attr_getstacksize(&at, &stack) != 0 || f == NULL ||
	    fscanf(f, "%ld", &pages) != 1) {
		return 11;
	}
	fclose(f);
	struct rlimit old, lim;
	getrlimit(RLIMIT_AS, &old);
	lim          = old;
	lim.rlim_cur = (rlim_t) pages * (rlim_t) sysconf(_SC_PAGESIZE) +
	    stack + stack / 2;
	if (setrlimit(RLIMIT_AS, &lim) != 0) {
		return 12;
	}
	weir_err rv = weir_bus_start(bus);
	setrlimit(RLIMIT_AS, &old);
	if (rv != WEIR_EINTERNAL) {
		return 13;
	}
	// Nothing runs: the pool starts again, whole.
	if (weir_bus_start(bus) != WEIR_OK ||
	    weir_publish(bus, "a", "x", 1, 0, NULL) != WEIR_OK ||
	    !wt_wait_u64(&n, 1)) {
		return 14;
	}
	weir_bus_stop(bus);
	if (weir_bus_join(bus) != WEIR_OK) {
		return 15;
	}
	weir_bus_destroy(bus);
	return 0;
}

static void
test_thread_fails(void **state)
{
	(void) state;
	if (POOL_SANITIZED) {
		skip();
	}
	fflush(NULL); // nothing buffered is written twice
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		exit(pool_child()); // exit(), not _exit(): gcov's counts
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

// A loop that a pool thread runs takes no host and cannot be destroyed;
// once joined, it takes a host again.
static void
test_running_loop_busy(void **state)
{
	(void) state;
	weir_bus *bus = wt_bus_with_loops(1);
	assert_non_null(bus);
	weir_loop *loop = weir_bus_loop_at(bus, 0);
	assert_weir_ok(weir_bus_start(bus));
	weir_err rv  = WEIR_OK;
	int64_t  end = wt_now_ms() + WT_WAIT_MS;
	while (wt_now_ms() < end &&
	    (rv = weir_loop_attach_host(loop, "test")) == WEIR_OK) {
		weir_loop_detach_host(loop); // not running yet
		wt_sleep_ms(1);
	}
	assert_weir_err(rv, WEIR_EBUSY);
	assert_null(weir_loop_host(loop));
	assert_weir_err(weir_loop_destroy(loop), WEIR_EBUSY);
	weir_bus_stop(bus);
	assert_weir_ok(weir_bus_join(bus));
	assert_weir_ok(weir_loop_attach_host(loop, "test"));
	assert_string_equal(weir_loop_host(loop), "test");
	weir_loop_detach_host(loop);
	weir_bus_destroy(bus);
}

// Loops of a pool by index: past the last, NULL.
static void
test_loop_at(void **state)
{
	(void) state;
	weir_bus *bus = wt_bus_with_loops(2);
	assert_non_null(bus);
	assert_int_equal(weir_bus_loop_count(bus), 2);
	assert_non_null(weir_bus_loop_at(bus, 1));
	assert_ptr_not_equal(
	    weir_bus_loop_at(bus, 0), weir_bus_loop_at(bus, 1));
	assert_null(weir_bus_loop_at(bus, 2));
	assert_null(weir_bus_loop_at(bus, (size_t) -1));
	// A subscription on a loop index the pool does not have, or on a
	// bus without a pool: refused.
	weir_subscr_config *sc;
	weir_subscr        *sub = NULL;
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_ok(weir_subscr_config_set_loop_index(sc, 2));
	assert_weir_err(
	    weir_subscribe(&sub, bus, "a", wt_nop_handler, NULL, NULL, sc),
	    WEIR_EINVAL);
	weir_bus_destroy(bus);
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_subscr_config_set_loop_index(sc, 0));
	assert_weir_err(
	    weir_subscribe(&sub, bus, "a", wt_nop_handler, NULL, NULL, sc),
	    WEIR_EINVAL);
	assert_null(sub);
	weir_subscr_config_destroy(sc);
	weir_bus_destroy(bus);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thread_fails),
		cmocka_unit_test(test_running_loop_busy),
		cmocka_unit_test(test_loop_at),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
