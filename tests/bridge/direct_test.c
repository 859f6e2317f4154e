/* Direct mode (no store): a bounded in-memory queue, each event sent at
 * most once; a failed send is dropped and counted, never repeated. */
#include "fixture.h"

static void
test_direct_at_most_once(void **state)
{
	(void) state;
	static const char *const kv[] = { "bridge.retry.initial_ms", "1",
		NULL };
	bt                       t;
	bt_open_direct(&t, kv, "{2}");
	for (int i = 0; i < 50; i++)
		bt_publish(&t, "a.b", "k", i);
	BT_WAIT(&t, "d", s.acked == 50 && s.backlog == 0);
	weir__mem_fail_nth(t.mem, 1, 1, "timed out");
	bt_publish(&t, "a.c", "k", 50);
	BT_WAIT(&t, "d", s.dead == 1 && s.backlog == 0);
	bt_publish(&t, "a.c", "k", 51);
	BT_WAIT(&t, "d", s.acked == 51);
	weir_bridge_route_stats rs = bt_stats(&t, "d");
	assert_int_equal(rs.sent, 52);
	assert_int_equal(rs.retried, 0);
	size_t         n;
	weir__mem_rec *r = bt_records(&t, &n);
	assert_int_equal(n, 51);
	assert_int_equal(r[0].seq, 0); /* no store seq in direct mode */
	assert_string_equal(r[50].dest, "c");
	free(r);
	bt_close(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_direct_at_most_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
