/*
 * "stop asks, join waits", the same on a loop and on a bus:
 * weir_loop_stop/weir_loop_join and weir_bus_stop/weir_bus_join.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "weir_test.h"

static void
mark_running(weir_timer *t, void *arg)
{
	atomic_store((atomic_int *) arg, 1);
	weir_timer_stop(t);
}

static void
test_loop_stop_join(void **state)
{
	(void) state;
	weir_loop  *loop;
	weir_timer *t;
	pthread_t   th;
	atomic_int  running = 0;
	assert_weir_ok(weir_loop_create(&loop));
	assert_weir_ok(weir_loop_join(loop)); // nobody runs it: at once
	assert_weir_err(weir_loop_join(NULL), WEIR_EINVAL);
	assert_weir_ok(
	    weir_timer_start(&t, loop, 0, 0, mark_running, &running));
	assert_int_equal(pthread_create(&th, NULL, wt_run_loop, loop), 0);
	wt_wait_until(atomic_load(&running)); // the timer: the thread runs it
	assert_weir_err(weir_loop_step(loop, 0, 0, NULL), WEIR_EBUSY);
	weir_loop_stop(loop);
	assert_weir_ok(weir_loop_join(loop));
	// Joined: the runner has left, so this thread may drive it now.
	assert_weir_ok(weir_loop_step(loop, 0, 0, NULL));
	pthread_join(th, NULL);
	assert_weir_ok(weir_loop_destroy(loop));
}

static void
join_own(weir_timer *t, void *arg)
{
	weir_loop **lp = arg;
	weir_err    rv = weir_loop_join(*lp);
	weir_timer_stop(t);
	weir_loop_stop(*lp);
	*lp = rv == WEIR_EBUSY ? NULL : *lp; // NULL marks "refused"
}

static void
test_loop_join_own_thread(void **state)
{
	(void) state;
	weir_loop  *loop, *seen;
	weir_timer *t;
	assert_weir_ok(weir_loop_create(&loop));
	seen = loop;
	assert_weir_ok(weir_timer_start(&t, loop, 0, 0, join_own, &seen));
	assert_weir_ok(weir_loop_run(loop, WEIR_RUN_DEFAULT));
	assert_null(seen); // weir_loop_join from its own loop: WEIR_EBUSY
	assert_weir_ok(weir_loop_destroy(loop));
}

typedef struct bus_state {
	weir_bus  *bus;
	atomic_int calls;
	atomic_int stop_at;
} bus_state;

static weir_err
count_and_stop(weir_bus *bus, const weir_event *ev, void *arg)
{
	bus_state *s = arg;
	(void) ev;
	if (atomic_fetch_add(&s->calls, 1) + 1 == atomic_load(&s->stop_at)) {
		weir_bus_stop(bus); // from a handler on a loop thread
	}
	return WEIR_OK;
}

static void
test_bus_stop_join(void **state)
{
	(void) state;
	weir_bus_config *cfg;
	bus_state        s = { 0 };
	weir_subscr     *sub[2];
	pthread_t        def;
	assert_weir_ok(weir_bus_config_create(&cfg));
	assert_weir_ok(weir_bus_config_set_loops(cfg, 2));
	assert_weir_ok(weir_bus_create(&s.bus, cfg));
	weir_bus_config_destroy(cfg);
	for (int i = 0; i < 2; i++) {
		assert_weir_ok(weir_subscribe(
		    &sub[i], s.bus, "j.>", count_and_stop, &s, NULL, NULL));
	}
	assert_weir_ok(weir_bus_join(s.bus)); // not started: at once
	atomic_store(&s.stop_at, 2);
	assert_weir_ok(weir_bus_start(s.bus));
	assert_int_equal(pthread_create(&def, NULL, wt_run_bus, s.bus), 0);
	assert_weir_ok(weir_publish(s.bus, "j.x", "p", 1, 0, NULL));
	// The second handler call stops every loop: the threads' and the
	// default loop's runner return, so both joins end.
	assert_weir_ok(weir_bus_join(s.bus));
	pthread_join(def, NULL);
	assert_int_equal(atomic_load(&s.calls), 2);
	// Joined threads can be started again and dispatch again.
	atomic_store(&s.stop_at, 4);
	assert_weir_ok(weir_bus_start(s.bus));
	assert_weir_ok(weir_publish(s.bus, "j.y", "p", 1, 0, NULL));
	assert_weir_ok(weir_bus_join(s.bus));
	assert_int_equal(atomic_load(&s.calls), 4);
	weir_bus_destroy(s.bus);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loop_stop_join),
		cmocka_unit_test(test_loop_join_own_thread),
		cmocka_unit_test(test_bus_stop_join),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
