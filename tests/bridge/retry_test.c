/* Retriable failures: backoff, re-send, success; exhausted retries. */
#include "fixture.h"

static void
test_retry_then_success(void **state)
{
	(void) state;
	static const char *const kv[] = { "bridge.retry.initial_ms", "5",
		"bridge.retry.max_ms", "50", NULL };
	bt                       t;
	bt_open_mem_route(&t, kv);
	weir__mem_fail_nth(t.mem, 2, 1, "request timed out");
	for (int i = 0; i < 5; i++)
		bt_publish(&t, "a.b", "k", i);
	BT_WAIT(&t, "r", s.acked == 5 && s.backlog == 0);
	weir_bridge_route_stats rs = bt_stats(&t, "r");
	assert_int_equal(rs.retried, 1);
	assert_int_equal(rs.sent, 6);
	assert_int_equal(rs.dead, 0);
	assert_int_equal(rs.breaker, WEIR_BRIDGE_BREAKER_CLOSED);
	size_t         n;
	weir__mem_rec *r = bt_records(&t, &n);
	assert_int_equal(n, 5);
	for (size_t i = 1; i < n; i++) /* one key: strictly in order */
		assert_true(r[i].seq > r[i - 1].seq);
	free(r);
	bt_close(&t);
}

static void
test_retries_exhausted(void **state)
{
	(void) state;
	static const char *const kv[] = { "bridge.retry.initial_ms", "1",
		"bridge.retry.max_ms", "2", "bridge.retry.max_attempts", "3",
		"bridge.breaker.threshold", "0", NULL };
	bt                       t;
	bt_open_mem_route(&t, kv);
	weir__mem_set_down(t.mem, 1);
	bt_publish(&t, "a.b", "k", 0);
	BT_WAIT(&t, "r", s.dead == 1 && s.backlog == 0);
	weir_bridge_route_stats rs = bt_stats(&t, "r");
	assert_int_equal(rs.sent, 3);
	assert_int_equal(rs.retried, 2);
	weir__mem_set_down(t.mem, 0);
	bt_publish(&t, "a.b", "k", 1); /* the route goes on */
	BT_WAIT(&t, "r", s.acked == 1 && s.backlog == 0);
	bt_close(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retry_then_success),
		cmocka_unit_test(test_retries_exhausted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
