// Snapshots: the state of a stream as of a version, so that a reader
// can start from the latest snapshot instead of replaying the stream.
#include "store/bind.h"
#include "store/reader.h"
#include "store/store.h"
#include "store/writer.h"

typedef struct snapshot_req {
	const char *stream;
	int64_t     version;
	const void *data;
	size_t      len;
} snapshot_req;

static weir_err
snapshot_save(weir_store *st, sqlite3 *db, void *arg)
{
	snapshot_req *r = arg;
	sqlite3_stmt *s;
	int           rc = sqlite3_prepare_v2(db,
	              "INSERT OR REPLACE INTO snapshots(stream,version,ts,data)"
	                        " VALUES(?1,?2,?3,?4)",
	              -1, &s, NULL);
	if (rc == SQLITE_OK) {
		weir__bind b;
		weir__bind_init(&b, s);
		weir__bind_text(&b, 1, r->stream);
		weir__bind_int64(&b, 2, r->version);
		weir__bind_int64(&b, 3, weir__store_now());
		weir__bind_blob(&b, 4, r->data, r->len);
		rc = b.rc == SQLITE_OK ? sqlite3_step(s) : b.rc;
		sqlite3_finalize(s);
	}
	return rc == SQLITE_DONE ? WEIR_OK
	                         : weir__store_sqlerr(st, db, rc, "snapshot");
}

weir_err
weir_store_snapshot_save(weir_store *st, const char *stream, int64_t version,
    const void *data, size_t len)
{
	if (st == NULL || version <= 0 || (len && data == NULL)) {
		return WEIR_EINVAL;
	}
	weir_err rv = weir__store_check_open(st);
	if (rv == WEIR_OK) {
		rv = weir__store_check_name(st, stream, "stream");
	}
	if (rv == WEIR_OK && len > st->cfg.max_event) {
		rv = weir__store_fail(st, WEIR_ETOOBIG,
		    "snapshot of %zu bytes exceeds the limit of %zu bytes",
		    len, st->cfg.max_event);
	}
	snapshot_req r = { stream, version, data, len };
	return rv != WEIR_OK ? rv : weir__writer_call(st, snapshot_save, &r);
}

static weir_err
snapshot_load(weir_store *st, sqlite3 *db, const char *stream,
    weir_store_snapshot_fn fn, void *arg)
{
	sqlite3_stmt *s;
	int           rc = sqlite3_prepare_v2(db,
	              "SELECT version,data FROM snapshots WHERE stream=?1"
	                        " ORDER BY version DESC LIMIT 1",
	              -1, &s, NULL);
	if (rc != SQLITE_OK) {
		return weir__store_sqlerr(st, db, rc, "snapshot");
	}
	weir__bind b;
	weir__bind_init(&b, s);
	weir__bind_text(&b, 1, stream);
	weir_err rv = WEIR_OK;
	if (b.rc != SQLITE_OK) {
		rv = weir__store_sqlerr(st, db, b.rc, "snapshot");
	} else if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const void *data = sqlite3_column_blob(s, 1);
		size_t      len  = (size_t) sqlite3_column_bytes(s, 1);
		fn(st, stream, sqlite3_column_int64(s, 0), data, len, arg);
	} else if (rc == SQLITE_DONE) {
		rv = weir__store_fail(
		    st, WEIR_ENOENT, "no snapshot of stream '%.200s'", stream);
	} else {
		rv = weir__store_sqlerr(st, db, rc, "snapshot");
	}
	sqlite3_finalize(s);
	return rv;
}

weir_err
weir_store_snapshot_load(
    weir_store *st, const char *stream, weir_store_snapshot_fn fn, void *arg)
{
	sqlite3 *db;
	if (st == NULL || fn == NULL) {
		return WEIR_EINVAL;
	}
	weir_err rv = weir__store_check_open(st);
	if (rv == WEIR_OK) {
		rv = weir__store_check_name(st, stream, "stream");
	}
	if (rv == WEIR_OK && (rv = weir__readers_get(st, &db)) == WEIR_OK) {
		rv = snapshot_load(st, db, stream, fn, arg);
		weir__readers_put(st, db);
	}
	return rv;
}
