/*
 * Named cursors and retention that never passes the lowest cursor.
 */
#include "fixture.h"

#include "store/cursor.h"

typedef struct names {
	int      n;
	char     name[8][32];
	uint64_t seq[8];
} names;

static void
on_cursor(weir_store *st, const char *name, uint64_t seq, void *arg)
{
	names *c = arg;
	(void) st;
	snprintf(c->name[c->n], 32, "%s", name);
	c->seq[c->n++] = seq;
}

static void
test_cursors(void **state)
{
	fx      *f = *state;
	uint64_t seq;
	names    c = { 0 };
	assert_weir_err(
	    weir_store_cursor_get(f->st, "kafka.orders", &seq), WEIR_ENOENT);
	assert_non_null(strstr(weir_store_errmsg(f->st), "kafka.orders"));
	assert_weir_ok(weir_store_cursor_set(f->st, "kafka.orders", 5));
	assert_weir_ok(weir_store_cursor_set(f->st, "nats.users", 9));
	assert_weir_ok(weir_store_cursor_set(f->st, "kafka.orders", 7));
	assert_weir_ok(weir_store_cursor_get(f->st, "kafka.orders", &seq));
	assert_int_equal(seq, 7);
	assert_weir_ok(weir_store_cursor_list(f->st, on_cursor, &c));
	assert_int_equal(c.n, 2);
	assert_string_equal(c.name[0], "kafka.orders");
	assert_int_equal(c.seq[1], 9);
	assert_weir_ok(weir_store_cursor_delete(f->st, "nats.users"));
	assert_weir_err(
	    weir_store_cursor_delete(f->st, "nats.users"), WEIR_ENOENT);
	assert_weir_err(weir_store_cursor_set(f->st, "", 1), WEIR_EBADNAME);
	assert_weir_err(
	    weir_store_cursor_get(f->st, "a\x01", &seq), WEIR_EBADNAME);
	// Cursors survive a restart.
	weir_store_destroy(f->st);
	fx_open(f);
	assert_weir_ok(weir_store_cursor_get(f->st, "kafka.orders", &seq));
	assert_int_equal(seq, 7);
}

static size_t
count(weir_store *st)
{
	fx_got g = { 0 };
	assert_weir_ok(weir_store_read_all(st, 0, 0, fx_collect, &g));
	return g.n;
}

static void
test_trim_by_seq(void **state)
{
	fx      *f = *state;
	uint64_t deleted;
	for (int i = 0; i < 20; i++) {
		fx_append(f->st, "t.x", "x");
	}
	assert_weir_ok(weir_store_trim(f->st, 0, 0, &deleted));
	assert_int_equal(deleted, 0);
	assert_weir_ok(weir_store_cursor_set(f->st, "relay", 5));
	assert_weir_ok(weir_store_trim(f->st, 15, 0, &deleted));
	assert_int_equal(deleted, 5); // 1..5: the cursor has passed them
	assert_int_equal(count(f->st), 15);
	assert_weir_ok(weir_store_cursor_set(f->st, "relay", 20));
	assert_weir_ok(weir_store_trim(f->st, 15, 0, &deleted));
	assert_int_equal(deleted, 9); // 6..14
	assert_weir_ok(weir_store_cursor_delete(f->st, "relay"));
	assert_weir_ok(weir_store_trim(f->st, 1000, 0, &deleted));
	assert_int_equal(deleted, 6);
	assert_int_equal(count(f->st), 0);
	// An emptied log never hands out a seq again, even after a restart.
	weir_store_destroy(f->st);
	fx_open(f);
	assert_int_equal(fx_append(f->st, "t.x", "after"), 21);
}

static void
test_trim_by_age(void **state)
{
	fx      *f = *state;
	uint64_t deleted;
	int64_t  now = 0;
	for (int i = 0; i < 10; i++) {
		weir_event     *ev;
		int64_t         age = (int64_t) (10 - i) * 3600 * 1000000000LL;
		weir_event_init init  = { .size = sizeof(weir_event_init),
			 .topic                 = "t.aged" };
		weir_event     *probe = fx_event("t.probe", NULL);
		now                   = weir_event_ts(probe);
		weir_event_release(probe);
		init.ts = now - age; // 10h, 9h, ... 1h old
		assert_weir_ok(weir_event_new(&ev, &init));
		assert_weir_ok(weir_store_append(f->st, ev, NULL, NULL, NULL));
		weir_event_release(ev);
	}
	assert_weir_ok(weir_store_cursor_set(f->st, "slow", 3));
	int64_t five_h = 5LL * 3600 * 1000000000LL + 1800LL * 1000000000LL;
	assert_weir_ok(weir_store_trim(f->st, 0, five_h, &deleted));
	assert_int_equal(deleted, 3); // older than 5.5h are 1..5; cursor at 3
	assert_weir_ok(weir_store_cursor_delete(f->st, "slow"));
	assert_weir_ok(weir_store_trim(f->st, 0, five_h, &deleted));
	assert_int_equal(deleted, 2);
	assert_int_equal(count(f->st), 5);
	assert_weir_err(weir_store_trim(f->st, 0, -1, NULL), WEIR_EINVAL);
}

// A cursor row whose seq is not a non-negative integer (a damaged or
// hand-edited store): listing it is WEIR_ECORRUPT, its callback never
// sees it.
static void
test_damaged_seq(void **state)
{
	fx         *f     = *state;
	const char *bad[] = { "UPDATE cursors SET seq='x' WHERE name='b'",
		"UPDATE cursors SET seq=-1 WHERE name='b'",
		"UPDATE cursors SET seq=1.5 WHERE name='b'" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_weir_ok(weir_store_cursor_set(f->st, "a", 1));
		assert_weir_ok(weir_store_cursor_set(f->st, "b", 2));
		fx_sql(f, bad[i]);
		names c = { 0 };
		assert_weir_err(weir_store_cursor_list(f->st, on_cursor, &c),
		    WEIR_ECORRUPT);
		assert_non_null(
		    strstr(weir_store_errmsg(f->st), "damaged cursor"));
		assert_int_equal(c.n, 1);
		assert_string_equal(c.name[0], "a");
	}
}

/* What the done callbacks of queued cursor writes saw, in order. */
typedef struct async_seen {
	atomic_int n;
	weir_err   err[4];
	uint64_t   seq[4];
} async_seen;

static void
on_async(weir_store *st, weir_err err, uint64_t seq, void *arg)
{
	async_seen *a = arg;
	(void) st;
	int i     = atomic_load(&a->n);
	a->err[i] = err;
	a->seq[i] = seq;
	atomic_store(&a->n, i + 1);
}

/* A queued cursor write commits without the caller waiting; writes
 * queued one after another land in that order; a bad name is refused
 * at once, without a callback. */
static void
test_cursor_async(void **state)
{
	fx        *f = *state;
	async_seen a = { 0 };
	uint64_t   seq;
	assert_weir_ok(
	    weir__store_cursor_set_async(f->st, "relay", 4, on_async, &a));
	assert_weir_ok(
	    weir__store_cursor_set_async(f->st, "relay", 6, on_async, &a));
	assert_weir_err(
	    weir__store_cursor_set_async(f->st, "", 1, on_async, &a),
	    WEIR_EBADNAME);
	assert_weir_err(
	    weir__store_cursor_set_async(f->st, "relay", 1, NULL, NULL),
	    WEIR_EINVAL);
	assert_weir_err(
	    weir__store_cursor_set_async(NULL, "relay", 1, on_async, &a),
	    WEIR_EINVAL);
	assert_weir_err(weir__store_cursor_set_async(f->st, "relay",
	                    (uint64_t) INT64_MAX + 1, on_async, &a),
	    WEIR_EINVAL);
	assert_weir_ok(weir_store_flush(f->st));
	assert_int_equal(atomic_load(&a.n), 2);
	assert_weir_ok(a.err[0]);
	assert_int_equal(a.seq[0], 4);
	assert_int_equal(a.seq[1], 6);
	assert_weir_ok(weir_store_cursor_get(f->st, "relay", &seq));
	assert_int_equal(seq, 6);
}

typedef struct async_call {
	weir_store *st;
	async_seen  seen;
	atomic_int  returned;
} async_call;

static void *
async_main(void *arg)
{
	async_call *c = arg;
	weir_err    e = weir__store_cursor_set_async(
	       c->st, "relay", 9, on_async, &c->seen);
	atomic_store(&c->returned, e == WEIR_OK ? 1 : -1);
	return NULL;
}

static void
on_appended(
    weir_store *st, weir_err err, uint64_t seq, int64_t version, void *arg)
{
	(void) st;
	(void) err;
	(void) seq;
	(void) version;
	(void) arg;
}

/* A queued cursor write never waits for room in the writer's queue
 * (the bridge's relay must not stop while the intake fills it). */
static void
test_cursor_async_full_queue(void **state)
{
	fx                *f = *state;
	weir_store_config *cfg;
	weir_store_destroy(f->st);
	assert_weir_ok(weir_store_config_create(&cfg));
	assert_weir_ok(weir_store_config_set_durability(
	    cfg, WEIR_STORE_DURABILITY_NORMAL));
	assert_weir_ok(weir_store_config_set_batch(cfg, 1, 2));
	fx_open_cfg(f, cfg);
	weir_store_config_destroy(cfg);
	fx_gate g;
	fx_gate_close(&g, f->st);
	weir_store_append_opts o = WEIR_STRUCT_INIT(weir_store_append_opts);
	o.flags                  = WEIR_STORE_APPEND_NOWAIT;
	o.done                   = on_appended;
	for (int i = 0; i < 2; i++) { /* the queue is full */
		weir_event *ev = fx_event("t", "x");
		assert_weir_ok(weir_store_append(f->st, ev, &o, NULL, NULL));
		weir_event_release(ev);
	}
	async_call c = { .st = f->st };
	pthread_t  th;
	assert_int_equal(pthread_create(&th, NULL, async_main, &c), 0);
	wt_wait_until(atomic_load(&c.returned) != 0);
	assert_int_equal(atomic_load(&c.returned), 1);
	assert_int_equal(atomic_load(&c.seen.n), 0); /* not committed yet */
	fx_gate_open(&g);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_weir_ok(weir_store_flush(f->st));
	assert_int_equal(atomic_load(&c.seen.n), 1);
	uint64_t seq;
	assert_weir_ok(weir_store_cursor_get(f->st, "relay", &seq));
	assert_int_equal(seq, 9);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_cursors, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_cursor_async, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_cursor_async_full_queue, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_trim_by_seq, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_trim_by_age, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_damaged_seq, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
