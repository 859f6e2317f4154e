// Runs of inbox appends on the writer thread. One by one, an inbox
// append costs two INSERTs (the id's inbox row, then the event), each
// descending its B-trees from the root. Runs of them go like plain
// appends (append.c): all their inbox rows in one multi-row INSERT, then
// all their events in another.
//
// The contract of append_inbox (append.c) is kept by falling back to it
// whenever the run is not the common case:
// - The inbox INSERT is OR IGNORE (it cannot abort half-way, so SQLite
//   keeps no statement journal for it): an id seen before (or one id
//   twice in the run) is skipped, the writer deletes the rows the
//   statement did write, and the run goes one by one, where each id is
//   looked at alone (dup, or new).
// - The events INSERT refused (an id already in the log, a value past
//   SQLite's limits): none of its rows is left (append.h), the run's
//   inbox rows are deleted again, so no id stays seen without its event,
//   and the run goes one by one, where a refused event un-sees its own
//   id only.
// - A storage error fails the batch, which rolls back everything.
#include <stdio.h>

#include "store/append.h"
#include "store/bind.h"
#include "store/store.h"

// Deletes the @p changes rows the run's inbox INSERT wrote after it
// skipped one: the newest rowids (the inbox numbers rows in arrival
// order), up to the last one inserted. Returns SQLITE_CONSTRAINT, as a
// refused INSERT did, or the delete's failure, never a constraint code
// then (a trigger's abort): rows left behind must fail the batch.
static int
inbox_rows_unwind(sqlite3 *db, int changes)
{
	if (changes == 0) {
		return SQLITE_CONSTRAINT;
	}
	char          sql[96];
	sqlite3_int64 last = sqlite3_last_insert_rowid(db);
	snprintf(sql, sizeof(sql),
	    "DELETE FROM inbox WHERE n BETWEEN %lld AND %lld",
	    (long long) (last - changes + 1), (long long) last);
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	if (rc == SQLITE_OK) {
		return SQLITE_CONSTRAINT;
	}
	return (rc & 0xff) == SQLITE_CONSTRAINT ? SQLITE_ERROR : rc;
}

// The run's inbox rows in one INSERT, first seen now (one clock read
// for the run): SQLITE_DONE, or the failure (a failed bind's code when
// *bound is 0; SQLITE_CONSTRAINT when an id was skipped), none of the
// run's rows left.
static int
inbox_rows_see(weir_store *st, weir__req *r, int size, int *bound)
{
	size_t        n   = (size_t) WEIR__APPEND_ROWS >> size;
	sqlite3_stmt *s   = st->writer.inbox_rows[size];
	int64_t       now = weir__store_now();
	weir__bind    b;
	weir__bind_init(&b, s);
	for (size_t i = 0; i < n; i++, r = r->next) {
		weir__bind_blob(
		    &b, (int) (2 * i + 1), weir_event_id(r->ev), 16);
		weir__bind_int64(&b, (int) (2 * i + 2), now);
	}
	*bound = b.rc == SQLITE_OK;
	int rc = *bound ? sqlite3_step(s) : b.rc;
	sqlite3_reset(s);
	if (rc == SQLITE_DONE &&
	    (size_t) sqlite3_changes(st->writer.db) != n) {
		rc = inbox_rows_unwind(
		    st->writer.db, sqlite3_changes(st->writer.db));
	}
	return rc;
}

// Takes the run's inbox rows out again after its events INSERT was
// refused: each id was new (the inbox INSERT took them all), so this
// restores the inbox as it was before the run. WEIR_OK or the hard
// error of a failed delete.
static weir_err
inbox_rows_unsee(weir_store *st, const weir__req *r, size_t n)
{
	for (size_t i = 0; i < n; i++, r = r->next) {
		weir_err rv = weir__append_inbox_unsee(st, r, WEIR_ECONFLICT);
		if (rv != WEIR_ECONFLICT) {
			return rv;
		}
	}
	return WEIR_OK;
}

// Storage trouble fails the batch (recorded in r->rv); any other
// failure, a refused row or a failed bind, sends the run one by one.
static void
inbox_rows_failed(weir_store *st, weir__req *r, int rc, int bound)
{
	if (bound && (rc & 0xff) != SQLITE_CONSTRAINT) {
		r->rv = weir__store_sqlerr(st, st->writer.db, rc, "inbox");
	}
}

// Only inbox appends set inbox (calls and plain appends are zeroed).
static int
inbox_rows_in_run(const weir__req *r)
{
	return r->inbox;
}

size_t
weir__append_inbox_rows(weir_store *st, weir__req *r, size_t *single)
{
	size_t n    = weir__append_run_len(r, inbox_rows_in_run);
	int    size = weir__append_run_size(n);
	*single     = 1;
	if (size < 0) {
		return 0; // one inbox append, or none
	}
	n       = (size_t) WEIR__APPEND_ROWS >> size;
	*single = n;
	int bound;
	int rc = inbox_rows_see(st, r, size, &bound);
	if (rc != SQLITE_DONE) {
		inbox_rows_failed(st, r, rc, bound);
		return 0;
	}
	rc = weir__append_rows_insert(st, r, size, &bound);
	if (rc == SQLITE_DONE) {
		*single = 0; // the next run may be grouped again
		return n;
	}
	inbox_rows_failed(st, r, rc, bound);
	if (r->rv == WEIR_OK) {
		r->rv = inbox_rows_unsee(st, r, n);
	}
	return 0;
}
