// A keyed FIFO for the COALESCE policy: the newest event of a key
// replaces the queued one in place.
#ifndef WEIR_CORE_COALESCE_H
#define WEIR_CORE_COALESCE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <weir/weir.h>

typedef struct weir__coalesce weir__coalesce;

typedef enum weir__co_result {
	CO_APPENDED,
	CO_REPLACED, // *old receives the replaced event
	CO_EVICTED,  // full: *old receives the evicted oldest event
} weir__co_result;

weir_err weir__coalesce_create(weir__coalesce **out, size_t cap);
// Releases queued events and frees.
void weir__coalesce_destroy(weir__coalesce *co);
// Both keep @p depth (the queue's count) exact under the lock; put
// stores the depth after it in @p after.
weir__co_result weir__coalesce_put(weir__coalesce *co, weir_event *ev,
    weir_event **old, atomic_size_t *depth, size_t *after);
weir_event     *weir__coalesce_take(
        weir__coalesce *co, atomic_size_t *depth, size_t *after);

#endif
