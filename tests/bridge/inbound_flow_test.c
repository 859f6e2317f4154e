/*
 * Inbound flow control: a slow BLOCK subscriber holds the bus; the
 * route pauses its source instead of buffering (at most max_in_flight
 * messages undone), serves it with fetch(max 0) meanwhile, resumes when
 * the subscriber drains, and loses nothing; done stays in order.
 */
#include <pthread.h>

#include "inbound_fixture.h"

#define N 300
#define MAX_IN_FLIGHT 16

typedef struct gate {
	pthread_mutex_t       mu;
	pthread_cond_t        cv;
	int                   open;
	atomic_uint_least64_t seen;
	uint64_t              last; /* the payload (token) last seen */
	int                   in_order;
} gate;

static weir_err
slow_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	gate   *g   = arg;
	int64_t end = wt_now_ms() + 20000;
	pthread_mutex_lock(&g->mu);
	while (!g->open && wt_now_ms() < end) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&g->cv, &g->mu, &ts);
	}
	pthread_mutex_unlock(&g->mu);
	size_t   len;
	uint64_t tok;
	memcpy(&tok, weir_event_payload(ev, &len), sizeof tok);
	g->in_order &= tok == g->last + 1; /* one loop thread: no race */
	g->last = tok;
	atomic_fetch_add(&g->seen, 1);
	return WEIR_OK;
}

static void
test_pause_resume_bounded(void **state)
{
	(void) state;
	static const char *const kv[] = { "bridge.inbound.max_in_flight", "16",
		"bridge.inbound.batch", "4", "bridge.inbound.fetch_ms", "20",
		NULL };
	bt                       t;
	gate                     g = { .in_order = 1 };
	pthread_mutex_init(&g.mu, NULL);
	pthread_cond_init(&g.cv, NULL);
	it_open(&t, kv);
	void               *src = it_route(&t, "in", "t", "in.{topic}", NULL);
	weir_subscr_config *sc  = wt_subscr_config(4, WEIR_POLICY_BLOCK, -1);
	weir_subscr        *sub;
	assert_weir_ok(
	    weir_subscribe(&sub, t.bus, "in.t", slow_handler, &g, NULL, sc));
	weir_subscr_config_destroy(sc);
	assert_weir_ok(weir_bridge_start(t.br));
	for (uint64_t i = 1; i <= N; i++)
		it_push(src, i, "t", NULL, NULL);
	wt_wait_until(weir__mem_source_paused(src) == 1);
	uint64_t idle = weir__mem_source_idle_fetches(src);
	wt_wait_until(weir__mem_source_idle_fetches(src) > idle);
	assert_true(weir__mem_source_queued(src) > 0); /* left at the broker */
	pthread_mutex_lock(&g.mu);
	g.open = 1;
	pthread_cond_broadcast(&g.cv);
	pthread_mutex_unlock(&g.mu);
	it_wait_done(src, N);
	assert_true(wt_wait_u64(&g.seen, N));
	assert_true(g.in_order);
	assert_true(weir__mem_source_max_undone(src) <= MAX_IN_FLIGHT);
	assert_true(weir__mem_source_pauses(src) >= 1);
	wt_wait_until(weir__mem_source_paused(src) == 0);
	uint64_t *done = calloc(N, sizeof *done);
	assert_int_equal(weir__mem_source_done(src, done, N), N);
	for (uint64_t i = 0; i < N; i++)
		assert_int_equal(done[i], i + 1);
	free(done);
	assert_int_equal(it_log_count(&t, ">"), N);
	weir_bridge_stop(t.br);
	weir_unsubscribe(sub);
	bt_close(&t);
	pthread_mutex_destroy(&g.mu);
	pthread_cond_destroy(&g.cv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pause_resume_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
