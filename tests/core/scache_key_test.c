/*
 * The key of the string cache (scache.c): an entry is found by the
 * caller's pointer first, and the pointer is not the key. The bytes at a
 * pointer may change (a buffer reused, a string freed and its address
 * given to another), and a bus may be destroyed and a new one made at the
 * same address: every emit and publish by string must reach exactly the
 * listeners and subscriptions of the topic its bytes name, on its bus.
 */
#include <stdlib.h>
#include <string.h>

#include "weir_test.h"

/* Topics of one length differing in one byte: in the first word, a
 * middle word and the last (overlapping) word of the cache's compare. */
static const char *const same_len[] = {
	"k.aaaaaa.bbbbbbbb.cccccc",
	"x.aaaaaa.bbbbbbbb.cccccc",
	"k.aaaaaa.bbbxbbbb.cccccc",
	"k.aaaaaa.bbbbbbbb.ccccxc",
	"k.aaaaaa.bbbbbbbb.cccccx",
};
#define N_SAME (sizeof(same_len) / sizeof(same_len[0]))

/* Short topics (under a word), a prefix of another, and longer ones. */
static const char *const other_len[] = {
	"k",
	"k.a",
	"k.ab",
	"k.abcdef",
	"k.abcdefg",
	"k.aaaaaa.bbbbbbbb.cccccc.d",
};
#define N_OTHER (sizeof(other_len) / sizeof(other_len[0]))

static weir_bus *
bus_with(const char *const *topics, size_t n, int *count)
{
	weir_bus *bus;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	for (size_t i = 0; i < n; i++) {
		assert_weir_ok(weir_on(bus, topics[i], wt_count_int_handler,
		    &count[i], NULL, 0, NULL));
	}
	return bus;
}

/* Emits @p buf (whose bytes name topics[want]) and checks that exactly
 * that listener was called, once. */
static void
emit_expect(weir_bus *bus, const char *buf, int *count, size_t n, size_t want)
{
	int    before[8];
	size_t called;
	memcpy(before, count, n * sizeof(int));
	assert_weir_ok(weir_emit(bus, buf, NULL, 0, &called));
	assert_int_equal(called, 1);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(count[i], before[i] + (i == want));
	}
}

/* One buffer, its bytes rewritten between emits: same length, one byte
 * different at each place of the compare. */
static void
test_same_pointer_changed_bytes(void **state)
{
	(void) state;
	int       count[N_SAME] = { 0 };
	weir_bus *bus           = bus_with(same_len, N_SAME, count);
	char      buf[64];
	for (int r = 0; r < 3; r++) {
		for (size_t i = 0; i < N_SAME; i++) {
			strcpy(buf, same_len[i]);
			emit_expect(bus, buf, count, N_SAME, i);
			emit_expect(bus, buf, count, N_SAME, i); /* a hit */
		}
	}
	weir_bus_destroy(bus);
}

/* One buffer, rewritten to shorter and longer topics (a prefix of the
 * cached one, the cached one with more after it). */
static void
test_same_pointer_changed_length(void **state)
{
	(void) state;
	int       count[N_OTHER] = { 0 };
	weir_bus *bus            = bus_with(other_len, N_OTHER, count);
	char      buf[64];
	for (int r = 0; r < 2; r++) {
		for (size_t i = 0; i < N_OTHER; i++) {
			strcpy(buf, other_len[i]);
			emit_expect(bus, buf, count, N_OTHER, i);
		}
		for (size_t i = N_OTHER; i-- > 0;) {
			strcpy(buf, other_len[i]);
			emit_expect(bus, buf, count, N_OTHER, i);
		}
	}
	weir_bus_destroy(bus);
}

/* A string freed and another allocated, usually at the same address
 * (the allocator reuses the block; under ASan it does not, and the case
 * is then one of two pointers). */
static void
test_freed_string_address_reused(void **state)
{
	(void) state;
	int       count[N_SAME] = { 0 };
	weir_bus *bus           = bus_with(same_len, N_SAME, count);
	for (int r = 0; r < 20; r++) {
		size_t i = (size_t) r % N_SAME;
		char  *s = malloc(64);
		assert_non_null(s);
		strcpy(s, same_len[i]);
		emit_expect(bus, s, count, N_SAME, i);
		emit_expect(bus, s, count, N_SAME, i);
		free(s);
	}
	weir_bus_destroy(bus);
}

/* Two buses, one topic pointer: each emit reaches its own bus's
 * listener; a publish its own bus's subscription. */
static void
test_two_buses_one_pointer(void **state)
{
	(void) state;
	int               count[2] = { 0 };
	weir_bus         *bus[2];
	weir_subscr      *sub[2];
	const weir_event *ev;
	for (int b = 0; b < 2; b++) {
		assert_weir_ok(weir_bus_create(&bus[b], NULL));
		assert_weir_ok(weir_on(bus[b], "two.buses",
		    wt_count_int_handler, &count[b], NULL, 0, NULL));
		assert_weir_ok(weir_subscribe(
		    &sub[b], bus[b], "two.buses", NULL, NULL, NULL, NULL));
	}
	for (int r = 1; r <= 5; r++) {
		for (int b = 0; b < 2; b++) {
			size_t called;
			assert_weir_ok(
			    weir_emit(bus[b], "two.buses", NULL, 0, &called));
			assert_int_equal(called, 1);
			assert_int_equal(count[b], r);
			assert_weir_ok(weir_publish(
			    bus[b], "two.buses", &b, sizeof(b), 0, NULL));
		}
	}
	for (int b = 0; b < 2; b++) {
		for (int r = 0; r < 5; r++) {
			size_t len;
			assert_weir_ok(weir_subscr_next(sub[b], &ev, 0));
			assert_int_equal(
			    *(const int *) weir_event_payload(ev, &len), b);
			weir_event_release(ev);
		}
		assert_int_equal(
		    weir_subscr_next(sub[b], &ev, 0), WEIR_ETIMEDOUT);
		weir_unsubscribe(sub[b]);
		weir_bus_destroy(bus[b]);
	}
}

/* A bus destroyed and a new one made (often at the same address, with
 * the same registry generation): the new bus's emit calls the new bus's
 * listener, never the old one's. */
static void
test_new_bus_same_address(void **state)
{
	(void) state;
	int       count[8] = { 0 };
	weir_bus *bus;
	for (int r = 0; r < 8; r++) {
		size_t called;
		assert_weir_ok(weir_bus_create(&bus, NULL));
		assert_weir_ok(weir_on(bus, "new.bus", wt_count_int_handler,
		    &count[r], NULL, 0, NULL));
		assert_weir_ok(weir_emit(bus, "new.bus", NULL, 0, &called));
		assert_int_equal(called, 1);
		for (int i = 0; i < 8; i++) {
			assert_int_equal(count[i], i == r);
		}
		count[r] = 0;
		weir_bus_destroy(bus);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_pointer_changed_bytes),
		cmocka_unit_test(test_same_pointer_changed_length),
		cmocka_unit_test(test_freed_string_address_reused),
		cmocka_unit_test(test_two_buses_one_pointer),
		cmocka_unit_test(test_new_bus_same_address),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
