/*
 * Helpers shared by the issue-3 tests (threads, embed, async, storm,
 * retry, stats, adapters): waiting without tight timing assertions.
 */
#ifndef WEIR_LOOPS_UTIL_H
#define WEIR_LOOPS_UTIL_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include <weir/weir.h>

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

/* A handler that counts its calls in the atomic its arg points to. */
static inline weir_err
lu_count_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	atomic_fetch_add((atomic_uint_least64_t *) arg, 1);
	return WEIR_OK;
}

/* A bus that owns @p n loop threads; NULL on failure. */
static inline weir_bus *
lu_bus_with_loops(size_t n)
{
	weir_bus_config *cfg;
	weir_bus        *bus = NULL;
	if (weir_bus_config_create(&cfg) != WEIR_OK) {
		return NULL;
	}
	if (weir_bus_config_set_loops(cfg, n) != WEIR_OK ||
	    weir_bus_create(&bus, cfg) != WEIR_OK) {
		bus = NULL;
	}
	weir_bus_config_destroy(cfg);
	return bus;
}

#endif
