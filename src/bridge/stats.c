/* Route counters: weir_bridge_route_stats_get and the bus's stats JSON. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bridge/bridge.h"
#include "bridge/inbound.h"
#include "core/abi.h"
#include "core/alloc.h"
#include "core/jbuf.h"

static void
stats_read(weir__route *rt, weir_bridge_route_stats *st)
{
	memset(st, 0, sizeof *st);
	st->size       = sizeof *st;
	st->sent       = atomic_load(&rt->sent);
	st->acked      = atomic_load(&rt->acked);
	st->retried    = atomic_load(&rt->retried);
	st->dead       = atomic_load(&rt->dead);
	int64_t b      = atomic_load(&rt->backlog);
	st->backlog    = b > 0 ? (uint64_t) b : 0;
	st->lag_events = st->backlog;
	/* under the lock: intake_stop clears sub before unsubscribing */
	pthread_mutex_lock(&rt->lock);
	if (rt->sub != NULL) {
		/* cannot fail for a live subscription and a full-size struct;
		 * were it to, ss.queued stays 0 */
		weir_subscr_stats ss = WEIR_STRUCT_INIT(weir_subscr_stats);
		(void) weir_subscr_stats_get(rt->sub, &ss);
		st->lag_events += ss.queued;
	}
	pthread_mutex_unlock(&rt->lock);
	int64_t oldest = atomic_load(&rt->oldest_ts);
	if (oldest > 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t now = (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
		st->lag_seconds =
		    now > oldest ? (double) (now - oldest) / 1e9 : 0;
	}
	st->cursor        = atomic_load(&rt->cursor);
	st->paused        = atomic_load(&rt->paused);
	st->breaker_opens = atomic_load(&rt->opens);
	st->breaker       = (weir_bridge_breaker) atomic_load(&rt->breaker);
	st->store_failed  = atomic_load(&rt->store_failed);
}

weir_err
weir_bridge_route_stats_get(
    weir_bridge *br, const char *name, weir_bridge_route_stats *out)
{
	if (br == NULL || name == NULL || out == NULL)
		return WEIR_EINVAL;
	weir__route *rt = weir__bridge_route(br, name);
	if (rt == NULL)
		return WEIR_ENOENT;
	weir_bridge_route_stats st;
	stats_read(rt, &st);
	return weir__struct_out(out, &st, sizeof st);
}

const char *
weir_bridge_breaker_name(weir_bridge_breaker b)
{
	switch (b) {
	case WEIR_BRIDGE_BREAKER_CLOSED:
		return "closed";
	case WEIR_BRIDGE_BREAKER_OPEN:
		return "open";
	case WEIR_BRIDGE_BREAKER_HALF_OPEN:
		return "half_open";
	}
	return "unknown";
}

#define U(x) ((unsigned long long) (x))

/* One route as JSON. Names are checked ([A-Za-z0-9_.-]); schemes are
 * the backends' own, any string, so escaped. */
static void
stats_route_json(weir__route *rt, weir__jbuf *b)
{
	weir_bridge_route_stats st;
	stats_read(rt, &st);
	weir__jbuf_add(b,
	    "{\"name\":\"%s\",\"mode\":\"%s\",\"scheme\":", rt->name,
	    rt->direct ? "direct" : "store");
	weir__jbuf_str(b, rt->be->ops->scheme);
	weir__jbuf_add(b,
	    ",\"sent\":%llu,\"acked\":%llu,\"retried\":%llu,\"dead\":%llu,"
	    "\"store_failed\":%llu,\"backlog\":%llu,\"lag_events\":%llu,"
	    "\"lag_seconds\":%.3f,\"cursor\":%llu,\"paused\":%llu,"
	    "\"echoes\":%llu,\"breaker\":\"%s\",\"breaker_opens\":%llu%s}",
	    U(st.sent), U(st.acked), U(st.retried), U(st.dead),
	    U(st.store_failed), U(st.backlog), U(st.lag_events),
	    st.lag_seconds, U(st.cursor), U(st.paused),
	    U(atomic_load(&rt->echoes)), weir_bridge_breaker_name(st.breaker),
	    U(st.breaker_opens),
	    rt->refused != NULL ? ",\"refused\":true" : "");
}

/* One inbound route as JSON (the name is checked, the scheme escaped;
 * `from` is not shown). */
static void
stats_inbound_json(weir_inlet *in, weir__jbuf *b)
{
	pthread_mutex_lock(&in->lock);
	uint64_t inflight = in->delivered - in->head;
	int      halted   = in->halted;
	pthread_mutex_unlock(&in->lock);
	weir__jbuf_add(b, "{\"name\":\"%s\",\"scheme\":", in->name);
	weir__jbuf_str(b, in->scheme);
	weir__jbuf_add(b,
	    ",\"received\":%llu,\"appended\":%llu,\"duplicates\":%llu,"
	    "\"dead\":%llu,\"paused\":%llu,\"in_flight\":%llu,"
	    "\"fetch_errors\":%llu,\"halted\":%s}",
	    U(atomic_load(&in->received)), U(atomic_load(&in->appended)),
	    U(atomic_load(&in->duplicates)), U(atomic_load(&in->dead)),
	    U(atomic_load(&in->pauses)), U(inflight),
	    U(atomic_load(&in->fetch_errors)), halted ? "true" : "false");
}

/* The bridge's stats section: NULL (the whole stats call fails) if a
 * write failed. */
char *
weir__bridge_stats_json(weir_bus *bus, void *arg)
{
	(void) bus;
	weir_bridge *br = arg;
	weir__jbuf   b;
	weir__jbuf_init(&b, 1024);
	weir__jbuf_add(&b, "{\"routes\":[");
	for (size_t i = 0; i < br->nroutes; i++) {
		weir__jbuf_add(&b, i > 0 ? "," : "");
		stats_route_json(br->routes[i], &b);
	}
	if (br->ninlets > 0) {
		weir__jbuf_add(&b, "],\"inbound\":[");
		for (size_t i = 0; i < br->ninlets; i++) {
			weir__jbuf_add(&b, i > 0 ? "," : "");
			stats_inbound_json(br->inlets[i], &b);
		}
	}
	weir__jbuf_add(&b, "]}");
	return weir__jbuf_take(&b);
}
