// Inbox appends (de-duplicated against the log and the inbox; the
// writer's part is append_inbox in append.c and inbox_rows.c), the ids a
// trim records in the inbox, and its pruning.
#include "store/inbox.h"
#include "store/append.h"
#include "store/bind.h"

#include "core/alloc.h"
#include "store/codec.h"
#include "store/store.h"
#include "store/writer.h"

weir_err
weir__store_inbox_append(
    weir_store *st, const weir_event *ev, weir__store_inbox_fn done, void *arg)
{
	if (st == NULL || ev == NULL) {
		return WEIR_EINVAL;
	}
	weir_err rv = weir__store_check_open(st);
	if (rv != WEIR_OK) {
		return rv;
	}
	// The door of weir_store_append: nothing acknowledged may fail to
	// read back (an event past the codec's limits would).
	size_t hsize;
	if ((rv = weir__append_check_event(st, ev, &hsize)) != WEIR_OK) {
		return rv;
	}
	weir__req *r = weir__zalloc(sizeof(*r) + hsize);
	if (r == NULL || (r->ev = weir_event_hold(ev)) == NULL) {
		weir__free(r);
		return weir__store_fail(st, WEIR_ENOMEM, "out of memory");
	}
	weir__codec_headers_encode(ev, (uint8_t *) (r + 1));
	r->hdr        = (const uint8_t *) (r + 1);
	r->hdr_len    = hsize;
	r->async      = 1;
	r->inbox      = 1;
	r->inbox_done = done;
	r->arg        = arg;
	if ((rv = weir__writer_submit(st, r)) != WEIR_OK) {
		weir_event_release(r->ev);
		weir__free(r);
	}
	return rv;
}

typedef struct inbox_prune_req {
	int64_t  before;
	uint64_t keep;
	uint64_t pruned;
} inbox_prune_req;

// Runs one statement of @p sql whose binds ?1..?n are the @p n int64s
// of @p args: a row's first column is stored in @p changes, the rows
// changed are added to it. @p what names it in an error.
static weir_err
inbox_exec(weir_store *st, sqlite3 *db, const char *what, const char *sql,
    const int64_t *args, int n, uint64_t *changes)
{
	sqlite3_stmt *s;
	int           rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK) {
		return weir__store_sqlerr(st, db, rc, what);
	}
	weir__bind b;
	weir__bind_init(&b, s);
	for (int i = 0; i < n; i++) {
		weir__bind_int64(&b, i + 1, args[i]);
	}
	rc = b.rc == SQLITE_OK ? sqlite3_step(s) : b.rc;
	if (rc == SQLITE_ROW) {
		*changes = (uint64_t) sqlite3_column_int64(s, 0);
	} else if (rc == SQLITE_DONE) {
		*changes += (uint64_t) sqlite3_changes(db);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW
	    ? WEIR_OK
	    : weir__store_sqlerr(st, db, rc, what);
}

// Trims record ids only in a store that took inbox appends (meta
// 'inbound'), or whose inbox has rows (a store of schema 5 that has not
// taken one since): a store without an inbound bridge never pays for it.
// The ids are first seen at the trim (docs/store.md, "The inbox").
weir_err
weir__inbox_record_trim(
    weir_store *st, sqlite3 *db, int64_t before_seq, int64_t before_ts)
{
	static const char sql[] =
	    "INSERT OR IGNORE INTO inbox(id,ts) SELECT id,?3 FROM events"
	    " WHERE seq<?1 AND ts<?2 AND"
	    " (EXISTS(SELECT 1 FROM meta WHERE key='inbound')"
	    " OR EXISTS(SELECT 1 FROM inbox)) ORDER BY seq";
	int64_t  args[]   = { before_seq, before_ts, weir__store_now() };
	uint64_t recorded = 0;
	weir_err rv =
	    inbox_exec(st, db, "trim: inbox", sql, args, 3, &recorded);
	return rv == WEIR_OK && recorded > 0 ? weir__inbox_bound(st, db) : rv;
}

// The inbox's rows are numbered in the order their ids were first seen
// (n, the rowid), and pruning goes by that order: both deletes walk only
// the rows they delete, or the `keep` newest, without an index on ts.
static weir_err
inbox_prune(weir_store *st, sqlite3 *db, void *arg)
{
	inbox_prune_req *r  = arg;
	weir_err         rv = WEIR_OK;
	// By age: the rows seen before the first one seen at or after
	// `before` (all of them when there is none). A row whose clock
	// stepped back behind a newer row stays until that one goes.
	if (r->before > 0) {
		rv = inbox_exec(st, db, "inbox",
		    "DELETE FROM inbox WHERE n < ifnull("
		    "(SELECT n FROM inbox WHERE ts >= ?1 ORDER BY n LIMIT 1),"
		    " (SELECT max(n) + 1 FROM inbox))",
		    &r->before, 1, &r->pruned);
	}
	// By count: all but the `keep` newest.
	if (rv == WEIR_OK && r->keep > 0) {
		static const char sql[] =
		    "DELETE FROM inbox WHERE n <= (SELECT n FROM inbox"
		    " ORDER BY n DESC LIMIT 1 OFFSET ?1)";
		int64_t keep = (int64_t) r->keep;
		rv = inbox_exec(st, db, "inbox", sql, &keep, 1, &r->pruned);
	}
	// Emptied, or its largest id lower: inbox appends look up fewer
	// ids (inbox_rows.c). A batch that rolls back makes the writer
	// cautious again.
	return rv == WEIR_OK ? weir__inbox_bound(st, db) : rv;
}

weir_err
weir__store_inbox_prune(
    weir_store *st, int64_t before_ns, uint64_t keep, uint64_t *pruned)
{
	if (pruned != NULL) {
		*pruned = 0;
	}
	if (st == NULL || keep > INT64_MAX) {
		return WEIR_EINVAL;
	}
	inbox_prune_req r  = { .before = before_ns, .keep = keep };
	weir_err        rv = weir__store_check_open(st);
	if (rv == WEIR_OK) {
		rv = weir__writer_call(st, inbox_prune, &r);
	}
	if (rv == WEIR_OK && pruned != NULL) {
		*pruned = r.pruned;
	}
	return rv;
}

static weir_err
inbox_count(weir_store *st, sqlite3 *db, void *arg)
{
	*(uint64_t *) arg = 0;
	return inbox_exec(
	    st, db, "inbox", "SELECT count(*) FROM inbox", NULL, 0, arg);
}

weir_err
weir__store_inbox_count(weir_store *st, uint64_t *count)
{
	if (st == NULL || count == NULL) {
		return WEIR_EINVAL;
	}
	weir_err rv = weir__store_check_open(st);
	return rv != WEIR_OK ? rv : weir__writer_call(st, inbox_count, count);
}
