// Pull subscriptions: weir_subscr_next() takes events on the caller's
// own thread. Policies and counters at the bound, timeouts, several
// consumers, and closing while callers wait.
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "fault_alloc.h"
#include "weir_test.h"

#include "core/pull.h"
#include "core/subscr.h"

typedef struct pull_fx {
	weir_bus    *bus;
	weir_subscr *sub;
	atomic_int   freed;   // arg_free calls
	atomic_int   drained; // drain callbacks
	pthread_t    drain_thread;
	atomic_int   pressured;
} pull_fx;

static pull_fx fx;

static int
setup(void **state)
{
	(void) state;
	memset(&fx, 0, sizeof(fx));
	return weir_bus_create(&fx.bus, NULL) == WEIR_OK ? 0 : -1;
}

static int
teardown(void **state)
{
	(void) state;
	weir_bus_destroy(fx.bus); // frees fx.sub if still subscribed
	return 0;
}

static void
count_free(void *arg)
{
	atomic_fetch_add(&((pull_fx *) arg)->freed, 1);
}

static void
subscribe(size_t cap, weir_policy pol, int64_t timeout_ms)
{
	weir_subscr_config *sc = wt_subscr_config(cap, pol, timeout_ms);
	assert_weir_ok(
	    weir_subscribe(&fx.sub, fx.bus, "p.>", NULL, &fx, count_free, sc));
	weir_subscr_config_destroy(sc);
}

static weir_err
pub(uint64_t v)
{
	return weir_publish(fx.bus, "p.t", &v, sizeof(v), 0, NULL);
}

static weir_err
pub_key(const char *key, uint64_t v)
{
	weir_event_init init = { .size = sizeof(weir_event_init),
		.topic                 = "p.k",
		.key                   = key,
		.key_len               = strlen(key),
		.payload               = &v,
		.payload_len           = sizeof(v) };
	weir_event     *ev;
	assert_weir_ok(weir_event_new(&ev, &init));
	weir_err rv = weir_publish_event(fx.bus, ev);
	weir_event_release(ev);
	return rv;
}

static uint64_t
value_of(const weir_event *ev)
{
	size_t      len;
	const void *p = weir_event_payload(ev, &len);
	uint64_t    v = UINT64_MAX;
	if (len == sizeof(v)) {
		memcpy(&v, p, sizeof(v));
	}
	return v;
}

// Takes the next event at once and checks its value.
static void
take(uint64_t want)
{
	const weir_event *ev = NULL;
	assert_weir_ok(weir_subscr_next(fx.sub, &ev, 0));
	assert_non_null(ev);
	assert_int_equal(value_of(ev), want);
	weir_event_release(ev);
}

static void
assert_empty(void)
{
	const weir_event *ev = (const weir_event *) &fx; // must be cleared
	assert_weir_err(weir_subscr_next(fx.sub, &ev, 0), WEIR_ETIMEDOUT);
	assert_null(ev);
}

// Waits (bounded) until @p n callers wait in weir_subscr_next().
static void
wait_for_waiters(weir_subscr *sub, int n)
{
	wt_wait_until(weir__pull_waiters(sub) >= n);
	assert_int_equal(weir__pull_waiters(sub), n);
}

/* ---- arguments and settings ------------------------------------- */

static void
test_einval(void **state)
{
	(void) state;
	const weir_event *ev = (const weir_event *) &fx;
	assert_weir_err(weir_subscr_next(NULL, &ev, 0), WEIR_EINVAL);
	assert_null(ev);
	weir_subscr *cb;
	assert_weir_ok(weir_subscribe(
	    &cb, fx.bus, "c.>", wt_nop_handler, NULL, NULL, NULL));
	ev = (const weir_event *) &fx;
	assert_weir_err(weir_subscr_next(cb, &ev, 0), WEIR_EINVAL);
	assert_null(ev);
	subscribe(4, WEIR_POLICY_BLOCK, -1);
	assert_weir_err(weir_subscr_next(fx.sub, NULL, 0), WEIR_EINVAL);
	assert_weir_err(weir_subscr_next(fx.sub, &ev, -2), WEIR_EINVAL);
	assert_int_equal(wt_subscr_stats(fx.sub).delivered, 0);
}

typedef weir_err (*sc_setter)(weir_subscr_config *sc, weir_bus *bus);

static weir_err
set_loop(weir_subscr_config *sc, weir_bus *bus)
{
	return weir_subscr_config_set_loop(sc, weir_bus_loop(bus));
}
static weir_err
set_loop_index(weir_subscr_config *sc, weir_bus *bus)
{
	(void) bus;
	return weir_subscr_config_set_loop_index(sc, 0);
}
static weir_err
set_in_flight(weir_subscr_config *sc, weir_bus *bus)
{
	(void) bus;
	return weir_subscr_config_set_max_in_flight(sc, 2);
}
static weir_err
set_rate(weir_subscr_config *sc, weir_bus *bus)
{
	(void) bus;
	return weir_subscr_config_set_rate(sc, 10, 1);
}
static weir_err
set_debounce(weir_subscr_config *sc, weir_bus *bus)
{
	(void) bus;
	return weir_subscr_config_set_debounce(sc, 5);
}
static weir_err
set_retry(weir_subscr_config *sc, weir_bus *bus)
{
	(void) bus;
	return weir_subscr_config_set_retry(sc, 3, 1, 10);
}

// Settings that pace, place or re-run handler calls are refused for
// a subscription without a handler; nothing is registered.
static void
test_refused_settings(void **state)
{
	(void) state;
	weir_bus_config *bc;
	assert_weir_ok(weir_bus_config_create(&bc));
	assert_weir_ok(weir_bus_config_set_loops(bc, 1));
	weir_bus *bus;
	assert_weir_ok(weir_bus_create(&bus, bc));
	weir_bus_config_destroy(bc);
	const sc_setter setters[] = { set_loop, set_loop_index, set_in_flight,
		set_rate, set_debounce, set_retry };
	for (size_t i = 0; i < sizeof(setters) / sizeof(setters[0]); i++) {
		weir_subscr_config *sc;
		assert_weir_ok(weir_subscr_config_create(&sc));
		assert_weir_ok(setters[i](sc, bus));
		weir_subscr *sub = NULL;
		assert_weir_err(
		    weir_subscribe(&sub, bus, "x", NULL, &fx, count_free, sc),
		    WEIR_EINVAL);
		assert_null(sub);
		// The same config is fine with a handler.
		assert_weir_ok(weir_subscribe(
		    &sub, bus, "x", wt_nop_handler, NULL, NULL, sc));
		weir_unsubscribe(sub);
		weir_subscr_config_destroy(sc);
	}
	assert_int_equal(atomic_load(&fx.freed), 0); // caller kept arg
	weir_bus_destroy(bus);
}

// A pull subscription fails cleanly at every allocation (the caller
// keeps its arg), then works.
static void
test_subscribe_enomem(void **state)
{
	(void) state;
	weir_bus_destroy(fx.bus);
	fx.bus = NULL;
	weir_set_allocator(&fi_alloc);
	int failures = 0;
	for (long n = 1;; n++) {
		assert_weir_ok(weir_bus_create(&fx.bus, NULL));
		fi_arm(n);
		weir_err rv = weir_subscribe(
		    &fx.sub, fx.bus, "p.>", NULL, &fx, count_free, NULL);
		fail_at = 0;
		if (rv == WEIR_OK) {
			break;
		}
		failures++;
		assert_weir_err(rv, WEIR_ENOMEM);
		assert_int_equal(atomic_load(&fx.freed), 0);
		weir_bus_destroy(fx.bus);
	}
	assert_true(failures >= 1);
	assert_weir_ok(pub(1));
	take(1);
	weir_bus_destroy(fx.bus);
	fx.bus = NULL;
	assert_int_equal(atomic_load(&fx.freed), 1);
	weir_set_allocator(NULL);
}

/* ---- one thread ---------------------------------------------------- */

// Timeouts end with WEIR_ETIMEDOUT; events come oldest first; no loop
// ever dispatches a pull subscription.
static void
test_poll_and_timeout(void **state)
{
	(void) state;
	subscribe(8, WEIR_POLICY_BLOCK, -1);
	assert_empty();
	const weir_event *ev = (const weir_event *) &fx;
	assert_weir_err(weir_subscr_next(fx.sub, &ev, 20), WEIR_ETIMEDOUT);
	assert_null(ev);
	for (uint64_t i = 0; i < 3; i++) {
		assert_weir_ok(pub(i));
	}
	// Running the loop takes nothing: no loop serves the subscription.
	assert_weir_ok(weir_bus_run(fx.bus, WEIR_RUN_NOWAIT));
	weir_loop_stats ls = WEIR_STRUCT_INIT(weir_loop_stats);
	assert_weir_ok(weir_loop_stats_get(weir_bus_loop(fx.bus), &ls));
	assert_int_equal(ls.subscriptions, 0);
	assert_int_equal(ls.dispatched, 0);
	assert_int_equal(wt_subscr_stats(fx.sub).queued, 3);
	take(0);
	assert_weir_ok(weir_subscr_next(fx.sub, &ev, 20)); // one is there
	assert_int_equal(value_of(ev), 1);
	weir_event_release(ev);
	assert_weir_ok(weir_subscr_next(fx.sub, &ev, -1));
	assert_int_equal(value_of(ev), 2);
	assert_string_equal(weir_event_topic(ev), "p.t");
	weir_event_release(ev);
	assert_empty();
	weir_subscr_stats st = wt_subscr_stats(fx.sub);
	assert_int_equal(st.published, 3);
	assert_int_equal(st.delivered, 3);
	assert_int_equal(st.queued, 0);
	assert_int_equal(st.high_water, 3);
	wt_assert_adds_up(&st);
	assert_int_equal(st.latency.count, 3);
}

// An event the caller keeps outlives the subscription and the bus.
static void
test_event_outlives_bus(void **state)
{
	(void) state;
	subscribe(8, WEIR_POLICY_BLOCK, -1);
	assert_weir_ok(pub(7));
	assert_weir_ok(pub(8)); // still queued at destroy: released
	const weir_event *ev;
	assert_weir_ok(weir_subscr_next(fx.sub, &ev, 0));
	weir_bus_destroy(fx.bus);
	fx.bus = NULL;
	assert_int_equal(atomic_load(&fx.freed), 1);
	assert_int_equal(value_of(ev), 7);
	weir_event_release(ev);
}

static void
test_reject(void **state)
{
	(void) state;
	subscribe(4, WEIR_POLICY_REJECT, 0);
	for (uint64_t i = 0; i < 4; i++) {
		assert_weir_ok(pub(i));
	}
	assert_weir_err(pub(4), WEIR_EFULL);
	assert_weir_err(pub(5), WEIR_EFULL);
	weir_subscr_stats st = wt_subscr_stats(fx.sub);
	assert_int_equal(st.published, 6);
	assert_int_equal(st.rejected, 2);
	assert_int_equal(st.queued, 4);
	wt_assert_adds_up(&st);
	for (uint64_t i = 0; i < 4; i++) {
		take(i);
	}
	assert_empty();
	st = wt_subscr_stats(fx.sub);
	assert_int_equal(st.delivered, 4);
	wt_assert_adds_up(&st);
}

static void
test_drop_newest(void **state)
{
	(void) state;
	subscribe(4, WEIR_POLICY_DROP_NEWEST, 0);
	for (uint64_t i = 0; i < 6; i++) {
		assert_weir_ok(pub(i));
	}
	for (uint64_t i = 0; i < 4; i++) {
		take(i);
	}
	assert_empty();
	weir_subscr_stats st = wt_subscr_stats(fx.sub);
	assert_int_equal(st.published, 6);
	assert_int_equal(st.dropped, 2);
	assert_int_equal(st.delivered, 4);
	wt_assert_adds_up(&st);
}

static void
test_drop_oldest(void **state)
{
	(void) state;
	subscribe(4, WEIR_POLICY_DROP_OLDEST, 0);
	for (uint64_t i = 0; i < 6; i++) {
		assert_weir_ok(pub(i));
	}
	for (uint64_t i = 2; i < 6; i++) {
		take(i);
	}
	assert_empty();
	weir_subscr_stats st = wt_subscr_stats(fx.sub);
	assert_int_equal(st.published, 6);
	assert_int_equal(st.dropped, 2);
	assert_int_equal(st.delivered, 4);
	wt_assert_adds_up(&st);
}

static void
test_coalesce(void **state)
{
	(void) state;
	subscribe(4, WEIR_POLICY_COALESCE, 0);
	assert_weir_ok(pub_key("a", 0));
	assert_weir_ok(pub_key("b", 1));
	assert_weir_ok(pub_key("a", 2)); // replaces 0 in place
	assert_weir_ok(pub_key("c", 3));
	assert_weir_ok(pub_key("d", 4));
	assert_weir_ok(pub_key("e", 5)); // full of distinct keys: drops a
	take(1);
	take(3);
	take(4);
	take(5);
	assert_empty();
	weir_subscr_stats st = wt_subscr_stats(fx.sub);
	assert_int_equal(st.published, 6);
	assert_int_equal(st.coalesced, 1);
	assert_int_equal(st.dropped, 1);
	assert_int_equal(st.delivered, 4);
	wt_assert_adds_up(&st);
}

static void
test_block_zero_and_timeout(void **state)
{
	(void) state;
	subscribe(2, WEIR_POLICY_BLOCK, 0);
	assert_weir_ok(pub(0));
	assert_weir_ok(pub(1));
	assert_weir_err(pub(2), WEIR_EFULL);
	weir_subscr_stats st = wt_subscr_stats(fx.sub);
	assert_int_equal(st.rejected, 1);
	wt_assert_adds_up(&st);
	weir_unsubscribe(fx.sub);
	assert_int_equal(atomic_load(&fx.freed), 1);
	subscribe(2, WEIR_POLICY_BLOCK, 20);
	assert_weir_ok(pub(0));
	assert_weir_ok(pub(1));
	assert_weir_err(pub(2), WEIR_ETIMEDOUT); // nobody takes
	take(0);
	assert_weir_ok(pub(3)); // room again
	take(1);
	take(3);
	st = wt_subscr_stats(fx.sub);
	assert_int_equal(st.published, 4);
	assert_int_equal(st.timed_out, 1);
	assert_int_equal(st.delivered, 3);
	wt_assert_adds_up(&st);
}

static void
on_pressure(weir_subscr *sub, void *arg)
{
	assert_ptr_equal(sub, fx.sub);
	atomic_fetch_add(&((pull_fx *) arg)->pressured, 1);
}

static void
on_drain(weir_subscr *sub, void *arg)
{
	assert_ptr_equal(sub, fx.sub);
	((pull_fx *) arg)->drain_thread = pthread_self();
	atomic_fetch_add(&((pull_fx *) arg)->drained, 1);
}

// The drain callback runs on the caller whose take brings the depth
// down to the low mark.
static void
test_watermarks(void **state)
{
	(void) state;
	weir_subscr_config *sc = wt_subscr_config(8, WEIR_POLICY_BLOCK, -1);
	assert_weir_ok(weir_subscr_config_set_watermarks(
	    sc, 6, 2, on_pressure, on_drain, &fx));
	assert_weir_ok(
	    weir_subscribe(&fx.sub, fx.bus, "p.>", NULL, NULL, NULL, sc));
	weir_subscr_config_destroy(sc);
	for (uint64_t i = 0; i < 6; i++) {
		assert_weir_ok(pub(i));
	}
	assert_int_equal(atomic_load(&fx.pressured), 1);
	for (uint64_t i = 0; i < 3; i++) {
		take(i); // depth 5, 4, 3
	}
	assert_int_equal(atomic_load(&fx.drained), 0);
	take(3); // depth 2
	assert_int_equal(atomic_load(&fx.drained), 1);
	assert_true(pthread_equal(fx.drain_thread, pthread_self()));
	take(4);
	take(5);
	weir_subscr_stats st = wt_subscr_stats(fx.sub);
	assert_int_equal(st.pressure, 1);
	assert_int_equal(st.drain, 1);
	wt_assert_adds_up(&st);
}

static void
test_stats_json(void **state)
{
	(void) state;
	subscribe(4, WEIR_POLICY_BLOCK, -1);
	char *js = weir_bus_stats_json(fx.bus);
	assert_non_null(js);
	assert_non_null(strstr(js, "\"pattern\":\"p.>\",\"loop\":null,"));
	weir_free(js);
}

/* ---- threads ------------------------------------------------------- */

#define SPSC_EVENTS 100000

typedef struct producer {
	weir_bus  *bus;
	uint64_t   id; // in the top bits of each value
	uint64_t   n;
	atomic_int failed;
} producer;

static void *
producer_main(void *arg)
{
	producer *p = arg;
	for (uint64_t i = 0; i < p->n; i++) {
		uint64_t v = p->id << 32 | i;
		if (weir_publish(p->bus, "p.t", &v, sizeof(v), 0, NULL) !=
		    WEIR_OK) {
			atomic_fetch_add(&p->failed, 1);
		}
	}
	return NULL;
}

typedef struct consumer {
	weir_subscr   *sub;
	uint64_t       want; // SPSC: stop after this many
	atomic_size_t *taken;
	size_t         total; // MPMC: stop when all are taken
	uint64_t      *next;  // per producer: the next value expected
	size_t         nprod;
	uint8_t       *seen; // MPMC: one byte per event
	size_t         got;
	int            disorder; // values out of publish order
	int            dup;      // an event taken twice
	weir_err       err;      // a call that failed
} consumer;

// Checks @p v against the last value taken from its producer.
static void
consumer_note(consumer *c, uint64_t v)
{
	uint64_t pid = v >> 32, i = v & 0xffffffffu;
	if (pid >= c->nprod || i < c->next[pid]) {
		c->disorder++;
		return;
	}
	c->next[pid] = i + 1;
	if (c->seen != NULL) {
		uint8_t *s = &c->seen[pid * (c->total / c->nprod) + i];
		c->dup += __atomic_exchange_n(s, 1, __ATOMIC_RELAXED);
	}
	c->got++;
}

static void *
spsc_consumer_main(void *arg)
{
	consumer *c = arg;
	while (c->got < c->want) {
		const weir_event *ev;
		weir_err rv = weir_subscr_next(c->sub, &ev, WT_WAIT_MS);
		if (rv != WEIR_OK) {
			c->err = rv;
			return NULL;
		}
		consumer_note(c, value_of(ev));
		weir_event_release(ev);
	}
	return NULL;
}

// One producer thread, one consumer thread, 100,000 events through a
// queue of 64: exactly once, in order; BLOCK neither drops nor refuses.
static void
test_producer_consumer(void **state)
{
	(void) state;
	subscribe(64, WEIR_POLICY_BLOCK, -1);
	uint64_t next = 0;
	producer p    = { .bus = fx.bus, .id = 0, .n = SPSC_EVENTS };
	consumer c    = {
		   .sub = fx.sub, .want = SPSC_EVENTS, .next = &next, .nprod = 1
	};
	pthread_t pt, ct;
	assert_int_equal(pthread_create(&ct, NULL, spsc_consumer_main, &c), 0);
	assert_int_equal(pthread_create(&pt, NULL, producer_main, &p), 0);
	pthread_join(pt, NULL);
	pthread_join(ct, NULL);
	assert_weir_ok(c.err);
	assert_int_equal(atomic_load(&p.failed), 0);
	assert_int_equal(c.got, SPSC_EVENTS);
	assert_int_equal(c.disorder, 0);
	assert_int_equal(next, SPSC_EVENTS);
	assert_empty();
	weir_subscr_stats st = wt_subscr_stats(fx.sub);
	assert_int_equal(st.published, SPSC_EVENTS);
	assert_int_equal(st.delivered, SPSC_EVENTS);
	assert_int_equal(st.dropped + st.rejected + st.timed_out, 0);
	assert_true(st.high_water <= 64);
	wt_assert_adds_up(&st);
}

#define MPMC_PRODUCERS 2
#define MPMC_CONSUMERS 3
#define MPMC_EACH 20000

static void *
mpmc_consumer_main(void *arg)
{
	consumer *c        = arg;
	int64_t   deadline = wt_now_ms() + WT_WAIT_MS;
	while (atomic_load(c->taken) < c->total) {
		const weir_event *ev;
		weir_err          rv = weir_subscr_next(c->sub, &ev, 20);
		if (rv == WEIR_ETIMEDOUT && wt_now_ms() < deadline) {
			continue; // the others may have taken the rest
		}
		if (rv != WEIR_OK) {
			c->err = rv;
			return NULL;
		}
		consumer_note(c, value_of(ev));
		weir_event_release(ev);
		atomic_fetch_add(c->taken, 1);
	}
	return NULL;
}

// Several producers and several consumers on one subscription: every
// event is taken exactly once, and each consumer sees the events of a
// producer in publish order.
static void
test_several_consumers(void **state)
{
	(void) state;
	subscribe(16, WEIR_POLICY_BLOCK, -1);
	size_t        total = (size_t) MPMC_PRODUCERS * MPMC_EACH;
	uint8_t      *seen  = calloc(total, 1);
	atomic_size_t taken = 0;
	producer      p[MPMC_PRODUCERS];
	consumer      c[MPMC_CONSUMERS];
	uint64_t      next[MPMC_CONSUMERS][MPMC_PRODUCERS] = { { 0 } };
	pthread_t     pt[MPMC_PRODUCERS], ct[MPMC_CONSUMERS];
	assert_non_null(seen);
	for (size_t i = 0; i < MPMC_CONSUMERS; i++) {
		c[i] = (consumer) { .sub = fx.sub,
			.taken           = &taken,
			.total           = total,
			.next            = next[i],
			.nprod           = MPMC_PRODUCERS,
			.seen            = seen };
		assert_int_equal(
		    pthread_create(&ct[i], NULL, mpmc_consumer_main, &c[i]),
		    0);
	}
	for (size_t i = 0; i < MPMC_PRODUCERS; i++) {
		p[i] = (producer) { .bus = fx.bus, .id = i, .n = MPMC_EACH };
		assert_int_equal(
		    pthread_create(&pt[i], NULL, producer_main, &p[i]), 0);
	}
	size_t got = 0;
	for (size_t i = 0; i < MPMC_PRODUCERS; i++) {
		pthread_join(pt[i], NULL);
		assert_int_equal(atomic_load(&p[i].failed), 0);
	}
	for (size_t i = 0; i < MPMC_CONSUMERS; i++) {
		pthread_join(ct[i], NULL);
		assert_weir_ok(c[i].err);
		assert_int_equal(c[i].disorder, 0);
		assert_int_equal(c[i].dup, 0);
		got += c[i].got;
	}
	assert_int_equal(got, total);
	for (size_t i = 0; i < total; i++) {
		assert_int_equal(seen[i], 1);
	}
	free(seen);
	weir_subscr_stats st = wt_subscr_stats(fx.sub);
	assert_int_equal(st.published, total);
	assert_int_equal(st.delivered, total);
	// The histogram is made by the first taker; racing first takers
	// lose no sample.
	assert_int_equal(st.latency.count, total);
	wt_assert_adds_up(&st);
}

typedef struct waiter {
	weir_subscr      *sub;
	weir_err          rv;
	const weir_event *ev;
} waiter;

static void *
waiter_main(void *arg)
{
	waiter *w = arg;
	w->rv     = weir_subscr_next(w->sub, &w->ev, -1);
	return NULL;
}

// A publish wakes a caller blocked without a deadline.
static void
test_publish_wakes_waiter(void **state)
{
	(void) state;
	subscribe(4, WEIR_POLICY_BLOCK, -1);
	waiter    w = { .sub = fx.sub };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, waiter_main, &w), 0);
	wait_for_waiters(fx.sub, 1);
	assert_weir_ok(pub(42));
	pthread_join(t, NULL);
	assert_weir_ok(w.rv);
	assert_int_equal(value_of(w.ev), 42);
	weir_event_release(w.ev);
	assert_int_equal(weir__pull_waiters(fx.sub), 0);
}

#define WAITERS 3

// weir_unsubscribe() on another thread wakes every blocked caller with
// WEIR_ECLOSED; the last of them to leave frees the subscription.
static void
test_unsubscribe_wakes_waiters(void **state)
{
	(void) state;
	subscribe(4, WEIR_POLICY_BLOCK, -1);
	waiter    w[WAITERS];
	pthread_t t[WAITERS];
	for (int i = 0; i < WAITERS; i++) {
		w[i] = (waiter) { .sub = fx.sub, .rv = WEIR_OK };
		assert_int_equal(
		    pthread_create(&t[i], NULL, waiter_main, &w[i]), 0);
	}
	wait_for_waiters(fx.sub, WAITERS);
	weir_unsubscribe(fx.sub);
	fx.sub = NULL;
	for (int i = 0; i < WAITERS; i++) {
		pthread_join(t[i], NULL);
		assert_weir_err(w[i].rv, WEIR_ECLOSED);
		assert_null(w[i].ev);
	}
	assert_int_equal(atomic_load(&fx.freed), 1);
}

// Destroying the bus closes the subscription: a blocked caller returns
// WEIR_ECLOSED and frees it.
static void
test_bus_destroy_wakes_waiter(void **state)
{
	(void) state;
	subscribe(4, WEIR_POLICY_BLOCK, -1);
	waiter    w = { .sub = fx.sub };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, waiter_main, &w), 0);
	wait_for_waiters(fx.sub, 1);
	weir_bus_destroy(fx.bus);
	fx.bus = NULL;
	pthread_join(t, NULL);
	assert_weir_err(w.rv, WEIR_ECLOSED);
	assert_int_equal(atomic_load(&fx.freed), 1);
}

// A publisher blocked on a full BLOCK pull subscription is released by
// the takes.
static void
test_block_publisher_released(void **state)
{
	(void) state;
	subscribe(2, WEIR_POLICY_BLOCK, -1);
	assert_weir_ok(pub(0));
	assert_weir_ok(pub(1));
	producer  p = { .bus = fx.bus, .id = 0, .n = 3 }; // 0, 1, 2 again
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, producer_main, &p), 0);
	wt_wait_until(atomic_load(&fx.sub->q.napping) != 0);
	for (uint64_t want = 0; want < 2; want++) {
		take(want);
	}
	const weir_event *ev;
	for (uint64_t want = 0; want < 3; want++) {
		assert_weir_ok(weir_subscr_next(fx.sub, &ev, WT_WAIT_MS));
		assert_int_equal(value_of(ev), want);
		weir_event_release(ev);
	}
	pthread_join(t, NULL);
	assert_int_equal(atomic_load(&p.failed), 0);
	weir_subscr_stats st = wt_subscr_stats(fx.sub);
	assert_int_equal(st.published, 5);
	assert_int_equal(st.delivered, 5);
	wt_assert_adds_up(&st);
}

// A timeout with a fraction of a second (999 ms: its nanoseconds carry
// into the seconds) and an event ready: taken at once.
static void
test_fraction_timeout(void **state)
{
	(void) state;
	weir_bus         *bus;
	weir_subscr      *sub;
	const weir_event *ev;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_subscribe(&sub, bus, "p", NULL, NULL, NULL, NULL));
	for (int i = 0; i < 3; i++) {
		assert_weir_ok(weir_publish(bus, "p", "x", 1, 0, NULL));
		assert_weir_ok(weir_subscr_next(sub, &ev, 999));
		assert_string_equal(weir_event_topic(ev), "p");
		weir_event_release(ev);
	}
	assert_weir_err(weir_subscr_next(sub, &ev, 1), WEIR_ETIMEDOUT);
	weir_unsubscribe(sub);
	weir_bus_destroy(bus);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_einval, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_refused_settings, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_subscribe_enomem, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_poll_and_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_event_outlives_bus, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_drop_newest, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_drop_oldest, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_coalesce, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_block_zero_and_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_watermarks, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_stats_json, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_producer_consumer, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_several_consumers, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_publish_wakes_waiter, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_unsubscribe_wakes_waiters, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_bus_destroy_wakes_waiter, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_block_publisher_released, setup, teardown),
		cmocka_unit_test(test_fraction_timeout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
