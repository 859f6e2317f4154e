// Appends: the public entry point and its part on the writer thread.
#ifndef WEIR_STORE_APPEND_H
#define WEIR_STORE_APPEND_H

#include <stddef.h>

#include <weir/store.h>

#include "store/writer.h"

// Runs one append request inside the writer's open transaction: sets
// r->seq and r->version, or returns an error (WEIR_ECONFLICT, or a
// storage error that fails the batch).
weir_err weir__append_exec(weir_store *st, weir__req *r);
// Plain appends that follow each other in a batch go into the log by
// multi-row INSERTs of 32, 16, 8, 4 or 2 rows (WEIR__APPEND_SIZES
// statements, the largest first): SQLite then keeps its cursors on the
// tables' last pages from row to row instead of descending every B-tree
// again for every row.
#define WEIR__APPEND_ROWS 32
#define WEIR__APPEND_SIZES 5

// Runs the plain appends from @p r (up to WEIR__APPEND_ROWS, at least 2)
// in one INSERT: returns how many it appended (their seq set, rv left
// WEIR_OK), or 0. When 0, *single says how many requests to run one by
// one with weir__append_exec() before trying again (1, or all of them
// after an id was refused), and r->rv holds a storage error that fails
// the batch, if one happened.
size_t weir__append_rows(weir_store *st, weir__req *r, size_t *single);
// Checks that @p ev may enter the log (appends and dead letters): a
// valid topic, within weir's limits (so that it reads back), and at most
// the store's max_event bytes; sets *hsize to its encoded headers' size.
// WEIR_EBADTOPIC, WEIR_EINVAL or WEIR_ETOOBIG, with errmsg set.
weir_err weir__append_check_event(
    weir_store *st, const weir_event *ev, size_t *hsize);

#endif
