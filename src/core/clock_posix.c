// Clocks from clock_gettime(), for every platform.
#include <time.h>

#include "core/clock.h"

int64_t
weir__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
weir__mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
weir__cpu_relax(void)
{
	// Nothing portable to say to the CPU.
}
