/*
 * Structs that grow (weir.h): the size rule on every public core struct,
 * the internal helpers that apply it, and the allocator's aligned hook.
 */
#include <string.h>

#include "core/abi.h"
#include "weir_test.h"

/* A "1.1" event init: the 1.0 struct followed by one field weir does
 * not know. */
typedef struct init_v11 {
	weir_event_init v10;
	uint64_t        future;
} init_v11;

static void
test_struct_in_rules(void **state)
{
	(void) state;
	weir_event_init dst;
	init_v11 src = { .v10 = { .size = sizeof(init_v11), .topic = "a.b" } };
	assert_weir_ok(weir__struct_in(&dst, sizeof(dst), &src, sizeof(dst)));
	assert_int_equal(dst.size, sizeof(dst));
	assert_string_equal(dst.topic, "a.b");
	src.future = 1; // a field this build cannot honour
	assert_weir_err(weir__struct_in(&dst, sizeof(dst), &src, sizeof(dst)),
	    WEIR_ENOTSUP);
	weir_event_init zero = { 0 };
	assert_weir_err(weir__struct_in(&dst, sizeof(dst), &zero, sizeof(dst)),
	    WEIR_EINVAL);
	// An older, smaller caller struct: the rest reads as zero.
	weir_event_init old = {
		.size = offsetof(weir_event_init, seq), .topic = "x", .seq = 77
	};
	assert_weir_ok(weir__struct_in(
	    &dst, sizeof(dst), &old, offsetof(weir_event_init, seq)));
	assert_int_equal(dst.seq, 0);
}

static void
test_event_new_size(void **state)
{
	(void) state;
	weir_event *ev   = NULL;
	init_v11    init = { .v10 = {
		                 .size = sizeof(init_v11), .topic = "a.b" } };
	assert_weir_ok(weir_event_new(&ev, &init.v10));
	weir_event_release(ev);
	init.future = 5;
	assert_weir_err(weir_event_new(&ev, &init.v10), WEIR_ENOTSUP);
	assert_null(ev);
	init.v10.size = sizeof(size_t);
	assert_weir_err(weir_event_new(&ev, &init.v10), WEIR_EINVAL);
}

/* An older caller's stats struct: only the queue counters. weir must
 * fill them and write nothing past the caller's size. */
typedef struct stats_v10_small {
	size_t   size;
	uint64_t published, delivered, failed, dropped, rejected, timed_out;
	uint64_t coalesced, queued, high_water, pressure, drain;
	uint64_t canary;
} stats_small;

static void
test_stats_out_bounded(void **state)
{
	(void) state;
	weir_bus    *bus;
	weir_subscr *sub;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_subscribe(
	    &sub, bus, "s.>", wt_nop_handler, NULL, NULL, NULL));
	assert_weir_ok(weir_publish(bus, "s.x", "p", 1, 0, NULL));
	stats_small small = { .size = offsetof(stats_small, canary),
		.canary             = 0xC0FFEE };
	assert_weir_err(
	    weir_subscr_stats_get(sub, (weir_subscr_stats *) &small),
	    WEIR_EINVAL); // below the 1.0 size
	weir_subscr_stats st = { .size = 0 };
	assert_weir_err(weir_subscr_stats_get(sub, &st), WEIR_EINVAL);
	st.size = sizeof(st);
	assert_weir_ok(weir_subscr_stats_get(sub, &st));
	assert_int_equal(st.published, 1);
	assert_int_equal(st.queued, 1);
	// A newer caller's bigger struct: weir writes its own part only.
	struct {
		weir_subscr_stats st;
		uint64_t          canary;
	} big = { .st = { .size = sizeof(big) }, .canary = 0xC0FFEE };
	assert_weir_ok(weir_subscr_stats_get(sub, &big.st));
	assert_int_equal(big.st.size, sizeof(big));
	assert_int_equal(big.st.published, 1);
	assert_int_equal(big.canary, 0xC0FFEE);
	weir_loop_stats ls = { .size = 1 };
	assert_weir_err(
	    weir_loop_stats_get(weir_bus_loop(bus), &ls), WEIR_EINVAL);
	ls.size = sizeof(ls);
	assert_weir_ok(weir_loop_stats_get(weir_bus_loop(bus), &ls));
	assert_int_equal(ls.subscriptions, 1);
	weir_bus_destroy(bus);
}

static int aligned_calls;

static void *
counting_aligned(size_t align, size_t size)
{
	aligned_calls++;
	return aligned_alloc(align, size);
}

static void
test_allocator_hook(void **state)
{
	(void) state;
	weir_allocator a   = { .size = sizeof(a),
		  .malloc_fn         = malloc,
		  .calloc_fn         = calloc,
		  .realloc_fn        = realloc,
		  .free_fn           = free,
		  .aligned_fn        = counting_aligned };
	weir_allocator bad = a;
	bad.free_fn        = NULL;
	assert_weir_err(weir_set_allocator(&bad), WEIR_EINVAL);
	bad      = a;
	bad.size = sizeof(size_t);
	assert_weir_err(weir_set_allocator(&bad), WEIR_EINVAL);
	assert_weir_ok(weir_set_allocator(&a));
	weir_bus    *bus;
	weir_subscr *sub;
	assert_weir_ok(weir_bus_create(&bus, NULL)); // its loop is aligned
	assert_weir_ok(weir_subscribe(
	    &sub, bus, "s.>", wt_nop_handler, NULL, NULL, NULL));
	assert_true(aligned_calls >= 2); // the loop and the subscription
	assert_weir_ok(weir_publish(bus, "s.x", "p", 1, 0, NULL));
	assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT));
	weir_bus_destroy(bus);
	assert_weir_ok(weir_set_allocator(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_struct_in_rules),
		cmocka_unit_test(test_event_new_size),
		cmocka_unit_test(test_stats_out_bounded),
		cmocka_unit_test(test_allocator_hook),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
