/*
 * Bad arguments to every public store call: a NULL store, a NULL
 * callback or output, a number out of its range. Each is refused with
 * WEIR_EINVAL (WEIR_EBADNAME for a missing name), calls no callback and
 * leaves the store as it was: same last seq, no cursor, no dead letter.
 * The same for the setters of the store's and the attachment's configs.
 */
#include "counting.h"
#include "fixture.h"

// Nothing changed: the one seeded event is the last, no cursor, no
// dead letter, and no callback ran.
static void
assert_unchanged(fx *f, uint64_t last)
{
	uint64_t now;
	int      before = fx_calls;
	assert_weir_ok(weir_store_last_seq(f->st, &now));
	assert_int_equal(now, last);
	assert_weir_ok(weir_store_cursor_list(f->st, fx_count_cursor, NULL));
	assert_weir_ok(
	    weir_store_dead_list(f->st, NULL, 0, fx_count_dead, NULL));
	assert_int_equal(fx_calls, before);
	assert_int_equal(fx_calls, 0);
}

static void
test_null_store(void **state)
{
	fx         *f    = *state;
	uint64_t    last = fx_append(f->st, "a.b", "x"), u = 0;
	int64_t     v  = 0;
	size_t      n  = 0;
	weir_event *ev = fx_event("a.b", "y");
	assert_weir_err(
	    weir_store_append(NULL, ev, NULL, &u, NULL), WEIR_EINVAL);
	assert_weir_err(weir_store_flush(NULL), WEIR_EINVAL);
	assert_weir_err(weir_store_last_seq(NULL, &u), WEIR_EINVAL);
	assert_weir_err(
	    weir_store_read(NULL, NULL, fx_count_read, NULL), WEIR_EINVAL);
	assert_weir_err(
	    weir_store_read_all(NULL, 0, 0, fx_count_read, NULL), WEIR_EINVAL);
	assert_weir_err(
	    weir_store_read_stream(NULL, "s", 0, 0, 0, fx_count_read, NULL),
	    WEIR_EINVAL);
	assert_weir_err(weir_store_stream_version(NULL, "s", &v), WEIR_EINVAL);
	assert_weir_err(
	    weir_store_snapshot_save(NULL, "s", 1, "x", 1), WEIR_EINVAL);
	assert_weir_err(
	    weir_store_snapshot_load(NULL, "s", fx_count_snap, NULL),
	    WEIR_EINVAL);
	assert_weir_err(weir_store_cursor_set(NULL, "c", 1), WEIR_EINVAL);
	assert_weir_err(weir_store_cursor_get(NULL, "c", &u), WEIR_EINVAL);
	assert_weir_err(weir_store_cursor_delete(NULL, "c"), WEIR_EINVAL);
	assert_weir_err(
	    weir_store_cursor_list(NULL, fx_count_cursor, NULL), WEIR_EINVAL);
	assert_weir_err(weir_store_trim(NULL, 1, 0, &u), WEIR_EINVAL);
	assert_weir_err(weir_store_replay(NULL, NULL, &u), WEIR_EINVAL);
	assert_weir_err(weir_store_dead_add(NULL, ev, "o", WEIR_EIO, NULL, &u),
	    WEIR_EINVAL);
	assert_weir_err(
	    weir_store_dead_list(NULL, NULL, 0, fx_count_dead, NULL),
	    WEIR_EINVAL);
	assert_weir_err(
	    weir_store_dead_retry(NULL, NULL, fx_count_dead, NULL, &n),
	    WEIR_EINVAL);
	assert_weir_err(weir_store_dead_delete(NULL, 1), WEIR_EINVAL);
	assert_weir_err(weir_store_dead_purge(NULL, NULL, &u), WEIR_EINVAL);
	assert_weir_err(weir_store_check(NULL), WEIR_EINVAL);
	weir_store_replay_cancel(NULL);
	weir_event_release(ev);
	assert_unchanged(f, last);
}

static void
test_null_output_or_callback(void **state)
{
	fx         *f    = *state;
	uint64_t    last = fx_append(f->st, "a.b", "x");
	weir_event *ev   = fx_event("a.b", "y");
	assert_weir_err(
	    weir_store_append(f->st, NULL, NULL, NULL, NULL), WEIR_EINVAL);
	assert_weir_err(weir_store_last_seq(f->st, NULL), WEIR_EINVAL);
	assert_weir_err(weir_store_read(f->st, NULL, NULL, NULL), WEIR_EINVAL);
	assert_weir_err(
	    weir_store_read_all(f->st, 0, 0, NULL, NULL), WEIR_EINVAL);
	assert_weir_err(
	    weir_store_read_stream(f->st, "s", 0, 0, 0, NULL, NULL),
	    WEIR_EINVAL);
	assert_weir_err(
	    weir_store_stream_version(f->st, "s", NULL), WEIR_EINVAL);
	assert_weir_err(
	    weir_store_snapshot_load(f->st, "s", NULL, NULL), WEIR_EINVAL);
	assert_weir_err(weir_store_cursor_get(f->st, "c", NULL), WEIR_EINVAL);
	assert_weir_err(
	    weir_store_cursor_list(f->st, NULL, NULL), WEIR_EINVAL);
	assert_weir_err(weir_store_replay(f->st, NULL, NULL), WEIR_EINVAL);
	assert_weir_err(
	    weir_store_dead_add(f->st, NULL, "o", WEIR_EIO, NULL, NULL),
	    WEIR_EINVAL);
	assert_weir_err(
	    weir_store_dead_list(f->st, NULL, 0, NULL, NULL), WEIR_EINVAL);
	assert_weir_err(
	    weir_store_dead_retry(f->st, NULL, NULL, NULL, NULL), WEIR_EINVAL);
	weir_event_release(ev);
	assert_unchanged(f, last);
}

static void
test_out_of_range(void **state)
{
	fx      *f    = *state;
	uint64_t last = fx_append(f->st, "a.b", "x"), u = 7;
	fx_got   g = { 0 };
	// Seqs are int64 in SQLite: above INT64_MAX is no seq.
	assert_weir_err(
	    weir_store_cursor_set(f->st, "c", (uint64_t) INT64_MAX + 1),
	    WEIR_EINVAL);
	assert_weir_err(
	    weir_store_trim(f->st, (uint64_t) INT64_MAX + 1, 0, &u),
	    WEIR_EINVAL);
	assert_weir_err(weir_store_trim(f->st, 0, -1, &u), WEIR_EINVAL);
	assert_weir_err(
	    weir_store_read_stream(f->st, "s", -1, 0, 0, fx_collect, &g),
	    WEIR_EINVAL);
	assert_int_equal(g.n, 0);
	// Below WEIR_STORE_EXPECT_NO_STREAM is no expectation.
	weir_event            *ev  = fx_event("a.b", "y");
	weir_store_append_opts opt = { .size = sizeof(opt),
		.stream                      = "s",
		.expected = WEIR_STORE_EXPECT_NO_STREAM - 1 };
	assert_weir_err(
	    weir_store_append(f->st, ev, &opt, &u, NULL), WEIR_EINVAL);
	weir_event_release(ev);
	// Names: no control character, DEL included.
	assert_weir_err(
	    weir_store_cursor_set(f->st, "c\x7f", 1), WEIR_EBADNAME);
	assert_weir_err(
	    weir_store_cursor_set(f->st, "c\x1f", 1), WEIR_EBADNAME);
	assert_non_null(strstr(weir_store_errmsg(f->st), "control character"));
	// Trim with nothing to trim by: nothing deleted.
	assert_weir_ok(weir_store_trim(f->st, 0, 0, &u));
	assert_int_equal(u, 0);
	assert_unchanged(f, last);
}

// The configs' setters refuse NULL and values out of range; a config
// whose every set was refused still opens a store with the defaults.
static void
test_config_setters(void **state)
{
	fx                *f = *state;
	weir_store_config *cfg;
	weir_store        *st;
	char               path[700], msg[128];
	assert_weir_err(weir_store_config_create(NULL), WEIR_EINVAL);
	assert_weir_ok(weir_store_config_create(&cfg));
	assert_weir_err(
	    weir_store_config_set_durability(NULL, WEIR_STORE_DURABILITY_FULL),
	    WEIR_EINVAL);
	assert_weir_err(
	    weir_store_config_set_durability(cfg, (weir_store_durability) 99),
	    WEIR_EINVAL);
	assert_weir_err(weir_store_config_set_max_event(NULL, 1), WEIR_EINVAL);
	assert_weir_err(weir_store_config_set_max_event(cfg, 0), WEIR_EINVAL);
	assert_weir_err(
	    weir_store_config_set_max_event(cfg, 512u * 1024 * 1024 + 1),
	    WEIR_EINVAL);
	assert_weir_ok(
	    weir_store_config_set_max_event(cfg, 512u * 1024 * 1024));
	assert_weir_err(weir_store_config_set_batch(NULL, 1, 1), WEIR_EINVAL);
	assert_weir_err(weir_store_config_set_batch(cfg, 0, 1), WEIR_EINVAL);
	assert_weir_err(weir_store_config_set_batch(cfg, 1, 0), WEIR_EINVAL);
	assert_weir_err(weir_store_config_set_max_pages(NULL, 1), WEIR_EINVAL);
	assert_weir_err(
	    weir_store_config_set_max_pages(cfg, (uint64_t) INT32_MAX + 1),
	    WEIR_EINVAL);
	assert_weir_err(weir_store_config_set_vfs(NULL, "unix"), WEIR_EINVAL);
	assert_weir_ok(weir_store_config_set_vfs(cfg, NULL)); // the default
	snprintf(path, sizeof(path), "%s/cfg.db", f->dir);
	assert_weir_ok(weir_store_open(&st, path, cfg, msg, sizeof(msg)));
	assert_int_equal(fx_append(st, "a.b", "x"), 1);
	weir_store_destroy(st);
	weir_store_config_destroy(cfg);
	weir_store_config_destroy(NULL);

	weir_store_attach_config *ac;
	assert_weir_err(weir_store_attach_config_create(NULL), WEIR_EINVAL);
	assert_weir_ok(weir_store_attach_config_create(&ac));
	assert_weir_err(
	    weir_store_attach_config_set_capacity(NULL, 1), WEIR_EINVAL);
	assert_weir_err(
	    weir_store_attach_config_set_capacity(ac, 0), WEIR_EINVAL);
	assert_weir_err(
	    weir_store_attach_config_set_capacity(ac, ((size_t) 1 << 30) + 1),
	    WEIR_EINVAL);
	assert_weir_ok(
	    weir_store_attach_config_set_capacity(ac, (size_t) 1 << 30));
	assert_weir_err(
	    weir_store_attach_config_set_policy(NULL, WEIR_POLICY_BLOCK, -1),
	    WEIR_EINVAL);
	assert_weir_err(weir_store_attach_config_set_policy(
	                    ac, (weir_policy) (WEIR_POLICY_COALESCE + 1), -1),
	    WEIR_EINVAL);
	assert_weir_err(
	    weir_store_attach_config_set_policy(ac, WEIR_POLICY_BLOCK, -2),
	    WEIR_EINVAL);
	assert_weir_err(
	    weir_store_attach_config_set_name(NULL, "n"), WEIR_EINVAL);
	assert_weir_err(
	    weir_store_attach_config_set_name(ac, ""), WEIR_EINVAL);
	assert_weir_ok(weir_store_attach_config_set_name(ac, "n"));
	assert_weir_ok(weir_store_attach_config_set_name(ac, NULL));
	weir_store_attach_config_destroy(ac);
	weir_store_attach_config_destroy(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_null_store, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_null_output_or_callback, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_out_of_range, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_config_setters, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
