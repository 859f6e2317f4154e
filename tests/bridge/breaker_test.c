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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_breaker_opens_and_closes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
