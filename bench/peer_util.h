/*
 * Helpers shared by core_bench and its peers: a monotonic clock and the
 * result of one timed run. Header-only, static inline.
 */
#ifndef WEIR_BENCH_PEER_UTIL_H
#define WEIR_BENCH_PEER_UTIL_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/resource.h>
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

/*
 * The cross-thread cases put the producer on CPU 0 and the consumer on
 * CPU 1 (core_bench --no-pin turns it off): the case is a hand-off
 * between two cores, and left to the scheduler the two threads sometimes
 * share one vCPU and take turns, which measures something else (the
 * mutex queue then ran at 31-44 ns/event instead of 80-190). Set by
 * core_bench; 0 on a machine with fewer than 2 CPUs.
 */
extern int bench_pin_cpus;

/* Pins @p t to CPU @p cpu (when pinning is on). */
static inline void
bench_pin(pthread_t t, int cpu)
{
	cpu_set_t set;

	if (!bench_pin_cpus) {
		return;
	}
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(t, sizeof(set), &set);
}

/* Lets @p t run on every CPU again. */
static inline void
bench_unpin(pthread_t t)
{
	cpu_set_t set;

	if (!bench_pin_cpus) {
		return;
	}
	CPU_ZERO(&set);
	for (int i = 0; i < CPU_SETSIZE; i++) {
		CPU_SET(i, &set);
	}
	pthread_setaffinity_np(t, sizeof(set), &set);
}

/*
 * What a group of threads (a run's producers, or its consumer) cost:
 * CPU time, voluntary switches (the thread slept: a lock, a condition
 * variable, a full queue) and involuntary ones (preempted). Each thread
 * adds its own at its end (getrusage(RUSAGE_THREAD)). Unlike the wall
 * clock these hardly move with the other load of a shared machine.
 */
typedef struct bench_tuse {
	atomic_uint_least64_t cpu_ns;
	atomic_uint_least64_t vcsw;
	atomic_uint_least64_t ivcsw;
} bench_tuse;

/* Adds the calling thread's usage so far to @p u (NULL: nothing). */
static inline void
bench_tuse_add(bench_tuse *u)
{
	struct rusage ru;

	if (u == NULL || getrusage(RUSAGE_THREAD, &ru) != 0) {
		return;
	}
	atomic_fetch_add(&u->cpu_ns,
	    (uint64_t) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
	            1000000000u +
	        (uint64_t) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) *
	            1000u);
	atomic_fetch_add(&u->vcsw, (uint64_t) ru.ru_nvcsw);
	atomic_fetch_add(&u->ivcsw, (uint64_t) ru.ru_nivcsw);
}

#endif /* WEIR_BENCH_PEER_UTIL_H */
