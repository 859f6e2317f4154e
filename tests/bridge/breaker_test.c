/* The circuit breaker opens after N consecutive failures, probes after
 * the cool-down, and closes when the broker is back. */
#include "fixture.h"

static void
test_breaker_opens_and_closes(void **state)
{
	(void) state;
	static const char *const kv[] = { "bridge.retry.initial_ms", "1",
		"bridge.retry.max_ms", "4", "bridge.breaker.threshold", "3",
		"bridge.breaker.cooldown_ms", "50", NULL };
	bt                       t;
	bt_open_mem_route(&t, kv);
	weir__mem_set_down(t.mem, 1);
	bt_publish(&t, "a.b", "k", 0);
	BT_WAIT(&t, "r", s.breaker_opens >= 1);
	weir_bridge_route_stats rs = bt_stats(&t, "r");
	assert_true(rs.sent >= 3);
	assert_int_equal(rs.acked, 0);
	/* while it stays down, each probe fails and it opens again */
	BT_WAIT(&t, "r", s.breaker_opens >= 2);
	weir__mem_set_down(t.mem, 0);
	BT_WAIT(
	    &t, "r", s.acked == 1 && s.breaker == WEIR_BRIDGE_BREAKER_CLOSED);
	assert_int_equal(bt_stats(&t, "r").dead, 0);
	bt_close(&t);
}

/* The backoff: doubling from initial to max, jittered within the upper
 * half; a zero state is seeded, and a zero delay stays zero. */
static void
test_backoff_bounds(void **state)
{
	(void) state;
	uint64_t rng = 0;
	for (uint32_t n = 1; n < 40; n++) {
		uint64_t d    = weir__backoff_ms(100, 1000, n, &rng);
		uint64_t full = n >= 5 ? 1000 : 100u << (n - 1);
		assert_true(rng != 0);
		assert_true(d >= full / 2 && d <= full);
	}
	rng = 0;
	assert_int_equal(weir__backoff_ms(0, 10, 1, &rng), 0);
	assert_true(rng != 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_bounds),
		cmocka_unit_test(test_breaker_opens_and_closes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
