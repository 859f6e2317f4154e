/*
 * A closed store (weir_store_close, before weir_store_destroy): every
 * public call gives WEIR_ECLOSED with "store is closed" in errmsg,
 * whichever optional arguments it has, writes nothing, calls no
 * callback and zeroes what it would report. Closing twice is harmless.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "counting.h"
#include "fixture.h"
#include "store/inbox.h"

// Asserts that @p expr is WEIR_ECLOSED and errmsg says why.
#define assert_closed(st, expr)                                        \
	do {                                                           \
		assert_weir_err(expr, WEIR_ECLOSED);                   \
		assert_non_null(                                       \
		    strstr(weir_store_errmsg(st), "store is closed")); \
	} while (0)

// A store with one event in stream "s", a cursor, a snapshot and a
// dead letter, then closed.
static weir_store *
cl_make(fx *f, weir_event **ev)
{
	weir_store_append_opts o = { .size = sizeof(o), .stream = "s" };
	*ev                      = fx_event("closed.x", "v");
	assert_weir_ok(weir_store_append(f->st, *ev, &o, NULL, NULL));
	assert_weir_ok(weir_store_cursor_set(f->st, "c", 1));
	assert_weir_ok(weir_store_snapshot_save(f->st, "s", 1, "x", 1));
	assert_weir_ok(
	    weir_store_dead_add(f->st, *ev, "o", WEIR_EBACKEND, "m", NULL));
	weir_store_close(f->st);
	weir_store_close(f->st);
	return f->st;
}

static void
test_writes(void **state)
{
	fx                    *f = *state;
	weir_event            *ev;
	weir_store            *st = cl_make(f, &ev);
	weir_store_append_opts o  = { .size = sizeof(o), .stream = "s" };
	uint64_t               n = 99, id = 99;
	size_t                 retried = 99;
	assert_closed(st, weir_store_append(st, ev, NULL, NULL, NULL));
	assert_closed(st, weir_store_append(st, ev, &o, NULL, NULL));
	assert_closed(st, weir_store_cursor_set(st, "c", 2));
	assert_closed(st, weir_store_cursor_delete(st, "c"));
	assert_closed(st, weir_store_trim(st, 1, 0, &n));
	assert_int_equal(n, 0);
	assert_closed(st, weir_store_trim(st, 0, 0, NULL));
	assert_closed(st, weir_store_trim(st, 0, 1, NULL));
	assert_closed(st, weir_store_snapshot_save(st, "s", 2, "y", 1));
	assert_closed(
	    st, weir_store_dead_add(st, ev, "o", WEIR_EIO, "m", &id));
	assert_closed(st, weir_store_dead_delete(st, 1));
	assert_closed(st, weir_store_dead_purge(st, NULL, NULL));
	n = 99;
	assert_closed(st, weir_store_dead_purge(st, "o", &n));
	assert_int_equal(n, 0);
	assert_closed(
	    st, weir_store_dead_retry(st, NULL, fx_count_dead, NULL, NULL));
	assert_closed(
	    st, weir_store_dead_retry(st, "o", fx_count_dead, NULL, &retried));
	assert_int_equal(retried, 0);
	assert_int_equal(fx_calls, 0);
	weir_event_release(ev);
}

static void
test_reads(void **state)
{
	fx               *f = *state;
	weir_event       *ev;
	weir_store       *st  = cl_make(f, &ev);
	weir_store_filter flt = { .size = sizeof(flt), .stream = "s" };
	uint64_t          seq = 99;
	int64_t           v   = 99;
	assert_closed(st, weir_store_read(st, &flt, fx_count_read, NULL));
	assert_closed(st, weir_store_read_all(st, 0, 0, fx_count_read, NULL));
	assert_closed(
	    st, weir_store_read_stream(st, "s", 0, 0, 0, fx_count_read, 0));
	assert_closed(st, weir_store_stream_version(st, "s", &v));
	assert_closed(
	    st, weir_store_snapshot_load(st, "s", fx_count_snap, NULL));
	assert_closed(st, weir_store_cursor_get(st, "c", &seq));
	assert_closed(st, weir_store_cursor_list(st, fx_count_cursor, NULL));
	assert_closed(
	    st, weir_store_dead_list(st, NULL, 0, fx_count_dead, NULL));
	assert_closed(
	    st, weir_store_dead_list(st, "o", 1, fx_count_dead, NULL));
	assert_closed(st, weir_store_check(st));
	assert_closed(st, weir_store_check_report(st, fx_count_problem, NULL));
	assert_closed(st, weir_store_last_seq(st, &seq));
	assert_int_equal(seq, 0);
	assert_closed(st, weir_store_flush(st));
	weir_store_replay_opts rp = { .size = sizeof(rp),
		.target                     = WEIR_STORE_REPLAY_CALL,
		.fn                         = fx_count_read };
	uint64_t               n  = 99;
	assert_closed(st, weir_store_replay(st, &rp, &n));
	assert_int_equal(n, 0);
	assert_int_equal(fx_calls, 0);
	weir_event_release(ev);
}

static void
test_attach(void **state)
{
	fx                    *f = *state;
	weir_event            *ev;
	weir_store            *st  = cl_make(f, &ev);
	weir_bus              *bus = NULL;
	weir_store_attachment *a   = (weir_store_attachment *) &a;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_closed(st, weir_store_attach(&a, st, bus, "closed.>", NULL));
	assert_null(a);
	weir_bus_destroy(bus);
	weir_event_release(ev);
}

// A read whose callback closes the store: the read ends normally (its
// connection was taken before), and the connection is closed on return
// rather than pooled (LeakSanitizer would see one left open).
static weir_err
close_inside(weir_store *st, const weir_event *ev, const char *stream,
    int64_t version, void *arg)
{
	(void) ev;
	(void) stream;
	(void) version;
	if (++*(int *) arg == 1) {
		weir_store_close(st);
	}
	return WEIR_OK;
}

static void
test_close_during_read(void **state)
{
	fx *f = *state;
	int n = 0;
	for (int i = 0; i < 3; i++) {
		fx_append(f->st, "during.x", "v");
	}
	assert_weir_ok(weir_store_read_all(f->st, 0, 0, close_inside, &n));
	assert_int_equal(n, 3);
	assert_closed(
	    f->st, weir_store_read_all(f->st, 0, 0, fx_count_read, NULL));
}

// ---- an append waiting for room in the writer's queue -------------------

typedef struct blocked {
	weir_store *st;
	int how; // 0: waits for the commit, 1: NOWAIT, 2: inbox, 3: flush
	atomic_int tid;
	weir_err   rv;
	atomic_int done; // callbacks: there must be none
} blocked;

static void
blocked_done(
    weir_store *st, weir_err err, uint64_t seq, int64_t version, void *arg)
{
	(void) st;
	(void) err;
	(void) seq;
	(void) version;
	atomic_fetch_add(&((blocked *) arg)->done, 1);
}

static void
blocked_inbox_done(
    weir_store *st, weir_err err, uint64_t seq, int dup, void *arg)
{
	(void) st;
	(void) err;
	(void) seq;
	(void) dup;
	atomic_fetch_add(&((blocked *) arg)->done, 1);
}

static void *
blocked_append(void *arg)
{
	blocked               *b  = arg;
	weir_event            *ev = fx_event("blocked.x", "b");
	weir_store_append_opts o  = { .size = sizeof(o),
		 .flags                     = WEIR_STORE_APPEND_NOWAIT,
		 .done                      = blocked_done,
		 .arg                       = b };
	atomic_store(&b->tid, (int) syscall(SYS_gettid));
	b->rv = b->how == 3 ? weir_store_flush(b->st)
	    : b->how == 2
	    ? weir__store_inbox_append(b->st, ev, blocked_inbox_done, b)
	    : weir_store_append(
	          b->st, ev, b->how == 1 ? &o : NULL, NULL, NULL);
	weir_event_release(ev);
	return NULL;
}

// Is thread @p tid of this process asleep (state S in /proc)?
static int
thread_sleeping(int tid)
{
	char  path[64], line[256];
	FILE *fp;
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	if ((fp = fopen(path, "r")) == NULL) {
		return 0;
	}
	char *got = fgets(line, sizeof(line), fp);
	fclose(fp);
	char *end = got ? strrchr(line, ')') : NULL;
	return end != NULL && end[1] == ' ' && end[2] == 'S';
}

static void *
close_thread(void *st)
{
	weir_store_close(st);
	return NULL;
}

// With the writer busy and its queue (of one) full, appends wait for
// room (one waiting for its commit, one NOWAIT, one to the inbox, and
// a flush);
// closing the store wakes each with WEIR_ECLOSED and no callback, and
// the append queued before them is still committed by the close.
static void
test_close_wakes_blocked_append(void **state)
{
	fx                *f = *state;
	weir_store_config *cfg;
	weir_store_destroy(f->st);
	assert_weir_ok(weir_store_config_create(&cfg));
	assert_weir_ok(weir_store_config_set_batch(cfg, 1, 1));
	fx_open_cfg(f, cfg);
	weir_store_config_destroy(cfg);
	fx_gate   g;
	pthread_t bth[4], cth;
	fx_gate_close(&g, f->st);
	// The queue's one place: an append that does not wait.
	weir_event            *ev = fx_event("queued.x", "q");
	weir_store_append_opts o  = { .size = sizeof(o),
		 .flags                     = WEIR_STORE_APPEND_NOWAIT };
	assert_weir_ok(weir_store_append(f->st, ev, &o, NULL, NULL));
	weir_event_release(ev);
	blocked b[4];
	for (int i = 0; i < 4; i++) {
		b[i] = (blocked) { .st = f->st, .how = i };
		assert_int_equal(
		    pthread_create(&bth[i], NULL, blocked_append, &b[i]), 0);
		wt_wait_until(
		    atomic_load(&b[i].tid) != 0 && thread_sleeping(b[i].tid));
	}
	// Close waits for the writer: from a thread of its own.
	assert_int_equal(pthread_create(&cth, NULL, close_thread, f->st), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(bth[i], NULL), 0);
		assert_int_equal(b[i].rv, WEIR_ECLOSED);
		assert_int_equal(atomic_load(&b[i].done), 0);
	}
	fx_gate_open(&g);
	assert_int_equal(pthread_join(cth, NULL), 0);
	// What was acknowledged as queued is in the log.
	weir_store_destroy(f->st);
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
		    test_writes, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_reads, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_attach, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_close_during_read, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_close_wakes_blocked_append, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
