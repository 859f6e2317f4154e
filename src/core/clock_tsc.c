// Design notes. An event's ts is data (the store keeps it, replay by
// time reads it), so it is CLOCK_REALTIME, only cheaper to read: on
// x86-64 with an invariant TSC each thread extrapolates the wall clock
// from the TSC,
//
//     ts = wall_anchor + (tsc - tsc_anchor) * mult
//
// (rdtsc ~13 ns here, clock_gettime(CLOCK_REALTIME) ~40 ns, and every
// published event needs one). docs/core.md ("Event time") says why.
// - The anchor, a TSC reading and CLOCK_REALTIME at the same moment, is
//   read again once WEIR__CLOCK_ANCHOR_NS (1 ms) of TSC time has passed
//   since the last one: a step of the wall clock, either way, is
//   followed within 1 ms, and no extrapolation runs longer than that.
// - The rate (mult, ns per tick, 32.32 fixed point) is measured against
//   CLOCK_MONOTONIC, which NTP slews exactly as it slews CLOCK_REALTIME
//   but which is never stepped, so a step cannot skew it. It is the
//   average since the thread's calibration began, refined at every
//   anchor; TSC drift against NTP time (hundreds of ppm at worst) then
//   costs well under 1 us per 1 ms extrapolation.
// - An anchor's clock reads are bracketed by two TSC readings; a thread
//   preempted in between reads again (up to CLOCK_TRIES times).
// - Each anchor checks that the TSC and CLOCK_MONOTONIC agree on the
//   time since the last one (within 1/64 + CLOCK_SLACK_NS). If not, the
//   TSC jumped or changed rate (VM migration, resume from suspend), and
//   the thread calibrates again: for CLOCK_CALIBRATE_NS every stamp
//   reads CLOCK_REALTIME itself. Without an invariant TSC, every stamp
//   does.
// - ts goes back within a thread when the wall clock is stepped back
//   (ids stay ordered: uuid.c). Per-thread state needs no locking.
#include <cpuid.h>
#include <x86intrin.h>

#include <stdatomic.h>

#include "core/clock.h"
#include "core/prefetch.h"
#include "core/tls.h"

#define CLOCK_CALIBRATE_NS 10000000
#define CLOCK_SLACK_NS 20000
#define CLOCK_SKEW_TICKS (1u << 15) // ~10 us at 3 GHz
#define CLOCK_TRIES 4

__extension__ typedef unsigned __int128 clock_u128;

enum { CLOCK_NEW, CLOCK_CALIBRATING, CLOCK_RUNNING, CLOCK_OFF };

// The TSC and both clocks, read at (nearly) the same moment.
typedef struct clock_sample {
	uint64_t tsc;
	int64_t  wall;
	int64_t  mono;
} clock_sample;

typedef struct clock_state {
	// The fast path reads only these three.
	uint64_t     tsc_anchor;
	uint64_t     span; // ticks an anchor lasts; 0: none
	int64_t      wall_anchor;
	uint64_t     mult; // ns per tick, 32.32 fixed point
	int64_t      mono_anchor;
	clock_sample base; // where the rate's measurement began
	int          phase;
} clock_state;

static _Thread_local clock_state clock_tls WEIR__TLS_FAST;

static int
clock_tsc_invariant(void)
{
	// CPUID: invariant TSC (constant rate, runs in deep C-states).
	unsigned a, b, c, d;
	if (!__get_cpuid(0x80000000, &a, &b, &c, &d) || a < 0x80000007) {
		return 0;
	}
	__get_cpuid(0x80000007, &a, &b, &c, &d);
	return (d >> 8) & 1;
}

#ifdef WEIR_TESTING
void
weir__clock_test_reset(void)
{
	clock_tls = (clock_state) { 0 };
}

static uint64_t
clock_ticks(void)
{
	const weir__clock_fake *fake = weir__clock_test_get();
	return fake != NULL ? fake->ticks : __rdtsc();
}

static int64_t
clock_mono(void)
{
	const weir__clock_fake *fake = weir__clock_test_get();
	return fake != NULL ? fake->mono : weir__mono_ns();
}

static int
clock_tsc_usable(void)
{
	return weir__clock_test_get() != NULL || clock_tsc_invariant();
}
#else
#define clock_ticks() __rdtsc()
#define clock_mono() weir__mono_ns()
#define clock_tsc_usable() clock_tsc_invariant()
#endif

static void
clock_read_sample(clock_sample *smp)
{
	// Keep the tightest bracket: a preempted read pairs the TSC with a
	// wall time milliseconds away.
	uint64_t best = UINT64_MAX;
	for (int i = 0; i < CLOCK_TRIES && best > CLOCK_SKEW_TICKS; i++) {
		uint64_t t1   = clock_ticks();
		int64_t  wall = weir__realtime_ns();
		int64_t  mono = clock_mono();
		uint64_t t2   = clock_ticks();
		if (t2 - t1 < best) {
			best = t2 - t1;
			*smp = (clock_sample) { t1 + best / 2, wall, mono };
		}
	}
}

static void
clock_calibrate(clock_state *s, const clock_sample *smp)
{
	s->phase = CLOCK_CALIBRATING;
	s->base  = *smp;
	s->span  = 0;
}

// 1 if the TSC and CLOCK_MONOTONIC agree on the time since the anchor.
static int
clock_plausible(const clock_state *s, const clock_sample *smp)
{
	if (smp->tsc < s->tsc_anchor || smp->mono < s->mono_anchor) {
		return 0;
	}
	int64_t by_mono = smp->mono - s->mono_anchor;
	int64_t by_tsc =
	    (int64_t) (((clock_u128) (smp->tsc - s->tsc_anchor) * s->mult) >>
	        32);
	int64_t diff = by_tsc - by_mono;
	return (diff < 0 ? -diff : diff) <= by_mono / 64 + CLOCK_SLACK_NS;
}

static void
clock_set_anchor(clock_state *s, const clock_sample *smp)
{
	clock_u128 ns  = (clock_u128) (uint64_t) (smp->mono - s->base.mono);
	uint64_t   mul = (uint64_t) ((ns << 32) / (smp->tsc - s->base.tsc));
	s->mult        = mul ? mul : 1;
	s->span =
	    (uint64_t) (((clock_u128) WEIR__CLOCK_ANCHOR_NS << 32) / s->mult);
	s->tsc_anchor  = smp->tsc;
	s->wall_anchor = smp->wall;
	s->mono_anchor = smp->mono;
	s->phase       = CLOCK_RUNNING;
}

// Out of line: inlined, it made weir__now_ns save six registers on
// every call for the one in ~10^4 that reads the clocks.
static __attribute__((noinline)) int64_t
clock_anchor(clock_state *s)
{
	if (s->phase == CLOCK_OFF) {
		return weir__realtime_ns();
	}
	clock_sample smp;
	clock_read_sample(&smp);
	if (s->phase == CLOCK_NEW) {
		if (!clock_tsc_usable()) {
			s->phase = CLOCK_OFF;
			return smp.wall;
		}
		clock_calibrate(s, &smp);
	} else if (s->phase == CLOCK_RUNNING ? !clock_plausible(s, &smp)
	                                     : smp.tsc <= s->base.tsc) {
		clock_calibrate(s, &smp); // the TSC jumped: start again
	} else if (smp.mono - s->base.mono >= CLOCK_CALIBRATE_NS) {
		clock_set_anchor(s, &smp);
	}
	return smp.wall;
}

int64_t
weir__now_ns(void)
{
	// Unsigned: a TSC below the anchor wraps to a huge distance, which
	// takes the slow path too. d * mult < span * mult fits 64 bits
	// (WEIR__CLOCK_ANCHOR_NS << 32).
	clock_state *s = &clock_tls;
	uint64_t     d = clock_ticks() - s->tsc_anchor;
	if (d < s->span) {
		return s->wall_anchor + (int64_t) ((d * s->mult) >> 32);
	}
	return clock_anchor(s);
}

void
weir__cpu_relax(void)
{
	_mm_pause();
}

int
weir__cpu_prefetchw(void)
{
	// CPUID is slow under a hypervisor (it exits): ask once.
	static atomic_int known = -1;
	int v = atomic_load_explicit(&known, memory_order_relaxed);
	if (v < 0) {
		unsigned a, b, c, d;
		v = __get_cpuid(0x80000001, &a, &b, &c, &d) && ((c >> 8) & 1);
		atomic_store_explicit(&known, v, memory_order_relaxed);
	}
	return v;
}
