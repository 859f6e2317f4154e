// The inbox: the ids of events trimmed from the log, for the inbound
// bridge's de-duplication beyond what the log holds. Not public
// API: WEIR_API only exports these from a shared libweir_store for
// weir::bridge, as core/alloc.h does for the store.
#ifndef WEIR_STORE_INBOX_H
#define WEIR_STORE_INBOX_H

#include <stdint.h>

#include <weir/store.h>

// Called once an inbox append is committed or has failed, on the
// writer thread (the rules of weir_store_append_fn apply). @p dup is 1
// when the id was in the log already (its event still there) or in the
// inbox (its event trimmed): nothing new was appended, and @p seq is the
// event's seq if it is in the log, else 0.
typedef void (*weir__store_inbox_fn)(
    weir_store *st, weir_err err, uint64_t seq, int dup, void *arg);

// Queues @p ev for appending unless its id is in the log or the inbox
// (group commit, like WEIR_STORE_APPEND_NOWAIT); no inbox row is written
// (a trim records the ids it removes: docs/store.md, "The inbox"). WEIR_OK:
// @p done is called exactly once. Errors at once as weir_store_append's
// (WEIR_ETOOBIG, WEIR_EBADTOPIC, WEIR_ECLOSED, WEIR_ENOMEM, WEIR_EINVAL);
// then @p done is not called. Blocks while the writer's queue is full.
WEIR_API weir_err weir__store_inbox_append(weir_store *st,
    const weir_event *ev, weir__store_inbox_fn done, void *arg);

// Deletes the inbox rows first seen (recorded) before @p before_ns (0: no age
// limit), in the order they were seen: up to the first row seen at or
// after it (a row whose clock stepped back stays while a newer row
// before it does); then all but the @p keep newest rows (0: no count
// limit). Waits for the commit. @p pruned (may be NULL) receives how
// many went.
WEIR_API weir_err weir__store_inbox_prune(
    weir_store *st, int64_t before_ns, uint64_t keep, uint64_t *pruned);

// Counts the inbox rows (tests and stats); waits for the writer.
WEIR_API weir_err weir__store_inbox_count(weir_store *st, uint64_t *count);

#endif
