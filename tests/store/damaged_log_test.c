/*
 * Damaged logs: wrong column types, NULL columns, dropped tables,
 * truncated files and random page damage, made with the SQLite API on a
 * closed store. Every open and every read must return a documented
 * error (or OK), never crash, and weir_store_check_report() must say
 * what is damaged: the table and row, by seq where it has one.
 *
 * The callbacks here tolerate a NULL cursor name or dead-letter origin:
 * that a list hands them out is issue 12's defect 3, tested elsewhere.
 */
#include <sqlite3.h>
#include <sys/stat.h>

#include "fixture.h"

#define DMG_EVENTS 200

// ---- making a store, and damaging it ---------------------------------

static weir_event *
dmg_event(int i)
{
	char        text[128];
	weir_header h[2] = { { "trace", "abc", 3 }, { "n", &i, sizeof(i) } };
	weir_event *ev;
	weir_event_init init = { .size = sizeof(init),
		.topic        = i % 2 ? "orders.created" : "orders.paid",
		.payload      = text,
		.headers      = h,
		.header_count = (size_t) (i % 3) };
	snprintf(text, sizeof(text), "event %d %0100d", i, i);
	init.payload_len = strlen(text);
	assert_weir_ok(weir_event_new(&ev, &init));
	return ev;
}

// A closed store with events (the first 5 in stream cart-1), a cursor,
// a snapshot and a dead letter.
static void
dmg_make(fx *f)
{
	weir_store *st = fx_open(f);
	for (int i = 1; i <= DMG_EVENTS; i++) {
		weir_event            *ev = dmg_event(i);
		weir_store_append_opts o  = { .size = sizeof(o),
			 .stream = i <= 5 ? "cart-1" : NULL };
		assert_weir_ok(weir_store_append(st, ev, &o, NULL, NULL));
		if (i == 7) {
			assert_weir_ok(weir_store_dead_add(
			    st, ev, "route-a", WEIR_EBACKEND, "down", NULL));
		}
		weir_event_release(ev);
	}
	assert_weir_ok(weir_store_cursor_set(st, "reader", 3));
	assert_weir_ok(weir_store_snapshot_save(st, "cart-1", 5, "s", 1));
	weir_store_destroy(st);
	f->st = NULL;
	struct stat sb;
	char        wal[700];
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	// A clean close checkpoints and removes the WAL: the damage below
	// then hits the one file that holds everything.
	assert_true(stat(wal, &sb) != 0 || sb.st_size == 0);
}

static void
dmg_sql(fx *f, const char *sql)
{
	sqlite3 *db;
	char    *msg = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		print_error("%s: %s\n", sql, msg);
		fail();
	}
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

// Redeclares `events` without types or NOT NULL (same column order, so
// the rows stay readable): any value can then be written anywhere.
static void
dmg_untype(fx *f)
{
	dmg_sql(f,
	    "PRAGMA writable_schema=ON;"
	    "UPDATE sqlite_master SET sql='CREATE TABLE events(seq INTEGER "
	    "PRIMARY KEY, id, ts, topic, key, headers, payload, stream, "
	    "version)' WHERE name='events';"
	    "UPDATE sqlite_master SET sql='CREATE TABLE streams(name "
	    "PRIMARY KEY, version) WITHOUT ROWID' WHERE name='streams';");
}

// ---- reading everything ------------------------------------------------

typedef struct dmg_found {
	size_t   n;
	int      kind[64];
	char     table[64][32];
	uint64_t row[64];
} dmg_found;

static void
dmg_problem(weir_store *st, const weir_store_problem *p, void *arg)
{
	dmg_found *d = arg;
	(void) st;
	assert_non_null(p->text);
	if (d->n < 64) {
		d->kind[d->n] = p->kind;
		snprintf(d->table[d->n], 32, "%s", p->table ? p->table : "");
		d->row[d->n] = p->row;
	}
	d->n++;
}

static int
dmg_has(const dmg_found *d, int kind, const char *table, uint64_t row)
{
	for (size_t i = 0; i < d->n && i < 64; i++) {
		if (d->kind[i] == kind && strcmp(d->table[i], table) == 0 &&
		    d->row[i] == row) {
			return 1;
		}
	}
	return 0;
}

static weir_err
dmg_read_fn(weir_store *st, const weir_event *ev, const char *stream,
    int64_t version, void *arg)
{
	(void) st;
	(void) stream;
	(void) version;
	size_t len;
	assert_weir_ok(weir_topic_validate(weir_event_topic(ev)));
	(void) weir_event_payload(ev, &len);
	(*(size_t *) arg)++;
	return WEIR_OK;
}

static void
dmg_cursor_fn(weir_store *st, const char *name, uint64_t seq, void *arg)
{
	(void) st;
	(void) name;
	(void) seq;
	(void) arg;
}

static weir_err
dmg_dead_fn(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	(void) st;
	(void) arg;
	assert_non_null(dl->ev);
	return WEIR_OK;
}

static void
dmg_snap_fn(weir_store *st, const char *stream, int64_t version,
    const void *data, size_t len, void *arg)
{
	(void) st;
	(void) stream;
	(void) version;
	(void) data;
	(void) len;
	(void) arg;
}

// A read's result must be one its documentation names.
#define DMG_READ_OK(rv)                                                  \
	do {                                                             \
		weir_err r_ = (rv);                                      \
		if (r_ != WEIR_OK && r_ != WEIR_ECORRUPT &&              \
		    r_ != WEIR_ESTORE && r_ != WEIR_ENOENT) {            \
			print_error("%s: %s\n", #rv, weir_err_name(r_)); \
			fail();                                          \
		}                                                        \
	} while (0)

// Opens the damaged store and runs every read and the check; returns the
// check's result (or the open's error) and what the check reported.
static weir_err
dmg_read_all(fx *f, dmg_found *d, weir_err *read_rv)
{
	char     msg[256];
	weir_err rv = weir_store_open(&f->st, f->path, NULL, msg, sizeof(msg));
	memset(d, 0, sizeof(*d));
	*read_rv = rv;
	if (rv != WEIR_OK) {
		assert_true(rv == WEIR_ECORRUPT || rv == WEIR_ENOTSTORE ||
		    rv == WEIR_EVERSION || rv == WEIR_ESTORE ||
		    rv == WEIR_EIO);
		assert_null(f->st);
		return rv;
	}
	size_t   n = 0, count;
	uint64_t seq;
	int64_t  ver;
	*read_rv = weir_store_read_all(f->st, 0, 0, dmg_read_fn, &n);
	DMG_READ_OK(*read_rv);
	DMG_READ_OK(
	    weir_store_read_stream(f->st, "cart-1", 0, 1, 0, dmg_read_fn, &n));
	DMG_READ_OK(weir_store_last_seq(f->st, &seq));
	DMG_READ_OK(weir_store_stream_version(f->st, "cart-1", &ver));
	DMG_READ_OK(weir_store_cursor_get(f->st, "reader", &seq));
	DMG_READ_OK(weir_store_cursor_list(f->st, dmg_cursor_fn, NULL));
	DMG_READ_OK(weir_store_snapshot_load(f->st, "cart-1", dmg_snap_fn, 0));
	DMG_READ_OK(weir_store_dead_list(f->st, NULL, 0, dmg_dead_fn, NULL));
	weir_store_replay_opts rp = { .size = sizeof(rp),
		.target                     = WEIR_STORE_REPLAY_CALL,
		.fn                         = dmg_read_fn,
		.arg                        = &n };
	DMG_READ_OK(weir_store_replay(f->st, &rp, &count));
	rv = weir_store_check_report(f->st, dmg_problem, d);
	assert_true(rv == WEIR_OK || rv == WEIR_ECORRUPT);
	assert_true((rv == WEIR_OK) == (d->n == 0));
	assert_int_equal(weir_store_check(f->st), rv);
	weir_store_destroy(f->st);
	f->st = NULL;
	return rv;
}

// ---- the cases ---------------------------------------------------------

static int
dmg_setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	fx_dir(f);
	dmg_make(f);
	*state = f;
	return 0;
}

static void
test_intact(void **state)
{
	fx       *f = *state;
	dmg_found d;
	weir_err  read_rv;
	assert_weir_ok(dmg_read_all(f, &d, &read_rv));
	assert_weir_ok(read_rv);
}

// Each damaged row must make the read fail with WEIR_ECORRUPT (not give
// a made-up value), and the check must name the row by seq.
static void
dmg_one_row(fx *f, const char *set, int kind)
{
	char      sql[256];
	dmg_found d;
	weir_err  read_rv;
	snprintf(sql, sizeof(sql), "UPDATE events SET %s WHERE seq=9", set);
	dmg_untype(f);
	dmg_sql(f, sql);
	assert_int_equal(dmg_read_all(f, &d, &read_rv), WEIR_ECORRUPT);
	if (read_rv != WEIR_ECORRUPT || !dmg_has(&d, kind, "events", 9)) {
		print_error("%s: read %s, check found %zu problems\n", set,
		    weir_err_name(read_rv), d.n);
		fail();
	}
}

// dmg_one_row for each of @p sets, each on a fresh log.
static void
dmg_each_row(fx *f, const char *const *sets, size_t n, int kind)
{
	for (size_t i = 0; i < n; i++) {
		dmg_one_row(f, sets[i], kind);
		fx_rmdir(f->dir);
		fx_dir(f);
		dmg_make(f);
	}
}

static void
test_wrong_types(void **state)
{
	fx         *f      = *state;
	const char *sets[] = {
		"topic=CAST(topic AS BLOB)", "id=hex(id)",
		"id=CAST('0123456789abcdef' AS TEXT)",
		"id=x'0011223344'", // a blob, but not the 16 bytes of an id
		"ts='yesterday'", "ts=1.5", "headers='text'", "key=42",
		"payload=2.5", "stream=7, version=1",
		"stream='cart-9', version='one'", "stream='cart-9'",
		"version=3", // a version without its stream
	};
	dmg_each_row(
	    f, sets, sizeof(sets) / sizeof(sets[0]), WEIR_STORE_DAMAGE_COLUMN);
}

static void
test_null_columns(void **state)
{
	fx         *f      = *state;
	const char *sets[] = { "id=NULL", "ts=NULL", "topic=NULL" };
	dmg_each_row(
	    f, sets, sizeof(sets) / sizeof(sets[0]), WEIR_STORE_DAMAGE_COLUMN);
}

// Right types, wrong contents: the decoder must refuse them.
static void
test_undecodable(void **state)
{
	fx         *f      = *state;
	const char *sets[] = {
		"topic='a..b'", "headers=x'ffff00'",
		// A name with a NUL inside would read back as a shorter name.
		"headers=x'0500616200630000000000'", "headers=x'020061'",
		"headers=x'02'",           // too short for a name's length
		"headers=x'000000000000'", // a name of length 0
	};
	dmg_each_row(
	    f, sets, sizeof(sets) / sizeof(sets[0]), WEIR_STORE_DAMAGE_DECODE);
}

static void
test_stream_null_version(void **state)
{
	fx       *f = *state;
	dmg_found d;
	weir_err  read_rv;
	dmg_untype(f);
	dmg_sql(f, "UPDATE streams SET version=NULL");
	assert_int_equal(dmg_read_all(f, &d, &read_rv), WEIR_ECORRUPT);
	assert_true(dmg_has(&d, WEIR_STORE_DAMAGE_COLUMN, "streams", 0));
}

static void
test_dead_letter_damage(void **state)
{
	fx       *f = *state;
	dmg_found d;
	weir_err  read_rv;
	dmg_sql(f, "UPDATE dead_letters SET headers=x'ff'");
	assert_int_equal(dmg_read_all(f, &d, &read_rv), WEIR_ECORRUPT);
	assert_true(dmg_has(&d, WEIR_STORE_DAMAGE_DECODE, "dead_letters", 1));
	// An id of the wrong type: the list refuses the row, the check
	// names the column.
	dmg_sql(f, "UPDATE dead_letters SET headers=NULL, id=hex(id)");
	assert_int_equal(dmg_read_all(f, &d, &read_rv), WEIR_ECORRUPT);
	assert_true(dmg_has(&d, WEIR_STORE_DAMAGE_COLUMN, "dead_letters", 1));
	fx_open(f);
	assert_weir_err(
	    weir_store_dead_list(f->st, NULL, 0, dmg_dead_fn, NULL),
	    WEIR_ECORRUPT);
	weir_store_destroy(f->st);
	f->st = NULL;
}

static void
test_dropped_tables(void **state)
{
	fx         *f        = *state;
	const char *tables[] = { "events", "streams", "cursors", "meta",
		"snapshots", "dead_letters", "inbox" };
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		char      sql[64];
		dmg_found d;
		weir_err  read_rv;
		snprintf(sql, sizeof(sql), "DROP TABLE %s", tables[i]);
		dmg_sql(f, sql);
		weir_err rv = dmg_read_all(f, &d, &read_rv);
		if (rv == WEIR_OK ||
		    (rv == WEIR_ECORRUPT &&
		        !dmg_has(&d, WEIR_STORE_DAMAGE_TABLE, tables[i], 0))) {
			print_error(
			    "dropped %s: %s\n", tables[i], weir_err_name(rv));
			fail();
		}
		fx_rmdir(f->dir);
		fx_dir(f);
		dmg_make(f);
	}
}

static off_t
dmg_size(fx *f)
{
	struct stat sb;
	assert_int_equal(stat(f->path, &sb), 0);
	return sb.st_size;
}

static void
test_truncated(void **state)
{
	fx   *f      = *state;
	off_t full   = dmg_size(f);
	off_t cuts[] = { 50, 100, 4096, 4096 + 2000, full / 2, full - 4096,
		full - 1 };
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		dmg_found d;
		weir_err  read_rv;
		assert_int_equal(truncate(f->path, cuts[i]), 0);
		weir_err rv = dmg_read_all(f, &d, &read_rv);
		// Half the log gone must be noticed, by open or by check.
		if (cuts[i] == full / 2) {
			assert_int_not_equal(rv, WEIR_OK);
		}
		fx_rmdir(f->dir);
		fx_dir(f);
		dmg_make(f);
	}
}

// xorshift64: the damage is the same on every run (seed printed).
static uint64_t
dmg_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void
dmg_write(const char *path, const unsigned char *buf, size_t len)
{
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(buf, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void
test_page_damage(void **state)
{
	fx            *f     = *state;
	size_t         len   = (size_t) dmg_size(f);
	unsigned char *clean = malloc(len), *buf = malloc(len);
	FILE          *fp = fopen(f->path, "rb");
	assert_int_equal(fread(clean, 1, len, fp), len);
	fclose(fp);
	uint64_t seed = 0x5eed1234abcdULL, s = seed;
	int      found = 0, refused = 0, rounds = 120;
	for (int r = 0; r < rounds; r++) {
		memcpy(buf, clean, len);
		size_t page = (size_t) (dmg_rand(&s) % (len / 4096)) * 4096;
		int    n    = 1 + (int) (dmg_rand(&s) % 24);
		for (int i = 0; i < n; i++) {
			buf[page + dmg_rand(&s) % 4096] =
			    (unsigned char) dmg_rand(&s);
		}
		dmg_write(f->path, buf, len);
		dmg_found d;
		weir_err  read_rv;
		weir_err  rv = dmg_read_all(f, &d, &read_rv);
		found += rv == WEIR_ECORRUPT && read_rv == WEIR_OK;
		refused += rv != WEIR_OK && read_rv != WEIR_OK;
		fx_rmdir(f->dir);
		fx_dir(f);
		snprintf(f->path, sizeof(f->path), "%s/log.db", f->dir);
	}
	print_message("page damage (seed %#llx): %d rounds, %d refused at "
	              "open or read, %d more found by check only\n",
	    (unsigned long long) seed, rounds, refused, found);
	free(clean);
	free(buf);
}

static int
dmg_teardown(void **state)
{
	fx *f = *state;
	weir_store_destroy(f->st);
	fx_rmdir(f->dir);
	free(f);
	return 0;
}

// Writes @p blob as the headers of seq 9.
static void
dmg_set_headers(fx *f, const uint8_t *blob, size_t len)
{
	sqlite3      *db;
	sqlite3_stmt *s;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_prepare_v2(
	        db, "UPDATE events SET headers=?1 WHERE seq=9", -1, &s, NULL),
	    SQLITE_OK);
	sqlite3_bind_blob(s, 1, blob, (int) len, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);
	sqlite3_close(db);
}

static void
dmg_headers_refused(fx *f, const uint8_t *blob, size_t len)
{
	dmg_found d;
	weir_err  read_rv;
	dmg_set_headers(f, blob, len);
	assert_int_equal(dmg_read_all(f, &d, &read_rv), WEIR_ECORRUPT);
	assert_int_equal(read_rv, WEIR_ECORRUPT);
	assert_true(dmg_has(&d, WEIR_STORE_DAMAGE_DECODE, "events", 9));
}

// A header blob of more headers than an event may have (WEIR_MAX_HEADERS
// + 1 headers "a", each well formed): refused as damaged, not decoded
// past the end of the decoder's array.
static void
test_too_many_headers(void **state)
{
	uint8_t       blob[(WEIR_MAX_HEADERS + 1) * 8];
	const uint8_t one[8] = { 2, 0, 'a', 0, 0, 0, 0, 0 };
	for (size_t i = 0; i <= WEIR_MAX_HEADERS; i++) {
		memcpy(blob + 8 * i, one, 8);
	}
	dmg_headers_refused(*state, blob, sizeof(blob));
}

// A well-formed header whose name is longer than an event's may be
// (WEIR_MAX_HEADER_NAME + 1 bytes): the row decodes, but is no event.
static void
test_header_name_too_long(void **state)
{
	enum { NLEN = WEIR_MAX_HEADER_NAME + 2 }; // with its NUL
	uint8_t blob[2 + NLEN + 4] = { NLEN & 0xff, NLEN >> 8 };
	memset(blob + 2, 'n', NLEN - 1);
	blob[2 + NLEN - 1] = 0;
	dmg_headers_refused(*state, blob, sizeof(blob));
}

// A table without a column weir reads (cursors without `updated`): the
// check reports the table as damaged and names the column.
static void
test_missing_column(void **state)
{
	fx       *f = *state;
	dmg_found d;
	weir_err  read_rv;
	dmg_sql(f,
	    "CREATE TABLE c2(name TEXT PRIMARY KEY, seq INTEGER)"
	    " WITHOUT ROWID;"
	    "INSERT INTO c2 SELECT name, seq FROM cursors;"
	    "DROP TABLE cursors; ALTER TABLE c2 RENAME TO cursors;");
	assert_int_equal(dmg_read_all(f, &d, &read_rv), WEIR_ECORRUPT);
	assert_true(dmg_has(&d, WEIR_STORE_DAMAGE_TABLE, "cursors", 0));
	fx_open(f);
	assert_weir_err(weir_store_check(f->st), WEIR_ECORRUPT);
	assert_non_null(strstr(weir_store_errmsg(f->st), "updated"));
	weir_store_destroy(f->st);
	f->st = NULL;
}

// A row whose topic is NULL: a read by pattern does not match it (the
// match function takes NULL as no match) and goes on; a read of
// everything refuses it as damaged.
static void
test_null_topic_by_pattern(void **state)
{
	fx *f = *state;
	dmg_untype(f);
	dmg_sql(f, "UPDATE events SET topic=NULL WHERE seq=9");
	fx_open(f);
	size_t            n   = 0;
	weir_store_filter flt = { .size = sizeof(flt), .pattern = "orders.>" };
	assert_weir_ok(weir_store_read(f->st, &flt, dmg_read_fn, &n));
	assert_int_equal(n, DMG_EVENTS - 1);
	n = 0;
	assert_weir_err(
	    weir_store_read_all(f->st, 0, 0, dmg_read_fn, &n), WEIR_ECORRUPT);
	assert_int_equal(n, 8);
	weir_store_destroy(f->st);
	f->st = NULL;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_intact, dmg_setup, dmg_teardown),
		cmocka_unit_test_setup_teardown(
		    test_wrong_types, dmg_setup, dmg_teardown),
		cmocka_unit_test_setup_teardown(
		    test_null_columns, dmg_setup, dmg_teardown),
		cmocka_unit_test_setup_teardown(
		    test_undecodable, dmg_setup, dmg_teardown),
		cmocka_unit_test_setup_teardown(
		    test_stream_null_version, dmg_setup, dmg_teardown),
		cmocka_unit_test_setup_teardown(
		    test_dead_letter_damage, dmg_setup, dmg_teardown),
		cmocka_unit_test_setup_teardown(
		    test_dropped_tables, dmg_setup, dmg_teardown),
		cmocka_unit_test_setup_teardown(
		    test_truncated, dmg_setup, dmg_teardown),
		cmocka_unit_test_setup_teardown(
		    test_page_damage, dmg_setup, dmg_teardown),
		cmocka_unit_test_setup_teardown(
		    test_too_many_headers, dmg_setup, dmg_teardown),
		cmocka_unit_test_setup_teardown(
		    test_header_name_too_long, dmg_setup, dmg_teardown),
		cmocka_unit_test_setup_teardown(
		    test_missing_column, dmg_setup, dmg_teardown),
		cmocka_unit_test_setup_teardown(
		    test_null_topic_by_pattern, dmg_setup, dmg_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
