/*
 * The backends' CloudEvents text without printf: ce_time against
 * gmtime_r + strftime over the range a UUIDv7 timestamp covers and the
 * edges of the fast path, and decimal numbers against snprintf.
 */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "weir_test.h"

#include "bridge/cetext.h"

/* What the backends wrote before: strftime and snprintf. */
static void
slow_time(int64_t ns, char out[40])
{
	int64_t sec = ns / 1000000000, frac = ns % 1000000000;
	if (frac < 0) {
		frac += 1000000000;
		sec -= 1;
	}
	time_t    t = (time_t) sec;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + 19, 21, ".%09" PRId64 "Z", frac);
}

static void
check_time(int64_t ns)
{
	char fast[40], slow[40];
	weir__ce_time(ns, fast);
	slow_time(ns, slow);
	if (strcmp(fast, slow) != 0) {
		print_error("ns %" PRId64 ": %s, want %s\n", ns, fast, slow);
		fail();
	}
}

static void
test_ce_time(void **state)
{
	(void) state;
	int64_t edges[] = { 0, 1, 999999999, 1000000000, 951782400000000000,
		951868800123456789, 4107542399999999999, INT64_MAX, -1,
		-1000000000, -86400000000001 };
	for (size_t i = 0; i < sizeof edges / sizeof *edges; i++)
		check_time(edges[i]);
	/* A day and a bit apart, from 1970 to 2262 (INT64_MAX ns),
	 * through every month and the leap days. */
	uint64_t x = 88172645463325252u;
	for (int64_t ns = 0; ns < INT64_MAX - INT64_C(97000000000000);
	     ns += INT64_C(97000000000000)) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		check_time(ns + (int64_t) (x % 1000000000));
	}
}

/* The date and time of day are kept per thread for the last second seen:
 * runs within one second, returns to an earlier second, a day and a year
 * boundary, and the slow path in between all give the text strftime
 * gives. */
static void
test_ce_time_sequence(void **state)
{
	(void) state;
	const int64_t s     = 1000000000;
	int64_t       seq[] = { 1767225599 * s + 999999999, 1767225599 * s,
		      1767225600 * s, 1767225599 * s + 5, -3 * s + 7,
		      1767225600 * s + 123, 1767225600 * s + 124, 0, 86399 * s,
		      86400 * s, 86399 * s + 1 };
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < sizeof seq / sizeof *seq; i++) {
			check_time(seq[i]);
		}
	}
}

static void
test_ce_u64(void **state)
{
	(void) state;
	uint64_t v[] = { 0, 9, 10, 99, 100, 12345678901234567890u,
		UINT64_MAX };
	for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
		char   fast[24], slow[24];
		size_t n = weir__ce_u64(v[i], fast);
		snprintf(slow, sizeof slow, "%" PRIu64, v[i]);
		assert_string_equal(fast, slow);
		assert_int_equal(n, strlen(slow));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ce_time),
		cmocka_unit_test(test_ce_time_sequence),
		cmocka_unit_test(test_ce_u64),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
