// Design notes. A handler call runs with a delivery context on the
// loop thread's stack, reachable through a thread-local pointer (the
// contexts nest when a handler drives another loop). defer() turns the
// context into a heap token that holds the event and the subscription;
// the token counts in flight until it is completed, on any thread. A
// failed completion cannot run the failure path there (it may call
// listeners, which run on loops only), so it is posted to the
// subscription's `done` list and the loop takes it on its next pass.
#include "core/alloc.h"
#include "core/event.h"
#include "core/flow.h"
#include "core/loop.h"
#include "core/subscr.h"
#include "core/uuid.h"

struct weir_delivery {
	weir_subscr *sub; // held
	weir_event  *ev;  // held
	uint32_t     attempts;
};

typedef weir__delivery_ctx delivery_ctx;

static _Thread_local delivery_ctx *delivery_cur;

static void
delivery_bump(atomic_uint_least64_t *c)
{
	// Only the loop's thread writes this counter: no read-modify-write.
	atomic_store_explicit(c,
	    atomic_load_explicit(c, memory_order_relaxed) + 1,
	    memory_order_relaxed);
}

void
weir__flow_latency(weir_subscr *sub, int64_t lat, uint64_t n)
{
	// Only this loop sets the slot (weir__subscr_dispatch()).
	weir__hist_record_n(
	    atomic_load_explicit(&sub->flow->lat, memory_order_relaxed),
	    lat > 0 ? (uint64_t) lat : 0, n);
}

void
weir__flow_run_begin(weir__delivery_ctx *ctx, weir_subscr *sub)
{
	*ctx         = (delivery_ctx) { sub, NULL, 1, 0, delivery_cur };
	delivery_cur = ctx;
}

void
weir__flow_run_end(weir__delivery_ctx *ctx)
{
	delivery_cur = ctx->prev;
}

// What follows a call that is not a plain success on a first attempt:
// the retry count, and the failure path. Out of line, so that the
// common case keeps only the context across the handler call.
static __attribute__((noinline)) void
delivery_after(delivery_ctx *ctx, weir_err rv)
{
	weir_subscr *sub = ctx->sub;
	if (ctx->attempts > 1) {
		delivery_bump(&sub->flow->retried);
	}
	if (!ctx->deferred && rv != WEIR_OK && rv != WEIR_EPENDING) {
		// Outside the call's context, as before the run shared one:
		// what the failure path runs (listeners of $weir.error) is
		// not part of this delivery.
		delivery_cur = ctx->prev;
		weir__flow_failed(sub, ctx->ev, ctx->attempts, rv);
		delivery_cur = ctx;
	}
}

void
weir__flow_run_call(weir__delivery_ctx *ctx, weir_event *ev)
{
	weir_subscr *sub = ctx->sub;
	ctx->ev          = ev;
	ctx->deferred    = 0;
	weir_err rv      = sub->fn(sub->bus, ev, sub->arg);
	// Read again from the context: only it is kept across the call.
	delivery_bump(&ctx->sub->q.delivered);
	if (rv != WEIR_OK || ctx->attempts > 1) {
		delivery_after(ctx, rv);
	}
}

void
weir__flow_call(weir_subscr *sub, weir_event *ev, uint32_t attempts)
{
	delivery_ctx ctx;
	weir__flow_run_begin(&ctx, sub);
	ctx.attempts = attempts;
	weir__flow_run_call(&ctx, ev);
	weir__flow_run_end(&ctx);
}

weir_subscr *
weir_subscr_current(void)
{
	return delivery_cur ? delivery_cur->sub : NULL;
}

weir_err
weir_delivery_defer(weir_delivery **out)
{
	if (out == NULL) {
		return WEIR_EINVAL;
	}
	*out            = NULL;
	delivery_ctx *c = delivery_cur;
	if (c == NULL || c->deferred) {
		return WEIR_EINVAL;
	}
	weir_delivery *d = weir__zalloc(sizeof(*d));
	if (d == NULL ||
	    (d->ev = (weir_event *) weir_event_hold(c->ev)) == NULL) {
		weir__free(d);
		return WEIR_ENOMEM;
	}
	d->sub      = c->sub;
	d->attempts = c->attempts;
	weir__subscr_hold(d->sub);
	c->deferred = 1;
	atomic_fetch_add(&d->sub->flow->in_flight, 1);
	atomic_fetch_add(&d->sub->flow->deferred, 1);
	*out = d;
	return WEIR_OK;
}

const weir_event *
weir_delivery_event(const weir_delivery *d)
{
	return d ? d->ev : NULL;
}

weir_subscr *
weir_delivery_subscr(const weir_delivery *d)
{
	return d ? d->sub : NULL;
}

static void
delivery_post_failure(weir_delivery *d, weir_err result)
{
	weir__flow  *fl = d->sub->flow;
	weir__retry *r  = weir__zalloc(sizeof(*r));
	if (WEIR_NEVER(r == NULL)) {
		return; // out of memory: the failure goes uncounted
	}
	*r = (weir__retry) {
		.ev = d->ev, .attempts = d->attempts, .err = result
	};
	d->ev = NULL;
	pthread_mutex_lock(&fl->done_mx);
	r->next  = fl->done;
	fl->done = r;
	atomic_store(&fl->has_done, 1);
	pthread_mutex_unlock(&fl->done_mx);
}

void
weir_delivery_complete(weir_delivery *d, weir_err result)
{
	if (d == NULL) {
		return;
	}
	weir_subscr *sub    = d->sub;
	int          closed = atomic_load(&sub->closed);
	if (result != WEIR_OK && result != WEIR_EPENDING && !closed) {
		delivery_post_failure(d, result);
	}
	weir_event_release(d->ev);
	atomic_fetch_sub(&sub->flow->in_flight, 1);
	if (!closed) {
		weir__flow_resume(sub);
	}
	weir__subscr_release(sub);
	weir__free(d);
}
