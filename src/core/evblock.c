// Design notes. A batch publish makes many events at once, and a loop
// usually releases them together: one allocation for a run of them
// replaces a pool block (and its trip back to the pool) per event. The
// block starts with a count of its events still alive and the topic,
// which its events share; each event follows at a 16-byte boundary, its
// payload after it at the next one (payloads are aligned as malloc's
// blocks are, whatever the allocator hook returns: the block is taken
// 15 bytes larger and its start rounded up). An event keeps its own
// reference count, so a handler may hold any one of them past the others
// (weir_event_hold); only when an event's count reaches zero does the
// block's count drop, and the block is freed with its last event. The
// event finds its block through its topic pointer, which points into the
// block header: no field is added to the event.
//
// A held event keeps its whole block: blocks stop at EVBLOCK_BYTES (an
// event larger than that has a block of its own), so that one event held
// for long pins at most that much memory.
#include <assert.h>
#include <stdatomic.h>
#include <string.h>

#include "core/alloc.h"
#include "core/evblock.h"
#include "core/event.h"
#include "core/uuid.h"

#define EVBLOCK_ALIGN 16
#define EVBLOCK_BYTES 16384

typedef struct evblock {
	atomic_uint live; // events of the block whose count is not zero
	void       *raw;  // what the allocator returned
	char        topic[];
} evblock;

static size_t
evblock_round(size_t n)
{
	return (n + EVBLOCK_ALIGN - 1) & ~(size_t) (EVBLOCK_ALIGN - 1);
}

// An event's bytes in a block: its struct and its payload, each rounded.
static size_t
evblock_slot(size_t len)
{
	return evblock_round(sizeof(weir_event)) + evblock_round(len);
}

static evblock *
evblock_of(const weir_event *ev)
{
	return (evblock *) (uintptr_t) (ev->topic - offsetof(evblock, topic));
}

// How many of bufs[0..n) (at least one) go into one block whose header
// takes @p head bytes; the block's size in @p size.
static size_t
evblock_span(size_t head, const weir_buf *bufs, size_t n, size_t *size)
{
	size_t sz = head + evblock_slot(bufs[0].len);
	size_t k  = 1;
	while (k < n && sz <= EVBLOCK_BYTES) {
		size_t more = evblock_slot(bufs[k].len);
		if (more > EVBLOCK_BYTES - sz) {
			break;
		}
		sz += more;
		k++;
	}
	*size = sz;
	return k;
}

// Fills the plain event at @p p of block @p b from @p buf; returns where
// the next event goes.
static char *
evblock_fill(const evblock *b, char *p, size_t topic_len, const weir_buf *buf,
    int64_t ts, unsigned refs)
{
	weir_event *ev = (weir_event *) p;
	char       *pl = p + evblock_round(sizeof(weir_event));
	atomic_init(&ev->refs, refs);
	ev->flags       = EVENT_BLOCK;
	ev->pool_cls    = -1;
	ev->topic_len   = (uint32_t) topic_len;
	ev->key_len     = 0;
	ev->payload_len = buf->len;
	ev->topic       = b->topic;
	ev->payload     = buf->len ? pl : NULL;
	ev->ts          = ts;
	ev->ext         = NULL;
	if (buf->len) {
		memcpy(pl, buf->data, buf->len);
	}
	return pl + evblock_round(buf->len);
}

// Allocates a block of @p size bytes for @p k events of @p topic.
static evblock *
evblock_new(size_t size, unsigned k, const char *topic, size_t topic_len)
{
	void *raw = weir__alloc(size + EVBLOCK_ALIGN - 1);
	if (raw == NULL) {
		return NULL;
	}
	evblock *b = (evblock *) evblock_round((uintptr_t) raw);
	b->raw     = raw;
	atomic_init(&b->live, k);
	memcpy(b->topic, topic, topic_len + 1);
	return b;
}

size_t
weir__evblock_make_n(weir_event **out, const char *topic, size_t topic_len,
    const weir_buf *bufs, size_t n, unsigned refs, int64_t ts)
{
	size_t head = evblock_round(offsetof(evblock, topic) + topic_len + 1);
	size_t made = 0;
	// One run of ids for the whole call: stamps reserved for events
	// that memory did not allow are skipped, which keeps the ids unique
	// and rising.
	weir__uuid_run r;
	weir__uuid_run_begin(&r, ts, n);
	while (made < n) {
		size_t   size;
		size_t   k = evblock_span(head, bufs + made, n - made, &size);
		evblock *b = evblock_new(size, (unsigned) k, topic, topic_len);
		if (b == NULL) {
			break;
		}
		char *p = (char *) b + head;
		for (size_t i = made; i < made + k; i++) {
			out[i] = (weir_event *) p;
			p = evblock_fill(b, p, topic_len, &bufs[i], ts, refs);
			weir__uuid_run_next(&r, out[i]->id);
		}
		made += k;
	}
	weir__uuid_run_end(&r);
	return made;
}

void
weir__evblock_release(const weir_event *ev, unsigned dead)
{
	evblock *b = evblock_of(ev);
	assert(dead > 0);
	// A count equal to @p dead means nobody else holds an event of
	// the block: skip the read-modify-write.
	if (atomic_load_explicit(&b->live, memory_order_acquire) == dead ||
	    atomic_fetch_sub_explicit(&b->live, dead, memory_order_acq_rel) ==
	        dead) {
		weir__free(b->raw);
	}
}
