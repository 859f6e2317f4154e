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
// It waits only after a pass that ran work scheduled from another thread
// and took a stream, not a lone event: more than one event, or any found
// without sleeping. After a small batch (under GATHER_BATCH) it waits
// before its next look; after a large one only if nothing is ready (the
// loop was behind; sleeping now would cost a wake-up soon). A handler
// that publishes to its own loop does not make it wait, and neither do
// steps of a host loop or NOWAIT/ONCE runs. The price is up to gather_us of
// extra latency for events of a steady stream; weir_loop_set_gather(0)
// turns it off.
#include "core/clock.h"
#include "core/loop.h"

#define GATHER_BATCH 256

// After a stream, the loop looks for work (the ready flag only) this
// many gather times before it sleeps.
#define GATHER_SPIN 10

enum { GATHER_NONE, GATHER_SMALL, GATHER_LARGE };

void
weir__gather_wait(weir_loop *loop, weir_run_mode mode)
{
	int next          = loop->gather_next;
	loop->gather_next = GATHER_NONE;
	loop->in_stream   = next != GATHER_NONE;
	// After a large batch the loop was behind: with work ready it goes
	// on at once; with none it waits before sleeping, as the stream is
	// likely still running and a wake-up costs the publisher more.
	if (next == GATHER_NONE || mode != WEIR_RUN_DEFAULT ||
	    (next == GATHER_LARGE && weir__loop_has_ready(loop))) {
		return;
	}
	int64_t us = (int64_t) atomic_load_explicit(
	    &loop->gather_us, memory_order_relaxed);
	if (us == 0) {
		return;
	}
	weir__loop_bump(&loop->st.gathers);
	// Only `stop` is looked at, a line publishers never write.
	weir__loop_busy_wait(loop, us * 1000, 0);
}

void
weir__gather_note(weir_loop *loop, uint64_t dispatched, int slept)
{
	// A pass that woke from sleep for a single event saw a lone event:
	// waiting after it would only burn the core. Several events, or
	// events found without sleeping, are a stream.
	uint64_t stream = slept ? 2 : 1;
	if (!loop->pass_remote || dispatched < stream) {
		loop->gather_next = GATHER_NONE;
	} else {
		loop->gather_next =
		    dispatched < GATHER_BATCH ? GATHER_SMALL : GATHER_LARGE;
	}
}

int64_t
weir__gather_spin_ns(weir_loop *loop)
{
	if (!loop->in_stream) {
		return 0;
	}
	return (int64_t) atomic_load_explicit(
	           &loop->gather_us, memory_order_relaxed) *
	    1000 * GATHER_SPIN;
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
