/*
 * weir on a libevent base: header-only glue (hiredis adapters/ style).
 *
 *   weir_libevent *a;
 *   weir_libevent_attach(&a, base, weir_bus_loop(bus));
 *   event_base_dispatch(base);          // weir handlers run here
 *   weir_libevent_detach(a);
 *
 * A persistent read event on weir_loop_fd() and an evtimer following
 * weir_loop_timeout() call weir_loop_step() with a budget; unfinished
 * work re-arms the timer at 0. A second attach of the same weir loop
 * fails with WEIR_EBUSY (weir_loop_host() names the attached host).
 */
#ifndef WEIR_ADAPTERS_LIBEVENT_H
#define WEIR_ADAPTERS_LIBEVENT_H

#include <stdlib.h>

#include <event2/event.h>

#include <weir/weir.h>

#define WEIR_LIBEVENT_MAX_EVENTS 1024
#define WEIR_LIBEVENT_MAX_NS 2000000u

typedef struct weir_libevent {
	struct event_base *base;
	struct event      *rd;
	struct event      *tm;
	weir_loop         *loop;
} weir_libevent;

static void
weir_libevent_step_(evutil_socket_t fd, short what, void *arg)
{
	weir_libevent *a = (weir_libevent *) arg;
	(void) fd;
	(void) what;
	weir_err rv = weir_loop_step(
	    a->loop, WEIR_LIBEVENT_MAX_EVENTS, WEIR_LIBEVENT_MAX_NS, NULL);
	int ms = rv == WEIR_EAGAIN ? 0 : weir_loop_timeout(a->loop);
	if (ms < 0) {
		evtimer_del(a->tm);
	} else {
		struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
		evtimer_add(a->tm, &tv);
	}
}

/**
 * @brief Drives @p loop from @p base until weir_libevent_detach().
 * @returns WEIR_EBUSY if @p loop is already attached to a host (or is
 *          running on a thread), WEIR_EINVAL, WEIR_ENOMEM.
 * @remark Call on the base's thread; weir handlers run there.
 */
static inline weir_err
weir_libevent_attach(
    weir_libevent **out, struct event_base *base, weir_loop *loop)
{
	if (base == NULL || loop == NULL || out == NULL) {
		return WEIR_EINVAL;
	}
	*out        = NULL;
	weir_err rv = weir_loop_attach_host(loop, "libevent");
	if (rv != WEIR_OK) {
		return rv;
	}
	weir_libevent *a = (weir_libevent *) calloc(1, sizeof(*a));
	if (a != NULL) {
		a->base = base;
		a->loop = loop;
		a->rd   = event_new(base, weir_loop_fd(loop),
		      EV_READ | EV_PERSIST, weir_libevent_step_, a);
		a->tm   = evtimer_new(base, weir_libevent_step_, a);
	}
	if (a == NULL || a->rd == NULL || a->tm == NULL) {
		if (a != NULL && a->rd != NULL) {
			event_free(a->rd);
		}
		if (a != NULL && a->tm != NULL) {
			event_free(a->tm);
		}
		free(a);
		weir_loop_detach_host(loop);
		return WEIR_ENOMEM;
	}
	struct timeval now = { 0, 0 }; /* work may be pending already */
	event_add(a->rd, NULL);
	evtimer_add(a->tm, &now);
	*out = a;
	return WEIR_OK;
}

/** @brief Stops driving the weir loop and frees; NULL is a no-op. */
static inline void
weir_libevent_detach(weir_libevent *a)
{
	if (a == NULL) {
		return;
	}
	event_free(a->rd);
	event_free(a->tm);
	weir_loop_detach_host(a->loop);
	free(a);
}

#endif /* WEIR_ADAPTERS_LIBEVENT_H */
