// Design notes. An emit calls a snapshot of the matching listeners on
// the caller's thread. With a topic handle the snapshot is cached in the
// handle and reused while the registry generation stays the same, so
// the common path does no locking, no atomic read-modify-write and no
// allocation. A handle is used by one thread at a time; a snapshot
// replaced while an emit on the same handle is still running (a listener
// changed the registry) is retired and freed when the outermost emit
// returns. By string, the thread's cache (scache.c) gives the (fn, arg)
// pairs the same way.
//
// The event is never allocated (hold() copies it). The outermost emit on
// a handle fills the handle's event, the outermost emit by string the
// thread's, rewriting only what changes (weir__event_stack_reuse); a
// nested one builds its own on the stack. So the hot functions take no
// address in their frame (no stack protector canary), and everything
// else (checks, errors, once-listeners, nesting, retired snapshots) is
// out of line, so that they save few registers.
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/bus.h"
#include "core/emit.h"
#include "core/event.h"
#include "core/scache.h"

#define EMIT_LOCAL 8
// Off the hot path: not inlined, so it adds nothing to the hot frame.
#define EMIT_NOINLINE __attribute__((noinline))

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

// A cached listener failed at calls[i]: the error path, then the rest
// as emit_run() does (a failure goes to the error path and the rest are
// still called). Out of line, off the hot path. @p called may be NULL.
static EMIT_NOINLINE weir_err
emit_cached_failed(weir_bus *bus, const weir__scache_entry *e,
    const weir_event *ev, size_t i, weir_err rv, size_t *called)
{
	size_t n = e->nl;
	while ((rv = emit_failed(bus, ev, rv)) == WEIR_OK) {
		for (i++; i < n; i++) {
			rv = e->calls[i].fn(bus, ev, e->calls[i].arg);
			if (rv != WEIR_OK) {
				break;
			}
		}
		if (i == n) {
			if (called != NULL) {
				*called = n;
			}
			return WEIR_OK;
		}
	}
	if (called != NULL) {
		*called = i + 1;
	}
	return rv;
}

// Calls the cached (fn, arg) pairs of @p e: plain listeners only. A
// nested emit or publish never refills an entry (scache.c), so @p e
// stays as it is across the calls; the loop reads it from memory after
// each call rather than keeping its bounds in registers, and one
// listener, the usual case, is called without the loop.
static inline weir_err
emit_cached(weir_bus *bus, const weir__scache_entry *e, const weir_event *ev,
    size_t *called)
{
	size_t   i  = 0;
	weir_err rv = WEIR_OK;
	if (e->nl == 1) {
		rv = e->calls[0].fn(bus, ev, e->calls[0].arg);
		i  = 1;
	} else {
		for (; i < e->nl; i++) {
			rv = e->calls[i].fn(bus, ev, e->calls[i].arg);
			if (WEIR_NEVER(rv != WEIR_OK)) {
				i++;
				break;
			}
		}
	}
	if (WEIR_NEVER(rv != WEIR_OK)) {
		return emit_cached_failed(bus, e, ev, i - 1, rv, called);
	}
	if (called != NULL) {
		*called = i;
	}
	return WEIR_OK;
}

// The locked path of emit by string: a topic the cache does not take
// (invalid, too long, too many listeners, a once-listener), or bad input.
static EMIT_NOINLINE weir_err
emit_uncached(weir_bus *bus, const char *topic, const void *data, size_t len,
    size_t *called)
{
	if (called != NULL) {
		*called = 0;
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

// Emit by string from inside a section of this thread's cache (a
// listener emits; the thread's event is in use: this one's is on the
// stack), or on the thread's first cached call. Input checked.
static EMIT_NOINLINE weir_err
emit_string_slow(weir_bus *bus, const char *topic, const void *data,
    size_t len, size_t *called)
{
	weir__scache_entry *e = weir__scache_enter(bus, topic);
	if (e == NULL) {
		return emit_uncached(bus, topic, data, len, called);
	}
	if (e->nl == WEIR__SCACHE_NONE) {
		weir__scache_leave();
		return emit_uncached(bus, topic, data, len, called);
	}
	weir_event ev;
	weir__event_on_stack(&ev, topic, e->len, data, len);
	weir_err rv = emit_cached(bus, e, &ev, called);
	weir__scache_leave();
	return rv;
}

// The outermost emit by string found no usable entry (e NULL: not
// cacheable), or one that the cache cannot call (a once-listener, too
// many): the locked path, with the payload the caller wrote into the
// thread's event (free: the section, still entered, keeps nested emits
// off it). Out of line: the hot frame keeps nothing live for it.
static EMIT_NOINLINE weir_err
emit_string_fallback(
    weir__scache_tls *me, weir_bus *bus, const char *topic, size_t *called)
{
	const void *data = me->ev.payload;
	size_t      len  = me->ev.payload_len;
	weir__scache_leave_in(me);
	return emit_uncached(bus, topic, data, len, called);
}

weir_err
weir_emit(weir_bus *bus, const char *topic, const void *data, size_t len,
    size_t *called)
{
	if (WEIR_NEVER(bus == NULL || topic == NULL ||
	        len > bus->max_payload || (data == NULL && len != 0))) {
		return emit_uncached(bus, topic, data, len, called);
	}
	weir__scache_tls *me = weir__scache_me;
	if (WEIR_NEVER(me == NULL || me->depth != 0)) {
		return emit_string_slow(bus, topic, data, len, called);
	}
	// The outermost section: the thread's event is free. The payload
	// goes in before strlen, so that data and len are not kept in
	// registers (saved and restored) across it.
	weir__event_payload_reuse(&me->ev, data, len);
	size_t              n = strlen(topic);
	weir__scache_entry *e = weir__scache_enter_in(me, bus, topic, n);
	if (WEIR_NEVER(e == NULL || e->nl == WEIR__SCACHE_NONE)) {
		return emit_string_fallback(me, bus, topic, called);
	}
	weir__event_topic_reuse(&me->ev, topic, n);
	weir_err rv = emit_cached(bus, e, &me->ev, called);
	weir__scache_leave_in(me);
	return rv;
}

// The outermost emit on a handle frees the snapshots a listener's
// registry change retired while it ran (rare: out of the hot path).
static EMIT_NOINLINE void
emit_retire_done(weir_topic *t)
{
	while (t->retired != NULL) {
		weir__lsnap *s = t->retired;
		t->retired     = s->next;
		weir__lsnap_free(s);
	}
}

// A plain listener failed at calls[i]: the error path, then the rest of
// the snapshot the general way. Out of line, so that the plain loop
// keeps nothing live for it. @p called may be NULL.
static EMIT_NOINLINE weir_err
emit_plain_failed(weir_bus *bus, weir__lsnap *s, const weir_event *ev,
    size_t i, weir_err rv, size_t *called)
{
	size_t n = i + 1;
	if ((rv = emit_failed(bus, ev, rv)) == WEIR_OK) {
		rv = emit_run(bus, s, ev, i + 1, &n);
	}
	if (called != NULL) {
		*called = n;
	}
	return rv;
}

// emit_run() from the start, for a snapshot with a once-listener.
// @p called may be NULL.
static EMIT_NOINLINE weir_err
emit_run_all(
    weir_bus *bus, weir__lsnap *s, const weir_event *ev, size_t *called)
{
	size_t   n  = 0;
	weir_err rv = emit_run(bus, s, ev, 0, &n);
	if (called != NULL) {
		*called = n;
	}
	return rv;
}

// The plain listeners of a snapshot, from a topic handle. The bus and
// the bounds are read from memory after each call rather than kept in
// registers (their save and restore cost more with a few listeners), and
// one listener, the usual case, is called without the loop.
static inline weir_err
emit_topic_plain(weir_topic *t, weir__lsnap *s, weir_event *ev, size_t *called)
{
	size_t   i  = 0;
	weir_err rv = WEIR_OK;
	if (s->n == 1) {
		rv = s->calls[0].fn(t->bus, ev, s->calls[0].arg);
		i  = 1;
	} else {
		for (; i < s->n; i++) {
			rv = s->calls[i].fn(t->bus, ev, s->calls[i].arg);
			if (WEIR_NEVER(rv != WEIR_OK)) {
				i++;
				break;
			}
		}
	}
	if (WEIR_NEVER(rv != WEIR_OK)) {
		return emit_plain_failed(t->bus, s, ev, i - 1, rv, called);
	}
	if (called != NULL) {
		*called = i;
	}
	return WEIR_OK;
}

// Calls the handle's current snapshot (its generation checked) with
// @p ev. The depth count keeps the snapshot alive while a listener
// changes the registry and emits on the same handle again. @p outer:
// the depth is known to be 0 (nested emits leave it as they found it).
static inline weir_err
emit_topic_walk(weir_topic *t, weir_event *ev, size_t *called, int outer)
{
	weir__lsnap *s = t->ls;
	t->depth++;
	weir_err rv = WEIR_ALWAYS(s->plain)
	    ? emit_topic_plain(t, s, ev, called)
	    : emit_run_all(t->bus, s, ev, called);
	if (outer) {
		t->depth = 0;
	}
	if ((outer || --t->depth == 0) && WEIR_NEVER(t->retired != NULL)) {
		emit_retire_done(t);
	}
	return rv;
}

// Everything but the common case: bad input, an oversized payload, a
// registry change since the handle's last emit, an emit on the handle
// from one of its listeners (its event is in use: this one's is on the
// stack).
static EMIT_NOINLINE weir_err
emit_topic_slow(weir_topic *t, const void *data, size_t len, size_t *called)
{
	if (called != NULL) {
		*called = 0;
	}
	if (t == NULL || (len && data == NULL)) {
		return WEIR_EINVAL;
	}
	if (len > t->bus->max_payload) {
		return WEIR_ETOOBIG;
	}
	uint64_t gen =
	    atomic_load_explicit(&t->bus->gen, memory_order_acquire);
	if (t->gen != gen) {
		weir_err rv = weir__topic_refresh(t);
		if (rv != WEIR_OK) {
			return rv;
		}
	}
	if (t->depth != 0) {
		weir_event ev;
		weir__event_on_stack(&ev, t->name, t->len, data, len);
		return emit_topic_walk(t, &ev, called, 0);
	}
	weir__event_stack_reuse(&t->ev, t->name, t->len, data, len);
	return emit_topic_walk(t, &t->ev, called, 1);
}

weir_err
weir_emit_topic(weir_topic *t, const void *data, size_t len, size_t *called)
{
	if (WEIR_NEVER(t == NULL || (len && data == NULL) ||
	        len > t->bus->max_payload || t->depth != 0 ||
	        t->gen !=
	            atomic_load_explicit(
	                &t->bus->gen, memory_order_acquire))) {
		return emit_topic_slow(t, data, len, called);
	}
	weir__event_stack_reuse(&t->ev, t->name, t->len, data, len);
	return emit_topic_walk(t, &t->ev, called, 1);
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
