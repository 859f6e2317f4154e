/*
 * The inbox's order (schema version 5): rows are numbered in the order
 * their ids were first seen, without an index on ts, and pruning goes
 * by that order (src/store/inbox.c). By age: the rows before the first
 * one seen at or after the limit, so a row whose clock stepped back
 * stays while a newer row before it does. By count: exactly the newest
 * `keep`. And the migration from version 4 (the inbox keyed by id with
 * the inbox_ts index): rows keep their order of first sight, the index
 * goes, and a migrated id is still a duplicate.
 */
#include <sqlite3.h>
#include <stdatomic.h>

#include "fixture.h"
#include "store/inbox.h"
#include "store/schema.h"

typedef struct io_done {
	atomic_int n;
	weir_err   err;
	int        dup;
} io_done;

static void
io_fn(weir_store *st, weir_err err, uint64_t seq, int dup, void *arg)
{
	io_done *d = arg;
	(void) st;
	(void) seq;
	d->err = err;
	d->dup = dup;
	atomic_fetch_add(&d->n, 1);
}

// An inbox append of an event with id @p id, waited for: 1 if the id
// was a duplicate, 0 if new.
static int
io_append(weir_store *st, const uint8_t id[16])
{
	io_done         d = { .n = 0 };
	weir_event     *ev;
	weir_event_init init = {
		.size = sizeof init, .topic = "in.o", .id = id
	};
	assert_weir_ok(weir_event_new(&ev, &init));
	assert_weir_ok(weir__store_inbox_append(st, ev, io_fn, &d));
	assert_weir_ok(weir_store_flush(st));
	wt_wait_until(atomic_load(&d.n) == 1);
	assert_weir_ok(d.err);
	weir_event_release(ev);
	return d.dup;
}

// The ts of the inbox rows, in their order (n), as "ts,ts,...".
static void
io_rows(fx *f, char *out, size_t cap)
{
	sqlite3      *db;
	sqlite3_stmt *s;
	size_t        len = 0;
	out[0]            = '\0';
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
	                     "SELECT ts FROM inbox ORDER BY n", -1, &s, NULL),
	    SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW && len < cap) {
		len += (size_t) snprintf(out + len, cap - len, "%s%lld",
		    len ? "," : "", (long long) sqlite3_column_int64(s, 0));
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
}

// Rows seen at 10, 30, 5 (the clock stepped back), 40, 50, 20.
static void
io_fill(fx *f)
{
	fx_sql(f,
	    "INSERT INTO inbox(id,ts) VALUES(x'01',10),(x'02',30),"
	    "(x'03',5),(x'04',40),(x'05',50),(x'06',20)");
}

// Prunes by age (before @p before, 0: no age limit) then by count (to
// @p keep, 0: none); checks @p pruned rows went and, unless @p left is
// NULL, that the rows left are @p left (as io_rows() writes them).
static void
io_prune(
    fx *f, int64_t before, uint64_t keep, uint64_t pruned, const char *left)
{
	uint64_t n = 99;
	char     rows[200];
	assert_weir_ok(weir__store_inbox_prune(f->st, before, keep, &n));
	assert_int_equal(n, pruned);
	if (left != NULL) {
		io_rows(f, rows, sizeof rows);
		assert_string_equal(rows, left);
	}
}

static void
test_prune_by_age_in_arrival_order(void **state)
{
	fx *f = *state;
	io_fill(f);
	// Nothing seen before 5.
	io_prune(f, 5, 0, 0, NULL);
	// Before 25: only the first; the row of 5 comes after 30.
	io_prune(f, 25, 0, 1, "30,5,40,50,20");
	// Before 45: up to the row of 50; the 20 after it stays.
	io_prune(f, 45, 0, 3, "50,20");
	// Before a time no row reaches: every row goes.
	io_prune(f, 51, 0, 2, NULL);
	io_prune(f, 51, 0, 0, NULL);
}

static void
test_prune_by_count_keeps_the_newest(void **state)
{
	fx *f = *state;
	io_fill(f);
	io_prune(f, 0, 6, 0, NULL);
	io_prune(f, 0, 4, 2, "5,40,50,20");
	// Both limits: by age first (up to the row of 40), then count.
	io_prune(f, 35, 1, 3, "20");
	// New rows (the ids a trim removes from the log, first seen at the
	// trim) go after the old ones whatever their ts.
	uint8_t  id[16] = { 0xaa };
	uint64_t deleted;
	assert_int_equal(io_append(f->st, id), 0);
	assert_weir_ok(weir_store_trim(f->st, 2, 0, &deleted));
	assert_int_equal(deleted, 1);
	io_prune(f, 0, 1, 1, NULL);
	assert_int_equal(io_append(f->st, id), 1);
}

// A version 4 store with inbox rows seen out of id order migrates: the
// rows are numbered by their ts, inbox_ts is gone, and pruning by count
// keeps the newest. (An inbox append adds no row: its event is in the
// log.)
static void
test_migrate_from_v4(void **state)
{
	fx           *f = *state;
	sqlite3      *db;
	sqlite3_stmt *s;
	char          rows[200];
	weir_store_destroy(f->st);
	f->st = NULL;
	unlink(f->path);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_weir_ok(weir__schema_migrate(NULL, db, 0, 4));
	assert_int_equal(sqlite3_exec(db,
	                     "INSERT INTO inbox(id,ts) VALUES"
	                     "(x'0001',300),(x'0002',100),(x'0003',200)",
	                     NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	fx_open(f);
	io_rows(f, rows, sizeof rows);
	assert_string_equal(rows, "100,200,300");
	uint8_t id[16] = { 0x00, 0x02 };
	assert_int_equal(io_append(f->st, id), 0); // 16 bytes: not x'0002'
	assert_weir_ok(weir_store_check(f->st));
	fx_sql(f, "INSERT INTO inbox(id,ts) VALUES(x'0004',50)");
	uint64_t n = 99;
	assert_weir_ok(weir__store_inbox_prune(f->st, 0, 3, &n));
	assert_int_equal(n, 1);
	io_rows(f, rows, sizeof rows);
	assert_string_equal(rows, "200,300,50");
	assert_int_equal(io_append(f->st, id), 1); // the log has it
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_prepare_v2(db,
	    "SELECT (SELECT count(*) FROM sqlite_master WHERE "
	    "name='inbox_ts'), (SELECT count(*) FROM sqlite_master WHERE "
	    "name LIKE 'inbox5%'), (SELECT user_version FROM "
	    "pragma_user_version)",
	    -1, &s, NULL);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), 0);
	assert_int_equal(sqlite3_column_int(s, 1), 0);
	assert_int_equal(sqlite3_column_int(s, 2), WEIR__SCHEMA_VERSION);
	sqlite3_finalize(s);
	sqlite3_close(db);
}

// A store of schema 5 made before inbox appends stopped adding rows: its
// inbox rows stay valid (their ids are duplicates, found because the
// writer sees at open that the inbox has rows), and its trims record
// ids although it has not taken an inbox append since.
static void
test_v5_rows_stay_valid(void **state)
{
	fx      *f = *state;
	sqlite3 *db;
	uint8_t  old[16] = { 0x01, 0x90 }, now[16] = { 0x01, 0x91 };
	weir_store_destroy(f->st);
	f->st = NULL;
	unlink(f->path);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_weir_ok(weir__schema_migrate(NULL, db, 0, 5));
	assert_int_equal(sqlite3_exec(db,
	                     "INSERT INTO inbox(id,ts) VALUES"
	                     "(x'01900000000000000000000000000000',100)",
	                     NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	fx_open(f);
	uint64_t seq = 99, deleted = 99;
	fx_append(f->st, "local", "l");
	assert_weir_ok(weir_store_trim(f->st, 2, 0, &deleted));
	assert_int_equal(deleted, 1);
	char rows[200];
	io_rows(f, rows, sizeof rows);
	assert_int_equal(strncmp(rows, "100,", 4), 0);
	assert_int_equal(io_append(f->st, old), 1);
	assert_int_equal(io_append(f->st, now), 0);
	assert_weir_ok(weir_store_last_seq(f->st, &seq));
	assert_int_equal(seq, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_prune_by_age_in_arrival_order, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_prune_by_count_keeps_the_newest, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_migrate_from_v4, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_v5_rows_stay_valid, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
