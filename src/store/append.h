// Appends: the public entry point and its part on the writer thread.
#ifndef WEIR_STORE_APPEND_H
#define WEIR_STORE_APPEND_H

#include <weir/store.h>

#include "store/writer.h"

// Runs one append request inside the writer's open transaction: sets
// r->seq and r->version, or returns an error (WEIR_ECONFLICT, or a
// storage error that fails the batch).
weir_err weir__append_exec(weir_store *st, weir__req *r);
// Checks that @p ev may enter the log (appends and dead letters): a
// valid topic, within weir's limits (so that it reads back), and at most
// the store's max_event bytes; sets *hsize to its encoded headers' size.
// WEIR_EBADTOPIC, WEIR_EINVAL or WEIR_ETOOBIG, with errmsg set.
weir_err weir__append_check_event(
    weir_store *st, const weir_event *ev, size_t *hsize);

#endif
