/*
 * Observability: the log-linear histogram, latency percentiles, loop
 * counters and the stats JSON.
 */
#include <string.h>

#include "weir_test.h"

#include "core/alloc.h"
#include "core/hist.h"

static void
test_hist_buckets(void **state)
{
	(void) state;
	// Every value lies in its bucket, within 1/8 of the bucket's top.
	for (uint64_t v = 0; v < 5000000; v = v * 5 / 4 + 1) {
		unsigned b = weir__hist_bucket(v);
		assert_true(weir__hist_upper(b) >= v);
		assert_true(b == 0 || weir__hist_upper(b - 1) < v);
		assert_true(weir__hist_upper(b) - v <= v / 8 + 1);
	}
	weir__hist *h = weir__zalloc(sizeof(*h));
	for (uint64_t i = 1; i <= 1000; i++) {
		weir__hist_record(h, i * 1000); // 1 us .. 1 ms
	}
	weir_latency l;
	weir__hist_read(h, &l);
	assert_int_equal(l.count, 1000);
	assert_true(l.p50_ns >= 500000 && l.p50_ns <= 500000 * 9 / 8 + 1);
	assert_true(l.p99_ns >= 990000 && l.p99_ns <= 1000000 * 9 / 8);
	assert_int_equal(l.max_ns, 1000000);
	assert_true(l.p999_ns <= l.max_ns);
	weir__free(h);
}

static weir_err
ok_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	(void) arg;
	return WEIR_OK;
}

static void
test_stats_json(void **state)
{
	(void) state;
	weir_bus_config    *cfg;
	weir_bus           *bus;
	weir_subscr_config *sc;
	weir_subscr        *sub;
	assert_weir_ok(weir_bus_config_create(&cfg));
	assert_weir_ok(weir_bus_config_set_loops(cfg, 2));
	assert_weir_ok(weir_bus_create(&bus, cfg));
	weir_bus_config_destroy(cfg);
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_ok(weir_subscr_config_set_name(sc, "odd \"name\"\n"));
	assert_weir_ok(weir_subscr_config_set_loop(sc, weir_bus_loop(bus)));
	assert_weir_ok(
	    weir_subscribe(&sub, bus, "a.>", ok_handler, NULL, NULL, sc));
	weir_subscr_config_destroy(sc);
	for (int i = 0; i < 100; i++) {
		assert_weir_ok(weir_publish(bus, "a.b", "x", 1, 0, NULL));
	}
	assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT));
	weir_subscr_stats x = WEIR_STRUCT_INIT(weir_subscr_stats);
	assert_weir_ok(weir_subscr_stats_get(sub, &x));
	assert_int_equal(x.latency.count, 100);
	assert_true(x.latency.p50_ns <= x.latency.p99_ns);
	assert_true(x.latency.p99_ns <= x.latency.p999_ns);
	assert_true(x.latency.p999_ns <= x.latency.max_ns);
	char *js = weir_bus_stats_json(bus);
	assert_non_null(js);
	print_message("%s\n", js);
	assert_non_null(strstr(js, "\"name\":\"odd \\\"name\\\"\\u000a\""));
	assert_non_null(strstr(js, "\"pattern\":\"a.>\""));
	assert_non_null(strstr(js, "\"delivered\":100"));
	assert_non_null(strstr(js, "\"loop\":-1"));
	assert_non_null(strstr(js, "\"latency_ns\":{\"count\":100"));
	assert_non_null(strstr(js, "{\"index\":1,"));
	// Balanced braces and brackets outside strings.
	int depth = 0, in_str = 0;
	for (const char *p = js; *p; p++) {
		if (in_str) {
			if (*p == '\\') {
				p++;
			} else if (*p == '"') {
				in_str = 0;
			}
		} else if (*p == '"') {
			in_str = 1;
		} else if (*p == '{' || *p == '[') {
			depth++;
		} else if (*p == '}' || *p == ']') {
			depth--;
		}
		assert_true(depth >= 0);
	}
	assert_int_equal(depth, 0);
	weir_free(js);
	assert_null(weir_bus_stats_json(NULL));
	weir_bus_destroy(bus);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hist_buckets),
		cmocka_unit_test(test_stats_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
