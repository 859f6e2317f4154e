// The event stamp clock where no cheaper counter is known: plain
// clock_gettime(CLOCK_REALTIME).
#include "core/clock.h"
#include "core/prefetch.h"

int64_t
weir__now_ns(void)
{
	return weir__realtime_ns();
}

void
weir__cpu_relax(void)
{
	// Nothing portable to say to the CPU.
}

int
weir__cpu_prefetchw(void)
{
	return 0; // __builtin_prefetch does the right thing elsewhere
}

#ifdef WEIR_TESTING
void
weir__clock_test_reset(void)
{
	// No per-thread state: every stamp reads clock_gettime().
}
#endif
