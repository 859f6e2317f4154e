// Runs of UUIDv7s (uuid.h, weir__uuid_run_*), the ids of a batch
// publish: unique and rising within the run and against the single ids
// made before and after on the thread, through a counter that runs out
// (the next millisecond is borrowed), a clock that steps back, and
// runs on several threads at once.
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "weir_test.h"

#include "core/uuid.h"

#define T0 ((int64_t) 1760000000000 * 1000000) // a unix time in ns

static void
assert_v7(const uint8_t id[16])
{
	assert_int_equal(id[6] >> 4, 7);      // version 7
	assert_int_equal(id[8] & 0xc0, 0x80); // variant 10
}

static void
assert_before(const uint8_t a[16], const uint8_t b[16])
{
	if (memcmp(a, b, 16) >= 0) {
		char x[37], y[37];
		weir_uuid_format(a, x);
		weir_uuid_format(b, y);
		fail_msg("%s is not before %s", x, y);
	}
}

// The unix ms in an id's first 48 bits.
static int64_t
id_ms(const uint8_t id[16])
{
	int64_t ms = 0;
	for (int i = 0; i < 6; i++) {
		ms = ms << 8 | id[i];
	}
	return ms;
}

// Makes @p n ids as one run at @p now into ids[0..n), checked against
// @p prev (the thread's last id) and each other.
static void
make_run(uint8_t (*ids)[16], size_t n, int64_t now, uint8_t prev[16])
{
	weir__uuid_run r;
	weir__uuid_run_begin(&r, now, n);
	for (size_t i = 0; i < n; i++) {
		weir__uuid_run_next(&r, ids[i]);
	}
	weir__uuid_run_end(&r);
	for (size_t i = 0; i < n; i++) {
		assert_v7(ids[i]);
		assert_before(prev, ids[i]);
		memcpy(prev, ids[i], 16);
	}
}

static void
test_run_rises_between_singles(void **state)
{
	(void) state;
	uint8_t prev[16], ids[64][16], after[16];
	weir__uuid_v7_at(prev, T0);
	uint8_t first[16];
	memcpy(first, prev, 16);
	make_run(ids, 64, T0, prev);
	assert_int_equal(id_ms(ids[0]), T0 / 1000000);
	weir__uuid_v7_at(after, T0);
	assert_before(prev, after);
	// A run of one, and of none, are runs too.
	make_run(ids, 1, T0, after);
	weir__uuid_run r;
	weir__uuid_run_begin(&r, T0, 0);
	weir__uuid_run_end(&r);
	weir__uuid_v7_at(prev, T0);
	assert_before(ids[0], prev);
	// The random halves differ (62 bits each).
	assert_memory_not_equal(first + 8, ids[0] + 8, 8);
}

static void
test_run_counter_runs_out(void **state)
{
	(void) state;
	// 200 runs of 64 at one instant: 12,800 ids, more than a
	// millisecond's 4,096 counter values. They keep rising, the ms
	// borrowed ahead of the clock as single ids borrow it.
	uint8_t prev[16], ids[64][16];
	int64_t now = T0 + 7 * 1000000;
	weir__uuid_v7_at(prev, now);
	for (int i = 0; i < 200; i++) {
		make_run(ids, 64, now, prev);
	}
	assert_true(id_ms(prev) > now / 1000000);
	assert_true(id_ms(prev) <= now / 1000000 + 4);
	// A single id after them still comes after.
	uint8_t one[16];
	weir__uuid_v7_at(one, now);
	assert_before(prev, one);
}

static void
test_run_clock_steps_back(void **state)
{
	(void) state;
	uint8_t prev[16], ids[64][16];
	int64_t now = T0 + 60 * 1000000000LL;
	weir__uuid_v7_at(prev, now);
	make_run(ids, 64, now, prev);
	make_run(ids, 64, now - 5 * 1000000000LL, prev); // stepped back 5 s
	assert_int_equal(id_ms(prev), now / 1000000);
	make_run(ids, 64, now + 1000000, prev); // the clock moves on
	assert_int_equal(id_ms(prev), now / 1000000 + 1);
}

#define NTHREADS 4
#define NRUNS 200

typedef struct thr_ids {
	uint8_t ids[NRUNS * 64][16];
} thr_ids;

static void *
thr_main(void *arg)
{
	thr_ids *t = arg;
	uint8_t  prev[16];
	memset(prev, 0, sizeof(prev));
	for (int i = 0; i < NRUNS; i++) {
		// Every thread at the same instants: only the random halves
		// keep their ids apart.
		make_run(&t->ids[i * 64], 64, T0 + i * 1000000, prev);
	}
	return NULL;
}

static int
cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

static void
test_run_threads_unique(void **state)
{
	(void) state;
	thr_ids  *t = calloc(NTHREADS, sizeof(*t));
	pthread_t th[NTHREADS];
	assert_non_null(t);
	for (int i = 0; i < NTHREADS; i++) {
		assert_int_equal(
		    pthread_create(&th[i], NULL, thr_main, &t[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
	}
	size_t n = (size_t) NTHREADS * NRUNS * 64;
	qsort(t, n, 16, cmp_id);
	uint8_t(*all)[16] = (uint8_t(*)[16]) t;
	for (size_t i = 1; i < n; i++) {
		assert_memory_not_equal(all[i - 1], all[i], 16);
	}
	free(t);
}

// Single ids at one instant, past the 4,096 a millisecond's counter
// holds: the fast path of weir__uuid_v7_at hands them out until the
// counter runs out, the slow half borrows the next millisecond.
static void
test_single_counter_runs_out(void **state)
{
	(void) state;
	// The thread's counter may stand anywhere in its millisecond
	// (earlier tests ran on it): 9,000 more ids take 2 or 3 more.
	uint8_t prev[16], id[16];
	weir__uuid_v7_at(prev, T0 + 1000000000);
	int64_t first = id_ms(prev);
	for (int i = 0; i < 9000; i++) {
		weir__uuid_v7_at(id, T0 + 1000000000);
		assert_v7(id);
		assert_before(prev, id);
		memcpy(prev, id, 16);
	}
	assert_true(first >= (T0 + 1000000000) / 1000000);
	assert_true(id_ms(prev) >= first + 2);
	assert_true(id_ms(prev) <= first + 3);
}

// A thread's first id at a time in the stamp's first millisecond (0:
// ts is the caller's, and may be anything): the fast path must not take
// it from an unseeded random stream, so two threads' ids differ in
// their random halves and are not zero there.
static void *
thr_first_at_zero(void *arg)
{
	weir__uuid_v7_at(arg, 0);
	weir__uuid_v7_at((uint8_t *) arg + 16, 0);
	return NULL;
}

static void
test_single_first_seeded(void **state)
{
	(void) state;
	uint8_t   ids[2][32];
	uint8_t   zero[8] = { 0 };
	pthread_t th[2];
	for (int i = 0; i < 2; i++) {
		assert_int_equal(
		    pthread_create(&th[i], NULL, thr_first_at_zero, ids[i]),
		    0);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
	}
	for (int i = 0; i < 2; i++) {
		assert_v7(ids[i]);
		assert_v7(ids[i] + 16);
		assert_before(ids[i], ids[i] + 16);
		assert_memory_not_equal(ids[i] + 8 + 1, zero, 7);
		assert_memory_not_equal(ids[i] + 24 + 1, zero, 7);
	}
	assert_memory_not_equal(ids[0] + 8, ids[1] + 8, 8);
	assert_memory_not_equal(ids[0] + 24, ids[1] + 24, 8);
}

// The reference: position i of the 36 holds '-' at 8, 13, 18 and 23
// and a hex digit (either case) everywhere else.
static int
ref_uuid_char_ok(int i, int c)
{
	if (i == 8 || i == 13 || i == 18 || i == 23) {
		return c == '-';
	}
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

// Every byte value at every position of a valid text: parsed iff the
// reference says so; a failed parse leaves the id as it was.
static void
test_parse_every_byte(void **state)
{
	(void) state;
	const char *good = "0189abcd-ef01-7abc-8def-0123456789AB";
	uint8_t     want[16], id[16];
	assert_weir_ok(weir_uuid_parse(good, want));
	assert_int_equal(want[0], 0x01);
	assert_int_equal(want[15], 0xab);
	for (int i = 0; i < 36; i++) {
		for (int c = 1; c < 256; c++) {
			char text[37];
			memcpy(text, good, sizeof text);
			text[i] = (char) c;
			memset(id, 0x5a, sizeof id);
			weir_err rv = weir_uuid_parse(text, id);
			if ((rv == WEIR_OK) != ref_uuid_char_ok(i, c)) {
				print_error("position %d byte %d: %d\n", i, c,
				    (int) rv);
				fail();
			}
			if (rv != WEIR_OK) {
				for (int k = 0; k < 16; k++) {
					assert_int_equal(id[k], 0x5a);
				}
			}
		}
	}
}

// Every length other than 36, cut at each position or run on; upper,
// lower and mixed case parse to the same bytes as weir_uuid_format's.
static void
test_parse_lengths_and_case(void **state)
{
	(void) state;
	const char *lower = "0189abcd-ef01-7abc-8def-0123456789ab";
	const char *upper = "0189ABCD-EF01-7ABC-8DEF-0123456789AB";
	uint8_t     a[16], b[16];
	char        text[64], back[37];
	for (size_t n = 0; n < 36; n++) {
		// Exactly n + 1 bytes on the heap: a read past the NUL is an
		// error under ASan.
		char *cut = malloc(n + 1);
		assert_non_null(cut);
		memcpy(cut, lower, n);
		cut[n] = '\0';
		assert_weir_err(weir_uuid_parse(cut, a), WEIR_EINVAL);
		free(cut);
	}
	snprintf(text, sizeof text, "%s0", lower);
	assert_weir_err(weir_uuid_parse(text, a), WEIR_EINVAL);
	snprintf(text, sizeof text, "%s-", lower);
	assert_weir_err(weir_uuid_parse(text, a), WEIR_EINVAL);
	assert_weir_err(weir_uuid_parse(NULL, a), WEIR_EINVAL);
	assert_weir_err(weir_uuid_parse(lower, NULL), WEIR_EINVAL);
	assert_weir_ok(weir_uuid_parse(lower, a));
	assert_weir_ok(weir_uuid_parse(upper, b));
	assert_memory_equal(a, b, 16);
	weir_uuid_format(a, back);
	assert_string_equal(back, lower);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_rises_between_singles),
		cmocka_unit_test(test_run_counter_runs_out),
		cmocka_unit_test(test_run_clock_steps_back),
		cmocka_unit_test(test_run_threads_unique),
		cmocka_unit_test(test_single_counter_runs_out),
		cmocka_unit_test(test_single_first_seeded),
		cmocka_unit_test(test_parse_every_byte),
		cmocka_unit_test(test_parse_lengths_and_case),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
