// Bounded queues: each policy at the bound, exact counters, watermarks.
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "weir_test.h"

#include "core/subscr.h" // q.napping: a BLOCKed publisher is observable

#define MAXREC 4096

typedef struct pol_fx {
	weir_bus    *bus;
	weir_subscr *sub;
	int          got[MAXREC];
	int          n;
	int          pressure_calls;
	int          drain_calls;
	int          republish_at; // handler call that publishes once more
	atomic_int   saw_blocked;  // unblock_thread saw the publisher wait
} pol_fx;

static pol_fx fx;

static int
setup(void **state)
{
	(void) state;
	memset(&fx, 0, sizeof(fx));
	fx.republish_at = -1;
	return weir_bus_create(&fx.bus, NULL) == WEIR_OK ? 0 : -1;
}

static int
teardown(void **state)
{
	(void) state;
	weir_unsubscribe(fx.sub);
	weir_bus_destroy(fx.bus);
	return 0;
}

static weir_err
record_fn(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) arg;
	size_t      len;
	const void *p = weir_event_payload(ev, &len);
	int         v;
	assert_int_equal(len, sizeof(v));
	memcpy(&v, p, sizeof(v));
	if (fx.n < MAXREC) {
		fx.got[fx.n] = v;
	}
	if (fx.n == fx.republish_at) {
		int extra = 1000;
		assert_weir_ok(weir_publish(bus, weir_event_topic(ev), &extra,
		    sizeof(extra), 0, NULL));
	}
	fx.n++;
	return WEIR_OK;
}

static void
on_pressure(weir_subscr *sub, void *arg)
{
	assert_ptr_equal(arg, &fx);
	assert_ptr_equal(sub, fx.sub);
	fx.pressure_calls++;
}

static void
on_drain(weir_subscr *sub, void *arg)
{
	assert_ptr_equal(arg, &fx);
	assert_ptr_equal(sub, fx.sub);
	fx.drain_calls++;
}

static void
subscribe(size_t cap, weir_policy pol, int64_t timeout_ms)
{
	weir_subscr_config *sc = wt_subscr_config(cap, pol, timeout_ms);
	assert_weir_ok(
	    weir_subscribe(&fx.sub, fx.bus, "q.>", record_fn, NULL, NULL, sc));
	weir_subscr_config_destroy(sc);
}

static weir_err
pub(int v)
{
	return weir_publish(fx.bus, "q.t", &v, sizeof(v), 0, NULL);
}

static weir_err
pub_key(const char *key, int v)
{
	weir_event_init init = { .size = sizeof(weir_event_init),
		.topic                 = "q.k",
		.key                   = key,
		.key_len               = key ? strlen(key) : 0,
		.payload               = &v,
		.payload_len           = sizeof(v) };
	weir_event     *ev;
	assert_weir_ok(weir_event_new(&ev, &init));
	weir_err rv = weir_publish_event(fx.bus, ev);
	weir_event_release(ev);
	return rv;
}

static void
drain(void)
{
	for (int i = 0; i < 100 && wt_subscr_stats(fx.sub).queued > 0; i++) {
		assert_weir_ok(weir_bus_run(fx.bus, WEIR_RUN_NOWAIT));
	}
	assert_int_equal(wt_subscr_stats(fx.sub).queued, 0);
}

static void
assert_got(const int *want, int n)
{
	assert_int_equal(fx.n, n);
	for (int i = 0; i < n; i++) {
		if (fx.got[i] != want[i]) {
			print_error("event %d: got %d, want %d\n", i,
			    fx.got[i], want[i]);
			fail();
		}
	}
}

static void
test_block_timeout(void **state)
{
	(void) state;
	subscribe(2, WEIR_POLICY_BLOCK, 50);
	assert_weir_ok(pub(0));
	assert_weir_ok(pub(1));
	int64_t t0 = wt_now_ms();
	assert_weir_err(pub(2), WEIR_ETIMEDOUT); // nobody drains
	int64_t waited = wt_now_ms() - t0;
	assert_true(waited >= 40);
	assert_true(waited < 5000);
	weir_subscr_stats st = wt_subscr_stats(fx.sub);
	assert_int_equal(st.published, 3);
	assert_int_equal(st.timed_out, 1);
	assert_int_equal(st.rejected, 0);
	assert_int_equal(st.queued, 2);
	assert_int_equal(st.high_water, 2);
	wt_assert_adds_up(&st);
	drain();
	const int want[] = { 0, 1 };
	assert_got(want, 2);
	st = wt_subscr_stats(fx.sub);
	assert_int_equal(st.delivered, 2);
	wt_assert_adds_up(&st);
}

static void
test_block_zero_timeout(void **state)
{
	(void) state;
	subscribe(2, WEIR_POLICY_BLOCK, 0);
	assert_weir_ok(pub(0));
	assert_weir_ok(pub(1));
	int64_t t0 = wt_now_ms();
	assert_weir_err(pub(2), WEIR_EFULL); // fails at once
	// Only a wait without end would take this long on a loaded machine.
	assert_true(wt_now_ms() - t0 < WT_WAIT_MS);
	weir_subscr_stats st = wt_subscr_stats(fx.sub);
	assert_int_equal(st.rejected, 1);
	assert_int_equal(st.timed_out, 0);
	wt_assert_adds_up(&st);
	drain();
	const int want[] = { 0, 1 };
	assert_got(want, 2);
}

// Runs the loop once the test's publisher waits for room in fx.sub's
// queue (a BLOCKed producer sets q.napping before it waits). Not the test's
// thread: it cannot fail the test, so after WT_WAIT_MS it runs the loop anyway
// and the test's checks fail.
static void *
unblock_thread(void *arg)
{
	(void) arg;
	int64_t end = wt_now_ms() + WT_WAIT_MS;
	while (atomic_load(&fx.sub->q.napping) == 0 && wt_now_ms() < end) {
		wt_sleep_ms(1);
	}
	atomic_store(&fx.saw_blocked, atomic_load(&fx.sub->q.napping) != 0);
	weir_bus_run(fx.bus, WEIR_RUN_NOWAIT);
	return NULL;
}

static void
test_block_waits_for_room(void **state)
{
	(void) state;
	// A BLOCKed publisher proceeds once the loop makes room.
	subscribe(2, WEIR_POLICY_BLOCK, -1);
	assert_weir_ok(pub(0));
	assert_weir_ok(pub(1));
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, unblock_thread, NULL), 0);
	assert_weir_ok(pub(2)); // waits until the other thread drains
	pthread_join(th, NULL);
	assert_true(atomic_load(&fx.saw_blocked));
	assert_true(fx.n >= 1);
	drain();
	const int want[] = { 0, 1, 2 };
	assert_got(want, 3);
	weir_subscr_stats st = wt_subscr_stats(fx.sub);
	assert_int_equal(st.published, 3);
	assert_int_equal(st.delivered, 3);
	wt_assert_adds_up(&st);
}

// A handler that publishes, on its loop's thread, to a full BLOCK queue
// of that loop gets WEIR_EFULL at once (the loop would be waiting for
// itself), while the other matching queue takes the event; the wait-or-not
// question is asked only once a queue is full (dispatch.c), so this pins
// the answer on that path. The loop runs on its own thread so a
// regression shows as a failure after WT_WAIT_MS, not a hung test.
typedef struct own_loop {
	weir_subscr          *big; // the second matching queue, roomy
	weir_err              rv[3];
	atomic_uint_least64_t done;
} own_loop;

static weir_err
own_loop_fn(weir_bus *bus, const weir_event *ev, void *arg)
{
	own_loop *ol = arg;
	(void) ev;
	for (int i = 0; i < 3; i++) {
		ol->rv[i] = weir_publish(bus, "q.t", &i, sizeof(i), 0, NULL);
	}
	atomic_store(&ol->done, 1);
	weir_bus_stop(bus);
	return WEIR_OK;
}

static void
test_block_own_loop_refuses(void **state)
{
	(void) state;
	own_loop            ol = { 0 };
	weir_subscr        *go;
	weir_subscr_config *sc = wt_subscr_config(2, WEIR_POLICY_BLOCK, -1);
	subscribe(2, WEIR_POLICY_BLOCK, -1); // fx.sub: waits forever
	assert_weir_ok(weir_subscribe(
	    &ol.big, fx.bus, "q.>", wt_nop_handler, NULL, NULL, NULL));
	assert_weir_ok(
	    weir_subscribe(&go, fx.bus, "go", own_loop_fn, &ol, NULL, sc));
	weir_subscr_config_destroy(sc);
	assert_weir_ok(weir_publish(fx.bus, "go", "", 0, 0, NULL));
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, wt_run_bus, fx.bus), 0);
	int finished = wt_wait_u64(&ol.done, 1);
	if (!finished) {
		weir_unsubscribe(fx.sub); // ends the wait, then fail
		fx.sub = NULL;
	}
	pthread_join(th, NULL);
	assert_true(finished);
	assert_weir_ok(ol.rv[0]);
	assert_weir_ok(ol.rv[1]);
	assert_weir_err(ol.rv[2], WEIR_EFULL);
	weir_subscr_stats st = wt_subscr_stats(fx.sub);
	assert_int_equal(st.published, 3);
	assert_int_equal(st.rejected, 1);
	assert_int_equal(st.queued, 2);
	wt_assert_adds_up(&st);
	st = wt_subscr_stats(ol.big);
	assert_int_equal(st.published, 3);
	assert_int_equal(st.queued, 3);
	assert_int_equal(st.rejected, 0);
	weir_unsubscribe(ol.big);
	weir_unsubscribe(go);
}

static void
test_reject(void **state)
{
	(void) state;
	subscribe(3, WEIR_POLICY_REJECT, 0);
	for (int i = 0; i < 5; i++) {
		if (i < 3) {
			assert_weir_ok(pub(i));
		} else {
			assert_weir_err(pub(i), WEIR_EFULL);
		}
	}
	weir_subscr_stats st = wt_subscr_stats(fx.sub);
	assert_int_equal(st.published, 5);
	assert_int_equal(st.rejected, 2);
	assert_int_equal(st.queued, 3);
	wt_assert_adds_up(&st);
	drain();
	const int want[] = { 0, 1, 2 };
	assert_got(want, 3);
	// Room again after draining.
	assert_weir_ok(pub(7));
	drain();
	assert_int_equal(fx.got[3], 7);
	st = wt_subscr_stats(fx.sub);
	assert_int_equal(st.delivered, 4);
	wt_assert_adds_up(&st);
}

static void
test_drop_oldest(void **state)
{
	(void) state;
	subscribe(3, WEIR_POLICY_DROP_OLDEST, 0);
	for (int i = 0; i < 10; i++) {
		assert_weir_ok(pub(i)); // dropping is not an error
	}
	weir_subscr_stats st = wt_subscr_stats(fx.sub);
	assert_int_equal(st.dropped, 7);
	assert_int_equal(st.queued, 3);
	assert_int_equal(st.high_water, 3);
	wt_assert_adds_up(&st);
	drain();
	const int want[] = { 7, 8, 9 }; // the newest, in order
	assert_got(want, 3);
	st = wt_subscr_stats(fx.sub);
	wt_assert_adds_up(&st);
	assert_int_equal(st.delivered, 3);
}

static void
test_drop_newest(void **state)
{
	(void) state;
	subscribe(3, WEIR_POLICY_DROP_NEWEST, 0);
	for (int i = 0; i < 10; i++) {
		assert_weir_ok(pub(i));
	}
	weir_subscr_stats st = wt_subscr_stats(fx.sub);
	assert_int_equal(st.dropped, 7);
	assert_int_equal(st.queued, 3);
	wt_assert_adds_up(&st);
	drain();
	const int want[] = { 0, 1, 2 }; // the first ones
	assert_got(want, 3);
	st = wt_subscr_stats(fx.sub);
	wt_assert_adds_up(&st);
}

static void
test_coalesce(void **state)
{
	(void) state;
	subscribe(4, WEIR_POLICY_COALESCE, 0);
	assert_weir_ok(pub_key("A", 0));
	assert_weir_ok(pub_key("B", 1));
	assert_weir_ok(pub_key("A", 2));  // replaces 0 in its place
	assert_weir_ok(pub_key(NULL, 3)); // keyless: never coalesced
	assert_weir_ok(pub_key(NULL, 4));
	assert_weir_ok(pub_key("B", 5)); // replaces 1
	assert_weir_ok(pub_key("A", 6)); // replaces 2
	weir_subscr_stats st = wt_subscr_stats(fx.sub);
	assert_int_equal(st.published, 7);
	assert_int_equal(st.coalesced, 3);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.queued, 4);
	wt_assert_adds_up(&st);
	drain();
	const int want[] = { 6, 5, 3, 4 };
	assert_got(want, 4);
	st = wt_subscr_stats(fx.sub);
	assert_int_equal(st.delivered, 4);
	wt_assert_adds_up(&st);
	// After draining, a key starts afresh (no stale slot).
	assert_weir_ok(pub_key("A", 7));
	assert_weir_ok(pub_key("A", 8));
	drain();
	assert_int_equal(fx.n, 5);
	assert_int_equal(fx.got[4], 8);
	st = wt_subscr_stats(fx.sub);
	assert_int_equal(st.coalesced, 4);
	wt_assert_adds_up(&st);
}

static void
test_coalesce_keeps_position(void **state)
{
	(void) state;
	// The order weir.h documents: a replaced event takes the queued
	// one's place; it does not move to the tail. After A1 B1 A2 the
	// handler gets A2 then B1 (to the tail, it would get B1 then A2).
	subscribe(8, WEIR_POLICY_COALESCE, 0);
	assert_weir_ok(pub_key("A", 1));
	assert_weir_ok(pub_key("B", 2));
	assert_weir_ok(pub_key("A", 3));
	drain();
	const int want[] = { 3, 2 };
	assert_got(want, 2);
	// The same once the queue has wrapped around its ring, and for a
	// key replaced many times behind others.
	for (int i = 0; i < 7; i++) {
		assert_weir_ok(pub_key(NULL, 100 + i));
	}
	drain();
	assert_weir_ok(pub_key("C", 10));
	assert_weir_ok(pub_key(NULL, 11));
	assert_weir_ok(pub_key("D", 12));
	for (int v = 13; v < 20; v++) {
		assert_weir_ok(pub_key("C", v));
	}
	fx.n = 0;
	drain();
	const int want2[] = { 19, 11, 12 };
	assert_got(want2, 3);
}

static void
test_coalesce_full(void **state)
{
	(void) state;
	// Full of distinct keys: the oldest event goes.
	subscribe(3, WEIR_POLICY_COALESCE, 0);
	assert_weir_ok(pub_key("A", 0));
	assert_weir_ok(pub_key("B", 1));
	assert_weir_ok(pub_key("C", 2));
	assert_weir_ok(pub_key("D", 3));  // evicts A
	assert_weir_ok(pub_key("B", 4));  // still coalesces B
	assert_weir_ok(pub_key(NULL, 5)); // evicts B(4)
	assert_weir_ok(pub_key("A", 6));  // A is gone: appended, evicts C
	weir_subscr_stats st = wt_subscr_stats(fx.sub);
	assert_int_equal(st.published, 7);
	assert_int_equal(st.dropped, 3);
	assert_int_equal(st.coalesced, 1);
	assert_int_equal(st.queued, 3);
	wt_assert_adds_up(&st);
	drain();
	const int want[] = { 3, 5, 6 };
	assert_got(want, 3);
	st = wt_subscr_stats(fx.sub);
	wt_assert_adds_up(&st);
}

static void
test_coalesce_many_keys(void **state)
{
	(void) state;
	// Many rounds over a keyspace wider than the queue: exercises the
	// key table's tombstones and rebuilds; counters stay exact and the
	// newest event of each surviving key is what arrives.
	subscribe(64, WEIR_POLICY_COALESCE, 0);
	char key[16];
	int  v = 0;
	for (int round = 0; round < 20; round++) {
		for (int k = 0; k < 40 + round * 3; k++) {
			snprintf(
			    key, sizeof(key), "k%d", (k * 7 + round) % 97);
			assert_weir_ok(pub_key(key, v++));
		}
		weir_subscr_stats st = wt_subscr_stats(fx.sub);
		assert_true(st.queued <= 64);
		wt_assert_adds_up(&st);
		if (round % 3 == 2) {
			drain();
		}
	}
	drain();
	weir_subscr_stats st = wt_subscr_stats(fx.sub);
	assert_int_equal(st.published, (uint64_t) v);
	assert_int_equal(st.delivered, (uint64_t) fx.n);
	wt_assert_adds_up(&st);
	// Delivery order never goes back in time for a key's newest value,
	// and values are unique.
	for (int i = 1; i < fx.n && i < MAXREC; i++) {
		assert_true(fx.got[i] != fx.got[i - 1]);
	}
}

static void
test_watermarks(void **state)
{
	(void) state;
	weir_subscr_config *sc;
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_ok(weir_subscr_config_set_capacity(sc, 10));
	assert_weir_ok(
	    weir_subscr_config_set_policy(sc, WEIR_POLICY_REJECT, 0));
	assert_weir_ok(weir_subscr_config_set_watermarks(
	    sc, 8, 2, on_pressure, on_drain, &fx));
	assert_weir_ok(
	    weir_subscribe(&fx.sub, fx.bus, "q.>", record_fn, NULL, NULL, sc));
	weir_subscr_config_destroy(sc);
	for (int round = 1; round <= 3; round++) {
		for (int i = 0; i < 7; i++) {
			assert_weir_ok(pub(i));
		}
		assert_int_equal(fx.pressure_calls, round - 1);
		assert_weir_ok(pub(7)); // depth reaches high
		assert_int_equal(fx.pressure_calls, round);
		assert_weir_ok(pub(8));
		assert_weir_ok(pub(9));
		assert_int_equal(fx.pressure_calls, round); // once
		assert_int_equal(fx.drain_calls, round - 1);
		drain();
		assert_int_equal(fx.drain_calls, round); // once, at low
		weir_subscr_stats st = wt_subscr_stats(fx.sub);
		assert_int_equal(st.pressure, (uint64_t) round);
		assert_int_equal(st.drain, (uint64_t) round);
		wt_assert_adds_up(&st);
	}
	assert_int_equal(fx.pressure_calls, 3);
	assert_int_equal(fx.drain_calls, 3);
}

static void
test_watermark_hysteresis(void **state)
{
	(void) state;
	// Between pressure and drain, reaching high again fires nothing.
	weir_subscr_config *sc;
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_ok(weir_subscr_config_set_capacity(sc, 10));
	assert_weir_ok(weir_subscr_config_set_watermarks(
	    sc, 8, 2, on_pressure, on_drain, &fx));
	assert_weir_ok(
	    weir_subscribe(&fx.sub, fx.bus, "q.>", record_fn, NULL, NULL, sc));
	weir_subscr_config_destroy(sc);
	for (int i = 0; i < 8; i++) {
		assert_weir_ok(pub(i));
	}
	assert_int_equal(fx.pressure_calls, 1);
	fx.republish_at = 0; // the first handler call brings depth back to 8
	drain();
	assert_int_equal(fx.n, 9);
	assert_int_equal(fx.got[8], 1000);
	assert_int_equal(fx.pressure_calls, 1);
	assert_int_equal(fx.drain_calls, 1);
	weir_subscr_stats st = wt_subscr_stats(fx.sub);
	assert_int_equal(st.pressure, 1);
	assert_int_equal(st.drain, 1);
	wt_assert_adds_up(&st);
}

static void
test_high_water_exact(void **state)
{
	(void) state;
	// weir.h: high_water is "deepest the queue has been", in a struct
	// of "exact counters".
	subscribe(100, WEIR_POLICY_REJECT, 0);
	for (int i = 0; i < 9; i++) {
		assert_weir_ok(pub(i));
	}
	assert_int_equal(wt_subscr_stats(fx.sub).high_water, 9);
	drain();
	assert_weir_ok(pub(1));
	assert_int_equal(wt_subscr_stats(fx.sub).high_water, 9);
}

static void
test_config_errors(void **state)
{
	(void) state;
	weir_subscr_config *sc;
	assert_weir_err(weir_subscr_config_create(NULL), WEIR_EINVAL);
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_err(weir_subscr_config_set_capacity(sc, 0), WEIR_EINVAL);
	assert_weir_err(weir_subscr_config_set_capacity(NULL, 4), WEIR_EINVAL);
	assert_weir_err(weir_subscr_config_set_policy(sc, (weir_policy) 5, 0),
	    WEIR_EINVAL);
	assert_weir_err(weir_subscr_config_set_policy(sc, (weir_policy) -1, 0),
	    WEIR_EINVAL);
	assert_weir_err(
	    weir_subscr_config_set_policy(sc, WEIR_POLICY_BLOCK, -2),
	    WEIR_EINVAL);
	assert_weir_err(
	    weir_subscr_config_set_watermarks(sc, 4, 4, NULL, NULL, NULL),
	    WEIR_EINVAL);
	assert_weir_err(
	    weir_subscr_config_set_watermarks(sc, 4, 5, NULL, NULL, NULL),
	    WEIR_EINVAL);
	assert_weir_err(weir_subscr_config_set_name(sc, ""), WEIR_EINVAL);
	assert_weir_err(weir_subscr_config_set_name(sc, NULL), WEIR_EINVAL);
	// high above the capacity: refused at subscribe, nothing registered.
	assert_weir_ok(weir_subscr_config_set_capacity(sc, 4));
	assert_weir_ok(
	    weir_subscr_config_set_watermarks(sc, 5, 1, NULL, NULL, NULL));
	weir_subscr *sub = NULL;
	assert_weir_err(weir_subscribe(&sub, fx.bus, "q.>", wt_nop_handler,
	                    NULL, NULL, sc),
	    WEIR_EINVAL);
	assert_null(sub);
	assert_weir_ok(
	    weir_subscr_config_set_watermarks(sc, 4, 1, NULL, NULL, NULL));
	assert_weir_ok(weir_subscr_config_set_name(sc, "named"));
	assert_weir_ok(weir_subscribe(
	    &fx.sub, fx.bus, "q.>", wt_nop_handler, NULL, NULL, sc));
	assert_string_equal(weir_subscr_name(fx.sub), "named");
	weir_subscr_config_destroy(sc);
	weir_subscr_config_destroy(NULL);
	// Only one subscription got registered.
	assert_weir_ok(pub(1));
	weir_subscr_stats st = wt_subscr_stats(fx.sub);
	assert_int_equal(st.published, 1);
	assert_weir_err(weir_subscr_stats_get(NULL, &st), WEIR_EINVAL);
	assert_weir_err(weir_subscr_stats_get(fx.sub, NULL), WEIR_EINVAL);
}

// Several producers hammer a small queue while a loop thread drains.
#define MT_PRODUCERS 4
#define MT_EACH 20000

typedef struct mt_prod {
	weir_bus *bus;
	int       id;
	int       keyed;
	uint64_t  ok, efull, etimedout, other;
} mt_prod;

static void *
mt_producer(void *arg)
{
	mt_prod *p = arg;
	char     key[8];
	for (int i = 0; i < MT_EACH; i++) {
		int      v = p->id * MT_EACH + i;
		weir_err rv;
		if (p->keyed && i % 5 != 0) {
			snprintf(key, sizeof(key), "k%d", i % 13);
			weir_event_init init = { .size =
				                     sizeof(weir_event_init),
				.topic       = "q.m",
				.key         = key,
				.key_len     = strlen(key),
				.payload     = &v,
				.payload_len = sizeof(v) };
			weir_event     *ev;
			if (weir_event_new(&ev, &init) != WEIR_OK) {
				p->other++;
				continue;
			}
			rv = weir_publish_event(p->bus, ev);
			weir_event_release(ev);
		} else {
			rv = weir_publish(
			    p->bus, "q.m", &v, sizeof(v), 0, NULL);
		}
		if (rv == WEIR_OK) {
			p->ok++;
		} else if (rv == WEIR_EFULL) {
			p->efull++;
		} else if (rv == WEIR_ETIMEDOUT) {
			p->etimedout++;
		} else {
			p->other++;
		}
	}
	return NULL;
}

static atomic_ulong mt_calls;

static weir_err
mt_count_fn(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	(void) arg;
	atomic_fetch_add_explicit(&mt_calls, 1, memory_order_relaxed);
	return WEIR_OK;
}

static void
mt_case(weir_policy pol, int64_t timeout_ms, int keyed)
{
	weir_bus    *bus;
	weir_subscr *sub;
	atomic_store(&mt_calls, 0);
	assert_weir_ok(weir_bus_create(&bus, NULL));
	weir_subscr_config *sc = wt_subscr_config(7, pol, timeout_ms);
	assert_weir_ok(
	    weir_subscribe(&sub, bus, "q.*", mt_count_fn, NULL, NULL, sc));
	weir_subscr_config_destroy(sc);
	pthread_t loop, th[MT_PRODUCERS];
	mt_prod   p[MT_PRODUCERS];
	assert_int_equal(pthread_create(&loop, NULL, wt_run_bus, bus), 0);
	for (int i = 0; i < MT_PRODUCERS; i++) {
		p[i] = (mt_prod) { .bus = bus, .id = i, .keyed = keyed };
		assert_int_equal(
		    pthread_create(&th[i], NULL, mt_producer, &p[i]), 0);
	}
	uint64_t efull = 0, etimedout = 0;
	for (int i = 0; i < MT_PRODUCERS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(p[i].other, 0);
		efull += p[i].efull;
		etimedout += p[i].etimedout;
	}
	weir_bus_stop(bus);
	pthread_join(loop, NULL);
	weir_subscr_stats st = WEIR_STRUCT_INIT(weir_subscr_stats);
	for (int i = 0; i < 100; i++) {
		assert_weir_ok(weir_subscr_stats_get(sub, &st));
		if (st.queued == 0) {
			break;
		}
		assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT));
	}
	assert_weir_ok(weir_subscr_stats_get(sub, &st));
	assert_int_equal(st.queued, 0);
	assert_int_equal(st.published, MT_PRODUCERS * MT_EACH);
	assert_int_equal(st.delivered, atomic_load(&mt_calls));
	assert_int_equal(st.rejected, efull);
	assert_int_equal(st.timed_out, etimedout);
	assert_true(st.high_water <= 7);
	wt_assert_adds_up(&st);
	if (pol == WEIR_POLICY_BLOCK && timeout_ms < 0) {
		assert_int_equal(st.delivered, MT_PRODUCERS * MT_EACH);
	}
	if (pol == WEIR_POLICY_DROP_OLDEST || pol == WEIR_POLICY_DROP_NEWEST) {
		assert_int_equal(st.rejected + st.timed_out + st.coalesced, 0);
	}
	weir_unsubscribe(sub);
	weir_bus_destroy(bus);
}

static void
test_mt_block(void **state)
{
	(void) state;
	mt_case(WEIR_POLICY_BLOCK, -1, 0);
	mt_case(WEIR_POLICY_BLOCK, 1, 0);
	mt_case(WEIR_POLICY_BLOCK, 0, 0);
}

static void
test_mt_reject(void **state)
{
	(void) state;
	mt_case(WEIR_POLICY_REJECT, 0, 0);
}

static void
test_mt_drop(void **state)
{
	(void) state;
	mt_case(WEIR_POLICY_DROP_OLDEST, 0, 0);
	mt_case(WEIR_POLICY_DROP_NEWEST, 0, 0);
}

static void
test_mt_coalesce(void **state)
{
	(void) state;
	mt_case(WEIR_POLICY_COALESCE, 0, 1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_block_timeout),
		T(test_block_zero_timeout),
		T(test_block_waits_for_room),
		T(test_block_own_loop_refuses),
		T(test_reject),
		T(test_drop_oldest),
		T(test_drop_newest),
		T(test_coalesce),
		T(test_coalesce_keeps_position),
		T(test_coalesce_full),
		T(test_coalesce_many_keys),
		T(test_watermarks),
		T(test_watermark_hysteresis),
		T(test_high_water_exact),
		T(test_config_errors),
		T(test_mt_block),
		T(test_mt_reject),
		T(test_mt_drop),
		T(test_mt_coalesce),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
