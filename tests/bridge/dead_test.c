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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_permanent_to_dead_letter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
