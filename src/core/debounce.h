// Debounce: the last event of each key, delivered once the key has
// been quiet for a while. Used by one thread (the loop).
#ifndef WEIR_CORE_DEBOUNCE_H
#define WEIR_CORE_DEBOUNCE_H

#include <stddef.h>
#include <stdint.h>

#include <weir/weir.h>

typedef struct weir__debounce weir__debounce;

weir_err weir__debounce_create(weir__debounce **out, int64_t quiet_ns);
// Releases the events still held and frees.
void weir__debounce_destroy(weir__debounce *db);
// Holds @p ev (takes the caller's reference) as its key's latest, seen
// at @p now_ns. Returns 1 if it replaced (and released) an older event
// of the key, 0 if the key was new, -1 if out of memory (@p ev is then
// returned to the caller's hands untouched).
int weir__debounce_put(weir__debounce *db, weir_event *ev, int64_t now_ns);
// The event of the key quiet the longest if it has been quiet for the
// period at @p now_ns (the caller gets its reference), else NULL.
weir_event *weir__debounce_take(weir__debounce *db, int64_t now_ns);
// When the next key falls quiet (monotonic ns), or -1 if none held.
int64_t weir__debounce_next(const weir__debounce *db);

#endif
