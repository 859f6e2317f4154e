/*
 * Paced subscriptions (retry, debounce) when a weir_loop_step() budget
 * runs out with work that is not in the queue: a retry already due, or
 * a key still held by debounce. The drain stops for the budget and must
 * leave a timer for that work, so it is delivered by later passes and
 * not stranded. Also a dead letter whose own handler fails for good: it
 * is reported on $weir.error, never dead-lettered again.
 */
#include <string.h>

#include "weir_test.h"

typedef struct flow_state {
	int  calls;
	int  fails;   // the first `fails` calls fail
	int  spin_ms; // a failing call returns after this long
	char got[16];
} flow_state;

static weir_err
flow_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	flow_state *fs = arg;
	size_t      len;
	const char *p = weir_event_payload(ev, &len);
	if (fs->calls < (int) sizeof(fs->got) - 1 && len > 0) {
		fs->got[fs->calls] = p[0];
	}
	if (fs->calls++ < fs->fails) {
		// Time passes in the handler, so that its retry (due in at
		// most 1 ms) is due when the drain looks again.
		int64_t end = wt_now_ms() + fs->spin_ms;
		while (wt_now_ms() <= end) { }
		return WEIR_EHANDLER;
	}
	return WEIR_OK;
}

// Steps the loop until @p v reaches @p want (bounded).
static void
step_until(weir_loop *loop, const int *v, int want)
{
	int64_t end = wt_now_ms() + WT_WAIT_MS;
	while (*v < want && wt_now_ms() < end) {
		weir_err rv = weir_loop_run(loop, WEIR_RUN_ONCE);
		assert_weir_ok(rv);
	}
	assert_int_equal(*v, want);
}

// A due retry when the step's budget (one call) is spent.
static void
test_budget_with_retry_due(void **state)
{
	(void) state;
	weir_bus           *bus;
	weir_subscr        *sub;
	weir_subscr_config *sc;
	flow_state          fs = { .fails = 1, .spin_ms = 3 };
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_ok(weir_subscr_config_set_retry(sc, 3, 1, 1));
	assert_weir_ok(
	    weir_subscribe(&sub, bus, "r", flow_handler, &fs, NULL, sc));
	weir_subscr_config_destroy(sc);
	assert_weir_ok(weir_publish(bus, "r", "1", 1, 0, NULL));
	weir_loop *loop = weir_bus_loop(bus);
	size_t     done = 0;
	weir_err   rv   = weir_loop_step(loop, 1, 0, &done);
	assert_true(rv == WEIR_OK || rv == WEIR_EAGAIN);
	assert_int_equal(done, 1);
	assert_int_equal(fs.calls, 1);
	// The retry is left to a timer (due now: it fires within 1 ms).
	int left = weir_loop_timeout(loop);
	assert_true(left >= 0 && left <= 1);
	step_until(loop, &fs.calls, 2);
	weir_subscr_stats st = wt_subscr_stats(sub);
	assert_int_equal(st.retried, 1);
	assert_int_equal(st.dead, 0);
	assert_memory_equal(fs.got, "11", 2);
	weir_bus_destroy(bus);
}

// A debounced key still held when the budget is spent on another key.
static void
test_budget_with_key_held(void **state)
{
	(void) state;
	weir_bus           *bus;
	weir_subscr        *sub;
	weir_subscr_config *sc;
	flow_state          fs = { 0 };
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_ok(weir_subscr_config_set_debounce(sc, 1));
	assert_weir_ok(
	    weir_subscribe(&sub, bus, "d", flow_handler, &fs, NULL, sc));
	weir_subscr_config_destroy(sc);
	weir_loop *loop = weir_bus_loop(bus);
	wt_publish_keyed(bus, "d", "k1", 2, "a", 1);
	wt_publish_keyed(bus, "d", "k2", 2, "b", 1);
	// Both keys go into the debounce table; neither is quiet yet.
	assert_weir_ok(weir_loop_step(loop, 0, 0, NULL));
	assert_int_equal(fs.calls, 0);
	// Both quiet now: one step of one call delivers one, and leaves a
	// timer for the other.
	int64_t end = wt_now_ms() + WT_WAIT_MS;
	while (weir_loop_timeout(loop) != 0 && wt_now_ms() < end) {
		wt_sleep_ms(1);
	}
	size_t   done = 0;
	weir_err rv   = weir_loop_step(loop, 1, 0, &done);
	assert_true(rv == WEIR_OK || rv == WEIR_EAGAIN);
	assert_int_equal(fs.calls, 1);
	assert_true(weir_loop_timeout(loop) >= 0);
	step_until(loop, &fs.calls, 2);
	assert_true(
	    memcmp(fs.got, "ab", 2) == 0 || memcmp(fs.got, "ba", 2) == 0);
	weir_unsubscribe(sub);
	weir_bus_destroy(bus);
}

typedef struct error_seen {
	int  n;
	char topic[32];
} error_seen;

static weir_err
on_error(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	error_seen *es = arg;
	size_t      len;
	const char *t = weir_event_header_get(ev, "weir-topic", &len);
	if (t != NULL && len < sizeof(es->topic)) {
		memcpy(es->topic, t, len);
		es->topic[len] = '\0';
	}
	es->n++;
	return WEIR_OK;
}

// A dead letter's handler fails for good: reported on $weir.error.
static void
test_dead_letter_fails(void **state)
{
	(void) state;
	weir_bus           *bus;
	weir_subscr        *sub, *dead;
	weir_subscr_config *sc;
	flow_state          fs = { .fails = 100 }, fd = { .fails = 100 };
	error_seen          es = { 0 };
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(
	    weir_on(bus, WEIR_TOPIC_ERROR, on_error, &es, NULL, 0, NULL));
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_ok(weir_subscr_config_set_retry(sc, 1, 1, 1));
	assert_weir_ok(weir_subscr_config_set_name(sc, "dl"));
	assert_weir_ok(
	    weir_subscribe(&sub, bus, "x", flow_handler, &fs, NULL, sc));
	assert_weir_ok(weir_subscribe(
	    &dead, bus, WEIR_TOPIC_DEAD, flow_handler, &fd, NULL, sc));
	weir_subscr_config_destroy(sc);
	assert_weir_ok(weir_publish(bus, "x", "1", 1, 0, NULL));
	step_until(weir_bus_loop(bus), &es.n, 1);
	assert_int_equal(fs.calls, 1);
	assert_int_equal(fd.calls, 1);
	assert_string_equal(es.topic, WEIR_TOPIC_DEAD);
	assert_int_equal(wt_subscr_stats(sub).dead, 1);
	assert_int_equal(wt_subscr_stats(dead).dead, 1);
	// Nothing more: the failed dead letter is not dead-lettered again.
	assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT));
	assert_int_equal(fd.calls, 1);
	weir_bus_destroy(bus);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_budget_with_retry_due),
		cmocka_unit_test(test_budget_with_key_held),
		cmocka_unit_test(test_dead_letter_fails),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
