// Migrations are append-only: migration[i] takes a store from version i
// to version i + 1, and a store is only ever moved forward. A store made
// by a newer weir is refused (WEIR_EVERSION) rather than guessed at.
#include <stdio.h>

#include "store/schema.h"
#include "store/store.h"

static const char *const schema_migrations[WEIR__SCHEMA_VERSION] = {
	// 0 -> 1: the log, streams, cursors, metadata.
	"CREATE TABLE events("
	" seq INTEGER PRIMARY KEY, id BLOB NOT NULL, ts INTEGER NOT NULL,"
	" topic TEXT NOT NULL, key BLOB, headers BLOB, payload BLOB,"
	" stream TEXT, version INTEGER);"
	"CREATE UNIQUE INDEX events_id ON events(id);"
	"CREATE INDEX events_ts ON events(ts);"
	"CREATE UNIQUE INDEX events_stream ON events(stream, version)"
	" WHERE stream IS NOT NULL;"
	"CREATE TABLE streams(name TEXT PRIMARY KEY,"
	" version INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE cursors(name TEXT PRIMARY KEY, seq INTEGER NOT NULL,"
	" updated INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;",
	// 1 -> 2: snapshots and dead letters.
	"CREATE TABLE snapshots(stream TEXT NOT NULL, version INTEGER NOT "
	"NULL,"
	" ts INTEGER NOT NULL, data BLOB, PRIMARY KEY(stream, version));"
	"CREATE TABLE dead_letters("
	" dlid INTEGER PRIMARY KEY, origin TEXT NOT NULL, seq INTEGER,"
	" id BLOB NOT NULL, ts INTEGER NOT NULL, topic TEXT NOT NULL,"
	" key BLOB, headers BLOB, payload BLOB, code INTEGER NOT NULL,"
	" message TEXT, attempts INTEGER NOT NULL,"
	" first_failure INTEGER NOT NULL, last_failure INTEGER NOT NULL,"
	" UNIQUE(origin, id));",
	// 2 -> 3: the inbound bridge's inbox: ids seen from brokers, with
	// the time they were first seen (unix ns), pruned by age and count.
	"CREATE TABLE inbox(id BLOB PRIMARY KEY, ts INTEGER NOT NULL)"
	" WITHOUT ROWID;"
	"CREATE INDEX inbox_ts ON inbox(ts);",
	// 3 -> 4: events_ts, an index entry per event, gives way to one row
	// per 1024 seqs bounding their ts; reads by time visit the blocks
	// whose range meets theirs (query.c). Blocks are built from the log.
	"CREATE TABLE events_ts_blocks(block INTEGER PRIMARY KEY,"
	" lo INTEGER NOT NULL, hi INTEGER NOT NULL);"
	"INSERT INTO events_ts_blocks(block,lo,hi)"
	" SELECT seq>>10, min(ts), max(ts) FROM events GROUP BY seq>>10;"
	"DROP INDEX events_ts;",
	// 4 -> 5: the inbox becomes a rowid table whose rows are in the
	// order they were seen (n), without the inbox_ts index: an inbox
	// append costs one index insert less, and pruning goes by arrival
	// order (inbox.c). Old rows keep their order of first sight.
	"CREATE TABLE inbox5(n INTEGER PRIMARY KEY,"
	" id BLOB NOT NULL UNIQUE, ts INTEGER NOT NULL);"
	"INSERT INTO inbox5(id,ts) SELECT id,ts FROM inbox ORDER BY ts,id;"
	"DROP TABLE inbox;"
	"ALTER TABLE inbox5 RENAME TO inbox;",
};

static weir_err
schema_int(weir_store *st, sqlite3 *db, const char *sql, int64_t *out)
{
	sqlite3_stmt *s;
	int           rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	*out             = 0; // never garbage, whatever the caller checks
	if (rc == SQLITE_OK) {
		rc   = sqlite3_step(s);
		*out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
		rc   = rc == SQLITE_ROW ? SQLITE_OK : rc;
		sqlite3_finalize(s);
	}
	if ((rc & 0xff) == SQLITE_NOTADB) {
		return weir__store_fail(st, WEIR_ENOTSTORE,
		    "not a weir store: not an SQLite database");
	}
	return rc == SQLITE_OK ? WEIR_OK
	                       : weir__store_sqlerr(st, db, rc, "schema");
}

// Tests migrate without a store handle: then only the code is returned.
static weir_err
schema_err(weir_store *st, sqlite3 *db, int rc)
{
	return st != NULL ? weir__store_sqlerr(st, db, rc, "migration")
	                  : weir__store_map_rc(rc);
}

weir_err
weir__schema_migrate(weir_store *st, sqlite3 *db, int from, int to)
{
	char sql[64];
	for (int v = from; v < to; v++) {
		int rc =
		    sqlite3_exec(db, schema_migrations[v], NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			return schema_err(st, db, rc);
		}
	}
	snprintf(sql, sizeof(sql),
	    "PRAGMA application_id=%d;"
	    "PRAGMA user_version=%d",
	    WEIR__SCHEMA_APP_ID, to);
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? WEIR_OK : schema_err(st, db, rc);
}

// Identifies the file: fills *version with its schema version, or -1
// for an empty database that becomes a new store.
static weir_err
schema_identify(weir_store *st, sqlite3 *db, int64_t *version)
{
	int64_t  app, tables;
	weir_err rv = schema_int(st, db, "PRAGMA application_id", &app);
	if (rv == WEIR_OK) {
		rv = schema_int(st, db, "PRAGMA user_version", version);
	}
	if (rv == WEIR_OK) {
		rv = schema_int(
		    st, db, "SELECT count(*) FROM sqlite_master", &tables);
	}
	if (rv != WEIR_OK) {
		return rv;
	}
	if (app == 0 && *version == 0 && tables == 0) {
		*version = 0; // empty: a new store
		return WEIR_OK;
	}
	if (app != WEIR__SCHEMA_APP_ID) {
		return weir__store_fail(st, WEIR_ENOTSTORE,
		    "not a weir store: an SQLite database of another "
		    "application (application_id %lld)",
		    (long long) app);
	}
	if (*version > WEIR__SCHEMA_VERSION) {
		return weir__store_fail(st, WEIR_EVERSION,
		    "store schema version %lld is newer than this weir's (%d)",
		    (long long) *version, WEIR__SCHEMA_VERSION);
	}
	return WEIR_OK;
}

weir_err
weir__schema_open(weir_store *st, sqlite3 *db)
{
	int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		return (rc & 0xff) == SQLITE_NOTADB
		    ? weir__store_fail(st, WEIR_ENOTSTORE,
		          "not a weir store: not an SQLite database")
		    : weir__store_sqlerr(st, db, rc, "open");
	}
	int64_t  version;
	weir_err rv = schema_identify(st, db, &version);
	if (rv == WEIR_OK && version < WEIR__SCHEMA_VERSION) {
		rv = weir__schema_migrate(
		    st, db, (int) version, WEIR__SCHEMA_VERSION);
	}
	rc = sqlite3_exec(
	    db, rv == WEIR_OK ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
	if (rv == WEIR_OK && rc != SQLITE_OK) {
		rv = weir__store_sqlerr(st, db, rc, "migration commit");
	}
	return rv;
}
