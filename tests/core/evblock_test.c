// The events of a batch in one block (evblock.c): the layout an event in
// a block shows to handlers (payload alignment, shared topic, rising ids),
// blocks split at their size bound, the block's lifetime when events of
// it are held past the others, release runs that mix blocks and pool
// events, running out of memory, and two threads releasing the same
// events (a fan-out to two loops).
#include <pthread.h>
#include <string.h>

#include "fault_alloc.h"
#include "weir_test.h"

#include "core/evblock.h"
#include "core/event.h"
#include "core/evpool.h"

#define TOPIC "blk.topic"
#define NEV 64

static unsigned char pat[65536];
static weir_buf      bufs[NEV];

static int
setup(void **state)
{
	(void) state;
	for (size_t i = 0; i < sizeof(pat); i++) {
		pat[i] = (unsigned char) (i * 7 + i / 251);
	}
	weir_set_allocator(&fi_alloc);
	return 0;
}

static int
teardown(void **state)
{
	(void) state;
	weir__evpool_flush();
	weir_set_allocator(NULL);
	return 0;
}

// Makes n events of lengths len(i) from pat (offset i), refs each.
static size_t
make(weir_event **evs, size_t n, size_t (*len)(size_t), unsigned refs)
{
	for (size_t i = 0; i < n; i++) {
		bufs[i] = (weir_buf) { pat + i, len(i) };
	}
	return weir__evblock_make_n(
	    evs, TOPIC, strlen(TOPIC), bufs, n, refs, 42);
}

static void
assert_event(const weir_event *ev, size_t i, size_t want_len)
{
	size_t      len;
	const void *p = weir_event_payload(ev, &len);
	assert_int_equal(len, want_len);
	if (want_len == 0) {
		assert_null(p);
	} else {
		assert_int_equal((uintptr_t) p % 16, 0);
		assert_memory_equal(p, pat + i, want_len);
	}
	assert_string_equal(weir_event_topic(ev), TOPIC);
	assert_int_equal(weir_event_ts(ev), 42);
	assert_null(weir_event_key(ev, NULL));
	assert_int_equal(weir_event_header_count(ev), 0);
}

static size_t
len_small(size_t i)
{
	return i * 7 % 70; // 0 to 69 bytes: unaligned ends, empty ones
}

static size_t
len_3000(size_t i)
{
	(void) i;
	return 3000;
}

// One block for a chunk of small events; each event reads as a plain
// one; ids rise; the topic is stored once.
static void
test_layout(void **state)
{
	(void) state;
	weir_event *evs[NEV];
	long        live = live_allocs;
	assert_int_equal(make(evs, NEV, len_small, 1), NEV);
	assert_int_equal(live_allocs, live + 1); // one block
	for (size_t i = 0; i < NEV; i++) {
		assert_event(evs[i], i, len_small(i));
		assert_ptr_equal(weir_event_topic(evs[i]), evs[0]->topic);
		if (i > 0) {
			assert_true(memcmp(weir_event_id(evs[i - 1]),
			                weir_event_id(evs[i]), 16) < 0);
		}
	}
	weir__event_release_n(evs, NEV);
	assert_int_equal(live_allocs, live);
}

// Blocks stop at 16 KiB: 3000-byte events go five to a block, and an
// event larger than the bound has a block of its own.
static void
test_split(void **state)
{
	(void) state;
	weir_event *evs[NEV];
	long        live = live_allocs;
	assert_int_equal(make(evs, 20, len_3000, 1), 20);
	assert_int_equal(live_allocs, live + 4);
	for (size_t i = 0; i < 20; i++) {
		assert_event(evs[i], i, 3000);
	}
	weir__event_release_n(evs, 20);
	assert_int_equal(live_allocs, live);
	bufs[0] = (weir_buf) { pat, 40000 };
	bufs[1] = (weir_buf) { pat + 1, 5 };
	assert_int_equal(
	    weir__evblock_make_n(evs, TOPIC, strlen(TOPIC), bufs, 2, 1, 42),
	    2);
	assert_int_equal(live_allocs, live + 2);
	assert_event(evs[0], 0, 40000);
	assert_event(evs[1], 1, 5);
	weir_event_release(evs[1]);
	weir_event_release(evs[0]);
	assert_int_equal(live_allocs, live);
}

// An event held past its run keeps its block, and only its block; it
// reads intact until its last release frees the block.
static void
test_held_past_the_run(void **state)
{
	(void) state;
	weir_event *a[NEV], *b[NEV];
	long        live = live_allocs;
	assert_int_equal(make(a, NEV, len_small, 1), NEV);
	assert_int_equal(make(b, NEV, len_small, 1), NEV);
	const weir_event *held  = weir_event_hold(a[9]);
	const weir_event *held2 = weir_event_hold(a[9]);
	assert_ptr_equal(held, a[9]);
	weir__event_release_n(a, NEV);
	weir__event_release_n(b, NEV);
	assert_int_equal(live_allocs, live + 1); // a's block
	assert_event(held, 9, len_small(9));
	weir_event_release(held);
	assert_int_equal(live_allocs, live + 1);
	assert_event(held2, 9, len_small(9));
	weir_event_release(held2);
	assert_int_equal(live_allocs, live);
}

// A release run whose events alternate between two blocks and pool
// events, one of them still held: each block is freed with its last
// event, the pool events go back to the pool.
static void
test_release_mixed(void **state)
{
	(void) state;
	weir_event *a[4], *b[4];
	weir__evpool_flush();
	long live = live_allocs;
	assert_int_equal(make(a, 4, len_small, 1), 4);
	assert_int_equal(make(b, 4, len_small, 1), 4);
	weir_event *p0 = weir__event_make_plain(TOPIC, strlen(TOPIC), pat, 8);
	weir_event *p1 = weir__event_make_plain(TOPIC, strlen(TOPIC), pat, 0);
	assert_non_null(p0);
	assert_non_null(p1);
	const weir_event *held = weir_event_hold(b[2]);
	weir_event *run[10]    = { a[0], p0, b[0], a[1], b[1], b[2], a[2], p1,
		   b[3], a[3] };
	weir__event_release_n(run, 10);
	weir__evpool_flush(); // the pool events' blocks
	assert_int_equal(live_allocs, live + 1);
	assert_event(held, 2, len_small(2));
	weir_event_release(held);
	assert_int_equal(live_allocs, live);
}

// Out of memory: the events of the blocks that could be made are
// returned (the first ones), and nothing leaks.
static void
test_out_of_memory(void **state)
{
	(void) state;
	weir_event *evs[NEV];
	long        live = live_allocs;
	fi_arm(1);
	assert_int_equal(make(evs, 20, len_3000, 1), 0);
	fi_arm(3);
	size_t made = make(evs, 20, len_3000, 1);
	fail_at     = 0;
	assert_int_equal(made, 10); // two blocks of five
	for (size_t i = 0; i < made; i++) {
		assert_event(evs[i], i, 3000);
	}
	weir__event_release_n(evs, made);
	assert_int_equal(live_allocs, live);
}

// Two threads release the same events (a count of 2 each, as a fan-out
// to two loops gives): one in runs, one event by event from the end, a
// few held and dropped later. Every block is freed exactly once (TSan
// checks the counts' ordering, ASan the frees).
#define ROUNDS 300

typedef struct relfx {
	weir_event *evs[NEV];
} relfx;

static void *
release_backwards(void *arg)
{
	relfx *r = arg;
	for (size_t i = NEV; i-- > 0;) {
		const weir_event *h =
		    i % 5 == 0 ? weir_event_hold(r->evs[i]) : NULL;
		weir_event_release(r->evs[i]);
		weir_event_release(h);
	}
	return NULL;
}

static void
test_two_threads_release(void **state)
{
	(void) state;
	relfx r;
	long  live = live_allocs;
	for (int round = 0; round < ROUNDS; round++) {
		assert_int_equal(make(r.evs, NEV, len_small, 2), NEV);
		pthread_t t;
		assert_int_equal(
		    pthread_create(&t, NULL, release_backwards, &r), 0);
		for (size_t i = 0; i < NEV; i += 7) {
			size_t k = NEV - i < 7 ? NEV - i : 7;
			weir__event_release_n(r.evs + i, k);
		}
		pthread_join(t, NULL);
		assert_int_equal(live_allocs, live);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_held_past_the_run, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_release_mixed, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_out_of_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_two_threads_release, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
