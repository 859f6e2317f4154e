/*
 * The bridge object: configuration, backend registration, start and
 * stop. Routes live in route.c, the bus side in intake.c, the sending
 * side in relay.c.
 */
#include "bridge/bridge.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bridge/config.h"
#include "bridge/inbound.h"
#include "core/alloc.h"

int64_t
weir__bridge_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

weir_err
weir__bridge_fail(weir_bridge *br, weir_err e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(br->errmsg, sizeof br->errmsg, fmt, ap);
	va_end(ap);
	return e;
}

const char *
weir_bridge_errmsg(const weir_bridge *br)
{
	return br != NULL ? br->errmsg : "no bridge";
}

/* One "bridge.*" number: its key, default, range and field. */
typedef struct bridge_num {
	const char *key;
	uint64_t    dflt, min, max;
	size_t      off;
} bridge_num;

#define BRIDGE_NUM(k, d, lo, hi, f)                    \
	{                                              \
		k, d, lo, hi, offsetof(weir_bridge, f) \
	}
static const bridge_num bridge_nums[] = {
	BRIDGE_NUM("bridge.window", 4096, 1, 65536, window),
	BRIDGE_NUM(
	    "bridge.max_backlog", 1000000, 1, UINT64_MAX / 2, max_backlog),
	BRIDGE_NUM("bridge.queue_capacity", 1024, 1, 1u << 30, queue_capacity),
	BRIDGE_NUM(
	    "bridge.retry.initial_ms", 100, 1, 3600000, retry_initial_ms),
	BRIDGE_NUM("bridge.retry.max_ms", 30000, 1, 3600000, retry_max_ms),
	BRIDGE_NUM(
	    "bridge.retry.max_attempts", 0, 0, UINT32_MAX, max_attempts),
	BRIDGE_NUM(
	    "bridge.breaker.threshold", 5, 0, UINT32_MAX, breaker_threshold),
	BRIDGE_NUM("bridge.breaker.cooldown_ms", 5000, 1, 3600000,
	    breaker_cooldown_ms),
	BRIDGE_NUM(
	    "bridge.ack_timeout_ms", 60000, 1, 86400000, ack_timeout_ms),
	BRIDGE_NUM("bridge.poll_ms", 5, 1, 1000, poll_ms),
	BRIDGE_NUM(
	    "bridge.direct_capacity", 1024, 1, 1u << 30, direct_capacity),
	BRIDGE_NUM("bridge.inbound.batch", 256, 1, 65536, in_batch),
	BRIDGE_NUM("bridge.inbound.max_in_flight", 4096, 1, 1u << 20,
	    in_max_in_flight),
	BRIDGE_NUM("bridge.inbound.fetch_ms", 100, 1, 60000, in_fetch_ms),
	BRIDGE_NUM("bridge.inbound.dedupe_ms", 7ULL * 86400000, 0,
	    100ULL * 365 * 86400000, in_dedupe_ms),
	BRIDGE_NUM("bridge.inbound.dedupe_max", 10000000, 0, UINT64_MAX / 2,
	    in_dedupe_max),
	BRIDGE_NUM("bridge.inbound.prune_ms", 60000, 1, 86400000, in_prune_ms),
	BRIDGE_NUM("bridge.start.partial", 0, 0, 1, start_partial),
	BRIDGE_NUM("bridge.handoff_bytes", 8u << 20, 0, UINT64_C(1) << 40,
	    handoff_bytes),
};

static weir_err
bridge_policy(weir_bridge *br)
{
	static const char *const names[] = { "block", "reject", "drop_oldest",
		"drop_newest" };
	const char *v = weir_bridge_config_get(br->cfg, "bridge.policy");
	br->policy    = WEIR_POLICY_BLOCK;
	for (int i = 0; v != NULL && i < 4; i++)
		if (strcmp(v, names[i]) == 0)
			return (br->policy = i), WEIR_OK;
	if (v != NULL)
		return WEIR_EINVAL;
	const char *t =
	    weir_bridge_config_get(br->cfg, "bridge.block_timeout_ms");
	br->block_timeout_ms = UINT64_MAX; /* -1: no limit */
	if (t != NULL && strcmp(t, "-1") != 0)
		return weir__bridge_config_u64(br->cfg,
		    "bridge.block_timeout_ms", 0, 0, 86400000,
		    &br->block_timeout_ms);
	return WEIR_OK;
}

static weir_err
bridge_settings(weir_bridge *br)
{
	for (size_t i = 0; i < sizeof bridge_nums / sizeof *bridge_nums; i++) {
		const bridge_num *n = &bridge_nums[i];
		weir_err e = weir__bridge_config_u64(br->cfg, n->key, n->dflt,
		    n->min, n->max, (uint64_t *) ((char *) br + n->off));
		if (e != WEIR_OK)
			return e;
	}
	const char *src = weir_bridge_config_get(br->cfg, "bridge.source");
	char        host[256] = "localhost";
	char        dflt[300];
	if (src == NULL) {
		gethostname(host, sizeof host - 1);
		snprintf(dflt, sizeof dflt, "weir://%s/weir", host);
		src = dflt;
	}
	br->source = weir__strdup(src);
	if (br->source == NULL)
		return WEIR_ENOMEM;
	return bridge_policy(br);
}

weir_err
weir_bridge_create(weir_bridge **out, weir_bus *bus, weir_store *store,
    const weir_bridge_config *cfg)
{
	if (out == NULL)
		return WEIR_EINVAL;
	*out = NULL;
	if (bus == NULL)
		return WEIR_EINVAL;
	weir_bridge *br = weir__zalloc(sizeof *br);
	if (br == NULL)
		return WEIR_ENOMEM;
	br->bus     = bus;
	br->store   = store;
	br->sink.br = br;
	weir_err e  = weir__bridge_config_clone(&br->cfg, cfg);
	if (e == WEIR_OK)
		e = bridge_settings(br);
	if (e == WEIR_OK)
		e = weir_bus_add_stats_section(
		    bus, "bridge", weir__bridge_stats_json, br);
	if (e != WEIR_OK) {
		weir_bridge_config_destroy(br->cfg);
		weir__free(br->source);
		weir__free(br);
		return e;
	}
	*out = br;
	return WEIR_OK;
}

weir__backend *
weir__bridge_backend(weir_bridge *br, const char *scheme)
{
	for (size_t i = 0; i < br->nbackends; i++)
		if (strcmp(br->backends[i]->ops->scheme, scheme) == 0)
			return br->backends[i];
	return NULL;
}

void *
weir__bridge_backend_state(weir_bridge *br, const char *scheme)
{
	weir__backend *be = weir__bridge_backend(br, scheme);
	return be != NULL ? be->state : NULL;
}

weir__route *
weir__bridge_route(weir_bridge *br, const char *name)
{
	for (size_t i = 0; i < br->nroutes; i++)
		if (strcmp(br->routes[i]->name, name) == 0)
			return br->routes[i];
	return NULL;
}

static int
bridge_ops_complete(const weir_backend_ops *ops)
{
	return ops->scheme != NULL && ops->init != NULL && ops->fini != NULL &&
	    ops->start != NULL && ops->stop != NULL && ops->publish != NULL &&
	    ops->poll != NULL;
}

static weir_err
bridge_add_backend(weir_bridge *br, weir__backend *be)
{
	weir__backend **nb =
	    weir__realloc(br->backends, (br->nbackends + 1) * sizeof *nb);
	if (nb == NULL)
		return WEIR_ENOMEM;
	br->backends                  = nb;
	br->backends[br->nbackends++] = be;
	return WEIR_OK;
}

weir_err
weir_bridge_register(weir_bridge *br, const weir_backend_ops *ops)
{
	if (br == NULL || ops == NULL)
		return WEIR_EINVAL;
	if (ops->version != WEIR_BACKEND_V1 && ops->version != WEIR_BACKEND_V2)
		return weir__bridge_fail(br, WEIR_EVERSION,
		    "backend: version %u, this bridge speaks %u and %u",
		    ops->version, WEIR_BACKEND_V1, WEIR_BACKEND_V2);
	assert(bridge_ops_complete(ops));
	if (!bridge_ops_complete(ops))
		return weir__bridge_fail(
		    br, WEIR_EINVAL, "backend: a mandatory slot is NULL");
	if (br->started)
		return weir__bridge_fail(br, WEIR_EBUSY, "bridge started");
	if (weir__bridge_backend(br, ops->scheme) != NULL)
		return weir__bridge_fail(br, WEIR_EEXIST,
		    "backend %s: already registered", ops->scheme);
	weir__backend *be = weir__zalloc(sizeof *be);
	void *state = weir__zalloc(ops->state_size > 0 ? ops->state_size : 1);
	if (be == NULL || state == NULL) {
		weir__free(be);
		weir__free(state);
		return WEIR_ENOMEM;
	}
	be->ops    = ops;
	be->state  = state;
	weir_err e = ops->init(state, br->cfg, &br->sink);
	if (e != WEIR_OK) {
		const char *why = ops->errmsg ? ops->errmsg(state) : NULL;
		weir__bridge_fail(br, e, "backend %s: init: %s", ops->scheme,
		    why ? why : weir_strerror(e));
		weir__free(state);
		weir__free(be);
		return e;
	}
	if ((e = bridge_add_backend(br, be)) != WEIR_OK) {
		ops->fini(state);
		weir__free(state);
		weir__free(be);
	}
	return e;
}

static void *
bridge_loop_main(void *arg)
{
	weir_loop_run(arg, WEIR_RUN_DEFAULT);
	return NULL;
}

/* Starts every backend. All or nothing by default; with
 * bridge.start.partial a backend that fails is left stopped and its
 * routes are refused by bridge_start_routes. */
static weir_err
bridge_start_backends(weir_bridge *br)
{
	for (size_t i = 0; i < br->nbackends; i++) {
		weir__backend *be = br->backends[i];
		weir_err       e  = be->ops->start(be->state);
		if (e != WEIR_OK) {
			const char *why = be->ops->errmsg
			    ? be->ops->errmsg(be->state)
			    : NULL;
			weir__bridge_fail(br, e, "backend %s: start: %s",
			    be->ops->scheme, why ? why : weir_strerror(e));
			if (!br->start_partial)
				return e;
			be->start_err = weir__strdup(br->errmsg);
			continue;
		}
		be->started = 1;
	}
	return WEIR_OK; /* a failure returned above, or (partial) was noted */
}

/* Starts one route: its relay, then its intake. */
static weir_err
bridge_start_route(weir__route *rt)
{
	if (!rt->be->started)
		return weir__bridge_fail(rt->br, WEIR_EBACKEND, "%s",
		    rt->be->start_err != NULL ? rt->be->start_err
		                              : "backend not started");
	weir_err e = weir__relay_start(rt);
	if (e == WEIR_OK && (e = weir__intake_start(rt)) != WEIR_OK)
		weir__relay_stop(rt);
	return e;
}

/* Notes route @p rt as refused, with the text of its error. */
static void
bridge_refuse(weir__route *rt, char *list, size_t cap)
{
	weir__free(rt->refused);
	rt->refused = weir__strdup(rt->br->errmsg);
	size_t n    = strlen(list);
	if (snprintf(list + n, cap - n, "%sroute '%s': %s", n > 0 ? "; " : "",
	        rt->name, rt->br->errmsg) >= (int) (cap - n))
		list[cap - 1] = '\0'; /* a long list is cut; each route's own
		                       * reason stays whole in rt->refused */
}

/* Starts the routes: all or nothing, or (bridge.start.partial) those
 * that can, noting the others as refused; at least one must start. */
static weir_err
bridge_start_routes(weir_bridge *br)
{
	char     list[WEIR__BRIDGE_ERRMSG] = "";
	size_t   started = 0, refused = 0;
	weir_err first = WEIR_OK;
	for (size_t i = 0; i < br->nroutes; i++) {
		weir__route *rt = br->routes[i];
		weir__free(rt->refused);
		rt->refused = NULL;
		weir_err e  = bridge_start_route(rt);
		if (e == WEIR_OK) {
			started++;
			continue;
		}
		if (!br->start_partial)
			return e;
		bridge_refuse(rt, list, sizeof list);
		refused++;
		first = first != WEIR_OK ? first : e;
	}
	if (refused > 0)
		weir__bridge_fail(br, WEIR_OK,
		    "started %zu of %zu routes; "
		    "refused: %s",
		    started, br->nroutes, list);
	return started > 0 || refused == 0 ? WEIR_OK : first;
}

weir_err
weir_bridge_start(weir_bridge *br)
{
	if (br == NULL)
		return WEIR_EINVAL;
	if (br->started)
		return weir__bridge_fail(br, WEIR_EBUSY, "bridge started");
	br->started   = 1; /* stop() undoes whatever part below succeeded */
	br->errmsg[0] = '\0';
	weir_err e    = bridge_start_backends(br);
	if (e == WEIR_OK && (e = weir_loop_create(&br->loop)) == WEIR_OK &&
	    pthread_create(
	        &br->loop_thread, NULL, bridge_loop_main, br->loop) != 0) {
		weir_loop_destroy(br->loop);
		br->loop = NULL;
		e = weir__bridge_fail(br, WEIR_ENOMEM, "bridge: no thread");
	}
	if (e == WEIR_OK)
		e = bridge_start_routes(br);
	/* Inbound last: what they publish finds the outbound side ready. */
	for (size_t i = 0; e == WEIR_OK && i < br->ninlets; i++)
		e = weir__inbound_start(br->inlets[i]);
	if (e != WEIR_OK)
		weir_bridge_stop(br);
	return e;
}

const char *
weir_bridge_route_refused(const weir_bridge *br, const char *name)
{
	weir__route *rt = br != NULL && name != NULL
	    ? weir__bridge_route((weir_bridge *) br, name)
	    : NULL;
	return rt != NULL ? rt->refused : NULL;
}

void
weir_bridge_stop(weir_bridge *br)
{
	if (br == NULL || !br->started)
		return;
	/* Inbound first: what they take in is stored, published and done
	 * while the outbound side still runs. */
	for (size_t i = 0; i < br->ninlets; i++)
		weir__inbound_stop(br->inlets[i]);
	/* The bus side next: nothing new comes in, and parked events are
	 * stored (store mode) before the relays go. */
	for (size_t i = 0; i < br->nroutes; i++)
		weir__intake_stop(br->routes[i]);
	if (br->loop != NULL) {
		weir_loop_stop(br->loop);
		pthread_join(br->loop_thread, NULL);
		weir_loop_destroy(br->loop);
		br->loop = NULL;
	}
	if (br->store != NULL) /* appends' done callbacks touch routes */
		weir_store_flush(br->store);
	for (size_t i = 0; i < br->nroutes; i++)
		weir__relay_stop(br->routes[i]);
	for (size_t i = 0; i < br->nbackends; i++) {
		weir__backend *be = br->backends[i];
		if (be->started)
			be->ops->stop(be->state);
		be->started = 0;
		weir__free(be->start_err);
		be->start_err = NULL;
	}
	br->started = 0;
}

void
weir_bridge_destroy(weir_bridge *br)
{
	if (br == NULL)
		return;
	weir_bridge_stop(br);
	weir_bus_remove_stats_section(br->bus, "bridge");
	for (size_t i = 0; i < br->nroutes; i++)
		weir__route_free(br->routes[i]);
	for (size_t i = 0; i < br->ninlets; i++)
		weir__inbound_free(br->inlets[i]);
	for (size_t i = 0; i < br->nsources; i++)
		weir__free(br->sources[i]);
	weir__free(br->inlets);
	weir__free(br->sources);
	for (size_t i = 0; i < br->nbackends; i++) {
		br->backends[i]->ops->fini(br->backends[i]->state);
		weir__free(br->backends[i]->state);
		weir__free(br->backends[i]);
	}
	weir__free(br->routes);
	weir__free(br->backends);
	weir__free(br->source);
	weir_bridge_config_destroy(br->cfg);
	weir__free(br);
}
