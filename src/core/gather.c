// Design notes. When publishers on other threads keep a loop just busy
// enough, every pass takes a handful of events: the loop chases the
// publisher, so each event's cache lines, its ring cell and the
// ready-list and schedule flags cross between the two cores while still
// being written, and the publisher pays a schedule (often a wake-up) per
// handful. Measured on 2 vCPUs with one publisher: passes of 5-20
// events, 100-300 ns per event. After such a pass the loop waits a few
// microseconds without touching anything the publishers write, so the
// next pass finds a batch: 70-80 ns per event, steady.
//
// It waits only after a pass that ran work scheduled from another thread,
// found it without sleeping (a stream, not a lone event), and took fewer
// than GATHER_BATCH events (a larger batch needs no help). A handler that
// publishes to its own loop does not make it wait, and neither do steps
// of a host loop or NOWAIT/ONCE runs. The price is up to gather_us of
// extra latency for events of a steady stream; weir_loop_set_gather(0)
// turns it off.
#include "core/clock.h"
#include "core/loop.h"

#define GATHER_BATCH 256

void
weir__gather_wait(weir_loop *loop, weir_run_mode mode)
{
	if (!loop->gather_next || mode != WEIR_RUN_DEFAULT) {
		return;
	}
	loop->gather_next = 0;
	int64_t us        = (int64_t) atomic_load_explicit(
	           &loop->gather_us, memory_order_relaxed);
	if (us == 0) {
		return;
	}
	weir__loop_bump(&loop->st.gathers);
	// The clock once every 16 pauses; only `stop` is looked at, a
	// line publishers never write.
	int64_t end = weir__mono_ns() + us * 1000;
	for (unsigned i = 1;
	     !atomic_load_explicit(&loop->stop, memory_order_relaxed); i++) {
		weir__cpu_relax();
		if ((i & 15) == 0 && weir__mono_ns() >= end) {
			return;
		}
	}
}

void
weir__gather_note(weir_loop *loop, uint64_t dispatched, int slept)
{
	loop->gather_next = loop->pass_remote && !slept && dispatched > 0 &&
	    dispatched < GATHER_BATCH;
}

weir_err
weir_loop_set_gather(weir_loop *loop, uint32_t usec)
{
	if (loop == NULL || usec > 1000000) {
		return WEIR_EINVAL;
	}
	atomic_store(&loop->gather_us, usec);
	return WEIR_OK;
}
