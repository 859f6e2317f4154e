/*
 * Out of memory through the bridge's public paths (issue 12, item 11),
 * with the failing allocator of fault_alloc.h, as the core and store
 * OOM tests do: config, create, register, route_add, inbound_add and
 * start run with their n-th allocation failing, n = 1, 2, ... until a
 * run succeeds without meeting the failure, and every failure must be
 * WEIR_ENOMEM with nothing left running. The relay and the inbound
 * deliver run on threads, so there the n-th allocation from the moment
 * one event is handed in fails wherever it lands (intake, store writer,
 * relay, backend, inlet): the test checks what must hold whatever
 * failed. LeakSanitizer (asan stage) checks that nothing leaks.
 */
#include "fault_alloc.h"
#include "inbound_fixture.h"

#include "core/evpool.h"

#define OOM_MAX_N 4000

typedef weir_err (*oom_fn)(bt *t, void *arg);

// Runs @p fn with its n-th allocation failing, n = 1, 2, ..., until a
// run succeeds having made fewer than n allocations; returns how many
// runs failed (each with WEIR_ENOMEM).
static int
oom_loop(bt *t, const char *what, oom_fn fn, void *arg)
{
	int failures = 0;
	for (long n = 1; n < OOM_MAX_N; n++) {
		weir__evpool_flush();
		fi_arm(n);
		weir_err rv    = fn(t, arg);
		long     calls = alloc_calls;
		fail_at        = 0;
		if (rv == WEIR_OK) {
			if (calls < n)
				return failures;
			continue;
		}
		if (rv != WEIR_ENOMEM) {
			print_error("%s, allocation %ld: %s\n", what, n,
			    weir_err_name(rv));
			fail();
		}
		failures++;
	}
	fail_msg("%s never succeeded", what);
	return failures;
}

static int
oom_setup(void **state)
{
	(void) state;
	return weir_set_allocator(&fi_alloc) == WEIR_OK ? 0 : -1;
}

static int
oom_teardown(void **state)
{
	(void) state;
	fail_at = 0;
	weir__evpool_flush();
	weir_set_allocator(NULL);
	return 0;
}

/* ---- the controlling calls ----------------------------------------- */

static weir_err
do_config(bt *t, void *arg)
{
	(void) t;
	(void) arg;
	weir_bridge_config *cfg;
	weir_err            e = weir_bridge_config_create(&cfg);
	if (e != WEIR_OK)
		return e;
	if ((e = weir_bridge_config_set_str(cfg, "bridge.window", "8")) ==
	    WEIR_OK)
		e = weir_bridge_config_set_str(cfg, "bridge.window", "16");
	weir_bridge_config_destroy(cfg);
	return e;
}

// The whole life of a bridge with an outbound and an inbound route; a
// failure at any step must leave nothing behind (destroy frees it all).
static weir_err
do_bridge(bt *t, void *arg)
{
	(void) arg;
	weir_bridge *br = NULL;
	weir_err     e  = weir_bridge_create(&br, t->bus, t->st, NULL);
	if (e != WEIR_OK) {
		assert_null(br);
		return e;
	}
	weir_bridge_inbound_opts io =
	    WEIR_STRUCT_INIT(weir_bridge_inbound_opts);
	if ((e = weir_bridge_register(br, weir_backend_mem())) == WEIR_OK &&
	    (e = weir_bridge_register_source(br, weir_source_mem())) ==
	        WEIR_OK &&
	    (e = weir_bridge_route_add(br, "out", "out.>", "mem", "x.{topic}",
	         "{2}", NULL)) == WEIR_OK &&
	    (e = weir_bridge_inbound_add(
	         br, "in", "mem", "orders", "in.{topic}", &io)) == WEIR_OK)
		e = weir_bridge_start(br);
	weir_bridge_destroy(br);
	return e;
}

static void
test_control_paths(void **state)
{
	(void) state;
	bt t;
	it_open(&t, NULL);
	// Only one bridge per bus (its stats section): drop the fixture's.
	weir_bridge_destroy(t.br);
	t.br = NULL;
	assert_true(oom_loop(&t, "config", do_config, NULL) >= 1);
	assert_true(oom_loop(&t, "bridge", do_bridge, NULL) >= 1);
	bt_close(&t);
}

/* ---- the relay ----------------------------------------------------- */

static weir_err
count_fn(weir_store *st, const weir_event *ev, const char *stream,
    int64_t version, void *arg)
{
	(void) st;
	(void) stream;
	(void) version;
	weir__mem_rec *r = ((weir__mem_rec **) arg)[0];
	size_t        *n = ((size_t **) arg)[1];
	size_t         i = 0;
	while (i < *n && memcmp(r[i].id, weir_event_id(ev), 16) != 0)
		i++;
	if (i == *n) {
		char text[40];
		weir_uuid_format(weir_event_id(ev), text);
		print_error(
		    "stored event %s never reached the broker\n", text);
		fail();
	}
	return WEIR_OK;
}

// Every event the route's pattern finds in the log was acknowledged
// by the mem broker: an allocation failure in the relay delays, never
// loses.
static void
assert_stored_all_sent(bt *t)
{
	size_t            n;
	weir__mem_rec    *r    = bt_records(t, &n);
	void             *a[2] = { r, &n };
	weir_store_filter f    = WEIR_STRUCT_INIT(weir_store_filter);
	f.pattern              = "out.>";
	assert_weir_ok(weir_store_read(t->st, &f, count_fn, a));
	free(r);
}

static weir_event *
out_event(int i)
{
	weir_event     *ev;
	weir_event_init init = { .size = sizeof init,
		.topic                 = "out.k",
		.key                   = "k",
		.key_len               = 1,
		.payload               = &i,
		.payload_len           = sizeof i };
	assert_weir_ok(weir_event_new(&ev, &init));
	return ev;
}

static void
publish_one(bt *t, int i)
{
	weir_event *ev = out_event(i);
	assert_weir_ok(weir_publish_event(t->bus, ev));
	weir_event_release(ev);
}

static void
test_relay_paths(void **state)
{
	(void) state;
	bt                t;
	const char *const kv[] = { "bridge.ack_timeout_ms", "300",
		"bridge.retry.initial_ms", "10", "bridge.retry.max_ms", "50",
		NULL };
	it_open(&t, kv);
	assert_weir_ok(weir_bridge_route_add(
	    t.br, "out", "out.>", "mem", "x.{topic}", "key", NULL));
	assert_weir_ok(weir_bridge_start(t.br));
	// Warm up: the mem broker's tables grow now, not under injection.
	uint64_t taken = 0;
	for (int i = 0; i < 4; i++, taken++)
		publish_one(&t, i);
	BT_WAIT(&t, "out", s.acked == taken);
	long n;
	for (n = 1; n < OOM_MAX_N; n++) {
		weir_event *ev = out_event((int) n);
		weir__evpool_flush();
		fi_arm(n);
		weir_err rv = weir_publish_event(t.bus, ev);
		assert_true(rv == WEIR_OK || rv == WEIR_ENOMEM);
		taken += rv == WEIR_OK;
		// Done means sent and acknowledged, dead-lettered, or counted
		// store_failed (the intake's append failed: never in the log).
		BT_WAIT(&t, "out", s.acked + s.dead + s.store_failed == taken);
		long calls = alloc_calls;
		fail_at    = 0;
		weir_event_release(ev);
		if (calls < n)
			break;
	}
	assert_true(n < OOM_MAX_N);
	print_message("relay: %ld allocations injected\n", n - 1);
	// Still working, and nothing stored was lost on the way out.
	publish_one(&t, -1);
	taken++;
	BT_WAIT(&t, "out", s.acked + s.dead + s.store_failed == taken);
	assert_stored_all_sent(&t);
	bt_close(&t);
}

/* ---- inbound ------------------------------------------------------- */

static weir_err
dead_count_fn(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	(void) st;
	(void) dl;
	(*(uint64_t *) arg)++;
	return WEIR_OK;
}

// Regression: an allocation failure while the inlet made the event
// counted the message dead, kept no dead letter and called done, so the
// broker's message was committed and lost. Now deliver refuses it
// (WEIR_ENOMEM, not taken) and the source delivers it again. The
// origins alternate from one message taken to the next, so that every
// message renders its topic anew (the inlet keeps the last one) and
// those allocations fail too, the render's and the origin's copy.
static void
test_inbound_deliver(void **state)
{
	(void) state;
	bt t;
	it_open(&t, NULL);
	void *src = it_route(&t, "in", "orders", "in.{topic}", NULL);
	assert_weir_ok(weir_bridge_start(t.br));
	it_push(src, 1, "orders", NULL, "kafka:orders/0/1");
	it_wait_done(src, 1);
	// Armed before the push, which the route thread may take at once;
	// a push that fails (the mem source's copy) is not counted.
	long     n;
	uint64_t pushed = 1;
	for (n = 1; n < OOM_MAX_N; n++) {
		char             coord[64];
		uint64_t         token = pushed + 1;
		weir_inbound_msg m     = { .size = sizeof m,
			    .origin      = pushed % 2 ? "orders.b" : "orders",
			    .payload     = &token,
			    .payload_len = sizeof token,
			    .coord       = coord,
			    .token       = token };
		snprintf(coord, sizeof coord, "kafka:orders/0/%llu",
		    (unsigned long long) token);
		weir__evpool_flush();
		fi_arm(n);
		weir_err rv = weir__mem_source_push(src, &m);
		assert_true(rv == WEIR_OK || rv == WEIR_ENOMEM);
		pushed += rv == WEIR_OK;
		it_wait_done(src, pushed);
		long calls = alloc_calls;
		fail_at    = 0;
		if (calls < n)
			break;
	}
	assert_true(n < OOM_MAX_N);
	print_message("inbound: %ld allocations injected\n", n - 1);
	// Each message is in the log or in the dead letters: none is
	// done without being kept somewhere.
	uint64_t dead = 0;
	assert_weir_ok(
	    weir_store_dead_list(t.st, "in", 0, dead_count_fn, &dead));
	uint64_t logged =
	    it_log_count(&t, "in.orders.>") + it_log_count(&t, "in.orders");
	if (logged + dead != pushed) {
		print_error("%llu messages done, %llu in the log, %llu dead "
		            "letters\n",
		    (unsigned long long) pushed, (unsigned long long) logged,
		    (unsigned long long) dead);
		fail();
	}
	bt_close(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_control_paths, oom_setup, oom_teardown),
		cmocka_unit_test_setup_teardown(
		    test_relay_paths, oom_setup, oom_teardown),
		cmocka_unit_test_setup_teardown(
		    test_inbound_deliver, oom_setup, oom_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
