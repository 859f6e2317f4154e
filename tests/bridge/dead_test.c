/* A permanent failure goes to the store's dead letters with the broker's
 * reason and the route's name; the next event is still sent. */
#include "fixture.h"

static weir_err
dead_fn(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	(void) st;
	weir_store_dead_letter *out = arg;
	out->code                   = dl->code;
	out->ev                     = weir_event_hold(dl->ev);
	out->message                = strdup(dl->message);
	out->origin                 = strdup(dl->origin);
	out->id++;
	return WEIR_OK;
}

static void
test_permanent_to_dead_letter(void **state)
{
	(void) state;
	bt t;
	bt_open(&t, NULL);
	assert_weir_ok(weir_bridge_route_add(
	    t.br, "big", "a.>", "mem", "x", "key", NULL));
	assert_weir_ok(weir_bridge_start(t.br));
	weir__mem_fail_nth(
	    t.mem, 2, 0, "message too large: 2000000 > 1000000");
	for (int i = 0; i < 3; i++)
		bt_publish(&t, "a.b", "same", i);
	BT_WAIT(&t, "big", s.acked == 2 && s.dead == 1 && s.backlog == 0);
	weir_store_dead_letter dl = { 0 };
	assert_weir_ok(weir_store_dead_list(t.st, "big", 0, dead_fn, &dl));
	assert_int_equal(dl.id, 1);
	assert_string_equal(dl.origin, "big");
	assert_string_equal(
	    dl.message, "message too large: 2000000 > 1000000");
	size_t     len;
	const int *p = weir_event_payload(dl.ev, &len);
	assert_int_equal(*p, 1); /* the second event */
	size_t         n;
	weir__mem_rec *r = bt_records(&t, &n);
	assert_int_equal(n, 2); /* the first and the third */
	assert_int_equal(bt_stats(&t, "big").retried, 0);
	free(r);
	free((char *) dl.message);
	free((char *) dl.origin);
	weir_event_release(dl.ev);
	bt_close(&t);
}

/* The store is where dead letters go: when the intake's append fails
 * (here an event above the store's max_event), there is no dead letter
 * to write. The event is counted as store_failed, not as dead (whose
 * count matches the dead letters), and the events after it go on. */
static void
test_store_append_failure_counted(void **state)
{
	(void) state;
	bt                  t;
	weir_store_config  *sc;
	weir_bridge_config *bc;
	char                msg[256], big[600];
	memset(&t, 0, sizeof t);
	bt_dir(&t);
	assert_weir_ok(weir_store_config_create(&sc));
	assert_weir_ok(weir_store_config_set_max_event(sc, 256));
	assert_weir_ok(weir_store_open(&t.st, t.path, sc, msg, sizeof msg));
	weir_store_config_destroy(sc);
	assert_weir_ok(weir_bridge_config_create(&bc));
	bt_bridge(&t, bc);
	weir_bridge_config_destroy(bc);
	assert_weir_ok(
	    weir_bridge_route_add(t.br, "r", "a.>", "mem", "x", "key", NULL));
	assert_weir_ok(weir_bridge_start(t.br));
	memset(big, 'x', sizeof big);
	bt_publish(&t, "a.b", "k", 1);
	wt_publish_keyed(t.bus, "a.b", "k", 1, big, sizeof big);
	bt_publish(&t, "a.b", "k", 3);
	BT_WAIT(
	    &t, "r", s.acked == 2 && s.store_failed == 1 && s.backlog == 0);
	assert_int_equal(bt_stats(&t, "r").dead, 0);
	weir_store_dead_letter dl = { 0 };
	assert_weir_ok(weir_store_dead_list(t.st, "r", 0, dead_fn, &dl));
	assert_int_equal(dl.id, 0);
	char *js = weir_bus_stats_json(t.bus);
	assert_non_null(strstr(js, "\"store_failed\":1"));
	weir_free(js);
	bt_close(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_permanent_to_dead_letter),
		cmocka_unit_test(test_store_append_failure_counted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
