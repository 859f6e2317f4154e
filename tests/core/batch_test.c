// Batch publish: weir_publish_batch() at the bound of every policy,
// ordering and ids, counters, bad input, closes, concurrent producers,
// payload sizes across the pool's classes and refills, held events.
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "weir_test.h"

#include "core/subscr.h" // q.napping: a BLOCKed publisher is observable

#define MAXREC 8192
#define TOPIC "batch.t"

typedef struct rec {
	int     v[MAXREC];
	uint8_t id[MAXREC][16];
	int64_t ts[MAXREC];
	int     n;
} rec;

typedef struct batch_fx {
	weir_bus   *bus;
	weir_topic *t;
	rec         a, b;
} batch_fx;

static batch_fx fx;

static int
setup(void **state)
{
	(void) state;
	memset(&fx, 0, sizeof(fx));
	if (weir_bus_create(&fx.bus, NULL) != WEIR_OK) {
		return -1;
	}
	return weir_topic_create(&fx.t, fx.bus, TOPIC) == WEIR_OK ? 0 : -1;
}

static int
teardown(void **state)
{
	(void) state;
	weir_topic_destroy(fx.t);
	weir_bus_destroy(fx.bus);
	return 0;
}

// Records each event's int payload, id and ts into the rec at arg.
static weir_err
record_fn(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	rec        *r = arg;
	size_t      len;
	const void *p = weir_event_payload(ev, &len);
	if (len != sizeof(int) || r->n >= MAXREC) {
		return WEIR_EINVAL;
	}
	memcpy(&r->v[r->n], p, sizeof(int));
	memcpy(r->id[r->n], weir_event_id(ev), 16);
	r->ts[r->n] = weir_event_ts(ev);
	r->n++;
	return WEIR_OK;
}

static weir_subscr *
sub_on(rec *r, size_t cap, weir_policy pol, int64_t timeout_ms)
{
	weir_subscr_config *sc = wt_subscr_config(cap, pol, timeout_ms);
	weir_subscr        *sub;
	assert_weir_ok(
	    weir_subscribe(&sub, fx.bus, TOPIC, record_fn, r, NULL, sc));
	weir_subscr_config_destroy(sc);
	return sub;
}

// Payloads from..from+n-1, one int each.
typedef struct payloads {
	int      v[MAXREC];
	weir_buf b[MAXREC];
} payloads;

static payloads pl;

static const weir_buf *
bufs_from(int from, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		pl.v[i]      = from + (int) i;
		pl.b[i].data = &pl.v[i];
		pl.b[i].len  = sizeof(int);
	}
	return pl.b;
}

// Runs the default loop on this thread until nothing is left to do.
static void
drain(void)
{
	assert_weir_ok(weir_bus_run(fx.bus, WEIR_RUN_NOWAIT));
	assert_weir_ok(weir_bus_run(fx.bus, WEIR_RUN_NOWAIT));
}

static void
assert_got(const rec *r, int from, int n)
{
	assert_int_equal(r->n, n);
	for (int i = 0; i < n; i++) {
		assert_int_equal(r->v[i], from + i);
	}
}

// Publishes events 0..n-1 as one batch, checks what weir_publish_batch
// returned and how many it accepted, and gives sub's stats after it.
static weir_subscr_stats
batch_from_zero(weir_subscr *sub, size_t n, weir_err want, size_t n_accepted)
{
	size_t accepted = 0;
	assert_int_equal(
	    weir_publish_batch(fx.t, bufs_from(0, n), n, &accepted), want);
	assert_int_equal(accepted, n_accepted);
	return wt_subscr_stats(sub);
}

// Checks that st adds up, drains, checks fx.a got from..from+n-1 and
// unsubscribes sub.
static void
drain_expect(weir_subscr *sub, const weir_subscr_stats *st, int from, int n)
{
	wt_assert_adds_up(st);
	drain();
	assert_got(&fx.a, from, n);
	weir_unsubscribe(sub);
}

static void
test_empty_and_bad_input(void **state)
{
	(void) state;
	weir_subscr *sub      = sub_on(&fx.a, 16, WEIR_POLICY_REJECT, 0);
	size_t       accepted = 99;
	assert_weir_ok(weir_publish_batch(fx.t, NULL, 0, &accepted));
	assert_int_equal(accepted, 0);
	assert_int_equal(
	    weir_publish_batch(NULL, bufs_from(0, 2), 2, &accepted),
	    WEIR_EINVAL);
	assert_int_equal(accepted, 0);
	assert_int_equal(
	    weir_publish_batch(fx.t, NULL, 2, &accepted), WEIR_EINVAL);
	// A bad payload anywhere in the batch: nothing is queued.
	weir_buf bad[3] = { { &pl.v[0], sizeof(int) }, { NULL, 4 },
		{ &pl.v[0], sizeof(int) } };
	assert_int_equal(
	    weir_publish_batch(fx.t, bad, 3, &accepted), WEIR_EINVAL);
	assert_int_equal(accepted, 0);
	static char big[2 * 1024 * 1024];
	weir_buf huge[2] = { { &pl.v[0], sizeof(int) }, { big, sizeof(big) } };
	assert_int_equal(
	    weir_publish_batch(fx.t, huge, 2, &accepted), WEIR_ETOOBIG);
	assert_int_equal(accepted, 0);
	// An empty payload is fine; accepted may be NULL.
	weir_buf none = { NULL, 0 };
	assert_weir_ok(weir_publish_batch(fx.t, &none, 1, NULL));
	weir_subscr_stats st = wt_subscr_stats(sub);
	assert_int_equal(st.published, 1);
	weir_unsubscribe(sub);
}

static void
test_nothing_matches(void **state)
{
	(void) state;
	size_t accepted = 0;
	assert_weir_ok(
	    weir_publish_batch(fx.t, bufs_from(0, 5), 5, &accepted));
	assert_int_equal(accepted, 5);
}

// Three batches across the internal chunk size, in order; ids unique
// and rising, one timestamp per batch.
static void
test_order_and_ids(void **state)
{
	(void) state;
	weir_subscr *sub = sub_on(&fx.a, 1024, WEIR_POLICY_REJECT, 0);
	size_t       accepted;
	for (int b = 0; b < 3; b++) {
		assert_weir_ok(weir_publish_batch(
		    fx.t, bufs_from(b * 150, 150), 150, &accepted));
		assert_int_equal(accepted, 150);
	}
	drain();
	assert_got(&fx.a, 0, 450);
	for (int i = 1; i < 450; i++) {
		assert_true(memcmp(fx.a.id[i - 1], fx.a.id[i], 16) < 0);
		if (i % 150 != 0) {
			assert_true(fx.a.ts[i] == fx.a.ts[i - 1]);
		}
	}
	weir_subscr_stats st = wt_subscr_stats(sub);
	assert_int_equal(st.published, 450);
	assert_int_equal(st.delivered, 450);
	wt_assert_adds_up(&st);
	weir_unsubscribe(sub);
}

// REJECT fills mid-batch: the queue keeps a prefix, the first refusal
// is counted once, the rest is not offered; resending the rest after
// room is made neither reorders nor duplicates.
static void
test_reject_mid_batch(void **state)
{
	(void) state;
	weir_subscr      *sub = sub_on(&fx.a, 4, WEIR_POLICY_REJECT, 0);
	weir_subscr_stats st  = batch_from_zero(sub, 10, WEIR_EFULL, 4);
	assert_int_equal(st.published, 5);
	assert_int_equal(st.rejected, 1);
	assert_int_equal(st.queued, 4);
	wt_assert_adds_up(&st);
	drain();
	size_t accepted;
	assert_weir_ok(
	    weir_publish_batch(fx.t, bufs_from(4, 4), 4, &accepted));
	drain();
	assert_weir_ok(
	    weir_publish_batch(fx.t, bufs_from(8, 2), 2, &accepted));
	drain();
	assert_got(&fx.a, 0, 10);
	st = wt_subscr_stats(sub);
	assert_int_equal(st.published, st.delivered + st.rejected);
	wt_assert_adds_up(&st);
	weir_unsubscribe(sub);
}

// BLOCK with a 0 timeout refuses as REJECT does.
static void
test_block_nowait_mid_batch(void **state)
{
	(void) state;
	weir_subscr      *sub = sub_on(&fx.a, 3, WEIR_POLICY_BLOCK, 0);
	weir_subscr_stats st  = batch_from_zero(sub, 8, WEIR_EFULL, 3);
	assert_int_equal(st.rejected, 1);
	drain_expect(sub, &st, 0, 3);
}

// BLOCK with a timeout and nobody draining: the wait expires once.
static void
test_block_timeout_mid_batch(void **state)
{
	(void) state;
	weir_subscr      *sub = sub_on(&fx.a, 2, WEIR_POLICY_BLOCK, 20);
	weir_subscr_stats st  = batch_from_zero(sub, 6, WEIR_ETIMEDOUT, 2);
	assert_int_equal(st.timed_out, 1);
	assert_int_equal(st.published, 3);
	drain_expect(sub, &st, 0, 2);
}

static void
test_drop_newest_mid_batch(void **state)
{
	(void) state;
	weir_subscr      *sub = sub_on(&fx.a, 4, WEIR_POLICY_DROP_NEWEST, 0);
	weir_subscr_stats st  = batch_from_zero(sub, 10, WEIR_OK, 10);
	assert_int_equal(st.dropped, 6);
	assert_int_equal(st.published, 10);
	drain_expect(sub, &st, 0, 4);
}

// A batch larger than the capacity under DROP_OLDEST leaves its newest
// events queued.
static void
test_drop_oldest_larger_than_capacity(void **state)
{
	(void) state;
	weir_subscr      *sub = sub_on(&fx.a, 4, WEIR_POLICY_DROP_OLDEST, 0);
	weir_subscr_stats st  = batch_from_zero(sub, 200, WEIR_OK, 200);
	assert_int_equal(st.dropped, 196);
	assert_int_equal(st.published, 200);
	drain_expect(sub, &st, 196, 4);
}

// COALESCE: batch events have no key, so none is replaced; a full queue
// of distinct events drops at the oldest position.
static void
test_coalesce_mid_batch(void **state)
{
	(void) state;
	weir_subscr      *sub = sub_on(&fx.a, 4, WEIR_POLICY_COALESCE, 0);
	weir_subscr_stats st  = batch_from_zero(sub, 10, WEIR_OK, 10);
	assert_int_equal(st.published, 10);
	assert_int_equal(st.coalesced, 0);
	assert_int_equal(st.dropped, 6);
	drain_expect(sub, &st, 6, 4);
}

// Fan-out: a full REJECT subscription takes a prefix, the other takes
// everything; accepted is the prefix every subscription took.
static void
test_fanout_prefix(void **state)
{
	(void) state;
	weir_subscr *a        = sub_on(&fx.a, 4, WEIR_POLICY_REJECT, 0);
	weir_subscr *b        = sub_on(&fx.b, 512, WEIR_POLICY_REJECT, 0);
	size_t       accepted = 0;
	assert_int_equal(
	    weir_publish_batch(fx.t, bufs_from(0, 100), 100, &accepted),
	    WEIR_EFULL);
	assert_int_equal(accepted, 4);
	drain();
	assert_got(&fx.a, 0, 4);
	assert_got(&fx.b, 0, 100);
	weir_subscr_stats st = wt_subscr_stats(a);
	assert_int_equal(st.published, 5);
	wt_assert_adds_up(&st);
	st = wt_subscr_stats(b);
	assert_int_equal(st.published, 100);
	wt_assert_adds_up(&st);
	weir_unsubscribe(a);
	weir_unsubscribe(b);
}

// After weir_unsubscribe() the handle matches nothing.
static void
test_unsubscribed(void **state)
{
	(void) state;
	weir_subscr *sub      = sub_on(&fx.a, 4, WEIR_POLICY_REJECT, 0);
	size_t       accepted = 0;
	assert_weir_ok(
	    weir_publish_batch(fx.t, bufs_from(0, 2), 2, &accepted));
	weir_unsubscribe(sub);
	assert_weir_ok(
	    weir_publish_batch(fx.t, bufs_from(2, 8), 8, &accepted));
	assert_int_equal(accepted, 8);
	drain();
	assert_int_equal(fx.a.n, 0);
}

typedef struct pub_arg {
	weir_topic *t;
	int         from, n, per;
	weir_err    rv;
	size_t      accepted;
	atomic_int  done;
	weir_buf    b[256];
	int         v[256];
} pub_arg;

// Publishes n events from `from` in batches of `per` (<= 256).
static void *
pub_thread(void *p)
{
	pub_arg *pa = p;
	pa->rv      = WEIR_OK;
	for (int i = 0; i < pa->n && pa->rv == WEIR_OK; i += pa->per) {
		int k = pa->n - i < pa->per ? pa->n - i : pa->per;
		for (int j = 0; j < k; j++) {
			pa->v[j]      = pa->from + i + j;
			pa->b[j].data = &pa->v[j];
			pa->b[j].len  = sizeof(int);
		}
		pa->rv = weir_publish_batch(
		    pa->t, pa->b, (size_t) k, &pa->accepted);
		pa->accepted += (size_t) i;
	}
	atomic_store(&pa->done, 1);
	return NULL;
}

// A BLOCK wait mid-batch ended by weir_unsubscribe(): WEIR_ECLOSED, and
// accepted counts what was queued before.
static void
test_closed_while_blocked(void **state)
{
	(void) state;
	weir_subscr *sub = sub_on(&fx.a, 4, WEIR_POLICY_BLOCK, -1);
	pub_arg     *pa  = calloc(1, sizeof(*pa));
	assert_non_null(pa);
	pa->t   = fx.t;
	pa->n   = 10;
	pa->per = 10;
	pthread_t thr;
	assert_int_equal(pthread_create(&thr, NULL, pub_thread, pa), 0);
	wt_wait_until(atomic_load(&sub->q.napping) != 0);
	weir_unsubscribe(sub);
	wt_wait_until(atomic_load(&pa->done));
	pthread_join(thr, NULL);
	assert_int_equal(pa->rv, WEIR_ECLOSED);
	assert_int_equal(pa->accepted, 4);
	free(pa);
}

// One subscription's BLOCK wait in the second chunk is ended by its
// close after another subscription of the batch was closed: the closed
// one takes the rest silently, as weir_publish does, and nothing leaks.
static void
test_other_closed_while_blocked(void **state)
{
	(void) state;
	weir_subscr *blk = sub_on(&fx.a, 70, WEIR_POLICY_BLOCK, -1);
	weir_subscr *rej = sub_on(&fx.b, 256, WEIR_POLICY_REJECT, 0);
	pub_arg     *pa  = calloc(1, sizeof(*pa));
	assert_non_null(pa);
	pa->t   = fx.t;
	pa->n   = 100;
	pa->per = 100;
	pthread_t thr;
	assert_int_equal(pthread_create(&thr, NULL, pub_thread, pa), 0);
	wt_wait_until(atomic_load(&blk->q.napping) != 0);
	weir_unsubscribe(rej);
	weir_unsubscribe(blk);
	wt_wait_until(atomic_load(&pa->done));
	pthread_join(thr, NULL);
	assert_int_equal(pa->rv, WEIR_ECLOSED);
	assert_int_equal(pa->accepted, 70);
	drain();
	assert_int_equal(fx.a.n, 0);
	assert_int_equal(fx.b.n, 0);
	free(pa);
}

// A handler that publishes a batch to a BLOCK subscription of its own
// loop cannot wait (the loop that would drain it is the caller): the
// full queue refuses as REJECT does, at once.
static weir_err
batch_from_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	size_t  *accepted = arg;
	weir_err rv = weir_publish_batch(fx.t, bufs_from(0, 5), 5, accepted);
	return rv == WEIR_EFULL ? WEIR_OK : rv;
}

static void
test_block_on_own_loop(void **state)
{
	(void) state;
	weir_subscr *blk = sub_on(&fx.a, 2, WEIR_POLICY_BLOCK, -1);
	weir_subscr *src;
	size_t       accepted = 0;
	assert_weir_ok(weir_subscribe(&src, fx.bus, "batch.src",
	    batch_from_handler, &accepted, NULL, NULL));
	assert_weir_ok(weir_publish(fx.bus, "batch.src", NULL, 0, 0, NULL));
	assert_weir_ok(weir_bus_run(fx.bus, WEIR_RUN_NOWAIT));
	assert_int_equal(accepted, 2);
	weir_subscr_stats st = wt_subscr_stats(blk);
	assert_int_equal(st.rejected, 1);
	assert_int_equal(st.timed_out, 0);
	wt_assert_adds_up(&st);
	assert_int_equal(wt_subscr_stats(src).failed, 0);
	drain();
	assert_got(&fx.a, 0, 2);
	weir_unsubscribe(src);
	weir_unsubscribe(blk);
}

// A BLOCK batch far larger than the capacity, drained by a loop thread:
// every event arrives once, in order.
static void
test_block_larger_than_capacity(void **state)
{
	(void) state;
	weir_subscr *sub = sub_on(&fx.a, 8, WEIR_POLICY_BLOCK, -1);
	pthread_t    loop;
	assert_int_equal(pthread_create(&loop, NULL, wt_run_bus, fx.bus), 0);
	size_t accepted = 0;
	assert_weir_ok(
	    weir_publish_batch(fx.t, bufs_from(0, 3000), 3000, &accepted));
	assert_int_equal(accepted, 3000);
	wt_wait_until(wt_subscr_stats(sub).delivered == 3000);
	weir_bus_stop(fx.bus);
	pthread_join(loop, NULL);
	assert_got(&fx.a, 0, 3000);
	weir_subscr_stats st = wt_subscr_stats(sub);
	assert_int_equal(st.published, 3000);
	wt_assert_adds_up(&st);
	weir_unsubscribe(sub);
}

// A handler for several producers: checks each producer's events come
// in its order, gaps allowed (payload = producer * 1e6 + index).
typedef struct multi {
	int                   next[4];
	atomic_uint_least64_t got;
	atomic_int            bad;
} multi;

static weir_err
multi_fn(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	multi      *m = arg;
	int         v;
	const void *p = weir_event_payload(ev, NULL);
	memcpy(&v, p, sizeof(v));
	int who = v / 1000000;
	// Drops may leave gaps, never a step back.
	if (who < 0 || who > 3 || v % 1000000 < m->next[who]) {
		atomic_store(&m->bad, 1);
	} else {
		m->next[who] = v % 1000000 + 1;
	}
	atomic_fetch_add(&m->got, 1);
	return WEIR_OK;
}

static void
run_producers(weir_policy pol, size_t cap, int per, int each)
{
	multi              *m  = calloc(1, sizeof(*m));
	weir_subscr_config *sc = wt_subscr_config(cap, pol, -1);
	weir_subscr        *sub;
	assert_non_null(m);
	assert_weir_ok(
	    weir_subscribe(&sub, fx.bus, TOPIC, multi_fn, m, NULL, sc));
	weir_subscr_config_destroy(sc);
	pthread_t loop, thr[4];
	pub_arg  *pa = calloc(4, sizeof(*pa));
	assert_non_null(pa);
	assert_int_equal(pthread_create(&loop, NULL, wt_run_bus, fx.bus), 0);
	for (int i = 0; i < 4; i++) {
		// A handle per thread (weir_topic_create()).
		assert_weir_ok(weir_topic_create(&pa[i].t, fx.bus, TOPIC));
		pa[i].from = i * 1000000;
		pa[i].n    = each;
		pa[i].per  = per + i; // different runs, different offsets
		assert_int_equal(
		    pthread_create(&thr[i], NULL, pub_thread, &pa[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(thr[i], NULL);
		assert_weir_ok(pa[i].rv);
		weir_topic_destroy(pa[i].t);
	}
	weir_subscr_stats st = wt_subscr_stats(sub);
	wt_wait_until((st = wt_subscr_stats(sub)).queued == 0 &&
	    atomic_load(&m->got) == st.delivered);
	weir_bus_stop(fx.bus);
	pthread_join(loop, NULL);
	st = wt_subscr_stats(sub);
	assert_int_equal(st.published, 4 * (uint64_t) each);
	assert_int_equal(atomic_load(&m->bad), 0);
	wt_assert_adds_up(&st);
	if (pol == WEIR_POLICY_BLOCK) {
		assert_int_equal(st.delivered, 4 * (uint64_t) each);
	}
	weir_unsubscribe(sub);
	free(pa);
	free(m);
}

// Four producers' batches into one BLOCK queue: each producer's order
// holds and nothing is lost.
static void
test_four_producers_block(void **state)
{
	(void) state;
	run_producers(WEIR_POLICY_BLOCK, 16, 7, 20000);
}

// DROP_OLDEST: producers pop too (to make room) while the loop pops
// runs; counters add up and each producer's survivors keep order.
static void
test_four_producers_drop_oldest(void **state)
{
	(void) state;
	run_producers(WEIR_POLICY_DROP_OLDEST, 16, 5, 20000);
}

// Batches whose payload sizes change block class (evpool.c: 152, 168,
// ... 2040 bytes, and larger than the pool takes) from a producer thread
// to a loop thread: the producer's blocks come back through the depot,
// so its batches cross cache refills. Every payload arrives intact, ids
// rise, and the counters are exact (one latency sample per event, the
// loop's handler calls).
#define MIX_N 20000
#define MIX_PER 37

typedef struct mix {
	weir_topic           *t;
	weir_err              rv;
	atomic_uint_least64_t got;
	atomic_int            bad;
	uint8_t               last[16];
} mix;

static size_t
mix_len(int i)
{
	static const size_t lens[] = { 4, 60, 90, 170, 600, 1900, 3000, 8 };
	return lens[(i / 5) % 8]; // runs of 5 alike, then a change
}

// Event i's payload starts at mix_pat + i % 256: neighbours differ.
static unsigned char mix_pat[3000 + 256];

static weir_err
mix_fn(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	mix                 *m = arg;
	size_t               len;
	const unsigned char *p = weir_event_payload(ev, &len);
	int                  i = (int) atomic_load(&m->got);
	if (len != mix_len(i) || memcmp(p, mix_pat + i % 256, len) != 0 ||
	    memcmp(m->last, weir_event_id(ev), 16) >= 0 ||
	    (uintptr_t) p % 16 != 0) {
		atomic_fetch_add(&m->bad, 1);
	}
	memcpy(m->last, weir_event_id(ev), 16);
	atomic_fetch_add(&m->got, 1);
	return WEIR_OK;
}

static void *
mix_producer(void *arg)
{
	mix     *m = arg;
	weir_buf b[MIX_PER];
	for (int i = 0; i < MIX_N && m->rv == WEIR_OK; i += MIX_PER) {
		size_t k =
		    MIX_N - i < MIX_PER ? (size_t) (MIX_N - i) : MIX_PER;
		for (size_t j = 0; j < k; j++) {
			b[j] = (weir_buf) { mix_pat + (i + (int) j) % 256,
				mix_len(i + (int) j) };
		}
		size_t accepted = 0;
		m->rv           = weir_publish_batch(m->t, b, k, &accepted);
		if (m->rv == WEIR_OK && accepted != k) {
			m->rv = WEIR_EINTERNAL;
		}
	}
	return NULL;
}

static void
test_sizes_across_classes_and_refills(void **state)
{
	(void) state;
	mix *m = calloc(1, sizeof(*m));
	assert_non_null(m);
	for (size_t i = 0; i < sizeof(mix_pat); i++) {
		mix_pat[i] = (unsigned char) (i * 131 + i / 256);
	}
	weir_subscr_config *sc = wt_subscr_config(256, WEIR_POLICY_BLOCK, -1);
	weir_subscr        *sub;
	assert_weir_ok(
	    weir_subscribe(&sub, fx.bus, TOPIC, mix_fn, m, NULL, sc));
	weir_subscr_config_destroy(sc);
	m->t = fx.t;
	pthread_t loop, prod;
	assert_int_equal(pthread_create(&loop, NULL, wt_run_bus, fx.bus), 0);
	assert_int_equal(pthread_create(&prod, NULL, mix_producer, m), 0);
	pthread_join(prod, NULL);
	assert_weir_ok(m->rv);
	wt_wait_until(atomic_load(&m->got) == MIX_N);
	weir_bus_stop(fx.bus);
	pthread_join(loop, NULL);
	assert_int_equal(atomic_load(&m->bad), 0);
	weir_subscr_stats st = wt_subscr_stats(sub);
	assert_int_equal(st.published, MIX_N);
	assert_int_equal(st.delivered, MIX_N);
	assert_int_equal(st.latency.count, MIX_N);
	wt_assert_adds_up(&st);
	weir_loop_stats ls = WEIR_STRUCT_INIT(weir_loop_stats);
	assert_weir_ok(weir_loop_stats_get(weir_bus_loop(fx.bus), &ls));
	assert_int_equal(ls.dispatched, MIX_N);
	weir_unsubscribe(sub);
	free(m);
}

// Handlers may hold any event of a run past the others (a batch's
// events share a block, evblock.c, released at the end of the loop's
// run): the held ones stay intact after their run-mates were released
// and the memory of other blocks was reused.
#define HOLD_N 300

typedef struct holder {
	const weir_event *held[HOLD_N];
	int               n;
	int               seen;
} holder;

static weir_err
hold_fn(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	holder *h = arg;
	if (h->seen++ % 3 == 0) {
		h->held[h->n++] = weir_event_hold(ev);
	}
	return WEIR_OK;
}

static void
test_held_events_outlive_their_run(void **state)
{
	(void) state;
	holder             *h  = calloc(1, sizeof(*h));
	weir_subscr_config *sc = wt_subscr_config(1024, WEIR_POLICY_REJECT, 0);
	weir_subscr        *sub;
	assert_non_null(h);
	assert_weir_ok(
	    weir_subscribe(&sub, fx.bus, TOPIC, hold_fn, h, NULL, sc));
	weir_subscr_config_destroy(sc);
	assert_weir_ok(
	    weir_publish_batch(fx.t, bufs_from(0, HOLD_N), HOLD_N, NULL));
	drain();
	// The pool reuses the freed blocks: publish again over them.
	assert_weir_ok(
	    weir_publish_batch(fx.t, bufs_from(5000, HOLD_N), HOLD_N, NULL));
	drain();
	assert_int_equal(h->seen, 2 * HOLD_N);
	for (int i = 0; i < h->n; i++) {
		size_t     len;
		const int *v = weir_event_payload(h->held[i], &len);
		int want     = 3 * i < HOLD_N ? 3 * i : 5000 + 3 * i - HOLD_N;
		assert_int_equal(len, sizeof(int));
		assert_int_equal(*v, want);
		assert_string_equal(weir_event_topic(h->held[i]), TOPIC);
		weir_event_release(h->held[i]);
	}
	weir_unsubscribe(sub);
	free(h);
}

// Every subscription refuses in the first chunk of a long batch: the
// later chunks are neither made nor offered (published counts the
// refused event once, not the rest of the batch).
static void
test_all_refuse_in_first_chunk(void **state)
{
	(void) state;
	weir_subscr      *sub = sub_on(&fx.a, 4, WEIR_POLICY_REJECT, 0);
	weir_subscr_stats st  = batch_from_zero(sub, 300, WEIR_EFULL, 4);
	assert_int_equal(st.published, 5);
	assert_int_equal(st.rejected, 1);
	drain_expect(sub, &st, 0, 4);
}

static void
count_fn(weir_subscr *sub, void *arg)
{
	(void) sub;
	(*(int *) arg)++;
}

// A batch that fills a queue past its high watermark calls on_pressure
// once on the publishing thread; the drain after it calls on_drain.
static void
test_watermark_batch(void **state)
{
	(void) state;
	int                 pressures = 0;
	weir_subscr_config *sc = wt_subscr_config(16, WEIR_POLICY_REJECT, 0);
	assert_weir_ok(weir_subscr_config_set_watermarks(
	    sc, 8, 2, count_fn, count_fn, &pressures));
	weir_subscr *sub;
	assert_weir_ok(
	    weir_subscribe(&sub, fx.bus, TOPIC, record_fn, &fx.a, NULL, sc));
	weir_subscr_config_destroy(sc);
	size_t accepted = 0;
	assert_weir_ok(
	    weir_publish_batch(fx.t, bufs_from(0, 12), 12, &accepted));
	assert_int_equal(accepted, 12);
	assert_int_equal(pressures, 1); // on_pressure, on this thread
	drain();
	assert_int_equal(pressures, 2); // then on_drain (same counter)
	assert_got(&fx.a, 0, 12);
	weir_unsubscribe(sub);
}

// A pull subscription with BLOCK: a batch larger than its capacity
// waits for the puller (here none: it times out after the capacity).
static void
test_pull_block_batch(void **state)
{
	(void) state;
	weir_subscr_config *sc = wt_subscr_config(3, WEIR_POLICY_BLOCK, 20);
	weir_subscr        *sub;
	assert_weir_ok(
	    weir_subscribe(&sub, fx.bus, TOPIC, NULL, NULL, NULL, sc));
	weir_subscr_config_destroy(sc);
	size_t accepted = 0;
	assert_int_equal(
	    weir_publish_batch(fx.t, bufs_from(0, 5), 5, &accepted),
	    WEIR_ETIMEDOUT);
	assert_int_equal(accepted, 3);
	weir_subscr_stats st = wt_subscr_stats(sub);
	assert_int_equal(st.timed_out, 1);
	wt_assert_adds_up(&st);
	for (int i = 0; i < 3; i++) {
		const weir_event *ev = NULL;
		assert_weir_ok(weir_subscr_next(sub, &ev, 0));
		size_t      len;
		const void *p = weir_event_payload(ev, &len);
		int         v;
		memcpy(&v, p, sizeof(v));
		assert_int_equal(v, i);
		weir_event_release(ev);
	}
	weir_unsubscribe(sub);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_sizes_across_classes_and_refills, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_held_events_outlive_their_run, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_empty_and_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_nothing_matches, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_order_and_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_reject_mid_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_all_refuse_in_first_chunk, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_watermark_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pull_block_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_block_nowait_mid_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_block_timeout_mid_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_drop_newest_mid_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_drop_oldest_larger_than_capacity, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_coalesce_mid_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_fanout_prefix, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_unsubscribed, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_closed_while_blocked, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_other_closed_while_blocked, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_block_on_own_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_block_larger_than_capacity, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_four_producers_block, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_four_producers_drop_oldest, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
