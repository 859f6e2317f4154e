/* Route stats in the bus's stats JSON, under "bridge". */
#include "fault_alloc.h"
#include "inbound_fixture.h"

static void
test_stats_json(void **state)
{
	(void) state;
	bt t;
	bt_open(&t, NULL);
	assert_weir_ok(
	    weir_bridge_route_add(t.br, "r1", "a.>", "mem", "x", "id", NULL));
	assert_weir_ok(weir_bridge_start(t.br));
	for (int i = 0; i < 3; i++)
		bt_publish(&t, "a.b", NULL, i);
	BT_WAIT(&t, "r1", s.acked == 3 && s.backlog == 0);
	char *js = weir_bus_stats_json(t.bus);
	assert_non_null(js);
	assert_non_null(strstr(js,
	    ",\"bridge\":{\"routes\":[{\"name\":\"r1\","
	    "\"mode\":\"store\",\"scheme\":\"mem\","
	    "\"sent\":3,\"acked\":3,\"retried\":0,"
	    "\"dead\":0,\"store_failed\":0,\"backlog\":0,"
	    "\"lag_events\":0,"
	    "\"lag_seconds\":0.000,"));
	assert_non_null(
	    strstr(js, "\"breaker\":\"closed\",\"breaker_opens\":0}]}}"));
	weir_free(js);
	weir_bridge_route_stats small = { .size = 8 };
	assert_weir_err(
	    weir_bridge_route_stats_get(t.br, "r1", &small), WEIR_EINVAL);
	weir_bridge_route_stats rs = WEIR_STRUCT_INIT(weir_bridge_route_stats);
	assert_weir_err(
	    weir_bridge_route_stats_get(t.br, "nope", &rs), WEIR_ENOENT);
	weir_bridge_destroy(t.br); /* removes the section */
	t.br = NULL;
	js   = weir_bus_stats_json(t.bus);
	assert_null(strstr(js, "bridge"));
	weir_free(js);
	bt_close(&t);
}

/* Out of memory while the stats JSON is written, the bridge's part
 * included: the call gives NULL or the whole text, never one with the
 * "bridge" member left out (it read as a bus without a bridge). */
static void
test_stats_json_oom(void **state)
{
	(void) state;
	assert_weir_ok(weir_set_allocator(&fi_alloc));
	bt t;
	bt_open(&t, NULL);
	(void) it_route(&t, "in1", "src", "in.{topic}", NULL); /* "inbound" */
	(void) it_route(&t, "in2", "src2", "in2.{topic}", NULL); /* a second */
	assert_weir_ok(
	    weir_bridge_route_add(t.br, "r1", "a.>", "mem", "x", "id", NULL));
	assert_weir_ok(weir_bridge_start(t.br));
	bt_publish(&t, "a.b", NULL, 1);
	BT_WAIT(&t, "r1", s.acked == 1 && s.backlog == 0);
	int   failures = 0;
	char *js       = NULL;
	for (long n = 1; js == NULL; n++) {
		fi_arm(n);
		js      = weir_bus_stats_json(t.bus);
		fail_at = 0;
		failures += js == NULL;
		assert_true(n < 10000);
	}
	assert_non_null(strstr(js, ",\"bridge\":{\"routes\":[{"));
	assert_non_null(strstr(js, "],\"inbound\":[{\"name\":\"in1\""));
	assert_non_null(strstr(js, "},{\"name\":\"in2\""));
	assert_int_equal(js[strlen(js) - 1], '}');
	weir_free(js);
	assert_true(failures >= 3);
	bt_close(&t);
	weir_set_allocator(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stats_json),
		cmocka_unit_test(test_stats_json_oom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
