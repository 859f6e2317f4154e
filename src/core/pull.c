// Design notes. A pull subscription is a subscription without a
// handler: publishers push into its bounded queue exactly as for any
// other (the policy, the counters and the watermarks are the queue's),
// but instead of scheduling it on a loop they wake a caller of
// weir_subscr_next(). The ring is already MPMC (DROP_OLDEST producers
// pop), so several callers may take at once; each event goes to one.
// A caller looks first without a lock; only with nothing to take does
// it count itself in `waiters` (under the mutex) and look at the depth
// again before sleeping. A publisher claims its cell (seq_cst) before
// it reads `waiters` (seq_cst), so either it sees the waiter and
// signals it under the mutex, or the waiter sees its event in the
// depth: no wake-up is lost, and a publisher pays for the mutex only
// while someone waits. A caller that leaves without an event has seen
// an empty queue (or a close), so a signal it absorbed was not needed.
// Closing sets the subscription's flag and then broadcasts under the
// mutex. A caller holds a subscription reference for the whole call,
// so weir_unsubscribe() on another thread cannot free it under a
// waiter: the last one out frees it.
#include <errno.h>
#include <sched.h>
#include <time.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/event.h"
#include "core/pull.h"
#include "core/subscr.h"

struct weir__pull {
	pthread_mutex_t mx;
	pthread_cond_t  ready; // CLOCK_MONOTONIC
	atomic_int      waiters;
};

weir_err
weir__pull_create(weir__pull **out)
{
	weir__pull *p = weir__zalloc(sizeof(*p));
	if (p == NULL) {
		return WEIR_ENOMEM;
	}
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&p->mx, NULL);
	pthread_cond_init(&p->ready, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&p->waiters, 0);
	*out = p;
	return WEIR_OK;
}

void
weir__pull_destroy(weir__pull *p)
{
	if (p == NULL) {
		return;
	}
	pthread_mutex_destroy(&p->mx);
	pthread_cond_destroy(&p->ready);
	weir__free(p);
}

weir_err
weir__pull_check(const weir_subscr_config *sc)
{
	// A loop would never run it; the defences pace, hold back or re-run
	// handler calls, and the caller of next() sets its own pace.
	const weir__flow_config *f = &sc->flow;
	if (sc->loop != NULL || f->loop_index != 0 || f->max_in_flight ||
	    f->rate > 0 || f->debounce_ms || f->retry_max) {
		return WEIR_EINVAL;
	}
	return WEIR_OK;
}

void
weir__pull_wake(weir_subscr *sub)
{
	weir__pull *p = sub->pull;
	if (atomic_load(&p->waiters) > 0) {
		pthread_mutex_lock(&p->mx);
		pthread_cond_signal(&p->ready);
		pthread_mutex_unlock(&p->mx);
	}
}

void
weir__pull_close(weir_subscr *sub)
{
	weir__pull *p = sub->pull;
	pthread_mutex_lock(&p->mx);
	pthread_cond_broadcast(&p->ready);
	pthread_mutex_unlock(&p->mx);
}

int
weir__pull_waiters(weir_subscr *sub)
{
	return atomic_load(&sub->pull->waiters);
}

static void
pull_deadline(struct timespec *ts, int64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t) (ms / 1000);
	ts->tv_nsec += (long) (ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

// Nothing was there to take. Returns WEIR_OK to look again (an event
// may be there, or was being written), WEIR_ETIMEDOUT or WEIR_ECLOSED.
static weir_err
pull_wait(weir_subscr *sub, int64_t timeout_ms, const struct timespec *dl)
{
	weir__pull *p = sub->pull;
	if (weir__queue_depth(&sub->q) > 0) {
		// A publisher claimed a cell but has not filled it yet, or
		// another caller is about to take the event: both are short.
		sched_yield();
		return WEIR_OK;
	}
	if (timeout_ms == 0) {
		return WEIR_ETIMEDOUT;
	}
	int late = 0;
	pthread_mutex_lock(&p->mx);
	atomic_fetch_add(&p->waiters, 1);
	while (!atomic_load(&sub->closed) && !late &&
	    weir__queue_depth(&sub->q) == 0) {
		if (timeout_ms < 0) {
			pthread_cond_wait(&p->ready, &p->mx);
		} else {
			late = pthread_cond_timedwait(&p->ready, &p->mx, dl) ==
			    ETIMEDOUT;
		}
	}
	atomic_fetch_sub(&p->waiters, 1);
	pthread_mutex_unlock(&p->mx);
	if (atomic_load(&sub->closed)) {
		return WEIR_ECLOSED;
	}
	// Late but an event came meanwhile: take it rather than leave it
	// to waiters a signal this caller absorbed was meant for.
	return late && weir__queue_depth(&sub->q) == 0 ? WEIR_ETIMEDOUT
	                                               : WEIR_OK;
}

// The taker's share of what a handler call counts: delivered and the
// latency. Several callers may take at once, so both are atomic adds.
static void
pull_took(weir_subscr *sub, const weir_event *ev)
{
	int64_t     lat = weir__now_ns() - ev->ts;
	weir__hist *h   = weir__hist_make(&sub->flow->lat);
	weir__hist_record_shared(h, lat > 0 ? (uint64_t) lat : 0);
	atomic_fetch_add_explicit(&sub->q.delivered, 1, memory_order_relaxed);
}

weir_err
weir_subscr_next(weir_subscr *sub, const weir_event **out, int64_t timeout_ms)
{
	if (out != NULL) {
		*out = NULL;
	}
	if (sub == NULL || out == NULL || sub->pull == NULL ||
	    timeout_ms < -1) {
		return WEIR_EINVAL;
	}
	struct timespec dl = { 0, 0 };
	if (timeout_ms > 0) {
		pull_deadline(&dl, timeout_ms);
	}
	weir__subscr_hold(sub); // see the design notes
	weir_err    rv = WEIR_OK;
	weir_event *ev = NULL;
	while (rv == WEIR_OK && ev == NULL) {
		if (atomic_load(&sub->closed)) {
			rv = WEIR_ECLOSED;
		} else if ((ev = weir__subscr_pop(sub)) == NULL) {
			rv = pull_wait(sub, timeout_ms, &dl);
		}
	}
	if (ev != NULL) {
		pull_took(sub, ev);
		*out = ev; // the queue's reference is now the caller's
	}
	weir__subscr_release(sub);
	return rv;
}
