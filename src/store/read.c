// The read API: every read runs on a pooled read-only connection in one
// read transaction, so callbacks see a consistent snapshot while the
// writer keeps appending.
#include <string.h>

#include "store/bind.h"
#include "store/query.h"
#include "store/read.h"
#include "store/reader.h"
#include "store/store.h"

static weir_err
read_run(weir_store *st, const weir_store_filter *f, int64_t version,
    weir_store_read_fn fn, void *arg)
{
	weir__query q;
	weir_err    rv = weir__query_open(st, f, version, &q);
	while (rv == WEIR_OK) {
		weir_event *ev;
		const char *stream;
		int64_t     ver;
		rv = weir__query_next(st, &q, &ev, &stream, &ver);
		if (rv == WEIR_OK) {
			rv = fn(st, ev, stream, ver, arg);
			weir_event_release(ev);
		}
	}
	if (q.db != NULL) {
		weir__query_close(st, &q);
	}
	return rv == WEIR_ENOENT ? WEIR_OK : rv;
}

weir_err
weir_store_read(weir_store *st, const weir_store_filter *f,
    weir_store_read_fn fn, void *arg)
{
	weir_store_filter own = { .size = sizeof(own) };
	if (st == NULL || fn == NULL) {
		return WEIR_EINVAL;
	}
	weir_err rv = f == NULL ? WEIR_OK
	                        : weir__store_struct_in(st, &own, sizeof(own),
	                              f, WEIR__STORE_FILTER_V1, "filter");
	return rv != WEIR_OK ? rv : read_run(st, &own, 0, fn, arg);
}

weir_err
weir_store_read_all(weir_store *st, uint64_t from_seq, size_t limit,
    weir_store_read_fn fn, void *arg)
{
	weir_store_filter f = {
		.size = sizeof(f), .from_seq = from_seq, .limit = limit
	};
	if (st == NULL || fn == NULL) {
		return WEIR_EINVAL;
	}
	return read_run(st, &f, 0, fn, arg);
}

weir_err
weir_store_read_stream(weir_store *st, const char *stream,
    int64_t from_version, int backward, size_t limit, weir_store_read_fn fn,
    void *arg)
{
	weir_store_filter f = { .size = sizeof(f),
		.stream               = stream,
		.backward             = backward,
		.limit                = limit };
	if (st == NULL || fn == NULL || from_version < 0) {
		return WEIR_EINVAL;
	}
	if (stream == NULL) {
		return weir__store_check_name(st, stream, "stream");
	}
	return read_run(st, &f, from_version, fn, arg);
}

// Runs a one-integer query on a read connection; WEIR_ENOENT if no row.
static weir_err
read_int(weir_store *st, const char *sql, const char *text, int64_t *out)
{
	sqlite3 *db;
	weir_err rv = weir__store_check_open(st);
	if (rv != WEIR_OK || (rv = weir__readers_get(st, &db)) != WEIR_OK) {
		return rv;
	}
	sqlite3_stmt *s;
	int           rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (rc == SQLITE_OK) {
		weir__bind b;
		weir__bind_init(&b, s);
		weir__bind_text(&b, 1, text);
		rc = b.rc == SQLITE_OK ? sqlite3_step(s) : b.rc;
		if (rc == SQLITE_ROW) {
			*out = sqlite3_column_int64(s, 0);
		}
		sqlite3_finalize(s);
	}
	rv = rc == SQLITE_ROW   ? WEIR_OK
	    : rc == SQLITE_DONE ? WEIR_ENOENT
	                        : weir__store_sqlerr(st, db, rc, "read");
	weir__readers_put(st, db);
	return rv;
}

weir_err
weir_store_stream_version(weir_store *st, const char *stream, int64_t *version)
{
	if (st == NULL || version == NULL) {
		return WEIR_EINVAL;
	}
	*version    = 0;
	weir_err rv = weir__store_check_name(st, stream, "stream");
	if (rv == WEIR_OK) {
		rv = read_int(st, "SELECT version FROM streams WHERE name=?1",
		    stream, version);
	}
	return rv == WEIR_ENOENT ? WEIR_OK : rv;
}

weir_err
weir__store_read_int(
    weir_store *st, const char *sql, const char *text, int64_t *out)
{
	return read_int(st, sql, text, out);
}
