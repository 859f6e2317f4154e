// Cursor writes that do not wait for their commit, for weir::bridge's
// relay. Not public API: WEIR_API only exports this from a shared
// libweir_store for weir::bridge, as store/inbox.h does.
#ifndef WEIR_STORE_CURSOR_H
#define WEIR_STORE_CURSOR_H

#include <stdint.h>

#include <weir/store.h>

// Called once a queued cursor write is committed or has failed, on the
// writer thread (the rules of weir_store_append_fn apply); @p seq is
// the value that was written.
typedef void (*weir__store_cursor_fn)(
    weir_store *st, weir_err err, uint64_t seq, void *arg);

// weir_store_cursor_set, queued behind what the writer holds and run in
// its next transaction (group commit), without waiting for it. WEIR_OK:
// @p done is called exactly once. Errors at once as
// weir_store_cursor_set's (WEIR_EINVAL, WEIR_ECLOSED, WEIR_ENOMEM); then
// @p done is not called. Writes queued one after another commit in
// that order. Never waits for room in the writer's queue: it goes past
// the queue's capacity, so a caller queues one write at a time.
WEIR_API weir_err weir__store_cursor_set_async(weir_store *st,
    const char *name, uint64_t seq, weir__store_cursor_fn done, void *arg);

#endif
