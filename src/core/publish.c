// Queued publish: builds the event once and offers it to each matching
// subscription's queue. With a topic handle the matching subscriptions
// come from the handle's snapshot, refreshed only when the registry
// changed.
#include <string.h>

#include "core/alloc.h"
#include "core/bus.h"
#include "core/event.h"
#include "core/subscr.h"

static weir_err
publish_snapshot(weir_bus *bus, const char *topic, weir__ssnap **out)
{
	pthread_mutex_lock(&bus->lock);
	weir_err rv = weir__ssnap_take(bus, topic, out);
	pthread_mutex_unlock(&bus->lock);
	return rv;
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
publish_check(weir_bus *bus, const char *topic, const void *data,
    size_t len, unsigned flags)
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

weir_err
weir_publish(weir_bus *bus, const char *topic, const void *data, size_t len,
    unsigned flags, weir_free_fn free_fn)
{
	weir_err rv = publish_check(bus, topic, data, len, flags);
	if (rv != WEIR_OK) {
		return rv;
	}
	int          take = (flags & WEIR_PUBLISH_TAKE) != 0;
	weir__ssnap *s;
	if ((rv = publish_snapshot(bus, topic, &s)) != WEIR_OK) {
		return rv;
	}
	weir_event_init init = { .topic = topic, .payload = data,
		.payload_len = len };
	weir_event *ev = NULL;
	if (s->n == 0) {
		if (take) {
			publish_drop_taken(data, free_fn);
		}
	} else if ((rv = weir__event_make(&ev, &init,
	                take ? (free_fn ? free_fn : weir_free) : NULL,
	                NULL)) == WEIR_OK) {
		rv = weir__subscr_offer_all(s->s, s->n, ev);
	}
	weir__ssnap_free(s);
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
	uint64_t gen = atomic_load_explicit(&t->bus->gen, memory_order_acquire);
	weir_err rv  = t->gen != gen ? weir__topic_refresh(t) : WEIR_OK;
	if (rv != WEIR_OK || t->ss->n == 0) {
		return rv;
	}
	weir_event *ev;
	rv = weir__event_make_plain(&ev, t->name, t->len, data, len);
	if (rv == WEIR_OK) {
		rv = weir__subscr_offer_all(t->ss->s, t->ss->n, ev);
	}
	return rv;
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
	weir__ssnap *s;
	weir_err     rv = publish_snapshot(bus, cev->topic, &s);
	if (rv != WEIR_OK) {
		return rv;
	}
	// A stack event (from an emit) is copied; others are shared.
	weir_event *ev = s->n ? (weir_event *) weir_event_hold(cev) : NULL;
	if (s->n && ev == NULL) {
		rv = WEIR_ENOMEM;
	} else if (ev != NULL) {
		rv = weir__subscr_offer_all(s->s, s->n, ev);
	}
	weir__ssnap_free(s);
	return rv;
}
