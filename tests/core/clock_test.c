// Event time: an event's ts is wall-clock time. It agrees with
// CLOCK_REALTIME within WEIR__CLOCK_BOUND_NS, follows a step of the wall
// clock (forward or back) within WEIR__CLOCK_ANCHOR_NS, never freezes,
// and stays within the bound over hours of TSC drift. Ids stay ordered
// within a thread whatever the wall clock does.
#include <string.h>

#include "weir_test.h"

#include "core/clock.h"

#define HOUR_NS (3600 * (int64_t) 1000000000)

static int64_t emitted_ts;
static uint8_t emitted_id[16];

static weir_err
record_fn(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) arg;
	emitted_ts = weir_event_ts(ev);
	memcpy(emitted_id, weir_event_id(ev), 16);
	return WEIR_OK;
}

typedef struct clock_fixture {
	weir_bus *bus;
	uint8_t   last_id[16]; // ids of one thread only grow
	uint64_t  samples;
} clock_fixture;

static int
setup(void **state)
{
	clock_fixture *fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	assert_weir_ok(weir_bus_create(&fx->bus, NULL));
	assert_weir_ok(
	    weir_on(fx->bus, "clock.t", record_fn, NULL, NULL, 0, NULL));
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	clock_fixture *fx = *state;
	weir__clock_test_fake(NULL);
	weir__clock_test_step(0);
	weir_bus_destroy(fx->bus);
	free(fx);
	return 0;
}

static void
check_id_order(clock_fixture *fx, const uint8_t *id)
{
	if (memcmp(id, fx->last_id, 16) <= 0) {
		fail_msg("id %llu not above the previous one",
		    (unsigned long long) fx->samples);
	}
	memcpy(fx->last_id, id, 16);
}

// One event time, taken through the public API: mostly a lazy emit
// (the emit path), every 8th an event_new (the path of published ones).
static int64_t
sample_ts(clock_fixture *fx)
{
	int64_t ts;
	if (fx->samples++ % 8 != 7) {
		assert_weir_ok(weir_emit(fx->bus, "clock.t", "x", 1, NULL));
		ts = emitted_ts;
		check_id_order(fx, emitted_id);
	} else {
		weir_event_init init = WEIR_STRUCT_INIT(weir_event_init);
		init.topic           = "clock.t";
		weir_event *ev;
		assert_weir_ok(weir_event_new(&ev, &init));
		ts = weir_event_ts(ev);
		check_id_order(fx, weir_event_id(ev));
		weir_event_release(ev);
	}
	return ts;
}

static int
near(int64_t ts, int64_t wall)
{
	int64_t d = ts - wall;
	return d >= -WEIR__CLOCK_BOUND_NS && d <= WEIR__CLOCK_BOUND_NS;
}

// ---- a fake TSC and fake clocks, driven by the test ----

typedef struct fake_time {
	weir__clock_fake f;
	double           ticks; // exact count, f.ticks is its floor
	double           hz;    // nominal TSC rate
	double           drift; // the TSC runs at hz * (1 + drift)
	uint64_t         rng;
} fake_time;

static void
fake_start(fake_time *t, double hz)
{
	memset(t, 0, sizeof(*t));
	t->hz    = hz;
	t->ticks = 123456789.0;
	t->f     = (weir__clock_fake) { .ticks = 123456789,
		    .wall                      = 1700000000 * (int64_t) 1000000000,
		    .mono                      = 5 * (int64_t) 1000000000 };
	t->rng   = 0x9e3779b97f4a7c15ull;
	weir__clock_test_fake(&t->f);
}

static void
fake_advance(fake_time *t, int64_t ns)
{
	t->f.mono += ns;
	t->f.wall += ns;
	t->ticks += (double) ns * t->hz * 1e-9 * (1.0 + t->drift);
	t->f.ticks = (uint64_t) t->ticks;
}

// A pseudo-random step of 1 us to 2 ms: short ones take the clock's
// fast path, long ones its re-anchoring.
static int64_t
fake_gap(fake_time *t)
{
	t->rng ^= t->rng << 13;
	t->rng ^= t->rng >> 7;
	t->rng ^= t->rng << 17;
	return 1000 + (int64_t) (t->rng % 2000000);
}

// Runs @p span_ns of fake time in steps of @p gap_ns (0: random ones);
// every stamp must agree with the fake wall clock, or, for the first
// WEIR__CLOCK_ANCHOR_NS after a step of @p step_ns, with the wall clock
// as it was before the step.
static void
fake_run(clock_fixture *fx, fake_time *t, int64_t span_ns, int64_t gap_ns,
    int64_t step_ns)
{
	int64_t start = t->f.mono;
	int64_t grace = WEIR__CLOCK_ANCHOR_NS + WEIR__CLOCK_ANCHOR_NS / 64;
	while (t->f.mono - start < span_ns) {
		int64_t ts = sample_ts(fx);
		int     ok = near(ts, t->f.wall) ||
		    (step_ns != 0 && t->f.mono - start <= grace &&
		        near(ts, t->f.wall - step_ns));
		if (!ok) {
			fail_msg("ts off the wall clock by %lld ns, %lld ns "
			         "after the start",
			    (long long) (ts - t->f.wall),
			    (long long) (t->f.mono - start));
		}
		fake_advance(t, gap_ns ? gap_ns : fake_gap(t));
	}
}

static void
test_fake_steps(void **state)
{
	// A wall clock stepped forward and back by an hour: ts follows it
	// within the anchor period each time, and is never frozen (the old
	// clock stood still for the hour after a step back).
	clock_fixture *fx = *state;
	fake_time      t;
	fake_start(&t, 2.9e9);
	int64_t ms = 1000000;
	fake_run(fx, &t, 100 * ms, 37000, 0);
	int64_t steps[] = { HOUR_NS, -HOUR_NS, -HOUR_NS, 2 * HOUR_NS, 5 * ms,
		-5 * ms };
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		t.f.wall += steps[i];
		fake_run(fx, &t, 300 * ms, 37000, steps[i]);
	}
}

static void
test_fake_drift_hours(void **state)
{
	// Three hours of a TSC whose rate against the (NTP-disciplined)
	// wall clock wanders by up to 500 ppm either way, changing every
	// ten minutes, stamped at random intervals of up to 2 ms.
	clock_fixture      *fx = *state;
	fake_time           t;
	static const double drift[] = { 0, 300e-6, -200e-6, 500e-6, -500e-6,
		100e-6, 500e-6, -450e-6, 250e-6, -500e-6, 0, 400e-6, -300e-6,
		500e-6, -500e-6, 50e-6, -100e-6, 500e-6 };
	fake_start(&t, 2.5e9);
	for (size_t i = 0; i < sizeof(drift) / sizeof(drift[0]); i++) {
		t.drift = drift[i];
		fake_run(fx, &t, 600 * (int64_t) 1000000000, 0, 0);
	}
}

static void
test_fake_tsc_jumps(void **state)
{
	// The TSC jumps (a VM migrated, a host resumed): forward by ten
	// seconds, then back by twenty; ts still follows the wall clock.
	clock_fixture *fx = *state;
	fake_time      t;
	int64_t        ms = 1000000;
	fake_start(&t, 3.1e9);
	fake_run(fx, &t, 100 * ms, 50000, 0);
	t.ticks += 10 * t.hz;
	fake_run(fx, &t, 100 * ms, 50000, 0);
	t.ticks -= 20 * t.hz;
	fake_run(fx, &t, 100 * ms, 50000, 0);
}

// ---- the real clocks, with the wall clock stepped by the hook ----

// Takes one stamp between two readings of the (stepped) wall clock:
// returns 1 if it lies between them give or take the bound, 2 if it
// does on the wall clock as it was @p step_ns ago, 0 otherwise.
static int
real_sample(clock_fixture *fx, int64_t step_ns, int64_t *off)
{
	int64_t before = weir__realtime_ns();
	int64_t ts     = sample_ts(fx);
	int64_t after  = weir__realtime_ns();
	*off           = ts - after;
	if (ts >= before - WEIR__CLOCK_BOUND_NS &&
	    ts <= after + WEIR__CLOCK_BOUND_NS) {
		return 1;
	}
	ts += step_ns;
	return ts >= before - WEIR__CLOCK_BOUND_NS &&
	        ts <= after + WEIR__CLOCK_BOUND_NS
	    ? 2
	    : 0;
}

// Steps the wall clock by @p step_ns (to @p offset_ns in all) and waits
// (10 s at most) for ts to follow, stamping all the while: every stamp
// lies on the old wall clock or on the new one. Then 20,000 stamps must
// all agree with the new one.
static void
real_step(clock_fixture *fx, int64_t step_ns, int64_t offset_ns)
{
	weir__clock_test_step(offset_ns);
	int64_t deadline = wt_now_ms() + 10000;
	int64_t off;
	int     r;
	while ((r = real_sample(fx, step_ns, &off)) != 1) {
		if (r == 0) {
			fail_msg(
			    "after a step of %lld s, ts is off by %lld ns",
			    (long long) (step_ns / 1000000000),
			    (long long) off);
		}
		if (wt_now_ms() > deadline) {
			fail_msg("ts did not follow a step of %lld s in 10 s",
			    (long long) (step_ns / 1000000000));
		}
	}
	for (int i = 0; i < 20000; i++) {
		if (real_sample(fx, 0, &off) != 1) {
			fail_msg("stamp %d after a step: off by %lld ns", i,
			    (long long) off);
		}
	}
}

static void
test_real_steps(void **state)
{
	// The real TSC and clocks, the wall clock stepped by an hour
	// forward, back, back again and forward.
	clock_fixture *fx       = *state;
	int64_t        deadline = wt_now_ms() + 50;
	int64_t        off;
	while (wt_now_ms() < deadline) { // past the calibration
		assert_int_equal(real_sample(fx, 0, &off), 1);
	}
	real_step(fx, HOUR_NS, HOUR_NS);
	real_step(fx, -HOUR_NS, 0);
	real_step(fx, -HOUR_NS, -HOUR_NS);
	real_step(fx, HOUR_NS, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_fake_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_fake_drift_hours, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_fake_tsc_jumps, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_real_steps, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
