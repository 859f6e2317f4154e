// The event: immutable once shared, reference counted, one allocation.
#ifndef WEIR_CORE_EVENT_H
#define WEIR_CORE_EVENT_H

#include <stdatomic.h>
#include <stdint.h>

#include <weir/weir.h>

enum {
	EVENT_STACK = 1, // lives for one synchronous emit; hold() copies
	EVENT_LAZY  = 2, // id and ts are made when first read
	EVENT_BLOCK = 4, // one of a batch's block (evblock.c), not pooled
	// weir_event_new checked its topic and limits: the store need not
	// check them again (store/append.c). Other constructors leave it
	// clear, so an event they make is checked at the store's door.
	EVENT_CHECKED = 8,
};

// What few events carry (a key, headers, a cause, a taken payload, a
// store sequence number): kept out of the event's struct so that a plain
// event does not pay for it, in the same block right after the struct.
typedef struct weir__event_ext {
	const weir_event *cause;        // held; error and dead events
	weir_free_fn      payload_free; // payload taken from the caller
	const void       *key;
	weir_header      *headers;
	uint64_t          seq;
	uint32_t          header_count; // at most WEIR_MAX_HEADERS
} weir__event_ext;

// Field order matters: what a loop reads to dispatch and release an
// event (count, payload, ts, ext) is the first cache line. The struct is
// 72 bytes, so a 64-byte payload after a topic of up to 7 bytes fills a
// 152-byte block (evpool.c's smallest class): docs/benchmarks.md counts
// what a queued event costs. Every line an event spans crosses between
// the publisher's core and the loop's.
struct weir_event {
	atomic_uint      refs;
	uint16_t         flags;
	int16_t          pool_cls; // size class of the block, see evpool.h
	uint32_t         topic_len;
	uint32_t         key_len; // at most WEIR_MAX_KEY; the key is in ext
	size_t           payload_len;
	const char      *topic;
	const void      *payload;
	int64_t          ts;  // read by dispatch (latency)
	weir__event_ext *ext; // NULL: no key, headers, cause, seq, free
	uint8_t          id[16];
};

// 1 when @p ev was made by weir_event_new, which refused a bad topic
// and anything past weir's limits (EVENT_CHECKED).
static inline int
weir__event_checked(const weir_event *ev)
{
	return (ev->flags & EVENT_CHECKED) != 0;
}

// Builds an event; when @p take_free is set the payload pointer is
// adopted (freed by take_free when the event dies) instead of copied.
weir_err weir__event_make(weir_event **out, const weir_event_init *init,
    weir_free_fn take_free, const weir_event *cause);

// The common case of publish: a topic (already valid) and a payload
// copied, nothing else.
// Returns the event (its count at 1), NULL when out of memory. No out
// parameter: a local whose address is taken costs the caller a stack
// guard on every publish.
weir_event *weir__event_make_plain(
    const char *topic, size_t topic_len, const void *data, size_t len);

// Releases a run of queued (heap) events, as weir_event_release on each.
void weir__event_release_n(weir_event *const *evs, size_t n);

// Fills a stack event for a synchronous emit (nothing is copied). Inline
// and field by field: it runs on every emit, where a memset of the
// whole struct was a measurable part of the cost.
static inline void
weir__event_on_stack(weir_event *ev, const char *topic, size_t topic_len,
    const void *data, size_t len)
{
	ev->flags       = EVENT_STACK | EVENT_LAZY;
	ev->pool_cls    = -1;
	ev->topic       = topic;
	ev->topic_len   = (uint32_t) topic_len;
	ev->key_len     = 0;
	ev->payload     = len ? data : NULL;
	ev->payload_len = len;
	ev->ext         = NULL;
}

// The event's key (NULL when it has none).
static inline const void *
weir__event_key(const weir_event *ev)
{
	return ev->key_len ? ev->ext->key : NULL;
}

// Makes an event filled by weir__event_on_stack() ready for another
// emit on the same thread: only what differs per emit, and the laziness
// of id and ts (the one thing a reader writes). Everything else was set
// once and no reader changes it (they get a const pointer). A topic
// handle and a thread's string cache keep such an event, so that the
// hot path of emit takes no address in its own frame.
// Its two halves are apart because emit by string writes the payload
// before its strlen, so that data and len need no register across that
// call.
static inline void
weir__event_payload_reuse(weir_event *ev, const void *data, size_t len)
{
	ev->payload     = len ? data : NULL;
	ev->payload_len = len;
}

static inline void
weir__event_topic_reuse(weir_event *ev, const char *topic, size_t topic_len)
{
	ev->flags     = EVENT_STACK | EVENT_LAZY;
	ev->topic     = topic;
	ev->topic_len = (uint32_t) topic_len;
}

static inline void
weir__event_stack_reuse(weir_event *ev, const char *topic, size_t topic_len,
    const void *data, size_t len)
{
	weir__event_topic_reuse(ev, topic, topic_len);
	weir__event_payload_reuse(ev, data, len);
}

#endif
