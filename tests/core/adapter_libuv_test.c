/*
 * A real libuv loop drives weir: events published from another thread
 * and a weir timer are dispatched inside uv_run(); a second attach is
 * refused.
 */
#include <pthread.h>

#include "weir_test.h"

#include <weir/adapters/libuv.h>

#define UV_EVENTS 5000

typedef struct uv_state {
	uv_loop_t            *uv;
	weir_bus             *bus;
	atomic_uint_least64_t calls;
	atomic_uint_least64_t fired;
	int                   on_loop_thread;
	pthread_t             uv_thread;
	uv_timer_t            guard; // ends the test if something hangs
	uv_async_t            done;
} uv_state;

static weir_err
uv_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	uv_state *us = arg;
	if (!pthread_equal(pthread_self(), us->uv_thread)) {
		us->on_loop_thread = 0;
	}
	if (atomic_fetch_add(&us->calls, 1) + 1 == UV_EVENTS &&
	    atomic_load(&us->fired) > 0) {
		uv_stop(us->uv);
	}
	return WEIR_OK;
}

static void
uv_weir_timer(weir_timer *t, void *arg)
{
	uv_state *us = arg;
	atomic_fetch_add(&us->fired, 1);
	weir_timer_stop(t);
	if (atomic_load(&us->calls) == UV_EVENTS) {
		uv_stop(us->uv);
	}
}

static void *
uv_publisher(void *arg)
{
	uv_state *us = arg;
	for (int i = 0; i < UV_EVENTS; i++) {
		weir_publish(us->bus, "uv.ev", "x", 1, 0, NULL);
	}
	return NULL;
}

static void
uv_on_guard(uv_timer_t *t)
{
	uv_stop(t->loop);
}

static void
test_libuv_drives_weir(void **state)
{
	(void) state;
	uv_state  us = { .on_loop_thread = 1 };
	uv_loop_t loop;
	uv_loop_init(&loop);
	us.uv        = &loop;
	us.uv_thread = pthread_self();
	weir_subscr *sub;
	assert_weir_ok(weir_bus_create(&us.bus, NULL));
	assert_weir_ok(
	    weir_subscribe(&sub, us.bus, "uv.>", uv_handler, &us, NULL, NULL));
	weir_libuv *a, *b;
	assert_weir_ok(weir_libuv_attach(&a, &loop, weir_bus_loop(us.bus)));
	assert_weir_err(
	    weir_libuv_attach(&b, &loop, weir_bus_loop(us.bus)), WEIR_EBUSY);
	assert_string_equal(weir_loop_host(weir_bus_loop(us.bus)), "libuv");
	weir_timer *t;
	assert_weir_ok(weir_timer_start(
	    &t, weir_bus_loop(us.bus), 30, 0, uv_weir_timer, &us));
	uv_timer_init(&loop, &us.guard);
	uv_timer_start(&us.guard, uv_on_guard, 30000, 0);
	pthread_t th;
	pthread_create(&th, NULL, uv_publisher, &us);
	uv_run(&loop, UV_RUN_DEFAULT);
	pthread_join(th, NULL);
	assert_int_equal(atomic_load(&us.calls), UV_EVENTS);
	assert_int_equal(atomic_load(&us.fired), 1);
	assert_true(us.on_loop_thread);
	weir_libuv_detach(a);
	uv_close((uv_handle_t *) &us.guard, NULL);
	uv_run(&loop, UV_RUN_DEFAULT); // close callbacks free the adapter
	assert_int_equal(uv_loop_close(&loop), 0);
	assert_null(weir_loop_host(weir_bus_loop(us.bus)));
	weir_bus_destroy(us.bus);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_libuv_drives_weir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
