// Queued publish: builds the event once and offers it to each matching
// subscription's queue. With a topic handle the matching subscriptions
// come from the handle's snapshot, refreshed only when the registry
// changed.
#include <string.h>

#include "core/alloc.h"
#include "core/bus.h"
#include "core/event.h"
#include "core/scache.h"
#include "core/subscr.h"

// The subscriptions one publish by topic string reaches, held until the
// offers are made; a short set lives on the stack (no allocation).
#define PUBLISH_LOCAL 16

typedef struct publish_set {
	weir_subscr  *local[PUBLISH_LOCAL];
	weir_subscr **s;
	size_t        n;
	size_t        cap;
	int           failed;
} publish_set;

static void
publish_set_visit(void *item, void *arg)
{
	publish_set *ps = arg;
	if (ps->n == ps->cap && !ps->failed) {
		size_t        ncap = ps->cap * 2;
		weir_subscr **ns   = weir__alloc(ncap * sizeof(*ns));
		if (ns == NULL) {
			ps->failed = 1;
			return;
		}
		memcpy(ns, ps->s, ps->n * sizeof(*ns));
		if (ps->s != ps->local) {
			weir__free(ps->s);
		}
		ps->s   = ns;
		ps->cap = ncap;
	}
	if (!ps->failed) {
		ps->s[ps->n++] = item;
	}
}

static void
publish_set_free(publish_set *ps)
{
	if (ps->s != ps->local) {
		weir__free(ps->s);
	}
}

static weir_err
publish_collect(weir_bus *bus, const char *topic, publish_set *ps)
{
	ps->s      = ps->local;
	ps->n      = 0;
	ps->cap    = PUBLISH_LOCAL;
	ps->failed = 0;
	pthread_mutex_lock(&bus->lock);
	weir__tree_match(&bus->subs, topic, publish_set_visit, ps);
	for (size_t i = 0; !ps->failed && i < ps->n; i++) {
		weir__subscr_hold(ps->s[i]);
	}
	pthread_mutex_unlock(&bus->lock);
	if (ps->failed) {
		publish_set_free(ps);
		return WEIR_ENOMEM;
	}
	return WEIR_OK;
}

static void
publish_set_done(publish_set *ps)
{
	for (size_t i = 0; i < ps->n; i++) {
		weir__subscr_release(ps->s[i]);
	}
	publish_set_free(ps);
}

static void
publish_drop_taken(const void *data, weir_free_fn free_fn)
{
	if (free_fn != NULL) {
		free_fn((void *) data);
	} else {
		weir_free((void *) data);
	}
}

static weir_err
publish_check(weir_bus *bus, const char *topic, const void *data, size_t len,
    unsigned flags)
{
	if (flags & ~WEIR_PUBLISH_TAKE) {
		return WEIR_EINVAL;
	}
	weir_err rv = weir__bus_check(bus, topic, len);
	if (rv == WEIR_OK && len && data == NULL) {
		rv = WEIR_EINVAL;
	}
	return rv;
}

// The by-string fast path: the thread's cached entry for the topic
// (scache.c) names the subscriptions, valid until the section is left.
// Returns 0 when the topic is not cacheable (nothing was done).
static int
publish_by_cache(weir_bus *bus, const char *topic, const void *data,
    size_t len, weir_err *rv)
{
	weir__scache_entry *e = weir__scache_enter(bus, topic);
	if (e == NULL) {
		return 0;
	}
	int done = e->ns != WEIR__SCACHE_NONE;
	if (done) {
		*rv = WEIR_OK;
		if (e->ns != 0) {
			weir_event *ev =
			    weir__event_make_plain(topic, e->len, data, len);
			*rv = ev == NULL
			    ? WEIR_ENOMEM
			    : weir__subscr_offer_all(e->subs, e->ns, ev);
		}
	}
	weir__scache_leave();
	return done;
}

weir_err
weir_publish(weir_bus *bus, const char *topic, const void *data, size_t len,
    unsigned flags, weir_free_fn free_fn)
{
	weir_err rv = WEIR_OK;
	if (flags == 0 && bus != NULL && topic != NULL &&
	    len <= bus->max_payload && (data != NULL || len == 0) &&
	    publish_by_cache(bus, topic, data, len, &rv)) {
		return rv;
	}
	rv = publish_check(bus, topic, data, len, flags);
	if (rv != WEIR_OK) {
		return rv;
	}
	int         take = (flags & WEIR_PUBLISH_TAKE) != 0;
	publish_set ps;
	if ((rv = publish_collect(bus, topic, &ps)) != WEIR_OK) {
		return rv;
	}
	weir_event_init init = { .size = sizeof(weir_event_init),
		.topic                 = topic,
		.payload               = data,
		.payload_len           = len };
	weir_event     *ev   = NULL;
	if (ps.n == 0) {
		if (take) {
			publish_drop_taken(data, free_fn);
		}
	} else if ((rv = weir__event_make(&ev, &init,
	                take ? (free_fn ? free_fn : weir_free) : NULL,
	                NULL)) == WEIR_OK) {
		rv = weir__subscr_offer_all(ps.s, ps.n, ev);
	}
	publish_set_done(&ps);
	return rv;
}

weir_err
weir_publish_topic(weir_topic *t, const void *data, size_t len)
{
	if (t == NULL || (len && data == NULL)) {
		return WEIR_EINVAL;
	}
	if (len > t->bus->max_payload) {
		return WEIR_ETOOBIG;
	}
	uint64_t gen =
	    atomic_load_explicit(&t->bus->gen, memory_order_acquire);
	weir_err rv = t->gen != gen ? weir__topic_refresh(t) : WEIR_OK;
	if (rv != WEIR_OK || t->ss->n == 0) {
		return rv;
	}
	weir_event *ev = weir__event_make_plain(t->name, t->len, data, len);
	if (ev == NULL) {
		return WEIR_ENOMEM;
	}
	return weir__subscr_offer_all(t->ss->s, t->ss->n, ev);
}

weir_err
weir_publish_event(weir_bus *bus, const weir_event *cev)
{
	if (bus == NULL || cev == NULL) {
		return WEIR_EINVAL;
	}
	if (cev->payload_len > bus->max_payload) {
		return WEIR_ETOOBIG;
	}
	publish_set ps;
	weir_err    rv = publish_collect(bus, cev->topic, &ps);
	if (rv != WEIR_OK) {
		return rv;
	}
	// A stack event (from an emit) is copied; others are shared.
	weir_event *ev = ps.n ? (weir_event *) weir_event_hold(cev) : NULL;
	if (ps.n && ev == NULL) {
		rv = WEIR_ENOMEM;
	} else if (ev != NULL) {
		rv = weir__subscr_offer_all(ps.s, ps.n, ev);
	}
	publish_set_done(&ps);
	return rv;
}
