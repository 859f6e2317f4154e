// Queued publish: by string, handle and event; fan-out; unsubscribe;
// WEIR_PUBLISH_TAKE ownership; handler failures.
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weir_test.h"

typedef struct rec {
	int               calls;
	const weir_event *last; // pointer identity only
	char              topic[64];
	char              payload[64];
	weir_err          rv;
	int               unsub_at; // unsubscribe self at this call (1-based)
	weir_subscr      *self;
} rec;

static weir_bus *bus;

static int
setup(void **state)
{
	(void) state;
	return weir_bus_create(&bus, NULL) == WEIR_OK ? 0 : -1;
}

static int
teardown(void **state)
{
	(void) state;
	weir_bus_destroy(bus);
	bus = NULL;
	return 0;
}

static weir_err
rec_fn(weir_bus *b, const weir_event *ev, void *arg)
{
	rec *r = arg;
	assert_ptr_equal(b, bus);
	r->calls++;
	r->last = ev;
	snprintf(r->topic, sizeof(r->topic), "%s", weir_event_topic(ev));
	size_t      len;
	const char *p = weir_event_payload(ev, &len);
	snprintf(
	    r->payload, sizeof(r->payload), "%.*s", (int) len, p ? p : "");
	if (r->unsub_at == r->calls) {
		weir_unsubscribe(r->self);
	}
	return r->rv;
}

static weir_subscr *
sub_on(const char *pattern, rec *r)
{
	weir_subscr *sub;
	assert_weir_ok(
	    weir_subscribe(&sub, bus, pattern, rec_fn, r, NULL, NULL));
	r->self = sub;
	return sub;
}

static void
run_nowait(void)
{
	assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT));
}

static void
test_publish_string_handle_event(void **state)
{
	(void) state;
	rec          r   = { 0 };
	weir_subscr *sub = sub_on("p.*", &r);
	assert_weir_ok(weir_publish(bus, "p.one", "1", 1, 0, NULL));
	assert_int_equal(r.calls, 0); // never on the publisher's call
	run_nowait();
	assert_int_equal(r.calls, 1);
	assert_string_equal(r.topic, "p.one");
	assert_string_equal(r.payload, "1");

	weir_topic *t;
	assert_weir_ok(weir_topic_create(&t, bus, "p.two"));
	char buf[2] = "2";
	assert_weir_ok(weir_publish_topic(t, buf, 1));
	buf[0] = 'X'; // copied at publish
	run_nowait();
	assert_int_equal(r.calls, 2);
	assert_string_equal(r.topic, "p.two");
	assert_string_equal(r.payload, "2");

	weir_event_init init = { .size = sizeof(weir_event_init),
		.topic                 = "p.three",
		.payload               = "3",
		.payload_len           = 1,
		.key                   = "k",
		.key_len               = 1 };
	weir_event     *ev;
	assert_weir_ok(weir_event_new(&ev, &init));
	assert_weir_ok(weir_publish_event(bus, ev));
	run_nowait();
	assert_int_equal(r.calls, 3);
	assert_ptr_equal(r.last, ev); // shared, not copied
	assert_string_equal(r.payload, "3");
	weir_event_release(ev);

	// Not matching: nothing queued, still OK.
	assert_weir_ok(weir_publish(bus, "q.one", "x", 1, 0, NULL));
	assert_weir_ok(weir_publish(bus, "p.a.b", "x", 1, 0, NULL));
	run_nowait();
	assert_int_equal(r.calls, 3);

	// The handle follows registry changes.
	weir_unsubscribe(sub);
	assert_weir_ok(weir_publish_topic(t, "4", 1));
	run_nowait();
	assert_int_equal(r.calls, 3);
	rec r2 = { 0 };
	sub    = sub_on("p.two", &r2);
	assert_weir_ok(weir_publish_topic(t, "5", 1));
	run_nowait();
	assert_int_equal(r2.calls, 1);
	assert_string_equal(r2.payload, "5");
	weir_unsubscribe(sub);
	weir_topic_destroy(t);
}

static void
test_fan_out_shares_event(void **state)
{
	(void) state;
	rec          a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };
	weir_subscr *sa = sub_on("f.x", &a);
	weir_subscr *sb = sub_on("f.*", &b);
	weir_subscr *sc = sub_on(">", &c);
	weir_subscr *sd = sub_on("g.>", &d);
	assert_weir_ok(weir_publish(bus, "f.x", "hello", 5, 0, NULL));
	run_nowait();
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 1);
	assert_int_equal(c.calls, 1);
	assert_int_equal(d.calls, 0);
	// One event, allocated once, seen by every subscription.
	assert_ptr_equal(a.last, b.last);
	assert_ptr_equal(a.last, c.last);
	assert_string_equal(b.payload, "hello");
	assert_weir_ok(weir_publish(bus, "g.h.i", NULL, 0, 0, NULL));
	run_nowait();
	assert_int_equal(d.calls, 1);
	assert_int_equal(c.calls, 2);
	assert_int_equal(a.calls, 1);
	weir_unsubscribe(sa);
	weir_unsubscribe(sb);
	weir_unsubscribe(sc);
	weir_unsubscribe(sd);
	weir_unsubscribe(NULL);
}

static void
test_bad_input(void **state)
{
	(void) state;
	rec          r = { 0 };
	weir_subscr *sub;
	assert_weir_err(
	    weir_subscribe(&sub, bus, "a..b", rec_fn, &r, NULL, NULL),
	    WEIR_EBADPATTERN);
	assert_weir_err(
	    weir_subscribe(&sub, bus, "a.>.b", rec_fn, &r, NULL, NULL),
	    WEIR_EBADPATTERN);
	assert_weir_err(
	    weir_subscribe(&sub, NULL, "a", rec_fn, &r, NULL, NULL),
	    WEIR_EINVAL);
	// A NULL handler is no error: it makes a pull subscription
	// (pull_test.c).
	assert_weir_ok(weir_subscribe(&sub, bus, "a", NULL, &r, NULL, NULL));
	weir_unsubscribe(sub);
	assert_weir_err(weir_subscribe(NULL, bus, "a", rec_fn, &r, NULL, NULL),
	    WEIR_EINVAL);
	assert_weir_err(
	    weir_publish(bus, "a.*", "x", 1, 0, NULL), WEIR_EBADTOPIC);
	assert_weir_err(
	    weir_publish(bus, "", "x", 1, 0, NULL), WEIR_EBADTOPIC);
	assert_weir_err(weir_publish(NULL, "a", "x", 1, 0, NULL), WEIR_EINVAL);
	assert_weir_err(weir_publish(bus, NULL, "x", 1, 0, NULL), WEIR_EINVAL);
	assert_weir_err(weir_publish(bus, "a", NULL, 1, 0, NULL), WEIR_EINVAL);
	assert_weir_err(
	    weir_publish(bus, "a", "x", 1, 0x80, NULL), WEIR_EINVAL);
	assert_weir_err(weir_publish_topic(NULL, "x", 1), WEIR_EINVAL);
	assert_weir_err(weir_publish_event(NULL, NULL), WEIR_EINVAL);
	assert_weir_err(weir_publish_event(bus, NULL), WEIR_EINVAL);
	// The loop can go: nothing was registered on it.
	weir_loop *lp;
	assert_weir_ok(weir_loop_create(&lp));
	assert_weir_ok(weir_loop_destroy(lp));
	assert_int_equal(r.calls, 0);
}

static void
test_unsubscribe_from_own_handler(void **state)
{
	(void) state;
	rec r     = { .unsub_at = 3 };
	rec other = { 0 };
	sub_on("u", &r);
	weir_subscr *so = sub_on("u", &other);
	for (int i = 0; i < 10; i++) {
		assert_weir_ok(weir_publish(bus, "u", "x", 1, 0, NULL));
	}
	run_nowait();
	run_nowait();
	assert_int_equal(r.calls, 3); // no call after it unsubscribed
	assert_int_equal(other.calls, 10);
	assert_weir_ok(weir_publish(bus, "u", "x", 1, 0, NULL));
	run_nowait();
	assert_int_equal(r.calls, 3);
	weir_unsubscribe(so);
}

// Unsubscribe from another thread while the loop dispatches.
static atomic_int  unsub_done;
static atomic_int  late_calls;
static atomic_long xcalls;

static weir_err
slow_fn(weir_bus *b, const weir_event *ev, void *arg)
{
	(void) b;
	(void) ev;
	(void) arg;
	if (atomic_load(&unsub_done)) {
		atomic_fetch_add(&late_calls, 1);
	}
	atomic_fetch_add(&xcalls, 1);
	struct timespec ts = { 0, 20000 }; // 20 us: widen the window
	nanosleep(&ts, NULL);
	if (atomic_load(&unsub_done)) {
		atomic_fetch_add(&late_calls, 1000000); // can't happen either
	}
	return WEIR_OK;
}

static atomic_int            stop_producing;
static atomic_uint_least64_t produced;

static void *
producer_thread(void *arg)
{
	(void) arg;
	while (!atomic_load(&stop_producing)) {
		weir_publish(bus, "x.y", "z", 1, 0, NULL);
		atomic_fetch_add(&produced, 1);
	}
	return NULL;
}

static void
test_unsubscribe_other_thread(void **state)
{
	(void) state;
	for (int round = 0; round < 20; round++) {
		atomic_store(&unsub_done, 0);
		atomic_store(&late_calls, 0);
		atomic_store(&xcalls, 0);
		atomic_store(&stop_producing, 0);
		weir_subscr        *sub;
		weir_subscr_config *sc =
		    wt_subscr_config(64, WEIR_POLICY_DROP_OLDEST, 0);
		assert_weir_ok(
		    weir_subscribe(&sub, bus, "x.*", slow_fn, NULL, NULL, sc));
		weir_subscr_config_destroy(sc);
		pthread_t lt, pt;
		assert_int_equal(
		    pthread_create(&lt, NULL, wt_run_bus, bus), 0);
		assert_int_equal(
		    pthread_create(&pt, NULL, producer_thread, NULL), 0);
		wt_wait_until(atomic_load(&xcalls) >= 5 + round);
		weir_unsubscribe(sub);
		atomic_store(&unsub_done, 1);
		// More events published after the unsubscribe: none may
		// reach the handler.
		assert_true(
		    wt_wait_u64(&produced, atomic_load(&produced) + 100));
		atomic_store(&stop_producing, 1);
		pthread_join(pt, NULL);
		weir_bus_stop(bus);
		pthread_join(lt, NULL);
		assert_int_equal(atomic_load(&late_calls), 0);
	}
}

// WEIR_PUBLISH_TAKE ownership.
typedef struct owned {
	char *data;
	int   freed;
} owned;

static owned take_bufs[8];

static void
take_free(void *p)
{
	// Newest first: malloc may hand out a freed buffer's address again.
	for (int i = 7; i >= 0; i--) {
		if (take_bufs[i].data == p) {
			take_bufs[i].freed++;
			if (take_bufs[i].freed == 1) {
				free(p);
			}
			return;
		}
	}
	fail_msg("free_fn got an unknown pointer %p", p);
}

static char *
take_buf(int i)
{
	for (int j = 0; j < 8; j++) {
		if (j != i && take_bufs[j].freed) {
			take_bufs[j].data = NULL; // forget freed addresses
		}
	}
	take_bufs[i].data  = malloc(16);
	take_bufs[i].freed = 0;
	memcpy(take_bufs[i].data, "owned", 6);
	return take_bufs[i].data;
}

static void
test_take_ok_and_no_subscriber(void **state)
{
	(void) state;
	rec          r   = { 0 };
	weir_subscr *sub = sub_on("t.a", &r);
	// OK with a subscriber: freed once, after delivery.
	assert_weir_ok(weir_publish(
	    bus, "t.a", take_buf(0), 6, WEIR_PUBLISH_TAKE, take_free));
	assert_int_equal(take_bufs[0].freed, 0);
	run_nowait();
	assert_int_equal(r.calls, 1);
	assert_string_equal(r.payload, "owned");
	assert_int_equal(take_bufs[0].freed, 1);
	// OK with nobody subscribed: the bus still owns it and frees it.
	assert_weir_ok(weir_publish(
	    bus, "t.none", take_buf(1), 6, WEIR_PUBLISH_TAKE, take_free));
	assert_int_equal(take_bufs[1].freed, 1);
	weir_unsubscribe(sub);
	// Without a free function the weir allocator's free is used (LSan
	// would report the buffer otherwise).
	rec          r2   = { 0 };
	weir_subscr *sub2 = sub_on("t.b", &r2);
	char        *p    = malloc(4); // weir's default allocator is libc's
	memcpy(p, "abc", 4);
	assert_weir_ok(
	    weir_publish(bus, "t.b", p, 4, WEIR_PUBLISH_TAKE, NULL));
	run_nowait();
	assert_int_equal(r2.calls, 1);
	assert_string_equal(r2.payload, "abc");
	weir_unsubscribe(sub2);
}

static void
test_unsubscribe_releases_queued(void **state)
{
	(void) state;
	// weir.h: "queued events are released" by weir_unsubscribe(), so a
	// taken buffer queued but never dispatched is freed by then (not
	// only when the loop next runs).
	rec          r   = { 0 };
	weir_subscr *sub = sub_on("t.a", &r);
	assert_weir_ok(weir_publish(
	    bus, "t.a", take_buf(2), 6, WEIR_PUBLISH_TAKE, take_free));
	assert_int_equal(take_bufs[2].freed, 0);
	weir_unsubscribe(sub);
	assert_int_equal(take_bufs[2].freed, 1);
	run_nowait();
	assert_int_equal(r.calls, 0);
	assert_int_equal(take_bufs[2].freed, 1);
}

static void
test_take_error_caller_keeps(void **state)
{
	(void) state;
	// Bad input: the caller keeps the buffer.
	char *p = take_buf(3);
	assert_weir_err(
	    weir_publish(bus, "t.*", p, 6, WEIR_PUBLISH_TAKE, take_free),
	    WEIR_EBADTOPIC);
	assert_weir_err(
	    weir_publish(bus, "t.a", p, WEIR_DEFAULT_MAX_PAYLOAD + 1,
	        WEIR_PUBLISH_TAKE, take_free),
	    WEIR_ETOOBIG);
	assert_int_equal(take_bufs[3].freed, 0);
	free(p);
}

static void
test_take_full_bus_owns(void **state)
{
	(void) state;
	// The only matching subscription is full (REJECT, then BLOCK with a
	// timeout): WEIR_EFULL / WEIR_ETIMEDOUT, and the bus owns the buffer
	// (weir.h: ownership moves once the event is made, whatever the
	// queues answered), so it frees it exactly once, at once.
	rec                 r = { 0 };
	weir_subscr_config *sc;
	weir_subscr        *sub;
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_ok(weir_subscr_config_set_capacity(sc, 1));
	assert_weir_ok(
	    weir_subscr_config_set_policy(sc, WEIR_POLICY_REJECT, 0));
	assert_weir_ok(weir_subscribe(&sub, bus, "t.f", rec_fn, &r, NULL, sc));
	assert_weir_ok(
	    weir_subscr_config_set_policy(sc, WEIR_POLICY_BLOCK, 10));
	weir_subscr *sub2;
	assert_weir_ok(
	    weir_subscribe(&sub2, bus, "t.g", rec_fn, &r, NULL, sc));
	weir_subscr_config_destroy(sc);
	assert_weir_ok(weir_publish(bus, "t.f", "x", 1, 0, NULL));
	assert_weir_ok(weir_publish(bus, "t.g", "x", 1, 0, NULL));
	assert_weir_err(weir_publish(bus, "t.f", take_buf(4), 6,
	                    WEIR_PUBLISH_TAKE, take_free),
	    WEIR_EFULL);
	assert_int_equal(take_bufs[4].freed, 1);
	assert_weir_err(weir_publish(bus, "t.g", take_buf(5), 6,
	                    WEIR_PUBLISH_TAKE, take_free),
	    WEIR_ETIMEDOUT);
	assert_int_equal(take_bufs[5].freed, 1);
	run_nowait();
	assert_int_equal(r.calls, 2);
	assert_int_equal(take_bufs[4].freed, 1);
	assert_int_equal(take_bufs[5].freed, 1);
	weir_unsubscribe(sub);
	weir_unsubscribe(sub2);
}

// A subscription handler's failure goes to `$weir.error`.
typedef struct err_rec {
	int  calls;
	char origin[64];
	char err[32];
	char cause_topic[64];
} err_rec;

static weir_err
err_fn(weir_bus *b, const weir_event *ev, void *arg)
{
	(void) b;
	err_rec *e = arg;
	e->calls++;
	size_t      len;
	const char *v = weir_event_header_get(ev, "weir-origin", &len);
	if (v) {
		snprintf(e->origin, sizeof(e->origin), "%.*s", (int) len, v);
	}
	v = weir_event_header_get(ev, "weir-error", &len);
	if (v) {
		snprintf(e->err, sizeof(e->err), "%.*s", (int) len, v);
	}
	if (weir_event_cause(ev)) {
		snprintf(e->cause_topic, sizeof(e->cause_topic), "%s",
		    weir_event_topic(weir_event_cause(ev)));
	}
	return WEIR_OK;
}

static void
test_handler_failure_to_error_topic(void **state)
{
	(void) state;
	rec                 r = { .rv = WEIR_EBACKEND };
	weir_subscr_config *sc;
	weir_subscr        *sub, *esub;
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_ok(weir_subscr_config_set_name(sc, "worker"));
	assert_weir_ok(
	    weir_subscribe(&sub, bus, "job.*", rec_fn, &r, NULL, sc));
	weir_subscr_config_destroy(sc);
	err_rec el = { 0 }, es = { 0 };
	assert_weir_ok(
	    weir_on(bus, WEIR_TOPIC_ERROR, err_fn, &el, NULL, 0, NULL));
	assert_weir_ok(weir_subscribe(
	    &esub, bus, WEIR_TOPIC_ERROR, err_fn, &es, NULL, NULL));
	assert_weir_ok(weir_publish(bus, "job.run", "x", 1, 0, NULL));
	run_nowait();
	assert_int_equal(r.calls, 1);
	assert_int_equal(el.calls, 1); // the listener: at once
	assert_string_equal(el.origin, "worker");
	assert_string_equal(el.err, "WEIR_EBACKEND");
	assert_string_equal(el.cause_topic, "job.run");
	run_nowait(); // the error subscription: queued
	assert_int_equal(es.calls, 1);
	assert_string_equal(es.origin, "worker");
	weir_subscr_stats st = WEIR_STRUCT_INIT(weir_subscr_stats);
	assert_weir_ok(weir_subscr_stats_get(sub, &st));
	assert_int_equal(st.delivered, 1);
	assert_int_equal(st.failed, 1);
	weir_unsubscribe(sub);
	weir_unsubscribe(esub);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_publish_string_handle_event),
		T(test_fan_out_shares_event),
		T(test_bad_input),
		T(test_unsubscribe_from_own_handler),
		T(test_unsubscribe_other_thread),
		T(test_take_ok_and_no_subscriber),
		T(test_unsubscribe_releases_queued),
		T(test_take_error_caller_keeps),
		T(test_take_full_bus_owns),
		T(test_handler_failure_to_error_topic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
