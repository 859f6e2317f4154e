/*
 * Outage bound: with the broker down the backlog grows to max_backlog;
 * then the intake stops taking events, the bus queue fills and its
 * policy (here REJECT) applies, counted; when the broker is back the
 * backlog drains by itself.
 */
#include "fixture.h"

#define N 40

static void
test_outage_bound_then_drain(void **state)
{
	(void) state;
	static const char *const kv[] = { "bridge.max_backlog", "5",
		"bridge.queue_capacity", "4", "bridge.policy", "reject",
		"bridge.retry.initial_ms", "1", "bridge.retry.max_ms", "5",
		"bridge.breaker.cooldown_ms", "5", NULL };
	bt                       t;
	bt_open(&t, kv);
	assert_weir_ok(
	    weir_bridge_route_add(t.br, "r", "a.>", "mem", "x", "id", NULL));
	assert_weir_ok(weir_bridge_start(t.br));
	weir__mem_set_down(t.mem, 1);
	int full = 0;
	for (int i = 0; i < N; i++) {
		weir_err e = weir_publish(t.bus, "a.b", &i, sizeof i, 0, NULL);
		assert_true(e == WEIR_OK || e == WEIR_EFULL);
		full += e == WEIR_EFULL;
		/* let the intake take what it will before the next one */
		int64_t end = wt_now_ms() + 2000;
		while (wt_now_ms() < end) {
			weir_bridge_route_stats s = bt_stats(&t, "r");
			if (s.lag_events == s.backlog || s.paused > 0)
				break;
			usleep(500);
		}
	}
	weir_bridge_route_stats rs = bt_stats(&t, "r");
	assert_int_equal(rs.backlog, 5); /* the bound */
	assert_true(rs.paused >= 1);
	assert_true(full > 0);
	assert_int_equal(rs.acked, 0);
	/* the bus counted the rejects on the bridge's subscription */
	char *js = weir_bus_stats_json(t.bus);
	char  want[64];
	snprintf(want, sizeof want, "\"rejected\":%d", full);
	assert_non_null(strstr(js, want));
	weir_free(js);
	weir__mem_set_down(t.mem, 0);
	BT_WAIT(&t, "r",
	    s.acked == (uint64_t) (N - full) && s.backlog == 0 &&
	        s.lag_events == 0);
	assert_int_equal(bt_stats(&t, "r").dead, 0);
	bt_close(&t);
}

/*
 * Another writer (the `weir gateway` does this) appends events to the
 * store before publishing them: the relay finds them in the log and
 * sends them before the intake has taken them from the bus, so the
 * route's count of events not done dips below zero. The intake must
 * not read that as "full" and park (it did: a negative count compared
 * as unsigned), which stranded the events in the bus queue.
 */
static void
test_stored_by_another_writer_first(void **state)
{
	(void) state;
	bt t;
	bt_open(&t, NULL);
	assert_weir_ok(
	    weir_bridge_route_add(t.br, "r", "a.>", "mem", "x", "id", NULL));
	assert_weir_ok(weir_bridge_start(t.br));
	weir_event *ev[8];
	for (int i = 0; i < 8; i++) {
		weir_event_init in = { .size = sizeof in,
			.topic               = "a.b",
			.payload             = &i,
			.payload_len         = sizeof i };
		assert_weir_ok(weir_event_new(&ev[i], &in));
		assert_weir_ok(
		    weir_store_append(t.st, ev[i], NULL, NULL, NULL));
	}
	BT_WAIT(&t, "r", s.acked == 8); /* sent from the log alone */
	for (int i = 0; i < 8; i++) {
		assert_weir_ok(weir_publish_event(t.bus, ev[i]));
		weir_event_release(ev[i]);
	}
	/* the intake takes all eight (duplicates in the log) and the route
	 * ends idle, nothing counted as waiting */
	BT_WAIT(&t, "r", s.lag_events == 0 && s.backlog == 0 && s.paused == 0);
	assert_int_equal(bt_stats(&t, "r").acked, 8);
	bt_close(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outage_bound_then_drain),
		cmocka_unit_test(test_stored_by_another_writer_first),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
