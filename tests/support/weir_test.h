/*
 * Shared helpers for weir's cmocka tests: the clock, bounded waits,
 * handlers and thread bodies every test may use. One name each, wt_
 * prefix; helpers of one module's fixtures live beside its tests
 * (tests/store/fixture.h).
 */
#ifndef WEIR_TEST_H
#define WEIR_TEST_H

#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <weir/weir.h>

/* Monotonic milliseconds, for tests that bound or measure a wait. */
static inline int64_t
wt_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps @p ms milliseconds: the pause of a polling wait, never a stand-in
 * for a condition that can be waited on. */
static inline void
wt_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/* How long a bounded wait waits before it calls the condition lost: far
 * longer than any condition needs on a loaded machine (they take
 * milliseconds), shorter than any test's ctest TIMEOUT (30 s at least),
 * so a regression fails instead of timing out. */
#define WT_WAIT_MS 10000

/* Waits up to WT_WAIT_MS for *v >= want; returns 1 if reached. Any
 * thread (it asserts nothing). */
static inline int
wt_wait_u64(atomic_uint_least64_t *v, uint64_t want)
{
	int64_t end = wt_now_ms() + WT_WAIT_MS;
	while (atomic_load(v) < want) {
		if (wt_now_ms() > end) {
			return 0;
		}
		wt_sleep_ms(1);
	}
	return 1;
}

/* wt_wait_until(cond): polls @p cond every millisecond until it holds;
 * fails the test after WT_WAIT_MS. The test's thread only (it fails
 * through cmocka); other threads poll with wt_now_ms() and
 * WT_WAIT_MS themselves. */
#define wt_wait_until(cond)                                          \
	do {                                                         \
		int64_t wt_end_ = wt_now_ms() + WT_WAIT_MS;          \
		while (!(cond)) {                                    \
			if (wt_now_ms() > wt_end_) {                 \
				print_error("waited %d ms for %s\n", \
				    WT_WAIT_MS, #cond);              \
				fail();                              \
			}                                            \
			wt_sleep_ms(1);                              \
		}                                                    \
	} while (0)

/* assert_weir_ok(expr): fails with the error's name and text. */
#define assert_weir_ok(expr)                                  \
	do {                                                  \
		weir_err weir_rv_ = (expr);                   \
		if (weir_rv_ != WEIR_OK) {                    \
			print_error("%s -> %s (%s)\n", #expr, \
			    weir_err_name(weir_rv_),          \
			    weir_strerror(weir_rv_));         \
			fail();                               \
		}                                             \
	} while (0)

/* assert_weir_err(expr, code): expects exactly that error. */
#define assert_weir_err(expr, code)                                        \
	do {                                                               \
		weir_err weir_rv_ = (expr);                                \
		if (weir_rv_ != (code)) {                                  \
			print_error("%s -> %s, expected %s\n", #expr,      \
			    weir_err_name(weir_rv_), weir_err_name(code)); \
			fail();                                            \
		}                                                          \
	} while (0)

/* A string of @p len copies of @p c (NUL-terminated; free() it), for
 * values at a size limit. */
static inline char *
wt_filled(size_t len, char c)
{
	char *p = malloc(len + 1);
	assert_non_null(p);
	memset(p, c, len);
	p[len] = '\0';
	return p;
}

/* A handler that does nothing. */
static inline weir_err
wt_nop_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	(void) arg;
	return WEIR_OK;
}

/* A handler that counts its calls in the atomic_uint_least64_t its arg
 * points to (any thread). */
static inline weir_err
wt_count_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	atomic_fetch_add((atomic_uint_least64_t *) arg, 1);
	return WEIR_OK;
}

/* A handler that counts its calls in the int its arg points to: for
 * handlers run on the test's own thread only. */
static inline weir_err
wt_count_int_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	(*(int *) arg)++;
	return WEIR_OK;
}

/* A thread body that runs a bus's default loop until it is stopped. */
static inline void *
wt_run_bus(void *bus)
{
	weir_bus_run(bus, WEIR_RUN_DEFAULT);
	return NULL;
}

/* A thread body that runs a loop until it is stopped. */
static inline void *
wt_run_loop(void *loop)
{
	weir_loop_run(loop, WEIR_RUN_DEFAULT);
	return NULL;
}

/* A bus that owns @p n loop threads (not started); NULL on failure. */
static inline weir_bus *
wt_bus_with_loops(size_t n)
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

/* A subscription config with a capacity and a policy; the caller
 * destroys it. */
static inline weir_subscr_config *
wt_subscr_config(size_t cap, weir_policy pol, int64_t timeout_ms)
{
	weir_subscr_config *sc;
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_ok(weir_subscr_config_set_capacity(sc, cap));
	assert_weir_ok(weir_subscr_config_set_policy(sc, pol, timeout_ms));
	return sc;
}

/* Subscribes @p fn to @p topic on @p loop (a loop of the caller's
 * own, not one of the bus's). */
static inline void
wt_subscribe_on(weir_subscr **sub, weir_bus *bus, weir_loop *loop,
    const char *topic, weir_handler fn, void *arg)
{
	weir_subscr_config *sc;
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_ok(weir_subscr_config_set_loop(sc, loop));
	assert_weir_ok(weir_subscribe(sub, bus, topic, fn, arg, NULL, sc));
	weir_subscr_config_destroy(sc);
}

/* Subscribes @p fn to @p topic with retries (max_attempts, base_ms,
 * max_ms as weir_subscr_config_set_retry takes them) and nothing else
 * set. */
static inline weir_subscr *
wt_subscribe_retry(weir_bus *bus, const char *topic, weir_handler fn,
    void *arg, uint32_t attempts, uint32_t base_ms, uint32_t max_ms)
{
	weir_subscr_config *sc;
	weir_subscr        *sub;
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_ok(
	    weir_subscr_config_set_retry(sc, attempts, base_ms, max_ms));
	assert_weir_ok(weir_subscribe(&sub, bus, topic, fn, arg, NULL, sc));
	weir_subscr_config_destroy(sc);
	return sub;
}

/* @p sub's counters (weir_subscr_stats_get must succeed). */
static inline weir_subscr_stats
wt_subscr_stats(weir_subscr *sub)
{
	weir_subscr_stats st = WEIR_STRUCT_INIT(weir_subscr_stats);
	assert_weir_ok(weir_subscr_stats_get(sub, &st));
	return st;
}

/* A subscription's counters add up: published = delivered + dropped +
 * rejected + timed_out + coalesced + queued, exactly. */
static inline void
wt_assert_adds_up(const weir_subscr_stats *st)
{
	uint64_t sum = st->delivered + st->dropped + st->rejected +
	    st->timed_out + st->coalesced + st->queued;
	if (st->published != sum) {
		print_error(
		    "published %llu != delivered %llu + dropped %llu + "
		    "rejected %llu + timed_out %llu + coalesced %llu + "
		    "queued %llu\n",
		    (unsigned long long) st->published,
		    (unsigned long long) st->delivered,
		    (unsigned long long) st->dropped,
		    (unsigned long long) st->rejected,
		    (unsigned long long) st->timed_out,
		    (unsigned long long) st->coalesced,
		    (unsigned long long) st->queued);
		fail();
	}
}

/* 1 when the run is CI's (CI=true): there a missing precondition is a
 * failure, never a skip, so a broken machine cannot pass quietly. */
static inline int
wt_in_ci(void)
{
	const char *ci = getenv("CI");
	return ci != NULL && strcmp(ci, "true") == 0;
}

/* Skips the test for @p why, or fails it with CI=true. */
#define wt_skip_unless_ci(why)                                          \
	do {                                                            \
		if (wt_in_ci()) {                                       \
			print_error("CI=true and %s: failed\n", (why)); \
			fail();                                         \
		}                                                       \
		print_message("skipped: %s\n", (why));                  \
		skip();                                                 \
	} while (0)

/* 1 if @p fd is readable now (it does not wait). */
static inline int
wt_fd_readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}

/* Publishes one event with a key and a payload; aborts if it cannot
 * even be made (a thread cannot fail a cmocka test). */
static inline void
wt_publish_keyed(weir_bus *bus, const char *topic, const char *key,
    size_t key_len, const void *payload, size_t len)
{
	weir_event_init init = { .size = sizeof(weir_event_init),
		.topic                 = topic,
		.key                   = key,
		.key_len               = key_len,
		.payload               = payload,
		.payload_len           = len };
	weir_event     *ev;
	if (weir_event_new(&ev, &init) != WEIR_OK) {
		abort();
	}
	weir_publish_event(bus, ev);
	weir_event_release(ev);
}

#endif /* WEIR_TEST_H */
