/*
 * Starting a bridge whose routes cannot all start: all or nothing by
 * default; with bridge.start.partial = 1 the routes that can start do,
 * and the refused ones are named with their reasons. A refused route
 * loses nothing already stored: its events go out once it is fixed.
 * The failing broker is a backend of this file whose start fails, as a
 * broker that cannot be reached would.
 */
#include "fixture.h"

static weir_err
down_init(void *state, const weir_bridge_config *cfg, weir_sink *sink)
{
	(void) state;
	(void) cfg;
	(void) sink;
	return WEIR_OK;
}

static void
down_nop(void *state)
{
	(void) state;
}

static weir_err
down_start(void *state)
{
	(void) state;
	return WEIR_EBACKEND;
}

static weir_err
down_publish(void *state, const weir_bridge_msg *msg)
{
	(void) state;
	(void) msg;
	return WEIR_ECLOSED;
}

static void
down_poll(void *state, int timeout_ms)
{
	(void) state;
	(void) timeout_ms;
}

static const char *
down_errmsg(void *state)
{
	(void) state;
	return "down: no broker of down.url answered";
}

static const weir_backend_ops down_ops = { .version = WEIR_BACKEND_V1,
	.scheme                                     = "down",
	.state_size                                 = 1,
	.init                                       = down_init,
	.fini                                       = down_nop,
	.start                                      = down_start,
	.stop                                       = down_nop,
	.publish                                    = down_publish,
	.poll                                       = down_poll,
	.errmsg                                     = down_errmsg };

/* Routes "good" (mem, g.>) and "bad" (b.>, on @p bad_scheme). */
static void
start_open(bt *t, const char *partial, const char *bad_scheme)
{
	const char *kv[] = { "bridge.start.partial", partial, NULL };
	bt_open(t, kv);
	assert_weir_ok(weir_bridge_register(t->br, &down_ops));
	assert_weir_ok(weir_bridge_route_add(
	    t->br, "good", "g.>", "mem", "out", "key", NULL));
	assert_weir_ok(weir_bridge_route_add(
	    t->br, "bad", "b.>", bad_scheme, "out", "key", NULL));
}

static uint64_t
start_cursor(bt *t, const char *route)
{
	char     name[80];
	uint64_t seq = 0;
	snprintf(name, sizeof name, "bridge.route.%s", route);
	weir_err e = weir_store_cursor_get(t->st, name, &seq);
	assert_true(e == WEIR_OK || e == WEIR_ENOENT);
	return e == WEIR_OK ? seq : UINT64_MAX;
}

/* By default one refused route fails the start, and nothing runs. */
static void
test_default_all_or_nothing(void **state)
{
	(void) state;
	bt t;
	start_open(&t, "0", "down");
	assert_weir_err(weir_bridge_start(t.br), WEIR_EBACKEND);
	print_message("%s\n", weir_bridge_errmsg(t.br));
	assert_non_null(strstr(weir_bridge_errmsg(t.br), "backend down"));
	assert_non_null(strstr(weir_bridge_errmsg(t.br), "down.url"));
	assert_int_equal(start_cursor(&t, "good"), UINT64_MAX); /* untouched */
	bt_publish(&t, "g.x", "k", 1); /* no intake takes it */
	weir_store_flush(t.st);
	uint64_t last = 1;
	assert_weir_ok(weir_store_last_seq(t.st, &last));
	assert_int_equal(last, 0);
	bt_close(&t);
}

/* Partial: the good route runs, the bad one is named with its reason. */
static void
test_partial_names_refused(void **state)
{
	(void) state;
	bt t;
	start_open(&t, "1", "down");
	assert_weir_ok(weir_bridge_start(t.br));
	const char *msg = weir_bridge_errmsg(t.br);
	print_message("%s\n", msg);
	assert_non_null(strstr(msg, "started 1 of 2 routes"));
	assert_non_null(strstr(msg, "route 'bad'"));
	assert_non_null(strstr(msg, "down.url"));
	assert_null(weir_bridge_route_refused(t.br, "good"));
	assert_non_null(weir_bridge_route_refused(t.br, "bad"));
	assert_non_null(
	    strstr(weir_bridge_route_refused(t.br, "bad"), "backend down"));
	assert_int_equal(start_cursor(&t, "bad"), UINT64_MAX);
	for (int i = 0; i < 3; i++)
		bt_publish(&t, "g.x", "k", i);
	BT_WAIT(&t, "good", s.acked == 3 && s.backlog == 0);
	char *js = weir_bus_stats_json(t.bus);
	assert_non_null(strstr(js, "\"name\":\"bad\""));
	assert_non_null(strstr(js, "\"refused\":true"));
	weir_free(js);
	bt_close(&t);
}

/* With every route refused, a partial start fails as well. */
static void
test_partial_none_started(void **state)
{
	(void) state;
	bt          t;
	const char *kv[] = { "bridge.start.partial", "1", NULL };
	bt_open(&t, kv);
	assert_weir_ok(weir_bridge_register(t.br, &down_ops));
	assert_weir_ok(weir_bridge_route_add(
	    t.br, "bad", "b.>", "down", "out", "key", NULL));
	assert_weir_err(weir_bridge_start(t.br), WEIR_EBACKEND);
	assert_non_null(strstr(weir_bridge_errmsg(t.br), "route 'bad'"));
	bt_close(&t);
}

/* Events stored for route "bad" and not yet acknowledged, then a start
 * where "bad" is refused, then a start with it fixed: all are sent. */
static void
test_refused_route_loses_nothing(void **state)
{
	(void) state;
	bt t;
	start_open(&t, "1", "mem");
	weir__mem_hold_acks(t.mem, 1);
	assert_weir_ok(weir_bridge_start(t.br));
	for (int i = 0; i < 5; i++)
		bt_publish(&t, "b.x", NULL, i);
	BT_WAIT(&t, "bad", s.sent == 5 && s.acked == 0);
	weir_bridge_destroy(t.br); /* the broker never answered */
	t.br = NULL;
	assert_int_equal(start_cursor(&t, "bad"), 0);

	weir_bridge_config *cfg;
	assert_weir_ok(weir_bridge_config_create(&cfg));
	assert_weir_ok(
	    weir_bridge_config_set_str(cfg, "bridge.start.partial", "1"));
	bt_bridge(&t, cfg);
	assert_weir_ok(weir_bridge_register(t.br, &down_ops));
	assert_weir_ok(weir_bridge_route_add(
	    t.br, "good", "g.>", "mem", "out", "key", NULL));
	assert_weir_ok(weir_bridge_route_add(
	    t.br, "bad", "b.>", "down", "out", "key", NULL));
	assert_weir_ok(weir_bridge_start(t.br));
	assert_non_null(weir_bridge_route_refused(t.br, "bad"));
	weir_bridge_destroy(t.br);
	assert_int_equal(start_cursor(&t, "bad"), 0); /* untouched */

	bt_bridge(&t, cfg); /* fixed: "bad" on a broker that answers */
	weir_bridge_config_destroy(cfg);
	assert_weir_ok(weir_bridge_route_add(
	    t.br, "bad", "b.>", "mem", "out", "key", NULL));
	assert_weir_ok(weir_bridge_start(t.br));
	BT_WAIT(&t, "bad", s.acked == 5 && s.backlog == 0);
	assert_int_equal(start_cursor(&t, "bad"), 5);
	bt_close(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_all_or_nothing),
		cmocka_unit_test(test_partial_names_refused),
		cmocka_unit_test(test_partial_none_started),
		cmocka_unit_test(test_refused_route_loses_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
