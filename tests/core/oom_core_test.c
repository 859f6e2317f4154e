/*
 * Allocation failures in the rest of core's public paths (issue 12,
 * item 11): configs, topic handles and their refresh after a registry
 * change, stats sections and the stats JSON, deferred deliveries, a bus
 * with a loop pool, and weir_bus_destroy() closing many subscriptions.
 * The n-th allocation fails for n = 1, 2, ... until the call succeeds;
 * each failure must be WEIR_ENOMEM with nothing leaked and nothing
 * changed, and the same call must then work.
 */
#include <string.h>

#include "fault_alloc.h"
#include "weir_test.h"

#include "core/alloc.h"

static int
setup(void **state)
{
	(void) state;
	fail_at = 0;
	return weir_set_allocator(&fi_alloc) == WEIR_OK ? 0 : -1;
}

static int
teardown(void **state)
{
	(void) state;
	fail_at = 0;
	weir_set_allocator(NULL); // gives cached event blocks back
	return live_allocs == 0 ? 0 : -1;
}

static void
test_configs(void **state)
{
	(void) state;
	weir_bus_config *cfg = (weir_bus_config *) 1;
	fi_arm(1);
	assert_weir_err(weir_bus_config_create(&cfg), WEIR_ENOMEM);
	weir_subscr_config *sc = (weir_subscr_config *) 1;
	fi_arm(1);
	assert_weir_err(weir_subscr_config_create(&sc), WEIR_ENOMEM);
	fail_at = 0;
	assert_int_equal(live_allocs, 0);

	// A name that cannot be copied leaves the old one.
	weir_bus    *bus;
	weir_subscr *sub;
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_ok(weir_subscr_config_set_name(sc, "old"));
	fi_arm(1);
	assert_weir_err(weir_subscr_config_set_name(sc, "new"), WEIR_ENOMEM);
	fail_at = 0;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(
	    weir_subscribe(&sub, bus, "a", wt_nop_handler, NULL, NULL, sc));
	assert_string_equal(weir_subscr_name(sub), "old");
	weir_subscr_config_destroy(sc);
	weir_bus_destroy(bus);
}

enum { NSUBS = 20, NLIST = 3 };

// A bus with NSUBS subscriptions (more than the first array of a
// snapshot holds) and NLIST listeners on "a.b".
static weir_bus *
crowded_bus(int *calls, weir_subscr **subs)
{
	weir_bus *bus;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	for (int i = 0; i < NSUBS; i++) {
		assert_weir_ok(
		    weir_subscribe(&subs[i], bus, i % 2 ? "a.b" : "a.*",
		        wt_count_int_handler, calls, arg_free_fn, NULL));
	}
	for (int i = 0; i < NLIST; i++) {
		assert_weir_ok(weir_on(
		    bus, "a.b", wt_count_int_handler, calls, NULL, 0, NULL));
	}
	return bus;
}

static void
test_topic_handles(void **state)
{
	(void) state;
	int          calls = 0;
	weir_subscr *subs[NSUBS];
	weir_bus    *bus      = crowded_bus(&calls, subs);
	int          failures = 0;
	weir_topic  *t;
	for (long n = 1;; n++) {
		long live = live_allocs;
		t         = (weir_topic *) 1;
		fi_arm(n);
		weir_err rv = weir_topic_create(&t, bus, "a.b");
		fail_at     = 0;
		if (rv == WEIR_OK) {
			break;
		}
		assert_weir_err(rv, WEIR_ENOMEM);
		assert_int_equal(live_allocs, live);
		failures++;
	}
	assert_true(failures >= 3);

	// A registry change makes the next emit and publish on the handle
	// refresh it: when that fails, they fail, and call nobody.
	for (int round = 0; round < 2; round++) {
		failures = 0;
		for (long n = 1;; n++) {
			uint64_t id;
			assert_weir_ok(weir_on(
			    bus, "a.>", wt_nop_handler, NULL, NULL, 0, &id));
			assert_weir_ok(weir_off(bus, id));
			calls = 0;
			fi_arm(n);
			weir_err rv = round == 0
			    ? weir_emit_topic(t, "x", 1, NULL)
			    : weir_publish_topic(t, "x", 1);
			fail_at     = 0;
			if (rv == WEIR_OK) {
				break;
			}
			assert_weir_err(rv, WEIR_ENOMEM);
			assert_int_equal(calls, 0);
			failures++;
		}
		assert_true(failures >= 2);
		assert_int_equal(calls, round == 0 ? NLIST : 0);
		assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT));
		assert_int_equal(calls, round == 0 ? NLIST : NSUBS);
	}
	weir_topic_destroy(t);
	weir_bus_destroy(bus);
}

static char *
section_fn(weir_bus *bus, void *arg)
{
	(void) bus;
	(void) arg;
	return weir__strdup("[1,2,3]");
}

static void
test_stats(void **state)
{
	(void) state;
	weir_bus *bus = wt_bus_with_loops(2);
	assert_non_null(bus);
	// Names with characters JSON escapes, on the pool's loops.
	weir_subscr *subs[NSUBS];
	for (int i = 0; i < NSUBS; i++) {
		weir_subscr_config *sc;
		char                name[32];
		snprintf(name, sizeof(name), "s\"%d\\", i);
		assert_weir_ok(weir_subscr_config_create(&sc));
		assert_weir_ok(weir_subscr_config_set_name(sc, name));
		assert_weir_ok(weir_subscr_config_set_loop_index(sc, i % 2));
		assert_weir_ok(weir_subscribe(
		    &subs[i], bus, "a", wt_nop_handler, NULL, NULL, sc));
		weir_subscr_config_destroy(sc);
	}
	// A section's name cannot be copied: not added.
	for (long n = 1; n <= 2; n++) {
		fi_arm(n);
		assert_weir_err(
		    weir_bus_add_stats_section(bus, "extra", section_fn, NULL),
		    WEIR_ENOMEM);
		fail_at = 0;
	}
	assert_weir_err(
	    weir_bus_remove_stats_section(bus, "extra"), WEIR_ENOENT);
	assert_weir_ok(
	    weir_bus_add_stats_section(bus, "extra", section_fn, NULL));

	int   failures = 0;
	char *js;
	for (long n = 1;; n++) {
		long live = live_allocs;
		fi_arm(n);
		js      = weir_bus_stats_json(bus);
		fail_at = 0;
		if (js != NULL) {
			// Whole: a failed allocation anywhere, the
			// section's own included, fails the call.
			assert_non_null(strstr(js, "\"extra\":"));
			break;
		}
		assert_int_equal(live_allocs, live);
		failures++;
	}
	assert_true(failures >= 3);
	assert_non_null(strstr(js, "\"s\\\"19\\\\\""));
	assert_non_null(strstr(js, "\"loop\":1"));
	assert_non_null(strstr(js, "\"extra\":[1,2,3]"));
	weir_free(js);
	weir_bus_destroy(bus);
}

static weir_delivery *deferred;
static int            defer_failures;

// The first call's deferral fails, the second's works.
static weir_err
defer_fn(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	(void) arg;
	weir_delivery *d = (weir_delivery *) 1;
	fi_arm(1);
	weir_err rv = weir_delivery_defer(&d);
	fail_at     = 0;
	if (rv != WEIR_OK) {
		defer_failures += rv == WEIR_ENOMEM && d == NULL;
		// Nothing was deferred: deferring still works.
		rv = weir_delivery_defer(&d);
	}
	deferred = rv == WEIR_OK ? d : NULL;
	return WEIR_OK;
}

static void
test_defer(void **state)
{
	(void) state;
	weir_bus    *bus;
	weir_subscr *sub;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(
	    weir_subscribe(&sub, bus, "a", defer_fn, NULL, NULL, NULL));
	assert_weir_ok(weir_publish(bus, "a", "x", 1, 0, NULL));
	assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT));
	assert_int_equal(defer_failures, 1);
	assert_non_null(deferred);
	assert_ptr_equal(weir_delivery_subscr(deferred), sub);
	weir_delivery_complete(deferred, WEIR_OK);
	weir_subscr_stats st = wt_subscr_stats(sub);
	assert_int_equal(st.delivered, 1);
	// A failed completion whose record cannot be made: the token is
	// freed and the failure goes uncounted (delivery.c says so).
	assert_weir_ok(weir_publish(bus, "a", "x", 1, 0, NULL));
	assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT));
	assert_non_null(deferred);
	fi_arm(1);
	weir_delivery_complete(deferred, WEIR_EHANDLER);
	fail_at = 0;
	assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT));
	st = wt_subscr_stats(sub);
	assert_int_equal(st.delivered, 2);
	assert_int_equal(st.failed, 0);
	assert_int_equal(st.in_flight, 0);
	weir_bus_destroy(bus);
}

// A bus with a loop pool: every allocation of its making can fail.
static void
test_pool(void **state)
{
	(void) state;
	weir_bus_config *cfg;
	assert_weir_ok(weir_bus_config_create(&cfg));
	assert_weir_ok(weir_bus_config_set_loops(cfg, 3));
	int failures = 0;
	for (long n = 1;; n++) {
		weir_bus *bus  = (weir_bus *) 1;
		long      live = live_allocs;
		fi_arm(n);
		weir_err rv = weir_bus_create(&bus, cfg);
		fail_at     = 0;
		if (rv == WEIR_OK) {
			assert_int_equal(weir_bus_loop_count(bus), 3);
			weir_bus_destroy(bus);
			break;
		}
		assert_weir_err(rv, WEIR_ENOMEM);
		assert_null(bus);
		assert_int_equal(live_allocs, live);
		failures++;
	}
	assert_true(failures >= 5);
	weir_bus_config_destroy(cfg);
}

// weir_bus_destroy() closes every subscription even when an allocation
// fails on the way: each arg_free runs once, nothing is left.
static void
test_destroy(void **state)
{
	(void) state;
	for (long n = 1; n <= 8; n++) {
		int          calls = 0;
		weir_subscr *subs[NSUBS];
		freed_args    = 0;
		weir_bus *bus = crowded_bus(&calls, subs);
		fi_arm(n);
		weir_bus_destroy(bus);
		fail_at = 0;
		assert_int_equal(freed_args, NSUBS);
		weir_set_allocator(NULL); // the event cache
		assert_int_equal(live_allocs, 0);
		weir_set_allocator(&fi_alloc);
	}
}

enum { NMANY = 40 };

// More matching subscriptions than a publish's set holds before it grows
// twice: every allocation of weir_publish and weir_publish_event can
// fail, and then no subscription got the event.
static void
test_publish_many(void **state)
{
	(void) state;
	weir_bus    *bus;
	weir_subscr *subs[NMANY];
	assert_weir_ok(weir_bus_create(&bus, NULL));
	for (int i = 0; i < NMANY; i++) {
		assert_weir_ok(weir_subscribe(&subs[i], bus, i % 2 ? "m" : ">",
		    wt_nop_handler, NULL, NULL, NULL));
	}
	weir_event_init init = { .size = sizeof(init), .topic = "m" };
	weir_event     *ev;
	assert_weir_ok(weir_event_new(&ev, &init));
	for (int round = 0; round < 2; round++) {
		int failures = 0;
		for (long n = 1;; n++) {
			fi_arm(n);
			weir_err rv = round == 0
			    ? weir_publish(bus, "m", "x", 1, 0, NULL)
			    : weir_publish_event(bus, ev);
			fail_at     = 0;
			if (rv == WEIR_OK) {
				break;
			}
			assert_weir_err(rv, WEIR_ENOMEM);
			for (int i = 0; i < NMANY; i++) {
				assert_int_equal(
				    wt_subscr_stats(subs[i]).published,
				    (uint64_t) round);
			}
			failures++;
		}
		assert_true(failures >= 2);
		for (int i = 0; i < NMANY; i++) {
			assert_int_equal(wt_subscr_stats(subs[i]).published,
			    (uint64_t) round + 1);
		}
	}
	weir_event_release(ev);
	// Data given with WEIR_PUBLISH_TAKE and no free function is freed
	// with weir_free() when nothing matches.
	long  live = live_allocs;
	char *p    = weir__alloc(4);
	assert_weir_ok(
	    weir_publish(bus, "$nobody", p, 4, WEIR_PUBLISH_TAKE, NULL));
	assert_int_equal(live_allocs, live);
	assert_weir_err(weir_publish(bus, "m", NULL, 1, 0, NULL), WEIR_EINVAL);
	// A topic longer than the string cache keeps (55 bytes) that
	// nothing matches: the locked path (its event block may stay in
	// the event cache: the teardown counts what is left).
	char topic[80];
	memset(topic, 'x', sizeof(topic) - 1);
	topic[sizeof(topic) - 1] = '\0';
	assert_weir_ok(weir_publish(bus, topic, "x", 1, 0, NULL));
	weir_bus_destroy(bus);
}

static _Atomic long aligned_calls;

static void *
fi_aligned(size_t align, size_t size)
{
	aligned_calls++;
	void *p = alloc_fail_now() ? NULL : aligned_alloc(align, size);
	live_allocs += p != NULL;
	return p;
}

// An allocator with its own aligned_fn (the loop's and subscriptions'
// cache-line aligned blocks come from it): failing there is clean too,
// and those blocks go back through free_fn.
static void
test_aligned_allocator(void **state)
{
	(void) state;
	weir_allocator a = fi_alloc;
	a.aligned_fn     = fi_aligned;
	assert_weir_ok(weir_set_allocator(&a));
	int failures = 0;
	for (long n = 1;; n++) {
		weir_bus    *bus = NULL;
		weir_subscr *sub = NULL;
		fi_arm(n);
		weir_err rv = weir_bus_create(&bus, NULL);
		if (rv == WEIR_OK) {
			rv = weir_subscribe(
			    &sub, bus, "a", wt_nop_handler, NULL, NULL, NULL);
		}
		fail_at = 0;
		if (rv == WEIR_OK) {
			assert_weir_ok(
			    weir_publish(bus, "a", "x", 1, 0, NULL));
			assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT));
			assert_int_equal(wt_subscr_stats(sub).delivered, 1);
			weir_bus_destroy(bus);
			break;
		}
		assert_weir_err(rv, WEIR_ENOMEM);
		assert_null(sub);
		weir_bus_destroy(bus);
		assert_int_equal(live_allocs, 0);
		failures++;
	}
	assert_true(failures >= 3);
	assert_true(aligned_calls >= 2);
}

static int fail_everything;

static void *
none_malloc(size_t n)
{
	return fail_everything ? NULL : fi_malloc(n);
}

static void *
none_calloc(size_t n, size_t size)
{
	return fail_everything ? NULL : fi_calloc(n, size);
}

static void *
none_realloc(void *p, size_t n)
{
	return fail_everything ? NULL : fi_realloc(p, n);
}

// weir_bus_destroy() with no memory at all: every subscription is still
// closed (one at a time), every arg_free runs, nothing is left.
static void
test_destroy_without_memory(void **state)
{
	(void) state;
	weir_allocator a = { sizeof(a), none_malloc, none_calloc, none_realloc,
		fi_free, NULL };
	assert_weir_ok(weir_set_allocator(&a));
	int          calls = 0;
	weir_subscr *subs[NSUBS];
	freed_args      = 0;
	weir_bus *bus   = crowded_bus(&calls, subs);
	char     *js    = NULL;
	fail_everything = 1;
	js              = weir_bus_stats_json(bus);
	weir_bus_destroy(bus);
	fail_everything = 0;
	assert_null(js);
	assert_int_equal(freed_args, NSUBS);
	weir_set_allocator(NULL);
	assert_int_equal(live_allocs, 0);
}

// A subscription on a loop of the caller's own: the stats name it -2.
static void
test_stats_own_loop(void **state)
{
	(void) state;
	weir_bus    *bus;
	weir_loop   *loop;
	weir_subscr *sub;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_loop_create(&loop));
	wt_subscribe_on(&sub, bus, loop, "o", wt_nop_handler, NULL);
	char *js = weir_bus_stats_json(bus);
	assert_non_null(js);
	assert_non_null(strstr(js, "\"loop\":-2"));
	weir_free(js);
	weir_unsubscribe(sub);
	weir_bus_destroy(bus);
	assert_weir_ok(weir_loop_destroy(loop));
}

// More listeners than an emit's stack snapshot holds: weir_emit and
// weir_off_all fail cleanly at every allocation (nobody called, nothing
// removed), then work.
static void
test_many_listeners(void **state)
{
	(void) state;
	weir_bus *bus;
	int       calls = 0;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_bus_set_max_listeners(bus, 0)); // no warning
	for (int i = 0; i < NSUBS; i++) {
		assert_weir_ok(weir_on(
		    bus, "l", wt_count_int_handler, &calls, NULL, 0, NULL));
	}
	// The first allocation may be the string cache's refill, which
	// falls back to the locked path: look at several, not the first.
	int failures = 0;
	for (long n = 1; n <= 8; n++) {
		calls = 0;
		fi_arm(n);
		weir_err rv = weir_emit(bus, "l", "x", 1, NULL);
		fail_at     = 0;
		if (rv == WEIR_OK) {
			assert_int_equal(calls, NSUBS);
			continue;
		}
		assert_weir_err(rv, WEIR_ENOMEM);
		assert_int_equal(calls, 0);
		failures++;
	}
	assert_true(failures >= 1);
	failures = 0;
	for (long n = 1;; n++) {
		size_t removed = 7;
		fi_arm(n);
		weir_err rv = weir_off_all(bus, "l", &removed);
		fail_at     = 0;
		if (rv == WEIR_OK) {
			assert_int_equal(removed, NSUBS);
			break;
		}
		assert_weir_err(rv, WEIR_ENOMEM);
		assert_int_equal(removed, 0);
		assert_int_equal(weir_listener_count(bus, "l"), NSUBS);
		failures++;
	}
	assert_true(failures >= 1);
	assert_int_equal(weir_listener_count(bus, "l"), 0);
	weir_bus_destroy(bus);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_configs, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_topic_handles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool, setup, teardown),
		cmocka_unit_test_setup_teardown(test_destroy, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_publish_many, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_aligned_allocator, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_destroy_without_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_stats_own_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_many_listeners, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
