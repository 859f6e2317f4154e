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

#include "core/evpool.h"

/* An allocator counting live blocks from any thread. */
static atomic_long counted_live;

static atomic_int counted_fail; /* malloc_fn returns NULL */

static void *
counted_malloc(size_t n)
{
	void *p = atomic_load(&counted_fail) ? NULL : malloc(n);
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

#define BLK_SIZE 100

/* A thread's cache overflowing when the allocator cannot make the
 * magazine that would carry the oldest blocks to the depot: those blocks
 * go back to the allocator at once (nothing is lost or kept past the
 * bound), and the rest come back when the allocator is switched. */
#define OVERFLOW_BLOCKS 600

static void *
overflow_fail_thread(void *arg)
{
	long *out = arg; // blocks freed, the class (-1: no pool)
	void *a[OVERFLOW_BLOCKS];
	int   cls = -1;
	for (size_t i = 0; i < OVERFLOW_BLOCKS; i++) {
		weir__evpool_blk b = weir__evpool_alloc(BLK_SIZE);
		assert_non_null(b.p);
		a[i] = b.p;
		cls  = b.cls;
	}
	long before = atomic_load(&counted_live);
	atomic_store(&counted_fail, 1);
	for (size_t i = 0; i < OVERFLOW_BLOCKS; i++) {
		weir__evpool_free(a[i], cls);
	}
	atomic_store(&counted_fail, 0);
	out[0] = before - atomic_load(&counted_live);
	out[1] = cls;
	return NULL;
}

static void
test_overflow_without_magazine(void **state)
{
	(void) state;
	long out[2] = { -1, -1 };
	atomic_store(&counted_live, 0);
	weir_set_allocator(&counted);
	pthread_t th;
	pthread_create(&th, NULL, overflow_fail_thread, out);
	pthread_join(th, NULL);
	// The cache keeps two batches (512 blocks of a class): at the 512th
	// free the oldest 256 went back to the allocator. Without the pool
	// (AddressSanitizer) each block is freed.
	assert_int_equal(out[0], out[1] >= 0 ? 256 : OVERFLOW_BLOCKS);
	weir_set_allocator(NULL);
	assert_int_equal(atomic_load(&counted_live), 0);
}

/* Single allocations (weir__evpool_alloc) through the cache's fast path,
 * the slow half once EVPOOL_AHEAD or fewer blocks are left, and the
 * allocator once the cache and the depot are dry: newest block first,
 * each block once, one class; a size past every class comes from the
 * allocator with class -1. */
#define SINGLE_FREED 20
#define SINGLE_TAKEN 30

static void *
alloc_single_thread(void *arg)
{
	(void) arg;
	void            *freed[SINGLE_FREED], *a[SINGLE_TAKEN];
	weir__evpool_blk b;
	int              cls = -2;
	for (size_t i = 0; i < SINGLE_FREED; i++) {
		b = weir__evpool_alloc(BLK_SIZE);
		assert_non_null(b.p);
		freed[i] = b.p;
		cls      = b.cls;
	}
	for (size_t i = 0; i < SINGLE_FREED; i++) {
		weir__evpool_free(freed[i], cls);
	}
	for (size_t i = 0; i < SINGLE_TAKEN; i++) {
		b = weir__evpool_alloc(BLK_SIZE);
		assert_non_null(b.p);
		assert_int_equal(b.cls, cls);
		if (cls >= 0 && i < SINGLE_FREED) {
			// The cache is a stack: the last block freed first.
			assert_ptr_equal(b.p, freed[SINGLE_FREED - 1 - i]);
		}
		for (size_t j = 0; j < i; j++) {
			assert_ptr_not_equal(b.p, a[j]);
		}
		a[i] = b.p;
	}
	for (size_t i = 0; i < SINGLE_TAKEN; i++) {
		weir__evpool_free(a[i], cls);
	}
	b = weir__evpool_alloc(1u << 20);
	assert_non_null(b.p);
	assert_int_equal(b.cls, -1);
	weir__evpool_free(b.p, b.cls);
	return NULL;
}

static void
test_alloc_single_fast_and_slow(void **state)
{
	(void) state;
	atomic_store(&counted_live, 0);
	weir_set_allocator(&counted); // the depot is emptied: dry
	pthread_t th;
	pthread_create(&th, NULL, alloc_single_thread, NULL);
	pthread_join(th, NULL);
	weir_set_allocator(NULL);
	assert_int_equal(atomic_load(&counted_live), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_overflow_without_magazine),
		cmocka_unit_test(test_alloc_single_fast_and_slow),
		cmocka_unit_test(test_burst_is_bounded_and_all_comes_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
