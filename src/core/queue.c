// Design notes. The queue is a bounded array of cells with sequence
// numbers (Vyukov's bounded MPMC queue): a producer claims a position
// with one CAS on `tail` and publishes the cell with a release store; the
// consumer claims with a CAS on `head`. It is MPMC rather than MPSC so
// that a DROP_OLDEST producer can take the oldest event itself.
// `depth` is a separate reservation counter that enforces the exact
// capacity (the array is rounded up to a power of two) and drives the
// watermarks: a producer reserves before claiming a position, and the
// consumer gives the reservation back only after freeing its cell, so a
// reserved producer always finds a free cell (it may spin for the
// moment a slower dequeuer takes to finish). BLOCKed producers sleep on
// a condition variable; the consumer signals it only when `waiters` is
// non-zero, which both sides read after their seq_cst updates.
#include <errno.h>
#include <sched.h>
#include <time.h>

#include "core/alloc.h"
#include "core/event.h"
#include "core/queue.h"

weir_err
weir__queue_init(
    weir__queue *q, size_t cap, weir_policy policy, int64_t timeout_ms)
{
	size_t size = 2;
	while (size < cap) {
		size *= 2;
	}
	q->cells = NULL;
	q->co    = NULL;
	if (policy == WEIR_POLICY_COALESCE) {
		if (weir__coalesce_create(&q->co, cap) != WEIR_OK) {
			return WEIR_ENOMEM;
		}
	} else if ((q->cells = weir__alloc(size * sizeof(weir__qcell))) ==
	    NULL) {
		return WEIR_ENOMEM;
	}
	for (size_t i = 0; q->cells != NULL && i < size; i++) {
		atomic_init(&q->cells[i].seq, i);
		q->cells[i].ev = NULL;
	}
	atomic_init(&q->tail, 0);
	atomic_init(&q->head, 0);
	atomic_init(&q->depth, 0);
	atomic_init(&q->closed, 0);
	atomic_init(&q->waiters, 0);
	q->mask       = size - 1;
	q->cap        = cap;
	q->policy     = policy;
	q->timeout_ms = timeout_ms;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&q->wait_mx, NULL);
	pthread_cond_init(&q->not_full, &ca);
	pthread_condattr_destroy(&ca);
	return WEIR_OK;
}

static weir_event *
ring_pop(weir__queue *q)
{
	size_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);
	for (;;) {
		weir__qcell *c = &q->cells[pos & q->mask];
		size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
		intptr_t dif = (intptr_t) seq - (intptr_t) (pos + 1);
		if (dif < 0) {
			return NULL; // empty, or the producer is mid-write
		}
		if (dif == 0 &&
		    atomic_compare_exchange_weak_explicit(&q->head, &pos,
		        pos + 1, memory_order_relaxed, memory_order_relaxed)) {
			weir_event *ev = c->ev;
			atomic_store_explicit(
			    &c->seq, pos + q->mask + 1, memory_order_release);
			return ev;
		}
		if (dif > 0) {
			pos = atomic_load_explicit(&q->head, memory_order_relaxed);
		}
	}
}

static void
ring_push(weir__queue *q, weir_event *ev)
{
	size_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
	for (;;) {
		weir__qcell *c = &q->cells[pos & q->mask];
		size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
		intptr_t dif = (intptr_t) seq - (intptr_t) pos;
		if (dif == 0 &&
		    atomic_compare_exchange_weak_explicit(&q->tail, &pos,
		        pos + 1, memory_order_relaxed, memory_order_relaxed)) {
			c->ev = ev;
			atomic_store_explicit(
			    &c->seq, pos + 1, memory_order_release);
			return;
		}
		if (dif < 0) {
			sched_yield(); // a slow dequeuer still owns the cell
			pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
		} else if (dif > 0) {
			pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
		}
	}
}

void
weir__queue_fini(weir__queue *q)
{
	weir_event *ev;
	if (q->co != NULL) {
		weir__coalesce_destroy(q->co);
	} else if (q->cells != NULL) {
		while ((ev = ring_pop(q)) != NULL) {
			weir_event_release(ev);
		}
	}
	weir__free(q->cells);
	pthread_mutex_destroy(&q->wait_mx);
	pthread_cond_destroy(&q->not_full);
}

// Reserves one slot; returns the depth after, or 0 when full.
static size_t
queue_reserve(weir__queue *q)
{
	size_t d = atomic_load(&q->depth);
	while (d < q->cap) {
		if (atomic_compare_exchange_weak(&q->depth, &d, d + 1)) {
			return d + 1;
		}
	}
	return 0;
}

static void
queue_note_depth(weir__queue *q, size_t d)
{
	uint64_t hw = atomic_load_explicit(&q->st.high_water,
	    memory_order_relaxed);
	while (d > hw && !atomic_compare_exchange_weak_explicit(
	                     &q->st.high_water, &hw, d, memory_order_relaxed,
	                     memory_order_relaxed)) {
	}
}

static void
queue_count(atomic_uint_least64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

// Gives a reservation back and wakes a BLOCKed producer if any.
static size_t
queue_unreserve(weir__queue *q)
{
	size_t d = atomic_fetch_sub(&q->depth, 1) - 1;
	if (atomic_load(&q->waiters) > 0) {
		pthread_mutex_lock(&q->wait_mx);
		pthread_cond_signal(&q->not_full);
		pthread_mutex_unlock(&q->wait_mx);
	}
	return d;
}

static void
queue_deadline(struct timespec *ts, int64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

// Waits until a slot is free; returns 0 on timeout.
static int
queue_wait(weir__queue *q, const struct timespec *deadline)
{
	int ok = 1;
	pthread_mutex_lock(&q->wait_mx);
	atomic_fetch_add(&q->waiters, 1);
	while (ok && atomic_load(&q->depth) >= q->cap &&
	    !atomic_load(&q->closed)) {
		if (deadline == NULL) {
			pthread_cond_wait(&q->not_full, &q->wait_mx);
		} else if (pthread_cond_timedwait(&q->not_full, &q->wait_mx,
		               deadline) == ETIMEDOUT) {
			ok = atomic_load(&q->depth) < q->cap;
		}
	}
	atomic_fetch_sub(&q->waiters, 1);
	pthread_mutex_unlock(&q->wait_mx);
	return ok;
}

// The ring is full: applies the policy. Returns WEIR_OK to retry the
// reservation, WEIR_EAGAIN when the event was dropped (counted), or the
// error to return.
static weir_err
queue_full(weir__queue *q, int may_block, struct timespec *deadline,
    int *have_deadline)
{
	switch (q->policy) {
	case WEIR_POLICY_DROP_NEWEST:
		queue_count(&q->st.dropped);
		return WEIR_EAGAIN;
	case WEIR_POLICY_DROP_OLDEST: {
		weir_event *old = ring_pop(q);
		if (old != NULL) {
			queue_count(&q->st.dropped);
			weir_event_release(old);
			queue_unreserve(q);
		}
		return WEIR_OK;
	}
	case WEIR_POLICY_BLOCK:
		if (may_block && q->timeout_ms != 0) {
			if (q->timeout_ms > 0 && !*have_deadline) {
				queue_deadline(deadline, q->timeout_ms);
				*have_deadline = 1;
			}
			if (queue_wait(q, q->timeout_ms > 0 ? deadline : NULL)) {
				return WEIR_OK;
			}
			queue_count(&q->st.timed_out);
			return WEIR_ETIMEDOUT;
		}
		break;
	default:
		break;
	}
	queue_count(&q->st.rejected);
	return WEIR_EFULL;
}

static weir_err
queue_push_coalesce(weir__queue *q, weir_event *ev, size_t *depth)
{
	weir_event     *old = NULL;
	weir__co_result res =
	    weir__coalesce_put(q->co, ev, &old, &q->depth, depth);
	if (res == CO_REPLACED) {
		queue_count(&q->st.coalesced);
	} else if (res == CO_EVICTED) {
		queue_count(&q->st.dropped);
	}
	queue_note_depth(q, *depth);
	weir_event_release(old);
	return WEIR_OK;
}

weir_err
weir__queue_push(weir__queue *q, weir_event *ev, int may_block, size_t *depth)
{
	struct timespec deadline;
	int             have_deadline = 0;
	*depth                        = 0;
	queue_count(&q->st.published);
	atomic_fetch_add_explicit(&ev->refs, 1, memory_order_relaxed);
	if (q->co != NULL) {
		return queue_push_coalesce(q, ev, depth);
	}
	size_t d;
	while ((d = queue_reserve(q)) == 0) {
		weir_err rv = queue_full(q, may_block, &deadline, &have_deadline);
		if (rv != WEIR_OK || atomic_load(&q->closed)) {
			weir_event_release(ev);
			return rv == WEIR_EAGAIN ? WEIR_OK : rv;
		}
	}
	ring_push(q, ev);
	queue_note_depth(q, d);
	*depth = d;
	return WEIR_OK;
}

weir_event *
weir__queue_pop(weir__queue *q, size_t *depth)
{
	if (q->co != NULL) {
		return weir__coalesce_take(q->co, &q->depth, depth);
	}
	weir_event *ev = ring_pop(q);
	if (ev != NULL) {
		*depth = queue_unreserve(q);
	}
	return ev;
}

void
weir__queue_close(weir__queue *q)
{
	atomic_store(&q->closed, 1);
	pthread_mutex_lock(&q->wait_mx);
	pthread_cond_broadcast(&q->not_full);
	pthread_mutex_unlock(&q->wait_mx);
}

size_t
weir__queue_depth(weir__queue *q)
{
	return atomic_load(&q->depth);
}
