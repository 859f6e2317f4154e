/*
 * The handoff between a route's intake and its relay (docs/bridge.md,
 * "Relay"). The intake puts an event here only after the store has
 * committed it, so taking it from here keeps the outbox rule (durable
 * before sent); whatever is not here (a full handoff, a restart,
 * events of other writers) the relay reads from the store, which stays
 * the source of truth. The ring grows by doubling up to what the byte
 * budget allows, so an idle route holds no memory beyond its last size.
 */
#include <string.h>

#include "bridge/handoff.h"
#include "core/alloc.h"

#define HANDOFF_MIN_CAP 64

void
weir__handoff_init(weir__handoff *h, uint64_t max_bytes)
{
	memset(h, 0, sizeof *h);
	h->max_bytes = max_bytes;
}

void
weir__handoff_clear(weir__handoff *h)
{
	for (size_t i = 0; i < h->count; i++)
		weir_event_release(h->ents[(h->head + i) % h->cap].ev);
	weir__free(h->ents);
	h->ents = NULL;
	h->head = h->count = h->cap = 0;
	h->bytes                    = 0;
}

/* What holding @p ev costs, roughly: the event, its topic, key,
 * payload and headers, and an allocator's overhead. */
static size_t
handoff_size(const weir_event *ev)
{
	size_t key, payload, total = 128 + strlen(weir_event_topic(ev));
	weir_event_key(ev, &key);
	weir_event_payload(ev, &payload);
	total += key + payload;
	for (size_t i = 0, n = weir_event_header_count(ev); i < n; i++) {
		/* cannot fail for i < n; were it to, this header counts 32 */
		const char *name  = "";
		const void *value = NULL;
		size_t      len   = 0;
		(void) weir_event_header(ev, i, &name, &value, &len);
		total += 32 + strlen(name) + len;
	}
	return total;
}

/* Doubles the ring, keeping the order; 0 on no memory. */
static int
handoff_grow(weir__handoff *h)
{
	size_t        cap  = h->cap ? 2 * h->cap : HANDOFF_MIN_CAP;
	weir__handed *ents = weir__alloc(cap * sizeof *ents);
	if (ents == NULL)
		return 0;
	for (size_t i = 0; i < h->count; i++)
		ents[i] = h->ents[(h->head + i) % h->cap];
	weir__free(h->ents);
	h->ents = ents;
	h->cap  = cap;
	h->head = 0;
	return 1;
}

int
weir__handoff_put(weir__handoff *h, const weir_event *ev, uint64_t seq)
{
	if (h->max_bytes == 0 || (h->count > 0 && seq <= h->last_seq))
		return 0;
	size_t bytes = handoff_size(ev);
	if (h->bytes + bytes > h->max_bytes)
		return 0;
	if (h->count == h->cap && !handoff_grow(h))
		return 0;
	weir__handed *e = &h->ents[(h->head + h->count++) % h->cap];
	e->ev           = weir_event_hold(ev);
	e->seq          = seq;
	e->bytes        = bytes;
	h->bytes += bytes;
	h->last_seq = seq;
	return 1;
}

/* Removes the head entry; its reference goes to the caller. */
static weir__handed
handoff_pop(weir__handoff *h)
{
	weir__handed e = h->ents[h->head];
	h->head        = (h->head + 1) % h->cap;
	h->count--;
	h->bytes -= e.bytes;
	return e;
}

size_t
weir__handoff_take(
    weir__handoff *h, uint64_t from_seq, weir__handed *out, size_t max)
{
	size_t n = 0;
	while (h->count > 0 && h->ents[h->head].seq < from_seq)
		weir_event_release(handoff_pop(h).ev);
	while (n < max && h->count > 0 && h->ents[h->head].seq == from_seq + n)
		out[n++] = handoff_pop(h);
	return n;
}
