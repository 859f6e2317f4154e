/*
 * Observability: the log-linear histogram, latency percentiles, loop
 * counters and the stats JSON.
 */
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
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

// The latency histogram is made on the first delivery: before it, the
// stats read no samples (and the JSON has the same fields).
static void
test_latency_before_first_delivery(void **state)
{
	(void) state;
	weir_bus    *bus;
	weir_subscr *sub;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_subscribe(
	    &sub, bus, "a.>", wt_nop_handler, NULL, NULL, NULL));
	weir_subscr_stats x = wt_subscr_stats(sub);
	assert_int_equal(x.latency.count, 0);
	assert_int_equal(x.latency.p50_ns, 0);
	assert_int_equal(x.latency.max_ns, 0);
	char *js = weir_bus_stats_json(bus);
	assert_non_null(js);
	assert_non_null(strstr(js, "\"latency_ns\":{\"count\":0,"));
	weir_free(js);
	assert_weir_ok(weir_publish(bus, "a.b", "x", 1, 0, NULL));
	assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT));
	x = wt_subscr_stats(sub);
	assert_int_equal(x.latency.count, 1);
	assert_true(x.latency.p50_ns <= x.latency.max_ns);
	weir_bus_destroy(bus);
}

// A sample of n (a run of events stamped alike) counts n times.
static void
test_hist_record_n(void **state)
{
	(void) state;
	weir__hist *h = weir__zalloc(sizeof(*h));
	weir__hist_record_n(h, 5000, 64);
	weir__hist_record(h, 7000);
	weir__hist_record_n(h, 3000, 35);
	weir_latency l;
	weir__hist_read(h, &l);
	assert_int_equal(l.count, 100);
	assert_true(l.p50_ns >= 5000 && l.p50_ns <= 5000 * 9 / 8 + 1);
	assert_int_equal(l.max_ns, 7000);
	weir__free(h);
}

// Runs the loop takes mix single publishes and a batch (one latency
// clock read per run, a batch's equal stamps one histogram update):
// one sample per handler call all the same, and the loop's count of
// handler calls exact, also through steps whose budget ends a run.
static void
test_latency_counts_every_call(void **state)
{
	(void) state;
	weir_bus    *bus;
	weir_subscr *sub;
	weir_topic  *t;
	weir_buf     bufs[100];
	for (int i = 0; i < 100; i++) {
		bufs[i] = (weir_buf) { "x", 1 };
	}
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_subscribe(
	    &sub, bus, "a.>", wt_nop_handler, NULL, NULL, NULL));
	assert_weir_ok(weir_topic_create(&t, bus, "a.b"));
	for (int i = 0; i < 20; i++) {
		assert_weir_ok(weir_publish_topic(t, "x", 1));
	}
	assert_weir_ok(weir_publish_batch(t, bufs, 100, NULL));
	for (int i = 0; i < 30; i++) {
		assert_weir_ok(weir_publish_topic(t, "x", 1));
	}
	size_t done = 0;
	assert_weir_err(
	    weir_loop_step(weir_bus_loop(bus), 45, 0, &done), WEIR_EAGAIN);
	assert_int_equal(done, 45);
	weir_subscr_stats x = wt_subscr_stats(sub);
	assert_int_equal(x.delivered, 45);
	assert_int_equal(x.latency.count, 45);
	assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT));
	x = wt_subscr_stats(sub);
	assert_int_equal(x.delivered, 150);
	assert_int_equal(x.latency.count, 150);
	weir_loop_stats ls = WEIR_STRUCT_INIT(weir_loop_stats);
	assert_weir_ok(weir_loop_stats_get(weir_bus_loop(bus), &ls));
	assert_int_equal(ls.dispatched, 150);
	weir_topic_destroy(t);
	weir_bus_destroy(bus);
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
	    weir_subscribe(&sub, bus, "a.>", wt_nop_handler, NULL, NULL, sc));
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

// ---- vsnprintf failing on demand, and an allocator that sees misuse

// The link wraps vsnprintf (tests/core/loops.cmake): the library's calls
// land here. GNU ld fixes these two names, hence the leading `__`.
int __real_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap);
int __wrap_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap);

static long vsn_calls;
static long vsn_fail_at; // the call that fails; 0: none

int
__wrap_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap)
{
	if (vsn_fail_at > 0 && ++vsn_calls == vsn_fail_at) {
		errno = EOVERFLOW; // what glibc reports past INT_MAX bytes
		return -1;
	}
	return __real_vsnprintf(buf, n, fmt, ap);
}

// With _FORTIFY_SOURCE (optimised builds, cmake/WeirHelpers.cmake) the
// library calls glibc's checked variant instead: wrapped the same way.
int __real___vsnprintf_chk(
    char *buf, size_t n, int flag, size_t slen, const char *fmt, va_list ap);
int __wrap___vsnprintf_chk(
    char *buf, size_t n, int flag, size_t slen, const char *fmt, va_list ap);

int
__wrap___vsnprintf_chk(
    char *buf, size_t n, int flag, size_t slen, const char *fmt, va_list ap)
{
	if (vsn_fail_at > 0 && ++vsn_calls == vsn_fail_at) {
		errno = EOVERFLOW;
		return -1;
	}
	return __real___vsnprintf_chk(buf, n, flag, slen, fmt, ap);
}

// Every block the allocator handed out and not yet took back; a realloc
// always moves, so a caller that loses its result frees a stale block.
#define TRACK_MAX 256
static void *track_live[TRACK_MAX];
static int   track_bad; // frees and reallocs of blocks not live

static int
track_find(const void *p)
{
	for (int i = 0; i < TRACK_MAX; i++) {
		if (track_live[i] == p) {
			return i;
		}
	}
	return -1;
}

static void *
track_add(void *p)
{
	int i = p != NULL ? track_find(NULL) : -1;
	if (i >= 0) {
		track_live[i] = p;
	}
	return p;
}

static int
track_take(void *p)
{
	int i = track_find(p);
	if (i < 0) {
		track_bad++;
		return 0;
	}
	track_live[i] = NULL;
	return 1;
}

static void *
track_malloc(size_t n)
{
	return track_add(malloc(n));
}

static void *
track_calloc(size_t n, size_t size)
{
	return track_add(calloc(n, size));
}

static void *
track_realloc(void *p, size_t n)
{
	if (p != NULL && !track_take(p)) {
		return NULL;
	}
	void *q = malloc(n);
	if (q != NULL && p != NULL) {
		size_t old = malloc_usable_size(p);
		memcpy(q, p, old < n ? old : n);
	}
	if (q == NULL && p != NULL) {
		track_add(p); // a failed realloc leaves the block as it was
		return NULL;
	}
	free(p);
	return track_add(q);
}

static void
track_free(void *p)
{
	if (p != NULL && track_take(p)) {
		free(p);
	}
}

static const weir_allocator track_alloc = {
	.size       = sizeof(weir_allocator),
	.malloc_fn  = track_malloc,
	.calloc_fn  = track_calloc,
	.realloc_fn = track_realloc,
	.free_fn    = track_free,
};

static int
track_count(void)
{
	int n = 0;
	for (int i = 0; i < TRACK_MAX; i++) {
		n += track_live[i] != NULL;
	}
	return n;
}

// A formatting failure at any point of the JSON gives NULL, frees all it
// took and never frees a block twice (the buffer's realloc result was
// lost on that path once).
static void
test_stats_json_format_error(void **state)
{
	(void) state;
	weir_bus           *bus;
	weir_subscr_config *sc;
	weir_subscr        *sub;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_ok(weir_subscr_config_set_name(sc, "a-rather-long-name"));
	assert_weir_ok(
	    weir_subscribe(&sub, bus, "a.>", wt_nop_handler, NULL, NULL, sc));
	weir_subscr_config_destroy(sc);
	int failures = 0;
	for (long k = 1;; k++) {
		assert_weir_ok(weir_set_allocator(&track_alloc));
		vsn_calls   = 0;
		vsn_fail_at = k;
		char *js    = weir_bus_stats_json(bus);
		vsn_fail_at = 0;
		assert_int_equal(track_bad, 0);
		if (js == NULL) {
			assert_int_equal(track_count(), 0);
			failures++;
		} else {
			assert_true(vsn_calls < k); // no call failed
			weir_free(js);
		}
		assert_int_equal(track_count(), 0);
		weir_set_allocator(NULL);
		if (js != NULL) {
			break;
		}
	}
	assert_true(failures > 10);
	weir_bus_destroy(bus);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hist_buckets),
		cmocka_unit_test(test_latency_before_first_delivery),
		cmocka_unit_test(test_hist_record_n),
		cmocka_unit_test(test_latency_counts_every_call),
		cmocka_unit_test(test_stats_json),
		cmocka_unit_test(test_stats_json_format_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
