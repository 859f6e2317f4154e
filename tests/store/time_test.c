/*
 * Reads by time (from_ts/to_ts): the writer keeps one ts range per block
 * of 1024 seqs (events_ts_blocks) and a time-filtered read visits only
 * the blocks whose range meets its own. Events carry any ts (foreign
 * events from the inbound bridge do), so the tests append timestamps out
 * of order across several blocks and compare every read with the events
 * a plain scan of the expected log selects.
 */
#include <sqlite3.h>
#include <stdint.h>

#include "fixture.h"
#include "store/schema.h"

#define N 3000

// Timestamps out of order: a pseudo-random walk, with a few far ones.
static int64_t
ts_of(size_t i)
{
	uint64_t x = (uint64_t) i * 2654435761u % 1000003u;
	if (i % 97 == 5) {
		return 5000000 + (int64_t) i; // late ones, far ahead
	}
	return 1000 + (int64_t) x;
}

static void
append_all(weir_store *st)
{
	weir_store_append_opts opt = { .size = sizeof(opt),
		.flags                       = WEIR_STORE_APPEND_NOWAIT };
	for (size_t i = 0; i < N; i++) {
		weir_event     *ev;
		weir_event_init init = { .size = sizeof(weir_event_init),
			.topic                 = i % 3 ? "t.a" : "t.b",
			.ts                    = ts_of(i) };
		assert_weir_ok(weir_event_new(&ev, &init));
		assert_weir_ok(weir_store_append(st, ev, &opt, NULL, NULL));
		weir_event_release(ev);
	}
	assert_weir_ok(weir_store_flush(st));
}

// The seqs a read with @p f must return when the log holds seqs
// 1..N (minus those below @p first), by scanning them.
static size_t
expect(const weir_store_filter *f, uint64_t first, uint64_t *out)
{
	size_t n = 0;
	for (uint64_t k = 0; k < N; k++) {
		uint64_t seq = f->backward ? N - k : k + 1;
		int64_t  ts  = ts_of(seq - 1);
		int64_t  to  = f->to_ts ? f->to_ts : INT64_MAX;
		uint64_t top = f->to_seq ? f->to_seq : UINT64_MAX;
		if (seq < first || seq < f->from_seq || seq > top ||
		    ts < f->from_ts || ts > to ||
		    (f->pattern && (seq - 1) % 3 != 0) ||
		    (f->limit && n == f->limit)) {
			continue;
		}
		out[n++] = seq;
	}
	return n;
}

static void
check_read(weir_store *st, const weir_store_filter *f, uint64_t first)
{
	fx_got   *g    = calloc(1, sizeof(*g));
	uint64_t *want = calloc(N, sizeof(*want));
	size_t    n    = expect(f, first, want);
	assert_weir_ok(weir_store_read(st, f, fx_collect, g));
	assert_int_equal(g->n, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(g->seq[i], want[i]);
	}
	free(want);
	free(g);
}

static void
check_windows(weir_store *st, uint64_t first)
{
	const int64_t win[][2] = { { 1000, 2000 }, { 250000, 260000 },
		{ 1, 1001000 }, { 5000000, 0 }, { 0, 50000 },
		{ 999999, 1000000 }, { 7000000, 0 } };
	for (size_t w = 0; w < sizeof(win) / sizeof(win[0]); w++) {
		for (int back = 0; back < 2; back++) {
			weir_store_filter f = { .size = sizeof(f),
				.from_ts              = win[w][0],
				.to_ts                = win[w][1],
				.backward             = back };
			check_read(st, &f, first);
			f.limit = 7;
			check_read(st, &f, first);
			f.limit    = 0;
			f.from_seq = 1000;
			f.to_seq   = 2100;
			check_read(st, &f, first);
			f.pattern = "t.b";
			check_read(st, &f, first);
		}
	}
}

static void
test_out_of_order_ts(void **state)
{
	fx *f = *state;
	append_all(f->st);
	check_windows(f->st, 1);
	assert_weir_ok(weir_store_check(f->st));
}

// A stream read with a time window: the stream's own order (versions),
// only its events, only those whose ts is inside the window (the time
// blocks are for the log's seq order, so this read does not use them).
static void
test_stream_by_time(void **state)
{
	fx *f = *state;
	for (size_t i = 0; i < 40; i++) {
		weir_event     *ev;
		weir_event_init init = { .size = sizeof(weir_event_init),
			.topic                 = "t.s",
			.ts                    = ts_of(i) };
		assert_weir_ok(weir_event_new(&ev, &init));
		weir_store_append_opts opt = { .size = sizeof(opt),
			.stream                      = i % 2 ? NULL : "s" };
		assert_weir_ok(weir_store_append(f->st, ev, &opt, NULL, NULL));
		weir_event_release(ev);
	}
	const int64_t lo = 1000, hi = 600000;
	for (int back = 0; back < 2; back++) {
		weir_store_filter flt = { .size = sizeof(flt),
			.stream                 = "s",
			.from_ts                = lo,
			.to_ts                  = hi,
			.backward               = back };
		fx_got           *g   = calloc(1, sizeof(*g));
		assert_non_null(g);
		assert_weir_ok(weir_store_read(f->st, &flt, fx_collect, g));
		size_t n = 0;
		for (size_t k = 0; k < 20; k++) {
			size_t  i  = 2 * (back ? 19 - k : k); // the stream's i
			int64_t ts = ts_of(i);
			if (ts < lo || ts > hi) {
				continue;
			}
			assert_true(n < g->n);
			assert_int_equal(g->seq[n], i + 1);
			assert_int_equal(g->version[n], (int64_t) (i / 2 + 1));
			n++;
		}
		assert_true(n > 0 && n < 20); // the window cuts some
		assert_int_equal(g->n, n);
		free(g);
	}
}

// A replay counts what it will deliver (progress) with the same plan.
static void
test_replay_count(void **state)
{
	fx *f = *state;
	append_all(f->st);
	weir_store_filter flt = {
		.size = sizeof(flt), .from_ts = 1000, .to_ts = 300000
	};
	uint64_t              *want = calloc(N, sizeof(*want));
	size_t                 n    = expect(&flt, 1, want);
	weir_bus              *bus;
	uint64_t               got;
	weir_store_replay_opts rp = { .size = sizeof(rp),
		.filter                     = &flt,
		.target                     = WEIR_STORE_REPLAY_EMIT };
	assert_weir_ok(weir_bus_create(&bus, NULL));
	rp.bus = bus;
	assert_weir_ok(weir_store_replay(f->st, &rp, &got));
	assert_int_equal(got, n);
	weir_bus_destroy(bus);
	free(want);
}

// Trimming drops whole blocks left empty; reads by time stay exact.
static void
test_after_trim(void **state)
{
	fx      *f = *state;
	uint64_t deleted;
	append_all(f->st);
	assert_weir_ok(weir_store_trim(f->st, 2049, 0, &deleted));
	assert_int_equal(deleted, 2048);
	check_windows(f->st, 2049);
	assert_weir_ok(weir_store_check(f->st));
}

// A store of schema version 3 (with events_ts) migrates: its events get
// their blocks, the index goes, and reads by time return the same.
static void
test_migrate_from_v3(void **state)
{
	fx           *f = *state;
	sqlite3      *db;
	sqlite3_stmt *s;
	weir_store_destroy(f->st);
	f->st = NULL;
	unlink(f->path);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_weir_ok(weir__schema_migrate(NULL, db, 0, 3));
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	sqlite3_prepare_v2(db,
	    "INSERT INTO events(seq,id,ts,topic) VALUES(?1,randomblob(16),"
	    "?2,?3)",
	    -1, &s, NULL);
	for (size_t i = 0; i < N; i++) {
		sqlite3_bind_int64(s, 1, (int64_t) i + 1);
		sqlite3_bind_int64(s, 2, ts_of(i));
		sqlite3_bind_text(s, 3, i % 3 ? "t.a" : "t.b", -1, NULL);
		assert_int_equal(sqlite3_step(s), SQLITE_DONE);
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(db);
	fx_open(f);
	check_windows(f->st, 1);
	assert_weir_ok(weir_store_check(f->st));
	assert_int_equal(fx_append(f->st, "t.c", "new"), N + 1);
	weir_store_destroy(f->st);
	f->st = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_prepare_v2(db,
	    "SELECT (SELECT count(*) FROM sqlite_master WHERE "
	    "name='events_ts'), (SELECT count(*) FROM events_ts_blocks)",
	    -1, &s, NULL);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), 0);
	assert_int_equal(sqlite3_column_int(s, 1), (N + 1 + 1023) / 1024);
	sqlite3_finalize(s);
	sqlite3_close(db);
	fx_open(f);
}

// An event whose ts its block does not cover would be missed by reads
// by time: the check reports it.
static void
test_check_finds_uncovered_ts(void **state)
{
	fx      *f = *state;
	sqlite3 *db;
	fx_append(f->st, "a.b", "1");
	fx_append(f->st, "a.b", "2");
	assert_weir_ok(weir_store_check(f->st));
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
	                     "UPDATE events SET ts=ts+1000000000 "
	                     "WHERE seq=2",
	                     NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	assert_weir_err(weir_store_check(f->st), WEIR_ECORRUPT);
	assert_non_null(strstr(weir_store_errmsg(f->st), "events_ts_blocks"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_stream_by_time, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_out_of_order_ts, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_replay_count, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_after_trim, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_migrate_from_v3, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_check_finds_uncovered_ts, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
