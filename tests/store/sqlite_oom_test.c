/*
 * Out of memory inside SQLite (SQLite's own test_malloc habit): SQLite's
 * allocations go through a wrapper of its default allocator
 * (SQLITE_CONFIG_MALLOC, installed before SQLite initialises) that
 * makes the n-th allocation from then on fail. Each public store call
 * runs with n = 1, 2, ... until it succeeds; every failure must be
 * WEIR_ENOMEM (SQLITE_NOMEM mapped, never a quiet success or another
 * error), and the store must still append and read afterwards.
 * oom_test.c covers weir's own allocations; this file covers SQLite's.
 */
#include <sqlite3.h>
#include <stdatomic.h>
#include <string.h>

#include "fixture.h"

static sqlite3_mem_methods real_mem;
static _Atomic long        sq_calls;
static _Atomic long        sq_fail_at;

static int
sq_fail_now(void)
{
	return sq_fail_at > 0 && ++sq_calls == sq_fail_at;
}

static void *
sq_malloc(int n)
{
	return sq_fail_now() ? NULL : real_mem.xMalloc(n);
}

static void *
sq_realloc(void *p, int n)
{
	return sq_fail_now() ? NULL : real_mem.xRealloc(p, n);
}

static void
sq_install(void)
{
	sqlite3_mem_methods m;
	assert_int_equal(
	    sqlite3_config(SQLITE_CONFIG_GETMALLOC, &real_mem), SQLITE_OK);
	m          = real_mem;
	m.xMalloc  = sq_malloc;
	m.xRealloc = sq_realloc;
	// Lookaside would serve small allocations without the allocator.
	assert_int_equal(sqlite3_config(SQLITE_CONFIG_MALLOC, &m), SQLITE_OK);
	assert_int_equal(
	    sqlite3_config(SQLITE_CONFIG_LOOKASIDE, 0, 0), SQLITE_OK);
}

static void
sq_arm(long n)
{
	sq_calls   = 0;
	sq_fail_at = n;
}

static long
sq_disarm(void)
{
	long calls = sq_calls;
	sq_fail_at = 0;
	return calls;
}

static const fx_inject sq_inject = { sq_arm, sq_disarm };

#define sq_loop(f, what, fn, arg, sparse) \
	fx_inject_loop(f, &sq_inject, what, fn, arg, sparse, 1)

#define SQ_FAILS(f, fn, arg) assert_true(sq_loop(f, #fn, fn, arg, 0) >= 1)
#define SQ_FAILS_SPARSE(f, fn, arg) \
	assert_true(sq_loop(f, #fn, fn, arg, 1) >= 1)

static int
sq_teardown(void **state)
{
	sq_fail_at = 0;
	return fx_teardown(state);
}

static void
seed(fx *f)
{
	weir_store_append_opts opt = { .size = sizeof(opt), .stream = "s" };
	for (int i = 0; i < 3; i++) {
		weir_event *ev = fx_event("seed.x", "v");
		assert_weir_ok(weir_store_append(f->st, ev, &opt, NULL, NULL));
		weir_event_release(ev);
	}
}

/* ---- open --------------------------------------------------------- */

static weir_err
do_open(fx *f, void *arg)
{
	weir_store *st;
	char        path[700], msg[128];
	snprintf(path, sizeof(path), "%s/%s.db", f->dir, (const char *) arg);
	int      existed = access(path, F_OK) == 0;
	weir_err rv      = weir_store_open(&st, path, NULL, msg, sizeof(msg));
	if (rv != WEIR_OK) {
		assert_null(st);
		// A failed open of a new store leaves no file behind.
		if (!existed) {
			assert_int_equal(access(path, F_OK), -1);
		}
		return rv;
	}
	weir_store_destroy(st);
	return rv;
}

static void
test_open(void **state)
{
	fx *f = *state;
	SQ_FAILS(f, do_open, "other");
	// An existing store (the last run made it): opened, not created.
	SQ_FAILS(f, do_open, "other");
}

/* ---- append, read ------------------------------------------------- */

static weir_err
do_append(fx *f, void *arg)
{
	(void) arg;
	weir_store_append_opts opt = { .size = sizeof(opt), .stream = "a" };
	weir_event            *ev  = fx_event("app.x", "v");
	uint64_t               seq = 0, before, after;
	int64_t                v0 = 0, v1 = 0;
	assert_weir_ok(weir_store_last_seq(f->st, &before));
	(void) weir_store_stream_version(f->st, "a", &v0);
	sq_arm(sq_fail_at); // the probes above allocate too
	weir_err rv = weir_store_append(f->st, ev, &opt, &seq, NULL);
	long     n  = sq_fail_at;
	sq_fail_at  = 0;
	weir_event_release(ev);
	assert_weir_ok(weir_store_last_seq(f->st, &after));
	(void) weir_store_stream_version(f->st, "a", &v1);
	// Nothing half-written: either the event is in, or nothing is.
	assert_int_equal(after, rv == WEIR_OK ? seq : before);
	assert_int_equal(v1, rv == WEIR_OK ? v0 + 1 : v0);
	sq_fail_at = n;
	return rv;
}

static weir_err
do_read(fx *f, void *arg)
{
	(void) arg;
	fx_got            g   = { 0 };
	weir_store_filter flt = { .size = sizeof(flt), .pattern = "seed.>" };
	weir_err          rv  = weir_store_read(f->st, &flt, fx_collect, &g);
	assert_true(rv == WEIR_OK ? g.n == 3 : g.n <= 3);
	return rv;
}

static weir_err
do_read_stream(fx *f, void *arg)
{
	(void) arg;
	fx_got   g = { 0 };
	weir_err rv =
	    weir_store_read_stream(f->st, "s", 0, 0, 0, fx_collect, &g);
	assert_true(rv == WEIR_OK ? g.n == 3 : g.n <= 3);
	return rv;
}

static weir_err
do_version(fx *f, void *arg)
{
	(void) arg;
	int64_t  v = -1;
	uint64_t last;
	weir_err rv = weir_store_stream_version(f->st, "s", &v);
	assert_true(rv != WEIR_OK || v == 3);
	return rv != WEIR_OK ? rv : weir_store_last_seq(f->st, &last);
}

static weir_err
do_check(fx *f, void *arg)
{
	(void) arg;
	return weir_store_check(f->st);
}

static void
test_append_read(void **state)
{
	fx *f = *state;
	seed(f);
	SQ_FAILS(f, do_append, NULL);
	SQ_FAILS(f, do_read, NULL);
	SQ_FAILS(f, do_read_stream, NULL);
	SQ_FAILS(f, do_version, NULL);
}

// On a small store of its own: the integrity check allocates per page.
static void
test_check(void **state)
{
	fx *f = *state;
	seed(f);
	SQ_FAILS_SPARSE(f, do_check, NULL);
}

/* ---- snapshots, cursors, trim ------------------------------------- */

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

static weir_err
do_snapshots(fx *f, void *arg)
{
	(void) arg;
	int64_t  got = 0;
	weir_err rv  = weir_store_snapshot_save(f->st, "s", 2, "state", 5);
	if (rv == WEIR_OK) {
		rv = weir_store_snapshot_load(f->st, "s", snap_fn, &got);
	}
	assert_true(rv != WEIR_OK || got == 2);
	return rv;
}

static void
cursor_fn(weir_store *st, const char *name, uint64_t seq, void *arg)
{
	(void) st;
	(void) name;
	(void) seq;
	(*(int *) arg)++;
}

static weir_err
do_cursors(fx *f, void *arg)
{
	(void) arg;
	uint64_t seq;
	uint64_t deleted;
	int      n  = 0;
	weir_err rv = weir_store_cursor_set(f->st, "c", 1);
	if (rv == WEIR_OK) {
		rv = weir_store_cursor_get(f->st, "c", &seq);
	}
	if (rv == WEIR_OK) {
		rv = weir_store_cursor_list(f->st, cursor_fn, &n);
	}
	if (rv == WEIR_OK) {
		rv = weir_store_trim(f->st, 2, 0, &deleted);
	}
	if (rv == WEIR_OK) {
		rv = weir_store_cursor_delete(f->st, "c");
	}
	return rv;
}

static void
test_snapshots_cursors(void **state)
{
	fx *f = *state;
	seed(f);
	SQ_FAILS(f, do_snapshots, NULL);
	SQ_FAILS(f, do_cursors, NULL);
}

/* ---- dead letters, replay ----------------------------------------- */

static weir_err
dl_count(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	(void) st;
	(void) dl;
	(*(int *) arg)++;
	return WEIR_OK;
}

static weir_err
do_dead(fx *f, void *arg)
{
	(void) arg;
	weir_event *ev = fx_event("orders.failed", "x");
	uint64_t    id = 0, purged = 0;
	int         n = 0;
	size_t      retried;
	weir_err    rv =
	    weir_store_dead_add(f->st, ev, "route", WEIR_EIO, "down", &id);
	weir_event_release(ev);
	if (rv == WEIR_OK) {
		rv = weir_store_dead_list(f->st, NULL, 0, dl_count, &n);
	}
	if (rv == WEIR_OK) {
		rv = weir_store_dead_retry(
		    f->st, "none", dl_count, &n, &retried);
	}
	if (rv == WEIR_OK) {
		rv = weir_store_dead_delete(f->st, id);
	}
	if (rv == WEIR_OK) {
		rv = weir_store_dead_purge(f->st, "route", &purged);
	}
	return rv;
}

static weir_err
do_replay(fx *f, void *arg)
{
	(void) arg;
	fx_got                 g   = { 0 };
	uint64_t               n   = 0;
	weir_store_filter      flt = { .size = sizeof(flt), .stream = "s" };
	weir_store_replay_opts rp  = { .size = sizeof(rp),
		 .filter                     = &flt,
		 .target                     = WEIR_STORE_REPLAY_CALL,
		 .fn                         = fx_collect,
		 .arg                        = &g };
	weir_err               rv  = weir_store_replay(f->st, &rp, &n);
	assert_int_equal(n, g.n);
	assert_true(rv == WEIR_OK ? g.n == 3 : g.n <= 3);
	return rv;
}

static weir_err
progress_fn(
    weir_store *st, uint64_t done, uint64_t total, uint64_t seq, void *arg)
{
	(void) st;
	(void) seq;
	assert_true(done <= total);
	*(uint64_t *) arg = total;
	return WEIR_OK;
}

// With progress: the replay counts what it will replay first.
static weir_err
do_replay_progress(fx *f, void *arg)
{
	(void) arg;
	fx_got                 g = { 0 };
	uint64_t               n = 0, total = 0;
	weir_store_filter      flt = { .size = sizeof(flt), .stream = "s" };
	weir_store_replay_opts rp  = { .size = sizeof(rp),
		 .filter                     = &flt,
		 .target                     = WEIR_STORE_REPLAY_CALL,
		 .fn                         = fx_collect,
		 .arg                        = &g,
		 .progress                   = progress_fn,
		 .progress_arg               = &total,
		 .progress_every             = 1 };
	weir_err               rv  = weir_store_replay(f->st, &rp, &n);
	assert_true(rv == WEIR_OK ? n == 3 && total == 3 : n <= 3);
	return rv;
}

static void
test_dead_replay(void **state)
{
	fx *f = *state;
	seed(f);
	SQ_FAILS(f, do_dead, NULL);
	SQ_FAILS(f, do_replay, NULL);
	SQ_FAILS(f, do_replay_progress, NULL);
}

/* ---- reads on a store with no pooled connection -------------------- */

// Each read below is the first on its store, so it opens its read
// connection, and that open fails too (the pool is empty).
typedef struct fresh {
	weir_err (*read)(weir_store *st);
} fresh;

static weir_err
fresh_cursors(weir_store *st)
{
	int n = 0;
	return weir_store_cursor_list(st, cursor_fn, &n);
}

static weir_err
fresh_snapshot(weir_store *st)
{
	int64_t got = 0;
	return weir_store_snapshot_load(st, "s", snap_fn, &got);
}

static weir_err
fresh_dead(weir_store *st)
{
	int n = 0;
	return weir_store_dead_list(st, NULL, 0, dl_count, &n);
}

static void
fresh_path(fx *f, char *path, size_t size)
{
	snprintf(path, size, "%s/fresh.db", f->dir);
}

static weir_err
do_fresh(fx *f, void *arg)
{
	const fresh *fr = arg;
	weir_store  *st;
	char         path[700], msg[128];
	long         n = sq_fail_at;
	sq_fail_at     = 0;
	fresh_path(f, path, sizeof(path));
	assert_weir_ok(weir_store_open(&st, path, NULL, msg, sizeof(msg)));
	sq_arm(n);
	weir_err rv    = fr->read(st);
	long     calls = sq_calls;
	sq_fail_at     = 0;
	weir_store_destroy(st);
	sq_calls   = calls; // what the loop counts: the read's allocations
	sq_fail_at = n;
	return rv;
}

static void
test_fresh_reads(void **state)
{
	fx         *f = *state;
	weir_store *st;
	char        path[700], msg[128];
	fresh_path(f, path, sizeof(path));
	assert_weir_ok(weir_store_open(&st, path, NULL, msg, sizeof(msg)));
	weir_event            *ev = fx_event("fresh.x", "v");
	weir_store_append_opts o  = { .size = sizeof(o), .stream = "s" };
	assert_weir_ok(weir_store_append(st, ev, &o, NULL, NULL));
	assert_weir_ok(weir_store_dead_add(st, ev, "r", WEIR_EIO, "m", NULL));
	assert_weir_ok(weir_store_cursor_set(st, "c", 1));
	assert_weir_ok(weir_store_snapshot_save(st, "s", 1, "x", 1));
	weir_event_release(ev);
	weir_store_destroy(st);
	// (Reads of events open their connection as these do; a fresh
	// store per run is costly, so only these three.)
	const fresh reads[] = { { fresh_cursors }, { fresh_snapshot },
		{ fresh_dead } };
	for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
		SQ_FAILS(f, do_fresh, (void *) &reads[i]);
	}
}

int
main(void)
{
	sq_install();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_open, fx_setup, sq_teardown),
		cmocka_unit_test_setup_teardown(
		    test_append_read, fx_setup, sq_teardown),
		cmocka_unit_test_setup_teardown(
		    test_check, fx_setup, sq_teardown),
		cmocka_unit_test_setup_teardown(
		    test_snapshots_cursors, fx_setup, sq_teardown),
		cmocka_unit_test_setup_teardown(
		    test_dead_replay, fx_setup, sq_teardown),
		cmocka_unit_test_setup_teardown(
		    test_fresh_reads, fx_setup, sq_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
