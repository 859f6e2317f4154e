// Design notes. Events sit in a ring addressed by absolute position
// (pos % cap). A hash table maps a key to the position holding its
// event; slots hold pos + 1, 0 for empty and CO_TOMB for deleted, and
// the table (at least twice the ring) is rebuilt when tombstones pile
// up. Events without a key are never coalesced. Everything is under one
// mutex: coalescing needs a lookup, and coalesced queues are chosen for
// storms of updates, where the lock is cheap next to the work saved.
#include <string.h>

#include "core/alloc.h"
#include "core/coalesce.h"
#include "core/event.h"
#include "core/hash.h"

#define CO_TOMB UINT64_MAX

struct weir__coalesce {
	pthread_mutex_t mx;
	weir_event    **ring;
	size_t          cap;
	uint64_t        head; // oldest position
	uint64_t        tail; // next free position
	uint64_t       *slots;
	size_t          mcap;  // power of two, >= 2 * cap
	size_t          mused; // live slots plus tombstones
};

static uint64_t
co_hash(const void *key, size_t n)
{
	return weir__hash_bytes(key, n);
}

weir_err
weir__coalesce_create(weir__coalesce **out, size_t cap)
{
	weir__coalesce *co = weir__zalloc(sizeof(*co));
	if (co == NULL) {
		return WEIR_ENOMEM;
	}
	co->cap  = cap;
	co->mcap = 4;
	while (co->mcap < cap * 2) {
		co->mcap *= 2;
	}
	co->ring  = weir__zalloc(cap * sizeof(*co->ring));
	co->slots = weir__zalloc(co->mcap * sizeof(*co->slots));
	if (co->ring == NULL || co->slots == NULL) {
		weir__free(co->ring);
		weir__free(co->slots);
		weir__free(co);
		return WEIR_ENOMEM;
	}
	pthread_mutex_init(&co->mx, NULL);
	*out = co;
	return WEIR_OK;
}

void
weir__coalesce_destroy(weir__coalesce *co)
{
	if (co == NULL) {
		return;
	}
	for (uint64_t p = co->head; p != co->tail; p++) {
		weir_event_release(co->ring[p % co->cap]);
	}
	pthread_mutex_destroy(&co->mx);
	weir__free(co->ring);
	weir__free(co->slots);
	weir__free(co);
}

static weir_event *
co_at(const weir__coalesce *co, uint64_t pos)
{
	return co->ring[pos % co->cap];
}

// Finds the slot of @p key; returns its index or SIZE_MAX.
static size_t
co_find(const weir__coalesce *co, const void *key, size_t n)
{
	size_t mask = co->mcap - 1;
	for (size_t i = co_hash(key, n) & mask;; i = (i + 1) & mask) {
		uint64_t s = co->slots[i];
		if (s == 0) {
			return SIZE_MAX;
		}
		if (s == CO_TOMB) {
			continue;
		}
		const weir_event *ev = co_at(co, s - 1);
		if (ev->key_len == n &&
		    memcmp(weir__event_key(ev), key, n) == 0) {
			return i;
		}
	}
}

static void
co_insert(weir__coalesce *co, const weir_event *ev, uint64_t pos)
{
	size_t mask = co->mcap - 1;
	size_t i    = co_hash(weir__event_key(ev), ev->key_len) & mask;
	while (co->slots[i] != 0 && co->slots[i] != CO_TOMB) {
		i = (i + 1) & mask;
	}
	if (co->slots[i] == 0) {
		co->mused++;
	}
	co->slots[i] = pos + 1;
}

static void
co_rebuild(weir__coalesce *co)
{
	memset(co->slots, 0, co->mcap * sizeof(*co->slots));
	co->mused = 0;
	for (uint64_t p = co->head; p != co->tail; p++) {
		const weir_event *ev = co_at(co, p);
		if (ev->key_len) {
			co_insert(co, ev, p);
		}
	}
}

static void
co_forget(weir__coalesce *co, const weir_event *ev)
{
	if (ev->key_len) {
		size_t i = co_find(co, weir__event_key(ev), ev->key_len);
		if (i != SIZE_MAX) {
			co->slots[i] = CO_TOMB;
		}
	}
}

static weir_event *
co_pop_locked(weir__coalesce *co)
{
	if (co->head == co->tail) {
		return NULL;
	}
	weir_event *ev = co_at(co, co->head);
	co_forget(co, ev);
	co->head++;
	return ev;
}

static weir__co_result
co_append_locked(weir__coalesce *co, weir_event *ev, weir_event **old)
{
	weir__co_result res = CO_APPENDED;
	if (co->tail - co->head == co->cap) {
		*old = co_pop_locked(co);
		res  = CO_EVICTED;
	}
	co->ring[co->tail % co->cap] = ev;
	if (ev->key_len) {
		if ((co->mused + 1) * 4 > co->mcap * 3) {
			co_rebuild(co);
		}
		co_insert(co, ev, co->tail);
	}
	co->tail++;
	return res;
}

weir__co_result
weir__coalesce_put(weir__coalesce *co, weir_event *ev, weir_event **old,
    atomic_size_t *depth, size_t *after)
{
	pthread_mutex_lock(&co->mx);
	size_t i = ev->key_len ? co_find(co, weir__event_key(ev), ev->key_len)
	                       : SIZE_MAX;
	weir__co_result res;
	if (i != SIZE_MAX) {
		uint64_t pos            = co->slots[i] - 1;
		*old                    = co->ring[pos % co->cap];
		co->ring[pos % co->cap] = ev;
		res                     = CO_REPLACED;
	} else {
		res = co_append_locked(co, ev, old);
	}
	*after = (size_t) (co->tail - co->head);
	atomic_store(depth, *after);
	pthread_mutex_unlock(&co->mx);
	return res;
}

weir_event *
weir__coalesce_take(weir__coalesce *co, atomic_size_t *depth, size_t *after)
{
	pthread_mutex_lock(&co->mx);
	weir_event *ev = co_pop_locked(co);
	*after         = (size_t) (co->tail - co->head);
	atomic_store(depth, *after);
	pthread_mutex_unlock(&co->mx);
	return ev;
}
