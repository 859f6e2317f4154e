/*
 * Paced subscriptions (retry, debounce) when a weir_loop_step() budget
 * runs out with work that is not in the queue: a retry already due, or
 * a key still held by debounce. The drain stops for the budget and must
 * leave a timer for that work, so it is delivered by later passes and
 * not stranded. Also a dead letter whose own handler fails for good: it
 * is reported on $weir.error, never dead-lettered again.
 */
#include <stdlib.h>
#include <string.h>

#include "weir_test.h"

typedef struct flow_state {
	int  calls;
	int  fails;   // the first `fails` calls fail
	int  spin_ms; // a failing call returns after this long
	char got[16];
} flow_state;

static weir_err
flow_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	flow_state *fs = arg;
	size_t      len;
	const char *p = weir_event_payload(ev, &len);
	if (fs->calls < (int) sizeof(fs->got) - 1 && len > 0) {
		fs->got[fs->calls] = p[0];
	}
	if (fs->calls++ < fs->fails) {
		// Time passes in the handler, so that its retry (due in at
		// most 1 ms) is due when the drain looks again.
		int64_t end = wt_now_ms() + fs->spin_ms;
		while (wt_now_ms() <= end) { }
		return WEIR_EHANDLER;
	}
	return WEIR_OK;
}

static void
on_timer(weir_timer *t, void *arg)
{
	(*(int *) arg)++;
	weir_timer_stop(t);
}

// Steps the loop until @p v reaches @p want (bounded).
static void
step_until(weir_loop *loop, const int *v, int want)
{
	int64_t end = wt_now_ms() + WT_WAIT_MS;
	while (*v < want && wt_now_ms() < end) {
		weir_err rv = weir_loop_run(loop, WEIR_RUN_ONCE);
		assert_weir_ok(rv);
	}
	assert_int_equal(*v, want);
}

// A due retry when the step's budget (one call) is spent.
static void
test_budget_with_retry_due(void **state)
{
	(void) state;
	weir_bus  *bus;
	flow_state fs = { .fails = 1, .spin_ms = 3 };
	assert_weir_ok(weir_bus_create(&bus, NULL));
	weir_subscr *sub =
	    wt_subscribe_retry(bus, "r", flow_handler, &fs, 3, 1, 1);
	assert_weir_ok(weir_publish(bus, "r", "1", 1, 0, NULL));
	weir_loop *loop = weir_bus_loop(bus);
	size_t     done = 0;
	weir_err   rv   = weir_loop_step(loop, 1, 0, &done);
	assert_true(rv == WEIR_OK || rv == WEIR_EAGAIN);
	assert_int_equal(done, 1);
	assert_int_equal(fs.calls, 1);
	// The retry is left to a timer (due now: it fires within 1 ms).
	int left = weir_loop_timeout(loop);
	assert_true(left >= 0 && left <= 1);
	step_until(loop, &fs.calls, 2);
	weir_subscr_stats st = wt_subscr_stats(sub);
	assert_int_equal(st.retried, 1);
	assert_int_equal(st.dead, 0);
	assert_memory_equal(fs.got, "11", 2);
	weir_bus_destroy(bus);
}

// A debounced key still held when the budget is spent on another key.
static void
test_budget_with_key_held(void **state)
{
	(void) state;
	weir_bus           *bus;
	weir_subscr        *sub;
	weir_subscr_config *sc;
	flow_state          fs = { 0 };
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_subscr_config_create(&sc));
	// 100 ms: the first step below comes long before any key is quiet.
	assert_weir_ok(weir_subscr_config_set_debounce(sc, 100));
	assert_weir_ok(
	    weir_subscribe(&sub, bus, "d", flow_handler, &fs, NULL, sc));
	weir_subscr_config_destroy(sc);
	weir_loop *loop = weir_bus_loop(bus);
	wt_publish_keyed(bus, "d", "k1", 2, "a", 1);
	wt_publish_keyed(bus, "d", "k2", 2, "b", 1);
	// Both keys go into the debounce table; neither is quiet yet.
	assert_weir_ok(weir_loop_step(loop, 0, 0, NULL));
	assert_int_equal(fs.calls, 0);
	// Both quiet now: one step of one call delivers one, and leaves a
	// timer for the other.
	int64_t end = wt_now_ms() + WT_WAIT_MS;
	while (weir_loop_timeout(loop) != 0 && wt_now_ms() < end) {
		wt_sleep_ms(1);
	}
	size_t   done = 0;
	weir_err rv   = weir_loop_step(loop, 1, 0, &done);
	assert_true(rv == WEIR_OK || rv == WEIR_EAGAIN);
	assert_int_equal(fs.calls, 1);
	assert_true(weir_loop_timeout(loop) >= 0);
	step_until(loop, &fs.calls, 2);
	assert_true(
	    memcmp(fs.got, "ab", 2) == 0 || memcmp(fs.got, "ba", 2) == 0);
	// One key alone: the step's one call takes it, nothing is left
	// held, and no timer stays.
	wt_publish_keyed(bus, "d", "k3", 2, "c", 1);
	assert_weir_ok(weir_loop_step(loop, 0, 0, NULL));
	end = wt_now_ms() + WT_WAIT_MS;
	while (weir_loop_timeout(loop) != 0 && wt_now_ms() < end) {
		wt_sleep_ms(1);
	}
	rv = weir_loop_step(loop, 1, 0, &done);
	assert_true(rv == WEIR_OK || rv == WEIR_EAGAIN);
	assert_int_equal(fs.calls, 3);
	assert_weir_ok(weir_loop_step(loop, 0, 0, NULL));
	assert_int_equal(weir_loop_timeout(loop), -1);
	weir_unsubscribe(sub);
	weir_bus_destroy(bus);
}

typedef struct error_seen {
	int  n;
	char topic[32];
} error_seen;

static weir_err
on_error(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	error_seen *es = arg;
	size_t      len;
	const char *t = weir_event_header_get(ev, "weir-topic", &len);
	if (t != NULL && len < sizeof(es->topic)) {
		memcpy(es->topic, t, len);
		es->topic[len] = '\0';
	}
	es->n++;
	return WEIR_OK;
}

// A dead letter's handler fails for good: reported on $weir.error.
static void
test_dead_letter_fails(void **state)
{
	(void) state;
	weir_bus           *bus;
	weir_subscr        *sub, *dead;
	weir_subscr_config *sc;
	flow_state          fs = { .fails = 100 }, fd = { .fails = 100 };
	error_seen          es = { 0 };
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(
	    weir_on(bus, WEIR_TOPIC_ERROR, on_error, &es, NULL, 0, NULL));
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_ok(weir_subscr_config_set_retry(sc, 1, 1, 1));
	assert_weir_ok(weir_subscr_config_set_name(sc, "dl"));
	assert_weir_ok(
	    weir_subscribe(&sub, bus, "x", flow_handler, &fs, NULL, sc));
	assert_weir_ok(weir_subscribe(
	    &dead, bus, WEIR_TOPIC_DEAD, flow_handler, &fd, NULL, sc));
	weir_subscr_config_destroy(sc);
	assert_weir_ok(weir_publish(bus, "x", "1", 1, 0, NULL));
	step_until(weir_bus_loop(bus), &es.n, 1);
	assert_int_equal(fs.calls, 1);
	assert_int_equal(fd.calls, 1);
	assert_string_equal(es.topic, WEIR_TOPIC_DEAD);
	assert_int_equal(wt_subscr_stats(sub).dead, 1);
	assert_int_equal(wt_subscr_stats(dead).dead, 1);
	// Nothing more: the failed dead letter is not dead-lettered again.
	assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT));
	assert_int_equal(fd.calls, 1);
	weir_bus_destroy(bus);
}

// Backoff doubles from base_ms and stops at max_ms (2, then 3 not 4).
static void
test_backoff_capped(void **state)
{
	(void) state;
	weir_bus  *bus;
	flow_state fs = { .fails = 2 };
	assert_weir_ok(weir_bus_create(&bus, NULL));
	weir_subscr *sub =
	    wt_subscribe_retry(bus, "r", flow_handler, &fs, 3, 2, 3);
	assert_weir_ok(weir_publish(bus, "r", "1", 1, 0, NULL));
	step_until(weir_bus_loop(bus), &fs.calls, 3);
	weir_subscr_stats st = wt_subscr_stats(sub);
	assert_int_equal(st.retried, 2);
	assert_int_equal(st.dead, 0);
	weir_bus_destroy(bus);
}

static int payloads_freed;

static void
count_free(void *p)
{
	free(p);
	payloads_freed++;
}

// Publishes a payload the bus takes: count_free says when it goes.
static void
publish_taken(weir_bus *bus, const char *topic)
{
	char *p = malloc(1);
	assert_non_null(p);
	*p = 'x';
	assert_weir_ok(
	    weir_publish(bus, topic, p, 1, WEIR_PUBLISH_TAKE, count_free));
}

// Work held by a subscription when it is closed: keys in the debounce
// table, events in a COALESCE ring. Events without a key share one
// debounce slot (the second replaces the first, freed then); COALESCE
// keeps every keyless event. The ring's events go at the close; a
// debounced key when its quiet period would have ended.
static void
test_held_work_released(void **state)
{
	(void) state;
	weir_bus           *bus;
	weir_subscr        *db, *co;
	weir_subscr_config *sc;
	flow_state          fs = { 0 };
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_ok(weir_subscr_config_set_debounce(sc, 2000));
	assert_weir_ok(
	    weir_subscribe(&db, bus, "d", flow_handler, &fs, NULL, sc));
	weir_subscr_config_destroy(sc);
	sc = wt_subscr_config(8, WEIR_POLICY_COALESCE, 0);
	assert_weir_ok(
	    weir_subscribe(&co, bus, "c", flow_handler, &fs, NULL, sc));
	weir_subscr_config_destroy(sc);
	payloads_freed = 0;
	publish_taken(bus, "c");
	publish_taken(bus, "c");
	assert_int_equal(payloads_freed, 0);
	weir_unsubscribe(co); // both still in the ring
	assert_int_equal(payloads_freed, 2);
	publish_taken(bus, "d");
	publish_taken(bus, "d");
	assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT)); // into the table
	assert_int_equal(payloads_freed, 3); // debounced at dispatch
	weir_unsubscribe(db);
	// The held key goes when its quiet period ends (the timer holds
	// the subscription until then), and is never delivered.
	int64_t end = wt_now_ms() + WT_WAIT_MS;
	while (payloads_freed < 4 && wt_now_ms() < end) {
		assert_weir_ok(weir_bus_run(bus, WEIR_RUN_ONCE));
	}
	assert_int_equal(payloads_freed, 4);
	assert_int_equal(fs.calls, 0);
	weir_bus_destroy(bus);
}

// A step whose budget ends with several subscriptions still ready puts
// them all back, in order: the next steps deliver every event.
static void
test_budget_requeues_several(void **state)
{
	(void) state;
	weir_bus    *bus;
	weir_subscr *sub[4];
	flow_state   fs = { 0 };
	assert_weir_ok(weir_bus_create(&bus, NULL));
	for (int i = 0; i < 4; i++) {
		char topic[16];
		snprintf(topic, sizeof(topic), "q%d", i);
		assert_weir_ok(weir_subscribe(
		    &sub[i], bus, topic, flow_handler, &fs, NULL, NULL));
		assert_weir_ok(
		    weir_publish(bus, topic, topic + 1, 1, 0, NULL));
	}
	weir_loop *loop = weir_bus_loop(bus);
	for (int i = 1; i <= 4; i++) {
		size_t done = 0;
		assert_weir_err(weir_loop_step(loop, 1, 0, &done),
		    i < 4 ? WEIR_EAGAIN : WEIR_OK);
		assert_int_equal(done, 1);
		assert_int_equal(fs.calls, i);
	}
	assert_memory_equal(fs.got, "0123", 4);
	weir_bus_destroy(bus);
}

// A spin longer than the wait's timeout is cut to it: the timer fires.
static void
test_spin_capped_by_timeout(void **state)
{
	(void) state;
	weir_loop  *loop;
	weir_timer *t;
	int         n = 0;
	assert_weir_ok(weir_loop_create(&loop));
	assert_weir_ok(weir_loop_set_spin(loop, 1000000));
	assert_weir_ok(weir_timer_start(&t, loop, 2, 0, on_timer, &n));
	int64_t end = wt_now_ms() + WT_WAIT_MS;
	while (n == 0 && wt_now_ms() < end) {
		assert_weir_ok(weir_loop_run(loop, WEIR_RUN_ONCE));
	}
	assert_int_equal(n, 1);
	weir_loop_stats st = WEIR_STRUCT_INIT(weir_loop_stats);
	assert_weir_ok(weir_loop_stats_get(loop, &st));
	assert_true(st.spins >= 1);
	assert_weir_ok(weir_loop_destroy(loop));
}

enum { NDEFER = 6 };

typedef struct deferring {
	weir_delivery *d[NDEFER];
	int            n;     // deferred so far
	int            calls; // retried calls, answered at once
} deferring;

// First calls defer; retries (attempt 2) succeed at once.
static weir_err
defer_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	deferring *df = arg;
	if (df->n < NDEFER) {
		assert_weir_ok(weir_delivery_defer(&df->d[df->n]));
		df->n++;
		return WEIR_OK;
	}
	df->calls++;
	return WEIR_OK;
}

// Deferred deliveries that fail: their retries wait, in due order (the
// jitter draws their delays at random, so some are inserted after
// others). When they are due and a step of one call takes the first,
// the drain stops for the budget and leaves a timer for the others.
static void
test_budget_with_retries_due(void **state)
{
	(void) state;
	weir_bus           *bus;
	weir_subscr        *sub;
	weir_subscr_config *sc;
	deferring           df = { 0 };
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_ok(weir_subscr_config_set_retry(sc, 2, 20, 20));
	assert_weir_ok(weir_subscr_config_set_max_in_flight(sc, NDEFER));
	assert_weir_ok(
	    weir_subscribe(&sub, bus, "r", defer_handler, &df, NULL, sc));
	weir_subscr_config_destroy(sc);
	weir_loop *loop = weir_bus_loop(bus);
	for (int i = 0; i < NDEFER; i++) {
		assert_weir_ok(weir_publish(bus, "r", "1", 1, 0, NULL));
	}
	assert_weir_ok(weir_loop_step(loop, 0, 0, NULL));
	assert_int_equal(df.n, NDEFER);
	for (int i = 0; i < NDEFER; i++) {
		weir_delivery_complete(df.d[i], WEIR_EHANDLER);
	}
	// Their failures become retries, each due in 10 to 20 ms.
	assert_weir_ok(weir_loop_step(loop, 0, 0, NULL));
	assert_int_equal(df.calls, 0);
	wt_sleep_ms(25); // past the largest backoff (max_ms = 20)
	size_t   done = 0;
	weir_err rv   = weir_loop_step(loop, 1, 0, &done);
	assert_true(rv == WEIR_OK || rv == WEIR_EAGAIN);
	assert_int_equal(df.calls, 1);
	assert_true(weir_loop_timeout(loop) >= 0); // the others' timer
	step_until(loop, &df.calls, NDEFER);
	weir_subscr_stats st = wt_subscr_stats(sub);
	assert_int_equal(st.retried, NDEFER);
	assert_int_equal(st.dead, 0);
	weir_bus_destroy(bus);
}

static weir_err
pending_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	(*(int *) arg)++;
	return WEIR_EPENDING; // without a deferral: ignored
}

static weir_delivery *late;

static weir_err
defer_once_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	(*(int *) arg)++;
	assert_weir_ok(weir_delivery_defer(&late));
	return WEIR_EPENDING;
}

static void
count_arg_free(void *arg)
{
	(*(int *) arg) += 100;
}

// WEIR_EPENDING returned without a deferral is not a failure; a deferred
// delivery completed with a failure after its subscription closed only
// frees the token (no retry, no dead letter).
static void
test_pending_and_late_completion(void **state)
{
	(void) state;
	weir_bus           *bus;
	weir_subscr        *sub, *dsub;
	weir_subscr_config *sc;
	int                 n = 0, m = 0;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(
	    weir_subscribe(&sub, bus, "p", pending_handler, &n, NULL, NULL));
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_ok(weir_subscr_config_set_retry(sc, 3, 1, 1));
	assert_weir_ok(weir_subscribe(
	    &dsub, bus, "q", defer_once_handler, &m, count_arg_free, sc));
	weir_subscr_config_destroy(sc);
	assert_weir_ok(weir_publish(bus, "p", "x", 1, 0, NULL));
	assert_weir_ok(weir_publish(bus, "q", "x", 1, 0, NULL));
	assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT));
	assert_int_equal(n, 1);
	assert_int_equal(m, 1);
	weir_subscr_stats st = wt_subscr_stats(sub);
	assert_int_equal(st.failed, 0);
	assert_int_equal(st.delivered, 1);
	assert_non_null(late);
	weir_unsubscribe(dsub);
	assert_int_equal(m, 101); // arg_free ran: the token keeps no arg
	weir_delivery_complete(late, WEIR_EHANDLER);
	assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT));
	assert_int_equal(m, 101); // not called again
	weir_bus_destroy(bus);
}

typedef struct rated {
	weir_delivery *d;
	int            calls;
} rated;

// The first call defers; the others answer at once.
static weir_err
rated_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	rated *rt = arg;
	if (rt->calls++ == 0) {
		assert_weir_ok(weir_delivery_defer(&rt->d));
	}
	return WEIR_OK;
}

// A rate pause waits on a timer (1 s); a deferred delivery then
// fails and its retry is due sooner (1 ms): the timer is moved to the
// sooner time, and everything is delivered.
static void
test_retry_sooner_than_rate_pause(void **state)
{
	(void) state;
	weir_bus           *bus;
	weir_subscr        *sub;
	weir_subscr_config *sc;
	rated               rt = { 0 };
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_ok(weir_subscr_config_set_retry(sc, 2, 1, 1));
	assert_weir_ok(weir_subscr_config_set_rate(sc, 1, 1));
	assert_weir_ok(
	    weir_subscribe(&sub, bus, "r", rated_handler, &rt, NULL, sc));
	weir_subscr_config_destroy(sc);
	weir_loop *loop = weir_bus_loop(bus);
	assert_weir_ok(weir_publish(bus, "r", "1", 1, 0, NULL));
	assert_weir_ok(weir_publish(bus, "r", "2", 1, 0, NULL));
	assert_weir_ok(weir_loop_step(loop, 0, 0, NULL));
	assert_int_equal(rt.calls, 1); // the second waits for a token
	int before = weir_loop_timeout(loop);
	assert_true(before > 1);
	weir_delivery_complete(rt.d, WEIR_EHANDLER);
	assert_weir_ok(weir_loop_step(loop, 0, 0, NULL));
	int after = weir_loop_timeout(loop);
	assert_true(after >= 0 && after <= 1);
	step_until(loop, &rt.calls, 3);
	weir_subscr_stats st = wt_subscr_stats(sub);
	assert_int_equal(st.retried, 1);
	assert_true(st.rate_delayed >= 1);
	assert_int_equal(st.dead, 0);
	weir_bus_destroy(bus);
}

static weir_err
order_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	uint32_t *next = arg;
	uint32_t  v;
	memcpy(&v, weir_event_payload(ev, NULL), sizeof(v));
	assert_int_equal(v, *next);
	++*next;
	return WEIR_OK;
}

// More events than one drain of a paced subscription takes (its budget
// of 1,024 per pass): the pass ends with events left, the next takes
// them, in order.
static void
test_drain_budget_paced(void **state)
{
	(void) state;
	enum { N = 2500 };
	weir_bus           *bus;
	weir_subscr        *sub;
	weir_subscr_config *sc;
	uint32_t            next = 0;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	sc = wt_subscr_config(N, WEIR_POLICY_REJECT, 0);
	assert_weir_ok(weir_subscr_config_set_max_in_flight(sc, 8));
	assert_weir_ok(
	    weir_subscribe(&sub, bus, "b", order_handler, &next, NULL, sc));
	weir_subscr_config_destroy(sc);
	for (uint32_t i = 0; i < N; i++) {
		assert_weir_ok(weir_publish(bus, "b", &i, sizeof(i), 0, NULL));
	}
	// One step: one drain, events left (so WEIR_EAGAIN, or WEIR_OK
	// with the subscription scheduled again).
	weir_err rv = weir_loop_step(weir_bus_loop(bus), 0, 0, NULL);
	assert_true(rv == WEIR_OK || rv == WEIR_EAGAIN);
	assert_true(next >= 1024 && next < N);
	int64_t end = wt_now_ms() + WT_WAIT_MS;
	while (next < N && wt_now_ms() < end) {
		assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT));
	}
	assert_int_equal(next, N);
	weir_bus_destroy(bus);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_budget_with_retry_due),
		cmocka_unit_test(test_budget_with_key_held),
		cmocka_unit_test(test_dead_letter_fails),
		cmocka_unit_test(test_backoff_capped),
		cmocka_unit_test(test_held_work_released),
		cmocka_unit_test(test_budget_requeues_several),
		cmocka_unit_test(test_spin_capped_by_timeout),
		cmocka_unit_test(test_budget_with_retries_due),
		cmocka_unit_test(test_pending_and_late_completion),
		cmocka_unit_test(test_retry_sooner_than_rate_pause),
		cmocka_unit_test(test_drain_budget_paced),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
