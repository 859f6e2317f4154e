/*
 * Allocation failure injection for tests (SQLite's test_malloc idea):
 * install fi_alloc with weir_set_allocator(), then fi_arm(n) makes the
 * n-th allocation from then on fail; fail_at = 0 disarms. fi_arm_from(n)
 * makes the n-th and every later one fail (no memory at all, so that a
 * fallback allocation fails too); fail_from = 0 disarms. live_allocs
 * counts blocks not yet freed. Each test file gets its own copy.
 */
#ifndef WEIR_FAULT_ALLOC_H
#define WEIR_FAULT_ALLOC_H

#include <stdatomic.h>
#include <stdlib.h>

#include <weir/weir.h>

/* Atomic: the store's and the loops' threads allocate and free too. */
static _Atomic long alloc_calls;
static _Atomic long fail_at;
static _Atomic long fail_from;
static _Atomic long live_allocs;

static inline int
alloc_fail_now(void)
{
	if (fail_from > 0) {
		return ++alloc_calls >= fail_from;
	}
	return fail_at > 0 && ++alloc_calls == fail_at;
}

static inline void *
fi_malloc(size_t n)
{
	void *p = alloc_fail_now() ? NULL : malloc(n);
	live_allocs += p != NULL;
	return p;
}

static inline void *
fi_calloc(size_t n, size_t size)
{
	void *p = alloc_fail_now() ? NULL : calloc(n, size);
	live_allocs += p != NULL;
	return p;
}

static inline void *
fi_realloc(void *p, size_t n)
{
	if (alloc_fail_now()) {
		return NULL;
	}
	void *q = realloc(p, n);
	live_allocs += p == NULL && q != NULL;
	return q;
}

static inline void
fi_free(void *p)
{
	live_allocs -= p != NULL;
	free(p);
}

__attribute__((unused)) static const weir_allocator fi_alloc = {
	.size       = sizeof(weir_allocator),
	.malloc_fn  = fi_malloc,
	.calloc_fn  = fi_calloc,
	.realloc_fn = fi_realloc,
	.free_fn    = fi_free,
};

static inline void
fi_arm(long n)
{
	alloc_calls = 0;
	fail_at     = n;
}

__attribute__((unused)) static inline void
fi_arm_from(long n)
{
	alloc_calls = 0;
	fail_from   = n;
}

/* An arg_free that counts its calls: a call that fails must leave arg
 * with the caller (freed_args unchanged). */
static int freed_args;

static inline void
arg_free_fn(void *arg)
{
	(void) arg;
	freed_args++;
}

#endif /* WEIR_FAULT_ALLOC_H */
