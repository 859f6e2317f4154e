/*
 * Opening, migrating, refusing and closing stores.
 */
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "fixture.h"
#include "store/schema.h"

static void
raw_exec(const char *path, const char *sql)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static weir_err
try_open(const char *path, char *msg, size_t size)
{
	weir_store *st = (weir_store *) 1;
	weir_err    rv = weir_store_open(&st, path, NULL, msg, size);
	if (rv == WEIR_OK) {
		weir_store_destroy(st);
	} else {
		assert_null(st);
	}
	return rv;
}

static void
test_create_mode(void **state)
{
	fx         *f = *state;
	struct stat sb;
	char        wal[700];
	fx_append(f->st, "a.b", "x");
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	assert_int_equal(stat(wal, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
}

static void
test_reopen(void **state)
{
	fx      *f = *state;
	uint64_t seq;
	assert_int_equal(fx_append(f->st, "a.b", "1"), 1);
	assert_int_equal(fx_append(f->st, "a.b", "2"), 2);
	weir_store_destroy(f->st);
	fx_open(f);
	assert_weir_ok(weir_store_last_seq(f->st, &seq));
	assert_int_equal(seq, 2);
	assert_int_equal(fx_append(f->st, "a.b", "3"), 3);
}

static void
test_not_a_database(void **state)
{
	fx  *f = *state;
	char other[700], msg[256];
	snprintf(other, sizeof(other), "%s/notes.txt", f->dir);
	FILE *fp = fopen(other, "w");
	for (int i = 0; i < 100; i++) {
		fputs("these are not the pages you are looking for\n", fp);
	}
	fclose(fp);
	assert_weir_err(try_open(other, msg, sizeof(msg)), WEIR_ENOTSTORE);
	assert_non_null(strstr(msg, "not a weir store"));
}

static void
test_foreign_database(void **state)
{
	fx  *f = *state;
	char other[700], msg[256];
	snprintf(other, sizeof(other), "%s/app.db", f->dir);
	raw_exec(other, "CREATE TABLE t(x); INSERT INTO t VALUES(1)");
	assert_weir_err(try_open(other, msg, sizeof(msg)), WEIR_ENOTSTORE);
	assert_non_null(strstr(msg, "another application"));
	// The foreign file was not switched to WAL behind its owner's back.
	sqlite3      *db;
	sqlite3_stmt *s;
	assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
	sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal(
	    (const char *) sqlite3_column_text(s, 0), "delete");
	sqlite3_finalize(s);
	sqlite3_close(db);
	// No tables, no application id, but a schema version: not empty,
	// so not a new store either.
	snprintf(other, sizeof(other), "%s/versioned.db", f->dir);
	raw_exec(other, "PRAGMA user_version=5");
	assert_weir_err(try_open(other, msg, sizeof(msg)), WEIR_ENOTSTORE);
	assert_non_null(strstr(msg, "another application"));
}

static void
test_newer_version(void **state)
{
	fx  *f = *state;
	char msg[256];
	weir_store_destroy(f->st);
	f->st = NULL;
	raw_exec(f->path, "PRAGMA user_version=99");
	assert_weir_err(try_open(f->path, msg, sizeof(msg)), WEIR_EVERSION);
	assert_non_null(strstr(msg, "newer"));
	char back[64];
	snprintf(back, sizeof(back), "PRAGMA user_version=%d",
	    WEIR__SCHEMA_VERSION);
	raw_exec(f->path, back);
	fx_open(f); // back to a version it knows: usable again
}

static void
test_migrate_from_v1(void **state)
{
	fx      *f = *state;
	char     old[700], msg[256];
	sqlite3 *db;
	snprintf(old, sizeof(old), "%s/v1.db", f->dir);
	assert_int_equal(sqlite3_open(old, &db), SQLITE_OK);
	assert_weir_ok(weir__schema_migrate(NULL, db, 0, 1));
	// Without a store handle a failure is only its code.
	assert_weir_err(weir__schema_migrate(NULL, db, 0, 1), WEIR_ESTORE);
	sqlite3_exec(db,
	    "INSERT INTO events(seq,id,ts,topic) VALUES(1,"
	    "x'00112233445566778899aabbccddeeff',5,'old.event')",
	    NULL, NULL, NULL);
	sqlite3_close(db);
	weir_store *st;
	assert_weir_ok(weir_store_open(&st, old, NULL, msg, sizeof(msg)));
	weir_event *ev = fx_event("new.event", "n");
	uint64_t    seq, id;
	assert_weir_ok(weir_store_append(st, ev, NULL, &seq, NULL));
	assert_int_equal(seq, 2);
	// Version 2 added the dead letters.
	assert_weir_ok(
	    weir_store_dead_add(st, ev, "route", WEIR_EIO, "x", &id));
	weir_event_release(ev);
	weir_store_destroy(st);
	assert_int_equal(sqlite3_open(old, &db), SQLITE_OK);
	sqlite3_stmt *s;
	sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), WEIR__SCHEMA_VERSION);
	sqlite3_finalize(s);
	sqlite3_close(db);
}

static void
test_missing_directory(void **state)
{
	fx  *f = *state;
	char path[700], msg[256];
	snprintf(path, sizeof(path), "%s/no/such/dir/log.db", f->dir);
	assert_weir_err(try_open(path, msg, sizeof(msg)), WEIR_ENOENT);
	assert_non_null(strstr(msg, "does not exist"));
	assert_int_equal(fx_append(f->st, "still.fine", "x"), 1);
}

static void
test_readonly_directory(void **state)
{
	fx  *f = *state;
	char path[800], msg[256], ro[700];
	if (geteuid() == 0) {
		// root ignores permission bits; sysfs refuses new files.
		snprintf(path, sizeof(path), "/sys/weir-store-test.db");
	} else {
		snprintf(ro, sizeof(ro), "%s/ro", f->dir);
		assert_int_equal(mkdir(ro, 0500), 0);
		snprintf(path, sizeof(path), "%s/log.db", ro);
	}
	assert_weir_err(try_open(path, msg, sizeof(msg)), WEIR_EREADONLY);
	assert_true(strstr(msg, "not writable") || strstr(msg, "cannot open"));
}

static void
test_closed(void **state)
{
	fx         *f  = *state;
	weir_event *ev = fx_event("a.b", "x");
	uint64_t    seq;
	fx_got      got = { 0 };
	weir_store_close(f->st);
	weir_store_close(f->st); // twice is fine
	assert_weir_err(
	    weir_store_append(f->st, ev, NULL, &seq, NULL), WEIR_ECLOSED);
	assert_string_equal(weir_store_errmsg(f->st), "store is closed");
	assert_weir_err(
	    weir_store_read_all(f->st, 0, 0, fx_collect, &got), WEIR_ECLOSED);
	assert_weir_err(weir_store_cursor_set(f->st, "c", 1), WEIR_ECLOSED);
	assert_weir_err(weir_store_flush(f->st), WEIR_ECLOSED);
	weir_event_release(ev);
}

static void
test_bad_arguments(void **state)
{
	fx         *f = *state;
	weir_store *st;
	char        msg[128];
	(void) f;
	assert_weir_err(
	    weir_store_open(NULL, "x", NULL, NULL, 0), WEIR_EINVAL);
	assert_weir_err(
	    weir_store_open(&st, NULL, NULL, NULL, 0), WEIR_EINVAL);
	assert_weir_err(
	    weir_store_open(&st, ":memory:", NULL, msg, sizeof(msg)),
	    WEIR_ENOTSUP);
	assert_non_null(strstr(msg, "in-memory"));
	// An empty path; no room for a message: none is written.
	assert_weir_err(
	    weir_store_open(&st, "", NULL, msg, sizeof(msg)), WEIR_EINVAL);
	assert_null(st);
	assert_string_equal(msg, weir_strerror(WEIR_EINVAL));
	strcpy(msg, "untouched");
	assert_weir_err(
	    weir_store_open(&st, ":memory:", NULL, msg, 0), WEIR_ENOTSUP);
	assert_string_equal(msg, "untouched");
	assert_weir_err(
	    weir_store_open(&st, ":memory:", NULL, NULL, 64), WEIR_ENOTSUP);
	// No store, no buffer: the messages say so, nothing crashes.
	assert_string_equal(weir_store_errmsg(NULL), "no store");
	weir_store_errmsg_copy(NULL, msg, sizeof(msg));
	assert_string_equal(msg, "no store");
	weir_store_errmsg_copy(f->st, NULL, sizeof(msg));
	weir_store_errmsg_copy(f->st, msg, 0);
	assert_string_equal(msg, "no store");
	weir_store_destroy(NULL);
	weir_store_close(NULL);
}

static void
test_corrupt_file(void **state)
{
	fx  *f = *state;
	char pad[200];
	memset(pad, 'p', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = 0;
	for (int i = 0; i < 2000; i++) {
		weir_event            *ev  = fx_event("bulk.data", pad);
		weir_store_append_opts opt = { .size = sizeof(opt),
			.flags = WEIR_STORE_APPEND_NOWAIT };
		assert_weir_ok(weir_store_append(f->st, ev, &opt, NULL, NULL));
		weir_event_release(ev);
	}
	weir_store_destroy(f->st); // checkpoints: everything in the file
	f->st  = NULL;
	int fd = open(f->path, O_WRONLY);
	assert_true(fd >= 0);
	char junk[4096];
	memset(junk, 0xa5, sizeof(junk));
	for (off_t off = 4096 * 3; off < 4096 * 40; off += 4096 * 2) {
		assert_int_equal(pwrite(fd, junk, sizeof(junk), off), 4096);
	}
	close(fd);
	char        msg[256];
	weir_store *st;
	weir_err    rv = weir_store_open(&st, f->path, NULL, msg, sizeof(msg));
	if (rv == WEIR_OK) {
		fx_got got = { 0 };
		assert_weir_err(weir_store_check(st), WEIR_ECORRUPT);
		assert_non_null(strstr(weir_store_errmsg(st), "integrity"));
		rv = weir_store_read_all(st, 0, 0, fx_collect, &got);
		weir_store_destroy(st);
	}
	assert_weir_err(rv, WEIR_ECORRUPT);
}

// A store whose recorded schema version is behind its tables (here 2,
// with version 3's inbox already there): the migration fails, the open
// says which, and nothing is changed (the version stays 2).
static void
test_migration_fails(void **state)
{
	fx  *f = *state;
	char msg[256];
	fx_append(f->st, "kept.x", "k");
	weir_store_destroy(f->st);
	f->st = NULL;
	fx_sql(f, "PRAGMA user_version=2");
	assert_weir_err(try_open(f->path, msg, sizeof(msg)), WEIR_ESTORE);
	assert_non_null(strstr(msg, "migration"));
	assert_non_null(strstr(msg, "inbox already exists"));
	sqlite3      *db;
	sqlite3_stmt *s;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), 2);
	sqlite3_finalize(s);
	sqlite3_close(db);
	// Put back, the store opens with its event.
	char back[64];
	snprintf(back, sizeof(back), "PRAGMA user_version=%d",
	    WEIR__SCHEMA_VERSION);
	fx_sql(f, back);
	fx_open(f);
	uint64_t last;
	assert_weir_ok(weir_store_last_seq(f->st, &last));
	assert_int_equal(last, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_create_mode, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_reopen, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_not_a_database, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_foreign_database, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_newer_version, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_migrate_from_v1, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_migration_fails, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_missing_directory, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_readonly_directory, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_closed, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_bad_arguments, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_corrupt_file, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
