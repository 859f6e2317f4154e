// Design notes. Offering and dispatching are the two halves of the hot
// path. A producer pushes, schedules the subscription only if it is
// not already scheduled (the edge), then notes the watermark
// (watermark.c, only when the subscription has watermarks). The loop
// dispatches at most DISPATCH_BUDGET events of a subscription per pass,
// so one busy subscription (or a handler publishing to its own topic)
// cannot starve the others. Unscheduling clears the flag first and
// looks at the depth after, and a producer pushes first and looks at
// the flag after (both seq_cst), so an event is never left queued with
// nobody scheduled to take it.
#include "core/bus.h"
#include "core/clock.h"
#include "core/emit.h"
#include "core/event.h"
#include "core/flow.h"
#include "core/loop.h"
#include "core/prefetch.h"
#include "core/pull.h"
#include "core/subscr.h"
#include "core/watermark.h"

#define DISPATCH_BUDGET 1024

// Watermarks need the depth, which costs a look at the consumer's
// side of the queue: only subscriptions that set them pay for it.
static void
dispatch_note_push(weir_subscr *sub)
{
	if (sub->cfg.high != 0) {
		weir__watermark_pushed(sub);
	}
}

static void
dispatch_note_pop(weir_subscr *sub)
{
	if (sub->cfg.high != 0) {
		weir__watermark_popped(sub);
	}
}

static void
dispatch_kick(weir_subscr *sub, int carry)
{
	if (!atomic_load(&sub->scheduled) &&
	    !atomic_exchange(&sub->scheduled, 1)) {
		weir__loop_schedule(sub->loop, sub, carry);
	}
}

static weir_err
dispatch_offer(weir_subscr *sub, weir_event *ev, weir__qwait *w)
{
	if (atomic_load_explicit(&sub->closed, memory_order_relaxed)) {
		weir_event_release(ev);
		return WEIR_OK;
	}
	weir_err rv     = WEIR_OK;
	int      pushed = weir__queue_try_push(&sub->q, ev);
	if (!pushed) {
		// Full (or coalescing): only now is it worth asking whether
		// this thread may wait, which costs a look at the thread's
		// loop (a fan-out paid it for every queue of every event). A
		// pull subscription has no loop thread that would wait for
		// itself (pull.c): its BLOCK publishers always wait.
		int may_block = sub->q.policy == WEIR_POLICY_BLOCK &&
		    (sub->pull != NULL || !weir__loop_on_thread(sub->loop));
		rv = weir__queue_push(&sub->q, ev, may_block, w, &pushed);
	}
	if (pushed) {
		// Scheduled (or a puller woken) first: a slow on_pressure
		// does not hold up the delivery of what is queued.
		if (sub->pull != NULL) {
			weir__pull_wake(sub);
		} else {
			dispatch_kick(sub, 0);
		}
		dispatch_note_push(sub);
	}
	return rv;
}

// Which outcome of the offers a publish reports: a wait that ran out,
// then a wait ended by a close, then a full queue.
static int
dispatch_rank(weir_err rv)
{
	switch (rv) {
	case WEIR_ETIMEDOUT:
		return 3;
	case WEIR_ECLOSED:
		return 2;
	case WEIR_EFULL:
		return 1;
	default:
		return 0;
	}
}

weir_err
weir__subscr_worse(weir_err a, weir_err b)
{
	return dispatch_rank(b) > dispatch_rank(a) ? b : a;
}

// The general offer to n subscriptions (weir__subscr_offer_all). Out
// of line: inlined, its frame (saved registers, the wait on the stack
// and its guard) was set up before the one-subscription case was tried.
static __attribute__((noinline)) weir_err
dispatch_offer_n(weir_subscr *const *subs, size_t n, weir_event *ev)
{
	// The caller's reference goes to the first queue: one atomic add
	// for the others instead of one per queue plus a release.
	if (n == 0) {
		weir_event_release(ev);
		return WEIR_OK;
	}
	if (n > 1) {
		atomic_fetch_add_explicit(
		    &ev->refs, (unsigned) (n - 1), memory_order_relaxed);
	}
	weir__qwait w;
	w.started      = 0;
	weir_err worst = WEIR_OK;
	for (size_t i = 0; i < n; i++) {
		weir_err rv = dispatch_offer(subs[i], ev, &w);
		if (dispatch_rank(rv) > dispatch_rank(worst)) {
			worst = rv;
		}
	}
	return worst;
}

// After a push to @p sub: the high-water mark when due (@p pushed, not
// 0), its schedule and watermarks, as dispatch_offer does. Out of line:
// the common case (no mark due, already scheduled, no watermarks) is a
// few loads inside the offer.
static __attribute__((noinline)) weir_err
dispatch_pushed_slow(weir_subscr *sub, uint64_t pushed)
{
	if (pushed != 0) {
		weir__queue_note_slow(&sub->q, pushed);
	}
	dispatch_kick(sub, 0);
	dispatch_note_push(sub);
	return WEIR_OK;
}

// One open push subscription, past the inline push (a full ring, a
// claim that lost a race, a COALESCE queue). The caller tested `closed`
// and `pull`; neither is tested again. `pull` is set before the
// subscription is registered and never changes. `closed` may be set by
// now, but a close may as well come just after any test of it, and a
// push after a close is released with the queue (subscr.c): a test
// here would narrow that window, not shut it.
static __attribute__((noinline)) weir_err
dispatch_offer_one(weir_subscr *const *subs, weir_event *ev)
{
	weir_subscr *sub = subs[0];
	if (weir__queue_try_push(&sub->q, ev)) {
		dispatch_kick(sub, 0);
		dispatch_note_push(sub);
		return WEIR_OK;
	}
	return dispatch_offer_n(subs, 1, ev);
}

weir_err
weir__subscr_offer_all(weir_subscr *const *subs, size_t n, weir_event *ev)
{
	// One subscription of a loop whose ring has room, already
	// scheduled, no mark or watermark to note: nothing to decide, no
	// wait to prepare, and every call a tail call, so no frame (the
	// push is inline, queue.h). Anything else takes the general paths:
	// a closed or pull subscription the general offer.
	if (n == 1) {
		weir_subscr *sub = subs[0];
		size_t       at;
		if (atomic_load_explicit(&sub->closed, memory_order_relaxed) ||
		    sub->pull != NULL) {
			return dispatch_offer_n(subs, 1, ev);
		}
		if (weir__queue_push_fast(&sub->q, ev, &at)) {
			uint64_t pushed = weir__queue_note_due(&sub->q, at);
			if (pushed != 0 || !atomic_load(&sub->scheduled) ||
			    sub->cfg.high != 0) {
				return dispatch_pushed_slow(sub, pushed);
			}
			return WEIR_OK;
		}
		return dispatch_offer_one(subs, ev);
	}
	return dispatch_offer_n(subs, n, ev);
}

void
weir__subscr_kick(weir_subscr *sub)
{
	dispatch_kick(sub, 0);
}

weir_event *
weir__subscr_pop(weir_subscr *sub)
{
	weir_event *ev = weir__queue_pop(&sub->q);
	if (ev != NULL) {
		dispatch_note_pop(sub);
	}
	return ev;
}

// Events a pass takes from the queue at once: one claim of the ring
// for the run. Only a pass without a step's limits takes runs (a step
// may stop at its deadline between any two events).
#define DISPATCH_RUN 64

static size_t
dispatch_run_max(const weir_loop *loop, size_t left)
{
	size_t run = left < DISPATCH_RUN ? left : DISPATCH_RUN;
	if (loop->deadline_ns != 0) {
		return 1;
	}
	return loop->budget < run ? loop->budget : run;
}

// The events a run prefetches ahead of the handler: their lines were
// written on the publisher's core, and a handler's time is about one
// line's transfer.
#define DISPATCH_AHEAD 2

// An event's header, topic and a short payload: 3 lines.
static void
dispatch_prefetch(const weir_event *ev)
{
	for (size_t off = 0; off < 192; off += 64) {
		weir__prefetch_read((const char *) ev + off);
	}
}

// Latencies of a run: one clock read for the run (each event's latency
// is its wait up to the start of its run, docs/core.md "Event time"),
// and events stamped alike (a batch) recorded as one sample of n.
typedef struct dispatch_lat {
	int64_t  now;
	int64_t  ts;
	uint64_t n;
} dispatch_lat;

static void
dispatch_lat_note(weir_subscr *sub, dispatch_lat *dl, int64_t ts)
{
	if (ts != dl->ts && dl->n > 0) {
		weir__flow_latency(sub, dl->now - dl->ts, dl->n);
		dl->n = 0;
	}
	dl->ts = ts;
	dl->n++;
}

// Calls the handler on a run of events in order; events left when the
// subscription is closed meanwhile are released uncalled, as a close
// releases what is still queued. The run is released at its end, with
// one look at the thread's pool. Returns 0 once closed.
static int
dispatch_run(weir_subscr *sub, weir_event **evs, size_t k)
{
	dispatch_lat       dl = { weir__now_ns(), 0, 0 };
	size_t             i  = 0;
	weir__delivery_ctx ctx;
	weir__flow_run_begin(&ctx, sub);
	for (size_t j = 0; j < k && j < DISPATCH_AHEAD; j++) {
		dispatch_prefetch(evs[j]);
	}
	for (; i < k; i++) {
		if (atomic_load_explicit(&sub->closed, memory_order_relaxed)) {
			break;
		}
		if (i + DISPATCH_AHEAD < k) {
			dispatch_prefetch(evs[i + DISPATCH_AHEAD]);
		}
		atomic_store_explicit(
		    &sub->in_hand, k - i - 1, memory_order_relaxed);
		dispatch_lat_note(sub, &dl, evs[i]->ts);
		// Counts the call, takes failures to $weir.error (or retry
		// / dead letter, see flow.c).
		weir__flow_run_call(&ctx, evs[i]);
	}
	weir__flow_run_end(&ctx);
	if (dl.n > 0) {
		weir__flow_latency(sub, dl.now - dl.ts, dl.n);
	}
	// The calls count against the pass's budget after the run (it
	// took no more than the budget left): the loop's `dispatched`
	// moves a run at a time.
	weir__loop_spend_n(sub->loop, i);
	atomic_store_explicit(&sub->in_hand, 0, memory_order_relaxed);
	weir__event_release_n(evs, k);
	return i == k;
}

static void
dispatch_drain(weir_subscr *sub)
{
	weir_loop  *loop = sub->loop;
	weir_event *evs[DISPATCH_RUN];
	size_t      left = DISPATCH_BUDGET;
	while (left > 0) {
		if (atomic_load_explicit(&sub->closed, memory_order_relaxed) ||
		    !weir__loop_budget_left(loop)) {
			return;
		}
		// Counted as queued before the claim empties the ring.
		size_t want = dispatch_run_max(loop, left);
		atomic_store(&sub->in_hand, want);
		size_t k = weir__queue_pop_many(&sub->q, evs, want);
		if (k == 0) {
			atomic_store(&sub->in_hand, 0);
			return;
		}
		dispatch_note_pop(sub);
		left -= k;
		if (!dispatch_run(sub, evs, k)) {
			return;
		}
	}
}

// The pass ends: a close that came while it ran was handed to it
// (subscr.c), and is finished here, on the loop thread.
static void
dispatch_end(weir_subscr *sub, unsigned begun)
{
	unsigned st =
	    atomic_fetch_and(&sub->dstate, ~WEIR__SUBSCR_DISPATCHING);
	if ((st & WEIR__SUBSCR_CLOSING) && !(begun & WEIR__SUBSCR_CLOSING)) {
		weir__subscr_finish(sub);
	}
}

void
weir__subscr_dispatch(weir_subscr *sub)
{
	int      again  = 0;
	int      paused = 0;
	unsigned begun =
	    atomic_fetch_or(&sub->dstate, WEIR__SUBSCR_DISPATCHING);
	// Closed before the pass began: nothing to call, and the closer
	// finishes the close itself.
	int closed = (begun & WEIR__SUBSCR_CLOSING) != 0;
	if (!closed &&
	    atomic_load_explicit(&sub->flow->lat, memory_order_relaxed) ==
	        &weir__hist_none) {
		weir__hist_make(&sub->flow->lat); // the pass records latency
	}
	if (!closed && weir__flow_slow(sub)) {
		paused = weir__flow_drain(sub, DISPATCH_BUDGET);
		again  = weir__flow_take_rearm(sub);
	} else if (!closed) {
		dispatch_drain(sub);
	}
	dispatch_end(sub, begun);
	if (paused && !again) {
		// Paused: it stays marked scheduled, and whoever ends the
		// pause puts it back on the ready list (flow.c).
		return;
	}
	atomic_store(&sub->scheduled, 0);
	// A failed completion posted during the drain kicked a subscription
	// still marked scheduled: look for it after clearing the flag. A
	// drain that could not arm its timer comes back on the next pass.
	if (!atomic_load(&sub->closed) &&
	    (again || weir__queue_depth(&sub->q) > 0 ||
	        atomic_load(&sub->flow->has_done))) {
		// Events left (or pushed while the flag was still set) are
		// the same stream: a publisher that lost the race to
		// schedule it leaves the kick to this thread.
		dispatch_kick(sub, 1);
	}
}
