/*
 * Batch gathering (weir_loop_set_gather): a pass that took a small batch
 * published from another thread makes the next pass wait, a large one
 * only if nothing is ready; work a handler publishes to its own loop, a
 * gather of 0 and steps do not.
 * Each case drives the loop on the test's own thread so that which
 * passes gather is exact, not a matter of timing.
 */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "weir_test.h"

#include "core/loop.h" // running, need_wake: the loop is asleep

static void
stop_timer(weir_timer *t, void *arg)
{
	(void) t;
	weir_loop_stop(arg);
}

/* A bus whose default loop gathers for @p gather_us. */
static weir_bus *
gather_bus(uint32_t gather_us)
{
	weir_bus *bus;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_loop_set_gather(weir_bus_loop(bus), gather_us));
	return bus;
}

/* A gathering bus with one subscription on "g.a" counting into @p got. */
static weir_bus *
counting_bus(uint32_t gather_us, atomic_uint_least64_t *got)
{
	weir_subscr *sub;
	weir_bus    *bus = gather_bus(gather_us);
	assert_weir_ok(weir_subscribe(
	    &sub, bus, "g.a", wt_count_handler, got, NULL, NULL));
	return bus;
}

/* Publishes @p n events to @p topic while the loop is not running (so
 * from "another thread" as far as the loop knows). */
static void
publish_n(weir_bus *bus, const char *topic, int n)
{
	for (int i = 0; i < n; i++) {
		assert_weir_ok(weir_publish(bus, topic, "x", 1, 0, NULL));
	}
}

/* Runs the bus's loop until a 30 ms timer stops it, then destroys the
 * bus; returns the loop's counters. */
static weir_loop_stats
run_and_destroy(weir_bus *bus)
{
	weir_loop  *loop = weir_bus_loop(bus);
	weir_timer *t;
	assert_weir_ok(weir_timer_start(&t, loop, 30, 0, stop_timer, loop));
	assert_weir_ok(weir_loop_run(loop, WEIR_RUN_DEFAULT));
	weir_timer_stop(t);
	weir_loop_stats ls = WEIR_STRUCT_INIT(weir_loop_stats);
	assert_weir_ok(weir_loop_stats_get(loop, &ls));
	weir_bus_destroy(bus);
	return ls;
}

/* @p n events to one counting subscription; returns the gathers. */
static uint64_t
gathers_after(uint32_t gather_us, int n)
{
	atomic_uint_least64_t got = 0;
	weir_bus             *bus = counting_bus(gather_us, &got);
	publish_n(bus, "g.a", n);
	weir_loop_stats ls = run_and_destroy(bus);
	assert_int_equal(atomic_load(&got), n);
	return ls.gathers;
}

static void
test_small_batch_gathers_once(void **state)
{
	(void) state;
	// Pass 1 takes the 10 events without sleeping; pass 2 waits for
	// more before it looks, then sleeps until the timer.
	assert_int_equal(gathers_after(50, 10), 1);
	assert_int_equal(gathers_after(0, 10), 0); // turned off
}

static void
test_large_batch_gathers_only_before_sleep(void **state)
{
	(void) state;
	// 300 events: a batch of 256 or more. Nothing is ready after it,
	// so the loop waits once before it would sleep.
	assert_int_equal(gathers_after(50, 300), 1);
}

typedef struct chain_ctx {
	atomic_uint_least64_t got;
} chain_ctx;

/* Counts; the last of the 300 publishes one event to "g.b". */
static weir_err
chain_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) ev;
	chain_ctx *c = arg;
	if (atomic_fetch_add(&c->got, 1) + 1 == 300) {
		return weir_publish(bus, "g.b", NULL, 0, 0, NULL);
	}
	return WEIR_OK;
}

static void
test_large_batch_with_work_ready_goes_on(void **state)
{
	(void) state;
	weir_subscr          *a, *b;
	chain_ctx             c    = { 0 };
	atomic_uint_least64_t bgot = 0;
	weir_bus             *bus  = gather_bus(50);
	assert_weir_ok(
	    weir_subscribe(&a, bus, "g.a", chain_handler, &c, NULL, NULL));
	assert_weir_ok(weir_subscribe(
	    &b, bus, "g.b", wt_count_handler, &bgot, NULL, NULL));
	publish_n(bus, "g.a", 300);
	weir_loop_stats ls = run_and_destroy(bus);
	assert_int_equal(atomic_load(&c.got), 300);
	assert_int_equal(atomic_load(&bgot), 1);
	// Pass 2 finds g.b ready after the large batch and runs it at once;
	// g.b's event came from the loop's own thread, so no wait follows.
	assert_int_equal(ls.gathers, 0);
}

typedef struct last_ctx {
	atomic_uint_least64_t got;
	uint64_t              last;
	weir_loop            *loop;
	weir_timer           *stop;
} last_ctx;

/* Counts; the last event arms a timer that is due at once. It runs in
 * the next pass, after that pass's gather wait (a pass waits first, then
 * runs its timers), and stops the loop: the passes are the same however
 * long each one takes. */
static weir_err
stop_after_last(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	last_ctx *c = arg;
	if (atomic_fetch_add(&c->got, 1) + 1 == c->last) {
		return weir_timer_start(
		    &c->stop, c->loop, 0, 0, stop_timer, c->loop);
	}
	return WEIR_OK;
}

static void
test_budget_leftover_stays_a_stream(void **state)
{
	(void) state;
	weir_subscr_config *sc;
	weir_subscr        *sub;
	weir_timer         *backstop;
	weir_bus           *bus = gather_bus(50);
	last_ctx            c   = { .last = 1100, .loop = weir_bus_loop(bus) };
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_ok(weir_subscr_config_set_capacity(sc, 2048));
	assert_weir_ok(
	    weir_subscribe(&sub, bus, "g.a", stop_after_last, &c, NULL, sc));
	weir_subscr_config_destroy(sc);
	publish_n(bus, "g.a", 1100);
	// Ends the run should the last event never come.
	assert_weir_ok(weir_timer_start(
	    &backstop, c.loop, WT_WAIT_MS, 0, stop_timer, c.loop));
	assert_weir_ok(weir_loop_run(c.loop, WEIR_RUN_DEFAULT));
	weir_timer_stop(backstop);
	weir_timer_stop(c.stop);
	weir_loop_stats ls = WEIR_STRUCT_INIT(weir_loop_stats);
	assert_weir_ok(weir_loop_stats_get(c.loop, &ls));
	weir_bus_destroy(bus);
	assert_int_equal(atomic_load(&c.got), 1100);
	// Pass 1 stops at the dispatch budget (1024) and the loop schedules
	// the rest itself; those 76 events still came from another thread,
	// so the small batch of pass 2 makes pass 3 wait. (After pass 1's
	// large batch, pass 2 had work ready and did not wait.) Pass 3
	// stops the loop.
	assert_int_equal(ls.passes, 3);
	assert_int_equal(ls.gathers, 1);
}

typedef struct hop_ctx {
	int hops;
	int limit;
} hop_ctx;

/* Publishes the next hop, on the loop's thread, to the other of two
 * subscriptions: it lands on the ready list for the next pass, so every
 * pass takes a batch of one. */
static weir_err
hop_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	hop_ctx *h = arg;
	if (++h->hops == h->limit) {
		weir_bus_stop(bus);
		return WEIR_OK;
	}
	const char *next =
	    strcmp(weir_event_topic(ev), "g.ping") == 0 ? "g.pong" : "g.ping";
	return weir_publish(bus, next, NULL, 0, 0, NULL);
}

static void
test_own_loop_publishing_does_not_gather(void **state)
{
	(void) state;
	weir_bus    *bus;
	weir_subscr *ping, *pong;
	hop_ctx      h = { 0, 20 };
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(
	    weir_subscribe(&ping, bus, "g.ping", hop_handler, &h, NULL, NULL));
	assert_weir_ok(
	    weir_subscribe(&pong, bus, "g.pong", hop_handler, &h, NULL, NULL));
	assert_weir_ok(weir_publish(bus, "g.ping", NULL, 0, 0, NULL));
	assert_weir_ok(weir_bus_run(bus, WEIR_RUN_DEFAULT));
	weir_loop_stats ls = WEIR_STRUCT_INIT(weir_loop_stats);
	assert_weir_ok(weir_loop_stats_get(weir_bus_loop(bus), &ls));
	assert_int_equal(h.hops, 20);
	assert_int_equal(ls.dispatched, 20);
	assert_true(ls.passes >= 20);
	// Only the pass after the first hop, the one event published from
	// outside the loop, waits; the 19 hops published by the handler on
	// the loop's own thread do not.
	assert_int_equal(ls.gathers, 1);
	weir_bus_destroy(bus);
}

static void
test_step_does_not_gather(void **state)
{
	(void) state;
	atomic_uint_least64_t got  = 0;
	weir_bus             *bus  = counting_bus(50, &got);
	weir_loop            *loop = weir_bus_loop(bus);
	for (int round = 0; round < 3; round++) {
		assert_weir_ok(weir_publish(bus, "g.a", "x", 1, 0, NULL));
		assert_weir_ok(weir_loop_step(loop, 0, 0, NULL));
	}
	assert_weir_ok(weir_loop_run(loop, WEIR_RUN_NOWAIT));
	weir_loop_stats ls = WEIR_STRUCT_INIT(weir_loop_stats);
	assert_weir_ok(weir_loop_stats_get(loop, &ls));
	assert_int_equal(atomic_load(&got), 3);
	assert_int_equal(ls.gathers, 0);
	weir_bus_destroy(bus);
}

typedef struct lone_loop {
	weir_loop *loop;
	atomic_int tid; // the thread running it
} lone_loop;

static void *
lone_loop_main(void *arg)
{
	lone_loop *ll = arg;
	atomic_store(&ll->tid, (int) gettid());
	weir_loop_run(ll->loop, WEIR_RUN_DEFAULT);
	return NULL;
}

/* 1 if the thread @p tid is blocked in a system call (state S). */
static int
thread_blocked(int tid)
{
	char  path[64], state = 0;
	FILE *f;
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	if ((f = fopen(path, "r")) == NULL) {
		return 0;
	}
	if (fscanf(f, "%*d (%*[^)]) %c", &state) != 1) {
		state = 0;
	}
	fclose(f);
	return state == 'S';
}

/* 1 once the loop sleeps in its poller: it set need_wake (the last
 * thing before it polls, after its last look for work) and its thread
 * blocks. need_wake alone would leave a window in which the loop still
 * looks once more and would find the event without sleeping. */
static int
loop_asleep(lone_loop *ll)
{
	return atomic_load(&ll->loop->running) &&
	    atomic_load(&ll->loop->need_wake) &&
	    thread_blocked(atomic_load(&ll->tid));
}

static void
test_lone_events_do_not_gather(void **state)
{
	(void) state;
	atomic_uint_least64_t got = 0;
	weir_bus             *bus = counting_bus(50, &got);
	lone_loop             ll  = { .loop = weir_bus_loop(bus) };
	pthread_t             th;
	assert_int_equal(pthread_create(&th, NULL, lone_loop_main, &ll), 0);
	wt_wait_until(atomic_load(&ll.tid) != 0);
	// Each event finds the loop asleep: a pass woken for one event is
	// not a stream.
	for (uint64_t i = 1; i <= 3; i++) {
		wt_wait_until(loop_asleep(&ll));
		assert_weir_ok(weir_publish(bus, "g.a", "x", 1, 0, NULL));
		assert_true(wt_wait_u64(&got, i));
	}
	weir_loop_stop(ll.loop);
	pthread_join(th, NULL);
	weir_loop_stats ls = WEIR_STRUCT_INIT(weir_loop_stats);
	assert_weir_ok(weir_loop_stats_get(ll.loop, &ls));
	assert_int_equal(ls.dispatched, 3);
	assert_int_equal(ls.gathers, 0);
	weir_bus_destroy(bus);
}

static void
test_bad_input(void **state)
{
	(void) state;
	weir_bus *bus;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_err(weir_loop_set_gather(NULL, 1), WEIR_EINVAL);
	assert_weir_err(
	    weir_loop_set_gather(weir_bus_loop(bus), 1000001), WEIR_EINVAL);
	assert_weir_ok(weir_loop_set_gather(weir_bus_loop(bus), 1000000));
	char *json = weir_bus_stats_json(bus);
	assert_non_null(json);
	assert_non_null(strstr(json, "\"gathers\":0"));
	weir_free(json);
	weir_bus_destroy(bus);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_batch_gathers_once),
		cmocka_unit_test(test_large_batch_gathers_only_before_sleep),
		cmocka_unit_test(test_large_batch_with_work_ready_goes_on),
		cmocka_unit_test(test_budget_leftover_stays_a_stream),
		cmocka_unit_test(test_own_loop_publishing_does_not_gather),
		cmocka_unit_test(test_step_does_not_gather),
		cmocka_unit_test(test_lone_events_do_not_gather),
		cmocka_unit_test(test_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
