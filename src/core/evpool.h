// Recycling of event blocks between threads (producers allocate, the
// loop frees), so the hot path avoids malloc's cross-thread free.
#ifndef WEIR_CORE_EVPOOL_H
#define WEIR_CORE_EVPOOL_H

#include <stddef.h>

// A block and its class (-1 when it came from the allocator directly).
// Returned by value, in two registers: a class written through a
// pointer made the caller keep it on the stack, and the stack guard
// came with it.
typedef struct weir__evpool_blk {
	void *p; // NULL when out of memory
	int   cls;
} weir__evpool_blk;

// Returns a block of at least @p size bytes and its class.
weir__evpool_blk weir__evpool_alloc(size_t size);
// The size class of a block of @p size bytes, -1 if none (too large):
// blocks of one class are interchangeable.
int weir__evpool_class(size_t size);
// Gives back a block from weir__evpool_alloc with its class.
void weir__evpool_free(void *p, int cls);
// Gives back @p n blocks, p[i] of class cls[i], with one look at the
// thread's cache (a loop releasing a run of events).
void weir__evpool_free_n(void *const *p, const int *cls, size_t n);
// Frees every cached block of the calling thread and the shared depot
// (before the allocator hook changes, and in tests).
void weir__evpool_flush(void);

#endif
