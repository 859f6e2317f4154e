// Design notes.
//
// Attaching a store to a bus is an ordinary subscription whose handler
// appends. It runs on a loop and a thread of its own, so logging needs
// nothing from the application's loops. The handler appends without
// waiting for the commit (group commit stays efficient), but the
// append blocks while the writer's queue is full: then the handler
// stops taking events, the subscription's queue fills, and the bus's
// bounded-queue policy (block or shed) applies to publishers and is
// counted in the subscription's stats.
//
// `done` callbacks refer to the attachment, so destroy flushes the
// store before freeing it.
#include <stdio.h>
#include <time.h>

#include "core/abi.h"
#include "core/alloc.h"
#include "store/attach_config.h"
#include "store/store.h"

struct weir_store_attachment {
	weir_store          *st;
	weir_loop           *loop;
	weir_subscr         *sub;
	pthread_t            thread;
	atomic_uint_fast64_t appended;
	atomic_uint_fast64_t failed;
};

static void
attach_done(
    weir_store *st, weir_err err, uint64_t seq, int64_t version, void *arg)
{
	weir_store_attachment *a = arg;
	(void) st;
	(void) seq;
	(void) version;
	atomic_fetch_add(err == WEIR_OK ? &a->appended : &a->failed, 1);
}

static weir_err
attach_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	weir_store_attachment *a   = arg;
	weir_store_append_opts opt = { .size = sizeof(opt),
		.flags                       = WEIR_STORE_APPEND_NOWAIT,
		.done                        = attach_done,
		.arg                         = a };
	(void) bus;
	weir_err rv = weir_store_append(a->st, ev, &opt, NULL, NULL);
	if (rv != WEIR_OK) {
		atomic_fetch_add(&a->failed, 1);
	}
	return rv;
}

static void *
attach_main(void *arg)
{
	weir_store_attachment *a = arg;
	(void) weir_loop_run(a->loop, WEIR_RUN_DEFAULT);
	return NULL;
}

// The subscription's config from the attach config: the store's own
// loop, the caller's queue and policy.
static weir_err
attach_subscribe(weir_store_attachment *a, weir_bus *bus, const char *pattern,
    const weir_store_attach_config *cfg)
{
	weir_subscr_config *sc;
	char                name[300];
	weir_err            rv = weir_subscr_config_create(&sc);
	if (rv != WEIR_OK) {
		return rv;
	}
	if (cfg->name == NULL) {
		snprintf(name, sizeof(name), "store:%.280s", pattern);
	}
	if ((rv = weir_subscr_config_set_capacity(sc, cfg->capacity)) == 0 &&
	    (rv = weir_subscr_config_set_policy(
	         sc, cfg->policy, cfg->block_timeout_ms)) == 0 &&
	    (rv = weir_subscr_config_set_loop(sc, a->loop)) == 0 &&
	    (rv = weir_subscr_config_set_name(
	         sc, cfg->name ? cfg->name : name)) == 0) {
		rv = weir_subscribe(
		    &a->sub, bus, pattern, attach_handler, a, NULL, sc);
	}
	weir_subscr_config_destroy(sc);
	return rv;
}

// Frees what attach made. The loop thread is not running: it never
// started (a failed attach) or detach joined it.
static void
attach_free(weir_store_attachment *a)
{
	(void) weir_loop_destroy(a->loop);
	weir__free(a);
}

static weir_err
attach_check(weir_store *st, weir_bus *bus, const char *pattern)
{
	if (st == NULL || bus == NULL || pattern == NULL) {
		return WEIR_EINVAL;
	}
	weir_err rv = weir__store_check_open(st);
	if (rv == WEIR_OK && weir_pattern_validate(pattern) != WEIR_OK) {
		rv = weir__store_fail(st, WEIR_EBADPATTERN,
		    "invalid topic pattern '%.200s'", pattern);
	}
	return rv;
}

weir_err
weir_store_attach(weir_store_attachment **out, weir_store *st, weir_bus *bus,
    const char *pattern, const weir_store_attach_config *cfg)
{
	weir_store_attach_config def;
	weir__attach_config_defaults(&def);
	if (out == NULL) {
		return WEIR_EINVAL;
	}
	*out        = NULL;
	weir_err rv = attach_check(st, bus, pattern);
	if (rv != WEIR_OK) {
		return rv;
	}
	weir_store_attachment *a = weir__zalloc(sizeof(*a));
	if (a == NULL) {
		return weir__store_fail(st, WEIR_ENOMEM, "out of memory");
	}
	a->st = st;
	if ((rv = weir_loop_create(&a->loop)) != WEIR_OK) {
		weir__free(a);
		return rv;
	}
	rv = attach_subscribe(a, bus, pattern, cfg ? cfg : &def);
	if (rv == WEIR_OK) {
		rv = pthread_create(&a->thread, NULL, attach_main, a)
		    ? WEIR_ENOMEM
		    : WEIR_OK;
	}
	if (rv != WEIR_OK) {
		weir_unsubscribe(a->sub);
		attach_free(a);
		return rv;
	}
	*out = a;
	return WEIR_OK;
}

weir_err
weir_store_attach_stats_get(
    weir_store_attachment *a, weir_store_attach_stats *out)
{
	weir_store_attach_stats s = { .size = sizeof(s) };
	if (a == NULL || out == NULL) {
		return WEIR_EINVAL;
	}
	s.subscr.size = sizeof(s.subscr);
	weir_err rv   = weir_subscr_stats_get(a->sub, &s.subscr);
	if (rv != WEIR_OK) {
		return rv;
	}
	s.appended = atomic_load(&a->appended);
	s.failed   = atomic_load(&a->failed);
	rv         = weir__struct_out(out, &s, WEIR__STORE_ATTACH_STATS_V1);
	// subscr is last: its own size is what the caller has room for.
	size_t inner = out->size - offsetof(weir_store_attach_stats, subscr);
	if (rv == WEIR_OK && inner < sizeof(s.subscr)) {
		out->subscr.size = inner;
	}
	return rv;
}

// Gives the loop up to five seconds to hand what is queued to the
// store, so that detaching does not silently drop logged events.
static void
attach_drain(weir_store_attachment *a)
{
	struct timespec   tick = { 0, 1000000 };
	weir_subscr_stats s    = WEIR_STRUCT_INIT(weir_subscr_stats);
	for (int i = 0; i < 5000; i++) {
		if (weir_subscr_stats_get(a->sub, &s) != WEIR_OK ||
		    s.queued == 0) {
			return;
		}
		nanosleep(&tick, NULL);
	}
}

void
weir_store_detach(weir_store_attachment *a)
{
	if (a == NULL) {
		return;
	}
	attach_drain(a);
	weir_unsubscribe(a->sub);
	weir_loop_stop(a->loop);
	pthread_join(a->thread, NULL);
	(void) weir_store_flush(a->st); // no done callback runs after this
	attach_free(a);
}
