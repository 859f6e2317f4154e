/*
 * The interned-topic cache of emit and publish by string (scache.c):
 * what it must never do (call a removed listener once weir_off() has
 * returned, free a listener's arg or a subscription while another
 * thread's emit or publish may still use it, miss a registry change such
 * as a new wildcard listener) and its bound (fixed memory per thread
 * however many distinct topics). The threaded cases are for TSan and
 * ASan: a use after free there is the failure.
 */
#include <pthread.h>
#include <string.h>

#include "weir_test.h"

#include "core/scache.h"

#define CYCLES 500

/* A listener's arg that knows whether it was freed. */
typedef struct probe {
	atomic_int            freed;
	atomic_uint_least64_t calls;
} probe;

static atomic_uint_least64_t late_calls; /* calls on a freed probe */

static weir_err
probe_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	probe *p = arg;
	(void) bus;
	(void) ev;
	if (atomic_load(&p->freed)) {
		atomic_fetch_add(&late_calls, 1);
	}
	atomic_fetch_add(&p->calls, 1);
	return WEIR_OK;
}

static void
probe_free(void *arg)
{
	probe *p = arg;
	atomic_store(&p->freed, 1);
	free(p); /* ASan: any later call reads freed memory */
}

typedef struct spinner {
	weir_bus             *bus;
	const char           *topic;
	atomic_int            stop;
	atomic_uint_least64_t rounds;
	int                   publish;
} spinner;

static void *
spinner_body(void *arg)
{
	spinner      *sp          = arg;
	unsigned char payload[16] = { 1 };
	while (!atomic_load(&sp->stop)) {
		if (sp->publish) {
			(void) weir_publish(sp->bus, sp->topic, payload,
			    sizeof(payload), 0, NULL);
		} else {
			(void) weir_emit(sp->bus, sp->topic, payload,
			    sizeof(payload), NULL);
		}
		atomic_fetch_add(&sp->rounds, 1);
	}
	return NULL;
}

/* weir_off() from this thread while another emits by string, over and
 * over: arg_free must never run while that emit may still call the
 * listener, and it must run (the emitter's sections end). */
static void
test_off_while_emitting(void **state)
{
	(void) state;
	weir_bus *bus;
	spinner   sp = { .topic = "cache.race" };
	pthread_t thr;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	sp.bus = bus;
	atomic_store(&late_calls, 0);
	assert_int_equal(pthread_create(&thr, NULL, spinner_body, &sp), 0);
	for (int i = 0; i < CYCLES; i++) {
		probe   *p = calloc(1, sizeof(*p));
		uint64_t id, seen = atomic_load(&sp.rounds);
		assert_non_null(p);
		assert_weir_ok(weir_on(
		    bus, "cache.*", probe_handler, p, probe_free, 0, &id));
		while (atomic_load(&sp.rounds) < seen + 2) {
			sched_yield(); /* let the cache hold it */
		}
		assert_weir_ok(weir_off(bus, id));
	}
	atomic_store(&sp.stop, 1);
	pthread_join(thr, NULL);
	assert_int_equal(atomic_load(&late_calls), 0);
	assert_int_equal(weir__scache_limbo_count(), 0);
	weir_bus_destroy(bus);
}

typedef struct after_off {
	weir_bus             *bus;
	atomic_int            off_done;
	atomic_int            stop;
	atomic_uint_least64_t late; /* calls by emits begun after off */
	atomic_uint_least64_t calls;
	atomic_uint_least64_t rounds; /* emits done */
} after_off;

static weir_err
after_off_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	atomic_fetch_add(&((after_off *) arg)->calls, 1);
	return WEIR_OK;
}

static void *
after_off_body(void *arg)
{
	after_off *ao = arg;
	while (!atomic_load(&ao->stop)) {
		int      off    = atomic_load(&ao->off_done);
		uint64_t before = atomic_load(&ao->calls);
		assert_weir_ok(
		    weir_emit(ao->bus, "cache.after", NULL, 0, NULL));
		if (off && atomic_load(&ao->calls) != before) {
			atomic_fetch_add(&ao->late, 1);
		}
		atomic_fetch_add(&ao->rounds, 1);
	}
	return NULL;
}

/* An emit begun after weir_off() returned never calls the listener, on
 * any thread (one already running may: Node's snapshot rule). */
static void
test_never_called_after_off(void **state)
{
	(void) state;
	for (int round = 0; round < 50; round++) {
		after_off ao;
		pthread_t thr;
		uint64_t  id;
		memset(&ao, 0, sizeof(ao));
		assert_weir_ok(weir_bus_create(&ao.bus, NULL));
		assert_weir_ok(weir_on(ao.bus, "cache.after",
		    after_off_handler, &ao, NULL, 0, &id));
		assert_int_equal(
		    pthread_create(&thr, NULL, after_off_body, &ao), 0);
		wt_wait_until(atomic_load(&ao.calls) > 10);
		assert_weir_ok(weir_off(ao.bus, id));
		atomic_store(&ao.off_done, 1);
		uint64_t at = atomic_load(&ao.rounds);
		wt_wait_until(atomic_load(&ao.rounds) > at + 2);
		atomic_store(&ao.stop, 1);
		pthread_join(thr, NULL);
		assert_int_equal(atomic_load(&ao.late), 0);
		weir_bus_destroy(ao.bus);
	}
}

/* On one thread: the listener is gone and its arg freed when weir_off()
 * returns (no section is open: the release is immediate). */
static void
test_off_frees_at_once(void **state)
{
	(void) state;
	weir_bus *bus;
	probe    *p = calloc(1, sizeof(*p));
	uint64_t  id;
	int       freed_seen;
	assert_non_null(p);
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(
	    weir_on(bus, "cache.one", probe_handler, p, probe_free, 0, &id));
	assert_weir_ok(weir_emit(bus, "cache.one", NULL, 0, NULL));
	assert_weir_ok(weir_emit(bus, "cache.one", NULL, 0, NULL));
	assert_int_equal(atomic_load(&p->calls), 2);
	assert_weir_ok(weir_off(bus, id));
	freed_seen = (int) weir__scache_limbo_count();
	assert_int_equal(freed_seen, 0);
	size_t called = 9;
	assert_weir_ok(weir_emit(bus, "cache.one", NULL, 0, &called));
	assert_int_equal(called, 0);
	weir_bus_destroy(bus);
}

/* A new listener or subscription whose wildcard matches a cached topic
 * is seen by the next emit or publish of that topic; a removed one is
 * not. */
static void
test_wildcard_invalidates(void **state)
{
	(void) state;
	weir_bus         *bus;
	int               exact = 0, star = 0;
	size_t            called;
	uint64_t          id;
	weir_subscr      *sub;
	const weir_event *ev;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(
	    weir_on(bus, "a.b", wt_count_int_handler, &exact, NULL, 0, NULL));
	assert_weir_ok(weir_emit(bus, "a.b", NULL, 0, &called));
	assert_int_equal(called, 1);
	assert_weir_ok(
	    weir_on(bus, "a.*", wt_count_int_handler, &star, NULL, 0, &id));
	assert_weir_ok(weir_emit(bus, "a.b", NULL, 0, &called));
	assert_int_equal(called, 2);
	assert_int_equal(star, 1);
	assert_weir_ok(weir_off(bus, id));
	assert_weir_ok(weir_emit(bus, "a.b", NULL, 0, &called));
	assert_int_equal(called, 1);
	assert_int_equal(star, 1);
	assert_int_equal(exact, 3);

	/* Publish: a pull subscription on a.> added after the topic was
	 * cached gets the next event. */
	assert_weir_ok(weir_publish(bus, "a.b", "x", 1, 0, NULL));
	assert_weir_ok(
	    weir_subscribe(&sub, bus, "a.>", NULL, NULL, NULL, NULL));
	assert_weir_ok(weir_publish(bus, "a.b", "y", 1, 0, NULL));
	assert_weir_ok(weir_subscr_next(sub, &ev, 0));
	assert_string_equal(weir_event_topic(ev), "a.b");
	weir_event_release(ev);
	weir_unsubscribe(sub);
	assert_weir_ok(weir_publish(bus, "a.b", "z", 1, 0, NULL));
	weir_bus_destroy(bus);
}

/* A listener that emits many other topics (whose entries may fall on
 * the outer topic's slot) does not disturb the outer emit's list. */
static int order[3], order_n;

static weir_err
nested_first(weir_bus *bus, const weir_event *ev, void *arg)
{
	char topic[32];
	(void) ev;
	(void) arg;
	order[order_n++ % 3] = 1;
	for (int i = 0; i < 300; i++) {
		snprintf(topic, sizeof(topic), "nest.%d", i);
		assert_weir_ok(weir_emit(bus, topic, NULL, 0, NULL));
	}
	return WEIR_OK;
}

static weir_err
nested_second(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	(void) arg;
	order[order_n++ % 3] = 2;
	return WEIR_OK;
}

static void
test_nested_emits_keep_outer_list(void **state)
{
	(void) state;
	weir_bus *bus;
	int       others = 0;
	size_t    called;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(
	    weir_on(bus, "outer", nested_first, NULL, NULL, 0, NULL));
	assert_weir_ok(
	    weir_on(bus, "outer", nested_second, NULL, NULL, 0, NULL));
	assert_weir_ok(weir_on(
	    bus, "nest.*", wt_count_int_handler, &others, NULL, 0, NULL));
	for (int r = 0; r < 3; r++) {
		order_n = 0;
		assert_weir_ok(weir_emit(bus, "outer", NULL, 0, &called));
		assert_int_equal(called, 2);
		assert_int_equal(order_n, 2);
		assert_int_equal(order[0], 1);
		assert_int_equal(order[1], 2);
	}
	assert_int_equal(others, 900);
	weir_bus_destroy(bus);
}

/* Emits nested across two buses on one thread: a listener of bus A
 * emits on bus B, whose listener emits on A again and removes a
 * listener of B that B's emit had cached. Every emit reaches its own
 * bus's listeners only, the removed listener is not called again, and
 * its arg is freed (at the latest with its bus). */
typedef struct two_buses {
	weir_bus *a, *b;
	probe    *gone;
	uint64_t  gone_id;
	int       a_calls, b_calls, inner_calls;
} two_buses;

static weir_err
two_inner(weir_bus *bus, const weir_event *ev, void *arg)
{
	two_buses *tb = arg;
	(void) ev;
	assert_ptr_equal(bus, tb->a);
	tb->inner_calls++;
	return WEIR_OK;
}

static weir_err
two_on_b(weir_bus *bus, const weir_event *ev, void *arg)
{
	two_buses *tb = arg;
	(void) ev;
	assert_ptr_equal(bus, tb->b);
	tb->b_calls++;
	assert_weir_ok(weir_emit(tb->a, "two.inner", NULL, 0, NULL));
	if (tb->gone != NULL) {
		assert_weir_ok(weir_off(tb->b, tb->gone_id));
		tb->gone = NULL;
	}
	return WEIR_OK;
}

static weir_err
two_on_a(weir_bus *bus, const weir_event *ev, void *arg)
{
	two_buses *tb = arg;
	(void) ev;
	assert_ptr_equal(bus, tb->a);
	tb->a_calls++;
	assert_weir_ok(weir_emit(tb->b, "two.b", NULL, 0, NULL));
	return WEIR_OK;
}

/* Buses A and B with the listeners of the two nested cases: A's "two.a"
 * emits on B, B's "two.b" removes the probe returned (the next of B's
 * listeners) once tb->gone names it. */
static probe *
two_buses_open(two_buses *tb)
{
	assert_weir_ok(weir_bus_create(&tb->a, NULL));
	assert_weir_ok(weir_bus_create(&tb->b, NULL));
	probe *gone = calloc(1, sizeof(*gone));
	assert_non_null(gone);
	atomic_store(&late_calls, 0);
	assert_weir_ok(weir_on(tb->a, "two.a", two_on_a, tb, NULL, 0, NULL));
	assert_weir_ok(
	    weir_on(tb->a, "two.inner", two_inner, tb, NULL, 0, NULL));
	assert_weir_ok(weir_on(tb->b, "two.b", two_on_b, tb, NULL, 0, NULL));
	assert_weir_ok(weir_on(
	    tb->b, "two.b", probe_handler, gone, probe_free, 0, &tb->gone_id));
	return gone;
}

static void
test_nested_across_buses(void **state)
{
	(void) state;
	two_buses tb = { 0 };
	tb.gone      = two_buses_open(&tb);
	for (int r = 0; r < 3; r++) {
		size_t called = 0;
		assert_weir_ok(weir_emit(tb.a, "two.a", NULL, 0, &called));
		assert_int_equal(called, 1);
	}
	assert_int_equal(tb.a_calls, 3);
	assert_int_equal(tb.b_calls, 3);
	assert_int_equal(tb.inner_calls, 3);
	assert_int_equal(atomic_load(&late_calls), 0);
	weir_bus_destroy(tb.b);
	weir_bus_destroy(tb.a);
	assert_int_equal(weir__scache_limbo_count(), 0);
}

/* The same with bus B's entry filled first (an emit on B alone): the
 * emit on B nested in A's then calls B's listeners from the cache, and
 * the listener it removes is the next of them. Inside that nested
 * section the thread's record must say "any bus" (it said A), so that
 * the removal waits for the outer emit to end instead of freeing the
 * arg the cached walk calls next (ASan: a use after free). */
static void
test_nested_other_bus_cached(void **state)
{
	(void) state;
	two_buses tb = { 0 };
	size_t    called;
	probe    *gone = two_buses_open(&tb);
	assert_weir_ok(weir_emit(tb.b, "two.b", NULL, 0, &called));
	assert_int_equal(called, 2); /* B's entry filled; nothing removed */
	assert_int_equal(atomic_load(&gone->calls), 1);
	tb.gone = gone;
	assert_weir_ok(weir_emit(tb.a, "two.a", NULL, 0, &called));
	assert_int_equal(called, 1);
	assert_null(tb.gone);
	assert_int_equal(tb.a_calls, 1);
	assert_int_equal(tb.b_calls, 2);
	assert_int_equal(tb.inner_calls, 2);
	assert_int_equal(atomic_load(&late_calls), 0);
	assert_int_equal(weir__scache_limbo_count(), 0); /* freed by now */
	weir_bus_destroy(tb.b);
	weir_bus_destroy(tb.a);
}

/* 100,000 distinct topics: every emit right, the cache's memory fixed. */
static void
test_memory_bounded(void **state)
{
	(void) state;
	weir_bus *bus;
	int       calls = 0;
	char      topic[48];
	size_t    called, first = 0;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_on(
	    bus, "many.*", wt_count_int_handler, &calls, NULL, 0, NULL));
	for (int i = 0; i < 100000; i++) {
		snprintf(topic, sizeof(topic), "many.%d", i);
		assert_weir_ok(weir_emit(bus, topic, NULL, 0, &called));
		assert_int_equal(called, 1);
		if (i == 0) {
			first = weir__scache_footprint();
			assert_true(first > 0);
		}
	}
	assert_int_equal(calls, 100000);
	assert_int_equal(weir__scache_footprint(), first);
	assert_true(first <= 32 * 1024);
	weir_bus_destroy(bus);
}

/* A thread that has not emitted or published by string has no cache
 * (no memory); its first emit makes one. */
static void *
footprint_body(void *arg)
{
	weir_bus *bus    = arg;
	size_t   *before = malloc(2 * sizeof(size_t));
	assert_non_null(before);
	before[0] = weir__scache_footprint();
	assert_weir_ok(weir_emit(bus, "cache.fresh", NULL, 0, NULL));
	before[1] = weir__scache_footprint();
	return before;
}

static void
test_fresh_thread_has_no_cache(void **state)
{
	(void) state;
	weir_bus *bus;
	pthread_t thr;
	void     *got;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_int_equal(pthread_create(&thr, NULL, footprint_body, bus), 0);
	assert_int_equal(pthread_join(thr, &got), 0);
	size_t *fp = got;
	assert_int_equal(fp[0], 0);
	assert_true(fp[1] > 0);
	free(fp);
	weir_bus_destroy(bus);
}

/* A thread held inside an emit on bus B does not delay the release of
 * a listener removed from bus A: weir_off() on A frees its arg at once
 * (only readers of A, or of several buses, can still use it). */
typedef struct holder {
	weir_bus  *bus;
	atomic_int inside, release;
} holder;

static weir_err
hold_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	holder *h = arg;
	(void) bus;
	(void) ev;
	atomic_store(&h->inside, 1);
	wt_wait_until(atomic_load(&h->release));
	return WEIR_OK;
}

static void *
holder_body(void *arg)
{
	holder *h = arg;
	assert_weir_ok(weir_emit(h->bus, "cache.hold", NULL, 0, NULL));
	return NULL;
}

static atomic_int counted_frees;

static void
count_free(void *arg)
{
	(void) arg;
	atomic_fetch_add(&counted_frees, 1);
}

static void
test_other_bus_reader_does_not_delay(void **state)
{
	(void) state;
	weir_bus *a;
	holder    h = { 0 };
	pthread_t thr;
	uint64_t  id;
	int       dummy = 0;
	assert_weir_ok(weir_bus_create(&a, NULL));
	assert_weir_ok(weir_bus_create(&h.bus, NULL));
	assert_weir_ok(
	    weir_on(h.bus, "cache.hold", hold_handler, &h, NULL, 0, NULL));
	assert_int_equal(pthread_create(&thr, NULL, holder_body, &h), 0);
	wt_wait_until(atomic_load(&h.inside));
	atomic_store(&counted_frees, 0);
	assert_weir_ok(weir_on(
	    a, "cache.a", wt_count_int_handler, &dummy, count_free, 0, &id));
	assert_weir_ok(weir_emit(a, "cache.a", NULL, 0, NULL));
	assert_weir_ok(weir_off(a, id));
	assert_int_equal(atomic_load(&counted_frees), 1);
	assert_int_equal(weir__scache_limbo_count(), 0);
	atomic_store(&h.release, 1);
	pthread_join(thr, NULL);
	assert_int_equal(dummy, 1);
	weir_bus_destroy(h.bus);
	weir_bus_destroy(a);
}

/* weir_unsubscribe() while another thread publishes by string: the
 * subscription's memory outlives every publish that may offer to it. */
static void
test_unsubscribe_while_publishing(void **state)
{
	(void) state;
	weir_bus           *bus;
	spinner             sp = { .topic = "cache.pub", .publish = 1 };
	pthread_t           thr;
	weir_subscr_config *sc =
	    wt_subscr_config(4, WEIR_POLICY_DROP_OLDEST, 0);
	assert_weir_ok(weir_bus_create(&bus, NULL));
	sp.bus = bus;
	assert_int_equal(pthread_create(&thr, NULL, spinner_body, &sp), 0);
	for (int i = 0; i < CYCLES; i++) {
		weir_subscr *sub;
		uint64_t     seen = atomic_load(&sp.rounds);
		assert_weir_ok(weir_subscribe(
		    &sub, bus, "cache.>", NULL, NULL, NULL, sc));
		while (atomic_load(&sp.rounds) < seen + 2) {
			sched_yield();
		}
		weir_unsubscribe(sub);
	}
	atomic_store(&sp.stop, 1);
	pthread_join(thr, NULL);
	weir_subscr_config_destroy(sc);
	assert_int_equal(weir__scache_limbo_count(), 0);
	weir_bus_destroy(bus);
}

static void *
emit_once_body(void *bus)
{
	assert_weir_ok(weir_emit(bus, "cache.thread", NULL, 0, NULL));
	return NULL;
}

/* Threads that used the cache and ended leave nothing behind: their
 * records are reused, their entries freed (LSan). */
static void
test_threads_come_and_go(void **state)
{
	(void) state;
	weir_bus             *bus;
	atomic_uint_least64_t n = 0;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(
	    weir_on(bus, "cache.thread", wt_count_handler, &n, NULL, 0, NULL));
	for (int i = 0; i < 64; i++) {
		pthread_t thr;
		assert_int_equal(
		    pthread_create(&thr, NULL, emit_once_body, bus), 0);
		pthread_join(thr, NULL);
	}
	assert_int_equal(atomic_load(&n), 64);
	weir_bus_destroy(bus);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_off_frees_at_once),
		cmocka_unit_test(test_wildcard_invalidates),
		cmocka_unit_test(test_nested_emits_keep_outer_list),
		cmocka_unit_test(test_nested_across_buses),
		cmocka_unit_test(test_nested_other_bus_cached),
		cmocka_unit_test(test_fresh_thread_has_no_cache),
		cmocka_unit_test(test_other_bus_reader_does_not_delay),
		cmocka_unit_test(test_memory_bounded),
		cmocka_unit_test(test_threads_come_and_go),
		cmocka_unit_test(test_off_while_emitting),
		cmocka_unit_test(test_never_called_after_off),
		cmocka_unit_test(test_unsubscribe_while_publishing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
