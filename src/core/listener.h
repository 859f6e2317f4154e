// Listeners of the synchronous emit, and snapshots of them.
#ifndef WEIR_CORE_LISTENER_H
#define WEIR_CORE_LISTENER_H

#include <stdatomic.h>
#include <stdint.h>

#include <weir/weir.h>

typedef struct weir__listener {
	atomic_uint  refs;
	atomic_int   fired;   // once-listeners: set by the first call
	int          removed; // guarded by the bus lock
	unsigned     flags;
	uint64_t     id;
	int64_t      order;
	weir_handler fn;
	void        *arg;
	weir_free_fn arg_free;
	char        *pattern;

	// Reserved topics the pattern matches (LISTENER_META_* bits), and
	// the pattern's record (lpat.h; bus lock; NULL once removed).
	unsigned           meta;
	struct weir__lpat *pat;
} weir__listener;

// An ordered array of held listeners, taken when an emit starts.
typedef struct weir__lcall {
	weir_handler fn;
	void        *arg;
} weir__lcall;

typedef struct weir__lsnap {
	struct weir__lsnap *next;  // retired list of a topic handle
	int                 plain; // no once-listener: the fast loop applies
	size_t              n;
	weir__lcall        *calls; // fn and arg of l[i], inline for emit
	weir__listener     *l[];
} weir__lsnap;

void weir__listener_release(weir__listener *l);
// Removes @p l from the bus if still registered (any thread).
void weir__listener_unregister(weir_bus *bus, weir__listener *l);
// Snapshot of the listeners matching @p topic; caller holds bus->lock.
weir_err weir__lsnap_take(weir_bus *bus, const char *topic, weir__lsnap **out);
// The same, built in @p buf when it fits in @p bufsize bytes (an emit's
// stack); release it with weir__lsnap_drop() and the same @p buf.
weir_err weir__lsnap_take_in(weir_bus *bus, const char *topic, void *buf,
    size_t bufsize, weir__lsnap **out);
void     weir__lsnap_drop(weir__lsnap *s, void *buf);
void     weir__lsnap_free(weir__lsnap *s);
// Listeners matching @p topic; caller holds bus->lock.
size_t weir__listener_count_locked(weir_bus *bus, const char *topic);

#endif
