/*
 * The intake (a route's bus subscription) at its edges: an event
 * parked at the bound (max_backlog in store mode, a full ring in direct
 * mode) when the bridge stops: store mode keeps it (appended at stop,
 * sent after the next start), direct mode has nowhere to keep it and
 * counts it dead, as it does the events of its window and ring; an id
 * already in the log; and, through -Wl,--wrap= (tests/bridge/
 * CMakeLists.txt), an append the store refuses at once, a delivery
 * that cannot be deferred, and a subscription that cannot be set up.
 */
#include "fixture.h"

/* ---- the wrappers -------------------------------------------------- */

weir_err __real_weir_store_append(weir_store *st, const weir_event *ev,
    const weir_store_append_opts *opt, uint64_t *seq, int64_t *version);
weir_err __wrap_weir_store_append(weir_store *st, const weir_event *ev,
    const weir_store_append_opts *opt, uint64_t *seq, int64_t *version);
weir_err __real_weir_delivery_defer(weir_delivery **out);
weir_err __wrap_weir_delivery_defer(weir_delivery **out);

static _Atomic int append_err; /* the next append fails with this */
static _Atomic int defer_err;  /* the next defer fails with this */
static _Atomic int cfg_fail;   /* which subscription setter fails */

weir_err
__wrap_weir_store_append(weir_store *st, const weir_event *ev,
    const weir_store_append_opts *opt, uint64_t *seq, int64_t *version)
{
	weir_err e = (weir_err) atomic_exchange(&append_err, WEIR_OK);
	if (e != WEIR_OK)
		return e;
	return __real_weir_store_append(st, ev, opt, seq, version);
}

weir_err
__wrap_weir_delivery_defer(weir_delivery **out)
{
	weir_err e = (weir_err) atomic_exchange(&defer_err, WEIR_OK);
	if (e != WEIR_OK) {
		*out = NULL;
		return e;
	}
	return __real_weir_delivery_defer(out);
}

/* The subscription setters the intake calls, failing when cfg_fail
 * names them (1 to 5, in the intake's order). */
#define CFG_WRAP(k, fn, params, args)              \
	weir_err __real_##fn params;               \
	weir_err __wrap_##fn params;               \
	weir_err __wrap_##fn params                \
	{                                          \
		if (atomic_load(&cfg_fail) == (k)) \
			return WEIR_EINVAL;        \
		return __real_##fn args;           \
	}
CFG_WRAP(1, weir_subscr_config_set_capacity,
    (weir_subscr_config * sc, size_t n), (sc, n))
CFG_WRAP(2, weir_subscr_config_set_policy,
    (weir_subscr_config * sc, weir_policy p, int64_t ms), (sc, p, ms))
CFG_WRAP(3, weir_subscr_config_set_loop,
    (weir_subscr_config * sc, weir_loop *loop), (sc, loop))
CFG_WRAP(4, weir_subscr_config_set_name,
    (weir_subscr_config * sc, const char *name), (sc, name))
CFG_WRAP(5, weir_subscr_config_set_max_in_flight,
    (weir_subscr_config * sc, size_t n), (sc, n))

/* ---- the tests ----------------------------------------------------- */

/* With the broker holding its acks, publishes 3 events one at a time:
 * the first is sent (direct mode) or stored, the second waits in the
 * ring or the backlog, the third is parked at the bound. One at a time,
 * since a second event arriving before the relay took the first from a
 * one-slot ring would be parked too (and resumed). */
/* Direct routes of window 1 and a ring of 1: the third event waits. */
static const char *const direct_one_kv[] = { "bridge.window", "1",
	"bridge.direct_capacity", "1", NULL };

static void
park_third(bt *t, const char *route, int direct)
{
	weir__mem_hold_acks(t->mem, 1);
	bt_publish(t, "a.b", "k", 0);
	BT_WAIT(t, route, s.backlog == 1 && (!direct || s.sent == 1));
	bt_publish(t, "a.b", "k", 1);
	BT_WAIT(t, route, s.backlog == 2);
	bt_publish(t, "a.b", "k", 2);
	BT_WAIT(t, route, s.paused == 1);
	weir_bridge_route_stats rs = bt_stats(t, route);
	assert_int_equal(rs.backlog, 2);
	assert_int_equal(rs.paused, 1);
}

static void
test_store_mode_keeps_parked(void **state)
{
	(void) state;
	static const char *const kv[] = { "bridge.max_backlog", "2", NULL };
	bt                       t;
	bt_open(&t, kv);
	assert_weir_ok(
	    weir_bridge_route_add(t.br, "r", "a.>", "mem", "x", "key", NULL));
	assert_weir_ok(weir_bridge_start(t.br));
	park_third(&t, "r", 0);
	wt_wait_until(bt_stored(t.st) == 2);
	weir_bridge_stop(t.br);
	assert_int_equal(bt_stored(t.st), 3); /* the parked one, kept */
	weir_bridge_route_stats rs = bt_stats(&t, "r");
	assert_int_equal(rs.dead, 0);
	assert_int_equal(rs.acked, 0);
	weir__mem_hold_acks(t.mem, 0);
	assert_weir_ok(weir_bridge_start(t.br));
	BT_WAIT(&t, "r", s.acked == 3 && s.backlog == 0);
	size_t         n;
	weir__mem_rec *r = bt_records(&t, &n);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(r[i].seq, i + 1);
	free(r);
	bt_close(&t);
}

static void
test_direct_mode_drops_parked(void **state)
{
	(void) state;
	bt t;
	bt_open_direct(&t, direct_one_kv, "x");
	park_third(&t, "d", 1); /* one in the window, one in the ring */
	assert_int_equal(bt_stats(&t, "d").dead, 0);
	weir_bridge_stop(t.br);
	weir_bridge_route_stats rs = bt_stats(&t, "d");
	assert_int_equal(rs.dead, 3);
	assert_int_equal(rs.backlog, 0);
	assert_int_equal(rs.acked, 0);
	bt_close(&t);
}

/* The same event published twice: the second append finds its id in
 * the log (the same seq): nothing new, nothing sent twice. */
static void
test_id_already_in_log(void **state)
{
	(void) state;
	bt t;
	bt_open(&t, NULL);
	assert_weir_ok(
	    weir_bridge_route_add(t.br, "r", "a.>", "mem", "x", "key", NULL));
	assert_weir_ok(weir_bridge_start(t.br));
	int             v    = 1;
	weir_event_init init = { .size = sizeof init,
		.topic                 = "a.b",
		.payload               = &v,
		.payload_len           = sizeof v };
	weir_event     *ev;
	assert_weir_ok(weir_event_new(&ev, &init));
	assert_weir_ok(weir_publish_event(t.bus, ev));
	BT_WAIT(&t, "r", s.acked == 1 && s.backlog == 0);
	assert_weir_ok(weir_publish_event(t.bus, ev));
	wt_wait_until(bt_intake_idle(&t, "r"));
	BT_WAIT(&t, "r", s.backlog == 0);
	weir_event_release(ev);
	weir_bridge_route_stats rs = bt_stats(&t, "r");
	assert_int_equal(rs.acked, 1);
	assert_int_equal(rs.store_failed, 0);
	assert_int_equal(bt_stored(t.st), 1);
	assert_int_equal(weir__mem_records(t.mem, NULL, 0), 1);
	bt_close(&t);
}

/* An append the store refuses at once (with and without the handoff):
 * counted in store_failed, never dead (dead letters live in the same
 * store), and the next event goes through. */
static void
run_append_refused(const char *handoff)
{
	const char *const kv[] = { "bridge.handoff_bytes", handoff, NULL };
	bt                t;
	bt_open(&t, kv);
	assert_weir_ok(
	    weir_bridge_route_add(t.br, "r", "a.>", "mem", "x", "key", NULL));
	assert_weir_ok(weir_bridge_start(t.br));
	atomic_store(&append_err, WEIR_EIO);
	bt_publish(&t, "a.b", "k", 1);
	BT_WAIT(&t, "r", s.store_failed == 1 && s.backlog == 0);
	bt_publish(&t, "a.b", "k", 2);
	BT_WAIT(&t, "r", s.acked == 1 && s.backlog == 0);
	weir_bridge_route_stats rs = bt_stats(&t, "r");
	assert_int_equal(rs.dead, 0);
	assert_int_equal(rs.store_failed, 1);
	assert_int_equal(bt_stored(t.st), 1);
	bt_close(&t);
}

static void
test_append_refused(void **state)
{
	(void) state;
	run_append_refused("0");
	run_append_refused("65536");
}

static weir_subscr *
intake_sub(bt *t, const char *route)
{
	weir__route *rt = weir__bridge_route(t->br, route);
	pthread_mutex_lock(&rt->lock);
	weir_subscr *sub = rt->sub;
	pthread_mutex_unlock(&rt->lock);
	return sub;
}

/* Store mode at the bound, when the delivery cannot be deferred (no
 * memory): the event is taken in anyway, one over the bound, rather
 * than failed back to the bus, which would lose it for the route.
 * Regression: the handler returned WEIR_ENOMEM, the bus counted the
 * delivery failed, and the event was never stored nor sent. */
static void
test_defer_fails_store_mode(void **state)
{
	(void) state;
	static const char *const kv[] = { "bridge.max_backlog", "1", NULL };
	bt                       t;
	bt_open(&t, kv);
	assert_weir_ok(
	    weir_bridge_route_add(t.br, "r", "a.>", "mem", "x", "key", NULL));
	assert_weir_ok(weir_bridge_start(t.br));
	weir__mem_hold_acks(t.mem, 1);
	bt_publish(&t, "a.b", "k", 0);
	BT_WAIT(&t, "r", s.backlog == 1);
	atomic_store(&defer_err, WEIR_ENOMEM);
	bt_publish(&t, "a.b", "k", 1);
	/* the handler has run for both (delivered counts failed calls) */
	weir_subscr *sub = intake_sub(&t, "r");
	wt_wait_until(wt_subscr_stats(sub).delivered == 2 &&
	    wt_subscr_stats(sub).in_flight == 0);
	assert_int_equal(atomic_load(&defer_err), WEIR_OK);
	assert_int_equal(wt_subscr_stats(sub).failed, 0);
	weir_bridge_route_stats rs = bt_stats(&t, "r");
	assert_int_equal(rs.paused, 0);
	assert_int_equal(rs.backlog, 2);
	wt_wait_until(bt_stored(t.st) == 2);
	weir__mem_hold_acks(t.mem, 0);
	BT_WAIT(&t, "r", s.acked == 2 && s.backlog == 0);
	bt_close(&t);
}

/* Direct mode has no room past its ring: the delivery fails back to
 * the bus (counted failed there), at most once as direct mode is. */
static void
test_defer_fails_direct_mode(void **state)
{
	(void) state;
	bt t;
	bt_open_direct(&t, direct_one_kv, "x");
	weir__mem_hold_acks(t.mem, 1);
	bt_publish(&t, "a.b", "k", 0);
	BT_WAIT(&t, "d", s.backlog == 1 && s.sent == 1);
	bt_publish(&t, "a.b", "k", 1);
	BT_WAIT(&t, "d", s.backlog == 2);
	atomic_store(&defer_err, WEIR_ENOMEM);
	bt_publish(&t, "a.b", "k", 2);
	wt_wait_until(wt_subscr_stats(intake_sub(&t, "d")).failed == 1);
	weir_bridge_route_stats rs = bt_stats(&t, "d");
	assert_int_equal(rs.paused, 0);
	assert_int_equal(rs.backlog, 2);
	bt_close(&t);
}

/* The subscription cannot be set up: start says which route, and the
 * bridge starts once it can. */
static void
test_subscription_setup_fails(void **state)
{
	(void) state;
	bt t;
	bt_open(&t, NULL);
	assert_weir_ok(
	    weir_bridge_route_add(t.br, "r", "a.>", "mem", "x", "key", NULL));
	for (int k = 1; k <= 5; k++) {
		atomic_store(&cfg_fail, k);
		assert_weir_err(weir_bridge_start(t.br), WEIR_EINVAL);
		assert_non_null(strstr(
		    weir_bridge_errmsg(t.br), "route 'r': subscribe: "));
		assert_false(t.br->started);
	}
	atomic_store(&cfg_fail, 0);
	assert_weir_ok(weir_bridge_start(t.br));
	bt_publish(&t, "a.b", "k", 1);
	BT_WAIT(&t, "r", s.acked == 1);
	bt_close(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_mode_keeps_parked),
		cmocka_unit_test(test_direct_mode_drops_parked),
		cmocka_unit_test(test_id_already_in_log),
		cmocka_unit_test(test_append_refused),
		cmocka_unit_test(test_defer_fails_store_mode),
		cmocka_unit_test(test_defer_fails_direct_mode),
		cmocka_unit_test(test_subscription_setup_fails),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
