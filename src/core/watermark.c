// Design notes. A subscription with watermarks has one state word,
// `wm`, that only ever moves IDLE -> RAISING -> PRESSURED -> LOWERING
// -> IDLE. The two moves into a callback state (IDLE -> RAISING,
// PRESSURED -> LOWERING) are CASes, so exactly one thread makes each;
// that thread owns the callback state, counts the callback, calls it,
// and alone leaves the state (a plain store). Hence, for one
// subscription:
// - on_pressure and on_drain never run at the same time, and they
//   alternate, pressure first: a drain is only reachable through a
//   delivered pressure, and a pressure only through a delivered drain;
// - the stats' pressure count is the drain count, or one more while a
//   pressure waits for its drain;
// - a publisher that finds RAISING or LOWERING (another thread is in a
//   callback, or its own callback is publishing) does nothing: the
//   owner looks again when its callback returns.
// No drain is lost. The owner of RAISING stores PRESSURED, then reads
// the depth; a popper takes its event, then reads the state. The pop
// (a CAS of head, or the coalesce depth store), the depth read, and
// every access to `wm` are seq_cst, so in their one total order either
// the last pop comes before the store of PRESSURED, and the owner's
// depth read sees the queue at its final depth (and the owner delivers
// the drain at once, on its own thread), or after it, and that popper
// reads PRESSURED (or a later state, whose owner carries on). Pushes
// and the store of IDLE by the owner of LOWERING mirror this, so no
// pressure is lost either: a depth that reached high while a drain was
// being delivered raises the pressure as the drain returns. The loop
// an owner runs (pressure, look, drain, look, ...) goes on only while
// other threads move the depth across both watermarks, each turn a
// real crossing.
// Not tracked: the events a DROP_OLDEST publisher pops to make room
// (its push follows at once), and the queue emptied by a close (a
// closed subscription is owed no drain).
#include "core/watermark.h"
#include "core/subscr.h"

#ifdef WEIR_TESTING
_Atomic(weir__wm_hook_fn) weir__wm_hook;
#endif

static void
wm_hook(weir_subscr *sub, int point)
{
#ifdef WEIR_TESTING
	weir__wm_hook_fn fn = atomic_load(&weir__wm_hook);
	if (fn != NULL) {
		fn(sub, point);
	}
#else
	(void) sub;
	(void) point;
#endif
}

// Delivers the callback of state @p s, owned by this thread, and those
// that become due meanwhile; returns when none is owed by this thread.
static void
wm_deliver(weir_subscr *sub, int s)
{
	for (;;) {
		int from, to;
		if (s == WEIR__WM_RAISING) {
			atomic_fetch_add(&sub->q.st.pressure, 1);
			if (sub->cfg.on_pressure != NULL) {
				sub->cfg.on_pressure(sub, sub->cfg.wm_arg);
			}
			atomic_store(&sub->wm, WEIR__WM_PRESSURED);
			if (weir__queue_depth(&sub->q) > sub->cfg.low) {
				return;
			}
			from = WEIR__WM_PRESSURED;
			to   = WEIR__WM_LOWERING;
		} else {
			atomic_fetch_add(&sub->q.st.drain, 1);
			if (sub->cfg.on_drain != NULL) {
				sub->cfg.on_drain(sub, sub->cfg.wm_arg);
			}
			atomic_store(&sub->wm, WEIR__WM_IDLE);
			if (weir__queue_depth(&sub->q) < sub->cfg.high) {
				return;
			}
			from = WEIR__WM_IDLE;
			to   = WEIR__WM_RAISING;
		}
		// Lost only to a popper or publisher that saw the same depth
		// and now delivers the callback itself.
		if (!atomic_compare_exchange_strong(&sub->wm, &from, to)) {
			return;
		}
		s = to;
	}
}

void
weir__watermark_pushed(weir_subscr *sub)
{
	if (atomic_load(&sub->wm) != WEIR__WM_IDLE ||
	    weir__queue_depth(&sub->q) < sub->cfg.high) {
		return;
	}
	wm_hook(sub, WEIR__WM_SEEN);
	int s = WEIR__WM_IDLE;
	if (atomic_compare_exchange_strong(&sub->wm, &s, WEIR__WM_RAISING)) {
		wm_hook(sub, WEIR__WM_CLAIMED);
		wm_deliver(sub, WEIR__WM_RAISING);
	}
}

void
weir__watermark_popped(weir_subscr *sub)
{
	if (atomic_load(&sub->wm) != WEIR__WM_PRESSURED ||
	    weir__queue_depth(&sub->q) > sub->cfg.low) {
		return;
	}
	int s = WEIR__WM_PRESSURED;
	if (atomic_compare_exchange_strong(&sub->wm, &s, WEIR__WM_LOWERING)) {
		wm_deliver(sub, WEIR__WM_LOWERING);
	}
}
