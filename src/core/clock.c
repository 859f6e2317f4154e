// The clocks every platform has, from clock_gettime(); clock_tsc.c and
// clock_posix.c add the event stamp clock and the spin hint.
#include <time.h>

#include "core/clock.h"

static int64_t
clock_read(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
weir__realtime_ns(void)
{
	return clock_read(CLOCK_REALTIME);
}

int64_t
weir__mono_ns(void)
{
	return clock_read(CLOCK_MONOTONIC);
}
