/*
 * weir_sink_ack: a backend's outcome for one message, from any thread.
 * The token names the route (top 16 bits, index + 1); the outcome is
 * queued for the route's relay thread, which alone touches the window.
 */
#include "bridge/bridge.h"
#include "core/alloc.h"

void
weir_sink_ack(weir_sink *sink, uint64_t token, weir_err result, int retriable,
    const char *reason)
{
	if (sink == NULL || sink->br == NULL)
		return;
	weir_bridge *br  = sink->br;
	uint64_t     idx = token >> 48;
	if (idx == 0 || idx > br->nroutes)
		return; /* not a token of ours */
	weir__route *rt   = br->routes[idx - 1];
	char        *copy = reason != NULL ? weir__strdup(reason) : NULL;
	pthread_mutex_lock(&rt->lock);
	if (rt->nacks == rt->cap_acks) {
		size_t     cap = rt->cap_acks ? rt->cap_acks * 2 : 64;
		weir__ack *na  = weir__realloc(rt->acks, cap * sizeof *na);
		if (na == NULL) {
			/* The ack is lost: the relay's ack timeout re-sends
			 * the message (the broker de-duplicates by id). */
			pthread_mutex_unlock(&rt->lock);
			weir__free(copy);
			return;
		}
		rt->acks     = na;
		rt->cap_acks = cap;
	}
	rt->acks[rt->nacks++] = (weir__ack) { .token = token,
		.result                              = result,
		.retriable                           = retriable,
		.reason                              = copy };
	rt->wake              = 1;
	pthread_cond_signal(&rt->cond);
	pthread_mutex_unlock(&rt->lock);
}
