// Design notes. An event is created once and never changes after it is
// shared; every queue holding it holds one reference. The topic, key,
// headers and (unless taken) payload sit in the same allocation as the
// struct, in this order: the struct, the extension (only when the event
// has a key, headers, a cause, a seq or a taken payload), the header
// array and strings, the topic, the key, the payload. The block is sized
// exactly: the payload's offset is rounded up to EVENT_ALIGN within the
// block, which aligns it when the block is aligned, as malloc's are. An emit
// builds its event on the caller's stack with a lazy id and ts (most listeners
// never read them); hold() turns such an event into a heap copy, so nothing on
// the stack outlives the emit.
#include <assert.h>
#include <string.h>

#include "core/abi.h"
#include "core/alloc.h"
#include "core/evblock.h"
#include "core/event.h"
#include "core/evpool.h"
#include "core/topic.h"
#include "core/uuid.h"

// Copied payloads start on a 16-byte boundary, as malloc's blocks do,
// so a handler may read a struct straight out of one.
#define EVENT_ALIGN 16

static size_t
event_round(size_t n)
{
	return (n + EVENT_ALIGN - 1) & ~(size_t) (EVENT_ALIGN - 1);
}

static char *
event_align(char *p)
{
	return (char *) event_round((uintptr_t) p);
}

// Allocates a block for an event whose copied payload of @p len bytes
// goes at offset @p off (a multiple of EVENT_ALIGN). A block from an
// allocator hook that is less aligned than malloc's is given back and
// one with room to align the payload taken instead.
// memcpy for the sizes a topic and a small payload have: two moves of
// a constant size that overlap in the middle, inline, where a call
// went through the PLT into the C library's size dispatch (23
// instructions per publish for the two copies). The source and the
// destination never overlap.
static inline void
event_copy_small(char *dst, const char *src, size_t n)
{
#if defined(__GNUC__)
	// A constant source seen through link-time inlining (a topic
	// literal of 8 bytes) made GCC warn about the branches for longer
	// lengths, which that source never takes (-Wstringop-overread).
	// The empty asm hides where src points from those object-size
	// checks; it emits no instruction.
	__asm__("" : "+r"(src));
#endif
	if (n >= 8 && n <= 16) {
		memcpy(dst, src, 8);
		memcpy(dst + n - 8, src + n - 8, 8);
	} else if (n > 16 && n <= 32) {
		memcpy(dst, src, 16);
		memcpy(dst + n - 16, src + n - 16, 16);
	} else if (n > 32 && n <= 64) {
		memcpy(dst, src, 32);
		memcpy(dst + n - 32, src + n - 32, 32);
	} else {
		memcpy(dst, src, n);
	}
}

static weir__evpool_blk
event_alloc_blk(size_t off, size_t len)
{
	weir__evpool_blk b = weir__evpool_alloc(off + len);
	if (b.p != NULL && ((uintptr_t) b.p & (EVENT_ALIGN - 1)) != 0) {
		weir__evpool_free(b.p, b.cls);
		b = weir__evpool_alloc(off + len + EVENT_ALIGN);
	}
	return b;
}

static int
event_has_ext(const weir_event_init *init, weir_free_fn take_free,
    const weir_event *cause)
{
	return init->key_len || init->header_count || init->seq ||
	    take_free != NULL || cause != NULL;
}

// The bytes before the payload.
static size_t
event_prefix(const weir_event_init *init, size_t topic_len, int ext)
{
	size_t n = sizeof(weir_event) + topic_len + 1 + init->key_len;
	n += ext ? sizeof(weir__event_ext) : 0;
	n += init->header_count * sizeof(weir_header);
	for (size_t i = 0; i < init->header_count; i++) {
		n += strlen(init->headers[i].name) + 1 + init->headers[i].len;
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
event_copy_headers(weir__event_ext *x, const weir_event_init *init, char *p)
{
	x->headers      = init->header_count ? (weir_header *) p : NULL;
	x->header_count = (uint32_t) init->header_count;
	p += init->header_count * sizeof(weir_header);
	for (size_t i = 0; i < init->header_count; i++) {
		const weir_header *h = &init->headers[i];
		size_t             n = strlen(h->name) + 1;
		x->headers[i].name   = p;
		p                    = event_put(p, h->name, n);
		x->headers[i].value  = p;
		x->headers[i].len    = h->len;
		p                    = event_put(p, h->value, h->len);
	}
	return p;
}

// Sets up the extension at @p p (when the event has one); returns where
// the topic goes.
static char *
event_fill_ext(weir_event *ev, const weir_event_init *init, char *p,
    weir_free_fn take_free, const weir_event *cause)
{
	if (!event_has_ext(init, take_free, cause)) {
		ev->ext = NULL;
		return p;
	}
	weir__event_ext *x = (weir__event_ext *) p;
	x->cause           = cause;
	x->payload_free    = take_free;
	x->key             = NULL;
	x->seq             = init->seq;
	ev->ext            = x;
	return event_copy_headers(x, init, p + sizeof(*x));
}

static void
event_fill(weir_event *ev, const weir_event_init *init, size_t topic_len,
    weir_free_fn take_free, const weir_event *cause)
{
	char *p =
	    event_fill_ext(ev, init, (char *) (ev + 1), take_free, cause);
	ev->topic     = p;
	ev->topic_len = (uint32_t) topic_len;
	p             = event_put(p, init->topic, topic_len + 1);
	if (init->key_len) {
		ev->ext->key = p;
	}
	ev->key_len     = (uint32_t) init->key_len;
	p               = event_put(p, init->key, init->key_len);
	ev->payload_len = init->payload_len;
	if (take_free != NULL) {
		ev->payload = init->payload;
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
	size_t topic_len = strlen(init->topic);
	size_t prefix    = event_prefix(
	       init, topic_len, event_has_ext(init, take_free, held));
	weir__evpool_blk b   = take_free != NULL
	      ? weir__evpool_alloc(prefix)
	      : event_alloc_blk(event_round(prefix), init->payload_len);
	weir_event      *ev  = b.p;
	int              cls = b.cls;
	if (ev == NULL) {
		weir_event_release(held);
		return WEIR_ENOMEM;
	}
	ev->flags    = 0;
	ev->pool_cls = (int16_t) cls;
	atomic_init(&ev->refs, 1);
	ev->ts = init->ts ? init->ts : weir__now_ns();
	if (init->id != NULL) {
		memcpy(ev->id, init->id, 16);
	} else {
		weir__uuid_v7_at(ev->id, ev->ts);
	}
	event_fill(ev, init, topic_len, take_free, held);
	*out = ev;
	return WEIR_OK;
}

// Fills a plain event in the block @p ev of class @p cls, stamped @p ts,
// its count at @p refs; the caller sets the id.
static void
event_plain_fill(weir_event *ev, int cls, const char *topic, size_t topic_len,
    const void *data, size_t len, int64_t ts, unsigned refs)
{
	// Field by field: a struct literal compiled to `rep stos`, whose
	// start-up cost showed on every publish.
	char *p = (char *) (ev + 1);
	atomic_init(&ev->refs, refs);
	ev->flags       = 0;
	ev->pool_cls    = (int16_t) cls;
	ev->topic_len   = (uint32_t) topic_len;
	ev->key_len     = 0;
	ev->payload_len = len;
	ev->topic       = p;
	ev->payload     = NULL;
	ev->ts          = ts;
	ev->ext         = NULL;
	event_copy_small(p, topic, topic_len + 1);
	if (len) {
		char *dst   = event_align(p + topic_len + 1);
		ev->payload = dst;
		event_copy_small(dst, data, len);
	}
}

weir_event *
weir__event_make_plain(
    const char *topic, size_t topic_len, const void *data, size_t len)
{
	weir__evpool_blk b = event_alloc_blk(
	    event_round(sizeof(weir_event) + topic_len + 1), len);
	weir_event *ev = b.p;
	if (ev != NULL) {
		event_plain_fill(
		    ev, b.cls, topic, topic_len, data, len, weir__now_ns(), 1);
		weir__uuid_v7_at(ev->id, ev->ts);
	}
	return ev;
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
	rv = weir__event_make(out, &in, NULL, NULL);
	if (rv == WEIR_OK) {
		(*out)->flags |= EVENT_CHECKED; // not shared yet
	}
	return rv;
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
	const weir__event_ext *x    = src->ext;
	weir_event_init        init = {
		       .size         = sizeof(weir_event_init),
		       .topic        = src->topic,
		       .key          = weir__event_key(src),
		       .key_len      = src->key_len,
		       .payload      = src->payload,
		       .payload_len  = src->payload_len,
		       .headers      = x ? x->headers : NULL,
		       .header_count = x ? x->header_count : 0,
		       .id           = src->id,
		       .ts           = src->ts,
		       .seq          = x ? x->seq : 0,
	};
	weir_event *ev = NULL;
	weir__event_make(&ev, &init, NULL, x ? x->cause : NULL);
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
	const weir__event_ext *x = ev->ext;
	if (x != NULL) {
		if (x->payload_free != NULL) {
			x->payload_free((void *) ev->payload);
		}
		weir_event_release(x->cause);
	}
	if (ev->flags & EVENT_BLOCK) {
		weir__evblock_release(ev, 1);
	} else {
		weir__evpool_free(ev, ev->pool_cls);
	}
}

// Blocks a run release gives back to the pool at once.
#define EVENT_RELEASE_RUN 32

// The dead events of a run that came from one batch block (evblock.c),
// given back to the block together.
typedef struct event_dead_block {
	const weir_event *first; // of the block's dead events, NULL: none
	unsigned          n;
} event_dead_block;

static void
event_dead_block_add(event_dead_block *db, const weir_event *ev)
{
	// A batch block's events share its topic string: the same pointer
	// is the same block.
	if (db->first != NULL && db->first->topic != ev->topic) {
		weir__evblock_release(db->first, db->n);
		db->first = NULL;
	}
	if (db->first == NULL) {
		db->first = ev;
		db->n     = 0;
	}
	db->n++;
}

void
weir__event_release_n(weir_event *const *evs, size_t n)
{
	void            *dead[EVENT_RELEASE_RUN];
	int              cls[EVENT_RELEASE_RUN];
	size_t           m  = 0;
	event_dead_block db = { NULL, 0 };
	for (size_t i = 0; i < n; i++) {
		weir_event *ev = evs[i];
		// A plain event nobody else holds goes back to its block or
		// the pool with the run; the rest take the general path.
		// A batch block's event never has an extension: tested first.
		int one =
		    atomic_load_explicit(&ev->refs, memory_order_acquire) == 1;
		if (one && (ev->flags & EVENT_BLOCK)) {
			event_dead_block_add(&db, ev);
		} else if (!one || ev->ext != NULL) {
			weir_event_release(ev);
		} else {
			dead[m]  = ev;
			cls[m++] = ev->pool_cls;
		}
		if (m == EVENT_RELEASE_RUN || (i + 1 == n && m > 0)) {
			weir__evpool_free_n(dead, cls, m);
			m = 0;
		}
	}
	if (db.first != NULL) {
		weir__evblock_release(db.first, db.n);
	}
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
	return weir__event_key(ev);
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
	return ev->ext ? ev->ext->seq : 0;
}

size_t
weir_event_header_count(const weir_event *ev)
{
	return ev->ext ? ev->ext->header_count : 0;
}

weir_err
weir_event_header(const weir_event *ev, size_t i, const char **name,
    const void **value, size_t *len)
{
	if (ev == NULL || i >= weir_event_header_count(ev)) {
		return WEIR_ENOENT;
	}
	const weir_header *h = &ev->ext->headers[i];
	if (name != NULL) {
		*name = h->name;
	}
	if (value != NULL) {
		*value = h->value;
	}
	if (len != NULL) {
		*len = h->len;
	}
	return WEIR_OK;
}

const void *
weir_event_header_get(const weir_event *ev, const char *name, size_t *len)
{
	size_t n =
	    ev != NULL && name != NULL ? weir_event_header_count(ev) : 0;
	for (size_t i = 0; i < n; i++) {
		const weir_header *h = &ev->ext->headers[i];
		if (strcmp(h->name, name) == 0) {
			if (len != NULL) {
				*len = h->len;
			}
			return h->value;
		}
	}
	return NULL;
}

const weir_event *
weir_event_cause(const weir_event *ev)
{
	return ev->ext ? ev->ext->cause : NULL;
}
