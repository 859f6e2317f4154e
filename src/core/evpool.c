// Design notes. Events are allocated by publishers and freed by loop
// threads; with malloc that is a cross-thread free per event, which
// takes the arena lock and was the largest cost of publish-to-dispatch.
// Here each thread caches free blocks per size class in an array (not a
// list threaded through the blocks) and trades whole magazines of
// EVPOOL_BATCH pointers with a shared depot under a mutex: one lock per
// EVPOOL_BATCH blocks on either side.
//
// Why an array: a freed block was last touched by the loop's core, so
// the publisher that takes it waits for its lines to come back. Knowing
// the next blocks without reading them lets alloc prefetch (for writing,
// see prefetch.h)
// the block EVPOOL_AHEAD allocations ahead, so those transfers overlap
// the work of the events in between instead of stalling each one; an
// intrusive list can only look one block ahead, as reading the link is
// itself the miss. The freeing thread never writes a block either, so a
// line the loop only read needs an invalidation, not a transfer back.
//
// Size classes: events are mostly small (a 72-byte struct, a topic, a
// payload), so the small classes are close together: a block is what an
// event really costs while it is queued (with a 64-byte payload, 152
// bytes fit a topic of up to 7 bytes, 168 one of up to 23). A thread's
// cache is 4 KiB of pointers per class. Each size is 8 below a multiple
// of 16, the most glibc's malloc hands out for its chunk (it keeps 8
// bytes of header), and a 16-byte multiple is what most other allocators
// round to anyway.
//
// The depot holds at most 16 MiB per size class (and 256 magazines), so
// cached memory stays bounded; the rest goes back to the allocator. Magazines
// leave the depot oldest first: their blocks have had time to leave the
// freeing thread's cache. A thread's cache returns to the depot when the
// thread exits. Under AddressSanitizer the pool is bypassed so that use after
// free of events is still caught.
#include <pthread.h>
#include <string.h>

#include "core/alloc.h"
#include "core/evpool.h"
#include "core/prefetch.h"
#include "core/tls.h"

#define EVPOOL_CLASSES 7
#define EVPOOL_BATCH 256
#define EVPOOL_AHEAD 6      // allocations a prefetch runs ahead
#define EVPOOL_PREFETCH 256 // bytes of a block prefetched

#if defined(__SANITIZE_ADDRESS__)
#define EVPOOL_ENABLED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EVPOOL_ENABLED 0
#endif
#endif
#ifndef EVPOOL_ENABLED
#define EVPOOL_ENABLED 1
#endif

static const size_t evpool_sizes[EVPOOL_CLASSES] = { 152, 168, 184, 248, 504,
	1016, 2040 };
#define EVPOOL_DEPOT_SLOTS 256
#define EVPOOL_DEPOT_BYTES ((size_t) 16 << 20)

typedef struct evpool_mag {
	void *blk[EVPOOL_BATCH];
} evpool_mag;

// A thread's free blocks of one class, oldest at [0]; it holds up to two
// magazines' worth so that alloc and free at a boundary do not trade a
// magazine back and forth.
typedef struct evpool_cache {
	int    prefetchw; // the CPU has PREFETCHW
	size_t n[EVPOOL_CLASSES];
	void  *blk[EVPOOL_CLASSES][2 * EVPOOL_BATCH];
} evpool_cache;

// The depot: per class, a FIFO ring of full magazines.
static pthread_mutex_t evpool_mx = PTHREAD_MUTEX_INITIALIZER;
static evpool_mag     *evpool_depot[EVPOOL_CLASSES][EVPOOL_DEPOT_SLOTS];
static size_t          evpool_first[EVPOOL_CLASSES];
static size_t          evpool_ndepot[EVPOOL_CLASSES];
static pthread_key_t   evpool_key;
static pthread_once_t  evpool_once = PTHREAD_ONCE_INIT;

static _Thread_local evpool_cache *evpool_tc WEIR__TLS_FAST;

// Magazines the depot keeps of class @p c: 16 MiB of blocks, at most
// EVPOOL_DEPOT_SLOTS.
static size_t
evpool_depot_max(int c)
{
	size_t n = EVPOOL_DEPOT_BYTES / (EVPOOL_BATCH * evpool_sizes[c]);
	return n < EVPOOL_DEPOT_SLOTS ? n : EVPOOL_DEPOT_SLOTS;
}

static void
evpool_free_blocks(void **blk, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		weir__free(blk[i]);
	}
}

// Takes the depot's oldest magazine of class @p cls, or NULL; the
// caller holds evpool_mx.
static evpool_mag *
evpool_depot_pop(int cls)
{
	if (evpool_ndepot[cls] == 0) {
		return NULL;
	}
	evpool_mag *m     = evpool_depot[cls][evpool_first[cls]];
	evpool_first[cls] = (evpool_first[cls] + 1) % EVPOOL_DEPOT_SLOTS;
	evpool_ndepot[cls]--;
	return m;
}

// Hands the cache's oldest EVPOOL_BATCH blocks of class @p c to the
// depot (or frees them when the depot is full or no magazine can be
// allocated) and moves the rest down.
static void
evpool_give_oldest(evpool_cache *tc, int c)
{
	void      **blk  = tc->blk[c];
	evpool_mag *m    = weir__alloc(sizeof(*m));
	int         kept = 0;
	if (m != NULL) {
		memcpy(m->blk, blk, sizeof(m->blk));
		pthread_mutex_lock(&evpool_mx);
		kept = evpool_ndepot[c] < evpool_depot_max(c);
		if (kept) {
			size_t at = (evpool_first[c] + evpool_ndepot[c]++) %
			    EVPOOL_DEPOT_SLOTS;
			evpool_depot[c][at] = m;
		}
		pthread_mutex_unlock(&evpool_mx);
	}
	if (!kept) {
		weir__free(m);
		evpool_free_blocks(blk, EVPOOL_BATCH);
	}
	tc->n[c] -= EVPOOL_BATCH;
	memmove(blk, blk + EVPOOL_BATCH, tc->n[c] * sizeof(void *));
}

static evpool_mag *
evpool_take_mag(int cls)
{
	pthread_mutex_lock(&evpool_mx);
	evpool_mag *m = evpool_depot_pop(cls);
	pthread_mutex_unlock(&evpool_mx);
	return m;
}

static void
evpool_thread_exit(void *arg)
{
	evpool_cache *tc = arg;
	for (int c = 0; c < EVPOOL_CLASSES; c++) {
		if (tc->n[c] >= EVPOOL_BATCH) {
			evpool_give_oldest(tc, c);
		}
		evpool_free_blocks(tc->blk[c], tc->n[c]);
	}
	weir__free(tc);
	evpool_tc = NULL;
}

static void
evpool_key_make(void)
{
	pthread_key_create(&evpool_key, evpool_thread_exit);
}

// The calling thread's cache, made on first use (NULL if out of memory:
// the pool is then bypassed).
static evpool_cache *
evpool_cache_get(void)
{
	if (evpool_tc == NULL) {
		pthread_once(&evpool_once, evpool_key_make);
		evpool_cache *tc = weir__alloc(sizeof(*tc));
		if (tc == NULL) {
			return NULL;
		}
		memset(tc->n, 0, sizeof(tc->n));
		tc->prefetchw = weir__cpu_prefetchw();
		pthread_setspecific(evpool_key, tc);
		evpool_tc = tc;
	}
	return evpool_tc;
}

static void
evpool_prefetch(const evpool_cache *tc, const char *b, size_t size)
{
	for (size_t off = 0; off < size && off < EVPOOL_PREFETCH; off += 64) {
		weir__prefetch_write(b + off, tc->prefetchw);
	}
}

// Refills an empty cache with a magazine from the depot; returns 0 if
// the depot has none.
static int
evpool_refill(evpool_cache *tc, int c)
{
	evpool_mag *m = evpool_take_mag(c);
	if (m == NULL) {
		return 0;
	}
	memcpy(tc->blk[c], m->blk, sizeof(m->blk));
	tc->n[c] = EVPOOL_BATCH;
	weir__free(m);
	for (size_t i = 1; i <= EVPOOL_AHEAD; i++) {
		evpool_prefetch(
		    tc, tc->blk[c][EVPOOL_BATCH - i], evpool_sizes[c]);
	}
	return 1;
}

int
weir__evpool_class(size_t size)
{
	int c = 0;
	while (c < EVPOOL_CLASSES && size > evpool_sizes[c]) {
		c++;
	}
	return c < EVPOOL_CLASSES ? c : -1;
}

// The slow half of alloc: the pool bypassed, no cache yet, or the cache
// nearly dry (refilled once empty). Out of line so that the common case
// saves no registers.
static __attribute__((noinline)) weir__evpool_blk
evpool_alloc_slow(size_t size)
{
	int           c  = weir__evpool_class(size);
	evpool_cache *tc = NULL;
	if (EVPOOL_ENABLED && c >= 0) {
		tc = evpool_cache_get();
	}
	if (tc == NULL) {
		return (weir__evpool_blk) { weir__alloc(size), -1 };
	}
	if (tc->n[c] == 0 && !evpool_refill(tc, c)) {
		return (weir__evpool_blk) { weir__alloc(evpool_sizes[c]), c };
	}
	size_t n = --tc->n[c];
	if (n >= EVPOOL_AHEAD) {
		evpool_prefetch(
		    tc, tc->blk[c][n - EVPOOL_AHEAD], evpool_sizes[c]);
	}
	return (weir__evpool_blk) { tc->blk[c][n], c };
}

// The first EVPOOL_PREFETCH bytes of a block of class @p c, as
// evpool_prefetch takes them, unrolled: every class has at least three
// lines of them, and the classes from 248 bytes up four.
_Static_assert(EVPOOL_PREFETCH == 256, "evpool_prefetch_class unrolls it");

static inline void
evpool_prefetch_class(const evpool_cache *tc, const char *b, int c)
{
	weir__prefetch_write(b, tc->prefetchw);
	weir__prefetch_write(b + 64, tc->prefetchw);
	weir__prefetch_write(b + 128, tc->prefetchw);
	if (c >= 3) {
		weir__prefetch_write(b + 192, tc->prefetchw);
	}
}

weir__evpool_blk
weir__evpool_alloc(size_t size)
{
	// The common case: the thread's cache has a block of the class and
	// the one EVPOOL_AHEAD allocations on is prefetched.
	evpool_cache *tc = evpool_tc;
	int           c  = weir__evpool_class(size);
	if (EVPOOL_ENABLED && tc != NULL && c >= 0 &&
	    tc->n[c] > EVPOOL_AHEAD) {
		size_t n = --tc->n[c];
		evpool_prefetch_class(tc, tc->blk[c][n - EVPOOL_AHEAD], c);
		return (weir__evpool_blk) { tc->blk[c][n], c };
	}
	return evpool_alloc_slow(size);
}

// The slow half of free: no cache yet, or the cache is full. Kept out
// of line so that the common case saves no registers.
static __attribute__((noinline)) void
evpool_free_slow(void *p, int cls)
{
	evpool_cache *tc = evpool_cache_get();
	if (tc == NULL) {
		weir__free(p);
		return;
	}
	if (tc->n[cls] == 2 * EVPOOL_BATCH) {
		// Full: the oldest magazine goes to the depot, the newest
		// blocks stay for this thread's own allocations.
		evpool_give_oldest(tc, cls);
	}
	tc->blk[cls][tc->n[cls]++] = p;
}

void
weir__evpool_free(void *p, int cls)
{
	evpool_cache *tc = evpool_tc;
	if (cls < 0) {
		weir__free(p);
	} else if (tc != NULL && tc->n[cls] < 2 * EVPOOL_BATCH) {
		tc->blk[cls][tc->n[cls]++] = p;
	} else {
		evpool_free_slow(p, cls);
	}
}

void
weir__evpool_free_n(void *const *p, const int *cls, size_t n)
{
	evpool_cache *tc = evpool_tc;
	for (size_t i = 0; i < n; i++) {
		int c = cls[i];
		if (c >= 0 && tc != NULL && tc->n[c] < 2 * EVPOOL_BATCH) {
			tc->blk[c][tc->n[c]++] = p[i];
		} else {
			weir__evpool_free(p[i], c);
			tc = evpool_tc; // the slow path may have made it
		}
	}
}

void
weir__evpool_flush(void)
{
	evpool_cache *tc = evpool_tc;
	for (int c = 0; c < EVPOOL_CLASSES; c++) {
		if (tc != NULL) {
			evpool_free_blocks(tc->blk[c], tc->n[c]);
			tc->n[c] = 0;
		}
		pthread_mutex_lock(&evpool_mx);
		evpool_mag *m;
		while ((m = evpool_depot_pop(c)) != NULL) {
			evpool_free_blocks(m->blk, EVPOOL_BATCH);
			weir__free(m);
		}
		pthread_mutex_unlock(&evpool_mx);
	}
	if (tc != NULL) {
		// Made with the allocator being replaced: it goes too.
		pthread_setspecific(evpool_key, NULL);
		weir__free(tc);
		evpool_tc = NULL;
	}
}
