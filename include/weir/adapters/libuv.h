/*
 * weir on a libuv loop: header-only glue (hiredis adapters/ style).
 *
 *   weir_libuv *a;
 *   weir_libuv_attach(&a, uv_default_loop(), weir_bus_loop(bus));
 *   uv_run(uv_default_loop(), UV_RUN_DEFAULT);  // weir handlers run here
 *   weir_libuv_detach(a);                          // before uv_loop_close
 *
 * A uv_poll watches weir_loop_fd() (readable when events, wake-ups or
 * fd watchers are pending) and a uv_timer follows weir_loop_timeout()
 * for weir's timers. Each callback runs weir_loop_step() with a budget,
 * so a storm of events never holds the libuv loop for long: unfinished
 * work leaves the fd readable and re-arms the timer at 0.
 * A weir loop can be attached to one host at a time: a second attach
 * fails with WEIR_EBUSY (weir_loop_host() names the attached one).
 */
#ifndef WEIR_ADAPTERS_LIBUV_H
#define WEIR_ADAPTERS_LIBUV_H

#include <stdlib.h>

#include <uv.h>

#include <weir/weir.h>

/* Budget of one step: handler calls and nanoseconds. */
#define WEIR_LIBUV_MAX_EVENTS 1024
#define WEIR_LIBUV_MAX_NS 2000000u

typedef struct weir_libuv {
	uv_poll_t  poll;
	uv_timer_t timer;
	uv_loop_t *uv;
	weir_loop *loop;
	int        open_handles; /* freed when both are closed */
} weir_libuv;

static void weir_libuv_rearm_(weir_libuv *a, weir_err step_rv);

static void
weir_libuv_step_(weir_libuv *a)
{
	weir_err rv = weir_loop_step(
	    a->loop, WEIR_LIBUV_MAX_EVENTS, WEIR_LIBUV_MAX_NS, NULL);
	weir_libuv_rearm_(a, rv);
}

static void
weir_libuv_on_timer_(uv_timer_t *t)
{
	weir_libuv_step_((weir_libuv *) t->data);
}

static void
weir_libuv_on_poll_(uv_poll_t *p, int status, int events)
{
	(void) status;
	(void) events;
	weir_libuv_step_((weir_libuv *) p->data);
}

static void
weir_libuv_rearm_(weir_libuv *a, weir_err step_rv)
{
	int ms = step_rv == WEIR_EAGAIN ? 0 : weir_loop_timeout(a->loop);
	if (ms < 0) {
		uv_timer_stop(&a->timer);
	} else {
		uv_timer_start(
		    &a->timer, weir_libuv_on_timer_, (uint64_t) ms, 0);
	}
}

/**
 * @brief Drives @p loop from @p uv until weir_libuv_detach().
 * @returns WEIR_EBUSY if @p loop is already attached to a host (or is
 *          running on a thread), WEIR_EINVAL, WEIR_ENOMEM, WEIR_EIO if
 *          libuv refuses the descriptor.
 * @remark Call on the libuv loop's thread. weir handlers then run in
 *         uv_run(), on that thread.
 */
static inline weir_err
weir_libuv_attach(weir_libuv **out, uv_loop_t *uv, weir_loop *loop)
{
	if (uv == NULL || loop == NULL || out == NULL) {
		return WEIR_EINVAL;
	}
	*out        = NULL;
	weir_err rv = weir_loop_attach_host(loop, "libuv");
	if (rv != WEIR_OK) {
		return rv;
	}
	weir_libuv *a = (weir_libuv *) calloc(1, sizeof(*a));
	if (a == NULL) {
		weir_loop_detach_host(loop);
		return WEIR_ENOMEM;
	}
	a->uv   = uv;
	a->loop = loop;
	if (uv_poll_init(uv, &a->poll, weir_loop_fd(loop)) != 0) {
		weir_loop_detach_host(loop);
		free(a);
		return WEIR_EIO;
	}
	uv_timer_init(uv, &a->timer);
	a->poll.data = a->timer.data = a;
	a->open_handles              = 2;
	uv_poll_start(&a->poll, UV_READABLE, weir_libuv_on_poll_);
	/* Work may be pending already: take a first step at once. */
	uv_timer_start(&a->timer, weir_libuv_on_timer_, 0, 0);
	*out = a;
	return WEIR_OK;
}

static void
weir_libuv_on_close_(uv_handle_t *h)
{
	weir_libuv *a = (weir_libuv *) h->data;
	if (--a->open_handles == 0) {
		free(a);
	}
}

/**
 * @brief Stops driving the weir loop; the memory is freed once libuv
 *        has closed both handles (run the uv loop once more).
 * @remark NULL is a no-op. Call on the libuv loop's thread, never from
 *         a weir handler running in this adapter's step.
 */
static inline void
weir_libuv_detach(weir_libuv *a)
{
	if (a == NULL) {
		return;
	}
	uv_poll_stop(&a->poll);
	uv_timer_stop(&a->timer);
	weir_loop_detach_host(a->loop);
	uv_close((uv_handle_t *) &a->poll, weir_libuv_on_close_);
	uv_close((uv_handle_t *) &a->timer, weir_libuv_on_close_);
}

#endif /* WEIR_ADAPTERS_LIBUV_H */
