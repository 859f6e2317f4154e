/*
 * The inlet: one broker message in. weir_inlet_deliver turns it into a
 * weir event (id, topic, headers, ts), queues its inbox append and
 * takes a slot of the route's ring; what cannot become an event goes to
 * the dead letters at once with its broker coordinates. The slot is
 * done later, in order (inbound.c).
 */
#include <stdio.h>
#include <string.h>

#include "bridge/bridge.h"
#include "bridge/inbound.h"
#include "core/abi.h"
#include "core/alloc.h"
#include "store/inbox.h"

/* Store commit (writer thread): the slot is READY for the publisher. */
static void
inlet_appended(weir_store *st, weir_err err, uint64_t seq, int dup, void *arg)
{
	(void) st;
	(void) seq;
	weir__in_msg *m  = arg;
	weir_inlet   *in = m->in;
	pthread_mutex_lock(&in->lock);
	if (err != WEIR_OK) {
		m->outcome = WEIR__IN_FAILED;
		m->err     = err;
	} else {
		m->outcome = dup ? WEIR__IN_DUP : WEIR__IN_NEW;
		atomic_fetch_add(dup ? &in->duplicates : &in->appended, 1);
	}
	m->state = WEIR__IN_READY;
	weir__inbound_ready(in, m);
	pthread_mutex_unlock(&in->lock);
}

/* A message too large for the store cannot be kept whole even as a dead
 * letter (the store refuses it): keep its id, topic and key, say what
 * was dropped, and let consumption go on. */
static weir_err
inlet_dead_without_payload(
    weir_inlet *in, const weir_event *ev, weir_err code, const char *text)
{
	size_t      plen = 0, klen = 0;
	weir_event *kept;
	char        more[700];
	weir_event_payload(ev, &plen);
	const void     *key  = weir_event_key(ev, &klen);
	weir_event_init init = { .size = sizeof init,
		.topic                 = weir_event_topic(ev),
		.key                   = key,
		.key_len               = klen,
		.id                    = weir_event_id(ev),
		.ts                    = weir_event_ts(ev) };
	weir_err        e    = weir_event_new(&kept, &init);
	if (e != WEIR_OK)
		return e;
	snprintf(more, sizeof more,
	    "%s; kept without its payload (%zu bytes) and headers: too large "
	    "for the store",
	    text, plen);
	e = weir_store_dead_add(
	    in->br->store, kept, in->name, code, more, NULL);
	weir_event_release(kept);
	return e;
}

void
weir__inlet_dead(weir_inlet *in, const weir_event *ev, weir_err code,
    const char *why, const char *coord)
{
	char text[600];
	snprintf(text, sizeof text, "%s (at %s)", why,
	    coord != NULL ? coord : "no coordinates: core NATS");
	weir_err e =
	    weir_store_dead_add(in->br->store, ev, in->name, code, text, NULL);
	if (e == WEIR_ETOOBIG) /* so there is an event (NULL: WEIR_EINVAL) */
		e = inlet_dead_without_payload(in, ev, code, text);
	atomic_fetch_add(&in->dead, 1);
	if (e != WEIR_OK) { /* nowhere to keep it: leave it to the broker */
		pthread_mutex_lock(&in->lock);
		in->halted = 1;
		pthread_mutex_unlock(&in->lock);
	}
}

/* The headers of the event: the message's, without the transport
 * attributes inbound consumes, plus the CloudEvents source and type
 * under weir's names and the origin marker. */
typedef struct inlet_hdrs {
	weir_header h[WEIR_MAX_HEADERS];
	size_t      n;
	int64_t     ce_time;
} inlet_hdrs;

static int
inlet_hdr_add(inlet_hdrs *hs, const char *name, const void *v, size_t len)
{
	if (hs->n == WEIR_MAX_HEADERS)
		return 0;
	hs->h[hs->n++] = (weir_header) { name, v, len };
	return 1;
}

static weir_err
inlet_headers(weir_inlet *in, const weir_inbound_msg *msg, inlet_hdrs *hs)
{
	int ok = 1;
	hs->n  = 0;
	for (size_t i = 0; i < msg->header_count; i++) {
		const weir_header *h = &msg->headers[i];
		if (h->name == NULL)
			return WEIR_EINVAL;
		if (weir__inbound_ce(h->name, "time"))
			hs->ce_time = weir__inbound_time(h->value, h->len);
		if (weir__inbound_ce(h->name, "source"))
			ok &= inlet_hdr_add(
			    hs, WEIR__HDR_CE_SOURCE, h->value, h->len);
		else if (weir__inbound_ce(h->name, "type"))
			ok &= inlet_hdr_add(
			    hs, WEIR__HDR_CE_TYPE, h->value, h->len);
		else if (!weir__inbound_header_dropped(h->name))
			ok &= inlet_hdr_add(hs, h->name, h->value, h->len);
	}
	ok &= inlet_hdr_add(
	    hs, WEIR__HDR_ORIGIN, in->scheme, strlen(in->scheme));
	if (in->echo)
		ok &= inlet_hdr_add(hs, WEIR__HDR_ECHO, "1", 1);
	return ok ? WEIR_OK : WEIR_EINVAL;
}

/* The local topic of @p origin, rendered once for a run of messages
 * from one origin (a Kafka route has one; a JetStream route's subjects
 * repeat) and kept until the next origin: rendering and freeing it per
 * message cost ~500 instructions. Route thread only. NULL: no memory. */
static const char *
inlet_topic(weir_inlet *in, const char *origin)
{
	if (in->topic_text != NULL && strcmp(in->topic_origin, origin) == 0)
		return in->topic_text;
	char *text = weir__template_render(&in->topic, origin);
	char *from = weir__strdup(origin);
	if (text == NULL || from == NULL) {
		weir__free(text);
		weir__free(from);
		return NULL;
	}
	weir__free(in->topic_text);
	weir__free(in->topic_origin);
	in->topic_text   = text;
	in->topic_origin = from;
	return text;
}

/* Builds the event; on failure, @p why says what is wrong and *out is
 * a stand-in event (or NULL) for the dead letter. */
static weir_err
inlet_event(weir_inlet *in, const weir_inbound_msg *msg, weir_event **out,
    char *why, size_t why_size)
{
	uint8_t    id[16];
	inlet_hdrs hs = { .n = 0 };
	weir__inbound_id(msg, id);
	const char *origin = msg->origin != NULL ? msg->origin : in->from;
	const char *topic  = inlet_topic(in, origin);
	if (topic == NULL)
		return WEIR_ENOMEM;
	weir_event_init init = { .size = sizeof init,
		.topic                 = topic,
		.key                   = msg->key,
		.key_len               = msg->key_len,
		.payload               = msg->payload,
		.payload_len           = msg->payload_len,
		.id                    = id };
	weir_err        e    = inlet_headers(in, msg, &hs);
	if (e == WEIR_OK) {
		init.headers      = hs.h;
		init.header_count = hs.n;
		init.ts           = hs.ce_time > 0 ? hs.ce_time : msg->ts;
		if ((e = weir_event_new(out, &init)) == WEIR_EBADTOPIC)
			snprintf(why, why_size,
			    "topic '%.200s' (from '%.200s') is not a weir "
			    "topic",
			    topic, origin);
		else if (e == WEIR_EINVAL)
			snprintf(why, why_size, "bad key or headers");
	} else {
		snprintf(why, why_size,
		    "more than %d headers, or a nameless "
		    "one",
		    WEIR_MAX_HEADERS - 2);
	}
	if (e != WEIR_OK && e != WEIR_ENOMEM) { /* a stand-in to keep */
		char name[96];
		snprintf(name, sizeof name, "$weir.inbound.%s", in->name);
		init.topic        = name;
		init.headers      = NULL;
		init.header_count = 0;
		init.key          = NULL;
		init.key_len      = 0;
		if (weir_event_new(out, &init) != WEIR_OK) {
			init.payload     = NULL; /* too big, even here */
			init.payload_len = 0;
			if (weir_event_new(out, &init) != WEIR_OK)
				*out = NULL;
		}
	}
	return e;
}

/* Takes the next slot, waiting (and reaping) while the ring is full. */
static weir__in_msg *
inlet_slot(weir_inlet *in, uint64_t token)
{
	pthread_mutex_lock(&in->lock);
	while (in->delivered - in->head >= in->cap && !in->halted) {
		pthread_mutex_unlock(&in->lock);
		weir__inbound_reap(in);
		pthread_mutex_lock(&in->lock);
		if (in->delivered - in->head >= in->cap &&
		    in->ring[in->head % in->cap].state != WEIR__IN_FINISHED)
			pthread_cond_wait(&in->cond, &in->lock);
	}
	weir__in_msg *m = NULL;
	if (!in->halted && in->stopping != 2) {
		m  = &in->ring[in->delivered % in->cap];
		*m = (weir__in_msg) {
			.in = in, .token = token, .state = WEIR__IN_PENDING
		};
	}
	pthread_mutex_unlock(&in->lock);
	return m;
}

/* Makes slot @p m visible (delivered) with @p state. Nobody waits for
 * a PENDING slot: only its commit (READY) wakes the publisher. */
static void
inlet_commit(weir_inlet *in, weir__in_msg *m, weir__in_state state)
{
	pthread_mutex_lock(&in->lock);
	m->state = state;
	in->delivered++;
	if (state == WEIR__IN_READY)
		weir__inbound_ready(in, m);
	pthread_mutex_unlock(&in->lock);
}

/* Takes @p m into slot @p slot: the event @p ev made of it, or (@p e
 * and @p why say why it could not become one) its stand-in. */
static void
inlet_take(weir_inlet *in, weir__in_msg *m, weir_event *ev, char *coord,
    weir_err e, char *why, size_t why_size)
{
	if (e == WEIR_OK) {
		m->coord = coord;
		m->ev    = ev;
		inlet_commit(in, m, WEIR__IN_PENDING);
		e = weir__store_inbox_append(
		    in->br->store, ev, inlet_appended, m);
		if (e !=
		    WEIR_OK) /* too big, ...: the publisher dead-letters it */
			inlet_appended(in->br->store, e, 0, 0, m);
		return;
	}
	if (why[0] == '\0')
		snprintf(why, why_size, "%s", weir_strerror(e));
	weir__inlet_dead(in, ev, e, why, coord);
	weir__free(coord);
	weir_event_release(ev);
	m->outcome = WEIR__IN_DEAD;
	inlet_commit(in, m, WEIR__IN_READY);
}

weir_err
weir_inlet_deliver(weir_inlet *in, const weir_inbound_msg *msg)
{
	weir_inbound_msg m = { .size = sizeof m };
	if (in == NULL || msg == NULL ||
	    weir__struct_in(&m, sizeof m, msg, sizeof m) != WEIR_OK)
		return WEIR_EINVAL;
	pthread_mutex_lock(&in->lock);
	int closed = in->stopping != 0 || in->halted;
	pthread_mutex_unlock(&in->lock);
	if (closed)
		return WEIR_ECLOSED;
	/* Out of memory is not the message's fault: refuse it (not
	 * taken, the broker delivers it again) rather than dead-letter
	 * it or, with no event to keep, drop it. */
	char        why[512] = "";
	weir_event *ev       = NULL;
	weir_err    e        = inlet_event(in, &m, &ev, why, sizeof why);
	char       *coord    = m.coord ? weir__strdup(m.coord) : NULL;
	if (e == WEIR_ENOMEM || ev == NULL || (m.coord && coord == NULL)) {
		weir_event_release(ev);
		weir__free(coord);
		return WEIR_ENOMEM;
	}
	weir__in_msg *slot = inlet_slot(in, m.token);
	if (slot == NULL) {
		weir_event_release(ev);
		weir__free(coord);
		return WEIR_ECLOSED;
	}
	atomic_fetch_add(&in->received, 1);
	inlet_take(in, slot, ev, coord, e, why, sizeof why);
	return WEIR_OK;
}

weir_err
weir_inlet_flush(weir_inlet *in)
{
	if (in == NULL)
		return WEIR_EINVAL;
	for (;;) {
		weir__inbound_reap(in);
		pthread_mutex_lock(&in->lock);
		int      left   = in->head < in->delivered;
		int      halted = in->halted;
		uint64_t head   = in->head;
		if (left && !halted &&
		    in->ring[head % in->cap].state != WEIR__IN_FINISHED)
			pthread_cond_wait(&in->cond, &in->lock);
		pthread_mutex_unlock(&in->lock);
		if (!left)
			return WEIR_OK;
		if (halted)
			return WEIR_ESTORE;
	}
}
