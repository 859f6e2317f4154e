// The interned-topic cache of emit and publish by string, and the epoch
// reclamation that lets it run without a lock or a reference count.
#ifndef WEIR_CORE_SCACHE_H
#define WEIR_CORE_SCACHE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <weir/weir.h>

#include "core/alloc.h"
#include "core/bus.h"
#include "core/event.h"
#include "core/listener.h"

// Per entry: listeners and subscriptions a cached topic may have, and
// the longest cached topic (bytes, without the NUL). Larger cases take
// the locked path, as before the cache.
#define WEIR__SCACHE_CALLS 4
#define WEIR__SCACHE_SUBS 4
#define WEIR__SCACHE_TOPIC 56
// Entries per thread (a power of two): the cap on the cache's memory.
#define WEIR__SCACHE_SLOTS 64
// An entry's count meaning "not cacheable: take the locked path".
#define WEIR__SCACHE_NONE 0xff

typedef struct weir__scache_entry {
	// bus->gen the entry was filled at; 0 while the entry is unusable.
	// No two buses ever have the same generation, so it also names the
	// bus: a new bus at a destroyed one's address misses.
	uint64_t     gen;
	uint64_t     hash;
	uint32_t     len;
	uint8_t      nl; // listeners, or WEIR__SCACHE_NONE
	uint8_t      ns; // subscriptions, or WEIR__SCACHE_NONE
	weir__lcall  calls[WEIR__SCACHE_CALLS];
	weir_subscr *subs[WEIR__SCACHE_SUBS];
	char         topic[WEIR__SCACHE_TOPIC];
} weir__scache_entry;

// A thread's record: its open section, read by removers (records are
// never freed, and reused by new threads).
typedef struct weir__scache_rec {
	_Alignas(64) atomic_uint_least64_t epoch; // 0: outside a section
	_Atomic(weir_bus *)      bus;             // NULL: any bus
	atomic_int               used;            // owned by a live thread
	struct weir__scache_rec *next;            // never unlinked
} weir__scache_rec;

// A thread's cache (libc's allocator: it lives as long as the thread).
typedef struct weir__scache_tls {
	weir__scache_rec  *rec;
	unsigned           depth;
	weir__scache_entry e[WEIR__SCACHE_SLOTS];
	// The entry last found for a topic pointer (slot by address): a
	// string constant is found without hashing. Never NULL (an empty
	// entry, gen 0, at first): the hot path tests no pointer.
	weir__scache_entry *byptr[WEIR__SCACHE_SLOTS];
	// The event of this thread's outermost emit by string (emit.c):
	// filled once, and per emit only what changes, in no frame of the
	// caller's.
	weir_event ev;
} weir__scache_tls;

// The fast path below is inline in emit.c and publish.c: without
// link-time optimisation a call into scache.c cost a register save and
// restore per emit.
// The globals are hidden: in a shared library a default-visibility
// global is reached through the GOT, a load more per use.
#if defined(__GNUC__)
#define WEIR__SCACHE_TLS_MODEL __attribute__((tls_model("initial-exec")))
#define WEIR__SCACHE_HIDDEN __attribute__((visibility("hidden")))
#else
#define WEIR__SCACHE_TLS_MODEL
#define WEIR__SCACHE_HIDDEN
#endif
extern _Thread_local weir__scache_tls *weir__scache_me WEIR__SCACHE_TLS_MODEL
    WEIR__SCACHE_HIDDEN;
// What every cached call reads besides its own thread's data, alone on
// a cache line: next to a global another module writes often (the event
// pool's depot mutex was the neighbour) each emit and publish by string
// took a cache miss whenever another thread had just written it.
typedef struct weir__scache_shared {
	_Alignas(64) atomic_uint_least64_t epoch;
	atomic_size_t limbo_n; // items parked in limbo
	int           asym;    // the heavy fence works: plain announce
} weir__scache_shared;
extern weir__scache_shared weir__scache_sh WEIR__SCACHE_HIDDEN;

// Slow parts (scache.c): the thread's first call, a miss by pointer
// (hash lookup, then a fill; NULL, the section still entered, when the
// topic cannot be cached), and freeing what removals left behind.
weir__scache_tls   *weir__scache_tls_make(void);
weir__scache_entry *weir__scache_enter_slow(weir__scache_tls *me,
    weir__scache_entry **pp, weir_bus *bus, const char *topic, uint64_t gen);
void                weir__scache_reclaim(void);

// Enters this thread's read section for @p bus and returns the current
// entry for @p topic (filled under the bus lock on a miss or after a
// registry change), or NULL when the topic cannot be cached (invalid,
// too long, out of memory), and then the section was not entered. The
// pointers in the entry stay valid until weir__scache_leave().
// Leaves the read section; the outermost leave frees what removals left
// for it, on this thread.

// The tree's reference of a removed listener or subscription (bus lock
// NOT held, after the removal bumped bus->gen): released at once when no
// read section that may still see it is open, else when the last such
// section is left.
void weir__scache_retire(weir_bus *bus, void (*release)(void *), void *item);

// A registry generation no bus has had (never 0): a new bus's first,
// and each registry change's (weir__bus_changed).
uint64_t weir__scache_gen_next(void);

// For tests: removed items still waiting for a section to end, and the
// bytes this thread's cache takes (0 before its first cached call).
size_t weir__scache_limbo_count(void);
size_t weir__scache_footprint(void);

// Announces this thread (see the design notes) before bus->gen is read.
static inline void
weir__scache_announce(weir__scache_tls *me, weir_bus *bus)
{
	if (me->depth++ == 0) {
		// me->rec never changes: read once (after the acquire below
		// the compiler would read it again).
		weir__scache_rec *rec = me->rec;
		atomic_store_explicit(&rec->bus, bus, memory_order_relaxed);
		uint64_t e = atomic_load_explicit(
		    &weir__scache_sh.epoch, memory_order_acquire);
		if (WEIR_ALWAYS(weir__scache_sh.asym)) {
			// The remover's heavy fence orders this store before
			// our load of bus->gen (scache_fence.h).
			atomic_store_explicit(
			    &rec->epoch, e, memory_order_relaxed);
			atomic_signal_fence(memory_order_seq_cst);
		} else {
			atomic_store(&rec->epoch, e);
		}
	} else {
		// Only this thread writes its record's bus: a relaxed load
		// reads what it stored (no copy in @p me to keep in step).
		weir_bus *cur =
		    atomic_load_explicit(&me->rec->bus, memory_order_relaxed);
		if (cur != bus && cur != NULL) {
			atomic_store(&me->rec->bus, NULL);
		}
	}
}

static inline size_t
weir__scache_ptr_slot(const char *topic)
{
	uint64_t a = (uint64_t) (uintptr_t) topic * 0x9e3779b97f4a7c15ull;
	return (size_t) (a >> 58) & (WEIR__SCACHE_SLOTS - 1);
}

// Are the @p n bytes at @p a (an entry's topic buffer, n < its size)
// and @p b (the caller's string, n = its strlen) equal? The first and
// last words, overlapping, in one test, then any middle ones: a topic is
// short, and a call to memcmp, or a loop for 9-16 bytes, cost as much as
// the rest of the check. Below 8 bytes, two 4-byte or three 1-byte loads
// the same way: never a byte past either end.
static inline int
weir__scache_eq(const char *a, const char *b, size_t n)
{
	uint64_t x, y, u, v;
	if (WEIR_ALWAYS(n >= 8)) {
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		memcpy(&u, a + n - 8, 8);
		memcpy(&v, b + n - 8, 8);
		if (((x ^ y) | (u ^ v)) != 0) {
			return 0;
		}
		if (WEIR_ALWAYS(n <= 16)) {
			return 1;
		}
		// The middle: words down from n - 16 (overlapping), then the
		// one at 8. Counting down from n sets nothing up before the
		// test above (a counter from 8 was one instruction more).
		for (size_t i = n - 16; i > 8; i -= 8) {
			memcpy(&x, a + i, 8);
			memcpy(&y, b + i, 8);
			if (x != y) {
				return 0;
			}
		}
		memcpy(&x, a + 8, 8);
		memcpy(&y, b + 8, 8);
		return x == y;
	}
	if (n >= 4) {
		uint32_t p, q, r, t;
		memcpy(&p, a, 4);
		memcpy(&q, b, 4);
		memcpy(&r, a + n - 4, 4);
		memcpy(&t, b + n - 4, 4);
		return ((p ^ q) | (r ^ t)) == 0;
	}
	// 0-3 bytes: positions 0, n / 2 and n - 1 cover them all.
	return n == 0 ||
	    (a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1]);
}

// weir__scache_leave() for a caller that has its thread's cache.
static inline void
weir__scache_leave_in(weir__scache_tls *me)
{
	if (--me->depth != 0) {
		return;
	}
	// Store, then load: a remover that parked an item while we were
	// inside either sees our 0 in its own scan after parking, or we see
	// its count here (its heavy fence, or seq_cst on both sides).
	if (WEIR_ALWAYS(weir__scache_sh.asym)) {
		atomic_store_explicit(
		    &me->rec->epoch, 0, memory_order_release);
		atomic_signal_fence(memory_order_seq_cst);
	} else {
		atomic_store(&me->rec->epoch, 0);
	}
	if (atomic_load(&weir__scache_sh.limbo_n)) {
		weir__scache_reclaim();
	}
}

static inline void
weir__scache_leave(void)
{
	weir__scache_leave_in(weir__scache_me);
}

// weir__scache_enter() for a thread whose cache exists (@p me), with
// the topic's length @p n (strlen: the exact compare needs it, and a
// caller that has it early keeps fewer values alive across the call).
// Unlike weir__scache_enter(), a NULL return leaves the section entered:
// the caller leaves (emit by string reads its payload back from the
// thread's event first, which the section keeps nested emits off).
static inline weir__scache_entry *
weir__scache_enter_in(
    weir__scache_tls *me, weir_bus *bus, const char *topic, size_t n)
{
	weir__scache_entry **pp = &me->byptr[weir__scache_ptr_slot(topic)];
	weir__scache_entry  *e  = *pp;
	weir__scache_announce(me, bus);
	uint64_t gen = atomic_load(&bus->gen);
	// The generation names the bus too (weir__scache_gen_next), so no
	// compare of a bus. No compare of the pointer either: the bytes
	// decide, and a slot shared by two strings only costs a miss.
	if (WEIR_ALWAYS(e->gen == gen && n == e->len &&
	        weir__scache_eq(e->topic, topic, n))) {
		return e;
	}
	return weir__scache_enter_slow(me, pp, bus, topic, gen);
}

static inline weir__scache_entry *
weir__scache_enter(weir_bus *bus, const char *topic)
{
	weir__scache_tls *me = weir__scache_me;
	if (__builtin_expect(me == NULL, 0) &&
	    (me = weir__scache_tls_make()) == NULL) {
		return NULL;
	}
	weir__scache_entry *e =
	    weir__scache_enter_in(me, bus, topic, strlen(topic));
	if (e == NULL) {
		weir__scache_leave_in(me);
	}
	return e;
}

#endif
