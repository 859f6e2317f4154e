/*
 * Shared helpers for weir's cmocka tests.
 */
#ifndef WEIR_TEST_H
#define WEIR_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

/* A handler that does nothing. */
static inline weir_err
wt_nop_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	(void) arg;
	return WEIR_OK;
}

/* A thread body that runs a bus's default loop until it is stopped. */
static inline void *
wt_run_bus(void *bus)
{
	weir_bus_run(bus, WEIR_RUN_DEFAULT);
	return NULL;
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
