/* Relay order per key with a window > 1, also across a retried failure. */
#include "fixture.h"

#define N 600

static void
run_order(int with_failure)
{
	static const char *const kv[] = { "bridge.window", "8",
		"bridge.retry.initial_ms", "5", "bridge.retry.max_ms", "20",
		NULL };
	bt                       t;
	bt_open(&t, kv);
	assert_weir_ok(weir_bridge_route_add(
	    t.br, "r", "shop.>", "mem", "orders.{2}", "key", NULL));
	assert_weir_ok(weir_bridge_start(t.br));
	if (with_failure)
		weir__mem_fail_nth(t.mem, 100, 1, "leader changed");
	static const char *const keys[] = { "a", "b", "c", "d", "e" };
	for (int i = 0; i < N; i++)
		bt_publish(&t, i % 2 ? "shop.eu.paid" : "shop.us.paid",
		    keys[i % 5], i);
	BT_WAIT(&t, "r", s.acked == N && s.backlog == 0);
	size_t         n;
	weir__mem_rec *r = bt_records(&t, &n);
	assert_int_equal(n, N); /* a failed send is not recorded */
	bt_assert_key_order(r, n);
	assert_string_equal(r[0].dest, "orders.us");
	assert_string_equal(r[1].dest, "orders.eu");
	assert_true(weir__mem_max_pending(t.mem) <= 8);
	weir_bridge_route_stats s = bt_stats(&t, "r");
	assert_int_equal(s.retried, with_failure ? 1 : 0);
	assert_int_equal(s.dead, 0);
	free(r);
	bt_close(&t);
}

static void
test_order_per_key(void **state)
{
	(void) state;
	run_order(0);
}

static void
test_order_per_key_after_retry(void **state)
{
	(void) state;
	run_order(1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_per_key),
		cmocka_unit_test(test_order_per_key_after_retry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
