/*
 * Helpers shared by core_bench and its peers: a monotonic clock and the
 * result of one timed run. Header-only, static inline.
 */
#ifndef WEIR_BENCH_PEER_UTIL_H
#define WEIR_BENCH_PEER_UTIL_H

#include <stdint.h>
#include <time.h>

/* The payload every cross-thread case moves (bytes). */
#define BENCH_PAYLOAD 64

/* Monotonic time in nanoseconds. */
static inline uint64_t
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec);
}

#endif /* WEIR_BENCH_PEER_UTIL_H */
