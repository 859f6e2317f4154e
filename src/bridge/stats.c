/* Route counters: weir_bridge_route_stats_get and the bus's stats JSON. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bridge/bridge.h"
#include "bridge/inbound.h"
#include "core/abi.h"
#include "core/alloc.h"

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

/* One route as JSON into @p buf (route names need no escaping). */
static int
stats_route_json(weir__route *rt, char *buf, size_t size)
{
	weir_bridge_route_stats st;
	stats_read(rt, &st);
	return snprintf(buf, size,
	    "{\"name\":\"%s\",\"mode\":\"%s\",\"scheme\":\"%s\","
	    "\"sent\":%llu,\"acked\":%llu,\"retried\":%llu,\"dead\":%llu,"
	    "\"store_failed\":%llu,\"backlog\":%llu,\"lag_events\":%llu,\"lag_"
	    "seconds\":%.3f,"
	    "\"cursor\":%llu,\"paused\":%llu,\"echoes\":%llu,"
	    "\"breaker\":\"%s\","
	    "\"breaker_opens\":%llu%s}",
	    rt->name, rt->direct ? "direct" : "store", rt->be->ops->scheme,
	    (unsigned long long) st.sent, (unsigned long long) st.acked,
	    (unsigned long long) st.retried, (unsigned long long) st.dead,
	    (unsigned long long) st.store_failed,
	    (unsigned long long) st.backlog,
	    (unsigned long long) st.lag_events, st.lag_seconds,
	    (unsigned long long) st.cursor, (unsigned long long) st.paused,
	    (unsigned long long) atomic_load(&rt->echoes),
	    weir_bridge_breaker_name(st.breaker),
	    (unsigned long long) st.breaker_opens,
	    rt->refused != NULL ? ",\"refused\":true" : "");
}

/* One route's JSON but for its scheme, with a 64-byte name (names are
 * checked; schemes are the backends' and sources' own, of any length). */
#define STATS_ROUTE_MAX 700

/* One inbound route as JSON (names need no escaping; `from` is printed
 * only as far as it needs none). */
static int
stats_inbound_json(weir_inlet *in, char *buf, size_t size)
{
	pthread_mutex_lock(&in->lock);
	uint64_t inflight = in->delivered - in->head;
	int      halted   = in->halted;
	pthread_mutex_unlock(&in->lock);
	return snprintf(buf, size,
	    "{\"name\":\"%s\",\"scheme\":\"%s\",\"received\":%llu,"
	    "\"appended\":%llu,\"duplicates\":%llu,\"dead\":%llu,"
	    "\"paused\":%llu,\"in_flight\":%llu,\"fetch_errors\":%llu,"
	    "\"halted\":%s}",
	    in->name, in->scheme,
	    (unsigned long long) atomic_load(&in->received),
	    (unsigned long long) atomic_load(&in->appended),
	    (unsigned long long) atomic_load(&in->duplicates),
	    (unsigned long long) atomic_load(&in->dead),
	    (unsigned long long) atomic_load(&in->pauses),
	    (unsigned long long) inflight,
	    (unsigned long long) atomic_load(&in->fetch_errors),
	    halted ? "true" : "false");
}

/* Appends the route JSONs of one kind, comma-separated, at *len. */
static int
stats_list(weir_bridge *br, int inbound, char *out, size_t size, size_t *len)
{
	size_t n = inbound ? br->ninlets : br->nroutes;
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			out[(*len)++] = ',';
		size_t room = size - *len - 16;
		int    w    = inbound
		          ? stats_inbound_json(br->inlets[i], out + *len, room)
		          : stats_route_json(br->routes[i], out + *len, room);
		if (w < 0 || (size_t) w >= room)
			return 0;
		*len += (size_t) w;
	}
	return 1;
}

char *
weir__bridge_stats_json(weir_bus *bus, void *arg)
{
	(void) bus;
	weir_bridge *br   = arg;
	size_t       size = 64;
	for (size_t i = 0; i < br->nroutes; i++)
		size +=
		    STATS_ROUTE_MAX + strlen(br->routes[i]->be->ops->scheme);
	for (size_t i = 0; i < br->ninlets; i++)
		size += STATS_ROUTE_MAX + strlen(br->inlets[i]->scheme);
	char *out = weir__alloc(size);
	if (out == NULL)
		return NULL;
	size_t len = (size_t) snprintf(out, size, "{\"routes\":[");
	int    ok  = stats_list(br, 0, out, size, &len);
	if (ok && br->ninlets > 0) {
		memcpy(out + len, "],\"inbound\":[", 13);
		len += 13;
		ok = stats_list(br, 1, out, size, &len);
	}
	if (!ok) {
		weir__free(out);
		return NULL;
	}
	memcpy(out + len, "]}", 3);
	return out;
}
