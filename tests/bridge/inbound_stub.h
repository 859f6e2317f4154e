/*
 * A scripted source for the inbound tests (the mem source cannot fail,
 * block or misbehave on demand): init, start and fetch return what the
 * test says; fetch delivers the messages the test queued, all of them
 * whatever `max` allows when told to; pause and fetch can wait for the
 * route's stop. It records the spec it was given, the results of its
 * deliver calls and its done and pause calls. One stub per test
 * executable (the script is global); every field is read and written
 * under `sb_mu`.
 */
#ifndef WEIR_BRIDGE_INBOUND_STUB_H
#define WEIR_BRIDGE_INBOUND_STUB_H

#include <pthread.h>

#include "inbound_fixture.h"

#define SB_MAX 64

typedef struct sb_script {
	/* what the stub does */
	weir_err init_err, start_err, fetch_err;
	int      ignore_max;      /* deliver the whole queue at once */
	int      pause_wait_stop; /* pause(1) returns once the route stops */
	int      fetch_wait_stop; /* a failing fetch returns once it stops */
	/* what it saw */
	weir_inlet      *in;
	void            *state;
	char             group[80], stream[80];
	int              has_stream;
	uint32_t         batch;
	weir_inbound_msg q[SB_MAX];
	size_t           nq, taken;
	weir_err         results[SB_MAX];
	size_t           nresults;
	uint64_t         done[SB_MAX];
	size_t           ndone;
	size_t           max_undone; /* most taken and not done at once */
	uint64_t         pauses, fetches, fetch_max0;
	int              pause_entered;
} sb_script;

static sb_script       sb;
static pthread_mutex_t sb_mu = PTHREAD_MUTEX_INITIALIZER;

/* Clears the script for the next test. */
static inline void
sb_reset(void)
{
	pthread_mutex_lock(&sb_mu);
	memset(&sb, 0, sizeof sb);
	pthread_mutex_unlock(&sb_mu);
}

#define SB_GET(type, field)                   \
	static inline type sb_##field(void)   \
	{                                     \
		pthread_mutex_lock(&sb_mu);   \
		type v = (type) sb.field;     \
		pthread_mutex_unlock(&sb_mu); \
		return v;                     \
	}
SB_GET(size_t, ndone)
SB_GET(size_t, nresults)
SB_GET(uint64_t, pauses)
SB_GET(uint64_t, fetches)
SB_GET(int, pause_entered)

/* Queues @p m (its buffers must outlive its delivery). */
static inline void
sb_push(const weir_inbound_msg *m)
{
	pthread_mutex_lock(&sb_mu);
	assert_true(sb.nq < SB_MAX);
	sb.q[sb.nq++] = *m;
	pthread_mutex_unlock(&sb_mu);
}

/* 1 once the route's stop has begun. */
static inline int
sb_stopping(weir_inlet *in)
{
	pthread_mutex_lock(&in->lock);
	int s = in->stopping != 0;
	pthread_mutex_unlock(&in->lock);
	return s;
}

/* Waits (bounded) for the route's stop: the stub's blocking calls. */
static inline void
sb_wait_stop(weir_inlet *in)
{
	int64_t end = wt_now_ms() + WT_WAIT_MS;
	while (!sb_stopping(in) && wt_now_ms() < end)
		wt_sleep_ms(1);
}

static inline weir_err
sb_init(void *state, const weir_bridge_config *cfg,
    const weir_source_spec *spec, weir_inlet *inlet)
{
	(void) cfg;
	pthread_mutex_lock(&sb_mu);
	weir_err e = sb.init_err;
	sb.in      = inlet;
	sb.state   = state;
	snprintf(sb.group, sizeof sb.group, "%s", spec->group);
	sb.has_stream = spec->stream != NULL;
	snprintf(sb.stream, sizeof sb.stream, "%s",
	    spec->stream ? spec->stream : "");
	sb.batch = spec->batch;
	pthread_mutex_unlock(&sb_mu);
	return e;
}

static inline void
sb_fini(void *state)
{
	(void) state;
}

static inline weir_err
sb_start(void *state)
{
	(void) state;
	pthread_mutex_lock(&sb_mu);
	weir_err e = sb.start_err;
	pthread_mutex_unlock(&sb_mu);
	return e;
}

static inline void
sb_stop(void *state)
{
	(void) state;
}

/* Delivers queued messages (route thread): up to @p max, or all. */
static inline void
sb_deliver(size_t max)
{
	pthread_mutex_lock(&sb_mu);
	for (size_t n = 0; sb.taken < sb.nq && (sb.ignore_max || n < max);
	     n++) {
		weir_inbound_msg m  = sb.q[sb.taken];
		weir_inlet      *in = sb.in;
		pthread_mutex_unlock(&sb_mu); /* the inlet may call done */
		weir_err e = weir_inlet_deliver(in, &m);
		pthread_mutex_lock(&sb_mu);
		sb.results[sb.nresults++] = e;
		if (e != WEIR_OK)
			break; /* kept for the next fetch */
		sb.taken++;
		if (sb.taken - sb.ndone > sb.max_undone)
			sb.max_undone = sb.taken - sb.ndone;
	}
	pthread_mutex_unlock(&sb_mu);
}

static inline weir_err
sb_fetch(void *state, size_t max, int timeout_ms)
{
	(void) state;
	pthread_mutex_lock(&sb_mu);
	sb.fetches++;
	sb.fetch_max0 += max == 0;
	weir_err    e    = sb.fetch_err;
	int         wait = sb.fetch_wait_stop;
	weir_inlet *in   = sb.in;
	pthread_mutex_unlock(&sb_mu);
	if (e != WEIR_OK) {
		if (wait)
			sb_wait_stop(in);
		return e;
	}
	if (max > 0)
		sb_deliver(max);
	wt_sleep_ms(timeout_ms < 5 ? timeout_ms : 5); /* a broker's poll */
	return WEIR_OK;
}

static inline void
sb_done(void *state, uint64_t token)
{
	(void) state;
	pthread_mutex_lock(&sb_mu);
	if (sb.ndone < SB_MAX)
		sb.done[sb.ndone] = token;
	sb.ndone++;
	pthread_mutex_unlock(&sb_mu);
}

static inline void
sb_pause(void *state, int paused)
{
	(void) state;
	pthread_mutex_lock(&sb_mu);
	sb.pauses += paused != 0;
	int         wait = paused && sb.pause_wait_stop;
	weir_inlet *in   = sb.in;
	sb.pause_entered |= wait;
	pthread_mutex_unlock(&sb_mu);
	if (wait)
		sb_wait_stop(in);
}

static inline const char *
sb_errmsg(void *state)
{
	(void) state;
	return "stub: the broker said no";
}

/* The stub under scheme "stub" (with errmsg), "stub0" (without errmsg,
 * and a state_size of 0). */
static const weir_source_ops sb_ops  = { .version = WEIR_SOURCE_V1,
	 .scheme                                  = "stub",
	 .state_size                              = 16,
	 .init                                    = sb_init,
	 .fini                                    = sb_fini,
	 .start                                   = sb_start,
	 .stop                                    = sb_stop,
	 .fetch                                   = sb_fetch,
	 .done                                    = sb_done,
	 .pause                                   = sb_pause,
	 .errmsg                                  = sb_errmsg };
static const weir_source_ops sb_ops0 = { .version = WEIR_SOURCE_V1,
	.scheme                                   = "stub0",
	.state_size                               = 0,
	.init                                     = sb_init,
	.fini                                     = sb_fini,
	.start                                    = sb_start,
	.stop                                     = sb_stop,
	.fetch                                    = sb_fetch,
	.done                                     = sb_done,
	.pause                                    = sb_pause };

/* A message on "orders" with token @p token (payload: the token). */
static inline weir_inbound_msg
sb_msg(const uint64_t *token, const char *coord)
{
	return (weir_inbound_msg) { .size = sizeof(weir_inbound_msg),
		.origin                   = "orders",
		.payload                  = token,
		.payload_len              = sizeof *token,
		.coord                    = coord,
		.token                    = *token };
}

/* it_open, the stubs registered, route @p name on "orders" added. */
static inline weir_inlet *
sb_open(bt *t, const char *const *kv, const char *scheme, const char *name)
{
	sb_reset();
	it_open(t, kv);
	assert_weir_ok(weir_bridge_register_source(t->br, &sb_ops));
	assert_weir_ok(weir_bridge_register_source(t->br, &sb_ops0));
	assert_weir_ok(weir_bridge_inbound_add(
	    t->br, name, scheme, "orders", "in.{topic}", NULL));
	weir_inlet *in = weir__bridge_inlet(t->br, name);
	assert_non_null(in);
	return in;
}

#endif
