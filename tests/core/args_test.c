/*
 * Bad arguments to the bus, its config, topic handles, subscription
 * configs and the loop pool: NULL handles and outputs, values out of
 * range (NaN included). Each is refused (WEIR_EINVAL, or NULL / -1 / 0
 * for the getters) and leaves what exists working: a bus made with a
 * config whose every bad set was refused still delivers.
 */
#include <math.h>
#include <unistd.h>

#include "weir_test.h"

#include "core/alloc.h"

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

static char *
args_section_fn(weir_bus *bus, void *arg)
{
	(void) bus;
	(void) arg;
	return weir__strdup("1");
}

static void
args_watch_fn(weir_watch *w, int fd, int events, void *arg)
{
	(void) w;
	(void) fd;
	(void) events;
	(void) arg;
}

static void
args_timer_fn(weir_timer *t, void *arg)
{
	(void) t;
	(void) arg;
}

static void *
args_no_malloc(size_t n)
{
	(void) n;
	return NULL;
}

static void
test_subscr_config_more(void **state)
{
	(void) state;
	weir_subscr_config *sc;
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_err(weir_subscr_config_set_capacity(NULL, 8), WEIR_EINVAL);
	assert_weir_err(weir_subscr_config_set_capacity(sc, 0), WEIR_EINVAL);
	assert_weir_err(
	    weir_subscr_config_set_capacity(sc, ((size_t) 1 << 30) + 1),
	    WEIR_EINVAL);
	assert_weir_ok(weir_subscr_config_set_capacity(sc, (size_t) 1 << 30));
	assert_weir_err(
	    weir_subscr_config_set_policy(NULL, WEIR_POLICY_REJECT, 0),
	    WEIR_EINVAL);
	assert_weir_err(weir_subscr_config_set_policy(
	                    sc, (weir_policy) (WEIR_POLICY_COALESCE + 1), 0),
	    WEIR_EINVAL);
	assert_weir_err(
	    weir_subscr_config_set_policy(sc, WEIR_POLICY_BLOCK, -2),
	    WEIR_EINVAL);
	assert_weir_err(
	    weir_subscr_config_set_watermarks(NULL, 2, 1, NULL, NULL, NULL),
	    WEIR_EINVAL);
	assert_weir_err(
	    weir_subscr_config_set_watermarks(sc, 0, 0, NULL, NULL, NULL),
	    WEIR_EINVAL);
	assert_weir_err(
	    weir_subscr_config_set_watermarks(sc, 2, 2, NULL, NULL, NULL),
	    WEIR_EINVAL);
	assert_weir_err(weir_subscr_config_set_loop(NULL, NULL), WEIR_EINVAL);
	assert_weir_err(weir_subscr_config_set_name(NULL, "a"), WEIR_EINVAL);
	assert_weir_err(weir_subscr_config_set_name(sc, NULL), WEIR_EINVAL);
	assert_weir_err(weir_subscr_config_set_name(sc, ""), WEIR_EINVAL);
	// A second name replaces the first (no leak: ASan's LSan checks).
	assert_weir_ok(weir_subscr_config_set_name(sc, "first"));
	assert_weir_ok(weir_subscr_config_set_name(sc, "second"));
	weir_subscr_config_destroy(sc);
	weir_unsubscribe(NULL);
	assert_null(weir_subscr_name(NULL));
}

static void
test_loop_and_watch(void **state)
{
	(void) state;
	weir_loop  *loop;
	weir_watch *w = NULL;
	int         p[2];
	assert_weir_ok(weir_loop_create(&loop));
	assert_int_equal(pipe(p), 0);
	// weir_loop_step / timeout / host / spin of no loop.
	size_t done = 7;
	assert_weir_err(weir_loop_step(NULL, 0, 0, &done), WEIR_EINVAL);
	assert_int_equal(weir_loop_timeout(NULL), -1);
	weir_loop_detach_host(NULL);
	assert_null(weir_loop_host(NULL));
	assert_weir_err(weir_loop_set_spin(NULL, 0), WEIR_EINVAL);
	assert_weir_err(weir_loop_set_spin(loop, 1000001), WEIR_EINVAL);
	assert_weir_ok(weir_loop_set_spin(loop, 1000000));
	assert_weir_ok(weir_loop_set_spin(loop, 0));
	weir_loop_stats st = WEIR_STRUCT_INIT(weir_loop_stats);
	assert_weir_err(weir_loop_stats_get(NULL, &st), WEIR_EINVAL);
	assert_weir_err(weir_loop_stats_get(loop, NULL), WEIR_EINVAL);
	// Watches: every bad argument, nothing registered.
	assert_weir_err(weir_watch_start(&w, NULL, p[0], WEIR_WATCH_READ,
	                    args_watch_fn, NULL),
	    WEIR_EINVAL);
	assert_weir_err(weir_watch_start(&w, loop, -1, WEIR_WATCH_READ,
	                    args_watch_fn, NULL),
	    WEIR_EINVAL);
	assert_weir_err(
	    weir_watch_start(&w, loop, p[0], WEIR_WATCH_READ, NULL, NULL),
	    WEIR_EINVAL);
	assert_weir_err(weir_watch_start(NULL, loop, p[0], WEIR_WATCH_READ,
	                    args_watch_fn, NULL),
	    WEIR_EINVAL);
	assert_weir_err(
	    weir_watch_start(&w, loop, p[0], 0, args_watch_fn, NULL),
	    WEIR_EINVAL);
	assert_weir_err(
	    weir_watch_start(&w, loop, p[0], 4, args_watch_fn, NULL),
	    WEIR_EINVAL);
	assert_null(w);
	weir_watch_stop(NULL);
	weir_timer_stop(NULL);
	weir_uuid_v7(NULL);
	// A timer further than INT_MAX ms: the host's timeout is INT_MAX.
	weir_timer *far;
	assert_weir_ok(weir_timer_start(
	    &far, loop, (uint64_t) 1 << 40, 0, args_timer_fn, NULL));
	assert_int_equal(weir_loop_timeout(loop), 0x7fffffff);
	weir_timer_stop(far);
	assert_int_equal(weir_loop_timeout(loop), -1); // nothing pending
	close(p[0]);
	close(p[1]);
	assert_weir_ok(weir_loop_destroy(loop));
}

static void
test_delivery_and_event(void **state)
{
	(void) state;
	// Deferral outside a handler, and the accessors of no delivery.
	assert_weir_err(weir_delivery_defer(NULL), WEIR_EINVAL);
	weir_delivery *d = (weir_delivery *) 1;
	assert_weir_err(weir_delivery_defer(&d), WEIR_EINVAL);
	assert_null(d);
	assert_null(weir_delivery_event(NULL));
	assert_null(weir_delivery_subscr(NULL));
	weir_delivery_complete(NULL, WEIR_OK);
	assert_null(weir_subscr_current());

	// Events: no init, no topic, a header without a name, a header
	// with a length and no value.
	weir_event     *ev  = NULL;
	weir_event_init ini = { .size = sizeof(ini) };
	assert_weir_err(weir_event_new(&ev, NULL), WEIR_EINVAL);
	assert_weir_err(weir_event_new(&ev, &ini), WEIR_EINVAL);
	weir_header h[2] = { { "n", "v", 1 }, { NULL, NULL, 0 } };
	ini.topic        = "a.b";
	ini.headers      = h;
	ini.header_count = 2;
	assert_weir_err(weir_event_new(&ev, &ini), WEIR_EINVAL);
	h[1] = (weir_header) { "m", NULL, 1 };
	assert_weir_err(weir_event_new(&ev, &ini), WEIR_EINVAL);
	assert_null(ev);
	h[1]        = (weir_header) { "m", NULL, 0 };
	ini.key     = "k";
	ini.key_len = 1;
	assert_weir_ok(weir_event_new(&ev, &ini));
	// Getters with NULL outputs.
	assert_non_null(weir_event_key(ev, NULL));
	assert_null(weir_event_payload(ev, NULL));
	assert_weir_ok(weir_event_header(ev, 0, NULL, NULL, NULL));
	assert_weir_err(
	    weir_event_header(NULL, 0, NULL, NULL, NULL), WEIR_ENOENT);
	assert_weir_err(
	    weir_event_header(ev, 2, NULL, NULL, NULL), WEIR_ENOENT);
	assert_memory_equal(weir_event_header_get(ev, "n", NULL), "v", 1);
	assert_null(weir_event_header_get(NULL, "n", NULL));
	assert_null(weir_event_header_get(ev, NULL, NULL));
	assert_null(weir_event_header_get(ev, "x", NULL));
	weir_event_release(ev);
	weir_event_release(NULL);
}

static void
test_sections_and_allocator(void **state)
{
	(void) state;
	weir_bus *bus;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_err(
	    weir_bus_add_stats_section(NULL, "a", args_section_fn, NULL),
	    WEIR_EINVAL);
	assert_weir_err(
	    weir_bus_add_stats_section(bus, NULL, args_section_fn, NULL),
	    WEIR_EINVAL);
	assert_weir_err(
	    weir_bus_add_stats_section(bus, "a", NULL, NULL), WEIR_EINVAL);
	// Names: [a-z0-9_]+, not the stats' own keys.
	const char *bad[] = { "", "loops", "subscriptions", "A", "a-b", "a b",
		"{", "\xc3\xa9" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_weir_err(weir_bus_add_stats_section(
		                    bus, bad[i], args_section_fn, NULL),
		    WEIR_EBADNAME);
	}
	assert_weir_ok(
	    weir_bus_add_stats_section(bus, "a_9", args_section_fn, NULL));
	assert_weir_err(
	    weir_bus_remove_stats_section(NULL, "a_9"), WEIR_EINVAL);
	assert_weir_err(weir_bus_remove_stats_section(bus, NULL), WEIR_EINVAL);
	char *js = weir_bus_stats_json(bus);
	assert_non_null(strstr(js, "\"a_9\":1"));
	weir_free(js);
	assert_weir_ok(weir_bus_remove_stats_section(bus, "a_9"));
	weir_bus_destroy(bus);

	// An allocator missing any mandatory function is refused, and the
	// one in place stays: allocations still succeed.
	for (int i = 0; i < 4; i++) {
		weir_allocator a = { sizeof(a), malloc, calloc, realloc, free,
			NULL };
		switch (i) {
		case 0:
			a.malloc_fn = NULL;
			break;
		case 1:
			a.calloc_fn = NULL;
			break;
		case 2:
			a.realloc_fn = NULL;
			break;
		default:
			a.free_fn = NULL;
			break;
		}
		assert_weir_err(weir_set_allocator(&a), WEIR_EINVAL);
	}
	weir_allocator never = { sizeof(never), args_no_malloc, calloc,
		realloc, free, NULL };
	never.size           = sizeof(never) - 1;
	assert_weir_err(weir_set_allocator(&never), WEIR_EINVAL);
	assert_weir_ok(weir_bus_create(&bus, NULL));
	weir_bus_destroy(bus);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bus_and_config),
		cmocka_unit_test(test_subscr_config),
		cmocka_unit_test(test_subscr_config_more),
		cmocka_unit_test(test_loop_and_watch),
		cmocka_unit_test(test_delivery_and_event),
		cmocka_unit_test(test_sections_and_allocator),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
