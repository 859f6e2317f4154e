// Named cursors (the bridge keeps its positions here) and retention.
// Retention runs on the writer, inside its transaction, so the lowest
// cursor it reads is the one in force when the rows go.
#include "store/append.h"
#include <string.h>

#include "core/alloc.h"
#include "store/bind.h"
#include "store/cursor.h"
#include "store/read.h"
#include "store/reader.h"
#include "store/store.h"
#include "store/writer.h"

typedef struct cursor_req {
	const char *name;
	uint64_t    seq;
	uint64_t    before;
	int64_t     cutoff;
	uint64_t    deleted;
} cursor_req;

// Prepares @p sql on @p db, binds ?1 to the request's name (if any) and
// ?2, ?3 to @p a, @p b, and steps once. Returns the step's result.
static int
cursor_step(sqlite3 *db, const char *sql, cursor_req *r, int64_t a, int64_t b,
    int64_t *col0)
{
	sqlite3_stmt *s;
	int           rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK) {
		return rc;
	}
	weir__bind bd;
	weir__bind_init(&bd, s);
	weir__bind_text(&bd, 1, r->name);
	weir__bind_int64(&bd, 2, a);
	weir__bind_int64(&bd, 3, b);
	rc = bd.rc == SQLITE_OK ? sqlite3_step(s) : bd.rc;
	if (rc == SQLITE_ROW && col0 != NULL) {
		*col0 = sqlite3_column_type(s, 0) == SQLITE_NULL
		    ? -1
		    : sqlite3_column_int64(s, 0);
	}
	sqlite3_finalize(s);
	return rc;
}

static weir_err
cursor_set(weir_store *st, sqlite3 *db, void *arg)
{
	cursor_req *r  = arg;
	int         rc = cursor_step(db,
	            "INSERT INTO cursors(name,seq,updated) VALUES(?1,?2,?3)"
	                    " ON CONFLICT(name) DO UPDATE SET seq=excluded.seq,"
	                    " updated=excluded.updated",
	            r, (int64_t) r->seq, weir__store_now(), NULL);
	return rc == SQLITE_DONE ? WEIR_OK
	                         : weir__store_sqlerr(st, db, rc, "cursor");
}

static weir_err
cursor_delete(weir_store *st, sqlite3 *db, void *arg)
{
	cursor_req *r  = arg;
	int         rc = cursor_step(
	            db, "DELETE FROM cursors WHERE name=?1", r, 0, 0, NULL);
	if (rc != SQLITE_DONE) {
		return weir__store_sqlerr(st, db, rc, "cursor");
	}
	if (sqlite3_changes(db) == 0) {
		return weir__store_fail(
		    st, WEIR_ENOENT, "no cursor named '%.200s'", r->name);
	}
	return WEIR_OK;
}

static weir_err
cursor_check(weir_store *st, const char *name)
{
	weir_err rv = weir__store_check_open(st);
	return rv != WEIR_OK ? rv : weir__store_check_name(st, name, "cursor");
}

weir_err
weir_store_cursor_set(weir_store *st, const char *name, uint64_t seq)
{
	cursor_req r = { .name = name, .seq = seq };
	if (st == NULL || seq > (uint64_t) INT64_MAX) {
		return WEIR_EINVAL;
	}
	weir_err rv = cursor_check(st, name);
	return rv != WEIR_OK ? rv : weir__writer_call(st, cursor_set, &r);
}

// A queued cursor write: the writer's request, this and the name in one
// allocation, which the writer frees after the done callback.
typedef struct cursor_async {
	weir__store_cursor_fn done;
	void                 *arg;
	cursor_req            c;
} cursor_async;

static void
cursor_async_done(
    weir_store *st, weir_err err, uint64_t seq, int64_t version, void *arg)
{
	cursor_async *a = arg;
	(void) seq;
	(void) version;
	a->done(st, err, a->c.seq, a->arg);
}

weir_err
weir__store_cursor_set_async(weir_store *st, const char *name, uint64_t seq,
    weir__store_cursor_fn done, void *arg)
{
	if (st == NULL || done == NULL || seq > (uint64_t) INT64_MAX) {
		return WEIR_EINVAL;
	}
	weir_err rv = cursor_check(st, name);
	if (rv != WEIR_OK) {
		return rv;
	}
	size_t     len = strlen(name) + 1;
	weir__req *r   = weir__zalloc(sizeof(*r) + sizeof(cursor_async) + len);
	if (r == NULL) {
		return weir__store_fail(st, WEIR_ENOMEM, "out of memory");
	}
	cursor_async *a = (cursor_async *) (r + 1);
	char         *n = (char *) (a + 1);
	memcpy(n, name, len);
	a->done     = done;
	a->arg      = arg;
	a->c.name   = n;
	a->c.seq    = seq;
	r->kind     = WEIR__REQ_CALL;
	r->call     = cursor_set;
	r->call_arg = &a->c;
	r->async    = 1;
	r->over     = 1; // small, and one per caller at a time
	r->done     = cursor_async_done;
	r->arg      = a;
	if ((rv = weir__writer_submit(st, r)) != WEIR_OK) {
		weir__free(r);
	}
	return rv;
}

weir_err
weir_store_cursor_delete(weir_store *st, const char *name)
{
	cursor_req r = { .name = name };
	if (st == NULL) {
		return WEIR_EINVAL;
	}
	weir_err rv = cursor_check(st, name);
	return rv != WEIR_OK ? rv : weir__writer_call(st, cursor_delete, &r);
}

weir_err
weir_store_cursor_get(weir_store *st, const char *name, uint64_t *seq)
{
	int64_t v = 0;
	if (st == NULL || seq == NULL) {
		return WEIR_EINVAL;
	}
	*seq        = 0;
	weir_err rv = cursor_check(st, name);
	if (rv == WEIR_OK) {
		rv = weir__store_read_int(
		    st, "SELECT seq FROM cursors WHERE name=?1", name, &v);
	}
	if (rv == WEIR_ENOENT) {
		return weir__store_fail(
		    st, rv, "no cursor named '%.200s'", name);
	}
	*seq = (uint64_t) v;
	return rv;
}

// Hands one row to @p fn; a damaged row (a name that is not text, a seq
// that is not a non-negative integer) is WEIR_ECORRUPT, never a NULL
// name given to the callback.
static weir_err
cursor_row(weir_store *st, sqlite3_stmt *s, weir_store_cursor_fn fn, void *arg)
{
	const char *name = (const char *) sqlite3_column_text(s, 0);
	if (sqlite3_column_type(s, 0) != SQLITE_TEXT || name == NULL ||
	    sqlite3_column_type(s, 1) != SQLITE_INTEGER ||
	    sqlite3_column_int64(s, 1) < 0) {
		return weir__store_fail(st, WEIR_ECORRUPT,
		    "damaged cursor row: the name must be text and the seq "
		    "a non-negative integer");
	}
	fn(st, name, (uint64_t) sqlite3_column_int64(s, 1), arg);
	return WEIR_OK;
}

weir_err
weir_store_cursor_list(weir_store *st, weir_store_cursor_fn fn, void *arg)
{
	sqlite3 *db;
	if (st == NULL || fn == NULL) {
		return WEIR_EINVAL;
	}
	weir_err rv = weir__store_check_open(st);
	if (rv != WEIR_OK || (rv = weir__readers_get(st, &db)) != WEIR_OK) {
		return rv;
	}
	sqlite3_stmt *s;
	int           rc = sqlite3_prepare_v2(
	              db, "SELECT name,seq FROM cursors ORDER BY name", -1, &s, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((rv = cursor_row(st, s, fn, arg)) != WEIR_OK) {
			break;
		}
		rc = SQLITE_OK;
	}
	if (rv == WEIR_OK) {
		rv = rc == SQLITE_DONE
		    ? WEIR_OK
		    : weir__store_sqlerr(st, db, rc, "cursors");
	}
	sqlite3_finalize(s);
	weir__readers_put(st, db);
	return rv;
}

// Lowers the bound below the lowest cursor, then deletes.
static weir_err
cursor_trim(weir_store *st, sqlite3 *db, void *arg)
{
	cursor_req *r      = arg;
	int64_t     lowest = -1;
	int         rc =
	    cursor_step(db, "SELECT min(seq) FROM cursors", r, 0, 0, &lowest);
	if (rc != SQLITE_ROW) {
		return weir__store_sqlerr(st, db, rc, "trim");
	}
	// r->before and lowest are at most INT64_MAX: compare before
	// adding, so a cursor at INT64_MAX does not overflow.
	int64_t bound = (int64_t) r->before;
	if (lowest >= 0 && lowest < bound - 1) {
		bound = lowest + 1;
	}
	// The ids leave the log and enter the inbox in one transaction, so
	// a redelivery is recognised on either side of the trim.
	weir_err rv = weir__inbox_record_trim(st, db, bound, r->cutoff);
	if (rv != WEIR_OK) {
		return rv;
	}
	rc = cursor_step(db, "DELETE FROM events WHERE seq<?2 AND ts<?3", r,
	    bound, r->cutoff, NULL);
	if (rc != SQLITE_DONE) {
		return weir__store_sqlerr(st, db, rc, "trim");
	}
	r->deleted = (uint64_t) sqlite3_changes64(db);
	// Blocks of seqs left without events go too (a block whose range
	// is now wider than its events only costs a read a look).
	rc = cursor_step(db,
	    "DELETE FROM events_ts_blocks WHERE block<=(?2>>10) AND NOT "
	    "EXISTS(SELECT 1 FROM events WHERE seq BETWEEN block<<10 AND "
	    "(block<<10)+1023)",
	    r, bound, 0, NULL);
	return rc == SQLITE_DONE ? WEIR_OK
	                         : weir__store_sqlerr(st, db, rc, "trim");
}

weir_err
weir_store_trim(
    weir_store *st, uint64_t before_seq, int64_t max_age_ns, uint64_t *deleted)
{
	cursor_req r = { .before = before_seq ? before_seq : INT64_MAX,
		.cutoff = max_age_ns > 0 ? weir__store_now() - max_age_ns
		                         : INT64_MAX };
	if (deleted != NULL) {
		*deleted = 0;
	}
	if (st == NULL || max_age_ns < 0 || before_seq > INT64_MAX) {
		return WEIR_EINVAL;
	}
	weir_err rv = weir__store_check_open(st);
	if (rv != WEIR_OK || (before_seq == 0 && max_age_ns == 0)) {
		return rv;
	}
	rv = weir__writer_call(st, cursor_trim, &r);
	if (rv == WEIR_OK && deleted != NULL) {
		*deleted = r.deleted;
	}
	return rv;
}
