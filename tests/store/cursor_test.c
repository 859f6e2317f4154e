/*
 * Named cursors and retention that never passes the lowest cursor.
 */
#include "fixture.h"

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_cursors, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_trim_by_seq, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_trim_by_age, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_damaged_seq, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
