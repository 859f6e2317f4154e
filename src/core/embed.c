// Design notes. Embedding a loop in a host's loop (libuv, libevent, the
// host's own epoll) needs three things: one descriptor that polls
// readable when there is work (weir_loop_fd(): the epoll set holding
// the wake fd and the watchers), the time until the next weir timer
// (weir_loop_timeout()), and a step that never blocks and returns
// within a budget, so a storm of events cannot hold the host's loop.
// A step is a NOWAIT pass whose dispatch stops once the budget of
// handler calls or of time is spent; the subscriptions not reached go
// back to the front of the ready list and the wake fd is written, so
// the descriptor stays readable and the host calls again.
#include <stdint.h>

#include "core/loop.h"
#include "core/uuid.h"

void
weir__loop_bump(atomic_uint_least64_t *c)
{
	atomic_store_explicit(c,
	    atomic_load_explicit(c, memory_order_relaxed) + 1,
	    memory_order_relaxed);
}

int
weir__loop_budget_left(weir_loop *loop)
{
	if (loop->budget == 0) {
		return 0;
	}
	if (loop->deadline_ns != 0 && weir__mono_ns() >= loop->deadline_ns) {
		loop->budget = 0;
		return 0;
	}
	return 1;
}

void
weir__loop_spend(weir_loop *loop)
{
	weir__loop_spend_n(loop, 1);
}

void
weir__loop_spend_n(weir_loop *loop, size_t n)
{
	// A run never takes more than the budget left (dispatch.c).
	if (loop->budget != SIZE_MAX) {
		loop->budget -= n;
	}
	atomic_store_explicit(&loop->st.dispatched,
	    atomic_load_explicit(&loop->st.dispatched, memory_order_relaxed) +
	        n,
	    memory_order_relaxed);
}

weir_err
weir_loop_step(
    weir_loop *loop, size_t max_events, uint64_t max_ns, size_t *done)
{
	if (done != NULL) {
		*done = 0;
	}
	if (loop == NULL) {
		return WEIR_EINVAL;
	}
	weir_err rv = weir__loop_enter(loop);
	if (rv != WEIR_OK) {
		return rv;
	}
	size_t budget     = max_events ? max_events : SIZE_MAX;
	loop->budget      = budget;
	loop->deadline_ns = max_ns ? weir__mono_ns() + (int64_t) max_ns : 0;
	weir__loop_bump(&loop->st.steps);
	weir__loop_pass(loop, WEIR_RUN_NOWAIT);
	int out_of_budget = loop->budget == 0;
	if (done != NULL && budget != SIZE_MAX) {
		*done = budget - loop->budget;
	}
	loop->budget      = SIZE_MAX;
	loop->deadline_ns = 0;
	if (out_of_budget) {
		weir__loop_bump(&loop->st.budget_out);
	}
	int more = weir__loop_leave(loop);
	return more ? WEIR_EAGAIN : WEIR_OK;
}

int
weir_loop_timeout(weir_loop *loop)
{
	if (loop == NULL) {
		return -1;
	}
	int ready = weir__loop_has_ready(loop);
	return ready ? 0 : weir__timers_timeout(&loop->timers);
}

weir_err
weir_loop_attach_host(weir_loop *loop, const char *host)
{
	if (loop == NULL || host == NULL) {
		return WEIR_EINVAL;
	}
	const char *none = NULL;
	if (atomic_load(&loop->running) ||
	    !atomic_compare_exchange_strong(&loop->host, &none, host)) {
		return WEIR_EBUSY;
	}
	return WEIR_OK;
}

void
weir_loop_detach_host(weir_loop *loop)
{
	if (loop != NULL) {
		atomic_store(&loop->host, NULL);
	}
}

const char *
weir_loop_host(weir_loop *loop)
{
	return loop ? atomic_load(&loop->host) : NULL;
}

weir_err
weir_loop_set_spin(weir_loop *loop, uint32_t usec)
{
	if (loop == NULL || usec > 1000000) {
		return WEIR_EINVAL;
	}
	atomic_store(&loop->spin_us, usec);
	return WEIR_OK;
}
