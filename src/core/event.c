// Design notes. An event is created once and never changes after it is
// shared; every queue holding it holds one reference. The topic, key,
// headers and (unless taken) payload sit in the same allocation as the
// struct. An emit builds its event on the caller's stack with a lazy id
// and ts (most listeners never read them); hold() turns such an event
// into a heap copy, so nothing on the stack outlives the emit.
#include <string.h>

#include "core/abi.h"
#include "core/alloc.h"
#include "core/event.h"
#include "core/evpool.h"
#include "core/topic.h"
#include "core/uuid.h"

// Copied payloads start on a 16-byte boundary, as malloc's blocks do,
// so a handler may read a struct straight out of one.
#define EVENT_ALIGN 16

static char *
event_align(char *p)
{
	return (char *) (((uintptr_t) p + EVENT_ALIGN - 1) &
	    ~(uintptr_t) (EVENT_ALIGN - 1));
}

static size_t
event_size(const weir_event_init *init, size_t topic_len, int copy_payload)
{
	size_t n = sizeof(weir_event) + topic_len + 1 + init->key_len;
	n += init->header_count * sizeof(weir_header);
	for (size_t i = 0; i < init->header_count; i++) {
		n += strlen(init->headers[i].name) + 1 + init->headers[i].len;
	}
	if (copy_payload) {
		n += EVENT_ALIGN + init->payload_len;
	}
	return n;
}

// The limits keep every length small, so the size sum in event_size()
// cannot wrap (WEIR_MAX_EVENT_PAYLOAD leaves half of size_t for the
// rest), and a header always fits the store's row format.
static weir_err
event_header_check(const weir_header *h)
{
	if (h->name == NULL || (h->len && h->value == NULL) ||
	    h->len > WEIR_MAX_HEADER_VALUE) {
		return WEIR_EINVAL;
	}
	for (size_t n = 0; h->name[n] != '\0'; n++) {
		if (n == WEIR_MAX_HEADER_NAME) {
			return WEIR_EINVAL;
		}
	}
	return WEIR_OK;
}

static weir_err
event_check(const weir_event_init *init)
{
	if (init == NULL || init->topic == NULL) {
		return WEIR_EINVAL;
	}
	if ((init->key_len && !init->key) || init->key_len > WEIR_MAX_KEY ||
	    (init->payload_len && !init->payload) ||
	    (init->header_count && !init->headers) ||
	    init->header_count > WEIR_MAX_HEADERS) {
		return WEIR_EINVAL;
	}
	if (init->payload_len > WEIR_MAX_EVENT_PAYLOAD) {
		return WEIR_EINVAL;
	}
	for (size_t i = 0; i < init->header_count; i++) {
		if (event_header_check(&init->headers[i]) != WEIR_OK) {
			return WEIR_EINVAL;
		}
	}
	return weir_topic_validate(init->topic);
}

static char *
event_put(char *p, const void *src, size_t len)
{
	if (len) {
		memcpy(p, src, len);
	}
	return p + len;
}

static char *
event_copy_headers(weir_event *ev, const weir_event_init *init, char *p)
{
	ev->headers      = (weir_header *) p;
	ev->header_count = init->header_count;
	p += init->header_count * sizeof(weir_header);
	for (size_t i = 0; i < init->header_count; i++) {
		const weir_header *h = &init->headers[i];
		size_t             n = strlen(h->name) + 1;
		ev->headers[i].name  = p;
		p                    = event_put(p, h->name, n);
		ev->headers[i].value = p;
		ev->headers[i].len   = h->len;
		p                    = event_put(p, h->value, h->len);
	}
	return p;
}

static void
event_fill(weir_event *ev, const weir_event_init *init, size_t topic_len,
    weir_free_fn take_free)
{
	char *p         = (char *) (ev + 1);
	p               = event_copy_headers(ev, init, p);
	ev->topic       = p;
	ev->topic_len   = (uint32_t) topic_len;
	p               = event_put(p, init->topic, topic_len + 1);
	ev->key         = init->key_len ? p : NULL;
	ev->key_len     = (uint32_t) init->key_len;
	p               = event_put(p, init->key, init->key_len);
	ev->payload_len = init->payload_len;
	if (take_free != NULL) {
		ev->payload      = init->payload;
		ev->payload_free = take_free;
	} else {
		p           = event_align(p);
		ev->payload = init->payload_len ? p : NULL;
		event_put(p, init->payload, init->payload_len);
	}
}

weir_err
weir__event_make(weir_event **out, const weir_event_init *init,
    weir_free_fn take_free, const weir_event *cause)
{
	// Holding a stack cause copies it, which can run out of memory:
	// that fails the event, which must not lose its cause silently.
	const weir_event *held = cause ? weir_event_hold(cause) : NULL;
	if (cause != NULL && held == NULL) {
		return WEIR_ENOMEM;
	}
	size_t      topic_len = strlen(init->topic);
	int         cls;
	weir_event *ev =
	    weir__evpool_alloc(event_size(init, topic_len, !take_free), &cls);
	if (ev == NULL) {
		weir_event_release(held);
		return WEIR_ENOMEM;
	}
	memset(ev, 0, sizeof(*ev));
	ev->pool_cls = (int16_t) cls;
	atomic_init(&ev->refs, 1);
	ev->ts  = init->ts ? init->ts : weir__now_ns();
	ev->seq = init->seq;
	if (init->id != NULL) {
		memcpy(ev->id, init->id, 16);
	} else {
		weir__uuid_v7_at(ev->id, ev->ts);
	}
	event_fill(ev, init, topic_len, take_free);
	ev->cause = held;
	*out      = ev;
	return WEIR_OK;
}

// A plain event stamped @p ts, its count at @p refs.
static weir_event *
event_plain_at(const char *topic, size_t topic_len, const void *data,
    size_t len, int64_t ts, unsigned refs)
{
	int         cls;
	weir_event *ev = weir__evpool_alloc(
	    sizeof(*ev) + topic_len + 1 + EVENT_ALIGN + len, &cls);
	if (ev == NULL) {
		return NULL;
	}
	// Field by field: a struct literal compiled to `rep stos`, whose
	// start-up cost showed on every publish.
	char *p = (char *) (ev + 1);
	atomic_init(&ev->refs, refs);
	ev->flags        = 0;
	ev->pool_cls     = (int16_t) cls;
	ev->topic_len    = (uint32_t) topic_len;
	ev->key_len      = 0;
	ev->payload_len  = len;
	ev->topic        = p;
	ev->payload      = NULL;
	ev->cause        = NULL;
	ev->payload_free = NULL;
	ev->ts           = ts;
	ev->key          = NULL;
	ev->seq          = 0;
	ev->headers      = NULL;
	ev->header_count = 0;
	weir__uuid_v7_at(ev->id, ev->ts);
	memcpy(p, topic, topic_len + 1);
	if (len) {
		char *dst   = event_align(p + topic_len + 1);
		ev->payload = dst;
		memcpy(dst, data, len);
	}
	return ev;
}

weir_err
weir__event_make_plain(weir_event **out, const char *topic, size_t topic_len,
    const void *data, size_t len)
{
	*out = event_plain_at(topic, topic_len, data, len, weir__now_ns(), 1);
	return *out != NULL ? WEIR_OK : WEIR_ENOMEM;
}

size_t
weir__event_make_plain_n(weir_event **out, const char *topic, size_t topic_len,
    const weir_buf *bufs, size_t n, unsigned refs, int64_t ts)
{
	// One timestamp for the batch; the ids still differ and rise,
	// from the thread's UUIDv7 counter (uuid.c).
	for (size_t i = 0; i < n; i++) {
		out[i] = event_plain_at(
		    topic, topic_len, bufs[i].data, bufs[i].len, ts, refs);
		if (out[i] == NULL) {
			return i;
		}
	}
	return n;
}

weir_err
weir_event_new(weir_event **out, const weir_event_init *init)
{
	if (out == NULL) {
		return WEIR_EINVAL;
	}
	*out = NULL;
	if (init == NULL) {
		return WEIR_EINVAL;
	}
	weir_event_init in;
	weir_err rv = weir__struct_in(&in, sizeof(in), init, sizeof(in));
	if (rv != WEIR_OK || (rv = event_check(&in)) != WEIR_OK) {
		return rv;
	}
	return weir__event_make(out, &in, NULL, NULL);
}

static void
event_make_lazy(const weir_event *cev)
{
	// Only stack events are lazy, and they belong to one emitting
	// thread for the duration of the emit, so no race is possible.
	weir_event *ev = (weir_event *) cev;
	if (ev->flags & EVENT_LAZY) {
		ev->ts = weir__now_ns();
		weir__uuid_v7_at(ev->id, ev->ts);
		ev->flags &= (uint16_t) ~EVENT_LAZY;
	}
}

static const weir_event *
event_copy(const weir_event *src)
{
	event_make_lazy(src);
	weir_event_init init = {
		.size         = sizeof(weir_event_init),
		.topic        = src->topic,
		.key          = src->key,
		.key_len      = src->key_len,
		.payload      = src->payload,
		.payload_len  = src->payload_len,
		.headers      = src->headers,
		.header_count = src->header_count,
		.id           = src->id,
		.ts           = src->ts,
		.seq          = src->seq,
	};
	weir_event *ev = NULL;
	weir__event_make(&ev, &init, NULL, src->cause);
	return ev;
}

const weir_event *
weir_event_hold(const weir_event *ev)
{
	if (ev == NULL) {
		return NULL;
	}
	if (ev->flags & EVENT_STACK) {
		return event_copy(ev);
	}
	atomic_fetch_add_explicit(
	    &((weir_event *) ev)->refs, 1, memory_order_relaxed);
	return ev;
}

void
weir_event_release(const weir_event *cev)
{
	weir_event *ev = (weir_event *) cev;
	if (ev == NULL || (ev->flags & EVENT_STACK)) {
		return;
	}
	// A count of 1 means nobody else holds the event and nobody can
	// take a new reference: skip the read-modify-write.
	if (atomic_load_explicit(&ev->refs, memory_order_acquire) != 1 &&
	    atomic_fetch_sub_explicit(&ev->refs, 1, memory_order_acq_rel) !=
	        1) {
		return;
	}
	if (ev->payload_free != NULL) {
		ev->payload_free((void *) ev->payload);
	}
	weir_event_release(ev->cause);
	weir__evpool_free(ev, ev->pool_cls);
}

const uint8_t *
weir_event_id(const weir_event *ev)
{
	event_make_lazy(ev);
	return ev->id;
}

const char *
weir_event_topic(const weir_event *ev)
{
	return ev->topic;
}

const void *
weir_event_key(const weir_event *ev, size_t *len)
{
	if (len != NULL) {
		*len = ev->key_len;
	}
	return ev->key;
}

const void *
weir_event_payload(const weir_event *ev, size_t *len)
{
	if (len != NULL) {
		*len = ev->payload_len;
	}
	return ev->payload;
}

int64_t
weir_event_ts(const weir_event *ev)
{
	event_make_lazy(ev);
	return ev->ts;
}

uint64_t
weir_event_seq(const weir_event *ev)
{
	return ev->seq;
}

size_t
weir_event_header_count(const weir_event *ev)
{
	return ev->header_count;
}

weir_err
weir_event_header(const weir_event *ev, size_t i, const char **name,
    const void **value, size_t *len)
{
	if (ev == NULL || i >= ev->header_count) {
		return WEIR_ENOENT;
	}
	if (name != NULL) {
		*name = ev->headers[i].name;
	}
	if (value != NULL) {
		*value = ev->headers[i].value;
	}
	if (len != NULL) {
		*len = ev->headers[i].len;
	}
	return WEIR_OK;
}

const void *
weir_event_header_get(const weir_event *ev, const char *name, size_t *len)
{
	for (size_t i = 0; ev != NULL && name != NULL && i < ev->header_count;
	     i++) {
		if (strcmp(ev->headers[i].name, name) == 0) {
			if (len != NULL) {
				*len = ev->headers[i].len;
			}
			return ev->headers[i].value;
		}
	}
	return NULL;
}

const weir_event *
weir_event_cause(const weir_event *ev)
{
	return ev->cause;
}
