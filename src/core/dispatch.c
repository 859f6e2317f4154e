// Design notes. Offering and dispatching are the two halves of the hot
// path. A producer pushes, notes the watermark, and schedules the
// subscription only if it is not already scheduled (the edge). The loop
// dispatches at most what was queued when the pass began (events
// published by handlers wait for the next pass) and at most
// DISPATCH_BUDGET, so one busy subscription cannot starve the others.
// Unscheduling clears the flag first and looks at the depth after, and
// a producer pushes first and looks at the flag after (both seq_cst),
// so an event is never left queued with nobody scheduled to take it.
#include "core/bus.h"
#include "core/emit.h"
#include "core/event.h"
#include "core/loop.h"
#include "core/subscr.h"

#define DISPATCH_BUDGET 1024

static void
dispatch_note_push(weir_subscr *sub, size_t depth)
{
	if (sub->cfg.high == 0 || depth < sub->cfg.high ||
	    atomic_load_explicit(&sub->pressured, memory_order_relaxed)) {
		return;
	}
	if (!atomic_exchange(&sub->pressured, 1)) {
		atomic_fetch_add(&sub->q.st.pressure, 1);
		if (sub->cfg.on_pressure != NULL) {
			sub->cfg.on_pressure(sub, sub->cfg.wm_arg);
		}
	}
}

static void
dispatch_note_pop(weir_subscr *sub, size_t depth)
{
	if (sub->cfg.high == 0 || depth > sub->cfg.low ||
	    !atomic_load_explicit(&sub->pressured, memory_order_relaxed)) {
		return;
	}
	if (atomic_exchange(&sub->pressured, 0)) {
		atomic_fetch_add(&sub->q.st.drain, 1);
		if (sub->cfg.on_drain != NULL) {
			sub->cfg.on_drain(sub, sub->cfg.wm_arg);
		}
	}
}

static void
dispatch_kick(weir_subscr *sub)
{
	if (!atomic_load(&sub->scheduled) &&
	    !atomic_exchange(&sub->scheduled, 1)) {
		weir__loop_schedule(sub->loop, sub);
	}
}

static weir_err
dispatch_offer(weir_subscr *sub, weir_event *ev)
{
	if (atomic_load_explicit(&sub->closed, memory_order_relaxed)) {
		return WEIR_OK;
	}
	size_t   depth;
	int      may_block = !weir__loop_on_thread(sub->loop);
	weir_err rv = weir__queue_push(&sub->q, ev, may_block, &depth);
	if (depth > 0) {
		dispatch_note_push(sub, depth);
		dispatch_kick(sub);
	}
	return rv;
}

weir_err
weir__subscr_offer_all(weir_subscr *const *subs, size_t n, weir_event *ev)
{
	weir_err worst = WEIR_OK;
	for (size_t i = 0; i < n; i++) {
		weir_err rv = dispatch_offer(subs[i], ev);
		if (rv == WEIR_ETIMEDOUT || (rv == WEIR_EFULL && !worst)) {
			worst = rv;
		}
	}
	return worst;
}

static void
dispatch_count(atomic_uint_least64_t *c)
{
	// Only the loop's thread writes this counter: no read-modify-write.
	atomic_store_explicit(c,
	    atomic_load_explicit(c, memory_order_relaxed) + 1,
	    memory_order_relaxed);
}

static void
dispatch_one(weir_subscr *sub, weir_event *ev)
{
	weir_err rv = sub->fn(sub->bus, ev, sub->arg);
	dispatch_count(&sub->q.st.delivered);
	if (rv != WEIR_OK && rv != WEIR_EPENDING) {
		dispatch_count(&sub->q.st.failed);
		weir__report_error(sub->bus, ev, rv, sub->cfg.name);
	}
}

static void
dispatch_drain(weir_subscr *sub)
{
	size_t budget = weir__queue_depth(&sub->q);
	if (budget > DISPATCH_BUDGET) {
		budget = DISPATCH_BUDGET;
	}
	for (size_t i = 0; i < budget; i++) {
		if (atomic_load_explicit(&sub->closed, memory_order_relaxed)) {
			return;
		}
		size_t      depth;
		weir_event *ev = weir__queue_pop(&sub->q, &depth);
		if (ev == NULL) {
			return;
		}
		dispatch_note_pop(sub, depth);
		dispatch_one(sub, ev);
		weir_event_release(ev);
	}
}

void
weir__subscr_dispatch(weir_subscr *sub)
{
	pthread_mutex_lock(&sub->dispatch_mx);
	dispatch_drain(sub);
	pthread_mutex_unlock(&sub->dispatch_mx);
	atomic_store(&sub->scheduled, 0);
	if (!atomic_load(&sub->closed) && weir__queue_depth(&sub->q) > 0) {
		dispatch_kick(sub);
	}
}
