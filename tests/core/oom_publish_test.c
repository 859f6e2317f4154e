/*
 * Out of memory in the three publish calls: weir_publish() (also with a
 * set of matching subscriptions too large for its stack array, and with
 * WEIR_PUBLISH_TAKE), weir_publish_topic() and weir_publish_event() of
 * a stack event (an emit's, which publish must copy). Each runs with its
 * n-th allocation failing, n = 1, 2, ..., until it succeeds; a failure
 * is WEIR_ENOMEM, offers the event to no subscription (their
 * `published` counts stay put) and leaves taken data with the caller.
 * weir_publish_batch() runs the same way: a failure stops the batch at
 * the events made, which every subscription takes, and `accepted` says
 * how many; nothing leaks.
 * No loop runs (but for the batches, which a pass drains between
 * calls): offered events wait in the queues, counted.
 */
#include <string.h>

#include "core/evpool.h"
#include "fault_alloc.h"
#include "weir_test.h"

// More than publish.c's PUBLISH_LOCAL (16), so the set grows.
#define NSUBS 20

typedef struct pfx {
	weir_bus    *bus;
	weir_subscr *sub[NSUBS];
} pfx;

static int
setup(void **state)
{
	pfx *f = calloc(1, sizeof(*f));
	assert_weir_ok(weir_bus_create(&f->bus, NULL));
	for (int i = 0; i < NSUBS; i++) {
		assert_weir_ok(weir_subscribe(&f->sub[i], f->bus, "p.>",
		    wt_nop_handler, NULL, NULL, NULL));
	}
	weir_set_allocator(&fi_alloc);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	pfx *f  = *state;
	fail_at = 0;
	weir_bus_destroy(f->bus);
	weir__evpool_flush();
	weir_set_allocator(NULL);
	free(f);
	return 0;
}

// Every subscription's `published` equals @p want.
static void
assert_published(pfx *f, uint64_t want)
{
	for (int i = 0; i < NSUBS; i++) {
		assert_int_equal(wt_subscr_stats(f->sub[i]).published, want);
	}
}

typedef weir_err (*pub_fn)(pfx *f, void *arg);

// Runs @p fn with its n-th allocation failing until a run makes fewer
// than n allocations; returns how many runs failed.
static int
pub_loop(pfx *f, pub_fn fn, void *arg)
{
	int      failures = 0;
	uint64_t offered  = wt_subscr_stats(f->sub[0]).published;
	for (long n = 1; n < 10000; n++) {
		weir__evpool_flush();
		fi_arm(n);
		weir_err rv    = fn(f, arg);
		long     calls = alloc_calls;
		fail_at        = 0;
		if (rv == WEIR_OK) {
			assert_published(f, ++offered);
			if (calls < n) {
				return failures;
			}
			continue;
		}
		assert_weir_err(rv, WEIR_ENOMEM);
		assert_published(f, offered);
		failures++;
	}
	fail_msg("never succeeded");
	return failures;
}

static weir_err
do_publish(pfx *f, void *arg)
{
	(void) arg;
	return weir_publish(f->bus, "p.x", "abc", 3, 0, NULL);
}

static void
test_publish(void **state)
{
	pfx *f = *state;
	// The growing set, then the event: at least two failures.
	assert_true(pub_loop(f, do_publish, NULL) >= 2);
}

// weir_publish() by the thread's topic cache (a topic with at most
// WEIR__SCACHE_SUBS subscriptions, seen once before): its event's
// allocation failing is WEIR_ENOMEM and offers it to nobody.
static void
test_publish_cached(void **state)
{
	pfx         *f = *state;
	weir_subscr *few[2];
	fail_at = 0;
	for (int i = 0; i < 2; i++) {
		assert_weir_ok(weir_subscribe(
		    &few[i], f->bus, "q.x", wt_nop_handler, NULL, NULL, NULL));
	}
	assert_weir_ok(weir_publish(f->bus, "q.x", "abc", 3, 0, NULL));
	int fails = 0;
	for (long n = 1; n < 100; n++) {
		uint64_t before = wt_subscr_stats(few[0]).published;
		weir__evpool_flush();
		fi_arm(n);
		weir_err rv = weir_publish(f->bus, "q.x", "abc", 3, 0, NULL);
		long     calls = alloc_calls;
		fail_at        = 0;
		if (rv == WEIR_OK) {
			assert_int_equal(
			    wt_subscr_stats(few[1]).published, before + 1);
			if (calls < n) {
				break;
			}
			continue;
		}
		assert_weir_err(rv, WEIR_ENOMEM);
		for (int i = 0; i < 2; i++) {
			assert_int_equal(
			    wt_subscr_stats(few[i]).published, before);
		}
		fails++;
	}
	assert_true(fails >= 1); // the event's block
	assert_weir_ok(weir_bus_run(f->bus, WEIR_RUN_NOWAIT));
	for (int i = 0; i < 2; i++) {
		weir_unsubscribe(few[i]);
	}
}

// A publish that matches nothing on the locked path (a topic too long
// for the thread's cache) makes no event, so it needs no memory: OK
// with every allocation failing; a taken payload is freed at once.
static void
test_publish_nobody_uncached(void **state)
{
	pfx *f = *state;
	char topic[80];
	memset(topic, 'n', sizeof(topic) - 1);
	topic[sizeof(topic) - 1] = '\0';
	long live                = live_allocs;
	fi_arm(1);
	assert_weir_ok(weir_publish(f->bus, topic, "abc", 3, 0, NULL));
	freed_args = 0;
	assert_weir_ok(weir_publish(
	    f->bus, topic, "abc", 3, WEIR_PUBLISH_TAKE, arg_free_fn));
	assert_int_equal(freed_args, 1);
	assert_int_equal(alloc_calls, 0);
	fail_at = 0;
	assert_int_equal(live_allocs, live);
	assert_published(f, 0);
}

static weir_err
do_publish_take(pfx *f, void *arg)
{
	(void) arg;
	freed_args  = 0;
	weir_err rv = weir_publish(
	    f->bus, "p.x", "abc", 3, WEIR_PUBLISH_TAKE, arg_free_fn);
	// Refused: the data stays the caller's (not freed); taken: kept by
	// the queued events until they go.
	assert_int_equal(freed_args, 0);
	return rv;
}

static void
test_publish_take(void **state)
{
	pfx *f = *state;
	assert_true(pub_loop(f, do_publish_take, NULL) >= 2);
}

static weir_err
do_publish_topic(pfx *f, void *arg)
{
	(void) f;
	weir_topic **t = arg;
	return weir_publish_topic(*t, "abc", 3);
}

static void
test_publish_topic(void **state)
{
	pfx        *f = *state;
	weir_topic *t;
	fail_at = 0;
	assert_weir_ok(weir_topic_create(&t, f->bus, "p.x"));
	assert_true(pub_loop(f, do_publish_topic, &t) >= 1);
	// Bad input, boundary: an empty payload needs no data; a payload
	// over the bus's limit is refused before anything is offered.
	assert_weir_err(weir_publish_topic(t, NULL, 1), WEIR_EINVAL);
	assert_weir_err(
	    weir_publish_topic(t, "x", WEIR_MAX_EVENT_PAYLOAD), WEIR_ETOOBIG);
	uint64_t before = wt_subscr_stats(f->sub[0]).published;
	assert_weir_ok(weir_publish_topic(t, NULL, 0));
	assert_published(f, before + 1);
	weir_topic_destroy(t);
}

// The listener republishes the emit's stack event with the n-th
// allocation failing (armed here: the emit itself allocated before).
typedef struct relay {
	pfx     *f;
	long     n;
	weir_err rv;
	long     calls;
} relay;

static weir_err
relay_fn(weir_bus *bus, const weir_event *ev, void *arg)
{
	relay *r = arg;
	weir__evpool_flush();
	fi_arm(r->n);
	r->rv    = weir_publish_event(bus, ev);
	r->calls = alloc_calls;
	fail_at  = 0;
	return WEIR_OK;
}

static void
test_publish_stack_event(void **state)
{
	pfx         *f     = *state;
	relay        r     = { .f = f };
	int          fails = 0;
	weir_subscr *es;
	fail_at = 0;
	assert_weir_ok(weir_subscribe(
	    &es, f->bus, "e.x", wt_nop_handler, NULL, NULL, NULL));
	assert_weir_ok(weir_on(f->bus, "e.x", relay_fn, &r, NULL, 0, NULL));
	for (r.n = 1; r.n < 10000; r.n++) {
		size_t   called = 0;
		uint64_t before = wt_subscr_stats(es).published;
		assert_weir_ok(weir_emit(f->bus, "e.x", "abc", 3, &called));
		assert_int_equal(called, 1);
		uint64_t after = wt_subscr_stats(es).published;
		if (r.rv == WEIR_OK) {
			// A pool that cannot make its cache falls back to
			// the allocator: a success despite a failure.
			assert_int_equal(after, before + 1);
			if (r.calls < r.n) {
				break;
			}
			continue;
		}
		assert_weir_err(r.rv, WEIR_ENOMEM);
		assert_int_equal(after, before);
		fails++;
	}
	assert_true(fails >= 1);
	assert_true(r.calls < r.n); // the last run failed nothing
}

// A batch of 100 (two chunks of weir_publish_batch) in four blocks
// (evblock.c): the runs of 3000-byte events split each chunk's events
// in two blocks of at most 16 KiB. Its n-th allocation fails, n = 1, 2,
// ...
static void
test_publish_batch(void **state)
{
	pfx                *f = *state;
	weir_topic         *t;
	static char         data[3000];
	weir_buf            bufs[100];
	static const size_t lens[] = { 0, 8, 8, 200, 3000, 8 };
	for (size_t i = 0; i < 100; i++) {
		bufs[i] = (weir_buf) { data, lens[(i / 7) % 6] };
	}
	fail_at = 0;
	assert_weir_ok(weir_topic_create(&t, f->bus, "p.x"));
	uint64_t offered = wt_subscr_stats(f->sub[0]).published;
	long     live    = live_allocs;
	int      fails   = 0;
	long     n;
	for (n = 1; n < 10000; n++) {
		size_t accepted = 12345;
		weir__evpool_flush();
		fi_arm(n);
		weir_err rv    = weir_publish_batch(t, bufs, 100, &accepted);
		long     calls = alloc_calls;
		fail_at        = 0;
		offered += accepted;
		assert_published(f, offered);
		// Drained by a pass here, so that the queues never fill.
		assert_weir_ok(weir_bus_run(f->bus, WEIR_RUN_NOWAIT));
		if (rv == WEIR_OK) {
			assert_int_equal(accepted, 100);
			if (calls < n) {
				break;
			}
			continue;
		}
		assert_weir_err(rv, WEIR_ENOMEM);
		assert_true(accepted < 100);
		fails++;
	}
	assert_true(n < 10000);
	assert_true(fails >= 4); // each block, at least
	// Every queued event goes with the queues: nothing of the failed
	// batches is left behind.
	weir_topic_destroy(t);
	for (int i = 0; i < NSUBS; i++) {
		weir_unsubscribe(f->sub[i]);
		f->sub[i] = NULL;
	}
	weir__evpool_flush();
	assert_true(live_allocs <= live);
}

// A batch on a handle made before a subscription came: the handle's
// refresh runs first and its n-th allocation fails, n = 1, 2, ...: the
// batch is WEIR_ENOMEM with nothing accepted and offered to nobody, and
// the next call refreshes and delivers.
static void
test_publish_batch_refresh(void **state)
{
	pfx        *f = *state;
	weir_topic *t;
	int         v = 7;
	weir_buf    b = { &v, sizeof(v) };
	fail_at       = 0;
	assert_weir_ok(weir_topic_create(&t, f->bus, "p.r"));
	int fails = 0;
	for (long n = 1; n < 1000; n++) {
		weir_subscr *late;
		fail_at = 0;
		assert_weir_ok(weir_subscribe(
		    &late, f->bus, "p.r", wt_nop_handler, NULL, NULL, NULL));
		uint64_t before   = wt_subscr_stats(f->sub[0]).published;
		size_t   accepted = 12345;
		weir__evpool_flush();
		fi_arm(n);
		weir_err rv = weir_publish_batch(t, &b, 1, &accepted);
		fail_at     = 0;
		if (rv == WEIR_OK) {
			assert_int_equal(accepted, 1);
			assert_int_equal(wt_subscr_stats(late).published, 1);
			weir_unsubscribe(late);
			break;
		}
		assert_weir_err(rv, WEIR_ENOMEM);
		assert_int_equal(accepted, 0);
		assert_int_equal(wt_subscr_stats(late).published, 0);
		assert_int_equal(wt_subscr_stats(f->sub[0]).published, before);
		weir_unsubscribe(late);
		fails++;
	}
	assert_true(fails >= 1); // the refresh's own allocation, at least
	assert_weir_ok(weir_bus_run(f->bus, WEIR_RUN_NOWAIT));
	weir_topic_destroy(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_publish_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_publish_batch_refresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_publish, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_publish_cached, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_publish_nobody_uncached, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_publish_take, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_publish_topic, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_publish_stack_event, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
