/* Inbound pipelining: while the store's writer is held inside a
 * transaction (nothing commits), the route goes on taking messages
 * (fetch overlaps the append) but publishes none and calls done for
 * none; once the commit happens, every message is published and done,
 * in delivery order. More messages than the publisher takes in one run,
 * so the publisher's wake-ups between runs are exercised too. */
#include <pthread.h>
#include <stdint.h>

#include "inbound_fixture.h"

#include "store/writer.h"

#define PIPE_FIRST 300  /* taken before the check in the middle */
#define PIPE_SECOND 700 /* taken after it, the writer still held */
#define PIPE_ALL (1 + PIPE_FIRST + PIPE_SECOND)

/* Holds the writer thread inside a transaction until opened. */
typedef struct gate {
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	int             entered, open;
	weir_store     *st;
} gate;

static weir_err
gate_wait(weir_store *st, sqlite3 *db, void *arg)
{
	gate *g = arg;
	(void) st;
	(void) db;
	pthread_mutex_lock(&g->mu);
	g->entered = 1;
	pthread_cond_broadcast(&g->cv);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
	return WEIR_OK;
}

static void *
gate_thread(void *arg)
{
	gate *g = arg;
	return (void *) (intptr_t) weir__writer_call(g->st, gate_wait, g);
}

static void
gate_close(gate *g, weir_store *st, pthread_t *th)
{
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	g->st = st;
	assert_int_equal(pthread_create(th, NULL, gate_thread, g), 0);
	pthread_mutex_lock(&g->mu);
	while (!g->entered)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
}

static void
gate_open(gate *g, pthread_t th)
{
	void *res;
	pthread_mutex_lock(&g->mu);
	g->open = 1;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
	pthread_join(th, &res);
	assert_int_equal((intptr_t) res, WEIR_OK);
	pthread_mutex_destroy(&g->mu);
	pthread_cond_destroy(&g->cv);
}

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
	gate                  g = { .entered = 0 };
	pthread_t             th;
	assert_weir_ok(weir_subscribe(
	    &sub, t.bus, "in.orders", wt_count_handler, &seen, NULL, NULL));
	assert_weir_ok(weir_bridge_start(t.br));
	/* one message through first: the route thread is past its first
	 * inbox prune (which waits for the writer) */
	pipe_push(src, 1, 1);
	it_wait_done(src, 1);
	gate_close(&g, t.st, &th);

	pipe_push(src, 2, PIPE_FIRST);
	wt_wait_until(pipe_received(&t) == 1 + PIPE_FIRST);
	pipe_push(src, 2 + PIPE_FIRST, PIPE_SECOND);
	wt_wait_until(pipe_received(&t) == PIPE_ALL);
	assert_int_equal(weir__mem_source_done(src, NULL, 0), 1);
	assert_int_equal(atomic_load(&seen), 1);

	gate_open(&g, th);
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
