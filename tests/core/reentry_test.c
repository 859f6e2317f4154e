/*
 * Re-entrant emits and once-listeners: a once-listener that a nested
 * emit reaches first is not called again by the outer emit; one removed
 * by weir_off_all() from an earlier listener of the same emit is still
 * called by that emit (its snapshot, as in Node) and only once. And a
 * failing listener whose error has only a subscription on $weir.error:
 * the emit succeeds and the subscription gets the error event. A
 * handler that closes its own subscription twice.
 */
#include <string.h>

#include "weir_test.h"

typedef struct reentry {
	int      depth;
	int      a_calls;
	int      b_calls;
	int      off_all; // the first listener removes every listener
	uint64_t removed;
} reentry;

static weir_err
first_fn(weir_bus *bus, const weir_event *ev, void *arg)
{
	reentry *r = arg;
	r->a_calls++;
	if (r->off_all) {
		size_t n = 0;
		assert_weir_ok(weir_off_all(bus, "t", &n));
		r->removed = n;
	} else if (r->depth++ == 0) {
		assert_weir_ok(
		    weir_emit(bus, weir_event_topic(ev), "", 0, NULL));
	}
	return WEIR_OK;
}

static weir_err
once_fn(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	((reentry *) arg)->b_calls++;
	return WEIR_OK;
}

static void
test_once_reached_by_nested_emit(void **state)
{
	(void) state;
	weir_bus *bus;
	reentry   r = { 0 };
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_on(bus, "t", first_fn, &r, NULL, 0, NULL));
	assert_weir_ok(
	    weir_on(bus, "t", once_fn, &r, NULL, WEIR_ON_ONCE, NULL));
	size_t called = 0;
	assert_weir_ok(weir_emit(bus, "t", "", 0, &called));
	assert_int_equal(r.a_calls, 2);
	assert_int_equal(r.b_calls, 1);
	assert_int_equal(called, 1); // the outer emit skipped it
	assert_int_equal(weir_listener_count(bus, "t"), 1);
	weir_bus_destroy(bus);
}

static void
test_once_removed_by_earlier_listener(void **state)
{
	(void) state;
	weir_bus *bus;
	reentry   r = { .off_all = 1 };
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_on(bus, "t", first_fn, &r, NULL, 0, NULL));
	assert_weir_ok(
	    weir_on(bus, "t", once_fn, &r, NULL, WEIR_ON_ONCE, NULL));
	size_t called = 0;
	assert_weir_ok(weir_emit(bus, "t", "", 0, &called));
	assert_int_equal(r.removed, 2);
	assert_int_equal(r.a_calls, 1);
	assert_int_equal(r.b_calls, 1);
	assert_int_equal(called, 2);
	assert_int_equal(weir_listener_count(bus, "t"), 0);
	assert_weir_ok(weir_emit(bus, "t", "", 0, &called));
	assert_int_equal(called, 0);
	assert_int_equal(r.b_calls, 1);
	weir_bus_destroy(bus);
}

static weir_err
failing_fn(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	(void) arg;
	return WEIR_EHANDLER;
}

typedef struct seen {
	int  n;
	char topic[16];
} seen;

static weir_err
error_sub_fn(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	seen       *s = arg;
	size_t      len;
	const char *t = weir_event_header_get(ev, "weir-topic", &len);
	if (t != NULL && len < sizeof(s->topic)) {
		memcpy(s->topic, t, len);
		s->topic[len] = '\0';
	}
	s->n++;
	return WEIR_OK;
}

static void
test_error_to_subscription_only(void **state)
{
	(void) state;
	weir_bus    *bus;
	weir_subscr *sub;
	seen         s = { 0 };
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_on(bus, "t", failing_fn, NULL, NULL, 0, NULL));
	assert_weir_ok(weir_subscribe(
	    &sub, bus, WEIR_TOPIC_ERROR, error_sub_fn, &s, NULL, NULL));
	assert_weir_ok(weir_emit(bus, "t", "x", 1, NULL));
	assert_int_equal(s.n, 0); // queued, not called
	assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT));
	assert_int_equal(s.n, 1);
	assert_string_equal(s.topic, "t");
	weir_bus_destroy(bus);
}

static int self_calls;
static int freed;

static void
count_arg_free(void *arg)
{
	(void) arg;
	freed++;
}

// Closes its own subscription twice: the second call does nothing.
static weir_err
close_self_fn(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	(void) arg;
	self_calls++;
	weir_unsubscribe(weir_subscr_current());
	weir_unsubscribe(weir_subscr_current());
	return WEIR_OK;
}

static void
test_unsubscribe_self_twice(void **state)
{
	(void) state;
	weir_bus    *bus;
	weir_subscr *sub;
	freed = 0;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_subscribe(
	    &sub, bus, "s", close_self_fn, NULL, count_arg_free, NULL));
	for (int i = 0; i < 3; i++) {
		assert_weir_ok(weir_publish(bus, "s", "x", 1, 0, NULL));
	}
	assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT));
	assert_int_equal(self_calls, 1);
	assert_int_equal(freed, 1);
	assert_weir_ok(weir_publish(bus, "s", "x", 1, 0, NULL));
	assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT));
	assert_int_equal(self_calls, 1);
	// The same on a paced subscription (max in flight): its drain
	// stops at once, the events left are not delivered.
	weir_subscr_config *sc;
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_ok(weir_subscr_config_set_max_in_flight(sc, 8));
	assert_weir_ok(weir_subscribe(
	    &sub, bus, "f", close_self_fn, NULL, count_arg_free, sc));
	weir_subscr_config_destroy(sc);
	for (int i = 0; i < 3; i++) {
		assert_weir_ok(weir_publish(bus, "f", "x", 1, 0, NULL));
	}
	assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT));
	assert_int_equal(self_calls, 2);
	assert_int_equal(freed, 2);
	weir_bus_destroy(bus);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_once_reached_by_nested_emit),
		cmocka_unit_test(test_once_removed_by_earlier_listener),
		cmocka_unit_test(test_error_to_subscription_only),
		cmocka_unit_test(test_unsubscribe_self_twice),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
