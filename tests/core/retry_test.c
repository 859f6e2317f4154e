/*
 * Handler failures: retry with exponential backoff and jitter, order
 * kept while a retry waits, then a dead letter on $weir.dead carrying
 * the original event, the error, the attempts and the subscription.
 */
#include <string.h>

#include "weir_test.h"

#include "core/clock.h"
#include "core/subscr.h"

typedef struct retry_state {
	int       fail_first; // calls that fail (per event "a"), then OK
	int       calls_a;
	char      order[64]; // payload first bytes, in call order
	size_t    n;
	int       dead;
	char      dead_hdr[5][32];
	char      cause_topic[32];
	weir_bus *bus;
} retry_state;

static weir_err
flaky_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	retry_state *rs = arg;
	size_t       len;
	const char  *p = weir_event_payload(ev, &len);
	if (rs->n < sizeof(rs->order) - 1) {
		rs->order[rs->n++] = p[0];
	}
	if (p[0] == 'a' && rs->calls_a++ < rs->fail_first) {
		return WEIR_EIO;
	}
	return WEIR_OK;
}

static void
copy_hdr(const weir_event *ev, const char *name, char out[32])
{
	size_t      len;
	const char *v = weir_event_header_get(ev, name, &len);
	assert_non_null(v);
	assert_true(len < 32);
	memcpy(out, v, len);
	out[len] = '\0';
}

static weir_err
dead_listener(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	retry_state *rs = arg;
	rs->dead++;
	copy_hdr(ev, "weir-topic", rs->dead_hdr[0]);
	copy_hdr(ev, "weir-error", rs->dead_hdr[1]);
	copy_hdr(ev, "weir-code", rs->dead_hdr[2]);
	copy_hdr(ev, "weir-attempts", rs->dead_hdr[3]);
	copy_hdr(ev, "weir-subscr", rs->dead_hdr[4]);
	const weir_event *cause = weir_event_cause(ev);
	assert_non_null(cause);
	snprintf(rs->cause_topic, sizeof(rs->cause_topic), "%s",
	    weir_event_topic(cause));
	return WEIR_OK;
}

static weir_subscr *
retry_sub(weir_bus *bus, retry_state *rs, uint32_t attempts)
{
	weir_subscr_config *sc;
	weir_subscr        *sub;
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_err(
	    weir_subscr_config_set_retry(sc, 0, 1, 1), WEIR_EINVAL);
	assert_weir_err(
	    weir_subscr_config_set_retry(sc, 3, 5, 1), WEIR_EINVAL);
	assert_weir_ok(weir_subscr_config_set_retry(sc, attempts, 2, 8));
	assert_weir_ok(weir_subscr_config_set_name(sc, "billing"));
	assert_weir_ok(
	    weir_subscribe(&sub, bus, "pay.>", flaky_handler, rs, NULL, sc));
	weir_subscr_config_destroy(sc);
	return sub;
}

static void
run_until(weir_bus *bus, const int *v, int want)
{
	int64_t end = wt_now_ms() + WT_WAIT_MS;
	while (*v < want && wt_now_ms() < end) {
		assert_weir_ok(weir_bus_run(bus, WEIR_RUN_ONCE));
	}
}

static void
test_retry_then_success_keeps_order(void **state)
{
	(void) state;
	weir_bus   *bus;
	retry_state rs = { .fail_first = 2 };
	assert_weir_ok(weir_bus_create(&bus, NULL));
	weir_subscr *sub = retry_sub(bus, &rs, 5);
	assert_weir_ok(weir_publish(bus, "pay.x", "a", 1, 0, NULL));
	assert_weir_ok(weir_publish(bus, "pay.x", "b", 1, 0, NULL));
	int done = 0;
	while (!done) {
		assert_weir_ok(weir_bus_run(bus, WEIR_RUN_ONCE));
		done = rs.n >= 4;
	}
	// a fails twice, then succeeds; b waits behind it.
	assert_string_equal(rs.order, "aaab");
	weir_subscr_stats st = WEIR_STRUCT_INIT(weir_subscr_stats);
	assert_weir_ok(weir_subscr_stats_get(sub, &st));
	assert_int_equal(st.failed, 2);
	assert_int_equal(st.delivered, 4);
	assert_int_equal(st.retried, 2);
	assert_int_equal(st.dead, 0);
	weir_bus_destroy(bus);
}

static void
test_dead_letter(void **state)
{
	(void) state;
	weir_bus   *bus;
	retry_state rs = { .fail_first = 1000 };
	assert_weir_ok(weir_bus_create(&bus, NULL));
	weir_subscr *sub = retry_sub(bus, &rs, 3);
	assert_weir_ok(
	    weir_on(bus, WEIR_TOPIC_DEAD, dead_listener, &rs, NULL, 0, NULL));
	assert_weir_ok(weir_publish(bus, "pay.card", "a", 1, 0, NULL));
	run_until(bus, &rs.dead, 1);
	assert_int_equal(rs.dead, 1);
	assert_int_equal(rs.calls_a, 3);
	assert_string_equal(rs.dead_hdr[0], "pay.card");
	assert_string_equal(rs.dead_hdr[1], "WEIR_EIO");
	assert_string_equal(rs.dead_hdr[3], "3");
	assert_string_equal(rs.dead_hdr[4], "billing");
	assert_string_equal(rs.cause_topic, "pay.card");
	weir_subscr_stats x = WEIR_STRUCT_INIT(weir_subscr_stats);
	assert_weir_ok(weir_subscr_stats_get(sub, &x));
	assert_int_equal(x.dead, 1);
	assert_int_equal(x.retried, 2);
	// max_attempts 1: straight to the dead letters.
	weir_bus_destroy(bus);
}

static void
test_unsubscribe_with_retry_pending(void **state)
{
	(void) state;
	weir_bus   *bus;
	retry_state rs = { .fail_first = 1000 };
	assert_weir_ok(weir_bus_create(&bus, NULL));
	weir_subscr *sub = retry_sub(bus, &rs, 10);
	assert_weir_ok(weir_publish(bus, "pay.x", "a", 1, 0, NULL));
	assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT));
	assert_int_equal(rs.calls_a, 1);
	weir_unsubscribe(sub); // the retry and its timer are released
	weir_bus_destroy(bus);
}

// Records when each call came (mono ns), then fails as flaky_handler.
static int64_t call_ns[80];

static weir_err
timed_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	retry_state *rs = arg;
	if (rs->calls_a < 80) {
		call_ns[rs->calls_a] = weir__mono_ns();
	}
	return flaky_handler(bus, ev, arg);
}

// The wait doubles up to its cap and stays there while attempts remain:
// with base 1 ms, cap 2 ms and 70 attempts, every wait after the second
// failure is drawn from [1, 2] ms (uncapped, the ninth would be 256 ms;
// doubled without stopping at the cap, it would wrap to 0 from the 65th
// on). Each call comes at least half the cap after the one before; each
// pending retry, read from the subscription's list after the pass that
// failed, is due at most the cap from now.
static void
test_backoff_stays_at_cap(void **state)
{
	(void) state;
	weir_bus   *bus;
	retry_state rs = { .fail_first = 1000 };
	assert_weir_ok(weir_bus_create(&bus, NULL));
	weir_subscr *sub =
	    wt_subscribe_retry(bus, "pay.>", timed_handler, &rs, 70, 1, 2);
	assert_weir_ok(weir_publish(bus, "pay.x", "a", 1, 0, NULL));
	int     capped = 0;
	int64_t end    = wt_now_ms() + WT_WAIT_MS;
	while (rs.calls_a < 70 && wt_now_ms() < end) {
		assert_weir_ok(weir_bus_run(bus, WEIR_RUN_ONCE));
		const weir__retry *r = sub->flow->retries;
		if (r != NULL && r->attempts >= 2) {
			assert_true(r->due_ns - weir__mono_ns() <= 2000000);
			capped += r->attempts >= 3;
		}
	}
	assert_int_equal(rs.calls_a, 70);
	assert_true(capped >= 1);
	for (int n = 2; n < 70; n++) { // call n+1 waited backoff(n)
		assert_true(call_ns[n] - call_ns[n - 1] >= 1000000);
	}
	weir_subscr_stats st = WEIR_STRUCT_INIT(weir_subscr_stats);
	assert_weir_ok(weir_subscr_stats_get(sub, &st));
	assert_int_equal(st.retried, 69);
	assert_int_equal(st.dead, 1);
	weir_bus_destroy(bus);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retry_then_success_keeps_order),
		cmocka_unit_test(test_dead_letter),
		cmocka_unit_test(test_unsubscribe_with_retry_pending),
		cmocka_unit_test(test_backoff_stays_at_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
