/*
 * Checked binds (src/store/bind.c): a value SQLite refuses to bind is
 * an error of the call, never a row stored with the value left NULL
 * (issue 12, defect 2). The store keeps every value below SQLite's own
 * limit (1 GB), so to reach a refused bind the test lowers the length
 * limit of every connection the store opens, with an SQLite automatic
 * extension (SQLite's public API; nothing in the library changes): a
 * 5,000-byte blob against a 4,096-byte limit.
 */
#include <sqlite3.h>

#include "fixture.h"
#include "store/inbox.h"

#define BIND_LIMIT 4096
#define BIND_BIG 5000

static int
bind_limit_entry(sqlite3 *db, const char **err, const void *api)
{
	(void) err;
	(void) api;
	sqlite3_limit(db, SQLITE_LIMIT_LENGTH, BIND_LIMIT);
	return SQLITE_OK;
}

static int
bind_setup(void **state)
{
	// A function pointer of type void (*)(void) stands for any.
	assert_int_equal(sqlite3_auto_extension((void (*)(void))(
	                     void (*)(void)) bind_limit_entry),
	    SQLITE_OK);
	return fx_setup(state);
}

static int
bind_teardown(void **state)
{
	int rv = fx_teardown(state);
	sqlite3_reset_auto_extension();
	return rv;
}

static weir_event *
big_event(const char *topic)
{
	char       *big = wt_filled(BIND_BIG, 'x');
	weir_event *ev  = fx_event(topic, big);
	free(big);
	return ev;
}

// The store works below the limit and refuses above it, cleanly.
static void
assert_usable(fx *f, uint64_t want_last)
{
	uint64_t last;
	assert_weir_ok(weir_store_last_seq(f->st, &last));
	assert_int_equal(last, want_last);
	assert_int_equal(fx_append(f->st, "small.x", "s"), want_last + 1);
}

static void
test_append(void **state)
{
	fx                    *f   = *state;
	weir_event            *ev  = big_event("big.x");
	weir_store_append_opts o   = { .size = sizeof(o), .stream = "s" };
	uint64_t               seq = 99;
	int64_t                v   = 99;
	assert_weir_err(
	    weir_store_append(f->st, ev, NULL, &seq, NULL), WEIR_ETOOBIG);
	assert_int_equal(seq, 0);
	assert_non_null(strstr(weir_store_errmsg(f->st), "append"));
	assert_weir_err(
	    weir_store_append(f->st, ev, &o, NULL, NULL), WEIR_ETOOBIG);
	assert_weir_ok(weir_store_stream_version(f->st, "s", &v));
	assert_int_equal(v, 0);
	assert_usable(f, 0);
	weir_event_release(ev);
}

static void
test_dead_letter(void **state)
{
	fx         *f  = *state;
	weir_event *ev = big_event("big.x");
	uint64_t    id = 99;
	assert_weir_err(
	    weir_store_dead_add(f->st, ev, "r", WEIR_EIO, "m", &id),
	    WEIR_ETOOBIG);
	assert_int_equal(id, 0);
	uint64_t purged = 99;
	assert_weir_ok(weir_store_dead_purge(f->st, NULL, &purged));
	assert_int_equal(purged, 0); // nothing was stored
	assert_usable(f, 0);
	weir_event_release(ev);
}

static void
snap_fn(weir_store *st, const char *stream, int64_t version, const void *data,
    size_t len, void *arg)
{
	(void) st;
	(void) stream;
	(void) data;
	(void) len;
	*(int64_t *) arg = version;
}

static void
test_snapshot(void **state)
{
	fx     *f   = *state;
	char   *big = wt_filled(BIND_BIG, 's');
	int64_t got = 0;
	assert_weir_ok(weir_store_snapshot_save(f->st, "s", 1, "small", 5));
	assert_weir_err(weir_store_snapshot_save(f->st, "s", 2, big, BIND_BIG),
	    WEIR_ETOOBIG);
	assert_non_null(strstr(weir_store_errmsg(f->st), "snapshot"));
	assert_weir_ok(weir_store_snapshot_load(f->st, "s", snap_fn, &got));
	assert_int_equal(got, 1);
	free(big);
}

typedef struct ib {
	int      n;
	weir_err err;
	int      dup;
} ib;

static void
ib_fn(weir_store *st, weir_err err, uint64_t seq, int dup, void *arg)
{
	ib *d = arg;
	(void) st;
	(void) seq;
	d->err = err;
	d->dup = dup;
	d->n++;
}

// An inbox append whose event cannot be stored must not leave its id
// marked as seen: the broker's redelivery would then be dropped as a
// duplicate, and the event lost.
static void
test_inbox(void **state)
{
	fx         *f  = *state;
	weir_event *ev = big_event("big.x");
	ib          d  = { 0 };
	uint64_t    n  = 99;
	assert_weir_ok(weir__store_inbox_append(f->st, ev, ib_fn, &d));
	assert_weir_ok(weir_store_flush(f->st));
	wt_wait_until(d.n == 1);
	assert_int_equal(d.err, WEIR_ETOOBIG);
	assert_weir_ok(weir__store_inbox_count(f->st, &n));
	assert_int_equal(n, 0);
	assert_usable(f, 0);
	weir_event_release(ev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_append, bind_setup, bind_teardown),
		cmocka_unit_test_setup_teardown(
		    test_dead_letter, bind_setup, bind_teardown),
		cmocka_unit_test_setup_teardown(
		    test_snapshot, bind_setup, bind_teardown),
		cmocka_unit_test_setup_teardown(
		    test_inbox, bind_setup, bind_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
