// 4 producer threads x 1,000,000 events into BLOCK subscriptions: every
// event arrives exactly once, in per-producer order; counters exact.
// WEIR_STRESS_SCALE=N divides the count by N (for the TSan stage only).
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "weir_test.h"

#define PRODUCERS 4
#define FULL_COUNT 1000000
#define SUBS 2

typedef struct msg {
	uint32_t producer;
	uint32_t seq;
} msg;

typedef struct checker {
	uint32_t next[PRODUCERS]; // loop thread only
	uint64_t got;
	uint64_t bad; // out of order, duplicate or garbled
} checker;

static checker   chk[SUBS];
static long      count;
static weir_bus *bus;

static weir_err
check_fn(weir_bus *b, const weir_event *ev, void *arg)
{
	(void) b;
	checker    *c = arg;
	size_t      len;
	const void *p = weir_event_payload(ev, &len);
	msg         m;
	if (len != sizeof(m)) {
		c->bad++;
		return WEIR_OK;
	}
	memcpy(&m, p, sizeof(m));
	if (m.producer >= PRODUCERS || m.seq != c->next[m.producer]) {
		c->bad++;
	} else {
		c->next[m.producer]++;
	}
	c->got++;
	return WEIR_OK;
}

static void *
producer(void *arg)
{
	uint32_t    id = (uint32_t) (uintptr_t) arg;
	weir_topic *t;
	// Half the producers use a topic handle, half the string path.
	if (id % 2 == 0 &&
	    weir_topic_create(&t, bus, "stress.data") != WEIR_OK) {
		return (void *) 1;
	}
	for (long i = 0; i < count; i++) {
		msg      m  = { id, (uint32_t) i };
		weir_err rv = id % 2 == 0
		    ? weir_publish_topic(t, &m, sizeof(m))
		    : weir_publish(bus, "stress.data", &m, sizeof(m), 0, NULL);
		if (rv != WEIR_OK) {
			return (void *) 1;
		}
	}
	if (id % 2 == 0) {
		weir_topic_destroy(t);
	}
	return NULL;
}

static void *
loop_main(void *arg)
{
	(void) arg;
	weir_bus_run(bus, WEIR_RUN_DEFAULT);
	return NULL;
}

static void
test_stress_block(void **state)
{
	(void) state;
	const char *scale = getenv("WEIR_STRESS_SCALE");
	long        div   = scale ? atol(scale) : 1;
	count             = FULL_COUNT / (div > 0 ? div : 1);
	memset(chk, 0, sizeof(chk));
	assert_weir_ok(weir_bus_create(&bus, NULL));
	weir_subscr        *sub[SUBS];
	weir_subscr_config *sc;
	assert_weir_ok(weir_subscr_config_create(&sc));
	// Small enough that producers really block.
	assert_weir_ok(weir_subscr_config_set_capacity(sc, 256));
	assert_weir_ok(
	    weir_subscr_config_set_policy(sc, WEIR_POLICY_BLOCK, -1));
	assert_weir_ok(weir_subscribe(
	    &sub[0], bus, "stress.data", check_fn, &chk[0], NULL, sc));
	assert_weir_ok(weir_subscr_config_set_capacity(sc, 61));
	assert_weir_ok(weir_subscribe(
	    &sub[1], bus, "stress.*", check_fn, &chk[1], NULL, sc));
	weir_subscr_config_destroy(sc);
	pthread_t loop, th[PRODUCERS];
	assert_int_equal(pthread_create(&loop, NULL, loop_main, NULL), 0);
	for (uintptr_t i = 0; i < PRODUCERS; i++) {
		assert_int_equal(
		    pthread_create(&th[i], NULL, producer, (void *) i), 0);
	}
	for (int i = 0; i < PRODUCERS; i++) {
		void *rv;
		pthread_join(th[i], &rv);
		assert_null(rv);
	}
	// Wait for the loop to deliver what is still queued.
	uint64_t total = (uint64_t) PRODUCERS * (uint64_t) count;
	wt_wait_until(wt_subscr_stats(sub[0]).delivered == total &&
	    wt_subscr_stats(sub[1]).delivered == total);
	weir_bus_stop(bus);
	pthread_join(loop, NULL);
	for (int s = 0; s < SUBS; s++) {
		weir_subscr_stats st = WEIR_STRUCT_INIT(weir_subscr_stats);
		assert_weir_ok(weir_subscr_stats_get(sub[s], &st));
		assert_int_equal(chk[s].bad, 0);
		assert_int_equal(chk[s].got, total);
		for (int p = 0; p < PRODUCERS; p++) {
			assert_int_equal(chk[s].next[p], (uint32_t) count);
		}
		assert_int_equal(st.published, total);
		assert_int_equal(st.delivered, total);
		assert_int_equal(st.dropped + st.rejected + st.timed_out +
		        st.coalesced + st.failed + st.queued,
		    0);
		weir_unsubscribe(sub[s]);
	}
	weir_bus_destroy(bus);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stress_block),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
