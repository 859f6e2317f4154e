/*
 * Streams: optimistic concurrency, reading forward and backward,
 * snapshots.
 */
#include "fixture.h"

static weir_err
append_to(weir_store *st, const char *stream, int64_t expected,
    const char *text, int64_t *version)
{
	weir_event            *ev  = fx_event("account.changed", text);
	weir_store_append_opts opt = {
		.size = sizeof(opt), .stream = stream, .expected = expected
	};
	weir_err rv = weir_store_append(st, ev, &opt, NULL, version);
	weir_event_release(ev);
	return rv;
}

static void
test_expected_versions(void **state)
{
	fx     *f = *state;
	int64_t v;
	assert_weir_ok(
	    append_to(f->st, "acct-1", WEIR_STORE_EXPECT_NO_STREAM, "a", &v));
	assert_int_equal(v, 1);
	assert_weir_err(
	    append_to(f->st, "acct-1", WEIR_STORE_EXPECT_NO_STREAM, "x", &v),
	    WEIR_ECONFLICT);
	assert_non_null(strstr(weir_store_errmsg(f->st), "acct-1"));
	assert_non_null(strstr(weir_store_errmsg(f->st), "version 1"));
	assert_weir_ok(append_to(f->st, "acct-1", 1, "b", &v));
	assert_int_equal(v, 2);
	assert_weir_err(
	    append_to(f->st, "acct-1", 1, "stale", &v), WEIR_ECONFLICT);
	assert_weir_err(
	    append_to(f->st, "acct-1", 5, "ahead", &v), WEIR_ECONFLICT);
	assert_weir_ok(
	    append_to(f->st, "acct-1", WEIR_STORE_EXPECT_ANY, "c", &v));
	assert_int_equal(v, 3);
	assert_weir_ok(
	    append_to(f->st, "acct-2", WEIR_STORE_EXPECT_ANY, "z", &v));
	assert_int_equal(v, 1);
	assert_weir_ok(weir_store_stream_version(f->st, "acct-1", &v));
	assert_int_equal(v, 3);
	assert_weir_ok(weir_store_stream_version(f->st, "nobody", &v));
	assert_int_equal(v, 0);
	// Conflicts wrote nothing: seq stayed dense.
	uint64_t last;
	assert_weir_ok(weir_store_last_seq(f->st, &last));
	assert_int_equal(last, 4);
}

static void
test_read_directions(void **state)
{
	fx         *f   = *state;
	const char *t[] = { "1", "2", "3", "4", "5" };
	for (int i = 0; i < 5; i++) {
		assert_weir_ok(append_to(f->st, "s", i, t[i], NULL));
		fx_append(f->st, "noise.here", "n");
	}
	fx_got g = { 0 };
	assert_weir_ok(
	    weir_store_read_stream(f->st, "s", 0, 0, 0, fx_collect, &g));
	assert_int_equal(g.n, 5);
	for (int i = 0; i < 5; i++) {
		assert_string_equal(g.payload[i], t[i]);
		assert_int_equal(g.version[i], i + 1);
		assert_string_equal(g.stream[i], "s");
	}
	memset(&g, 0, sizeof(g));
	assert_weir_ok(
	    weir_store_read_stream(f->st, "s", 0, 1, 2, fx_collect, &g));
	assert_int_equal(g.n, 2);
	assert_string_equal(g.payload[0], "5");
	assert_string_equal(g.payload[1], "4");
	memset(&g, 0, sizeof(g));
	assert_weir_ok(
	    weir_store_read_stream(f->st, "s", 3, 0, 0, fx_collect, &g));
	assert_int_equal(g.n, 3);
	assert_int_equal(g.version[0], 3);
	memset(&g, 0, sizeof(g));
	assert_weir_ok(
	    weir_store_read_stream(f->st, "s", 2, 1, 0, fx_collect, &g));
	assert_int_equal(g.n, 2);
	assert_int_equal(g.version[0], 2);
	assert_int_equal(g.version[1], 1);
	memset(&g, 0, sizeof(g));
	assert_weir_err(
	    weir_store_read_stream(f->st, "", 0, 0, 0, fx_collect, &g),
	    WEIR_EBADNAME);
	assert_weir_err(
	    weir_store_read_stream(f->st, NULL, 0, 0, 0, fx_collect, &g),
	    WEIR_EBADNAME);
}

typedef struct snap {
	int     calls;
	int64_t version;
	char    data[64];
} snap;

static void
on_snapshot(weir_store *st, const char *stream, int64_t version,
    const void *data, size_t len, void *arg)
{
	snap *s = arg;
	(void) st;
	assert_string_equal(stream, "acct");
	s->calls++;
	s->version = version;
	snprintf(
	    s->data, sizeof(s->data), "%.*s", (int) len, (const char *) data);
}

static void
test_snapshots(void **state)
{
	fx  *f = *state;
	snap s = { 0 };
	assert_weir_err(
	    weir_store_snapshot_load(f->st, "acct", on_snapshot, &s),
	    WEIR_ENOENT);
	assert_int_equal(s.calls, 0);
	assert_weir_ok(
	    weir_store_snapshot_save(f->st, "acct", 3, "bal=30", 6));
	assert_weir_ok(
	    weir_store_snapshot_save(f->st, "acct", 10, "bal=99", 6));
	assert_weir_ok(
	    weir_store_snapshot_save(f->st, "acct", 7, "bal=70", 6));
	assert_weir_ok(
	    weir_store_snapshot_load(f->st, "acct", on_snapshot, &s));
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.version, 10);
	assert_string_equal(s.data, "bal=99");
	assert_weir_err(
	    weir_store_snapshot_save(f->st, "acct", 0, "x", 1), WEIR_EINVAL);
	assert_weir_err(
	    weir_store_snapshot_save(f->st, "a\nb", 1, "x", 1), WEIR_EBADNAME);
}

static void
test_snapshot_limits(void **state)
{
	fx                *f = *state;
	weir_store_config *cfg;
	weir_store_destroy(f->st);
	assert_weir_ok(weir_store_config_create(&cfg));
	assert_weir_ok(weir_store_config_set_max_event(cfg, 256));
	fx_open_cfg(f, cfg);
	weir_store_config_destroy(cfg);
	char *big = wt_filled(257, 's');
	assert_weir_err(
	    weir_store_snapshot_save(f->st, "s", 1, big, 257), WEIR_ETOOBIG);
	assert_non_null(strstr(weir_store_errmsg(f->st), "snapshot of 257"));
	assert_weir_ok(weir_store_snapshot_save(f->st, "s", 1, big, 256));
	assert_weir_err(
	    weir_store_snapshot_save(f->st, "s", 2, NULL, 1), WEIR_EINVAL);
	assert_weir_err(
	    weir_store_snapshot_save(f->st, "s", 0, big, 1), WEIR_EINVAL);
	assert_weir_err(
	    weir_store_snapshot_save(NULL, "s", 2, big, 1), WEIR_EINVAL);
	int64_t v = 99;
	assert_weir_err(
	    weir_store_stream_version(f->st, "", &v), WEIR_EBADNAME);
	assert_int_equal(v, 0);
	// An empty snapshot (no data) is a snapshot.
	assert_weir_ok(weir_store_snapshot_save(f->st, "s", 3, NULL, 0));
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_expected_versions, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_read_directions, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_snapshots, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_snapshot_limits, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
