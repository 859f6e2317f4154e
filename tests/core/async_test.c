/*
 * Asynchronous handlers: defer a delivery, complete it on another
 * thread, the max-in-flight bound, failures after completion,
 * completion after the subscription was closed, and deferrals within a
 * run of events the loop took at once.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "weir_test.h"

#define ASYNC_N 2000
#define ASYNC_MAX 8

typedef struct async_state {
	pthread_mutex_t       mx;
	weir_delivery        *tokens[ASYNC_N];
	size_t                head, tail;
	atomic_int            open;     // deferred, not completed
	atomic_int            max_open; // highest seen
	atomic_uint_least64_t completed;
	atomic_int            done;   // worker may stop
	weir_err              result; // what the worker completes with
	weir_subscr          *sub;
} async_state;

static weir_err
async_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	async_state   *as = arg;
	weir_delivery *d, *again;
	assert_ptr_equal(weir_subscr_current(), as->sub);
	assert_weir_ok(weir_delivery_defer(&d));
	assert_weir_err(weir_delivery_defer(&again), WEIR_EINVAL); // once
	assert_ptr_equal(weir_delivery_subscr(d), as->sub);
	assert_non_null(weir_delivery_event(d));
	int open = atomic_fetch_add(&as->open, 1) + 1;
	if (open > atomic_load(&as->max_open)) {
		atomic_store(&as->max_open, open);
	}
	pthread_mutex_lock(&as->mx);
	as->tokens[as->tail++ % ASYNC_N] = d;
	pthread_mutex_unlock(&as->mx);
	return WEIR_EPENDING;
}

static void *
async_worker(void *arg)
{
	async_state *as = arg;
	while (!atomic_load(&as->done)) {
		weir_delivery *d = NULL;
		pthread_mutex_lock(&as->mx);
		if (as->head != as->tail) {
			d = as->tokens[as->head++ % ASYNC_N];
		}
		pthread_mutex_unlock(&as->mx);
		if (d == NULL) {
			wt_sleep_ms(1);
			continue;
		}
		atomic_fetch_sub(&as->open, 1);
		weir_delivery_complete(d, as->result);
		atomic_fetch_add(&as->completed, 1);
	}
	return NULL;
}

static weir_bus *
async_bus(async_state *as, size_t max_in_flight)
{
	weir_bus *bus = wt_bus_with_loops(1);
	assert_non_null(bus);
	weir_subscr_config *sc;
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_ok(
	    weir_subscr_config_set_max_in_flight(sc, max_in_flight));
	assert_weir_ok(weir_subscr_config_set_capacity(sc, ASYNC_N));
	pthread_mutex_init(&as->mx, NULL);
	assert_weir_ok(weir_subscribe(
	    &as->sub, bus, "job.>", async_handler, as, NULL, sc));
	weir_subscr_config_destroy(sc);
	return bus;
}

static void
test_max_in_flight(void **state)
{
	(void) state;
	async_state *as  = calloc(1, sizeof(*as));
	weir_bus    *bus = async_bus(as, ASYNC_MAX);
	pthread_t    th;
	pthread_create(&th, NULL, async_worker, as);
	assert_weir_ok(weir_bus_start(bus));
	for (int i = 0; i < ASYNC_N; i++) {
		assert_weir_ok(weir_publish(bus, "job.run", "x", 1, 0, NULL));
	}
	assert_true(wt_wait_u64(&as->completed, ASYNC_N));
	assert_true(atomic_load(&as->max_open) <= ASYNC_MAX);
	weir_subscr_stats x = WEIR_STRUCT_INIT(weir_subscr_stats);
	assert_weir_ok(weir_subscr_stats_get(as->sub, &x));
	assert_int_equal(x.deferred, ASYNC_N);
	assert_int_equal(x.in_flight, 0);
	atomic_store(&as->done, 1);
	pthread_join(th, NULL);
	weir_bus_destroy(bus);
	pthread_mutex_destroy(&as->mx);
	free(as);
}

static weir_err
error_listener(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	size_t      len;
	const char *name = weir_event_header_get(ev, "weir-error", &len);
	if (name != NULL && len == strlen("WEIR_EIO") &&
	    memcmp(name, "WEIR_EIO", len) == 0) {
		atomic_fetch_add((atomic_uint_least64_t *) arg, 1);
	}
	return WEIR_OK;
}

static void
test_failed_completion_reported(void **state)
{
	(void) state;
	async_state *as              = calloc(1, sizeof(*as));
	weir_bus    *bus             = async_bus(as, 0); // unbounded
	as->result                   = WEIR_EIO;
	atomic_uint_least64_t errors = 0;
	assert_weir_ok(weir_on(
	    bus, WEIR_TOPIC_ERROR, error_listener, &errors, NULL, 0, NULL));
	pthread_t th;
	pthread_create(&th, NULL, async_worker, as);
	assert_weir_ok(weir_bus_start(bus));
	for (int i = 0; i < 100; i++) {
		assert_weir_ok(weir_publish(bus, "job.run", "x", 1, 0, NULL));
	}
	// The failure path runs on the loop, not on the worker.
	assert_true(wt_wait_u64(&errors, 100));
	weir_subscr_stats st = WEIR_STRUCT_INIT(weir_subscr_stats);
	assert_weir_ok(weir_subscr_stats_get(as->sub, &st));
	assert_int_equal(st.failed, 100);
	atomic_store(&as->done, 1);
	pthread_join(th, NULL);
	weir_bus_destroy(bus);
	pthread_mutex_destroy(&as->mx);
	free(as);
}

static void
test_complete_after_unsubscribe(void **state)
{
	(void) state;
	async_state *as  = calloc(1, sizeof(*as));
	weir_bus    *bus = async_bus(as, 4);
	for (int i = 0; i < 10; i++) {
		assert_weir_ok(weir_publish(bus, "job.run", "x", 1, 0, NULL));
	}
	assert_weir_ok(weir_loop_step(weir_bus_loop_at(bus, 0), 0, 0, NULL));
	assert_int_equal(as->tail, 4); // paused at the bound
	weir_unsubscribe(as->sub);
	// Tokens keep the event and the subscription alive until then.
	for (size_t i = 0; i < as->tail; i++) {
		weir_delivery_complete(as->tokens[i], WEIR_EIO);
	}
	weir_delivery_complete(NULL, WEIR_OK); // no-op
	weir_delivery *d;
	assert_weir_err(weir_delivery_defer(&d), WEIR_EINVAL); // no handler
	assert_null(weir_subscr_current());
	weir_bus_destroy(bus);
	pthread_mutex_destroy(&as->mx);
	free(as);
}

// A run of events (one pass takes up to 32 at once) shares one delivery
// context: each call still defers only its own event, once, and the
// failure path of a call (the $weir.error listeners) runs outside it.
#define RUN_N 40

typedef struct run_state {
	weir_subscr   *sub;
	weir_delivery *d[RUN_N];
	int            ndefer;
	int            calls;
	int            bad; // a context seen where it should not be
} run_state;

static weir_err
run_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	run_state     *rs = arg;
	int            i  = rs->calls++;
	weir_delivery *d, *again;
	rs->bad += weir_subscr_current() != rs->sub;
	if (i % 2 == 0) {
		rs->bad += weir_delivery_defer(&d) != WEIR_OK;
		rs->bad += weir_delivery_defer(&again) != WEIR_EINVAL; // once
		rs->d[rs->ndefer++] = d;
		return i % 4 == 0 ? WEIR_EIO : WEIR_OK; // deferred: not failed
	}
	return i % 5 == 0 ? WEIR_EIO : WEIR_OK;
}

static weir_err
run_error_listener(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	run_state     *rs = arg;
	weir_delivery *d;
	rs->bad += weir_subscr_current() != NULL;
	rs->bad += weir_delivery_defer(&d) != WEIR_EINVAL;
	return WEIR_OK;
}

static void
test_defer_within_a_run(void **state)
{
	(void) state;
	run_state *rs = calloc(1, sizeof(*rs));
	weir_bus  *bus;
	assert_non_null(rs);
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_subscribe(
	    &rs->sub, bus, "job.run", run_handler, rs, NULL, NULL));
	assert_weir_ok(weir_on(
	    bus, WEIR_TOPIC_ERROR, run_error_listener, rs, NULL, 0, NULL));
	for (int i = 0; i < RUN_N; i++) {
		assert_weir_ok(
		    weir_publish(bus, "job.run", &i, sizeof(i), 0, NULL));
	}
	assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT));
	assert_int_equal(rs->calls, RUN_N);
	assert_int_equal(rs->bad, 0);
	assert_int_equal(rs->ndefer, RUN_N / 2);
	for (int k = 0; k < rs->ndefer; k++) {
		size_t     len;
		const int *v =
		    weir_event_payload(weir_delivery_event(rs->d[k]), &len);
		assert_int_equal(*v, 2 * k);
		weir_delivery_complete(rs->d[k], WEIR_OK);
	}
	weir_subscr_stats st = WEIR_STRUCT_INIT(weir_subscr_stats);
	assert_weir_ok(weir_subscr_stats_get(rs->sub, &st));
	assert_int_equal(st.delivered, RUN_N);
	assert_int_equal(st.deferred, RUN_N / 2);
	assert_int_equal(st.in_flight, 0);
	assert_int_equal(st.failed, 4); // odd i with i % 5 == 0: 5 15 25 35
	weir_bus_destroy(bus);
	free(rs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_max_in_flight),
		cmocka_unit_test(test_failed_completion_reported),
		cmocka_unit_test(test_complete_after_unsubscribe),
		cmocka_unit_test(test_defer_within_a_run),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
