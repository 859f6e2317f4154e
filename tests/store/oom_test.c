/*
 * Out of memory in every public store function (issue 8, item 9). The
 * store allocates through weir's allocator hook, so the failing
 * allocator of fault_alloc.h reaches it: each call runs with its n-th
 * allocation failing, n = 1, 2, ... until it succeeds. Every failure
 * must be WEIR_ENOMEM, call no callback it should not, and leave the
 * store usable; LeakSanitizer (asan stage) checks that nothing leaks.
 * SQLite's own allocations stay SQLite's and are not injected here.
 *
 * Functions that allocate nothing through the hook (close, flush,
 * cursors, snapshots, trim, ...) go through the same loop: they must
 * succeed at n = 1 and the loop says so.
 */
#include <string.h>
#include <sys/stat.h>

#include "core/evpool.h"
#include "fault_alloc.h"
#include "fixture.h"
#include "store/cursor.h"
#include "store/inbox.h"

static void
oom_arm(long n)
{
	weir__evpool_flush(); // events are allocated afresh each run
	fi_arm(n);
}

static long
oom_disarm(void)
{
	long calls = alloc_calls;
	fail_at    = 0;
	return calls;
}

static const fx_inject oom_inject = { oom_arm, oom_disarm };

#define oom_loop(f, what, fn, arg, append) \
	fx_inject_loop(f, &oom_inject, what, fn, arg, 0, append)

// A loop that must meet at least one failure (the function allocates).
#define OOM_ALLOCATES(f, fn, arg) \
	assert_true(oom_loop(f, #fn, fn, arg, 1) >= 1)
// The same for a function that writes nothing (probed without appends).
#define OOM_ALLOCATES_RO(f, fn, arg) \
	assert_true(oom_loop(f, #fn, fn, arg, 0) >= 1)
// A loop over a function that allocates nothing through the hook.
#define OOM_NO_ALLOC(f, fn, arg) \
	assert_int_equal(oom_loop(f, #fn, fn, arg, 1), 0)

static int
oom_setup(void **state)
{
	weir_set_allocator(&fi_alloc);
	return fx_setup(state);
}

static int
oom_teardown(void **state)
{
	fail_at = 0;
	fx_teardown(state);
	weir__evpool_flush();
	weir_set_allocator(NULL);
	return 0;
}

// An event whose encoded headers exceed the 512 bytes append keeps on
// the stack, so that a waiting append allocates too.
static weir_event *
big_header_event(const char *topic)
{
	static char value[600];
	memset(value, 'v', sizeof(value));
	weir_header     h    = { "big", value, sizeof(value) };
	weir_event     *ev   = NULL;
	weir_event_init init = { .size = sizeof(init),
		.topic                 = topic,
		.headers               = &h,
		.header_count          = 1 };
	assert_weir_ok(weir_event_new(&ev, &init));
	return ev;
}

/* ---- open, close, config --------------------------------------- */

static weir_err
do_open(fx *f, void *arg)
{
	(void) arg;
	weir_store_config *cfg;
	weir_store        *st;
	char               path[700], msg[128];
	snprintf(path, sizeof(path), "%s/other.db", f->dir);
	weir_err rv = weir_store_config_create(&cfg);
	if (rv == WEIR_OK) {
		rv = weir_store_config_set_vfs(cfg, "unix");
	}
	if (rv == WEIR_OK) {
		rv = weir_store_open(&st, path, cfg, msg, sizeof(msg));
		if (rv == WEIR_ENOMEM) {
			assert_null(st);
			assert_string_equal(msg, weir_strerror(WEIR_ENOMEM));
		}
	}
	weir_store_config_destroy(cfg);
	if (rv == WEIR_OK) {
		weir_store_destroy(st);
	}
	return rv;
}

// Without a config: the store makes its default one.
static weir_err
do_open_default(fx *f, void *arg)
{
	(void) arg;
	weir_store *st = (weir_store *) f;
	char        path[700], msg[128];
	snprintf(path, sizeof(path), "%s/default.db", f->dir);
	weir_err rv = weir_store_open(&st, path, NULL, msg, sizeof(msg));
	if (rv != WEIR_OK) {
		assert_null(st);
		assert_string_equal(msg, weir_strerror(WEIR_ENOMEM));
		return rv;
	}
	weir_store_destroy(st);
	return rv;
}

static weir_err
do_attach_config(fx *f, void *arg)
{
	(void) f;
	(void) arg;
	weir_store_attach_config *cfg;
	weir_err                  rv = weir_store_attach_config_create(&cfg);
	if (rv == WEIR_OK) {
		rv = weir_store_attach_config_set_name(cfg, "audit");
		weir_store_attach_config_destroy(cfg);
	}
	return rv;
}

static void
test_open_close(void **state)
{
	fx *f = *state;
	OOM_ALLOCATES(f, do_open, NULL);
	OOM_ALLOCATES(f, do_open_default, NULL);
	OOM_ALLOCATES(f, do_attach_config, NULL);
	// Closing allocates nothing: with every allocation failing it
	// still stops the store cleanly.
	fi_arm(1);
	weir_store_close(f->st);
	fail_at = 0;
	assert_weir_err(weir_store_flush(f->st), WEIR_ECLOSED);
	assert_non_null(weir_store_errmsg(f->st));
}

// An open with no memory at all from its n-th allocation on, for every
// n until one succeeds: each failure is WEIR_ENOMEM with no store and
// nothing leaked, and leaves no file behind, even when the failure
// comes after the store file was created (removing it must not need
// the memory that just ran out).
static void
test_open_starved(void **state)
{
	fx         *f = *state;
	weir_store *st;
	char        path[700], msg[128];
	struct stat sb;
	snprintf(path, sizeof(path), "%s/starved.db", f->dir);
	weir_err rv = WEIR_ENOMEM;
	for (long n = 1; rv == WEIR_ENOMEM; n++) {
		long live = live_allocs;
		st        = (weir_store *) f; // must become NULL
		weir__evpool_flush();
		fi_arm_from(n);
		rv        = weir_store_open(&st, path, NULL, msg, sizeof(msg));
		fail_from = 0;
		if (rv == WEIR_OK) {
			break;
		}
		assert_weir_err(rv, WEIR_ENOMEM);
		assert_null(st);
		assert_int_equal(live_allocs, live);
		if (stat(path, &sb) == 0) {
			fail_msg("n = %ld: the failed open left %s behind", n,
			    path);
		}
	}
	assert_weir_ok(rv);
	weir_store_destroy(st);
}

/* ---- append, flush ------------------------------------------------ */

static weir_err
do_append_wait(fx *f, void *arg)
{
	uint64_t seq = 0;
	weir_err rv  = weir_store_append(f->st, arg, NULL, &seq, NULL);
	assert_true(rv == WEIR_OK ? seq > 0 : seq == 0);
	return rv;
}

typedef struct nowait {
	weir_event *ev;
	int         done;
} nowait;

static void
nowait_done(
    weir_store *st, weir_err err, uint64_t seq, int64_t version, void *arg)
{
	(void) st;
	(void) seq;
	(void) version;
	assert_weir_ok(err);
	((nowait *) arg)->done++;
}

static weir_err
do_append_nowait(fx *f, void *arg)
{
	nowait                *nw  = arg;
	weir_store_append_opts opt = { .size = sizeof(opt),
		.stream                      = "acct",
		.flags                       = WEIR_STORE_APPEND_NOWAIT,
		.done                        = nowait_done,
		.arg                         = nw };
	weir_err rv = weir_store_append(f->st, nw->ev, &opt, NULL, NULL);
	// done runs if and only if the append was queued.
	assert_weir_ok(weir_store_flush(f->st));
	assert_int_equal(nw->done, rv == WEIR_OK);
	return rv;
}

static weir_err
do_flush(fx *f, void *arg)
{
	(void) arg;
	return weir_store_flush(f->st);
}

static void
test_append(void **state)
{
	fx         *f  = *state;
	weir_event *ev = big_header_event("orders.big");
	OOM_ALLOCATES(f, do_append_wait, ev);
	weir_event_release(ev);
	nowait nw = { .ev = big_header_event("orders.async") };
	OOM_ALLOCATES(f, do_append_nowait, &nw);
	weir_event_release(nw.ev);
	OOM_NO_ALLOC(f, do_flush, NULL);
}

/* ---- reading ------------------------------------------------------ */

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

// Checks that a failed read stopped early and a full one saw all 3.
static weir_err
read_result(weir_err rv, const fx_got *g)
{
	assert_true(rv == WEIR_OK ? g->n == 3 : g->n < 3);
	return rv;
}

static weir_err
do_read(fx *f, void *arg)
{
	(void) arg;
	fx_got            g   = { 0 };
	weir_store_filter flt = { .size = sizeof(flt), .pattern = "seed.>" };
	return read_result(weir_store_read(f->st, &flt, fx_collect, &g), &g);
}

static weir_err
do_read_all(fx *f, void *arg)
{
	(void) arg;
	fx_got g = { 0 };
	return read_result(
	    weir_store_read_all(f->st, 1, 3, fx_collect, &g), &g);
}

static weir_err
do_read_stream(fx *f, void *arg)
{
	(void) arg;
	fx_got g = { 0 };
	return read_result(
	    weir_store_read_stream(f->st, "s", 0, 0, 0, fx_collect, &g), &g);
}

static weir_err
do_stream_version(fx *f, void *arg)
{
	(void) arg;
	int64_t  v;
	weir_err rv = weir_store_stream_version(f->st, "s", &v);
	assert_true(rv != WEIR_OK || v == 3);
	return rv;
}

static weir_err
do_last_seq(fx *f, void *arg)
{
	(void) arg;
	uint64_t seq;
	char     buf[64];
	weir_err rv = weir_store_last_seq(f->st, &seq);
	weir_store_errmsg_copy(f->st, buf, sizeof(buf));
	assert_non_null(weir_store_errmsg(f->st));
	return rv;
}

// The check decodes every event, as the reads do.
static weir_err
do_check(fx *f, void *arg)
{
	(void) arg;
	return weir_store_check(f->st);
}

static void
test_read(void **state)
{
	fx *f = *state;
	seed(f);
	OOM_ALLOCATES(f, do_read, NULL);
	OOM_ALLOCATES(f, do_read_all, NULL);
	OOM_ALLOCATES(f, do_read_stream, NULL);
	OOM_NO_ALLOC(f, do_stream_version, NULL);
	OOM_NO_ALLOC(f, do_last_seq, NULL);
	OOM_ALLOCATES_RO(f, do_check, NULL);
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
cursor_async_fn(weir_store *st, weir_err rv, uint64_t seq, void *arg)
{
	(void) st;
	(void) seq;
	*(weir_err *) arg = rv;
}

// The relay's queued cursor write allocates its request: a failure is
// WEIR_ENOMEM with nothing queued (the callback never runs).
static weir_err
do_cursor_async(fx *f, void *arg)
{
	(void) arg;
	weir_err done = WEIR_EPENDING;
	weir_err rv   = weir__store_cursor_set_async(
	      f->st, "q", 3, cursor_async_fn, &done);
	if (rv == WEIR_OK) {
		assert_weir_ok(weir_store_flush(f->st));
		assert_weir_ok(done);
	} else {
		assert_weir_ok(weir_store_flush(f->st));
		assert_int_equal(done, WEIR_EPENDING);
	}
	return rv;
}

static void
test_snapshots_cursors(void **state)
{
	fx *f = *state;
	seed(f);
	OOM_NO_ALLOC(f, do_snapshots, NULL);
	OOM_NO_ALLOC(f, do_cursors, NULL);
	OOM_ALLOCATES(f, do_cursor_async, NULL);
}

/* ---- an emit's stack event, the inbox ------------------------------ */

// A listener that appends the event it is given: weir_emit() hands out
// an event on its stack, which the store must copy to keep (NOWAIT) and
// may fail to.
typedef struct stk {
	weir_bus   *bus;
	weir_store *st;
	int         inbox;
	int         done;
	weir_err    err;
	uint64_t    appended; // over the whole loop
} stk;

static void
stk_done(
    weir_store *st, weir_err err, uint64_t seq, int64_t version, void *arg)
{
	(void) st;
	(void) seq;
	(void) version;
	((stk *) arg)->err = err;
	((stk *) arg)->done++;
}

static void
stk_inbox_done(weir_store *st, weir_err err, uint64_t seq, int dup, void *arg)
{
	(void) st;
	(void) seq;
	assert_int_equal(dup, 0);
	((stk *) arg)->err = err;
	((stk *) arg)->done++;
	((stk *) arg)->appended += err == WEIR_OK;
}

static weir_err
stk_listener(weir_bus *bus, const weir_event *ev, void *arg)
{
	stk                   *c   = arg;
	weir_store_append_opts opt = { .size = sizeof(opt),
		.flags                       = WEIR_STORE_APPEND_NOWAIT,
		.done                        = stk_done,
		.arg                         = c };
	(void) bus;
	return c->inbox
	    ? weir__store_inbox_append(c->st, ev, stk_inbox_done, c)
	    : weir_store_append(c->st, ev, &opt, NULL, NULL);
}

static weir_err
do_emit_append(fx *f, void *arg)
{
	stk     *c = arg;
	uint64_t before, after;
	c->done = 0;
	long n  = fail_at; // the probes allocate nothing, but be sure
	fail_at = 0;
	assert_weir_ok(weir_store_last_seq(f->st, &before));
	oom_arm(n);
	weir_err rv = weir_emit(c->bus, "stk.x", "payload", 7, NULL);
	fail_at     = 0;
	// Queued (OK): done once, appended. Refused: no done, nothing.
	assert_weir_ok(weir_store_flush(f->st));
	assert_int_equal(c->done, rv == WEIR_OK);
	assert_weir_ok(weir_store_last_seq(f->st, &after));
	assert_int_equal(after, rv == WEIR_OK ? before + 1 : before);
	if (rv == WEIR_OK) {
		assert_weir_ok(c->err);
	}
	fail_at = n;
	return rv;
}

static void
test_emit_append(void **state)
{
	fx *f = *state;
	stk c = { .st = f->st };
	assert_weir_ok(weir_bus_create(&c.bus, NULL));
	assert_weir_ok(
	    weir_on(c.bus, "stk.>", stk_listener, &c, NULL, 0, NULL));
	OOM_ALLOCATES(f, do_emit_append, &c);
	c.inbox = 1;
	OOM_ALLOCATES(f, do_emit_append, &c);
	// Inbox appends write their event only (each checked by
	// do_emit_append): no inbox row while the event is in the log.
	uint64_t n;
	assert_weir_ok(weir__store_inbox_count(f->st, &n));
	assert_true(c.appended >= 1);
	assert_int_equal(n, 0);
	weir_bus_destroy(c.bus);
}

/* ---- replay ------------------------------------------------------- */

static weir_err
do_replay_call(fx *f, void *arg)
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
	weir_store_replay_cancel(f->st); // allocates nothing
	return read_result(rv, &g);
}

static weir_err
do_replay_publish(fx *f, void *arg)
{
	weir_bus              *bus = arg;
	weir_store_filter      flt = { .size = sizeof(flt), .stream = "s" };
	weir_store_replay_opts rp  = { .size = sizeof(rp),
		 .filter                     = &flt,
		 .target                     = WEIR_STORE_REPLAY_PUBLISH,
		 .bus                        = bus };
	uint64_t               n;
	return weir_store_replay(f->st, &rp, &n);
}

static void
test_replay(void **state)
{
	fx *f = *state;
	seed(f);
	OOM_ALLOCATES(f, do_replay_call, NULL);
	weir_bus    *bus;
	weir_subscr *sub;
	int          calls = 0;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_subscribe(
	    &sub, bus, "seed.>", wt_count_int_handler, &calls, NULL, NULL));
	OOM_ALLOCATES(f, do_replay_publish, bus);
	weir_bus_destroy(bus);
}

/* ---- dead letters ------------------------------------------------- */

static weir_err
do_dead_add(fx *f, void *arg)
{
	uint64_t id = 0;
	weir_err rv = weir_store_dead_add(
	    f->st, arg, "route", WEIR_EIO, "broker down", &id);
	assert_true(rv == WEIR_OK ? id > 0 : id == 0);
	return rv;
}

static weir_err
dl_count(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	(void) st;
	(void) dl;
	(*(int *) arg)++;
	return WEIR_OK;
}

static weir_err
do_dead_list(fx *f, void *arg)
{
	(void) arg;
	int      n  = 0;
	weir_err rv = weir_store_dead_list(f->st, NULL, 0, dl_count, &n);
	assert_true(rv == WEIR_OK ? n == 3 : n < 3);
	return rv;
}

// Every dead letter that fn took (returned WEIR_OK for) is gone after a
// retry, also one that failed part way: otherwise it would be handed
// out again and delivered twice.
static weir_err
do_dead_retry(fx *f, void *arg)
{
	(void) arg;
	int    before = 0, taken = 0, after = 0;
	size_t retried = 0;
	long   n       = fail_at;
	fail_at        = 0; // a success empties the table: fill it again
	for (int i = 0; i < 3; i++) {
		weir_event *ev = fx_event("orders.failed", "x");
		assert_weir_ok(weir_store_dead_add(
		    f->st, ev, "route", WEIR_EIO, NULL, NULL));
		weir_event_release(ev);
	}
	assert_weir_ok(
	    weir_store_dead_list(f->st, NULL, 0, dl_count, &before));
	weir__evpool_flush();
	fi_arm(n);
	weir_err rv =
	    weir_store_dead_retry(f->st, NULL, dl_count, &taken, &retried);
	fail_at = 0;
	assert_weir_ok(weir_store_dead_list(f->st, NULL, 0, dl_count, &after));
	assert_int_equal(after, before - taken);
	assert_int_equal(retried, (size_t) taken);
	return rv;
}

static weir_err
do_dead_remove(fx *f, void *arg)
{
	uint64_t purged;
	weir_err rv = weir_store_dead_delete(f->st, *(uint64_t *) arg);
	return rv != WEIR_OK ? rv
	                     : weir_store_dead_purge(f->st, "route", &purged);
}

static void
test_dead_letters(void **state)
{
	fx         *f  = *state;
	weir_event *ev = big_header_event("orders.failed");
	uint64_t    id;
	OOM_ALLOCATES(f, do_dead_add, ev);
	weir_event_release(ev);
	for (int i = 0; i < 2; i++) {
		ev = big_header_event("orders.failed");
		assert_weir_ok(weir_store_dead_add(
		    f->st, ev, "route", WEIR_EIO, NULL, NULL));
		weir_event_release(ev);
	}
	OOM_ALLOCATES(f, do_dead_list, NULL);
	OOM_ALLOCATES(f, do_dead_retry, NULL);
	ev = fx_event("orders.failed", "x");
	assert_weir_ok(
	    weir_store_dead_add(f->st, ev, "other", WEIR_EIO, NULL, &id));
	weir_event_release(ev);
	OOM_NO_ALLOC(f, do_dead_remove, &id);
}

/* ---- attach, detach, stats ---------------------------------------- */

static weir_err
do_attach(fx *f, void *arg)
{
	weir_bus                 *bus = arg;
	weir_store_attachment    *a   = NULL;
	weir_store_attach_config *cfg = NULL;
	weir_err                  rv  = weir_store_attach_config_create(&cfg);
	if (rv == WEIR_OK) {
		rv = weir_store_attach(&a, f->st, bus, "logged.>", cfg);
	}
	weir_store_attach_config_destroy(cfg);
	if (rv != WEIR_OK) {
		assert_null(a);
		return rv;
	}
	fail_at = 0; // the loop thread allocates too: run it unarmed
	// (the stats and detach allocate nothing)
	weir_store_attach_stats s = WEIR_STRUCT_INIT(weir_store_attach_stats);
	assert_weir_ok(weir_publish(bus, "logged.x", "x", 1, 0, NULL));
	assert_weir_ok(weir_store_attach_stats_get(a, &s));
	weir_store_detach(a);
	return WEIR_OK;
}

static void
test_attach(void **state)
{
	fx       *f = *state;
	weir_bus *bus;
	uint64_t  before, after;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_store_last_seq(f->st, &before));
	OOM_ALLOCATES(f, do_attach, bus);
	// Only the successful attach logged its event (probes aside).
	fx_got            g   = { 0 };
	weir_store_filter flt = { .size = sizeof(flt), .pattern = "logged.>" };
	assert_weir_ok(weir_store_read(f->st, &flt, fx_collect, &g));
	assert_int_equal(g.n, 1);
	assert_weir_ok(weir_store_last_seq(f->st, &after));
	assert_true(after > before);
	weir_bus_destroy(bus);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_open_close, oom_setup, oom_teardown),
		cmocka_unit_test_setup_teardown(
		    test_open_starved, oom_setup, oom_teardown),
		cmocka_unit_test_setup_teardown(
		    test_append, oom_setup, oom_teardown),
		cmocka_unit_test_setup_teardown(
		    test_read, oom_setup, oom_teardown),
		cmocka_unit_test_setup_teardown(
		    test_snapshots_cursors, oom_setup, oom_teardown),
		cmocka_unit_test_setup_teardown(
		    test_emit_append, oom_setup, oom_teardown),
		cmocka_unit_test_setup_teardown(
		    test_replay, oom_setup, oom_teardown),
		cmocka_unit_test_setup_teardown(
		    test_dead_letters, oom_setup, oom_teardown),
		cmocka_unit_test_setup_teardown(
		    test_attach, oom_setup, oom_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
