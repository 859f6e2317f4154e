/* Inbound pipelining: while the store's writer is held inside a
 * transaction (nothing commits), the route goes on taking messages
 * (fetch overlaps the append) but publishes none and calls done for
 * none; once the commit happens, every message is published and done,
 * in delivery order. More messages than the publisher takes in one run,
 * so the publisher's wake-ups between runs are exercised too. */
#include <pthread.h>
#include <stdint.h>

#include "inbound_fixture.h"

#include "store_gate.h"

#define PIPE_FIRST 300  /* taken before the check in the middle */
#define PIPE_SECOND 700 /* taken after it, the writer still held */
#define PIPE_ALL (1 + PIPE_FIRST + PIPE_SECOND)

static void
pipe_push(void *src, uint64_t from, uint64_t n)
{
	for (uint64_t i = from; i < from + n; i++) {
		char coord[64];
		snprintf(coord, sizeof coord, "kafka:orders/0/%llu",
		    (unsigned long long) i);
		it_push(src, i, "orders", NULL, coord);
	}
}

static uint64_t
pipe_received(bt *t)
{
	return atomic_load(&weir__bridge_inlet(t->br, "in")->received);
}

static void
test_done_waits_for_commit_while_taking_more(void **state)
{
	(void) state;
	bt t;
	it_open(&t, NULL);
	void *src = it_route(&t, "in", "orders", "in.{topic}", NULL);
	atomic_uint_least64_t seen = 0;
	weir_subscr          *sub;
	fx_gate               g;
	assert_weir_ok(weir_subscribe(
	    &sub, t.bus, "in.orders", wt_count_handler, &seen, NULL, NULL));
	assert_weir_ok(weir_bridge_start(t.br));
	/* one message through first: the route thread is past its first
	 * inbox prune (which waits for the writer) */
	pipe_push(src, 1, 1);
	it_wait_done(src, 1);
	fx_gate_close(&g, t.st);

	pipe_push(src, 2, PIPE_FIRST);
	wt_wait_until(pipe_received(&t) == 1 + PIPE_FIRST);
	pipe_push(src, 2 + PIPE_FIRST, PIPE_SECOND);
	wt_wait_until(pipe_received(&t) == PIPE_ALL);
	assert_int_equal(weir__mem_source_done(src, NULL, 0), 1);
	assert_int_equal(atomic_load(&seen), 1);

	fx_gate_open(&g);
	it_wait_done(src, PIPE_ALL);
	uint64_t *done = calloc(PIPE_ALL, sizeof *done);
	assert_non_null(done);
	assert_int_equal(weir__mem_source_done(src, done, PIPE_ALL), PIPE_ALL);
	for (uint64_t i = 0; i < PIPE_ALL; i++)
		assert_int_equal(done[i], i + 1);
	free(done);
	assert_true(wt_wait_u64(&seen, PIPE_ALL));
	assert_int_equal(it_log_count(&t, "in.orders"), PIPE_ALL);
	weir_unsubscribe(sub);
	bt_close(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_done_waits_for_commit_while_taking_more),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
