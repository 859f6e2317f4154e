/*
 * Helpers shared by the issue-3 tests (threads, embed, async, storm,
 * retry, stats, adapters): waiting without tight timing assertions.
 */
#ifndef WEIR_LOOPS_UTIL_H
#define WEIR_LOOPS_UTIL_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

static inline int64_t
lu_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void
lu_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/* Waits up to 30 s for *v >= want; returns 1 if reached. */
static inline int
lu_wait_u64(atomic_uint_least64_t *v, uint64_t want)
{
	int64_t end = lu_now_ms() + 30000;
	while (atomic_load(v) < want) {
		if (lu_now_ms() > end) {
			return 0;
		}
		lu_sleep_ms(1);
	}
	return 1;
}

#endif
