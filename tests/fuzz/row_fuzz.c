/*
 * libFuzzer target: the store's reads over damaged rows.
 *
 * A real store is made once in a temporary directory; its `events`
 * table is then redeclared without types or NOT NULL constraints
 * (writable_schema), so that any value of any type, NULL included, can
 * be written into any column, as a damaged or hand-edited file would
 * hold. Each input becomes one row (seq 1) written by a second SQLite
 * connection; weir_store_read_all() must then return WEIR_OK with a
 * valid event or WEIR_ECORRUPT, and weir_store_check() must report
 * every row that the read refused.
 *
 * Row layout of the input, per column (id, ts, topic, key, headers,
 * payload, stream, version): one type byte (mod 5: NULL, INTEGER, REAL,
 * TEXT, BLOB), then 8 bytes for INTEGER and REAL, or a length byte and
 * that many bytes for TEXT and BLOB.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include <weir/store.h>
#include <weir/weir.h>

#define ROW_COLS 8

static weir_store   *row_st;
static sqlite3      *row_db;
static sqlite3_stmt *row_ins;
static char          row_dir[] = "/tmp/weir-row-fuzz.XXXXXX";
static char          row_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fail(const char *what, weir_err rv)
{
	fprintf(stderr, "row_fuzz: %s (%s)\n", what, weir_err_name(rv));
	abort();
}

static void
row_exec(const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(row_db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "row_fuzz: %s: %s\n", sql, msg);
		abort();
	}
}

// Every column typeless and nullable; the column order (and so the
// record format) stays the one the store wrote.
static void
row_untype(void)
{
	if (sqlite3_open(row_path, &row_db) != SQLITE_OK) {
		fail("open the store with SQLite", WEIR_OK);
	}
	row_exec("PRAGMA writable_schema=ON;"
	         "UPDATE sqlite_master SET sql='CREATE TABLE events(seq "
	         "INTEGER PRIMARY KEY, id, ts, topic, key, headers, payload,"
	         " stream, version)' WHERE name='events';"
	         "PRAGMA writable_schema=OFF;");
	sqlite3_close(row_db);
	if (sqlite3_open(row_path, &row_db) != SQLITE_OK) {
		fail("reopen the store with SQLite", WEIR_OK);
	}
	row_exec("PRAGMA synchronous=OFF");
	if (sqlite3_prepare_v2(row_db,
	        "INSERT INTO events(seq,id,ts,topic,key,headers,payload,"
	        "stream,version) VALUES(1,?1,?2,?3,?4,?5,?6,?7,?8)",
	        -1, &row_ins, NULL) != SQLITE_OK) {
		fail(sqlite3_errmsg(row_db), WEIR_OK);
	}
}

static void
row_cleanup(void)
{
	weir_store_destroy(row_st);
	sqlite3_finalize(row_ins);
	sqlite3_close(row_db);
	char        p[96];
	const char *sfx[] = { "", "-wal", "-shm" };
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", row_path, sfx[i]);
		unlink(p);
	}
	rmdir(row_dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	if (mkdtemp(row_dir) == NULL) {
		fail("mkdtemp", WEIR_OK);
	}
	snprintf(row_path, sizeof(row_path), "%s/log.db", row_dir);
	weir_err rv = weir_store_open(&row_st, row_path, NULL, NULL, 0);
	if (rv != WEIR_OK) {
		fail("weir_store_open", rv);
	}
	weir_store_destroy(row_st);
	row_untype();
	rv = weir_store_open(&row_st, row_path, NULL, NULL, 0);
	if (rv != WEIR_OK) {
		fail("weir_store_open (untyped)", rv);
	}
	atexit(row_cleanup);
	return 0;
}

// Binds column @p i from the input; returns the bytes used.
static size_t
row_bind(int i, const uint8_t *p, size_t left)
{
	if (left == 0) {
		sqlite3_bind_null(row_ins, i);
		return 0;
	}
	int     type = p[0] % 5;
	size_t  n    = left - 1;
	int64_t v    = 0;
	double  d;
	switch (type) {
	case 1:
	case 2:
		n = n < 8 ? n : 8;
		memcpy(&v, p + 1, n);
		memcpy(&d, &v, sizeof(d));
		if (type == 1) {
			sqlite3_bind_int64(row_ins, i, v);
		} else {
			sqlite3_bind_double(row_ins, i, d);
		}
		return 1 + n;
	case 3:
	case 4:
		if (n > 0) {
			size_t len = p[1] < n - 1 ? p[1] : n - 1;
			if (type == 3) {
				sqlite3_bind_text(row_ins, i,
				    (const char *) p + 2, (int) len,
				    SQLITE_TRANSIENT);
			} else {
				sqlite3_bind_blob(row_ins, i, p + 2, (int) len,
				    SQLITE_TRANSIENT);
			}
			return 2 + len;
		}
		sqlite3_bind_zeroblob(row_ins, i, 0);
		return 1;
	default:
		sqlite3_bind_null(row_ins, i);
		return 1;
	}
}

static weir_err
row_seen(weir_store *st, const weir_event *ev, const char *stream,
    int64_t version, void *arg)
{
	(void) st;
	(void) stream;
	(void) version;
	size_t len;
	if (weir_topic_validate(weir_event_topic(ev)) != WEIR_OK ||
	    weir_event_seq(ev) != 1 ||
	    weir_event_header_count(ev) > WEIR_MAX_HEADERS ||
	    weir_event_id(ev) == NULL ||
	    (weir_event_key(ev, &len) == NULL && len != 0)) {
		fail("read returned an invalid event", WEIR_OK);
	}
	(*(int *) arg)++;
	return WEIR_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	sqlite3_reset(row_ins);
	for (int i = 1; i <= ROW_COLS; i++) {
		off += row_bind(i, data + off, size - off);
	}
	row_exec("DELETE FROM events");
	int rc = sqlite3_step(row_ins);
	if (rc != SQLITE_DONE) {
		fail(sqlite3_errmsg(row_db), WEIR_OK);
	}
	int      seen = 0;
	weir_err rv   = weir_store_read_all(row_st, 0, 0, row_seen, &seen);
	if (rv != WEIR_OK && rv != WEIR_ECORRUPT) {
		fail("read: neither OK nor ECORRUPT", rv);
	}
	if ((rv == WEIR_OK) != (seen == 1)) {
		fail("read: OK without the event, or the event and an error",
		    rv);
	}
	weir_err crv = weir_store_check(row_st);
	if (rv == WEIR_ECORRUPT && crv != WEIR_ECORRUPT) {
		fprintf(stderr, "%s\n", weir_store_errmsg(row_st));
		fail("check: passes a row that the read refused", crv);
	}
	return 0;
}
