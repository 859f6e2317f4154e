// The interned-topic cache of emit and publish by string, and the epoch
// reclamation that lets it run without a lock or a reference count.
#ifndef WEIR_CORE_SCACHE_H
#define WEIR_CORE_SCACHE_H

#include <stddef.h>
#include <stdint.h>

#include <weir/weir.h>

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
	weir_bus    *bus;
	uint64_t     uid; // bus->uid: a new bus at the same address misses
	uint64_t     gen; // bus->gen the entry was filled at
	uint64_t     hash;
	const char  *ptr; // the caller's pointer last found (compared only)
	uint32_t     len;
	uint8_t      nl; // listeners, or WEIR__SCACHE_NONE
	uint8_t      ns; // subscriptions, or WEIR__SCACHE_NONE
	weir__lcall  calls[WEIR__SCACHE_CALLS];
	weir_subscr *subs[WEIR__SCACHE_SUBS];
	char         topic[WEIR__SCACHE_TOPIC];
} weir__scache_entry;

// Enters this thread's read section for @p bus and returns the current
// entry for @p topic (filled under the bus lock on a miss or after a
// registry change), or NULL when the topic cannot be cached (invalid,
// too long, out of memory), and then the section was not entered. The
// pointers in the entry stay valid until weir__scache_leave().
weir__scache_entry *weir__scache_enter(weir_bus *bus, const char *topic);
// Leaves the read section; the outermost leave frees what removals left
// for it, on this thread.
void weir__scache_leave(void);

// The tree's reference of a removed listener or subscription (bus lock
// NOT held, after the removal bumped bus->gen): released at once when no
// read section that may still see it is open, else when the last such
// section is left.
void weir__scache_retire(weir_bus *bus, void (*release)(void *), void *item);

// A fresh bus's uid (never 0, never reused).
uint64_t weir__scache_uid(void);

// For tests: removed items still waiting for a section to end, and the
// bytes this thread's cache takes (0 before its first cached call).
size_t weir__scache_limbo_count(void);
size_t weir__scache_footprint(void);

#endif
