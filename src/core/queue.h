// The bounded queue of one subscription: many producers, one consumer
// (the loop), with a policy at the bound.
#ifndef WEIR_CORE_QUEUE_H
#define WEIR_CORE_QUEUE_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <weir/weir.h>

#include "core/coalesce.h"
#include "core/prefetch.h"

// Cells a push or pop looks ahead: two lines of 16-byte cells.
#define WEIR__QUEUE_AHEAD 8

typedef struct weir__qcell {
	atomic_size_t stamp;
	// Ordered by the stamp; atomic (relaxed: a plain move) only so that
	// the popper's look-ahead may read it while a pusher writes it.
	_Atomic(weir_event *) ev;
} weir__qcell;

// Exact counters written by producers. Events that entered the ring
// are counted by the ring's position, not here.
typedef struct weir__qstats {
	atomic_uint_least64_t offered; // COALESCE only: every offer
	atomic_uint_least64_t dropped;
	atomic_uint_least64_t rejected;
	atomic_uint_least64_t timed_out;
	atomic_uint_least64_t closed; // BLOCK waits ended by a close
	atomic_uint_least64_t coalesced;
	atomic_uint_least64_t high_water;
	atomic_uint_least64_t pressure;
	atomic_uint_least64_t drain;
} weir__qstats;

// The layout keeps what producers write, what the consumer writes and
// what both only read on separate cache lines.
typedef struct weir__queue {
	weir__qcell    *cells;
	size_t          one_lap; // power of two > cap: stamp = lap | index
	int             lap_shift;
	size_t          cap;
	weir_policy     policy;
	int64_t         timeout_ms;
	weir__coalesce *co;        // COALESCE only
	int             prefetchw; // weir__cpu_prefetchw()
	atomic_int      closed;
	atomic_int      napping; // a BLOCKed producer awaits a broadcast
	pthread_mutex_t wait_mx;
	pthread_cond_t  not_full;
	alignas(64) atomic_size_t tail;  // producers claim positions here
	alignas(64) atomic_size_t head;  // the consumer (and droppers) here
	atomic_uint_least64_t delivered; // written by the consumer only
	atomic_uint_least64_t failed;    // written by the consumer only
	alignas(64) weir__qstats st;
	atomic_uint_least64_t head_seen; // producers' stale count of pops
	atomic_size_t         co_depth;  // COALESCE only
} weir__queue;

// Events that ever entered the ring, from a stamp.
static inline uint64_t
weir__queue_count(const weir__queue *q, size_t s)
{
	return (uint64_t) (s >> q->lap_shift) * q->cap +
	    (s & (q->one_lap - 1));
}

// What weir__queue_claim_fill() did.
typedef enum {
	WEIR__QCLAIM_DONE, // pushed
	WEIR__QCLAIM_LOST, // another producer claimed the cell first
	WEIR__QCLAIM_BUSY, // the cell is not free
} weir__qclaim;

// The claim and fill of a push, shared by the inline push below and the
// ring's push in queue.c: if the cell at stamp @p *tail is free (its
// stamp is *tail), claims it with one CAS on `tail` and fills it with
// @p ev. DONE: *tail is the pushed event's stamp. LOST: *tail is the
// current tail, nothing done. BUSY: the cell's stamp is in @p stamp,
// nothing done. The CAS is seq_cst: it also orders the push before the
// producer's look at the subscription's `scheduled` flag (dispatch.c).
// Strong, so that a spurious failure does not send the inline push to
// its slow path. Everything about the cell is worked out before the
// stamp's acquire load, which later loads may not be moved above.
static inline weir__qclaim
weir__queue_claim_fill(
    weir__queue *q, size_t *tail, weir_event *ev, size_t *stamp)
{
	size_t       idx = *tail & (q->one_lap - 1);
	weir__qcell *c   = &q->cells[idx];
	size_t       next =
            idx + 1 < q->cap ? *tail + 1 : (*tail - idx) + q->one_lap;
	*stamp = atomic_load_explicit(&c->stamp, memory_order_acquire);
	if (*stamp != *tail) {
		return WEIR__QCLAIM_BUSY;
	}
	if (!atomic_compare_exchange_strong_explicit(&q->tail, tail, next,
	        memory_order_seq_cst, memory_order_relaxed)) {
		return WEIR__QCLAIM_LOST;
	}
	atomic_store_explicit(&c->ev, ev, memory_order_relaxed);
	atomic_store_explicit(&c->stamp, *tail + 1, memory_order_release);
	// The cell line pushes reach next was last written by the popper:
	// start taking it (not at the ring's end, where it was taken a lap
	// ago, and a small ring has no line ahead). Expected, so that the
	// prefetch stays in line in ring_push too (out of line it cost a
	// jump per push there).
	if (__builtin_expect(idx + WEIR__QUEUE_AHEAD < q->cap, 1)) {
		weir__prefetch_write(
		    &q->cells[idx + WEIR__QUEUE_AHEAD], q->prefetchw);
	}
	return WEIR__QCLAIM_DONE;
}

// The common case of weir__queue_try_push(), inline so that the publish
// path calls no function for it: a ring (not COALESCE) whose cell at
// `tail` is free and whose claim succeeds at the first try. Returns 1
// when @p ev went in (its stamp in @p at; the caller notes the
// high-water mark, weir__queue_note_due), 0 with nothing done otherwise:
// weir__queue_try_push() then does it all.
static inline int
weir__queue_push_fast(weir__queue *q, weir_event *ev, size_t *at)
{
	if (q->co != NULL) {
		return 0;
	}
	size_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
	size_t stamp;
	if (weir__queue_claim_fill(q, &tail, ev, &stamp) !=
	    WEIR__QCLAIM_DONE) {
		return 0;
	}
	*at = tail;
	return 1;
}

// Keeps the high-water mark exact without reading `head` per push:
// with the last head seen, (pushed - seen) bounds the depth from above,
// so head is read only when that bound passes the mark. After a push at
// stamp @p at, weir__queue_note_due() returns 0, or the count of pushes
// for the slow half, which is out of line (queue.c).
void weir__queue_note_slow(weir__queue *q, uint64_t pushed);

static inline uint64_t
weir__queue_note_due(const weir__queue *q, size_t at)
{
	uint64_t pushed = weir__queue_count(q, at) + 1;
	uint64_t seen =
	    atomic_load_explicit(&q->head_seen, memory_order_relaxed);
	uint64_t hw =
	    atomic_load_explicit(&q->st.high_water, memory_order_relaxed);
	return pushed - seen > hw ? pushed : 0;
}

// The BLOCK waits of one publish call, shared by its offers: the call
// has one deadline, set at its first wait and brought forward by a
// shorter timeout met later (see weir_publish). Only `started` needs
// setting (to 0) before the first offer.
typedef struct weir__qwait {
	int             started;  // a wait began: `start` is set
	int             bounded;  // `deadline` is set
	struct timespec start;    // of the first wait (CLOCK_MONOTONIC)
	struct timespec deadline; // start + the smallest timeout met
} weir__qwait;

weir_err weir__queue_init(
    weir__queue *q, size_t cap, weir_policy policy, int64_t timeout_ms);
// Releases the events still queued.
void weir__queue_fini(weir__queue *q);
// Pops and releases every queued event (a producer mid-push may still
// leave one, released by fini).
void weir__queue_drain(weir__queue *q);
// Offers @p ev, consuming one reference the caller gives. @p may_block is 0
// on the consumer's own thread, where waiting would never end; a BLOCK
// wait goes by the publish call's @p w. @p pushed is set to 1 if the
// event entered the queue. Returns WEIR_OK (queued, or dropped by
// policy), WEIR_EFULL, WEIR_ETIMEDOUT or WEIR_ECLOSED (closed while the
// call waited for room); counts the outcome.
weir_err weir__queue_push(weir__queue *q, weir_event *ev, int may_block,
    weir__qwait *w, int *pushed);
// The common case of weir__queue_push(): room in the ring. Returns 1 when
// @p ev went in (taking the caller's reference, the high-water mark
// noted), 0 when the ring is full or the queue coalesces, with nothing
// done and nothing counted: weir__queue_push() then applies the policy.
// Lets a caller put off working out @p may_block until a queue is full.
int weir__queue_try_push(weir__queue *q, weir_event *ev);
// Puts the longest prefix of evs[0..n) that fits into the ring, with
// one claim, taking one reference of each; returns how many (0 when the
// ring is full, and always for a COALESCE queue). What does not fit is
// left to weir__queue_push(), which applies the policy.
size_t weir__queue_push_run(weir__queue *q, weir_event *const *evs, size_t n);
// Takes the oldest event, or NULL (empty, or a producer mid-write).
weir_event *weir__queue_pop(weir__queue *q);
// Takes up to @p max of the oldest events into @p evs, in order; returns
// how many (0 as weir__queue_pop() returns NULL).
size_t weir__queue_pop_many(weir__queue *q, weir_event **evs, size_t max);
// Wakes blocked producers; later pushes are discarded.
void   weir__queue_close(weir__queue *q);
size_t weir__queue_depth(weir__queue *q);
// Events offered so far (pushed, dropped, refused or coalesced).
uint64_t weir__queue_published(weir__queue *q);

#endif
