/*
 * Event block recycling (src/core/evpool.c), seen from outside: events
 * published on one thread and released on a loop thread come back to
 * the allocator in full once the threads are gone and the allocator is
 * switched, and the pool's cache stays bounded after a burst far larger
 * than it keeps. (Under AddressSanitizer the pool is bypassed; the
 * counts must hold all the same.)
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "weir_test.h"

/* An allocator counting live blocks from any thread. */
static atomic_long counted_live;

static void *
counted_malloc(size_t n)
{
	void *p = malloc(n);
	atomic_fetch_add(&counted_live, p != NULL);
	return p;
}

static void *
counted_calloc(size_t n, size_t size)
{
	void *p = calloc(n, size);
	atomic_fetch_add(&counted_live, p != NULL);
	return p;
}

static void *
counted_realloc(void *p, size_t n)
{
	void *q = realloc(p, n);
	atomic_fetch_add(&counted_live, p == NULL && q != NULL);
	return q;
}

static void
counted_free(void *p)
{
	atomic_fetch_sub(&counted_live, p != NULL);
	free(p);
}

static const weir_allocator counted = {
	.size       = sizeof(weir_allocator),
	.malloc_fn  = counted_malloc,
	.calloc_fn  = counted_calloc,
	.realloc_fn = counted_realloc,
	.free_fn    = counted_free,
};

#define BURST 200000

/* Publishes @p n 64-byte events from this thread to a loop thread and
 * waits until all were dispatched; returns live blocks after the loop
 * thread has exited and the bus is gone. */
static long
publish_burst(uint64_t n)
{
	weir_bus             *bus;
	weir_subscr_config   *sc;
	weir_subscr          *sub;
	atomic_uint_least64_t got         = 0;
	unsigned char         payload[64] = { 0 };
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_ok(weir_subscr_config_set_capacity(sc, BURST));
	assert_weir_ok(weir_subscribe(
	    &sub, bus, "p.q", wt_count_handler, &got, NULL, sc));
	weir_subscr_config_destroy(sc);
	// All of it queued first (the burst), then drained elsewhere.
	for (uint64_t i = 0; i < n; i++) {
		assert_weir_ok(weir_publish(
		    bus, "p.q", payload, sizeof(payload), 0, NULL));
	}
	pthread_t th;
	pthread_create(&th, NULL, wt_run_bus, bus);
	while (atomic_load(&got) < n) {
		sched_yield();
	}
	weir_bus_stop(bus);
	pthread_join(th, NULL); // its cache goes to the depot or is freed
	weir_bus_destroy(bus);
	return atomic_load(&counted_live);
}

static void
test_burst_is_bounded_and_all_comes_back(void **state)
{
	(void) state;
	atomic_store(&counted_live, 0);
	weir_set_allocator(&counted);
	long after = publish_burst(BURST);
	// 200,000 blocks were live at the peak. What stays cached is at
	// most 256 magazines of 256 blocks (65,536) in the depot, with its
	// magazines, plus this thread's cache of up to 512 blocks.
	assert_true(after <= 65536 + 256 + 512 + 8);
	// A second burst reuses what was kept rather than adding to it.
	long again = publish_burst(BURST);
	assert_true(again <= 65536 + 256 + 512 + 8);
	// Switching allocators hands every cached block back to the old one.
	weir_set_allocator(NULL);
	assert_int_equal(atomic_load(&counted_live), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_is_bounded_and_all_comes_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
