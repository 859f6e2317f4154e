// Readers are separate connections opened with SQLITE_OPEN_READONLY and
// SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE: only the writer's connection ever
// writes or checkpoints the WAL (the WAL-reset bug of SQLite 3.40 needs
// two connections doing so at once). Each read runs in one read
// transaction, so it sees one consistent snapshot of the log.
#include "store/reader.h"
#include "store/store.h"

// weir_match(pattern, topic) in SQL, so that topic filters run inside
// the query and count(*) can report a replay's total.
static void
reader_match(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void) argc;
	const char *pattern = (const char *) sqlite3_value_text(argv[0]);
	const char *topic   = (const char *) sqlite3_value_text(argv[1]);
	sqlite3_result_int(ctx,
	    pattern != NULL && topic != NULL &&
	        weir_pattern_match(pattern, topic));
}

static weir_err
reader_open(weir_store *st, sqlite3 **out)
{
	sqlite3 *db;
	int      flags =
	    SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
	int rc = sqlite3_open_v2(st->path, &db, flags, st->cfg.vfs);
	if (rc == SQLITE_OK) {
		rc = sqlite3_db_config(
		    db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	}
	if (rc == SQLITE_OK) {
		rc = sqlite3_create_function(db, "weir_match", 2,
		    SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, reader_match,
		    NULL, NULL);
	}
	if (rc == SQLITE_OK) {
		rc = sqlite3_busy_timeout(db, 5000);
	}
	if (rc != SQLITE_OK) {
		weir_err rv = weir__store_sqlerr(st, db, rc, "open reader");
		sqlite3_close_v2(db);
		return rv;
	}
	*out = db;
	return WEIR_OK;
}

void
weir__readers_init(weir_store *st)
{
	pthread_mutex_init(&st->readers.mu, NULL);
}

weir_err
weir__readers_get(weir_store *st, sqlite3 **db)
{
	weir__readers *rd = &st->readers;
	*db               = NULL;
	pthread_mutex_lock(&rd->mu);
	if (rd->closed) {
		pthread_mutex_unlock(&rd->mu);
		return weir__store_fail(st, WEIR_ECLOSED, "store is closed");
	}
	if (rd->nidle > 0) {
		*db = rd->idle[--rd->nidle];
	}
	pthread_mutex_unlock(&rd->mu);
	return *db != NULL ? WEIR_OK : reader_open(st, db);
}

// A read whose COMMIT failed (SQLite out of memory) leaves its read
// transaction open: pooled so, the connection would fail every later
// BEGIN and pin an old snapshot of the WAL. Roll it back, or, if even
// that fails, close it rather than keep it.
static int
reader_idle(sqlite3 *db)
{
	if (!sqlite3_get_autocommit(db)) {
		(void) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	}
	return sqlite3_get_autocommit(db);
}

void
weir__readers_put(weir_store *st, sqlite3 *db)
{
	weir__readers *rd = &st->readers;
	int            ok = db != NULL && reader_idle(db);
	pthread_mutex_lock(&rd->mu);
	if (ok && !rd->closed && rd->nidle < WEIR__READERS_KEEP) {
		rd->idle[rd->nidle++] = db;
		db                    = NULL;
	}
	pthread_mutex_unlock(&rd->mu);
	sqlite3_close_v2(db); // NULL is a no-op
}

void
weir__readers_close(weir_store *st)
{
	weir__readers *rd = &st->readers;
	pthread_mutex_lock(&rd->mu);
	rd->closed = 1;
	while (rd->nidle > 0) {
		sqlite3_close_v2(rd->idle[--rd->nidle]);
	}
	pthread_mutex_unlock(&rd->mu);
}

void
weir__readers_fini(weir_store *st)
{
	pthread_mutex_destroy(&st->readers.mu);
}
