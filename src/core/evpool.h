// Recycling of event blocks between threads (producers allocate, the
// loop frees), so the hot path avoids malloc's cross-thread free.
#ifndef WEIR_CORE_EVPOOL_H
#define WEIR_CORE_EVPOOL_H

#include <stddef.h>

// Returns a block of at least @p size bytes and its class in @p cls
// (-1 when it came from the allocator directly).
void *weir__evpool_alloc(size_t size, int *cls);
// Gives back a block from weir__evpool_alloc with its class.
void weir__evpool_free(void *p, int cls);
// Frees every cached block of the calling thread and the shared depot
// (before the allocator hook changes, and in tests).
void weir__evpool_flush(void);

#endif
