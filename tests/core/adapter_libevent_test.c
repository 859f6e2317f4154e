/*
 * A real libevent base drives weir: events published from another
 * thread and a weir timer are dispatched inside event_base_dispatch();
 * a second attach is refused.
 */
#include <pthread.h>

#include "weir_test.h"

#include <weir/adapters/libevent.h>

#define LE_EVENTS 5000

typedef struct le_state {
	struct event_base    *base;
	weir_bus             *bus;
	atomic_uint_least64_t calls;
	atomic_uint_least64_t fired;
} le_state;

static void
le_maybe_done(le_state *ls)
{
	if (atomic_load(&ls->calls) == LE_EVENTS && atomic_load(&ls->fired)) {
		event_base_loopbreak(ls->base);
	}
}

static weir_err
le_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	atomic_fetch_add(&((le_state *) arg)->calls, 1);
	le_maybe_done(arg);
	return WEIR_OK;
}

static void
le_weir_timer(weir_timer *t, void *arg)
{
	atomic_fetch_add(&((le_state *) arg)->fired, 1);
	weir_timer_stop(t);
	le_maybe_done(arg);
}

static void *
le_publisher(void *arg)
{
	le_state *ls = arg;
	for (int i = 0; i < LE_EVENTS; i++) {
		weir_publish(ls->bus, "le.ev", "x", 1, 0, NULL);
	}
	return NULL;
}

static void
test_libevent_drives_weir(void **state)
{
	(void) state;
	le_state ls = { .base = event_base_new() };
	assert_non_null(ls.base);
	weir_subscr *sub;
	assert_weir_ok(weir_bus_create(&ls.bus, NULL));
	assert_weir_ok(
	    weir_subscribe(&sub, ls.bus, "le.>", le_handler, &ls, NULL, NULL));
	weir_libevent *a, *b;
	assert_weir_ok(
	    weir_libevent_attach(&a, ls.base, weir_bus_loop(ls.bus)));
	assert_weir_err(
	    weir_libevent_attach(&b, ls.base, weir_bus_loop(ls.bus)),
	    WEIR_EBUSY);
	assert_string_equal(weir_loop_host(weir_bus_loop(ls.bus)), "libevent");
	weir_timer *t;
	assert_weir_ok(weir_timer_start(
	    &t, weir_bus_loop(ls.bus), 30, 0, le_weir_timer, &ls));
	pthread_t th;
	pthread_create(&th, NULL, le_publisher, &ls);
	struct timeval guard = { 30, 0 };
	event_base_loopexit(ls.base, &guard);
	event_base_dispatch(ls.base);
	pthread_join(th, NULL);
	assert_int_equal(atomic_load(&ls.calls), LE_EVENTS);
	assert_int_equal(atomic_load(&ls.fired), 1);
	weir_libevent_detach(a);
	assert_null(weir_loop_host(weir_bus_loop(ls.bus)));
	event_base_free(ls.base);
	weir_bus_destroy(ls.bus);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_libevent_drives_weir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
