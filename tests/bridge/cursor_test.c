/*
 * The cursor moves to the highest CONTIGUOUS acknowledged seq; a restart
 * resumes from it and re-sends exactly what lies after it.
 */
#include "fixture.h"
#include "store_gate.h"

static uint64_t
cursor_of(bt *t)
{
	uint64_t seq = 0;
	assert_weir_ok(weir_store_cursor_get(t->st, "bridge.route.r", &seq));
	return seq;
}

// Opens a bridge (options @p kv) with route "r" (t.* -> mem, keyed by
// the second token) and waits until t.k0 is acknowledged and the route
// idle: returns the cursor then.
static uint64_t
cursor_route_k0(bt *t, const char *const *kv)
{
	bt_open_route(t, kv, "t.*", "out", "{2}");
	bt_publish(t, "t.k0", NULL, 0);
	BT_WAIT(t, "r", s.acked == 1 && s.backlog == 0);
	return cursor_of(t);
}

static void
test_cursor_contiguous_and_restart(void **state)
{
	(void) state;
	bt       t;
	uint64_t first = cursor_route_k0(&t, NULL);
	assert_true(first > 0);
	/* the next send's ack is lost; four more (other keys) are acked */
	weir__mem_drop_acks(t.mem, 1);
	bt_publish(&t, "t.k1", NULL, 1);
	BT_WAIT(&t, "r", s.sent == 2);
	for (int i = 2; i <= 4; i++) {
		char topic[16];
		snprintf(topic, sizeof topic, "t.k%d", i);
		bt_publish(&t, topic, NULL, i);
	}
	BT_WAIT(&t, "r", s.acked == 4);
	weir_bridge_route_stats rs = bt_stats(&t, "r");
	assert_int_equal(rs.cursor, first); /* stuck before the gap */
	assert_int_equal(cursor_of(&t), first);
	assert_int_equal(rs.backlog, 4);
	/* restart: a new bridge over the same store resends k1..k4 only */
	weir_bridge_destroy(t.br);
	t.br = NULL;
	bt_bridge(&t, NULL);
	assert_weir_ok(weir_bridge_route_add(
	    t.br, "r", "t.*", "mem", "out", "{2}", NULL));
	assert_weir_ok(weir_bridge_start(t.br));
	BT_WAIT(&t, "r", s.acked == 4 && s.backlog == 0);
	size_t         n;
	weir__mem_rec *r = bt_records(&t, &n);
	assert_int_equal(n, 4);        /* the new mem backend saw 4 sends */
	for (size_t i = 0; i < n; i++) /* k1 once; k2..k4 duplicates */
		assert_int_equal(r[i].seq, first + 1 + i);
	assert_int_equal(cursor_of(&t), first + 4);
	free(r);
	bt_close(&t);
}

/*
 * A cursor write due while the route is busy does not hold the relay
 * while the store's writer is busy: the relay goes on taking
 * acknowledgements and re-sending while the write waits for the writer
 * (it used to wait for the commit, every 100 ms, and nothing was sent
 * or acknowledged meanwhile). A move due while that write is still
 * queued waits for a later one.
 */
static void
test_cursor_write_does_not_hold_relay(void **state)
{
	(void) state;
	static const char *const kv[] = { "bridge.ack_timeout_ms", "300",
		"bridge.retry.initial_ms", "500", NULL };
	bt                       t;
	uint64_t                 first = cursor_route_k0(&t, kv);
	/* k1 in flight, acknowledged later; k2's and k3's first acks are
	 * lost */
	weir__mem_hold_acks(t.mem, 1);
	bt_publish(&t, "t.k1", NULL, 1);
	BT_WAIT(&t, "r", s.sent == 2);
	weir__mem_drop_acks(t.mem, 2);
	bt_publish(&t, "t.k2", NULL, 2);
	bt_publish(&t, "t.k3", NULL, 3);
	BT_WAIT(&t, "r", s.sent == 4);
	fx_gate g;
	fx_gate_close(&g, t.st);
	wt_sleep_ms(150); /* past the cursor's interval */
	/* k1's ack makes a cursor write due: queued, held by the writer.
	 * k2 and k3 are re-sent after their ack timeout; k3's re-send
	 * fails, so k2's ack makes a move due while k3 is unfinished and
	 * the first write still queued. */
	weir__mem_fail_nth(t.mem, 2, 1, "once more");
	weir__mem_hold_acks(t.mem, 0);
	BT_WAIT(&t, "r", s.acked == 4 && s.retried == 3);
	assert_int_equal(bt_stats(&t, "r").cursor, first);
	fx_gate_open(&g);
	BT_WAIT(&t, "r", s.backlog == 0 && s.cursor == first + 3);
	assert_int_equal(cursor_of(&t), first + 3);
	bt_close(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cursor_contiguous_and_restart),
		cmocka_unit_test(test_cursor_write_does_not_hold_relay),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
