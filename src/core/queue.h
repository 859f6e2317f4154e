// The bounded queue of one subscription: many producers, one consumer
// (the loop), with a policy at the bound.
#ifndef WEIR_CORE_QUEUE_H
#define WEIR_CORE_QUEUE_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <weir/weir.h>

#include "core/coalesce.h"

typedef struct weir__qcell {
	atomic_size_t seq;
	weir_event   *ev;
} weir__qcell;

// Exact counters; the consumer-only ones are written by one thread.
typedef struct weir__qstats {
	atomic_uint_least64_t published;
	atomic_uint_least64_t dropped;
	atomic_uint_least64_t rejected;
	atomic_uint_least64_t timed_out;
	atomic_uint_least64_t coalesced;
	atomic_uint_least64_t high_water;
	atomic_uint_least64_t delivered; // consumer only
	atomic_uint_least64_t failed;    // consumer only
	atomic_uint_least64_t pressure;
	atomic_uint_least64_t drain;
} weir__qstats;

typedef struct weir__queue {
	alignas(64) atomic_size_t tail; // producers claim positions here
	alignas(64) atomic_size_t head; // the consumer (and droppers) here
	alignas(64) atomic_size_t depth; // reserved slots, <= cap
	weir__qstats    st;
	weir__qcell    *cells;
	size_t          mask;
	size_t          cap;
	weir_policy     policy;
	int64_t         timeout_ms;
	weir__coalesce *co; // COALESCE only
	atomic_int      closed;
	atomic_int      waiters; // BLOCKed producers
	pthread_mutex_t wait_mx;
	pthread_cond_t  not_full;
} weir__queue;

weir_err weir__queue_init(weir__queue *q, size_t cap, weir_policy policy,
    int64_t timeout_ms);
// Releases the events still queued.
void weir__queue_fini(weir__queue *q);
// Offers @p ev (a reference is taken if it is queued). @p may_block is 0
// on the consumer's own thread, where waiting would never end.
// @p depth receives the depth after a push (0 if nothing was queued).
// Returns WEIR_OK (queued, or dropped by policy), WEIR_EFULL or
// WEIR_ETIMEDOUT; counts the outcome.
weir_err weir__queue_push(
    weir__queue *q, weir_event *ev, int may_block, size_t *depth);
// Takes the oldest event, or NULL; @p depth receives the depth after.
weir_event *weir__queue_pop(weir__queue *q, size_t *depth);
// Wakes blocked producers; later pushes are discarded.
void weir__queue_close(weir__queue *q);
size_t weir__queue_depth(weir__queue *q);

#endif
