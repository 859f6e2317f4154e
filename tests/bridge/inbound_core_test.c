/* Inbound: a message from the mem source is appended, published on the
 * bus under the mapped topic, and done after that. The topic follows
 * each message's origin (the inlet keeps the last one rendered). */
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

/* Origins a, b, a, b.x, b, one message each, then a bad one: each
 * event's topic is its own origin's, whichever came before it. */
static void
test_topic_follows_origin(void **state)
{
	(void) state;
	bt t;
	it_open(&t, NULL);
	void       *src    = it_route(&t, "in", "o.>", "in.{topic}", NULL);
	const char *from[] = { "o.a", "o.b", "o.a", "o.b.x", "o.b", "o..c" };
	for (uint64_t i = 0; i < 6; i++)
		it_push(src, i + 1, from[i], NULL, NULL);
	assert_weir_ok(weir_bridge_start(t.br));
	it_wait_done(src, 6);
	assert_int_equal(it_log_count(&t, "in.o.a"), 2);
	assert_int_equal(it_log_count(&t, "in.o.b"), 2);
	assert_int_equal(it_log_count(&t, "in.o.b.x"), 1);
	assert_int_equal(it_log_count(&t, "in.o.>"), 5);
	assert_int_equal(it_log_count(&t, ">"), 5);
	bt_dead d = bt_dead_first(&t, "in");
	assert_int_equal(d.code, WEIR_EBADTOPIC);
	assert_non_null(strstr(d.message, "'in.o..c' (from 'o..c')"));
	bt_dead_free(&d);
	bt_close(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deliver_append_publish_done),
		cmocka_unit_test(test_topic_follows_origin),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
