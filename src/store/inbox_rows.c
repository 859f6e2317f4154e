// The writer's part of inbox appends. De-duplication asks the log
// first: an event still in the log is found by the events table's own
// unique index on id, so an inbox append only inserts its event (one
// INSERT, whose refusal means "seen"). The inbox table holds the ids of
// events that have left the log (a trim records them, cursor.c), and
// rows of stores made before this (schema 5 kept one per inbox append);
// the writer knows when it has none (inbox_rows, the common case), and
// its largest id: it looks up only ids at or below that (UUIDv7 ids,
// which grow with time, of new events are above the trimmed ones).
//
// Runs of inbox appends go like plain appends (append.c): one lookup of
// all their ids in the inbox (when it has rows), then all their events
// in one multi-row INSERT. A run with a seen id, one id twice or an
// event the log refuses goes one by one (append_inbox in append.c),
// where each append gets what it would get alone; a storage error fails
// the batch, which rolls back everything.
#include <string.h>

#include "store/append.h"
#include "store/bind.h"
#include "store/store.h"

// Every id may be in the inbox.
static void
inbox_cautious(weir__writer *w)
{
	w->inbox_rows = 1;
	memset(w->inbox_max, 0xff, sizeof(w->inbox_max));
}

weir_err
weir__inbox_bound(weir_store *st, sqlite3 *db)
{
	weir__writer *w = &st->writer;
	sqlite3_stmt *s = NULL;
	inbox_cautious(w);
	int rc =
	    sqlite3_prepare_v2(db, "SELECT max(id) FROM inbox", -1, &s, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(s);
	}
	// A blob bounds the ids (ids are blobs); none: the inbox is empty;
	// a damaged row of another type leaves the writer cautious.
	if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) == SQLITE_BLOB) {
		size_t len = (size_t) sqlite3_column_bytes(s, 0);
		memset(w->inbox_max, 0, sizeof(w->inbox_max));
		memcpy(w->inbox_max, sqlite3_column_blob(s, 0),
		    len < sizeof(w->inbox_max) ? len : sizeof(w->inbox_max));
	}
	if (rc == SQLITE_ROW) {
		w->inbox_rows = sqlite3_column_type(s, 0) != SQLITE_NULL;
		rc            = SQLITE_DONE;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? WEIR_OK
	                         : weir__store_sqlerr(st, db, rc, "inbox");
}

void
weir__inbox_load(weir_store *st)
{
	weir__writer *w = &st->writer;
	sqlite3_stmt *s;
	// A failed look leaves the cautious answers: rows may be there,
	// and the mark is written again by the next inbox append.
	(void) weir__inbox_bound(st, w->db);
	w->inbound_marked = 0;
	if (sqlite3_prepare_v2(w->db, "SELECT 1 FROM meta WHERE key='inbound'",
	        -1, &s, NULL) == SQLITE_OK) {
		w->inbound_marked = sqlite3_step(s) == SQLITE_ROW;
	}
	sqlite3_finalize(s);
}

void
weir__inbox_rolled_back(weir__writer *w)
{
	// The batch may have undone a prune that emptied the inbox or
	// lowered its largest id, or the mark written in it.
	inbox_cautious(w);
	w->inbound_marked = 0;
}

// 1 when an id of the @p n requests from @p r may be in the inbox: it
// has rows, and the id is not above its largest.
static int
inbox_may_hold(const weir__writer *w, const weir__req *r, size_t n)
{
	if (!w->inbox_rows) {
		return 0;
	}
	for (size_t i = 0; i < n; i++, r = r->next) {
		if (memcmp(weir_event_id(r->ev), w->inbox_max, 16) <= 0) {
			return 1;
		}
	}
	return 0;
}

// Marks the store as taking inbox appends (meta 'inbound': its trims
// then record the ids they remove), once; WEIR_OK or a storage error.
static weir_err
inbox_mark(weir_store *st)
{
	weir__writer *w = &st->writer;
	if (w->inbound_marked) {
		return WEIR_OK;
	}
	int rc = sqlite3_exec(w->db,
	    "INSERT OR IGNORE INTO meta(key,value) VALUES('inbound',1)", NULL,
	    NULL, NULL);
	if (rc != SQLITE_OK) {
		return weir__store_sqlerr(st, w->db, rc, "inbox");
	}
	w->inbound_marked = 1;
	return WEIR_OK;
}

// Looks the ids of the @p n requests from @p r up in the inbox with @p s
// (inbox_has, or inbox_any of the run's size): SQLITE_ROW when one is
// there, SQLITE_DONE when none is, or the failure (a failed bind's code
// when *bound is 0).
static int
inbox_seen(sqlite3_stmt *s, const weir__req *r, size_t n, int *bound)
{
	weir__bind b;
	weir__bind_init(&b, s);
	for (size_t i = 0; i < n; i++, r = r->next) {
		weir__bind_blob(&b, (int) i + 1, weir_event_id(r->ev), 16);
	}
	*bound = b.rc == SQLITE_OK;
	int rc = *bound ? sqlite3_step(s) : b.rc;
	sqlite3_reset(s);
	return rc;
}

weir_err
weir__append_inbox_seen(weir_store *st, weir__req *r, int *seen)
{
	weir_err rv = inbox_mark(st);
	int      bound, rc = SQLITE_DONE;
	if (rv == WEIR_OK && inbox_may_hold(&st->writer, r, 1)) {
		rc = inbox_seen(st->writer.inbox_has, r, 1, &bound);
	}
	*seen = rc == SQLITE_ROW;
	if (rv == WEIR_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) {
		rv = weir__store_sqlerr(st, st->writer.db, rc, "inbox");
	}
	return rv;
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
	if ((r->rv = inbox_mark(st)) != WEIR_OK) {
		return 0;
	}
	int bound = 1;
	int rc    = inbox_may_hold(&st->writer, r, n)
	       ? inbox_seen(st->writer.inbox_any[size], r, n, &bound)
	       : SQLITE_DONE;
	if (rc == SQLITE_DONE) {
		rc = weir__append_rows_insert(st, r, size, &bound);
	}
	if (rc == SQLITE_DONE) {
		*single = 0; // the next run may be grouped again
		return n;
	}
	if (rc != SQLITE_ROW) { // SQLITE_ROW: an id seen, one by one
		inbox_rows_failed(st, r, rc, bound);
	}
	return 0;
}
