// Design notes. An emit calls a snapshot of the matching listeners on
// the caller's thread. With a topic handle the snapshot is cached in the
// handle and reused while the registry generation stays the same, so
// the common path does no locking, no atomic read-modify-write and no
// allocation: the event lives on the stack and hold() copies it. A
// handle is used by one thread at a time; a snapshot replaced while an
// emit on the same handle is still running (a listener changed the
// registry) is retired and freed when the outermost emit returns.
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/bus.h"
#include "core/emit.h"
#include "core/event.h"
#include "core/scache.h"

#define EMIT_LOCAL 8

static weir_err
emit_failed(weir_bus *bus, const weir_event *ev, weir_err err)
{
	return weir__report_error(bus, ev, err, NULL);
}

// Calls the listeners of @p s from index @p i on, counting the calls
// in @p called.
static weir_err
emit_run(weir_bus *bus, weir__lsnap *s, const weir_event *ev, size_t i,
    size_t *called)
{
	for (; i < s->n; i++) {
		weir__listener *l = s->l[i];
		if (l->flags & WEIR_ON_ONCE) {
			if (atomic_exchange(&l->fired, 1)) {
				continue;
			}
			weir__listener_unregister(bus, l);
		}
		++*called;
		weir_err rv = l->fn(bus, ev, l->arg);
		if (rv != WEIR_OK && (rv = emit_failed(bus, ev, rv))) {
			return rv;
		}
	}
	return WEIR_OK;
}

weir_err
weir_emit_event(weir_bus *bus, const weir_event *ev, size_t *called)
{
	size_t n = 0;
	if (called != NULL) {
		*called = 0;
	}
	if (bus == NULL || ev == NULL) {
		return WEIR_EINVAL;
	}
	// Room for a short snapshot on the stack: no allocation per emit.
	_Alignas(max_align_t) char buf[sizeof(weir__lsnap) +
	    EMIT_LOCAL * (sizeof(weir__listener *) + sizeof(weir__lcall))];
	weir__lsnap               *s;
	pthread_mutex_lock(&bus->lock);
	weir_err rv =
	    weir__lsnap_take_in(bus, ev->topic, buf, sizeof(buf), &s);
	pthread_mutex_unlock(&bus->lock);
	if (rv == WEIR_OK) {
		rv = emit_run(bus, s, ev, 0, &n);
		weir__lsnap_drop(s, buf);
	}
	if (called != NULL) {
		*called = n;
	}
	return rv;
}

// Calls the cached (fn, arg) pairs of @p e: plain listeners only, so a
// failure goes to the error path and the rest are still called, as
// emit_run() does for them.
static weir_err
emit_cached(weir_bus *bus, const weir__scache_entry *e, const weir_event *ev,
    size_t *called)
{
	size_t n = e->nl;
	for (size_t i = 0; i < n; i++) {
		weir_err rv = e->calls[i].fn(bus, ev, e->calls[i].arg);
		if (rv != WEIR_OK && (rv = emit_failed(bus, ev, rv))) {
			*called = i + 1;
			return rv;
		}
	}
	*called = n;
	return WEIR_OK;
}

// The by-string fast path: the thread's cached entry for the topic
// (scache.c). Returns 0 when the topic is not cacheable (nothing was
// called), else 1 with the emit's result in @p rv.
static int
emit_by_cache(weir_bus *bus, const char *topic, const void *data, size_t len,
    size_t *called, weir_err *rv)
{
	weir__scache_entry *e = weir__scache_enter(bus, topic);
	if (e == NULL) {
		return 0;
	}
	int done = e->nl != WEIR__SCACHE_NONE;
	if (done) {
		weir_event ev;
		weir__event_on_stack(&ev, topic, e->len, data, len);
		*rv = emit_cached(bus, e, &ev, called);
	}
	weir__scache_leave();
	return done;
}

weir_err
weir_emit(weir_bus *bus, const char *topic, const void *data, size_t len,
    size_t *called)
{
	size_t n = 0;
	if (called != NULL) {
		*called = 0;
	}
	if (bus != NULL && topic != NULL && len <= bus->max_payload &&
	    (data != NULL || len == 0)) {
		weir_err rv = WEIR_OK;
		if (emit_by_cache(bus, topic, data, len, &n, &rv)) {
			if (called != NULL) {
				*called = n;
			}
			return rv;
		}
	}
	weir_err rv = weir__bus_check(bus, topic, len);
	if (rv != WEIR_OK) {
		return rv;
	}
	if ((len && data == NULL) || topic == NULL) { /* bus_check: no NULL */
		return WEIR_EINVAL;
	}
	weir_event ev;
	weir__event_on_stack(&ev, topic, strlen(topic), data, len);
	return weir_emit_event(bus, &ev, called);
}

static void
emit_retire_done(weir_topic *t)
{
	while (t->retired != NULL) {
		weir__lsnap *s = t->retired;
		t->retired     = s->next;
		weir__lsnap_free(s);
	}
}

// The common case: listeners without `once`, none failing. Counts the
// calls once at the end, not per call.
static inline weir_err
emit_run_plain(
    weir_bus *bus, weir__lsnap *s, const weir_event *ev, size_t *called)
{
	for (size_t i = 0; i < s->n; i++) {
		weir_err rv = s->calls[i].fn(bus, ev, s->calls[i].arg);
		if (rv != WEIR_OK) {
			*called = i + 1;
			if ((rv = emit_failed(bus, ev, rv)) != WEIR_OK) {
				return rv;
			}
			return emit_run(bus, s, ev, i + 1, called);
		}
	}
	*called = s->n;
	return WEIR_OK;
}

weir_err
weir_emit_topic(weir_topic *t, const void *data, size_t len, size_t *called)
{
	size_t n = 0;
	if (called != NULL) {
		*called = 0;
	}
	if (t == NULL || (len && data == NULL)) {
		return WEIR_EINVAL;
	}
	weir_bus *bus = t->bus;
	if (len > bus->max_payload) {
		return WEIR_ETOOBIG;
	}
	uint64_t gen = atomic_load_explicit(&bus->gen, memory_order_acquire);
	if (t->gen != gen) {
		weir_err rv = weir__topic_refresh(t);
		if (rv != WEIR_OK) {
			return rv;
		}
	}
	weir_event ev;
	weir__event_on_stack(&ev, t->name, t->len, data, len);
	t->depth++;
	weir__lsnap *s  = t->ls;
	weir_err     rv = s->plain ? emit_run_plain(bus, s, &ev, &n)
	                           : emit_run(bus, s, &ev, 0, &n);
	if (--t->depth == 0 && t->retired != NULL) {
		emit_retire_done(t);
	}
	if (called != NULL) {
		*called = n;
	}
	return rv;
}

static weir_err
error_event_make(
    const weir_event *ev, weir_err err, const char *origin, weir_event **out)
{
	char        code[16];
	const char *name = weir_err_name(err);
	snprintf(code, sizeof(code), "%d", (int) err);
	weir_header hdr[4] = {
		{ "weir-topic", ev->topic, ev->topic_len },
		{ "weir-error", name, strlen(name) },
		{ "weir-code", code, strlen(code) },
		{ "weir-origin", origin ? origin : "emit",
		    strlen(origin ? origin : "emit") },
	};
	weir_event_init init = {
		.size         = sizeof(weir_event_init),
		.topic        = WEIR_TOPIC_ERROR,
		.key          = weir__event_key(ev),
		.key_len      = ev->key_len,
		.payload      = ev->payload,
		.payload_len  = ev->payload_len,
		.headers      = hdr,
		.header_count = 4,
	};
	return weir__event_make(out, &init, NULL, ev);
}

weir_err
weir__report_error(
    weir_bus *bus, const weir_event *ev, weir_err err, const char *origin)
{
	if (strcmp(ev->topic, WEIR_TOPIC_ERROR) == 0) {
		return err; // an error listener failed: do not loop
	}
	pthread_mutex_lock(&bus->lock);
	size_t nl = weir__listener_count_locked(bus, WEIR_TOPIC_ERROR);
	size_t ns = weir__subscr_count_locked(bus, WEIR_TOPIC_ERROR);
	pthread_mutex_unlock(&bus->lock);
	if (nl == 0 && ns == 0) {
		return err;
	}
	weir_event *eev;
	if (error_event_make(ev, err, origin, &eev) != WEIR_OK) {
		return err;
	}
	weir_err rv = nl ? weir_emit_event(bus, eev, NULL) : WEIR_OK;
	if (ns) {
		weir_publish_event(bus, eev); // takes its own references
	}
	weir_event_release(eev);
	return rv;
}
