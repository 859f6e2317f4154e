/*
 * Group commit (src/store/writer.c): what is queued while the writer is
 * busy goes in one transaction. When a request of the batch fails with
 * a storage error, the whole batch is rolled back: requests that had
 * succeeded get that error and no seq, while one that had failed on its
 * own (a version conflict) keeps its own error. A queue longer than a
 * batch goes in several, in order. Runs of plain appends go in
 * multi-row INSERTs, every row of the run (counted by SQLite's run
 * counter of each statement).
 */
#include "fixture.h"
#include "store/inbox.h"
#include "store/store.h"

typedef struct outcome {
	int      n;
	weir_err err;
	uint64_t seq;
} outcome;

static void
on_done(weir_store *st, weir_err err, uint64_t seq, int64_t version, void *arg)
{
	outcome *o = arg;
	(void) st;
	(void) version;
	o->err = err;
	o->seq = seq;
	o->n++;
}

static void
queue(weir_store *st, const char *topic, const char *stream, int64_t expected,
    outcome *o)
{
	weir_event            *ev  = fx_event(topic, "v");
	weir_store_append_opts opt = { .size = sizeof(opt),
		.stream                      = stream,
		.expected                    = expected,
		.flags                       = WEIR_STORE_APPEND_NOWAIT,
		.done                        = on_done,
		.arg                         = o };
	assert_weir_ok(weir_store_append(st, ev, &opt, NULL, NULL));
	weir_event_release(ev);
}

static void
test_failed_batch(void **state)
{
	fx                    *f  = *state;
	weir_store_append_opts o  = { .size = sizeof(o), .stream = "s" };
	weir_event            *ev = fx_event("ok.x", "first");
	assert_weir_ok(weir_store_append(f->st, ev, &o, NULL, NULL));
	weir_event_release(ev);
	fx_sql(f,
	    "CREATE TRIGGER refuse BEFORE INSERT ON events"
	    " WHEN NEW.topic = 'refuse.x'"
	    " BEGIN SELECT RAISE(ABORT, 'refused by test'); END");
	outcome conflict = { 0 }, fine = { 0 }, refused = { 0 };
	fx_gate g;
	fx_gate_close(&g, f->st);
	queue(f->st, "ok.x", "s", 5, &conflict); // the stream is at 1
	queue(f->st, "ok.x", NULL, WEIR_STORE_EXPECT_ANY, &fine);
	queue(f->st, "refuse.x", NULL, WEIR_STORE_EXPECT_ANY, &refused);
	fx_gate_open(&g);
	assert_weir_ok(weir_store_flush(f->st));
	assert_int_equal(conflict.n, 1);
	assert_int_equal(conflict.err, WEIR_ECONFLICT);
	assert_int_equal(fine.n, 1);
	assert_int_equal(fine.err, WEIR_ESTORE);
	assert_int_equal(fine.seq, 0);
	assert_int_equal(refused.n, 1);
	assert_int_equal(refused.err, WEIR_ESTORE);
	uint64_t last;
	int64_t  v;
	assert_weir_ok(weir_store_last_seq(f->st, &last));
	assert_int_equal(last, 1);
	assert_weir_ok(weir_store_stream_version(f->st, "s", &v));
	assert_int_equal(v, 1);
	// The next batch is a batch of its own: it commits.
	assert_int_equal(fx_append(f->st, "ok.x", "after"), 2);
}

// More queued than a batch takes (max_batch 2, five queued while the
// writer is held): several batches, committed in queue order.
static void
test_queue_longer_than_batch(void **state)
{
	fx                *f = *state;
	weir_store_config *cfg;
	weir_store_destroy(f->st);
	assert_weir_ok(weir_store_config_create(&cfg));
	assert_weir_ok(weir_store_config_set_batch(cfg, 2, 16));
	fx_open_cfg(f, cfg);
	weir_store_config_destroy(cfg);
	outcome o[5] = { 0 };
	fx_gate g;
	fx_gate_close(&g, f->st);
	for (int i = 0; i < 5; i++) {
		queue(f->st, "ok.x", "s", WEIR_STORE_EXPECT_ANY, &o[i]);
	}
	fx_gate_open(&g);
	assert_weir_ok(weir_store_flush(f->st));
	for (int i = 0; i < 5; i++) {
		assert_int_equal(o[i].n, 1);
		assert_weir_ok(o[i].err);
		assert_int_equal(o[i].seq, (uint64_t) i + 1);
	}
	int64_t v;
	assert_weir_ok(weir_store_stream_version(f->st, "s", &v));
	assert_int_equal(v, 5);
}

// A group commit configured without bounds (SIZE_MAX appends per batch
// and in the queue): the writer caps a batch at 2^24 requests, so its
// per-batch tables stay small; the store opens and appends in order.
static void
test_unbounded_batch_config(void **state)
{
	fx                *f = *state;
	weir_store_config *cfg;
	weir_store_destroy(f->st);
	assert_weir_ok(weir_store_config_create(&cfg));
	assert_weir_ok(weir_store_config_set_batch(cfg, SIZE_MAX, SIZE_MAX));
	fx_open_cfg(f, cfg);
	weir_store_config_destroy(cfg);
	outcome o[40] = { 0 };
	fx_gate g;
	fx_gate_close(&g, f->st);
	for (int i = 0; i < 40; i++) {
		queue(f->st, "ok.x", NULL, WEIR_STORE_EXPECT_ANY, &o[i]);
	}
	fx_gate_open(&g);
	assert_weir_ok(weir_store_flush(f->st));
	for (int i = 0; i < 40; i++) {
		assert_int_equal(o[i].n, 1);
		assert_weir_ok(o[i].err);
		assert_int_equal(o[i].seq, (uint64_t) i + 1);
	}
}

// How many times the writer ran its one-row INSERT and its 32-row one,
// read on the writer thread (a call) so nothing races the connection.
typedef struct runs {
	int one;
	int rows32;
} runs;

static weir_err
read_runs(weir_store *st, sqlite3 *db, void *arg)
{
	runs *r = arg;
	(void) db;
	r->one = sqlite3_stmt_status(st->writer.ins, SQLITE_STMTSTATUS_RUN, 0);
	r->rows32 = sqlite3_stmt_status(
	    st->writer.ins_rows[0], SQLITE_STMTSTATUS_RUN, 0);
	return WEIR_OK;
}

// 96 plain appends in one batch: three 32-row INSERTs and no row alone.
// (The run after a multi-row INSERT once went one row at a time: every
// other 32 appends took the one-row statement.)
static void
test_runs_grouped(void **state)
{
	fx     *f      = *state;
	outcome o[96]  = { 0 };
	runs    before = { 0 }, after = { 0 };
	assert_weir_ok(weir__writer_call(f->st, read_runs, &before));
	fx_gate g;
	fx_gate_close(&g, f->st);
	for (int i = 0; i < 96; i++) {
		queue(f->st, "ok.x", NULL, WEIR_STORE_EXPECT_ANY, &o[i]);
	}
	fx_gate_open(&g);
	assert_weir_ok(weir_store_flush(f->st));
	for (int i = 0; i < 96; i++) {
		assert_int_equal(o[i].n, 1);
		assert_weir_ok(o[i].err);
		assert_int_equal(o[i].seq, (uint64_t) i + 1);
	}
	assert_weir_ok(weir__writer_call(f->st, read_runs, &after));
	assert_int_equal(after.one - before.one, 0);
	assert_int_equal(after.rows32 - before.rows32, 3);
}

typedef struct inbox_outcome {
	outcome o;
	int     dup;
} inbox_outcome;

static void
on_inbox(weir_store *st, weir_err err, uint64_t seq, int dup, void *arg)
{
	inbox_outcome *io = arg;
	io->dup           = dup;
	on_done(st, err, seq, 0, &io->o);
}

// Plain appends, then an inbox append, then plain ones again in one
// batch: the run of plain rows ends at the inbox request, and every seq
// follows the queue's order.
static void
test_plain_run_ends_at_inbox(void **state)
{
	fx           *f    = *state;
	outcome       o[7] = { 0 };
	inbox_outcome in = { 0 }, again = { 0 };
	fx_gate       g;
	fx_gate_close(&g, f->st);
	for (int i = 0; i < 3; i++) {
		queue(f->st, "ok.x", NULL, WEIR_STORE_EXPECT_ANY, &o[i]);
	}
	weir_event *ev = fx_event("in.x", "v");
	assert_weir_ok(weir__store_inbox_append(f->st, ev, on_inbox, &in));
	for (int i = 4; i < 7; i++) {
		queue(f->st, "ok.x", NULL, WEIR_STORE_EXPECT_ANY, &o[i]);
	}
	fx_gate_open(&g);
	assert_weir_ok(weir_store_flush(f->st));
	wt_wait_until(in.o.n == 1);
	assert_weir_ok(in.o.err);
	assert_int_equal(in.dup, 0);
	o[3] = in.o;
	for (int i = 0; i < 7; i++) {
		wt_wait_until(o[i].n == 1);
		assert_weir_ok(o[i].err);
		assert_int_equal(o[i].seq, (uint64_t) i + 1);
	}
	// Its event went in: the same id again is a duplicate.
	assert_weir_ok(weir__store_inbox_append(f->st, ev, on_inbox, &again));
	assert_weir_ok(weir_store_flush(f->st));
	wt_wait_until(again.o.n == 1);
	assert_int_equal(again.dup, 1);
	weir_event_release(ev);
}

// A run of plain appends holding a retry goes one by one after the
// writer deletes the rows its INSERT OR IGNORE wrote. When that delete
// is refused (here a trigger), the rows stay: the batch must fail as a
// whole, not run the appends one by one onto the seqs they hold.
static void
test_run_unwind_refused(void **state)
{
	fx                    *f   = *state;
	weir_event            *old = fx_event("ok.x", "old");
	outcome                o[32];
	weir_store_append_opts opt = { .size = sizeof(opt),
		.flags                       = WEIR_STORE_APPEND_NOWAIT,
		.done                        = on_done };
	assert_weir_ok(weir_store_append(f->st, old, NULL, NULL, NULL));
	fx_sql(f,
	    "CREATE TRIGGER keep BEFORE DELETE ON events"
	    " BEGIN SELECT RAISE(ABORT, 'refused by test'); END");
	fx_gate g;
	fx_gate_close(&g, f->st);
	for (int i = 0; i < 32; i++) {
		weir_event *ev = i == 5 ? old : fx_event("ok.x", "v");
		memset(&o[i], 0, sizeof(o[i]));
		opt.arg = &o[i];
		assert_weir_ok(weir_store_append(f->st, ev, &opt, NULL, NULL));
		if (ev != old) {
			weir_event_release(ev);
		}
	}
	fx_gate_open(&g);
	assert_weir_ok(weir_store_flush(f->st));
	for (int i = 0; i < 32; i++) {
		assert_int_equal(o[i].n, 1);
		assert_int_equal(o[i].err, WEIR_ESTORE);
		assert_int_equal(o[i].seq, 0);
	}
	uint64_t last;
	assert_weir_ok(weir_store_last_seq(f->st, &last));
	assert_int_equal(last, 1);
	// The log goes on from there once deletes are allowed again.
	fx_sql(f, "DROP TRIGGER keep");
	assert_int_equal(fx_append(f->st, "ok.x", "next"), 2);
	weir_event_release(old);
}

// A storage error in a run of plain appends (the table gone) fails the
// batch.
static void
test_run_storage_error(void **state)
{
	fx     *f = *state;
	outcome o[32];
	fx_sql(f, "DROP TABLE events");
	fx_gate g;
	fx_gate_close(&g, f->st);
	for (int i = 0; i < 32; i++) {
		memset(&o[i], 0, sizeof(o[i]));
		queue(f->st, "ok.x", NULL, WEIR_STORE_EXPECT_ANY, &o[i]);
	}
	fx_gate_open(&g);
	assert_weir_ok(weir_store_flush(f->st));
	for (int i = 0; i < 32; i++) {
		assert_int_equal(o[i].n, 1);
		assert_int_equal(o[i].err, WEIR_ESTORE);
	}
	assert_non_null(strstr(weir_store_errmsg(f->st), "no such table"));
}

// meta's last_seq as a connection of its own reads it; -1 without one.
static int64_t
meta_last_seq(fx *f)
{
	sqlite3      *db;
	sqlite3_stmt *s;
	int64_t       v = -1;
	assert_int_equal(
	    sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	assert_int_equal(
	    sqlite3_prepare_v2(db,
	        "SELECT value FROM meta WHERE key='last_seq'", -1, &s, NULL),
	    SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW) {
		v = sqlite3_column_int64(s, 0);
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

// Batches of appends leave meta alone (a page less per commit): the
// highest seq is max(seq) then. A batch that runs a call (a trim may
// empty the log) records it, each time it has grown, so an emptied log
// never hands a seq out again, also after a restart.
static void
test_seq_recorded_by_calls(void **state)
{
	fx      *f = *state;
	uint64_t deleted;
	for (int i = 0; i < 3; i++) {
		fx_append(f->st, "t.x", "x");
	}
	assert_int_equal(meta_last_seq(f), -1);
	assert_weir_ok(weir_store_trim(f->st, 1000, 0, &deleted));
	assert_int_equal(deleted, 3);
	assert_int_equal(meta_last_seq(f), 3);
	assert_int_equal(fx_append(f->st, "t.x", "x"), 4);
	assert_int_equal(fx_append(f->st, "t.x", "x"), 5);
	assert_int_equal(meta_last_seq(f), 3);
	assert_weir_ok(weir_store_trim(f->st, 1000, 0, &deleted));
	assert_int_equal(deleted, 2);
	assert_int_equal(meta_last_seq(f), 5);
	weir_store_destroy(f->st);
	fx_open(f);
	assert_int_equal(fx_append(f->st, "t.x", "after"), 6);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_failed_batch, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_queue_longer_than_batch, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_unbounded_batch_config, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_runs_grouped, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_plain_run_ends_at_inbox, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_run_unwind_refused, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_run_storage_error, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_seq_recorded_by_calls, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
