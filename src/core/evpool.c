// Design notes. Events are allocated by publishers and freed by loop
// threads; with malloc that is a cross-thread free per event, which
// takes the arena lock and was the largest cost of publish-to-dispatch.
// Here each thread keeps a small free list per size class and trades
// whole batches with a shared depot under a mutex: one lock per
// EVPOOL_BATCH blocks on either side. The depot holds at most 16 MiB per
// size class, so cached memory stays bounded; the rest goes back to the
// allocator. Batches leave the depot oldest first: a block freed long ago
// has left the freeing thread's cache, and writing it then costs the
// allocating thread far less than writing one still hot over there
// (measured: 150 -> 70..130 ns per cross-thread event). A thread's cache
// returns to the depot when the thread exits. Under AddressSanitizer the pool
// is bypassed so that use after free of events is still caught.
#include <pthread.h>
#include <string.h>

#include "core/alloc.h"
#include "core/evpool.h"

#define EVPOOL_CLASSES 2
#define EVPOOL_BATCH 256

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

static const size_t evpool_sizes[EVPOOL_CLASSES] = { 256, 2048 };
// Batches the depot keeps per class: 16 MiB of blocks in each.
static const size_t evpool_depot_max[EVPOOL_CLASSES] = { 256, 32 };
#define EVPOOL_DEPOT_SLOTS 256

typedef struct evpool_block {
	struct evpool_block *next;
} evpool_block;

typedef struct evpool_list {
	evpool_block *head;
	size_t        n;
} evpool_list;

static pthread_mutex_t evpool_mx = PTHREAD_MUTEX_INITIALIZER;
static evpool_list     evpool_depot[EVPOOL_CLASSES][EVPOOL_DEPOT_SLOTS];
static size_t          evpool_ndepot[EVPOOL_CLASSES];
static pthread_key_t   evpool_key;
static pthread_once_t  evpool_once = PTHREAD_ONCE_INIT;

static _Thread_local evpool_list evpool_tls[EVPOOL_CLASSES];
static _Thread_local int         evpool_registered;

static void
evpool_free_list(evpool_block *b)
{
	while (b != NULL) {
		evpool_block *next = b->next;
		weir__free(b);
		b = next;
	}
}

// Hands a list to the depot, or frees it when the depot is full.
static void
evpool_give(int cls, evpool_list l)
{
	pthread_mutex_lock(&evpool_mx);
	int kept = evpool_ndepot[cls] < evpool_depot_max[cls];
	if (kept) {
		evpool_depot[cls][evpool_ndepot[cls]++] = l;
	}
	pthread_mutex_unlock(&evpool_mx);
	if (!kept) {
		evpool_free_list(l.head);
	}
}

static void
evpool_thread_exit(void *unused)
{
	(void) unused;
	for (int c = 0; c < EVPOOL_CLASSES; c++) {
		if (evpool_tls[c].head != NULL) {
			evpool_give(c, evpool_tls[c]);
			evpool_tls[c] = (evpool_list) { 0 };
		}
	}
}

static void
evpool_key_make(void)
{
	pthread_key_create(&evpool_key, evpool_thread_exit);
}

static void
evpool_register(void)
{
	// The key's value only has to be non-NULL for the destructor to run.
	pthread_once(&evpool_once, evpool_key_make);
	pthread_setspecific(evpool_key, &evpool_registered);
	evpool_registered = 1;
}

static int
evpool_take(int cls)
{
	pthread_mutex_lock(&evpool_mx);
	int got = evpool_ndepot[cls] > 0;
	if (got) {
		// Oldest batch first: its blocks have had time to leave the
		// freeing thread's cache, so writing them costs less.
		evpool_tls[cls] = evpool_depot[cls][0];
		memmove(&evpool_depot[cls][0], &evpool_depot[cls][1],
		    --evpool_ndepot[cls] * sizeof(evpool_list));
	}
	pthread_mutex_unlock(&evpool_mx);
	return got;
}

void *
weir__evpool_alloc(size_t size, int *cls)
{
	int c = 0;
	while (c < EVPOOL_CLASSES && size > evpool_sizes[c]) {
		c++;
	}
	if (!EVPOOL_ENABLED || c == EVPOOL_CLASSES) {
		*cls = -1;
		return weir__alloc(size);
	}
	*cls           = c;
	evpool_list *l = &evpool_tls[c];
	if (l->head == NULL && !evpool_take(c)) {
		return weir__alloc(evpool_sizes[c]);
	}
	evpool_block *b = l->head;
	l->head         = b->next;
	l->n--;
	if (l->head != NULL) {
		// The next block was last written by another thread (the one
		// that freed it): start taking its lines over now, so the next
		// event does not wait for them.
		for (size_t off = 0; off < evpool_sizes[c] && off < 256;
		     off += 64) {
			__builtin_prefetch((char *) l->head + off, 1, 3);
		}
	}
	return b;
}

// Splits the first EVPOOL_BATCH blocks off the thread's list.
static evpool_list
evpool_cut(evpool_list *l)
{
	evpool_list   give = { l->head, EVPOOL_BATCH };
	evpool_block *cut  = l->head;
	for (size_t i = 1; i < EVPOOL_BATCH; i++) {
		cut = cut->next;
	}
	l->head = cut->next;
	l->n -= EVPOOL_BATCH;
	cut->next = NULL;
	return give;
}

void
weir__evpool_free(void *p, int cls)
{
	if (cls < 0) {
		weir__free(p);
		return;
	}
	if (!evpool_registered) {
		evpool_register();
	}
	evpool_list  *l = &evpool_tls[cls];
	evpool_block *b = p;
	b->next         = l->head;
	l->head         = b;
	if (++l->n == 2 * EVPOOL_BATCH) {
		// Keep one batch for this thread's own allocations.
		evpool_give(cls, evpool_cut(l));
	}
}

void
weir__evpool_flush(void)
{
	for (int c = 0; c < EVPOOL_CLASSES; c++) {
		evpool_free_list(evpool_tls[c].head);
		evpool_tls[c] = (evpool_list) { 0 };
		pthread_mutex_lock(&evpool_mx);
		while (evpool_ndepot[c] > 0) {
			evpool_free_list(
			    evpool_depot[c][--evpool_ndepot[c]].head);
		}
		pthread_mutex_unlock(&evpool_mx);
	}
}
