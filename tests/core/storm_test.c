/*
 * Storm defences: the token-bucket rate limit and debounce, including
 * a storm of 1,000,000 "changed" events over 1,000 keys that reaches
 * the handler as at most a few thousand events, the last value of
 * every key among them.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "weir_test.h"

static void
test_rate_limit(void **state)
{
	(void) state;
	weir_bus           *bus = wt_bus_with_loops(1);
	weir_subscr_config *sc;
	weir_subscr        *sub;
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_err(weir_subscr_config_set_rate(sc, 10, 0.5), WEIR_EINVAL);
	assert_weir_err(weir_subscr_config_set_rate(sc, -1, 1), WEIR_EINVAL);
	assert_weir_ok(weir_subscr_config_set_rate(sc, 100, 5));
	atomic_uint_least64_t n = 0;
	assert_weir_ok(
	    weir_subscribe(&sub, bus, "r.s", wt_count_handler, &n, NULL, sc));
	weir_subscr_config_destroy(sc);
	for (int i = 0; i < 40; i++) {
		assert_weir_ok(weir_publish(bus, "r.s", NULL, 0, 0, NULL));
	}
	int64_t t0 = wt_now_ms();
	assert_weir_ok(weir_bus_start(bus));
	assert_true(wt_wait_u64(&n, 40));
	// 5 at once, then 35 at 100/s: at least ~350 ms. Only the lower
	// bound is asserted (a slow machine only makes it longer).
	assert_true(wt_now_ms() - t0 >= 300);
	weir_subscr_stats st = WEIR_STRUCT_INIT(weir_subscr_stats);
	assert_weir_ok(weir_subscr_stats_get(sub, &st));
	assert_true(st.rate_delayed > 0);
	assert_int_equal(st.delivered, 40);
	weir_bus_destroy(bus);
}

#define STORM_KEYS 1000
#define STORM_EVENTS 1000000
#define STORM_THREADS 2
// The quiet period only has to outlast the gaps between two events of
// a key; sanitizers (TSan above all) stretch those gaps a lot.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define STORM_QUIET_MS 2000
#else
#define STORM_QUIET_MS 500
#endif

typedef struct storm_state {
	uint32_t              last[STORM_KEYS]; // value delivered last
	atomic_uint_least64_t calls;
	atomic_int            bad;
} storm_state;

static weir_err
storm_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	storm_state *ss = arg;
	size_t       klen, plen;
	const char  *key      = weir_event_key(ev, &klen);
	const void  *p        = weir_event_payload(ev, &plen);
	char         kbuf[16] = { 0 }; // keys are bytes, not C strings
	uint32_t     v;
	memcpy(kbuf, key, klen < sizeof(kbuf) ? klen : sizeof(kbuf) - 1);
	unsigned k = (unsigned) strtoul(kbuf + 1, NULL, 10);
	if (plen != sizeof(v) || k >= STORM_KEYS) {
		atomic_store(&ss->bad, 1);
		return WEIR_OK;
	}
	memcpy(&v, p, sizeof(v)); // payloads carry no alignment promise
	ss->last[k] = v;
	atomic_fetch_add(&ss->calls, 1);
	return WEIR_OK;
}

typedef struct storm_pub {
	weir_bus *bus;
	unsigned  first_key; // this thread's keys: first_key + 2i
} storm_pub;

static void *
storm_publisher(void *arg)
{
	storm_pub *p = arg;
	// Value v of key k is the round number: the last one is the
	// highest, STORM_EVENTS / STORM_KEYS.
	for (uint32_t round = 1; round <= STORM_EVENTS / STORM_KEYS; round++) {
		for (unsigned k = p->first_key; k < STORM_KEYS;
		     k += STORM_THREADS) {
			char key[8];
			int  klen = snprintf(key, sizeof(key), "k%u", k);
			wt_publish_keyed(p->bus, "dev.changed", key,
			    (size_t) klen, &round, sizeof(round));
		}
	}
	return NULL;
}

static void
test_debounce_storm(void **state)
{
	(void) state;
	weir_bus           *bus = wt_bus_with_loops(1);
	weir_subscr_config *sc;
	weir_subscr        *sub;
	storm_state        *ss = calloc(1, sizeof(*ss));
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_ok(weir_subscr_config_set_debounce(sc, STORM_QUIET_MS));
	assert_weir_ok(weir_subscr_config_set_capacity(sc, 8192));
	assert_weir_ok(weir_subscribe(
	    &sub, bus, "dev.changed", storm_handler, ss, NULL, sc));
	weir_subscr_config_destroy(sc);
	assert_weir_ok(weir_bus_start(bus));
	pthread_t th[STORM_THREADS];
	storm_pub pub[STORM_THREADS];
	for (unsigned t = 0; t < STORM_THREADS; t++) {
		pub[t] = (storm_pub) { bus, t };
		pthread_create(&th[t], NULL, storm_publisher, &pub[t]);
	}
	for (unsigned t = 0; t < STORM_THREADS; t++) {
		pthread_join(th[t], NULL);
	}
	// Every key falls quiet after the storm and delivers its last.
	int64_t end = wt_now_ms() + 3 * WT_WAIT_MS; // slow under TSan
	int     all;
	do {
		wt_sleep_ms(20);
		weir_subscr_stats st = WEIR_STRUCT_INIT(weir_subscr_stats);
		assert_weir_ok(weir_subscr_stats_get(sub, &st));
		all = st.queued == 0 &&
		    st.delivered + st.debounced == STORM_EVENTS;
	} while (!all && wt_now_ms() < end);
	assert_true(all);
	weir_bus_stop(bus);
	assert_weir_ok(weir_bus_join(bus));
	uint64_t calls = atomic_load(&ss->calls);
	print_message("storm: %d events -> %llu handler calls\n", STORM_EVENTS,
	    (unsigned long long) calls);
	assert_true(calls >= STORM_KEYS);
	assert_true(calls <= 5000);
	assert_int_equal(atomic_load(&ss->bad), 0);
	for (unsigned k = 0; k < STORM_KEYS; k++) {
		assert_int_equal(ss->last[k], STORM_EVENTS / STORM_KEYS);
	}
	weir_bus_destroy(bus);
	free(ss);
}

static void
test_debounce_quiet_keys(void **state)
{
	(void) state;
	weir_bus           *bus;
	weir_subscr_config *sc;
	weir_subscr        *sub;
	storm_state        *ss = calloc(1, sizeof(*ss));
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_ok(weir_subscr_config_set_debounce(sc, 30));
	assert_weir_ok(weir_subscribe(
	    &sub, bus, "dev.changed", storm_handler, ss, NULL, sc));
	weir_subscr_config_destroy(sc);
	for (uint32_t v = 1; v <= 5; v++) {
		for (unsigned k = 0; k < 3; k++) {
			char key[8];
			int  klen = snprintf(key, sizeof(key), "k%u", k);
			weir_event_init init = { .size =
				                     sizeof(weir_event_init),
				.topic       = "dev.changed",
				.key         = key,
				.key_len     = (size_t) klen,
				.payload     = &v,
				.payload_len = sizeof(v) };
			weir_event     *ev;
			assert_weir_ok(weir_event_new(&ev, &init));
			assert_weir_ok(weir_publish_event(bus, ev));
			weir_event_release(ev);
		}
	}
	assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT));
	assert_int_equal(atomic_load(&ss->calls), 0); // not quiet yet
	int64_t end = wt_now_ms() + WT_WAIT_MS;
	while (atomic_load(&ss->calls) < 3 && wt_now_ms() < end) {
		assert_weir_ok(weir_bus_run(bus, WEIR_RUN_ONCE));
	}
	assert_int_equal(atomic_load(&ss->calls), 3);
	for (unsigned k = 0; k < 3; k++) {
		assert_int_equal(ss->last[k], 5);
	}
	weir_subscr_stats x = WEIR_STRUCT_INIT(weir_subscr_stats);
	assert_weir_ok(weir_subscr_stats_get(sub, &x));
	assert_int_equal(x.debounced, 12);
	weir_bus_destroy(bus);
	free(ss);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_debounce_quiet_keys),
		cmocka_unit_test(test_debounce_storm),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
