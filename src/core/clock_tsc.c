// Design notes. On x86-64 with an invariant TSC, unix time is read as
// the TSC scaled by a per-thread calibration: rdtsc costs about 10 ns
// where clock_gettime(CLOCK_REALTIME) costs about 24 ns here, and every
// published event needs one. Each thread calibrates itself: for its
// first CLOCK_CALIBRATE_NS it uses clock_gettime, then it extrapolates
// from an anchor re-read every CLOCK_RESYNC_NS (so NTP adjustments are
// followed within that period), refining the rate against its first
// sample each time. Without an invariant TSC it always uses
// clock_gettime. Per-thread state needs no locking.
#include <cpuid.h>
#include <x86intrin.h>

#include <stdatomic.h>

#include "core/clock.h"
#include "core/prefetch.h"

#define CLOCK_CALIBRATE_NS 20000000
#define CLOCK_RESYNC_NS 100000000

__extension__ typedef unsigned __int128 clock_u128;

typedef struct clock_state {
	int      phase; // 0 new, 1 calibrating, 2 extrapolating, -1 off
	uint64_t tsc_first;
	int64_t  ns_first;
	uint64_t tsc_anchor;
	int64_t  ns_anchor;
	uint64_t mult; // ns per tick, 32.32 fixed point
	uint64_t tsc_resync;
	int64_t  last;
} clock_state;

static _Thread_local clock_state clock_tls;

static int
clock_tsc_invariant(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(0x80000000, &a, &b, &c, &d) || a < 0x80000007) {
		return 0;
	}
	__get_cpuid(0x80000007, &a, &b, &c, &d);
	return (d >> 8) & 1;
}

static int64_t
clock_slow(clock_state *s, uint64_t tsc)
{
	int64_t ns = weir__realtime_ns();
	if (s->phase == 0) {
		s->phase     = clock_tsc_invariant() ? 1 : -1;
		s->tsc_first = tsc;
		s->ns_first  = ns;
	} else if (s->phase > 0 && ns - s->ns_first >= CLOCK_CALIBRATE_NS &&
	    tsc > s->tsc_first) {
		clock_u128 span = (clock_u128) (uint64_t) (ns - s->ns_first);
		s->mult = (uint64_t) ((span << 32) / (tsc - s->tsc_first));
		s->tsc_anchor = tsc;
		s->ns_anchor  = ns;
		s->tsc_resync = tsc +
		    (uint64_t) (((clock_u128) CLOCK_RESYNC_NS << 32) /
		        s->mult);
		s->phase = 2;
	}
	return ns;
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
#else
#define clock_ticks() __rdtsc()
#endif

int64_t
weir__now_ns(void)
{
	clock_state *s   = &clock_tls;
	uint64_t     tsc = clock_ticks();
	int64_t      ns;
	if (s->phase == 2 && tsc >= s->tsc_anchor && tsc < s->tsc_resync) {
		ns = s->ns_anchor +
		    (int64_t) (((clock_u128) (tsc - s->tsc_anchor) *
		                   s->mult) >>
		        32);
	} else {
		ns = clock_slow(s, tsc);
	}
	if (ns <= s->last) {
		ns = s->last + 1; // within a thread, time never goes back
	}
	s->last = ns;
	return ns;
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
