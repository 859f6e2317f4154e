/*
 * Replay: into a callback, a bus (emit and publish), filtered, paced by
 * a factor or a rate, with progress, cancelled from a callback and from
 * another thread.
 */
#include <pthread.h>
#include <time.h>

#include "fixture.h"

#define MS 1000000LL

// Far above what a paced replay here takes on a loaded machine, far
// below one paced by a unit a thousand times too long.
#define PACE_MAX_MS 20000

static void
add(weir_store *st, const char *topic, int64_t ts, const char *stream)
{
	weir_event     *ev;
	weir_event_init init = {
		.size = sizeof(init), .topic = topic, .ts = ts
	};
	weir_store_append_opts opt = { .size = sizeof(weir_store_append_opts),
		.stream                      = stream };
	assert_weir_ok(weir_event_new(&ev, &init));
	assert_weir_ok(weir_store_append(st, ev, &opt, NULL, NULL));
	weir_event_release(ev);
}

// Ten events 100 ms apart; odd ones on stream "s".
static int
fill(void **state)
{
	fx_setup(state);
	fx     *f  = *state;
	int64_t t0 = 1700000000000LL * MS;
	for (int i = 0; i < 10; i++) {
		add(f->st, i % 2 ? "orders.paid" : "orders.created",
		    t0 + i * 100 * MS, i % 2 ? "s" : NULL);
	}
	return 0;
}

static void
test_to_callback_filtered(void **state)
{
	fx               *f   = *state;
	fx_got            g   = { 0 };
	weir_store_filter flt = {
		.size = sizeof(flt), .pattern = "orders.created", .from_seq = 3
	};
	weir_store_replay_opts rp = { .size = sizeof(rp),
		.target                     = WEIR_STORE_REPLAY_CALL,
		.fn                         = fx_collect,
		.arg                        = &g,
		.filter                     = &flt };
	uint64_t               n;
	assert_weir_ok(weir_store_replay(f->st, &rp, &n));
	assert_int_equal(n, 4); // 3, 5, 7, 9
	assert_int_equal(g.seq[0], 3);
	memset(&g, 0, sizeof(g));
	flt = (weir_store_filter) {
		.size = sizeof(flt), .stream = "s", .to_seq = 6
	};
	assert_weir_ok(weir_store_replay(f->st, &rp, &n));
	assert_int_equal(n, 3); // 2, 4, 6
	assert_int_equal(g.version[2], 3);
	memset(&g, 0, sizeof(g));
	int64_t t0 = 1700000000000LL * MS;
	flt        = (weir_store_filter) { .size = sizeof(flt),
		       .from_ts                  = t0 + 250 * MS,
		       .to_ts                    = t0 + 550 * MS };
	assert_weir_ok(weir_store_replay(f->st, &rp, &n));
	assert_int_equal(n, 3); // 4, 5, 6
	assert_int_equal(g.seq[0], 4);
}

static weir_err
on_event(weir_bus *bus, const weir_event *ev, void *arg)
{
	uint64_t *seen = arg;
	(void) bus;
	assert_int_equal(
	    weir_event_seq(ev), seen[0] + 1); // seq kept, in order
	seen[0]++;
	return WEIR_OK;
}

static void
test_to_bus(void **state)
{
	fx          *f = *state;
	weir_bus    *bus;
	uint64_t     emitted[1] = { 0 }, published[1] = { 0 }, n;
	weir_subscr *sub;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(
	    weir_on(bus, "orders.>", on_event, emitted, NULL, 0, NULL));
	weir_store_replay_opts rp = { .size = sizeof(rp),
		.target                     = WEIR_STORE_REPLAY_EMIT,
		.bus                        = bus };
	assert_weir_ok(weir_store_replay(f->st, &rp, &n));
	assert_int_equal(n, 10);
	assert_int_equal(emitted[0], 10);
	assert_weir_ok(weir_off_all(bus, NULL, NULL));
	assert_weir_ok(
	    weir_subscribe(&sub, bus, ">", on_event, published, NULL, NULL));
	rp.target = WEIR_STORE_REPLAY_PUBLISH;
	assert_weir_ok(weir_store_replay(f->st, &rp, &n));
	assert_int_equal(n, 10);
	for (int i = 0; i < 100 && published[0] < 10; i++) {
		assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT));
	}
	assert_int_equal(published[0], 10);
	weir_unsubscribe(sub);
	weir_bus_destroy(bus);
}

static void
test_pacing(void **state)
{
	fx                    *f = *state;
	fx_got                 g = { 0 };
	uint64_t               n;
	weir_store_filter      flt = { .size = sizeof(flt), .to_seq = 5 };
	weir_store_replay_opts rp  = { .size = sizeof(rp),
		 .target                     = WEIR_STORE_REPLAY_CALL,
		 .fn                         = fx_collect,
		 .arg                        = &g,
		 .speed                      = WEIR_STORE_REPLAY_FACTOR,
		 .factor                     = 4.0,
		 .filter                     = &flt };
	int64_t                t   = wt_now_ms();
	assert_weir_ok(weir_store_replay(f->st, &rp, &n));
	int64_t el = wt_now_ms() - t;
	assert_int_equal(n, 5); // 400 ms of history at 4x: about 100 ms
	// The lower bound is a wait weir makes (too short a unit shows
	// there); the upper one only catches a unit a thousand times too
	// long (400 s here, 90 s below), with room for a loaded machine.
	assert_true(el >= 95 && el < PACE_MAX_MS);
	memset(&g, 0, sizeof(g));
	rp.speed  = WEIR_STORE_REPLAY_RATE;
	rp.rate   = 100.0; // ten events: about 90 ms
	rp.filter = NULL;  // the whole log
	t         = wt_now_ms();
	assert_weir_ok(weir_store_replay(f->st, &rp, &n));
	el = wt_now_ms() - t;
	assert_int_equal(n, 10);
	assert_true(el >= 85 && el < PACE_MAX_MS);
	rp.rate = 0;
	assert_weir_err(weir_store_replay(f->st, &rp, &n), WEIR_EINVAL);
}

typedef struct prog {
	int      calls;
	uint64_t done[8];
	uint64_t total;
	uint64_t cancel_at;
} prog;

static weir_err
on_progress(
    weir_store *st, uint64_t done, uint64_t total, uint64_t seq, void *arg)
{
	prog *p = arg;
	(void) st;
	(void) seq;
	p->done[p->calls++ % 8] = done;
	p->total                = total;
	return p->cancel_at && done >= p->cancel_at ? WEIR_ECANCELED : WEIR_OK;
}

static void
test_progress(void **state)
{
	fx                    *f = *state;
	fx_got                 g = { 0 };
	prog                   p = { 0 };
	uint64_t               n;
	weir_store_replay_opts rp = { .size = sizeof(rp),
		.target                     = WEIR_STORE_REPLAY_CALL,
		.fn                         = fx_collect,
		.arg                        = &g,
		.progress                   = on_progress,
		.progress_arg               = &p,
		.progress_every             = 3 };
	assert_weir_ok(weir_store_replay(f->st, &rp, &n));
	assert_int_equal(p.calls, 4); // 3, 6, 9, and the end
	assert_int_equal(p.done[0], 3);
	assert_int_equal(p.done[3], 10);
	assert_int_equal(p.total, 10);
	memset(&p, 0, sizeof(p));
	p.cancel_at = 6;
	assert_weir_err(weir_store_replay(f->st, &rp, &n), WEIR_ECANCELED);
	assert_int_equal(n, 6);
}

static weir_err
cancel_at_three(weir_store *st, const weir_event *ev, const char *stream,
    int64_t version, void *arg)
{
	(void) stream;
	(void) version;
	(void) arg;
	if (weir_event_seq(ev) == 3) {
		weir_store_replay_cancel(st);
	}
	return WEIR_OK;
}

// A replay's first delivery says it runs (a cancel before it starts
// would not touch it): the canceller waits for it.
typedef struct slow_run {
	weir_store           *st;
	fx_got                g;
	atomic_uint_least64_t delivered;
} slow_run;

static weir_err
collect_and_signal(weir_store *st, const weir_event *ev, const char *stream,
    int64_t version, void *arg)
{
	slow_run *r  = arg;
	weir_err  rv = fx_collect(st, ev, stream, version, &r->g);
	atomic_fetch_add(&r->delivered, 1);
	return rv;
}

// Cancels once the replay has delivered its first event (and waits
// ten seconds for the next). Not the test's thread: after WT_WAIT_MS it
// cancels anyway and the test's checks fail.
static void *
cancel_when_running(void *arg)
{
	slow_run *r = arg;
	wt_wait_u64(&r->delivered, 1);
	weir_store_replay_cancel(r->st);
	return NULL;
}

static void
test_cancel(void **state)
{
	fx                    *f = *state;
	uint64_t               n;
	pthread_t              th;
	weir_store_replay_opts rp = { .size = sizeof(rp),
		.target                     = WEIR_STORE_REPLAY_CALL,
		.fn                         = cancel_at_three };
	assert_weir_err(weir_store_replay(f->st, &rp, &n), WEIR_ECANCELED);
	assert_int_equal(n, 3);
	assert_non_null(strstr(weir_store_errmsg(f->st), "canceled"));
	// A slow replay (one event every ten seconds) cancelled from another
	// thread returns at once, not after a minute and a half.
	slow_run *r = calloc(1, sizeof(*r)); // fx_got is large
	assert_non_null(r);
	r->st     = f->st;
	rp.speed  = WEIR_STORE_REPLAY_RATE;
	rp.rate   = 0.1;
	rp.fn     = collect_and_signal;
	rp.arg    = r;
	int64_t t = wt_now_ms();
	assert_int_equal(pthread_create(&th, NULL, cancel_when_running, r), 0);
	assert_weir_err(weir_store_replay(f->st, &rp, &n), WEIR_ECANCELED);
	pthread_join(th, NULL);
	assert_true(wt_now_ms() - t < 5000); // not the 10 s to the next one
	assert_int_equal(n, 1);
	assert_int_equal(atomic_load(&r->delivered), 1);
	// A cancel before a replay starts does not affect it.
	rp.speed = WEIR_STORE_REPLAY_FAST;
	rp.fn    = fx_collect;
	rp.arg   = &r->g;
	memset(&r->g, 0, sizeof(r->g));
	assert_weir_ok(weir_store_replay(f->st, &rp, &n));
	assert_int_equal(n, 10);
	free(r);
}

static void
test_bad_replays(void **state)
{
	fx                    *f  = *state;
	weir_store_replay_opts rp = { .size = sizeof(rp),
		.target = WEIR_STORE_REPLAY_EMIT }; // no bus
	assert_weir_err(weir_store_replay(f->st, &rp, NULL), WEIR_EINVAL);
	rp = (weir_store_replay_opts) { .size = sizeof(weir_store_replay_opts),
		.target                       = WEIR_STORE_REPLAY_CALL,
		.fn                           = fx_collect,
		.speed                        = WEIR_STORE_REPLAY_FACTOR,
		.factor                       = 0 };
	assert_weir_err(weir_store_replay(f->st, &rp, NULL), WEIR_EINVAL);
	weir_store_filter bad = { .size = sizeof(bad),
		.pattern                = "orders..x" };
	rp.speed              = WEIR_STORE_REPLAY_FAST;
	rp.filter             = &bad;
	assert_weir_err(weir_store_replay(f->st, &rp, NULL), WEIR_EBADPATTERN);
	assert_weir_err(weir_store_replay(f->st, NULL, NULL), WEIR_EINVAL);
}

static weir_err
stop_after_two(weir_store *st, const weir_event *ev, const char *stream,
    int64_t version, void *arg)
{
	(void) st;
	(void) ev;
	(void) stream;
	(void) version;
	return ++*(int *) arg == 3 ? WEIR_EFULL : WEIR_OK;
}

// A callback's error stops the replay: WEIR_ECANCELED, and the count
// holds only the events the callback took.
static void
test_callback_stops(void **state)
{
	fx                    *f     = *state;
	int                    calls = 0;
	uint64_t               n     = 99;
	weir_store_replay_opts rp    = { .size = sizeof(rp),
		   .target                     = WEIR_STORE_REPLAY_CALL,
		   .fn                         = stop_after_two,
		   .arg                        = &calls };
	assert_weir_err(weir_store_replay(f->st, &rp, &n), WEIR_ECANCELED);
	assert_int_equal(calls, 3);
	assert_int_equal(n, 2);
}

// The bus refusing an event (a full subscription that rejects) stops a
// publish replay with the bus's error, named with its seq.
static void
test_bus_refuses(void **state)
{
	fx                 *f   = *state;
	weir_bus           *bus = NULL;
	weir_subscr        *sub = NULL;
	weir_subscr_config *sc  = wt_subscr_config(2, WEIR_POLICY_REJECT, 0);
	uint64_t            n   = 99;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_subscribe(
	    &sub, bus, "orders.>", wt_nop_handler, NULL, NULL, sc));
	weir_subscr_config_destroy(sc);
	weir_store_replay_opts rp = { .size = sizeof(rp),
		.target                     = WEIR_STORE_REPLAY_PUBLISH,
		.bus                        = bus };
	assert_weir_err(weir_store_replay(f->st, &rp, &n), WEIR_EFULL);
	assert_int_equal(n, 2);
	assert_non_null(strstr(weir_store_errmsg(f->st),
	    "replay stopped at seq 3: the bus said WEIR_EFULL"));
	weir_unsubscribe(sub);
	weir_bus_destroy(bus);
}

// Paced by a factor, events whose timestamps go backwards or repeat
// are due at once (no wait, no negative wait), all of them in order.
static void
test_pacing_backwards(void **state)
{
	fx     *f  = *state;
	int64_t t0 = 1700000000000LL * MS;
	for (int i = 0; i < 4; i++) {
		add(f->st, "late.x", t0 - (i / 2) * 1000 * MS, NULL);
	}
	fx_got            g   = { 0 };
	uint64_t          n   = 0;
	weir_store_filter flt = { .size = sizeof(flt), .pattern = "late.x" };
	weir_store_replay_opts rp = { .size = sizeof(rp),
		.filter                     = &flt,
		.target                     = WEIR_STORE_REPLAY_CALL,
		.fn                         = fx_collect,
		.arg                        = &g,
		.speed                      = WEIR_STORE_REPLAY_FACTOR,
		.factor                     = 1.0 };
	int64_t                t  = wt_now_ms();
	assert_weir_ok(weir_store_replay(f->st, &rp, &n));
	assert_true(wt_now_ms() - t < PACE_MAX_MS);
	assert_int_equal(n, 4);
	for (size_t i = 1; i < g.n; i++) {
		assert_true(g.seq[i] == g.seq[i - 1] + 1);
	}
}

// A filter limit below the match count: progress reports the limit as
// the total, and only that many are replayed.
static weir_err
note_total(
    weir_store *st, uint64_t done, uint64_t total, uint64_t seq, void *arg)
{
	(void) st;
	(void) done;
	(void) seq;
	*(uint64_t *) arg = total;
	return WEIR_OK;
}

static void
test_limit_total(void **state)
{
	fx               *f = *state;
	fx_got            g = { 0 };
	uint64_t          n = 0, total = 0;
	weir_store_filter flt = {
		.size = sizeof(flt), .limit = 3, .to_ts = INT64_MAX
	};
	weir_store_replay_opts rp = { .size = sizeof(rp),
		.filter                     = &flt,
		.target                     = WEIR_STORE_REPLAY_CALL,
		.fn                         = fx_collect,
		.arg                        = &g,
		.progress                   = note_total,
		.progress_arg               = &total,
		.progress_every             = 1 };
	assert_weir_ok(weir_store_replay(f->st, &rp, &n));
	assert_int_equal(n, 3);
	assert_int_equal(g.n, 3);
	assert_int_equal(total, 3);
	// A limit above the count, and one past INT64_MAX: the count.
	size_t limits[] = { 100, SIZE_MAX };
	for (size_t i = 0; i < 2; i++) {
		memset(&g, 0, sizeof(g));
		flt.limit = limits[i];
		assert_weir_ok(weir_store_replay(f->st, &rp, &n));
		assert_int_equal(n, 10);
		assert_int_equal(total, 10);
	}
}

// Every combination of target and speed that lacks what it needs.
static void
test_bad_replay_opts(void **state)
{
	fx       *f = *state;
	weir_bus *bus;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	weir_store_replay_opts ok = { .size = sizeof(ok),
		.target                     = WEIR_STORE_REPLAY_CALL,
		.fn                         = fx_collect };
	weir_store_replay_opts rp = ok;
	rp.target                 = (weir_store_replay_target) 99;
	assert_weir_err(weir_store_replay(f->st, &rp, NULL), WEIR_EINVAL);
	rp    = ok;
	rp.fn = NULL;
	assert_weir_err(weir_store_replay(f->st, &rp, NULL), WEIR_EINVAL);
	rp       = ok;
	rp.speed = (weir_store_replay_speed) 99;
	assert_weir_err(weir_store_replay(f->st, &rp, NULL), WEIR_EINVAL);
	rp        = ok;
	rp.speed  = WEIR_STORE_REPLAY_FACTOR;
	rp.factor = 0.0 / 0.0;
	assert_weir_err(weir_store_replay(f->st, &rp, NULL), WEIR_EINVAL);
	rp.factor = -1;
	assert_weir_err(weir_store_replay(f->st, &rp, NULL), WEIR_EINVAL);
	rp       = ok;
	rp.speed = WEIR_STORE_REPLAY_RATE;
	rp.rate  = 0;
	assert_weir_err(weir_store_replay(f->st, &rp, NULL), WEIR_EINVAL);
	assert_non_null(strstr(weir_store_errmsg(f->st), "positive factor"));
	rp         = ok;
	rp.target  = WEIR_STORE_REPLAY_PUBLISH;
	rp.bus     = bus;
	rp.fn      = NULL;
	rp.speed   = WEIR_STORE_REPLAY_RATE;
	rp.rate    = 1e9;
	uint64_t n = 0;
	assert_weir_ok(weir_store_replay(f->st, &rp, &n));
	assert_int_equal(n, 10);
	weir_bus_destroy(bus);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_to_callback_filtered, fill, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_to_bus, fill, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_pacing, fill, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_progress, fill, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_cancel, fill, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_bad_replays, fill, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_callback_stops, fill, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_bus_refuses, fill, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_pacing_backwards, fill, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_limit_total, fill, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_bad_replay_opts, fill, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
