/*
 * Inbound routes when what they call fails: this executable is linked
 * with -Wl,--wrap= for pthread_create, weir_event_new,
 * weir_store_dead_add and weir__store_inbox_append (tests/bridge/
 * CMakeLists.txt), so that the calls the bridge makes go to the
 * wrappers below, which fail them on demand and pass them through
 * otherwise. What must hold: a route that cannot start its threads
 * says so and the bridge starts later; a message whose event cannot be
 * made, even as a stand-in, is refused and delivered again; when even
 * the dead letter of a message fails, the route halts (nothing more is
 * taken or done, the broker keeps the message) and flush says so.
 */
#include "inbound_stub.h"

#include "store/inbox.h"

/* ---- the wrappers -------------------------------------------------- */

int __real_pthread_create(
    pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);
weir_err __real_weir_event_new(weir_event **out, const weir_event_init *init);
weir_err __real_weir_store_dead_add(weir_store *st, const weir_event *ev,
    const char *origin, weir_err code, const char *message, uint64_t *dead_id);
weir_err __real_weir__store_inbox_append(weir_store *st, const weir_event *ev,
    weir__store_inbox_fn done, void *arg);
int      __wrap_pthread_create(
         pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);
weir_err __wrap_weir_event_new(weir_event **out, const weir_event_init *init);
weir_err __wrap_weir_store_dead_add(weir_store *st, const weir_event *ev,
    const char *origin, weir_err code, const char *message, uint64_t *dead_id);
weir_err __wrap_weir__store_inbox_append(weir_store *st, const weir_event *ev,
    weir__store_inbox_fn done, void *arg);

static _Atomic long    thread_calls, thread_fail_at; /* n-th call from arm */
static _Atomic int     event_fails;    /* the next ones fail with... */
static _Atomic int     event_err;      /* ...this error */
static _Atomic int     dead_err;       /* every dead_add fails with this */
static _Atomic int     dead_calls;     /* dead_add calls while failing */
static char            dead_text[700]; /* the first one's message */
static pthread_mutex_t dead_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int     append_hold; /* inbox appends kept, not queued */
static weir__store_inbox_fn held_done;
static void                *held_arg;
static _Atomic int          held;

int
__wrap_pthread_create(
    pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	if (atomic_load(&thread_fail_at) > 0 &&
	    atomic_fetch_add(&thread_calls, 1) + 1 ==
	        atomic_load(&thread_fail_at))
		return 11; /* EAGAIN */
	return __real_pthread_create(th, attr, fn, arg);
}

weir_err
__wrap_weir_event_new(weir_event **out, const weir_event_init *init)
{
	int n = atomic_load(&event_fails);
	while (n > 0 && !atomic_compare_exchange_weak(&event_fails, &n, n - 1))
		;
	if (n > 0) {
		*out = NULL;
		return (weir_err) atomic_load(&event_err);
	}
	return __real_weir_event_new(out, init);
}

/* A dead letter fails with dead_err; WEIR_ETOOBIG also makes the next
 * event (the payload-less copy kept instead) fail with WEIR_ENOMEM. */
weir_err
__wrap_weir_store_dead_add(weir_store *st, const weir_event *ev,
    const char *origin, weir_err code, const char *message, uint64_t *id)
{
	weir_err e = (weir_err) atomic_load(&dead_err);
	if (e == WEIR_OK)
		return __real_weir_store_dead_add(
		    st, ev, origin, code, message, id);
	pthread_mutex_lock(&dead_mu); /* the text, then the count */
	if (atomic_load(&dead_calls) == 0)
		snprintf(dead_text, sizeof dead_text, "%s", message);
	atomic_fetch_add(&dead_calls, 1);
	pthread_mutex_unlock(&dead_mu);
	if (e == WEIR_ETOOBIG) {
		atomic_store(&event_err, WEIR_ENOMEM);
		atomic_store(&event_fails, 1);
	}
	return e;
}

/* With append_hold, the append is not queued: its outcome is reported
 * later by held_fail(), as the writer thread would report a failure. */
weir_err
__wrap_weir__store_inbox_append(
    weir_store *st, const weir_event *ev, weir__store_inbox_fn done, void *arg)
{
	if (!atomic_load(&append_hold))
		return __real_weir__store_inbox_append(st, ev, done, arg);
	held_done = done;
	held_arg  = arg;
	atomic_store(&held, 1);
	return WEIR_OK;
}

static void
held_fail(weir_store *st, weir_err e)
{
	wt_wait_until(atomic_load(&held));
	atomic_store(&held, 0);
	held_done(st, e, 0, 0, held_arg);
}

static int
fault_reset(void **state)
{
	(void) state;
	atomic_store(&thread_fail_at, 0);
	atomic_store(&event_fails, 0);
	atomic_store(&dead_err, WEIR_OK);
	atomic_store(&dead_calls, 0);
	atomic_store(&append_hold, 0);
	atomic_store(&held, 0);
	dead_text[0] = '\0';
	return 0;
}

static weir_err
dead_count_fn(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	(void) st;
	(void) dl;
	(*(uint64_t *) arg)++;
	return WEIR_OK;
}

static uint64_t
dead_letters(bt *t, const char *route)
{
	uint64_t n = 0;
	assert_weir_ok(
	    weir_store_dead_list(t->st, route, 0, dead_count_fn, &n));
	return n;
}

/* ---- the tests ----------------------------------------------------- */

/* Thread creation fails at each call of weir_bridge_start in turn: the
 * inbound route's two threads among them. Each failure is WEIR_ENOMEM,
 * leaves the bridge stopped, and a later start works. */
static void
test_no_thread(void **state)
{
	(void) state;
	bt t;
	it_open(&t, NULL);
	void *src     = it_route(&t, "in", "orders", "in.{topic}", NULL);
	int   inbound = 0;
	long  n;
	for (n = 1; n < 50; n++) {
		atomic_store(&thread_calls, 0);
		atomic_store(&thread_fail_at, n);
		weir_err e     = weir_bridge_start(t.br);
		long     calls = atomic_load(&thread_calls);
		atomic_store(&thread_fail_at, 0);
		if (e == WEIR_OK) {
			if (calls < n)
				break;
			weir_bridge_stop(t.br);
			continue;
		}
		assert_weir_err(e, WEIR_ENOMEM);
		assert_false(t.br->started);
		const char *m = weir_bridge_errmsg(t.br);
		inbound += strstr(m, "inbound route 'in': no thread") != NULL;
	}
	assert_true(n < 50);
	assert_int_equal(inbound, 2); /* the publisher, the route thread */
	it_push(src, 1, "orders", NULL, "kafka:orders/0/1");
	it_wait_done(src, 1);
	assert_int_equal(it_log_count(&t, "in.orders"), 1);
	bt_close(&t);
}

/* An event that cannot be made even as a stand-in (without headers,
 * key, then payload): the message is refused, not taken, and the
 * source delivers it again. */
static void
test_no_event_at_all(void **state)
{
	(void) state;
	bt t;
	it_open(&t, NULL);
	void       *src = it_route(&t, "in", "orders", "in.{topic}", NULL);
	weir_inlet *in  = weir__bridge_inlet(t.br, "in");
	atomic_store(&event_err, WEIR_EINVAL);
	atomic_store(&event_fails, 3);
	it_push(src, 1, "orders", NULL, "kafka:orders/0/1");
	assert_weir_ok(weir_bridge_start(t.br));
	it_wait_done(src, 1);
	assert_int_equal(atomic_load(&event_fails), 0);
	assert_int_equal(atomic_load(&in->received), 1);
	assert_int_equal(atomic_load(&in->dead), 0);
	assert_int_equal(it_log_count(&t, "in.orders"), 1);
	assert_int_equal(dead_letters(&t, "in"), 0);
	bt_close(&t);
}

/* An error weir_event_new has no reason of its own for (WEIR_ENOTSUP:
 * an init this build does not know) still gives the dead letter one. */
static void
test_event_error_without_reason(void **state)
{
	(void) state;
	bt t;
	it_open(&t, NULL);
	void *src = it_route(&t, "in", "orders", "in.{topic}", NULL);
	atomic_store(&event_err, WEIR_ENOTSUP);
	atomic_store(&event_fails, 1);
	it_push(src, 1, "orders", NULL, "kafka:orders/0/1");
	it_push(src, 2, "orders", NULL, "kafka:orders/0/2");
	assert_weir_ok(weir_bridge_start(t.br));
	it_wait_done(src, 2);
	bt_dead d = bt_dead_first(&t, "in");
	assert_int_equal(d.count, 1);
	assert_int_equal(d.code, WEIR_ENOTSUP);
	char want[300];
	snprintf(want, sizeof want, "%s (at kafka:orders/0/1)",
	    weir_strerror(WEIR_ENOTSUP));
	assert_string_equal(d.message, want);
	assert_string_equal(d.origin, "in");
	bt_dead_free(&d);
	assert_int_equal(it_log_count(&t, "in.orders"), 1);
	bt_close(&t);
}

/* After a route halts: no done for the message whose dead letter
 * failed, nothing more taken (the source paused, its next message
 * kept), and flush reports WEIR_ESTORE. */
static void
assert_halted(bt *t, weir_inlet *in, void *src)
{
	wt_wait_until(weir__mem_source_paused(src) == 1);
	pthread_mutex_lock(&in->lock);
	int halted = in->halted;
	pthread_mutex_unlock(&in->lock);
	assert_true(halted);
	weir_bridge_stop(t->br);
	assert_int_equal(weir__mem_source_done(src, NULL, 0), 0);
	assert_int_equal(weir__mem_source_queued(src), 1);
	assert_int_equal(atomic_load(&in->dead), 1);
	assert_int_equal(atomic_load(&in->received), 1);
	assert_weir_err(weir_inlet_flush(in), WEIR_ESTORE);
	atomic_store(&dead_err, WEIR_OK);
	assert_int_equal(dead_letters(t, "in"), 0);
	assert_int_equal(it_log_count(t, ">"), 0);
}

/* A message that is no weir topic, when the dead letter fails. */
static void
test_dead_letter_fails(void **state)
{
	(void) state;
	bt t;
	it_open(&t, NULL);
	void       *src = it_route(&t, "in", "orders", "in.{topic}", NULL);
	weir_inlet *in  = weir__bridge_inlet(t.br, "in");
	atomic_store(&dead_err, WEIR_EIO);
	it_push(src, 1, "a..b", NULL, "kafka:a..b/0/1");
	assert_weir_ok(weir_bridge_start(t.br));
	wt_wait_until(atomic_load(&dead_calls) == 1);
	it_push(src, 2, "orders", NULL, "kafka:orders/0/2");
	assert_non_null(strstr(dead_text, "(at kafka:a..b/0/1)"));
	assert_halted(&t, in, src);
	bt_close(&t);
}

/* The same when the dead letter is too big for the store and its
 * payload-less copy cannot be made. */
static void
test_dead_letter_too_big_no_copy(void **state)
{
	(void) state;
	bt t;
	it_open(&t, NULL);
	void       *src = it_route(&t, "in", "orders", "in.{topic}", NULL);
	weir_inlet *in  = weir__bridge_inlet(t.br, "in");
	atomic_store(&dead_err, WEIR_ETOOBIG);
	it_push(src, 1, "a..b", NULL, "kafka:a..b/0/1");
	assert_weir_ok(weir_bridge_start(t.br));
	wt_wait_until(atomic_load(&dead_calls) == 1);
	it_push(src, 2, "orders", NULL, "kafka:orders/0/2");
	wt_wait_until(weir__mem_source_paused(src) == 1);
	assert_int_equal(atomic_load(&event_fails), 0); /* the copy failed */
	assert_halted(&t, in, src);
	bt_close(&t);
}

/* A ring of one slot, a source that delivers two messages at once: the
 * second waits for room; the first's append fails and its dead letter
 * fails too, so the route halts while the second waits: the second is
 * refused (WEIR_ECLOSED, kept by the source), nothing is done. */
static void
test_halt_while_waiting_for_room(void **state)
{
	(void) state;
	static const char *const kv[] = { "bridge.inbound.max_in_flight", "1",
		NULL };
	bt                       t;
	weir_inlet              *in     = sb_open(&t, kv, "stub", "in");
	uint64_t                 tok[2] = { 1, 2 };
	weir_inbound_msg         m1     = sb_msg(&tok[0], "kafka:orders/0/1");
	weir_inbound_msg         m2     = sb_msg(&tok[1], "kafka:orders/0/2");
	pthread_mutex_lock(&sb_mu);
	sb.ignore_max = 1;
	pthread_mutex_unlock(&sb_mu);
	sb_push(&m1);
	sb_push(&m2);
	atomic_store(&append_hold, 1);
	atomic_store(&dead_err, WEIR_EIO);
	assert_weir_ok(weir_bridge_start(t.br));
	wt_wait_until(atomic_load(&held));
	wt_wait_until(sb_nresults() == 1); /* the second one waits */
	assert_int_equal(atomic_load(&in->received), 1);
	held_fail(t.st, WEIR_EIO);
	wt_wait_until(sb_nresults() == 2);
	assert_weir_ok(sb.results[0]);
	assert_weir_err(sb.results[1], WEIR_ECLOSED);
	char want[300];
	snprintf(want, sizeof want, "append failed: %s (at kafka:orders/0/1)",
	    weir_strerror(WEIR_EIO));
	wt_wait_until(atomic_load(&dead_calls) == 1);
	assert_string_equal(dead_text, want);
	wt_wait_until(sb_pauses() >= 1); /* halted: the source paused */
	weir_bridge_stop(t.br);
	assert_int_equal(sb_ndone(), 0);
	assert_int_equal(atomic_load(&in->received), 1);
	assert_weir_err(weir_inlet_flush(in), WEIR_ESTORE);
	atomic_store(&append_hold, 0);
	atomic_store(&dead_err, WEIR_OK);
	assert_int_equal(dead_letters(&t, "in"), 0);
	bt_close(&t);
}

/* The event and its first stand-in fail (a payload too big even for a
 * stand-in): the dead letter keeps the id without the payload. */
static void
test_stand_in_without_payload(void **state)
{
	(void) state;
	bt t;
	it_open(&t, NULL);
	void *src = it_route(&t, "in", "orders", "in.{topic}", NULL);
	atomic_store(&event_err, WEIR_EINVAL);
	atomic_store(&event_fails, 2);
	it_push(src, 1, "orders", NULL, "kafka:orders/0/1");
	assert_weir_ok(weir_bridge_start(t.br));
	it_wait_done(src, 1);
	bt_dead d = bt_dead_first(&t, "in");
	assert_int_equal(d.code, WEIR_EINVAL);
	assert_string_equal(
	    d.message, "bad key or headers (at kafka:orders/0/1)");
	assert_int_equal(d.size, 0); /* the token was its payload */
	bt_dead_free(&d);
	assert_int_equal(it_log_count(&t, ">"), 0);
	bt_close(&t);
}

/* A source that delivers the next message in the same fetch after the
 * route halted: refused at once (WEIR_ECLOSED). */
static void
test_deliver_after_halt(void **state)
{
	(void) state;
	bt               t;
	weir_inlet      *in     = sb_open(&t, NULL, "stub", "in");
	uint64_t         tok[2] = { 1, 2 };
	weir_inbound_msg m1     = sb_msg(&tok[0], "kafka:a..b/0/1");
	weir_inbound_msg m2     = sb_msg(&tok[1], "kafka:orders/0/2");
	m1.origin               = "a..b";
	pthread_mutex_lock(&sb_mu);
	sb.ignore_max = 1;
	pthread_mutex_unlock(&sb_mu);
	sb_push(&m1);
	sb_push(&m2);
	atomic_store(&dead_err, WEIR_EIO);
	assert_weir_ok(weir_bridge_start(t.br));
	wt_wait_until(sb_nresults() == 2);
	assert_weir_ok(sb.results[0]);
	assert_weir_err(sb.results[1], WEIR_ECLOSED);
	weir_bridge_stop(t.br);
	assert_int_equal(sb_ndone(), 0);
	assert_int_equal(atomic_load(&in->received), 1);
	assert_weir_err(weir_inlet_flush(in), WEIR_ESTORE);
	atomic_store(&dead_err, WEIR_OK);
	assert_int_equal(dead_letters(&t, "in"), 0);
	bt_close(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_no_thread, fault_reset),
		cmocka_unit_test_setup(test_no_event_at_all, fault_reset),
		cmocka_unit_test_setup(
		    test_event_error_without_reason, fault_reset),
		cmocka_unit_test_setup(test_dead_letter_fails, fault_reset),
		cmocka_unit_test_setup(
		    test_dead_letter_too_big_no_copy, fault_reset),
		cmocka_unit_test_setup(
		    test_halt_while_waiting_for_room, fault_reset),
		cmocka_unit_test_setup(
		    test_stand_in_without_payload, fault_reset),
		cmocka_unit_test_setup(test_deliver_after_halt, fault_reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
