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
#include <stdlib.h>
#include <time.h>

#include "store/store.h"

struct weir_store_attachment {
	weir_store          *st;
	weir_loop           *loop;
	weir_subscr         *sub;
	pthread_t            thread;
	int                  running;
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
	weir_store_append_opts opt = { .flags = WEIR_STORE_APPEND_NOWAIT,
		.done                         = attach_done,
		.arg                          = a };
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

static weir_err
attach_subscribe(weir_store_attachment *a, weir_bus *bus, const char *pattern,
    size_t capacity, weir_policy policy, int64_t timeout_ms)
{
	weir_subscr_config *sc;
	char                name[300];
	weir_err            rv = weir_subscr_config_create(&sc);
	if (rv != WEIR_OK) {
		return rv;
	}
	snprintf(name, sizeof(name), "store:%.280s", pattern);
	if ((rv = weir_subscr_config_set_capacity(sc, capacity)) == 0 &&
	    (rv = weir_subscr_config_set_policy(sc, policy, timeout_ms)) ==
	        0 &&
	    (rv = weir_subscr_config_set_loop(sc, a->loop)) == 0 &&
	    (rv = weir_subscr_config_set_name(sc, name)) == 0) {
		rv = weir_subscribe(
		    &a->sub, bus, pattern, attach_handler, a, NULL, sc);
	}
	weir_subscr_config_destroy(sc);
	return rv;
}

static void
attach_free(weir_store_attachment *a)
{
	if (a->running) {
		weir_loop_stop(a->loop);
		pthread_join(a->thread, NULL);
	}
	(void) weir_loop_destroy(a->loop);
	free(a);
}

weir_err
weir_store_attach(weir_store *st, weir_bus *bus, const char *pattern,
    size_t capacity, weir_policy policy, int64_t block_timeout_ms,
    weir_store_attachment **out)
{
	if (out != NULL) {
		*out = NULL;
	}
	if (st == NULL || bus == NULL || pattern == NULL || out == NULL ||
	    capacity == 0) {
		return WEIR_EINVAL;
	}
	weir_err rv = weir__store_check_open(st);
	if (rv == WEIR_OK && weir_pattern_validate(pattern) != WEIR_OK) {
		rv = weir__store_fail(st, WEIR_EBADPATTERN,
		    "invalid topic pattern '%.200s'", pattern);
	}
	weir_store_attachment *a =
	    rv == WEIR_OK ? calloc(1, sizeof(*a)) : NULL;
	if (rv != WEIR_OK || a == NULL) {
		return rv != WEIR_OK ? rv : WEIR_ENOMEM;
	}
	a->st = st;
	if ((rv = weir_loop_create(&a->loop)) != WEIR_OK) {
		free(a);
		return rv;
	}
	rv = attach_subscribe(
	    a, bus, pattern, capacity, policy, block_timeout_ms);
	if (rv == WEIR_OK) {
		rv         = pthread_create(&a->thread, NULL, attach_main, a)
		            ? WEIR_ENOMEM
		            : WEIR_OK;
		a->running = rv == WEIR_OK;
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
	if (a == NULL || out == NULL) {
		return WEIR_EINVAL;
	}
	out->appended    = atomic_load(&a->appended);
	out->failed      = atomic_load(&a->failed);
	out->subscr.size = sizeof(out->subscr); // weir_attach_stats is fixed
	return weir_subscr_stats_get(a->sub, &out->subscr);
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
	a->running = 0;
	(void) weir_store_flush(a->st); // no done callback runs after this
	attach_free(a);
}
