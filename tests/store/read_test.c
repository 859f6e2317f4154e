/*
 * Reading the log: from a seq, ranges, time, topic patterns, limits.
 */
#include "fixture.h"

static void
add_at(weir_store *st, const char *topic, int64_t ts, const char *text)
{
	weir_event     *ev;
	weir_event_init init = { .size = sizeof(weir_event_init),
		.topic                 = topic,
		.ts                    = ts,
		.payload               = text,
		.payload_len           = strlen(text) };
	assert_weir_ok(weir_event_new(&ev, &init));
	assert_weir_ok(weir_store_append(st, ev, NULL, NULL, NULL));
	weir_event_release(ev);
}

static int
fill(void **state)
{
	fx_setup(state);
	fx *f = *state;
	add_at(f->st, "orders.eu.created", 1000, "1");
	add_at(f->st, "orders.us.created", 2000, "2");
	add_at(f->st, "orders.eu.paid", 3000, "3");
	add_at(f->st, "users.signup", 4000, "4");
	add_at(f->st, "orders.eu.created", 5000, "5");
	return 0;
}

static size_t
run(fx *f, weir_store_filter flt, fx_got *g)
{
	memset(g, 0, sizeof(*g));
	assert_weir_ok(weir_store_read(f->st, &flt, fx_collect, g));
	return g->n;
}

static void
test_read_all(void **state)
{
	fx    *f = *state;
	fx_got g = { 0 };
	assert_weir_ok(weir_store_read_all(f->st, 3, 0, fx_collect, &g));
	assert_int_equal(g.n, 3);
	assert_int_equal(g.seq[0], 3);
	assert_int_equal(g.seq[2], 5);
	memset(&g, 0, sizeof(g));
	assert_weir_ok(weir_store_read_all(f->st, 0, 2, fx_collect, &g));
	assert_int_equal(g.n, 2);
	assert_int_equal(g.seq[1], 2);
	memset(&g, 0, sizeof(g));
	assert_weir_ok(weir_store_read_all(f->st, 99, 0, fx_collect, &g));
	assert_int_equal(g.n, 0);
}

static void
test_filters(void **state)
{
	fx    *f = *state;
	fx_got g;
	assert_int_equal(
	    run(f,
	        (weir_store_filter) { .size = sizeof(weir_store_filter),
	            .from_seq               = 2,
	            .to_seq                 = 4 },
	        &g),
	    3);
	assert_int_equal(
	    run(f,
	        (weir_store_filter) { .size = sizeof(weir_store_filter),
	            .from_ts                = 2000,
	            .to_ts                  = 4000 },
	        &g),
	    3);
	assert_int_equal(g.seq[0], 2);
	assert_int_equal(
	    run(f,
	        (weir_store_filter) { .size = sizeof(weir_store_filter),
	            .pattern                = "orders.*.created" },
	        &g),
	    3);
	assert_int_equal(
	    run(f,
	        (weir_store_filter) { .size = sizeof(weir_store_filter),
	            .pattern                = "orders.eu.>" },
	        &g),
	    3);
	assert_int_equal(
	    run(f,
	        (weir_store_filter) { .size = sizeof(weir_store_filter),
	            .pattern                = "orders.eu.>",
	            .from_ts                = 2500 },
	        &g),
	    2);
	assert_int_equal(
	    run(f,
	        (weir_store_filter) { .size = sizeof(weir_store_filter),
	            .pattern                = "orders.>",
	            .backward               = 1,
	            .limit                  = 2 },
	        &g),
	    2);
	assert_int_equal(g.seq[0], 5);
	assert_int_equal(g.seq[1], 3);
	assert_int_equal(
	    run(f,
	        (weir_store_filter) { .size = sizeof(weir_store_filter),
	            .pattern                = "nothing.here" },
	        &g),
	    0);
}

static weir_err
stop_at_two(weir_store *st, const weir_event *ev, const char *stream,
    int64_t version, void *arg)
{
	(void) st;
	(void) stream;
	(void) version;
	(void) arg;
	return weir_event_seq(ev) == 2 ? WEIR_ECANCELED : WEIR_OK;
}

static void
test_callback_stops(void **state)
{
	fx *f = *state;
	assert_weir_err(
	    weir_store_read(f->st, NULL, stop_at_two, NULL), WEIR_ECANCELED);
	assert_weir_err(weir_store_read(f->st, NULL, NULL, NULL), WEIR_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_read_all, fill, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_filters, fill, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_callback_stops, fill, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
