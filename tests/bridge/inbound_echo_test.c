/*
 * No echo loops: routes in both directions on the same topics through
 * the mem broker. An event that came in from it is not sent back out;
 * a locally published one is; either side may allow echoes explicitly.
 */
#include "inbound_fixture.h"

#define ID_IN "0190a5d8-8a3e-7b2c-9f00-0000000000e1"

/* Routes in.> -> mem and mem "t" -> in.t; @p in_echo and @p out_echo
 * set the two sides' echo options. */
static void *
both_ways(bt *t, int in_echo, int out_echo)
{
	it_open(t, NULL);
	weir_bridge_inbound_opts io =
	    WEIR_STRUCT_INIT(weir_bridge_inbound_opts);
	weir_bridge_route_opts ro = WEIR_STRUCT_INIT(weir_bridge_route_opts);
	io.echo                   = in_echo;
	ro.echo                   = out_echo;
	void *src                 = it_route(t, "in", "t", "in.{topic}", &io);
	assert_weir_ok(weir_bridge_route_add(
	    t->br, "out", "in.>", "mem", "{2}", NULL, &ro));
	assert_weir_ok(weir_bridge_start(t->br));
	return src;
}

static void
test_inbound_not_sent_back(void **state)
{
	(void) state;
	bt    t;
	void *src = both_ways(&t, 0, 0);
	it_push(src, 1, "t", ID_IN, "mem:t/1");
	it_wait_done(src, 1);
	bt_publish(&t, "in.t", NULL, 7); /* a local event: goes out */
	BT_WAIT(&t, "out", s.backlog == 0 && weir__mem_publishes(t.mem) == 1);
	size_t         n;
	weir__mem_rec *r = bt_records(&t, &n);
	assert_int_equal(n, 1);
	uint8_t in_id[16];
	weir_uuid_parse(ID_IN, in_id);
	assert_memory_not_equal(r[0].id, in_id, 16);
	free(r);
	weir__route *rt = weir__bridge_route(t.br, "out");
	assert_int_equal(atomic_load(&rt->echoes), 1);
	bt_close(&t);
}

static void
test_echo_allowed(void **state)
{
	(void) state;
	for (int side = 0; side < 2; side++) {
		bt    t;
		void *src = both_ways(&t, side == 0, side == 1);
		it_push(src, 1, "t", ID_IN, "mem:t/1");
		it_wait_done(src, 1);
		BT_WAIT(&t, "out", s.acked == 1);
		/* It comes back again from the broker: recognised. */
		it_push(src, 2, "t", ID_IN, "mem:t/2");
		it_wait_done(src, 2);
		assert_int_equal(it_log_count(&t, ">"), 1);
		bt_close(&t);
	}
}

/* A direct (at-most-once) outbound route skips echoes too. */
static void
test_direct_route_skips(void **state)
{
	(void) state;
	bt t;
	it_open(&t, NULL);
	void *src = it_route(&t, "in", "t", "in.{topic}", NULL);
	weir_bridge_route_opts ro = WEIR_STRUCT_INIT(weir_bridge_route_opts);
	ro.direct                 = 1;
	assert_weir_ok(weir_bridge_route_add(
	    t.br, "out", "in.>", "mem", "{2}", NULL, &ro));
	assert_weir_ok(weir_bridge_start(t.br));
	it_push(src, 1, "t", ID_IN, "mem:t/1");
	it_wait_done(src, 1);
	weir__route *rt = weir__bridge_route(t.br, "out");
	wt_wait_until(atomic_load(&rt->echoes) == 1);
	assert_int_equal(weir__mem_publishes(t.mem), 0);
	bt_close(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inbound_not_sent_back),
		cmocka_unit_test(test_echo_allowed),
		cmocka_unit_test(test_direct_route_skips),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
