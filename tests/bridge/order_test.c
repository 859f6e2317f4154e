/*
 * Relay order per key with a window > 1, also across a retried failure;
 * one message in flight per key for a sink that promises no order, and
 * several for one that does (mem.ordered: WEIR_BACKEND_CAP_ORDERED),
 * with order kept across injected retriable failures.
 */
#include "fixture.h"

#define N 600

static const char *const keys[] = { "a", "b", "c", "d", "e" };

static void
order_open(bt *t, int ordered)
{
	static const char *const plain[] = { "bridge.window", "8",
		"bridge.retry.initial_ms", "5", "bridge.retry.max_ms", "20",
		NULL };
	static const char *const ord[]   = { "bridge.window", "8",
		  "bridge.retry.initial_ms", "5", "bridge.retry.max_ms", "20",
		  "mem.ordered", "1", NULL };
	bt_open(t, ordered ? ord : plain);
	assert_weir_ok(weir_bridge_route_add(
	    t->br, "r", "shop.>", "mem", "orders.{2}", "key", NULL));
	assert_weir_ok(weir_bridge_start(t->br));
}

/* Keys a..e in turn; @p mixed: to orders.us and orders.eu in turn
 * (a key's order then spans two destinations), else all to orders.us. */
static void
order_publish(bt *t, int mixed)
{
	for (int i = 0; i < N; i++)
		bt_publish(t, mixed && i % 2 ? "shop.eu.paid" : "shop.us.paid",
		    keys[i % 5], i);
}

/* Every event once, in order per key, the window respected; @p retried
 * re-sends (-1: at least one). */
static void
order_check(bt *t, int64_t retried, int mixed)
{
	BT_WAIT(t, "r", s.acked == N && s.backlog == 0);
	size_t         n;
	weir__mem_rec *r = bt_records(t, &n);
	assert_int_equal(n, N); /* a failed send is not recorded */
	bt_assert_key_order(r, n);
	assert_string_equal(r[0].dest, "orders.us");
	assert_string_equal(r[1].dest, mixed ? "orders.eu" : "orders.us");
	assert_true(weir__mem_max_pending(t->mem) <= 8);
	assert_int_equal(weir__mem_out_of_order(t->mem), 0);
	weir_bridge_route_stats s = bt_stats(t, "r");
	if (retried < 0)
		assert_true(s.retried >= 1);
	else
		assert_int_equal(s.retried, retried);
	assert_int_equal(s.dead, 0);
	free(r);
}

static void
run_order(int with_failure, int ordered)
{
	bt t;
	order_open(&t, ordered);
	if (with_failure)
		weir__mem_fail_nth(t.mem, 100, 1, "leader changed");
	order_publish(&t, 1);
	/* ordered: later messages of the 100th's key that the sink holds
	 * fail with it, a number that depends on timing */
	order_check(&t, !with_failure ? 0 : ordered ? -1 : 1, 1);
	if (!ordered)
		assert_int_equal(weir__mem_max_key_pending(t.mem), 1);
	bt_close(&t);
}

static void
test_order_per_key(void **state)
{
	(void) state;
	run_order(0, 0);
}

static void
test_order_per_key_after_retry(void **state)
{
	(void) state;
	run_order(1, 0);
}

static void
test_ordered_sink_order_per_key(void **state)
{
	(void) state;
	run_order(0, 1);
}

static void
test_ordered_sink_after_retry(void **state)
{
	(void) state;
	run_order(1, 1);
}

/*
 * With acknowledgements held, the window fills with messages in flight:
 * a sink without the promise gets one per key (5 keys: 5 of 8), an
 * ordered one the whole window (keys a, b, c twice). In the ordered
 * case the first message (key a) fails retriably, so the sink fails the
 * later "a" it holds as well; both are re-sent, "a" by "a", before any
 * later "a", and every key keeps its order.
 */
static void
run_window(int ordered)
{
	bt t;
	order_open(&t, ordered);
	weir__mem_hold_acks(t.mem, 1);
	if (ordered)
		weir__mem_fail_nth(t.mem, 1, 1, "request timed out");
	order_publish(&t, 0);
	size_t want = ordered ? 8 : 5;
	wt_wait_until(weir__mem_pending(t.mem) == want);
	assert_int_equal(weir__mem_max_key_pending(t.mem), ordered ? 2 : 1);
	weir__mem_hold_acks(t.mem, 0);
	order_check(&t, ordered ? 2 : 0, 0);
	assert_int_equal(weir__mem_max_key_pending(t.mem), ordered ? 2 : 1);
	bt_close(&t);
}

static void
test_plain_sink_one_per_key(void **state)
{
	(void) state;
	run_window(0);
}

static void
test_ordered_sink_pipelines_keys(void **state)
{
	(void) state;
	run_window(1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_per_key),
		cmocka_unit_test(test_order_per_key_after_retry),
		cmocka_unit_test(test_ordered_sink_order_per_key),
		cmocka_unit_test(test_ordered_sink_after_retry),
		cmocka_unit_test(test_plain_sink_one_per_key),
		cmocka_unit_test(test_ordered_sink_pipelines_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
