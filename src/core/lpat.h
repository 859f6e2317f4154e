// Per-pattern listener records: the order in which patterns got their
// first listener (eventNames), how many listeners each has, and the
// one-time leak warning past the bus's limit (setMaxListeners).
#ifndef WEIR_CORE_LPAT_H
#define WEIR_CORE_LPAT_H

#include <stddef.h>

#include <weir/weir.h>

typedef struct weir__lpat {
	struct weir__lpat *prev; // the bus's list, oldest first
	struct weir__lpat *next;
	size_t             count;  // listeners registered with the pattern
	int                warned; // the leak warning was given
	size_t             len;
	char               pattern[];
} weir__lpat;

// A leak warning decided under the bus lock, given after it.
typedef struct weir__lwarn {
	size_t          count; // 0: no warning due
	size_t          max;
	weir_warning_fn fn;
	void           *arg;
} weir__lwarn;

// Counts a listener in for @p pattern (caller holds bus->lock, and the
// listener is not in the tree yet): the pattern's record, made if it
// has none. NULL when out of memory.
weir__lpat *weir__lpat_join(weir_bus *bus, const char *pattern);
// Counts a listener of @p p out (bus->lock); frees the record with the
// pattern's last listener.
void weir__lpat_leave(weir_bus *bus, weir__lpat *p);
// After a join (bus->lock): fills @p w when the warning is due now.
void weir__lpat_check(weir_bus *bus, weir__lpat *p, weir__lwarn *w);
// Gives a warning that check filled in, with no lock held.
void weir__lpat_warn(weir_bus *bus, const char *pattern, const weir__lwarn *w);

#endif
