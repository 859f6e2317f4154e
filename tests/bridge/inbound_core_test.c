/* Inbound: a message from the mem source is appended, published on the
 * bus under the mapped topic, and done after that. */
#include "inbound_fixture.h"

static void
test_deliver_append_publish_done(void **state)
{
	(void) state;
	bt t;
	it_open(&t, NULL);
	void *src = it_route(&t, "in", "orders", "in.{topic}", NULL);
	atomic_uint_least64_t seen = 0;
	weir_subscr          *sub;
	assert_weir_ok(weir_subscribe(
	    &sub, t.bus, "in.orders", wt_count_handler, &seen, NULL, NULL));
	assert_weir_ok(weir_bridge_start(t.br));
	it_push(src, 1, "orders", "0190a5d8-8a3e-7b2c-9f00-000000000001",
	    "kafka:orders/0/1");
	it_push(src, 2, "orders", NULL, "kafka:orders/0/2");
	it_wait_done(src, 2);
	uint64_t done[2];
	weir__mem_source_done(src, done, 2);
	assert_int_equal(done[0], 1);
	assert_int_equal(done[1], 2);
	assert_int_equal(it_log_count(&t, "in.orders"), 2);
	assert_true(wt_wait_u64(&seen, 2));
	weir_unsubscribe(sub);
	bt_close(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deliver_append_publish_done),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
