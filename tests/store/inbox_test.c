/*
 * Inbox appends (src/store/inbox.c, the writer's part in append.c and
 * inbox_rows.c): the inbound bridge's appends, de-duplicated by id. An
 * id in the log (its event still there, or a local event that came
 * back) is found by the log's unique index: nothing written, "dup" and
 * the log's seq, no inbox row. The inbox holds the ids a trim removed
 * from the log (recorded in the trim's transaction, first seen at the
 * trim): such an id is "dup" without a seq. Pruning by age and count,
 * and the errors of all three calls. Runs of inbox appends in one batch
 * go in one multi-row INSERT (after one lookup in the inbox, when it has
 * rows); a run with an id seen before, one id twice, an event already
 * in the log or an event the log refuses goes one by one and gives each
 * append what it would get alone. The bridge's tests reach the inbox
 * through a running bridge; these reach every path of it directly.
 */
#include <stdatomic.h>
#include <time.h>

#include "fixture.h"
#include "store/inbox.h"
#include "store/store.h"

typedef struct ib_done {
	atomic_int n;
	weir_err   err;
	uint64_t   seq;
	int        dup;
} ib_done;

static void
ib_fn(weir_store *st, weir_err err, uint64_t seq, int dup, void *arg)
{
	ib_done *d = arg;
	(void) st;
	d->err = err;
	d->seq = seq;
	d->dup = dup;
	atomic_fetch_add(&d->n, 1);
}

// An inbox append of @p ev, waited for: its done callback's report.
static void
ib_append(weir_store *st, const weir_event *ev, ib_done *d)
{
	memset(d, 0, sizeof(*d));
	assert_weir_ok(weir__store_inbox_append(st, ev, ib_fn, d));
	assert_weir_ok(weir_store_flush(st));
	wt_wait_until(atomic_load(&d->n) == 1);
}

static uint64_t
ib_count(weir_store *st)
{
	uint64_t n = 99;
	assert_weir_ok(weir__store_inbox_count(st, &n));
	return n;
}

static uint64_t
ib_last(weir_store *st)
{
	uint64_t last = 99;
	assert_weir_ok(weir_store_last_seq(st, &last));
	return last;
}

// An inbox append of a new event on @p topic, waited for and released.
static void
ib_append_new(weir_store *st, const char *topic)
{
	weir_event *ev = fx_event(topic, "new");
	ib_done     d;
	ib_append(st, ev, &d);
	assert_weir_ok(d.err);
	weir_event_release(ev);
}

// Trims the log before @p before_seq: the ids go into the inbox (the
// store has taken inbox appends).
static uint64_t
ib_trim(weir_store *st, uint64_t before_seq)
{
	uint64_t deleted = 99;
	assert_weir_ok(weir_store_trim(st, before_seq, 0, &deleted));
	return deleted;
}

static int64_t
ib_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
test_new_then_seen(void **state)
{
	fx         *f  = *state;
	weir_event *ev = fx_event("in.orders", "first");
	ib_done     d;
	ib_append(f->st, ev, &d);
	assert_weir_ok(d.err);
	assert_int_equal(d.seq, 1);
	assert_int_equal(d.dup, 0);
	assert_int_equal(ib_count(f->st), 0);
	fx_got g = { 0 };
	assert_weir_ok(weir_store_read_all(f->st, 0, 0, fx_collect, &g));
	assert_int_equal(g.n, 1);
	assert_string_equal(g.payload[0], "first");
	// Seen again: nothing written; the log answers, with its seq (no
	// inbox row: the log's unique id is enough while the event is in
	// it).
	ib_append(f->st, ev, &d);
	assert_weir_ok(d.err);
	assert_int_equal(d.dup, 1);
	assert_int_equal(d.seq, 1);
	assert_int_equal(ib_count(f->st), 0);
	assert_int_equal(ib_last(f->st), 1);
	weir_event_release(ev);
}

// A local event that comes back from the broker: the log has it, so it
// is a duplicate with the log's seq, and nothing is written.
static void
test_local_event_comes_back(void **state)
{
	fx         *f     = *state;
	uint64_t    other = fx_append(f->st, "local.x", "before");
	weir_event *ev    = fx_event("local.x", "mine");
	uint64_t    seq;
	assert_weir_ok(weir_store_append(f->st, ev, NULL, &seq, NULL));
	assert_int_equal(seq, other + 1);
	ib_done d;
	ib_append(f->st, ev, &d);
	assert_weir_ok(d.err);
	assert_int_equal(d.dup, 1);
	assert_int_equal(d.seq, seq);
	assert_int_equal(ib_count(f->st), 0);
	assert_int_equal(ib_last(f->st), seq);
	weir_event_release(ev);
}

// No done callback: appended all the same.
static void
test_no_callback(void **state)
{
	fx         *f  = *state;
	weir_event *ev = fx_event("in.quiet", "q");
	assert_weir_ok(weir__store_inbox_append(f->st, ev, NULL, NULL));
	weir_event_release(ev);
	assert_weir_ok(weir_store_flush(f->st));
	assert_int_equal(ib_count(f->st), 0);
	assert_int_equal(ib_last(f->st), 1);
}

// Pruning goes over the ids a trim recorded (the only rows the inbox
// gets): by count, the newest stay; by age, those recorded since.
static void
test_prune(void **state)
{
	fx         *f = *state;
	weir_event *ev[5];
	ib_done     d;
	uint64_t    n = 99;
	for (int i = 0; i < 5; i++) {
		ev[i] = fx_event("in.p", "p");
		ib_append(f->st, ev[i], &d);
		assert_weir_ok(d.err);
	}
	assert_int_equal(ib_trim(f->st, 6), 5);
	assert_int_equal(ib_count(f->st), 5);
	// No limit at all: nothing goes.
	assert_weir_ok(weir__store_inbox_prune(f->st, 0, 0, &n));
	assert_int_equal(n, 0);
	// Keep the two newest.
	assert_weir_ok(weir__store_inbox_prune(f->st, 0, 2, &n));
	assert_int_equal(n, 3);
	assert_int_equal(ib_count(f->st), 2);
	// By age: everything recorded before `t` goes, the newer stays.
	int64_t     t     = ib_now();
	weir_event *fresh = fx_event("in.p", "fresh");
	ib_append(f->st, fresh, &d);
	assert_weir_ok(d.err);
	assert_int_equal(ib_trim(f->st, 7), 1);
	assert_weir_ok(weir__store_inbox_prune(f->st, t, 0, NULL));
	assert_int_equal(ib_count(f->st), 1);
	// Both limits in one call.
	assert_weir_ok(weir__store_inbox_prune(f->st, t, 1, &n));
	assert_int_equal(n, 0);
	assert_int_equal(ib_count(f->st), 1);
	// The id still in the inbox is a duplicate, without a seq; a pruned
	// one whose event left the log is past the window: new again.
	ib_append(f->st, fresh, &d);
	assert_weir_ok(d.err);
	assert_int_equal(d.dup, 1);
	assert_int_equal(d.seq, 0);
	ib_append(f->st, ev[0], &d);
	assert_weir_ok(d.err);
	assert_int_equal(d.dup, 0);
	assert_int_equal(d.seq, 7);
	for (int i = 0; i < 5; i++) {
		weir_event_release(ev[i]);
	}
	weir_event_release(fresh);
}

static void
test_args(void **state)
{
	fx         *f  = *state;
	weir_event *ev = fx_event("in.args", "a");
	uint64_t    n  = 99;
	assert_weir_err(
	    weir__store_inbox_append(NULL, ev, ib_fn, NULL), WEIR_EINVAL);
	assert_weir_err(
	    weir__store_inbox_append(f->st, NULL, ib_fn, NULL), WEIR_EINVAL);
	assert_weir_err(weir__store_inbox_prune(NULL, 0, 0, &n), WEIR_EINVAL);
	assert_int_equal(n, 0);
	n = 99;
	assert_weir_err(
	    weir__store_inbox_prune(f->st, 0, (uint64_t) INT64_MAX + 1, &n),
	    WEIR_EINVAL);
	assert_int_equal(n, 0);
	assert_weir_err(weir__store_inbox_count(NULL, &n), WEIR_EINVAL);
	assert_weir_err(weir__store_inbox_count(f->st, NULL), WEIR_EINVAL);
	assert_int_equal(ib_count(f->st), 0);
	assert_int_equal(ib_last(f->st), 0);
	// After close: every call says so, and nothing is written.
	weir_store_close(f->st);
	assert_weir_err(
	    weir__store_inbox_append(f->st, ev, ib_fn, NULL), WEIR_ECLOSED);
	assert_weir_err(
	    weir__store_inbox_prune(f->st, 0, 1, &n), WEIR_ECLOSED);
	assert_weir_err(weir__store_inbox_count(f->st, &n), WEIR_ECLOSED);
	assert_non_null(strstr(weir_store_errmsg(f->st), "closed"));
	weir_event_release(ev);
}

static void
test_too_big(void **state)
{
	fx                *f = *state;
	weir_store_config *cfg;
	weir_store_destroy(f->st);
	assert_weir_ok(weir_store_config_create(&cfg));
	assert_weir_ok(weir_store_config_set_max_event(cfg, 256));
	fx_open_cfg(f, cfg);
	weir_store_config_destroy(cfg);
	char       *big = wt_filled(300, 'b');
	weir_event *ev  = fx_event("in.big", big);
	ib_done     d   = { 0 };
	assert_weir_err(
	    weir__store_inbox_append(f->st, ev, ib_fn, &d), WEIR_ETOOBIG);
	assert_non_null(strstr(weir_store_errmsg(f->st), "limit of 256"));
	assert_weir_ok(weir_store_flush(f->st));
	assert_int_equal(atomic_load(&d.n), 0);
	assert_int_equal(ib_count(f->st), 0);
	assert_int_equal(ib_last(f->st), 0);
	weir_event_release(ev);
	free(big);
}

// The inbox table gone (a damaged store) while it has rows: appends
// fail through their callback, prune and count fail, each naming the
// inbox; nothing is appended to the log. (While it has none, inbox
// appends do not read it.)
static void
test_inbox_table_dropped(void **state)
{
	fx         *f  = *state;
	weir_event *ev = fx_event("in.d", "d");
	ib_done     d;
	ib_append_new(f->st, "in.old");
	assert_int_equal(ib_trim(f->st, 2), 1);
	fx_sql(f, "DROP TABLE inbox");
	ib_append(f->st, ev, &d);
	assert_int_equal(d.err, WEIR_ESTORE);
	assert_int_equal(d.seq, 0);
	assert_non_null(strstr(weir_store_errmsg(f->st), "inbox"));
	assert_int_equal(ib_last(f->st), 1);
	uint64_t n = 99;
	assert_weir_err(weir__store_inbox_prune(f->st, 1, 0, &n), WEIR_ESTORE);
	assert_int_equal(n, 0);
	assert_non_null(strstr(weir_store_errmsg(f->st), "no such table"));
	assert_weir_err(weir__store_inbox_count(f->st, &n), WEIR_ESTORE);
	// A trim cannot record its ids: it deletes nothing.
	fx_append(f->st, "in.plain", "p");
	assert_weir_err(weir_store_trim(f->st, 3, 0, &n), WEIR_ESTORE);
	assert_non_null(strstr(weir_store_errmsg(f->st), "trim: inbox"));
	fx_got g = { 0 };
	assert_weir_ok(weir_store_read_all(f->st, 0, 0, fx_collect, &g));
	assert_int_equal(g.n, 1);
	weir_event_release(ev);
}

// The inbox refusing a delete (a trigger that aborts it): pruning fails
// naming why, and every row stays.
static void
test_prune_refused(void **state)
{
	fx      *f = *state;
	uint64_t n = 99;
	ib_append_new(f->st, "in.p");
	assert_int_equal(ib_trim(f->st, 2), 1);
	fx_sql(f,
	    "CREATE TRIGGER keep BEFORE DELETE ON inbox"
	    " BEGIN SELECT RAISE(ABORT, 'refused by test'); END");
	assert_weir_err(weir__store_inbox_prune(f->st, 0, 0, &n), WEIR_OK);
	assert_weir_err(
	    weir__store_inbox_prune(f->st, INT64_MAX, 0, &n), WEIR_ESTORE);
	assert_int_equal(n, 0);
	assert_non_null(strstr(weir_store_errmsg(f->st), "refused by test"));
	assert_int_equal(ib_count(f->st), 1);
}

// The log's table refusing the event (here: a trigger that aborts every
// insert): the batch is rolled back, nothing is seen.
static void
test_log_refuses(void **state)
{
	fx         *f  = *state;
	weir_event *ev = fx_event("in.r", "r");
	ib_done     d;
	fx_sql(f,
	    "CREATE TRIGGER no_events BEFORE INSERT ON events"
	    " BEGIN SELECT RAISE(ABORT, 'refused by test'); END");
	ib_append(f->st, ev, &d);
	assert_int_equal(d.err, WEIR_ESTORE);
	assert_int_equal(d.seq, 0);
	// SQLite's code for a trigger's abort. (Its text is lost: the id
	// lookup after the failed insert resets SQLite's message.)
	assert_non_null(strstr(weir_store_errmsg(f->st), "append"));
	assert_non_null(strstr(weir_store_errmsg(f->st), "code 1811"));
	assert_int_equal(ib_count(f->st), 0);
	assert_int_equal(ib_last(f->st), 0);
	// Once the log takes events again, the same id goes in normally.
	fx_sql(f, "DROP TRIGGER no_events");
	ib_append(f->st, ev, &d);
	assert_weir_ok(d.err);
	assert_int_equal(d.dup, 0);
	assert_int_equal(d.seq, 1);
	assert_int_equal(ib_count(f->st), 0);
	weir_event_release(ev);
}

// ---- runs of inbox appends in one batch (inbox_rows.c) ----------------

#define RUN 32

// Runs of the writer's statements, read on the writer thread.
typedef struct ib_runs {
	int inbox_one;  // the one-id inbox lookup
	int inbox_rows; // the 32-id inbox lookup
	int events_one; // the one-row events INSERT
	int events_rows;
} ib_runs;

static weir_err
ib_read_runs(weir_store *st, sqlite3 *db, void *arg)
{
	ib_runs      *r = arg;
	weir__writer *w = &st->writer;
	(void) db;
	r->inbox_one =
	    sqlite3_stmt_status(w->inbox_has, SQLITE_STMTSTATUS_RUN, 0);
	r->inbox_rows =
	    sqlite3_stmt_status(w->inbox_any[0], SQLITE_STMTSTATUS_RUN, 0);
	r->events_one = sqlite3_stmt_status(w->ins, SQLITE_STMTSTATUS_RUN, 0);
	r->events_rows =
	    sqlite3_stmt_status(w->ins_rows[0], SQLITE_STMTSTATUS_RUN, 0);
	return WEIR_OK;
}

static ib_runs
ib_runs_now(weir_store *st)
{
	ib_runs r = { 0 };
	assert_weir_ok(weir__writer_call(st, ib_read_runs, &r));
	return r;
}

// Queues ev[0..n) as inbox appends while the writer is held, so that
// they form one batch, then waits for every callback.
static void
ib_batch(weir_store *st, weir_event **ev, size_t n, ib_done *d)
{
	fx_gate g;
	fx_gate_close(&g, st);
	for (size_t i = 0; i < n; i++) {
		memset(&d[i], 0, sizeof(d[i]));
		assert_weir_ok(
		    weir__store_inbox_append(st, ev[i], ib_fn, &d[i]));
	}
	fx_gate_open(&g);
	assert_weir_ok(weir_store_flush(st));
	for (size_t i = 0; i < n; i++) {
		wt_wait_until(atomic_load(&d[i].n) == 1);
	}
}

// A second event with @p like's id (a redelivery made anew).
static weir_event *
ib_event_same_id(const weir_event *like)
{
	weir_event     *ev;
	weir_event_init init = { .size = sizeof(weir_event_init),
		.topic                 = "in.d",
		.payload               = "again",
		.payload_len           = 5,
		.id                    = weir_event_id(like) };
	assert_weir_ok(weir_event_new(&ev, &init));
	return ev;
}

static void
ib_release_all(weir_event **ev, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		weir_event_release(ev[i]);
	}
}

// Two runs of 32 new ids into an empty inbox: two INSERTs into the log,
// no row alone, no lookup in the inbox; seqs in queue order. Their
// redelivery: every one a duplicate, by its log seq. Once the inbox has
// rows (a trim recorded the first run's ids), a run of new UUIDv7 ids
// (above every id there) still skips it; a run holding an id not above
// the inbox's largest costs one lookup of all 32 there (and then goes
// one by one: that id is a duplicate).
static void
test_run_grouped(void **state)
{
	fx         *f = *state;
	weir_event *ev[2 * RUN], *more[RUN];
	ib_done     d[2 * RUN];
	for (int i = 0; i < 2 * RUN; i++) {
		ev[i] = fx_event("in.run", "r");
	}
	ib_runs before = ib_runs_now(f->st);
	ib_batch(f->st, ev, 2 * RUN, d);
	ib_runs after = ib_runs_now(f->st);
	for (int i = 0; i < 2 * RUN; i++) {
		assert_weir_ok(d[i].err);
		assert_int_equal(d[i].dup, 0);
		assert_int_equal(d[i].seq, (uint64_t) i + 1);
	}
	assert_int_equal(after.inbox_rows - before.inbox_rows, 0);
	assert_int_equal(after.events_rows - before.events_rows, 2);
	assert_int_equal(after.inbox_one - before.inbox_one, 0);
	assert_int_equal(after.events_one - before.events_one, 0);
	assert_int_equal(ib_count(f->st), 0);
	assert_int_equal(ib_last(f->st), 2 * RUN);
	ib_batch(f->st, ev, 2 * RUN, d);
	for (int i = 0; i < 2 * RUN; i++) {
		assert_weir_ok(d[i].err);
		assert_int_equal(d[i].dup, 1);
		assert_int_equal(d[i].seq, (uint64_t) i + 1);
	}
	assert_int_equal(ib_count(f->st), 0);
	assert_int_equal(ib_last(f->st), 2 * RUN);
	assert_int_equal(ib_trim(f->st, RUN + 1), RUN);
	for (int i = 0; i < RUN; i++) {
		more[i] = fx_event("in.run", "m");
	}
	before = ib_runs_now(f->st);
	ib_batch(f->st, more, RUN, d);
	after = ib_runs_now(f->st);
	for (int i = 0; i < RUN; i++) {
		assert_int_equal(d[i].dup, 0);
		assert_int_equal(d[i].seq, (uint64_t) (2 * RUN + i + 1));
	}
	assert_int_equal(after.inbox_rows - before.inbox_rows, 0);
	assert_int_equal(after.events_rows - before.events_rows, 1);
	assert_int_equal(after.inbox_one - before.inbox_one, 0);
	assert_int_equal(after.events_one - before.events_one, 0);
	for (int i = 0; i < RUN; i++) { // the 32 anew, the 17th trimmed
		weir_event_release(more[i]);
		more[i] = i == 16 ? ib_event_same_id(ev[3])
		                  : fx_event("in.run", "m");
	}
	before = ib_runs_now(f->st);
	ib_batch(f->st, more, RUN, d);
	after        = ib_runs_now(f->st);
	uint64_t seq = 3 * RUN;
	for (int i = 0; i < RUN; i++) {
		assert_int_equal(d[i].dup, i == 16);
		assert_int_equal(d[i].seq, i == 16 ? 0 : ++seq);
	}
	assert_int_equal(after.inbox_rows - before.inbox_rows, 1);
	assert_int_equal(after.inbox_one - before.inbox_one, 1);
	ib_release_all(ev, 2 * RUN);
	ib_release_all(more, RUN);
}

// One id twice in a run: the first is appended, the second is a
// duplicate; the others are appended, in order, seqs without a hole.
static void
test_run_duplicate_inside(void **state)
{
	fx         *f = *state;
	weir_event *ev[RUN];
	ib_done     d[RUN];
	for (int i = 0; i < RUN; i++) {
		ev[i] =
		    i == 10 ? ib_event_same_id(ev[3]) : fx_event("in.d", "d");
	}
	ib_batch(f->st, ev, RUN, d);
	uint64_t seq = 0;
	for (int i = 0; i < RUN; i++) {
		assert_weir_ok(d[i].err);
		assert_int_equal(d[i].dup, i == 10);
		if (i != 10) {
			assert_int_equal(d[i].seq, ++seq);
		}
	}
	assert_int_equal(ib_count(f->st), 0);
	assert_int_equal(ib_last(f->st), RUN - 1);
	ib_release_all(ev, RUN);
}

// An id in the inbox (its event trimmed) inside a run, and an event
// already in the log (a local one that came back): the first is a
// duplicate without a seq, the second a duplicate with its log seq;
// the rest are appended. The inbox gains nothing.
static void
test_run_seen_and_logged(void **state)
{
	fx         *f = *state;
	weir_event *ev[RUN];
	ib_done     d[RUN];
	for (int i = 0; i < RUN; i++) {
		ev[i] = fx_event("in.s", "s");
	}
	ib_append(f->st, ev[5], &d[5]);
	assert_int_equal(d[5].seq, 1);
	assert_int_equal(ib_trim(f->st, 2), 1);
	uint64_t local;
	assert_weir_ok(weir_store_append(f->st, ev[20], NULL, &local, NULL));
	assert_int_equal(local, 2);
	ib_batch(f->st, ev, RUN, d);
	uint64_t seq = 2;
	for (int i = 0; i < RUN; i++) {
		assert_weir_ok(d[i].err);
		assert_int_equal(d[i].dup, i == 5 || i == 20);
		if (i == 5) {
			assert_int_equal(d[i].seq, 0);
		} else if (i == 20) {
			assert_int_equal(d[i].seq, local);
		} else {
			assert_int_equal(d[i].seq, ++seq);
		}
	}
	assert_int_equal(ib_count(f->st), 1);
	assert_int_equal(ib_last(f->st), RUN);
	ib_release_all(ev, RUN);
}

// A trim is one transaction: its ids go into the inbox and its events
// out of the log together. Either half refused (a trigger aborting the
// inbox's insert, or the log's delete) leaves both as they were: no id
// lost between them, none recorded while its event stays.
static void
test_trim_one_transaction(void **state)
{
	fx         *f  = *state;
	weir_event *ev = fx_event("in.t", "t");
	ib_done     d;
	uint64_t    deleted = 99;
	ib_append(f->st, ev, &d);
	const char *trigger[] = { "CREATE TRIGGER no BEFORE INSERT ON inbox"
		                  " BEGIN SELECT RAISE(ABORT, 'refused'); END",
		"CREATE TRIGGER no BEFORE DELETE ON events"
		" BEGIN SELECT RAISE(ABORT, 'refused'); END" };
	for (int k = 0; k < 2; k++) {
		fx_sql(f, trigger[k]);
		assert_weir_err(
		    weir_store_trim(f->st, 2, 0, &deleted), WEIR_ESTORE);
		assert_int_equal(ib_count(f->st), 0);
		fx_got g = { 0 };
		assert_weir_ok(
		    weir_store_read_all(f->st, 0, 0, fx_collect, &g));
		assert_int_equal(g.n, 1);
		fx_sql(f, "DROP TRIGGER no");
	}
	// Both halves taken: the redelivery is recognised by the inbox.
	assert_int_equal(ib_trim(f->st, 2), 1);
	assert_int_equal(ib_count(f->st), 1);
	ib_append(f->st, ev, &d);
	assert_weir_ok(d.err);
	assert_int_equal(d.dup, 1);
	assert_int_equal(d.seq, 0);
	assert_int_equal(ib_last(f->st), 1);
	weir_event_release(ev);
}

// Sets SQLite's length limit on the writer's connection (a bind past
// it is refused with SQLITE_TOOBIG, as bind_test.c does for every
// connection).
static weir_err
ib_set_limit(weir_store *st, sqlite3 *db, void *arg)
{
	(void) st;
	sqlite3_limit(db, SQLITE_LIMIT_LENGTH, *(int *) arg);
	return WEIR_OK;
}

// The log refusing one event in the middle of a run (a payload past
// SQLite's length limit, lowered on the writer's connection: the one
// refusal that is not storage trouble): that append fails and its id is
// not seen (the redelivery goes in once the log takes it); the others
// are committed, in order. (A trigger's abort is a storage error, which
// fails the whole batch: test_log_refuses, test_run_storage_error.)
static void
test_run_refused_mid_run(void **state)
{
	fx         *f = *state;
	weir_event *ev[RUN];
	ib_done     d[RUN];
	char       *big   = wt_filled(5000, 'b');
	int         limit = 4096, dflt = 1000000000;
	for (int i = 0; i < RUN; i++) {
		ev[i] = fx_event("in.ok", i == 7 ? big : "x");
	}
	assert_weir_ok(weir__writer_call(f->st, ib_set_limit, &limit));
	ib_batch(f->st, ev, RUN, d);
	uint64_t seq = 0;
	for (int i = 0; i < RUN; i++) {
		if (i == 7) {
			assert_int_equal(d[i].err, WEIR_ETOOBIG);
			assert_int_equal(d[i].seq, 0);
			continue;
		}
		assert_weir_ok(d[i].err);
		assert_int_equal(d[i].dup, 0);
		assert_int_equal(d[i].seq, ++seq);
	}
	assert_int_equal(ib_count(f->st), 0);
	assert_int_equal(ib_last(f->st), RUN - 1);
	// Redelivered once the log takes it: new, appended.
	assert_weir_ok(weir__writer_call(f->st, ib_set_limit, &dflt));
	ib_append(f->st, ev[7], &d[7]);
	assert_weir_ok(d[7].err);
	assert_int_equal(d[7].dup, 0);
	assert_int_equal(d[7].seq, RUN);
	assert_int_equal(ib_count(f->st), 0);
	ib_release_all(ev, RUN);
	free(big);
}

// A storage error in a run fails the whole batch: nothing appended,
// every append told. Four places: after the INSERT (the ts blocks gone),
// the store's 'inbound' mark (meta gone), the lookup in an inbox that
// has rows (the inbox gone) and the events INSERT (the log's table
// gone).
static void
test_run_storage_error(void **state)
{
	fx         *f = *state;
	weir_event *ev[RUN];
	ib_done     d[RUN];
	char       *big   = wt_filled(5000, 'b');
	int         limit = 4096, dflt = 1000000000;
	const char *sql[] = { "DROP TABLE events_ts_blocks", "DROP TABLE meta",
		"DROP TABLE inbox", "DROP TABLE events" };
	for (int i = 0; i < RUN; i++) {
		ev[i] = fx_event("in.e", i == 9 ? big : "e");
	}
	ib_append_new(f->st, "in.old"); // its id goes to the inbox
	assert_int_equal(ib_trim(f->st, 2), 1);
	assert_weir_ok(weir__writer_call(f->st, ib_set_limit, &limit));
	for (int k = 0; k < 4; k++) {
		if (k == 1) { // from here on the big event is no refusal
			assert_weir_ok(
			    weir__writer_call(f->st, ib_set_limit, &dflt));
		}
		fx_sql(f, sql[k]);
		ib_batch(f->st, ev, RUN, d);
		for (int i = 0; i < RUN; i++) {
			// The refused one keeps its own error where its
			// refusal was reached one by one.
			weir_err want =
			    k == 0 && i == 9 ? WEIR_ETOOBIG : WEIR_ESTORE;
			assert_int_equal(d[i].err, want);
			assert_int_equal(d[i].seq, 0);
		}
		assert_int_equal(ib_last(f->st), 1);
		if (k < 2) {
			assert_int_equal(ib_count(f->st), 1);
		}
	}
	ib_release_all(ev, RUN);
	free(big);
}

// A store that never took an inbox append (no inbound bridge): its trims
// record nothing, so its inbox does not grow with its log's turnover.
// Once it takes one, its trims record every id they remove (an inbound
// event's, and a local one's, which would be an echo if it came back).
static void
test_trim_records_once_inbound(void **state)
{
	fx *f = *state;
	fx_append(f->st, "local.a", "a");
	assert_int_equal(ib_trim(f->st, 2), 1);
	assert_int_equal(ib_count(f->st), 0);
	fx_append(f->st, "local.b", "b");
	ib_append_new(f->st, "in.a");
	assert_int_equal(ib_trim(f->st, 4), 2);
	assert_int_equal(ib_count(f->st), 2);
}

// The store's 'inbound' mark refused (the meta table gone) on a lone
// inbox append: the append fails with the storage error, naming the
// inbox, and nothing is written.
static void
test_mark_fails(void **state)
{
	fx         *f  = *state;
	weir_event *ev = fx_event("in.m", "m");
	ib_done     d;
	fx_sql(f, "DROP TABLE meta");
	ib_append(f->st, ev, &d);
	assert_int_equal(d.err, WEIR_ESTORE);
	assert_int_equal(d.seq, 0);
	assert_non_null(strstr(weir_store_errmsg(f->st), "inbox"));
	assert_int_equal(ib_last(f->st), 0);
	weir_event_release(ev);
}

// An inbox whose only row has an id that is not a blob (a write behind
// weir's back): the writer cannot bound the ids by it, so it looks
// every id up rather than skip the inbox; the row is pruned like any
// other.
static void
test_damaged_row_cautious(void **state)
{
	fx         *f  = *state;
	weir_event *ev = fx_event("in.x", "x");
	ib_done     d;
	fx_sql(f, "INSERT INTO inbox(id,ts) VALUES('text',1)");
	weir_store_destroy(f->st);
	f->st = NULL;
	fx_open(f);
	ib_runs before = ib_runs_now(f->st);
	ib_append(f->st, ev, &d);
	ib_runs after = ib_runs_now(f->st);
	assert_weir_ok(d.err);
	assert_int_equal(d.dup, 0);
	assert_int_equal(after.inbox_one - before.inbox_one, 1);
	uint64_t n = 99;
	assert_weir_ok(weir__store_inbox_prune(f->st, 0, 0, &n));
	assert_weir_ok(weir__store_inbox_prune(f->st, INT64_MAX, 0, &n));
	assert_int_equal(n, 1);
	before = ib_runs_now(f->st); // emptied: no lookup any more
	weir_event_release(ev);
	ev = fx_event("in.x", "y");
	ib_append(f->st, ev, &d);
	after = ib_runs_now(f->st);
	assert_int_equal(after.inbox_one - before.inbox_one, 0);
	weir_event_release(ev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_new_then_seen, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_local_event_comes_back, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_no_callback, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_prune, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_args, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_too_big, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_inbox_table_dropped, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_log_refuses, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_prune_refused, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_run_grouped, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_run_duplicate_inside, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_run_seen_and_logged, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_run_refused_mid_run, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_run_storage_error, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_trim_one_transaction, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_trim_records_once_inbound, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_mark_fails, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_damaged_row_cautious, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
