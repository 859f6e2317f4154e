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

/* Every length the cache takes the 1-, 4- and 8-byte compares of (1 to
 * 40 bytes: the 1-3 byte case, the two overlapping half-words, the two
 * overlapping words, and the middle words above 16), and every position
 * in it: one buffer holds a topic with a listener, then the same topic
 * with that one byte changed (no listener), in turn. A compare that
 * skipped any byte calls the listener for the changed topic. */
static void
test_every_length_every_byte(void **state)
{
	(void) state;
	for (size_t n = 1; n <= 40; n++) {
		int       count = 0;
		weir_bus *bus;
		char      topic[48], buf[48];
		memset(topic, 'a', n);
		topic[n] = '\0';
		assert_weir_ok(weir_bus_create(&bus, NULL));
		assert_weir_ok(weir_on(
		    bus, topic, wt_count_int_handler, &count, NULL, 0, NULL));
		for (size_t p = 0; p < n; p++) {
			size_t called;
			strcpy(buf, topic);
			assert_weir_ok(weir_emit(bus, buf, NULL, 0, &called));
			assert_int_equal(called, 1);
			buf[p] = 'b';
			assert_weir_ok(weir_emit(bus, buf, NULL, 0, &called));
			assert_int_equal(called, 0);
			assert_int_equal(count, (int) p + 1);
		}
		weir_bus_destroy(bus);
	}
}

/* What a listener receives from an emit by string the cache cannot call
 * (a once-listener, more listeners than an entry holds, a topic longer
 * than an entry's buffer): the caller's payload and length, and no
 * payload for length 0. Emit by string writes the payload into the
 * thread's event before it looks the topic up; the locked path takes it
 * from there. */
typedef struct seen {
	const void *payload;
	size_t      len;
	int         calls;
} seen;

static weir_err
seen_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	seen *s = arg;
	(void) bus;
	s->payload = weir_event_payload(ev, &s->len);
	s->calls++;
	return WEIR_OK;
}

/* @p once: a once-listener is added before each emit (the last fired). */
static void
emit_seen(
    weir_bus *bus, const char *topic, seen *s, size_t want_calls, int once)
{
	static const char data[] = "payload bytes";
	size_t            called;
	for (size_t len = sizeof(data);; len = 0) {
		if (once) {
			assert_weir_ok(weir_on(bus, topic, seen_handler, s,
			    NULL, WEIR_ON_ONCE, NULL));
		}
		memset(s, 0, sizeof(*s));
		assert_weir_ok(weir_emit(bus, topic, data, len, &called));
		assert_int_equal(called, want_calls);
		assert_int_equal(s->calls, want_calls);
		assert_ptr_equal(s->payload, len ? data : NULL);
		assert_int_equal(s->len, len);
		if (len == 0) {
			return;
		}
	}
}

static void
test_uncached_paths_get_the_payload(void **state)
{
	(void) state;
	weir_bus *bus;
	seen      s;
	char      longest[72];
	memset(longest, 'l', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	assert_weir_ok(weir_bus_create(&bus, NULL));
	for (int i = 0; i < 5; i++) {
		assert_weir_ok(
		    weir_on(bus, "p.many", seen_handler, &s, NULL, 0, NULL));
	}
	assert_weir_ok(weir_on(bus, longest, seen_handler, &s, NULL, 0, NULL));
	for (int r = 0; r < 2; r++) {
		emit_seen(bus, "p.many", &s, 5, 0);
		emit_seen(bus, longest, &s, 1, 0);
		emit_seen(bus, "p.once", &s, 1, 1);
	}
	weir_bus_destroy(bus);
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
		cmocka_unit_test(test_every_length_every_byte),
		cmocka_unit_test(test_uncached_paths_get_the_payload),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
