/*
 * Bad arguments to the bus, its config, topic handles, subscription
 * configs and the loop pool: NULL handles and outputs, values out of
 * range (NaN included). Each is refused (WEIR_EINVAL, or NULL / -1 / 0
 * for the getters) and leaves what exists working: a bus made with a
 * config whose every bad set was refused still delivers.
 */
#include <math.h>

#include "weir_test.h"

static void
test_bus_and_config(void **state)
{
	(void) state;
	weir_bus_config *cfg;
	weir_bus        *bus;
	assert_weir_err(weir_bus_config_create(NULL), WEIR_EINVAL);
	assert_weir_ok(weir_bus_config_create(&cfg));
	assert_weir_err(weir_bus_config_set_max_payload(NULL, 1), WEIR_EINVAL);
	assert_weir_err(weir_bus_config_set_max_payload(cfg, 0), WEIR_EINVAL);
	assert_weir_err(weir_bus_config_set_loops(NULL, 1), WEIR_EINVAL);
	assert_weir_err(weir_bus_config_set_loops(cfg, 1025), WEIR_EINVAL);
	assert_weir_err(weir_bus_create(NULL, cfg), WEIR_EINVAL);
	assert_weir_ok(weir_bus_create(&bus, cfg));
	weir_bus_config_destroy(cfg);
	weir_bus_config_destroy(NULL);

	// The getters of no bus.
	assert_null(weir_bus_loop(NULL));
	assert_int_equal(weir_bus_fd(NULL), -1);
	assert_weir_err(weir_bus_run(NULL, WEIR_RUN_NOWAIT), WEIR_EINVAL);
	weir_bus_stop(NULL);
	assert_int_equal(weir_bus_loop_count(NULL), 0);
	assert_null(weir_bus_loop_at(NULL, 0));
	assert_weir_err(weir_bus_start(NULL), WEIR_EINVAL);
	assert_weir_err(weir_bus_join(NULL), WEIR_EINVAL);
	// A bus without a pool: no loops to start, nothing to join.
	assert_int_equal(weir_bus_loop_count(bus), 0);
	assert_null(weir_bus_loop_at(bus, 0));
	assert_weir_err(weir_bus_start(bus), WEIR_EINVAL);
	assert_weir_ok(weir_bus_join(bus));

	// Topic handles.
	weir_topic *t = (weir_topic *) 1;
	assert_null(weir_topic_name(NULL));
	assert_weir_err(weir_topic_create(NULL, bus, "a.b"), WEIR_EINVAL);
	assert_weir_err(weir_topic_create(&t, NULL, "a.b"), WEIR_EINVAL);
	assert_weir_err(weir_topic_create(&t, bus, "a.*"), WEIR_EBADTOPIC);
	weir_topic_destroy(NULL);

	// Still a working bus.
	int          calls = 0;
	weir_subscr *sub;
	assert_weir_ok(weir_subscribe(
	    &sub, bus, "a.b", wt_count_int_handler, &calls, NULL, NULL));
	assert_weir_ok(weir_publish(bus, "a.b", "x", 1, 0, NULL));
	assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT));
	assert_int_equal(calls, 1);
	weir_bus_destroy(bus);
}

static void
test_subscr_config(void **state)
{
	(void) state;
	weir_subscr_config *sc;
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_err(
	    weir_subscr_config_set_max_in_flight(NULL, 1), WEIR_EINVAL);
	assert_weir_err(weir_subscr_config_set_debounce(NULL, 1), WEIR_EINVAL);
	assert_weir_err(
	    weir_subscr_config_set_loop_index(NULL, 0), WEIR_EINVAL);
	assert_weir_err(
	    weir_subscr_config_set_loop_index(sc, 1024), WEIR_EINVAL);
	assert_weir_ok(weir_subscr_config_set_loop_index(sc, 1023));
	// Rate: 0 (off) to 1e9 per second, burst 1 to 1e9; NaN never.
	assert_weir_err(weir_subscr_config_set_rate(NULL, 1, 1), WEIR_EINVAL);
	assert_weir_err(weir_subscr_config_set_rate(sc, -1, 1), WEIR_EINVAL);
	assert_weir_err(
	    weir_subscr_config_set_rate(sc, 1e9 * 2, 1), WEIR_EINVAL);
	assert_weir_err(weir_subscr_config_set_rate(sc, NAN, 1), WEIR_EINVAL);
	assert_weir_err(weir_subscr_config_set_rate(sc, 1, 0.5), WEIR_EINVAL);
	assert_weir_err(weir_subscr_config_set_rate(sc, 1, 2e9), WEIR_EINVAL);
	assert_weir_err(weir_subscr_config_set_rate(sc, 1, NAN), WEIR_EINVAL);
	assert_weir_ok(weir_subscr_config_set_rate(sc, 0, NAN)); // off
	assert_weir_ok(weir_subscr_config_set_rate(sc, 1e9, 1e9));
	// Retry: at least one attempt, 0 < base <= max <= one day.
	assert_weir_err(
	    weir_subscr_config_set_retry(NULL, 1, 1, 1), WEIR_EINVAL);
	assert_weir_err(
	    weir_subscr_config_set_retry(sc, 0, 1, 1), WEIR_EINVAL);
	assert_weir_err(
	    weir_subscr_config_set_retry(sc, 1, 0, 1), WEIR_EINVAL);
	assert_weir_err(
	    weir_subscr_config_set_retry(sc, 1, 2, 1), WEIR_EINVAL);
	assert_weir_err(
	    weir_subscr_config_set_retry(sc, 1, 1, 86400001u), WEIR_EINVAL);
	assert_weir_ok(weir_subscr_config_set_retry(sc, 1, 1, 86400000u));
	weir_subscr_config_destroy(sc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bus_and_config),
		cmocka_unit_test(test_subscr_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
