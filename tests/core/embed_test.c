/*
 * Embedding: weir_loop_step() with a budget, weir_loop_timeout(), the
 * pollable fd, host attachment, and spin-then-sleep.
 */
#include <poll.h>
#include <pthread.h>
#include <string.h>

#include "weir_test.h"

static void
test_step_budget(void **state)
{
	(void) state;
	weir_bus             *bus;
	weir_subscr          *sub;
	atomic_uint_least64_t n = 0;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	weir_loop *loop = weir_bus_loop(bus);
	assert_weir_ok(weir_subscribe(
	    &sub, bus, "a.b", wt_count_handler, &n, NULL, NULL));
	assert_int_equal(weir_loop_timeout(loop), -1); // nothing pending
	for (int i = 0; i < 100; i++) {
		assert_weir_ok(weir_publish(bus, "a.b", "x", 1, 0, NULL));
	}
	assert_true(wt_fd_readable(weir_loop_fd(loop)));
	size_t done;
	assert_weir_err(weir_loop_step(loop, 10, 0, &done), WEIR_EAGAIN);
	assert_int_equal(done, 10);
	assert_int_equal(atomic_load(&n), 10);
	// Work is left: the fd stays readable and the timeout is 0.
	assert_true(wt_fd_readable(weir_loop_fd(loop)));
	assert_int_equal(weir_loop_timeout(loop), 0);
	int      steps = 0;
	weir_err rv;
	while ((rv = weir_loop_step(loop, 10, 0, &done)) == WEIR_EAGAIN) {
		steps++;
	}
	assert_weir_ok(rv);
	assert_int_equal(atomic_load(&n), 100);
	assert_true(steps >= 8);
	// A time budget alone also returns (1 ns: one call at least).
	for (int i = 0; i < 50; i++) {
		assert_weir_ok(weir_publish(bus, "a.b", "x", 1, 0, NULL));
	}
	rv = weir_loop_step(loop, 0, 1, &done);
	assert_true(rv == WEIR_EAGAIN || rv == WEIR_OK);
	assert_weir_ok(weir_loop_step(loop, 0, 0, NULL)); // no limit
	assert_int_equal(atomic_load(&n), 150);
	weir_loop_stats ls = WEIR_STRUCT_INIT(weir_loop_stats);
	assert_weir_ok(weir_loop_stats_get(loop, &ls));
	assert_true(ls.steps >= 10);
	assert_true(ls.budget_out >= 9);
	assert_int_equal(ls.dispatched, 150);
	weir_bus_destroy(bus);
}

static void
fire_timer(weir_timer *t, void *arg)
{
	(void) t;
	atomic_fetch_add((atomic_uint_least64_t *) arg, 1);
}

static void
test_timeout_follows_timers(void **state)
{
	(void) state;
	weir_loop            *loop;
	weir_timer           *t;
	atomic_uint_least64_t fired = 0;
	assert_weir_ok(weir_loop_create(&loop));
	assert_weir_ok(weir_timer_start(&t, loop, 40, 0, fire_timer, &fired));
	int ms = weir_loop_timeout(loop);
	assert_true(ms > 0 && ms <= 40);
	// A host would poll the fd for ms: the timer is not on the fd.
	struct pollfd p = { .fd = weir_loop_fd(loop), .events = POLLIN };
	poll(&p, 1, ms);
	while (weir_loop_timeout(loop) > 0) {
		wt_sleep_ms(1);
	}
	assert_weir_ok(weir_loop_step(loop, 0, 0, NULL));
	assert_int_equal(atomic_load(&fired), 1);
	assert_int_equal(weir_loop_timeout(loop), -1);
	weir_timer_stop(t);
	assert_weir_ok(weir_loop_destroy(loop));
}

static void
test_host_attach(void **state)
{
	(void) state;
	weir_loop *loop;
	assert_weir_ok(weir_loop_create(&loop));
	assert_null(weir_loop_host(loop));
	assert_weir_ok(weir_loop_attach_host(loop, "libuv"));
	assert_weir_err(weir_loop_attach_host(loop, "libevent"), WEIR_EBUSY);
	assert_string_equal(weir_loop_host(loop), "libuv");
	// A hosted loop is driven by steps only.
	assert_weir_err(weir_loop_run(loop, WEIR_RUN_NOWAIT), WEIR_EBUSY);
	assert_weir_ok(weir_loop_step(loop, 0, 0, NULL));
	weir_loop_detach_host(loop);
	assert_weir_ok(weir_loop_run(loop, WEIR_RUN_NOWAIT));
	assert_weir_err(weir_loop_attach_host(NULL, "x"), WEIR_EINVAL);
	assert_weir_err(weir_loop_attach_host(loop, NULL), WEIR_EINVAL);
	assert_weir_ok(weir_loop_destroy(loop));
}

typedef struct spin_pub {
	weir_bus              *bus;
	atomic_uint_least64_t *n;
} spin_pub;

static void *
spin_publisher(void *arg)
{
	spin_pub *p = arg;
	for (uint64_t i = 0; i < 200; i++) {
		weir_publish(p->bus, "s.p", NULL, 0, 0, NULL);
		while (atomic_load(p->n) <= i) {
			// ping-pong: the next one after delivery
		}
	}
	weir_bus_stop(p->bus);
	return NULL;
}

static void
test_spin(void **state)
{
	(void) state;
	weir_bus             *bus;
	weir_subscr          *sub;
	atomic_uint_least64_t n = 0;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_err(weir_loop_set_spin(NULL, 1), WEIR_EINVAL);
	assert_weir_ok(weir_loop_set_spin(weir_bus_loop(bus), 200));
	assert_weir_ok(weir_subscribe(
	    &sub, bus, "s.p", wt_count_handler, &n, NULL, NULL));
	spin_pub  p = { bus, &n };
	pthread_t th;
	pthread_create(&th, NULL, spin_publisher, &p);
	assert_weir_ok(weir_bus_run(bus, WEIR_RUN_DEFAULT));
	pthread_join(th, NULL);
	assert_int_equal(atomic_load(&n), 200);
	weir_loop_stats ls = WEIR_STRUCT_INIT(weir_loop_stats);
	assert_weir_ok(weir_loop_stats_get(weir_bus_loop(bus), &ls));
	assert_true(ls.spins > 0); // hits depend on the scheduler
	weir_bus_destroy(bus);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_step_budget),
		cmocka_unit_test(test_timeout_follows_timers),
		cmocka_unit_test(test_host_attach),
		cmocka_unit_test(test_spin),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
