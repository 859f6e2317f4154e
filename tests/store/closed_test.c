/*
 * A closed store (weir_store_close, before weir_store_destroy): every
 * public call gives WEIR_ECLOSED with "store is closed" in errmsg,
 * whichever optional arguments it has, writes nothing, calls no
 * callback and zeroes what it would report. Closing twice is harmless.
 */
#include <string.h>

#include "fixture.h"

static int calls;

static weir_err
cl_read(weir_store *st, const weir_event *ev, const char *stream,
    int64_t version, void *arg)
{
	(void) st;
	(void) ev;
	(void) stream;
	(void) version;
	(void) arg;
	calls++;
	return WEIR_OK;
}

static void
cl_cursor(weir_store *st, const char *name, uint64_t seq, void *arg)
{
	(void) st;
	(void) name;
	(void) seq;
	(void) arg;
	calls++;
}

static void
cl_snap(weir_store *st, const char *stream, int64_t version, const void *data,
    size_t len, void *arg)
{
	(void) st;
	(void) stream;
	(void) version;
	(void) data;
	(void) len;
	(void) arg;
	calls++;
}

static weir_err
cl_dead(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	(void) st;
	(void) dl;
	(void) arg;
	calls++;
	return WEIR_OK;
}

static void
cl_problem(weir_store *st, const weir_store_problem *p, void *arg)
{
	(void) st;
	(void) p;
	(void) arg;
	calls++;
}

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
	    st, weir_store_dead_retry(st, NULL, cl_dead, NULL, NULL));
	assert_closed(
	    st, weir_store_dead_retry(st, "o", cl_dead, NULL, &retried));
	assert_int_equal(retried, 0);
	assert_int_equal(calls, 0);
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
	assert_closed(st, weir_store_read(st, &flt, cl_read, NULL));
	assert_closed(st, weir_store_read_all(st, 0, 0, cl_read, NULL));
	assert_closed(
	    st, weir_store_read_stream(st, "s", 0, 0, 0, cl_read, 0));
	assert_closed(st, weir_store_stream_version(st, "s", &v));
	assert_closed(st, weir_store_snapshot_load(st, "s", cl_snap, NULL));
	assert_closed(st, weir_store_cursor_get(st, "c", &seq));
	assert_closed(st, weir_store_cursor_list(st, cl_cursor, NULL));
	assert_closed(st, weir_store_dead_list(st, NULL, 0, cl_dead, NULL));
	assert_closed(st, weir_store_dead_list(st, "o", 1, cl_dead, NULL));
	assert_closed(st, weir_store_check(st));
	assert_closed(st, weir_store_check_report(st, cl_problem, NULL));
	weir_store_replay_opts rp = { .size = sizeof(rp),
		.target                     = WEIR_STORE_REPLAY_CALL,
		.fn                         = cl_read };
	uint64_t               n  = 99;
	assert_closed(st, weir_store_replay(st, &rp, &n));
	assert_int_equal(n, 0);
	assert_int_equal(calls, 0);
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
