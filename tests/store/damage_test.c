/*
 * Damaged rows, made with raw SQL through the sqlite3 API: every list
 * and read gives WEIR_ECORRUPT and never hands a NULL to a callback.
 */
#include <sqlite3.h>

#include "fixture.h"

// Runs @p sql on the store file of @p f with the store closed.
static void
damage(fx *f, const char *sql)
{
	weir_store_destroy(f->st);
	f->st = NULL;
	sqlite3 *db;
	char    *err = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		print_error("damage: %s\n", err);
		fail();
	}
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	fx_open(f);
}

static void
on_cursor(weir_store *st, const char *name, uint64_t seq, void *arg)
{
	(void) st;
	(void) seq;
	assert_non_null(name);
	(*(int *) arg)++;
}

// Regression: a cursor row with a NULL name reached the callback.
static void
test_cursor_null_name(void **state)
{
	fx *f = *state;
	int n = 0;
	assert_weir_ok(weir_store_cursor_set(f->st, "relay", 3));
	damage(f,
	    "CREATE TABLE c2 AS SELECT * FROM cursors; DROP TABLE cursors;"
	    " ALTER TABLE c2 RENAME TO cursors;"
	    " UPDATE cursors SET name=NULL;");
	assert_weir_err(
	    weir_store_cursor_list(f->st, on_cursor, &n), WEIR_ECORRUPT);
	assert_int_equal(n, 0);
}

static weir_err
on_dead(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	(void) st;
	assert_non_null(dl->origin);
	assert_non_null(dl->message);
	(*(int *) arg)++;
	return WEIR_OK;
}

// Regression: a dead letter with a NULL origin reached the callback.
static void
test_dead_null_origin(void **state)
{
	fx         *f  = *state;
	weir_event *ev = fx_event("orders.created", "1");
	int         n  = 0;
	assert_weir_ok(
	    weir_store_dead_add(f->st, ev, "route", WEIR_EBACKEND, "x", NULL));
	weir_event_release(ev);
	damage(f,
	    "CREATE TABLE d2 AS SELECT * FROM dead_letters;"
	    " DROP TABLE dead_letters;"
	    " ALTER TABLE d2 RENAME TO dead_letters;"
	    " UPDATE dead_letters SET origin=NULL;");
	assert_weir_err(
	    weir_store_dead_list(f->st, NULL, 0, on_dead, &n), WEIR_ECORRUPT);
	assert_int_equal(n, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_cursor_null_name, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_dead_null_origin, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
