/*
 * The intake at stop: an event parked at the bound (max_backlog in
 * store mode, a full ring in direct mode) when the bridge stops. Store
 * mode keeps it (appended at stop, sent after the next start); direct
 * mode has nowhere to keep it and counts it dead, as it does the events
 * of its window and ring.
 */
#include "fixture.h"

/* With the broker holding its acks, publishes 3 events one at a time:
 * the first is sent (direct mode) or stored, the second waits in the
 * ring or the backlog, the third is parked at the bound. One at a time,
 * since a second event arriving before the relay took the first from a
 * one-slot ring would be parked too (and resumed). */
static void
park_third(bt *t, const char *route, int direct)
{
	weir__mem_hold_acks(t->mem, 1);
	bt_publish(t, "a.b", "k", 0);
	BT_WAIT(t, route, s.backlog == 1 && (!direct || s.sent == 1));
	bt_publish(t, "a.b", "k", 1);
	BT_WAIT(t, route, s.backlog == 2);
	bt_publish(t, "a.b", "k", 2);
	BT_WAIT(t, route, s.paused == 1);
	weir_bridge_route_stats rs = bt_stats(t, route);
	assert_int_equal(rs.backlog, 2);
	assert_int_equal(rs.paused, 1);
}

static void
test_store_mode_keeps_parked(void **state)
{
	(void) state;
	static const char *const kv[] = { "bridge.max_backlog", "2", NULL };
	bt                       t;
	bt_open(&t, kv);
	assert_weir_ok(
	    weir_bridge_route_add(t.br, "r", "a.>", "mem", "x", "key", NULL));
	assert_weir_ok(weir_bridge_start(t.br));
	park_third(&t, "r", 0);
	wt_wait_until(bt_stored(t.st) == 2);
	weir_bridge_stop(t.br);
	assert_int_equal(bt_stored(t.st), 3); /* the parked one, kept */
	weir_bridge_route_stats rs = bt_stats(&t, "r");
	assert_int_equal(rs.dead, 0);
	assert_int_equal(rs.acked, 0);
	weir__mem_hold_acks(t.mem, 0);
	assert_weir_ok(weir_bridge_start(t.br));
	BT_WAIT(&t, "r", s.acked == 3 && s.backlog == 0);
	size_t         n;
	weir__mem_rec *r = bt_records(&t, &n);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(r[i].seq, i + 1);
	free(r);
	bt_close(&t);
}

static void
test_direct_mode_drops_parked(void **state)
{
	(void) state;
	bt t;
	memset(&t, 0, sizeof t);
	weir_bridge_config *cfg;
	assert_weir_ok(weir_bridge_config_create(&cfg));
	assert_weir_ok(weir_bridge_config_set_str(cfg, "bridge.window", "1"));
	assert_weir_ok(
	    weir_bridge_config_set_str(cfg, "bridge.direct_capacity", "1"));
	bt_bridge(&t, cfg);
	weir_bridge_config_destroy(cfg);
	weir_bridge_route_opts o = WEIR_STRUCT_INIT(weir_bridge_route_opts);
	o.direct                 = 1;
	assert_weir_ok(
	    weir_bridge_route_add(t.br, "d", "a.*", "mem", "x", "key", &o));
	assert_weir_ok(weir_bridge_start(t.br));
	park_third(&t, "d", 1); /* one in the window, one in the ring */
	assert_int_equal(bt_stats(&t, "d").dead, 0);
	weir_bridge_stop(t.br);
	weir_bridge_route_stats rs = bt_stats(&t, "d");
	assert_int_equal(rs.dead, 3);
	assert_int_equal(rs.backlog, 0);
	assert_int_equal(rs.acked, 0);
	bt_close(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_mode_keeps_parked),
		cmocka_unit_test(test_direct_mode_drops_parked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
