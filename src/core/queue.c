// Design notes. The ring is a bounded MPMC array queue with per-cell
// stamps (Vyukov's design, in the lap-and-index form of crossbeam's
// ArrayQueue): a stamp is `lap | index`, with one lap a power of two
// larger than the capacity, so the ring holds exactly `cap` events
// without a division per operation. A producer claims a cell with one
// CAS on `tail` and publishes it with a release store of the stamp; the
// consumer claims with a CAS on `head`. A producer reads `head` only
// when the ring looks full, so producers and the consumer share no
// counter on the common path: that shared counter was the largest cost
// of an earlier version. It is MPMC, not MPSC, so that a DROP_OLDEST
// producer can take the oldest event itself.
// The depth is computed from head and tail when asked (watermarks,
// stats); the high-water mark is kept with a stale copy of head that is
// refreshed only when the depth might pass the mark (queue_note_push). BLOCKed
// producers sleep on a condition variable; a popper wakes them once an eighth
// of the ring is free, and only when `napping` is set, which both sides
// read after seq_cst updates (queue_wake_blocked). A close wakes them too, and
// they return WEIR_ECLOSED. The deadline of a wait belongs to the publish
// call, not to the queue (weir__qwait): a call stalled on several queues waits
// once.
#include <errno.h>
#include <sched.h>
#include <time.h>

#include "core/alloc.h"
#include "core/event.h"
#include "core/prefetch.h"
#include "core/queue.h"

static void
queue_sync_init(weir__queue *q)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&q->wait_mx, NULL);
	pthread_cond_init(&q->not_full, &ca);
	pthread_condattr_destroy(&ca);
}

weir_err
weir__queue_init(
    weir__queue *q, size_t cap, weir_policy policy, int64_t timeout_ms)
{
	q->one_lap   = 1;
	q->lap_shift = 0;
	while (q->one_lap <= cap) {
		q->one_lap *= 2;
		q->lap_shift++;
	}
	q->cells = NULL;
	q->co    = NULL;
	if (policy == WEIR_POLICY_COALESCE) {
		if (weir__coalesce_create(&q->co, cap) != WEIR_OK) {
			return WEIR_ENOMEM;
		}
	} else if ((q->cells = weir__alloc(cap * sizeof(weir__qcell))) ==
	    NULL) {
		return WEIR_ENOMEM;
	}
	for (size_t i = 0; q->cells != NULL && i < cap; i++) {
		atomic_init(&q->cells[i].stamp, i);
		atomic_init(&q->cells[i].ev, NULL);
	}
	atomic_init(&q->tail, 0);
	atomic_init(&q->head, 0);
	atomic_init(&q->co_depth, 0);
	atomic_init(&q->head_seen, 0);
	atomic_init(&q->closed, 0);
	atomic_init(&q->napping, 0);
	q->cap        = cap;
	q->prefetchw  = weir__cpu_prefetchw();
	q->policy     = policy;
	q->timeout_ms = timeout_ms;
	queue_sync_init(q);
	return WEIR_OK;
}

// The stamp that follows @p s: the next index, or index 0 of next lap.
static size_t
ring_next(const weir__queue *q, size_t s)
{
	size_t idx = s & (q->one_lap - 1);
	return idx + 1 < q->cap ? s + 1 : (s & ~(q->one_lap - 1)) + q->one_lap;
}

#define RING_AHEAD WEIR__QUEUE_AHEAD

// The cell @p ahead of index @p idx, wrapping (the ring may be small).
static weir__qcell *
ring_cell_ahead(const weir__queue *q, size_t idx, size_t ahead)
{
	// Subtraction, not %: a division on every push and pop cost more
	// than the prefetch saves. More than one lap only for a ring
	// smaller than the look-ahead.
	size_t i = idx + ahead;
	while (i >= q->cap) {
		i -= q->cap;
	}
	return &q->cells[i];
}

// Returns 1 if pushed (its stamp in @p at), 0 if the ring is full.
// Inlined into each push: its call cost showed on every publish.
static inline __attribute__((always_inline)) int
ring_push(weir__queue *q, weir_event *ev, size_t *at)
{
	size_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
	for (;;) {
		size_t       stamp;
		weir__qclaim r = weir__queue_claim_fill(q, &tail, ev, &stamp);
		if (r == WEIR__QCLAIM_DONE) {
			*at = tail;
			return 1;
		}
		if (r == WEIR__QCLAIM_LOST) {
			continue; // look at the cell of the new tail
		}
		if (stamp + q->one_lap == tail + 1) {
			// A read-modify-write reads the latest head (what
			// crossbeam gets from a fence; TSan rejects fences).
			size_t head = atomic_fetch_add(&q->head, 0);
			if (head + q->one_lap == tail) {
				return 0;
			}
			tail = atomic_load_explicit(
			    &q->tail, memory_order_relaxed);
		} else {
			sched_yield(); // another producer is mid-claim
			tail = atomic_load_explicit(
			    &q->tail, memory_order_relaxed);
		}
	}
}

// After a pop at @p idx: fetches the next event's lines (if it is
// there already) and the cell line pops reach next, so the loop does not
// stall on each as it comes to them; they were written on the
// publisher's core.
static void
ring_pop_ahead(const weir__queue *q, size_t head)
{
	size_t             next = ring_next(q, head);
	const weir__qcell *c    = &q->cells[next & (q->one_lap - 1)];
	if (atomic_load_explicit(&c->stamp, memory_order_relaxed) ==
	    next + 1) {
		const char *ev = (const char *) atomic_load_explicit(
		    &c->ev, memory_order_relaxed);
		// An event's header, topic and a short payload: 3 lines.
		for (size_t off = 0; off < 192; off += 64) {
			weir__prefetch_read(ev + off);
		}
	}
	weir__prefetch_read(
	    ring_cell_ahead(q, next & (q->one_lap - 1), RING_AHEAD));
}

static weir_event *
ring_pop(weir__queue *q)
{
	size_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
	for (;;) {
		weir__qcell *c = &q->cells[head & (q->one_lap - 1)];
		size_t       stamp =
		    atomic_load_explicit(&c->stamp, memory_order_acquire);
		if (stamp == head + 1) {
			if (atomic_compare_exchange_weak_explicit(&q->head,
			        &head, ring_next(q, head),
			        memory_order_seq_cst, memory_order_relaxed)) {
				weir_event *ev = atomic_load_explicit(
				    &c->ev, memory_order_relaxed);
				atomic_store_explicit(&c->stamp,
				    head + q->one_lap, memory_order_release);
				ring_pop_ahead(q, head);
				return ev;
			}
		} else if (stamp == head) {
			return NULL; // empty, or the producer is mid-write
		} else {
			head = atomic_load_explicit(
			    &q->head, memory_order_relaxed);
		}
	}
}

// The stamp @p k positions after @p s (k <= cap): one wrap at most.
static size_t
ring_advance(const weir__queue *q, size_t s, size_t k)
{
	size_t idx = s & (q->one_lap - 1);
	size_t to  = idx + k;
	return to < q->cap ? s + k : (s - idx) + q->one_lap + (to - q->cap);
}

// A run of cells, walked a segment (up to the ring's end) at a time,
// so that the walk does not test for the wrap at every cell: the cells
// [idx, end) of the segment have the stamps base + idx .. base + end - 1
// (base: the lap).
typedef struct ring_seg {
	size_t base;
	size_t idx;
	size_t end;
} ring_seg;

// The next segment of the @p *k cells from stamp @p *s; 0 when none is
// left. Advances *s and *k past it.
static int
ring_seg_next(const weir__queue *q, size_t *s, size_t *k, ring_seg *g)
{
	if (*k == 0) {
		return 0;
	}
	g->idx  = *s & (q->one_lap - 1);
	g->base = *s - g->idx;
	g->end  = g->idx + *k < q->cap ? g->idx + *k : q->cap;
	*k -= g->end - g->idx;
	*s = g->base + q->one_lap; // index 0 of the next lap (if *k > 0)
	return 1;
}

// Reads the events of the ready cells from stamp @p s on, up to @p max,
// into @p evs; returns how many. Nothing is taken yet: read before the
// claim, they are the claim's if `head` still was @p s (a cell is only
// refilled after `head` passed it).
static size_t
ring_read_ready(const weir__queue *q, size_t s, weir_event **evs, size_t max)
{
	size_t   k    = 0;
	size_t   left = max;
	ring_seg g;
	while (ring_seg_next(q, &s, &left, &g)) {
		for (size_t i = g.idx; i < g.end; i++) {
			const weir__qcell *c = &q->cells[i];
			if (atomic_load_explicit(&c->stamp,
			        memory_order_acquire) != g.base + i + 1) {
				return k;
			}
			evs[k++] =
			    atomic_load_explicit(&c->ev, memory_order_relaxed);
		}
	}
	return k;
}

// Gives the @p k cells from stamp @p s back to producers (the next lap).
static void
ring_free_cells(weir__queue *q, size_t s, size_t k)
{
	ring_seg g;
	while (ring_seg_next(q, &s, &k, &g)) {
		size_t lap = g.base + q->one_lap;
		for (size_t i = g.idx; i < g.end; i++) {
			atomic_store_explicit(
			    &q->cells[i].stamp, lap + i, memory_order_release);
		}
	}
}

// Takes up to @p max ready events, oldest first, with one CAS on
// `head` for the run: the consumer of a batch pays for that shared line
// once per run instead of once per event. The events are read in the
// pass that counts them, and the cells given back in a second one.
static size_t
ring_pop_many(weir__queue *q, weir_event **evs, size_t max)
{
	size_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
	size_t k;
	size_t next;
	for (;;) {
		k = ring_read_ready(q, head, evs, max);
		if (k == 0) {
			const weir__qcell *c =
			    &q->cells[head & (q->one_lap - 1)];
			if (atomic_load_explicit(
			        &c->stamp, memory_order_acquire) == head) {
				return 0; // empty, or the producer mid-write
			}
			// A dropper popped it (DROP_OLDEST): look again.
			head = atomic_load_explicit(
			    &q->head, memory_order_relaxed);
			continue;
		}
		next = ring_advance(q, head, k);
		if (atomic_compare_exchange_weak_explicit(&q->head, &head,
		        next, memory_order_seq_cst, memory_order_relaxed)) {
			break;
		}
	}
	ring_free_cells(q, head, k);
	// The cell line the next run starts on, as a single pop does.
	weir__prefetch_read(&q->cells[next & (q->one_lap - 1)]);
	return k;
}

// Claims up to @p n cells with one CAS on `tail` and fills them with
// evs[0..]; returns how many (0: the ring is full). Room is counted from
// `head`, read once per call: a batch pays for that shared line once,
// not per event. A cell counted free may still wait for its popper's
// stamp store (the popper moved `head` first): that wait is short.
static size_t
ring_push_many(weir__queue *q, weir_event *const *evs, size_t n, size_t *last)
{
	size_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
	size_t k;
	for (;;) {
		uint64_t head =
		    weir__queue_count(q, atomic_fetch_add(&q->head, 0));
		uint64_t used = weir__queue_count(q, tail);
		if (head > used) { // `tail` read before a later pop
			tail = atomic_load(&q->tail);
			continue;
		}
		k = q->cap - (size_t) (used - head);
		k = k < n ? k : n;
		if (k == 0) {
			return 0;
		}
		if (atomic_compare_exchange_weak_explicit(&q->tail, &tail,
		        ring_advance(q, tail, k), memory_order_seq_cst,
		        memory_order_relaxed)) {
			break;
		}
	}
	size_t   left = k;
	ring_seg g;
	while (ring_seg_next(q, &tail, &left, &g)) {
		for (size_t i = g.idx; i < g.end; i++) {
			weir__qcell *c = &q->cells[i];
			size_t       s = g.base + i;
			while (atomic_load_explicit(
			           &c->stamp, memory_order_acquire) != s) {
				sched_yield(); // its popper is between head
				               // and stamp
			}
			atomic_store_explicit(
			    &c->ev, *evs++, memory_order_relaxed);
			atomic_store_explicit(
			    &c->stamp, s + 1, memory_order_release);
		}
		*last = g.base + g.end - 1;
	}
	return k;
}

size_t
weir__queue_depth(weir__queue *q)
{
	if (q->co != NULL) {
		return atomic_load(&q->co_depth);
	}
	for (;;) {
		size_t tail = atomic_load(&q->tail);
		size_t head = atomic_load(&q->head);
		if (atomic_load(&q->tail) == tail) {
			return (size_t) (weir__queue_count(q, tail) -
			    weir__queue_count(q, head));
		}
	}
}

uint64_t
weir__queue_published(weir__queue *q)
{
	if (q->co != NULL) {
		return atomic_load(&q->st.offered);
	}
	uint64_t refused = atomic_load(&q->st.rejected) +
	    atomic_load(&q->st.timed_out) + atomic_load(&q->st.closed);
	if (q->policy == WEIR_POLICY_DROP_NEWEST) {
		refused += atomic_load(&q->st.dropped);
	}
	return weir__queue_count(q, atomic_load(&q->tail)) + refused;
}

void
weir__queue_drain(weir__queue *q)
{
	weir_event *ev;
	while ((ev = weir__queue_pop(q)) != NULL) {
		weir_event_release(ev);
	}
}

void
weir__queue_fini(weir__queue *q)
{
	if (q->co != NULL) {
		weir__coalesce_destroy(q->co);
	} else if (q->cells != NULL) {
		weir__queue_drain(q);
	}
	weir__free(q->cells);
	pthread_mutex_destroy(&q->wait_mx);
	pthread_cond_destroy(&q->not_full);
}

static void
queue_note_depth(weir__queue *q, size_t d)
{
	uint64_t hw =
	    atomic_load_explicit(&q->st.high_water, memory_order_relaxed);
	while (d > hw &&
	    !atomic_compare_exchange_weak_explicit(&q->st.high_water, &hw, d,
	        memory_order_relaxed, memory_order_relaxed)) { }
}

// The high-water mark's slow half (queue.h's weir__queue_note_due).
void
weir__queue_note_slow(weir__queue *q, uint64_t pushed)
{
	uint64_t seen = weir__queue_count(q, atomic_load(&q->head));
	atomic_store_explicit(&q->head_seen, seen, memory_order_relaxed);
	if (pushed > seen) {
		queue_note_depth(q, (size_t) (pushed - seen));
	}
}

static inline void
queue_note_push(weir__queue *q, size_t at)
{
	uint64_t pushed = weir__queue_note_due(q, at);
	if (pushed != 0) {
		weir__queue_note_slow(q, pushed);
	}
}

static void
queue_count(atomic_uint_least64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

// After a pop: wakes BLOCKed producers once an eighth of the ring is
// free. Waking them on every pop of a full ring would cost a system
// call per event. One broadcast per sleep: the broadcast clears
// `napping`, which a producer sets again only before it waits again
// (queue_still_full). Keyed on a count of waiters instead, a popper
// locked and broadcast after every run of pops until the producers it
// had woken got a CPU to leave the wait: 1 to 100 broadcasts per wait
// with 4 producers on 2 cores, 0.3 now (docs/benchmarks.md).
static void
queue_wake_blocked(weir__queue *q)
{
	if (atomic_load(&q->napping) &&
	    weir__queue_depth(q) <= q->cap - (q->cap + 7) / 8) {
		pthread_mutex_lock(&q->wait_mx);
		atomic_store(&q->napping, 0);
		pthread_cond_broadcast(&q->not_full);
		pthread_mutex_unlock(&q->wait_mx);
	}
}

static void
queue_add_ms(struct timespec *ts, const struct timespec *from, int64_t ms)
{
	ts->tv_sec  = from->tv_sec + (time_t) (ms / 1000);
	ts->tv_nsec = from->tv_nsec + (long) (ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

// One deadline per publish call: the first wait sets the start, and
// each stalled queue with a timeout may only bring the deadline nearer.
static void
queue_wait_bound(const weir__queue *q, weir__qwait *w)
{
	if (!w->started) {
		clock_gettime(CLOCK_MONOTONIC, &w->start);
		w->started = 1;
		w->bounded = 0;
	}
	if (q->timeout_ms > 0) {
		struct timespec d;
		queue_add_ms(&d, &w->start, q->timeout_ms);
		if (!w->bounded || d.tv_sec < w->deadline.tv_sec ||
		    (d.tv_sec == w->deadline.tv_sec &&
		        d.tv_nsec < w->deadline.tv_nsec)) {
			w->deadline = d;
			w->bounded  = 1;
		}
	}
}

typedef enum { WAIT_ROOM, WAIT_CLOSED, WAIT_TIMEOUT } queue_wait_end;

// Whether a BLOCKed producer (holding wait_mx) is to wait (again). A
// full ring is looked at again after the mark `napping`, and a popper
// looks at the mark after its pop (both seq_cst): either the popper sees
// the mark and broadcasts (under wait_mx, so not before this producer
// waits) or the second look sees the pop. A mark left by a producer that
// found room there costs one broadcast with nobody to wake.
static int
queue_still_full(weir__queue *q)
{
	if (weir__queue_depth(q) < q->cap || atomic_load(&q->closed)) {
		return 0;
	}
	atomic_store(&q->napping, 1);
	return weir__queue_depth(q) >= q->cap && !atomic_load(&q->closed);
}

// Waits until a cell may be free, the queue closes or the deadline
// (none: NULL) passes.
static queue_wait_end
queue_wait(weir__queue *q, const struct timespec *deadline)
{
	int expired = 0;
	pthread_mutex_lock(&q->wait_mx);
	while (!expired && queue_still_full(q)) {
		if (deadline == NULL) {
			pthread_cond_wait(&q->not_full, &q->wait_mx);
		} else if (pthread_cond_timedwait(&q->not_full, &q->wait_mx,
		               deadline) == ETIMEDOUT) {
			expired = 1;
		}
	}
	pthread_mutex_unlock(&q->wait_mx);
	if (atomic_load(&q->closed)) {
		return WAIT_CLOSED;
	}
	// Room seen before the deadline counts even if another producer
	// took it since: the caller tries again.
	return !expired || weir__queue_depth(q) < q->cap ? WAIT_ROOM
	                                                 : WAIT_TIMEOUT;
}

static weir_err
queue_block(weir__queue *q, weir__qwait *w)
{
	queue_wait_bound(q, w);
	switch (queue_wait(q, w->bounded ? &w->deadline : NULL)) {
	case WAIT_ROOM:
		return WEIR_OK;
	case WAIT_CLOSED:
		// The event never enters the queue: say so, and count it.
		queue_count(&q->st.closed);
		return WEIR_ECLOSED;
	default:
		queue_count(&q->st.timed_out);
		return WEIR_ETIMEDOUT;
	}
}

// The ring is full: applies the policy. Returns WEIR_OK to try again,
// WEIR_EAGAIN when the event was dropped (counted), or the error.
static weir_err
queue_full(weir__queue *q, int may_block, weir__qwait *w)
{
	queue_note_depth(q, q->cap);
	switch (q->policy) {
	case WEIR_POLICY_DROP_NEWEST:
		queue_count(&q->st.dropped);
		return WEIR_EAGAIN;
	case WEIR_POLICY_DROP_OLDEST: {
		weir_event *old = ring_pop(q);
		if (old != NULL) {
			queue_count(&q->st.dropped);
			weir_event_release(old);
		}
		return WEIR_OK;
	}
	case WEIR_POLICY_BLOCK:
		if (may_block && q->timeout_ms != 0) {
			return queue_block(q, w);
		}
		break;
	default:
		break;
	}
	queue_count(&q->st.rejected);
	return WEIR_EFULL;
}

static weir_err
queue_push_coalesce(weir__queue *q, weir_event *ev, int *pushed)
{
	weir_event *old = NULL;
	size_t      depth;
	queue_count(&q->st.offered);
	weir__co_result res =
	    weir__coalesce_put(q->co, ev, &old, &q->co_depth, &depth);
	if (res == CO_REPLACED) {
		queue_count(&q->st.coalesced);
	} else if (res == CO_EVICTED) {
		queue_count(&q->st.dropped);
	}
	queue_note_depth(q, depth);
	weir_event_release(old);
	*pushed = 1;
	return WEIR_OK;
}

weir_err
weir__queue_push(
    weir__queue *q, weir_event *ev, int may_block, weir__qwait *w, int *pushed)
{
	*pushed = 0;
	if (q->co != NULL) {
		return queue_push_coalesce(q, ev, pushed);
	}
	size_t at;
	while (!ring_push(q, ev, &at)) {
		weir_err rv = queue_full(q, may_block, w);
		if (rv != WEIR_OK || atomic_load(&q->closed)) {
			weir_event_release(ev);
			return rv == WEIR_EAGAIN ? WEIR_OK : rv;
		}
	}
	*pushed = 1;
	queue_note_push(q, at);
	return WEIR_OK;
}

int
weir__queue_try_push(weir__queue *q, weir_event *ev)
{
	size_t at;
	if (q->co != NULL || !ring_push(q, ev, &at)) {
		return 0;
	}
	queue_note_push(q, at);
	return 1;
}

size_t
weir__queue_push_run(weir__queue *q, weir_event *const *evs, size_t n)
{
	size_t last = 0; // set when k > 0 (-O1 cannot tell)
	size_t k    = q->co == NULL ? ring_push_many(q, evs, n, &last) : 0;
	if (k > 0) {
		queue_note_push(q, last);
	}
	return k;
}

weir_event *
weir__queue_pop(weir__queue *q)
{
	if (q->co != NULL) {
		size_t depth;
		return weir__coalesce_take(q->co, &q->co_depth, &depth);
	}
	weir_event *ev = ring_pop(q);
	if (ev != NULL) {
		queue_wake_blocked(q);
	}
	return ev;
}

size_t
weir__queue_pop_many(weir__queue *q, weir_event **evs, size_t max)
{
	if (q->co != NULL) {
		size_t k = 0;
		while (k < max && (evs[k] = weir__queue_pop(q)) != NULL) {
			k++;
		}
		return k;
	}
	size_t k = max > 0 ? ring_pop_many(q, evs, max) : 0;
	if (k > 0) {
		queue_wake_blocked(q);
	}
	return k;
}

void
weir__queue_close(weir__queue *q)
{
	atomic_store(&q->closed, 1);
	pthread_mutex_lock(&q->wait_mx);
	pthread_cond_broadcast(&q->not_full);
	pthread_mutex_unlock(&q->wait_mx);
}
