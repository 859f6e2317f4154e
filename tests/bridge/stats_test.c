/* Route stats in the bus's stats JSON, under "bridge". */
#include "fixture.h"

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stats_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
