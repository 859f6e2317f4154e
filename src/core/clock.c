// The clocks every platform has, from clock_gettime(); clock_tsc.c and
// clock_posix.c add the event stamp clock and the spin hint.
#include <stdatomic.h>
#include <time.h>

#include "core/clock.h"

static int64_t
clock_read(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#ifdef WEIR_TESTING
// The test hooks: a wall-clock step and a fake source (clock_test.c).
static _Atomic(const weir__clock_fake *) clock_fake;
static atomic_int_least64_t              clock_step;

void
weir__clock_test_fake(const weir__clock_fake *fake)
{
	atomic_store(&clock_fake, fake);
	weir__clock_test_reset();
}

void
weir__clock_test_step(int64_t ns)
{
	atomic_store(&clock_step, ns);
}

const weir__clock_fake *
weir__clock_test_get(void)
{
	return atomic_load_explicit(&clock_fake, memory_order_relaxed);
}

int64_t
weir__realtime_ns(void)
{
	const weir__clock_fake *fake = weir__clock_test_get();
	if (fake != NULL) {
		return fake->wall;
	}
	return clock_read(CLOCK_REALTIME) +
	    atomic_load_explicit(&clock_step, memory_order_relaxed);
}
#else
int64_t
weir__realtime_ns(void)
{
	return clock_read(CLOCK_REALTIME);
}
#endif

int64_t
weir__mono_ns(void)
{
	return clock_read(CLOCK_MONOTONIC);
}
