/*
 * Helpers of the inbound tests: a bridge (fixture.h) with the mem
 * source, messages to inject, and bounded waits on what the source saw.
 */
#ifndef WEIR_BRIDGE_INBOUND_FIXTURE_H
#define WEIR_BRIDGE_INBOUND_FIXTURE_H

#include <stdatomic.h>

#include "fixture.h"

#include "bridge/inbound.h"
#include "bridge/mem_source.h"

/* Adds inbound route @p name (mem source, from @p from, topics by
 * @p tmpl) to t->br; returns the source's state. */
static inline void *
it_route(bt *t, const char *name, const char *from, const char *tmpl,
    const weir_bridge_inbound_opts *o)
{
	if (weir__bridge_source(t->br, "mem") == NULL)
		assert_weir_ok(
		    weir_bridge_register_source(t->br, weir_source_mem()));
	assert_weir_ok(
	    weir_bridge_inbound_add(t->br, name, "mem", from, tmpl, o));
	return weir__bridge_source_state(t->br, name);
}

/* Pushes a message with token @p token arriving on @p origin; @p ce_id
 * and @p coord may be NULL; the payload is the token. */
static inline void
it_push(void *src, uint64_t token, const char *origin, const char *ce_id,
    const char *coord)
{
	weir_header h[2]   = { { "ce_id", ce_id, ce_id ? strlen(ce_id) : 0 },
		  { "traceparent", "00-tp", 5 } };
	weir_inbound_msg m = { .size = sizeof m,
		.origin              = origin,
		.payload             = &token,
		.payload_len         = sizeof token,
		.headers             = ce_id ? h : h + 1,
		.header_count        = ce_id ? 2 : 1,
		.coord               = coord,
		.token               = token };
	assert_weir_ok(weir__mem_source_push(src, &m));
}

/* Waits until the source saw @p n done calls. */
#define it_wait_done(src, n) \
	wt_wait_until(weir__mem_source_done(src, NULL, 0) >= (size_t) (n))

/* Events in the log whose topic matches @p pattern. */
static inline uint64_t
it_log_count(bt *t, const char *pattern)
{
	uint64_t          n = 0;
	weir_store_filter f = WEIR_STRUCT_INIT(weir_store_filter);
	f.pattern           = pattern;
	assert_weir_ok(weir_store_read(t->st, &f, bt_count_fn, &n));
	return n;
}

/* A bus with one loop thread, started, for t (before bt_bridge). */
static inline void
it_bus(bt *t)
{
	t->bus = wt_bus_with_loops(1);
	assert_non_null(t->bus);
	assert_weir_ok(weir_bus_start(t->bus));
}

/* bt_open over a bus with a loop thread. */
static inline void
it_open(bt *t, const char *const *kv)
{
	memset(t, 0, sizeof *t);
	bt_dir(t);
	bt_open_store(t);
	it_bus(t);
	weir_bridge_config *cfg;
	assert_weir_ok(weir_bridge_config_create(&cfg));
	for (; kv != NULL && kv[0] != NULL; kv += 2)
		assert_weir_ok(weir_bridge_config_set_str(cfg, kv[0], kv[1]));
	bt_bridge(t, cfg);
	weir_bridge_config_destroy(cfg);
}

#endif
