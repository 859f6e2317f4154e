// Appends: the public entry point and its part on the writer thread.
#ifndef WEIR_STORE_APPEND_H
#define WEIR_STORE_APPEND_H

#include <stddef.h>

#include <weir/store.h>

#include "store/bind.h"
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
// The same for runs of inbox appends (inbox_rows.c): one lookup of their
// ids in the inbox (when it has rows), then their events by one
// multi-row INSERT.
size_t weir__append_inbox_rows(weir_store *st, weir__req *r, size_t *single);
// The index into ins_rows (and inbox_any) of the largest multi-row
// statement not longer than a run of @p n, or -1 when n < 2.
int weir__append_run_size(size_t n);
// How many requests from @p r (never NULL: the writer's current one)
// on are of one run (@p in_run true for each), at most
// WEIR__APPEND_ROWS.
size_t weir__append_run_len(
    const weir__req *r, int (*in_run)(const weir__req *r));
// Binds the WEIR__APPEND_ROWS >> @p size events from @p r into the
// multi-row INSERT of that size and steps it: SQLITE_DONE, their seq
// set and their ts noted, or the failure, nothing of the run left in
// the log (SQLITE_CONSTRAINT also when a row was skipped: an id already
// logged, or one id twice). *bound is 0 when a bind failed (the step
// did not run).
int weir__append_rows_insert(
    weir_store *st, weir__req *r, int size, int *bound);
// Binds the first WEIR__APPEND_COLS columns of an events row (seq, id,
// ts, topic, key, headers, payload), from parameter @p base + 1 on. The
// multi-row INSERTs name no more columns: their events have no stream,
// so stream and version take their default, NULL, without a bind.
#define WEIR__APPEND_COLS 7
void weir__append_bind_row(
    weir__bind *b, const weir__req *r, int base, uint64_t seq);
// The inbox's state on the writer (writer.h: inbox_rows,
// inbound_marked; inbox_rows.c): read at start, made cautious again by
// a rolled-back batch.
void weir__inbox_load(weir_store *st);
// Reads the inbox's largest id and whether it has rows into the writer
// (on @p db, the writer's, on its thread); WEIR_OK, or the storage
// error, the writer then cautious (every id looked up).
weir_err weir__inbox_bound(weir_store *st, sqlite3 *db);
void     weir__inbox_rolled_back(weir__writer *w);
// The inbox part of one inbox append (the store marked, its id looked
// up in the inbox when that has rows): *seen is 1 when the id is there.
// WEIR_OK or a storage error.
weir_err weir__append_inbox_seen(weir_store *st, weir__req *r, int *seen);
// cursor.c's trim, on the writer (inbox.c): records the ids of
// the events a trim is about to delete (seq < @p before_seq and ts <
// @p before_ts) in the inbox, first seen now, in seq order, when the
// store takes inbox appends (meta 'inbound') or its inbox has rows.
weir_err weir__inbox_record_trim(
    weir_store *st, sqlite3 *db, int64_t before_seq, int64_t before_ts);

// Checks that @p ev may enter the log (appends and dead letters): a
// valid topic, within weir's limits (so that it reads back), and at most
// the store's max_event bytes (topic and limits unless weir_event_new
// checked them already: core/event.h, EVENT_CHECKED); sets *hsize to its
// encoded headers' size.
// WEIR_EBADTOPIC, WEIR_EINVAL or WEIR_ETOOBIG, with errmsg set.
weir_err weir__append_check_event(
    weir_store *st, const weir_event *ev, size_t *hsize);

#endif
