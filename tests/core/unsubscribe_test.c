/*
 * weir_unsubscribe from every kind of thread (issue 8, defect 2): two
 * handlers on two bus loop threads that unsubscribe each other, a
 * handler that unsubscribes itself and a subscription of its own loop,
 * and an application thread that waits out a running call. Each arg_free
 * must run exactly once, on the thread weir.h names.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "weir_test.h"

// Bound of one mutual-unsubscribe round: a deadlock shows as a failure
// after it, not as a ctest timeout.
#define DEADLOCK_MS 20000
// Bound of one wait of a handler for its peer.
#define PEER_MS 10000

// Waits until *v >= want or the monotonic clock passes @p end_ms.
static int
wait_int_until(atomic_int *v, int want, int64_t end_ms)
{
	while (atomic_load(v) < want) {
		if (wt_now_ms() > end_ms) {
			return 0;
		}
		sched_yield();
	}
	return 1;
}

/* ---- mutual unsubscribe on two loop threads ------------------------ */

// Rounds in lockstep, then as many with the second wait left out.
#define MUTUAL_ROUNDS 600

typedef struct mutual_pair mutual_pair;

// One side of a pair: the arg of one subscription.
typedef struct mutual_side {
	mutual_pair *pair;
	int          i;
	pthread_t    handler_thread;
	atomic_int   calls;
	atomic_int   returned; // counted as the handler's last step
	atomic_int   frees;
	pthread_t    free_thread;
	atomic_int   freed_in_call; // arg_free ran before the call ended
} mutual_side;

struct mutual_pair {
	int          lockstep; // neither returns before both closed
	weir_subscr *sub[2];
	mutual_side  side[2];
	atomic_int   arrived;  // handlers that started
	atomic_int   unsubbed; // handlers whose unsubscribe returned
	atomic_int   peer_lost;
};

static atomic_int mutual_frees;

static weir_err
mutual_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	mutual_side *sd    = arg;
	mutual_pair *p     = sd->pair;
	sd->handler_thread = pthread_self();
	atomic_fetch_add(&sd->calls, 1);
	// Both calls run at once before either unsubscribes: each closes
	// a subscription whose handler runs (or has just run) on the
	// other loop thread. In lockstep, neither returns before both
	// unsubscribes returned, so each closes a running call.
	atomic_fetch_add(&p->arrived, 1);
	if (!wait_int_until(&p->arrived, 2, wt_now_ms() + PEER_MS)) {
		atomic_store(&p->peer_lost, 1);
	}
	weir_unsubscribe(p->sub[1 - sd->i]);
	atomic_fetch_add(&p->unsubbed, 1);
	if (p->lockstep &&
	    !wait_int_until(&p->unsubbed, 2, wt_now_ms() + PEER_MS)) {
		atomic_store(&p->peer_lost, 1);
	}
	atomic_fetch_add(&sd->returned, 1);
	return WEIR_OK;
}

static void
mutual_free(void *arg)
{
	mutual_side *sd = arg;
	sd->free_thread = pthread_self();
	if (atomic_load(&sd->calls) != atomic_load(&sd->returned)) {
		atomic_store(&sd->freed_in_call, 1);
	}
	atomic_fetch_add(&sd->frees, 1);
	atomic_fetch_add(&mutual_frees, 1);
}

static weir_subscr *
mutual_subscribe(weir_bus *bus, const char *topic, mutual_side *sd)
{
	weir_subscr_config *sc;
	weir_subscr        *sub = NULL;
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_ok(weir_subscr_config_set_loop_index(sc, (size_t) sd->i));
	assert_weir_ok(weir_subscribe(
	    &sub, bus, topic, mutual_handler, sd, mutual_free, sc));
	weir_subscr_config_destroy(sc);
	return sub;
}

static void
mutual_check(mutual_pair *p)
{
	assert_int_equal(atomic_load(&p->peer_lost), 0);
	for (int i = 0; i < 2; i++) {
		mutual_side *sd = &p->side[i];
		assert_int_equal(atomic_load(&sd->calls), 1);
		assert_int_equal(atomic_load(&sd->frees), 1);
		// Closed from the other loop while its call ran: freed on
		// the loop thread that ran the call, once it returned.
		assert_int_equal(atomic_load(&sd->freed_in_call), 0);
		if (p->lockstep) {
			assert_true(pthread_equal(
			    sd->free_thread, sd->handler_thread));
		} else {
			// Or, if its call had returned, on the closer's.
			assert_true(pthread_equal(
			                sd->free_thread, sd->handler_thread) ||
			    pthread_equal(sd->free_thread,
			        p->side[1 - i].handler_thread));
		}
	}
}

static void
test_mutual_unsubscribe_two_loops(void **state)
{
	(void) state;
	static mutual_pair pairs[MUTUAL_ROUNDS];
	memset(pairs, 0, sizeof(pairs));
	atomic_store(&mutual_frees, 0);
	weir_bus *bus = wt_bus_with_loops(2);
	assert_non_null(bus);
	assert_weir_ok(weir_bus_start(bus));
	for (int r = 0; r < MUTUAL_ROUNDS; r++) {
		mutual_pair *p = &pairs[r];
		char         topic[32];
		snprintf(topic, sizeof(topic), "mutual.%d", r);
		p->lockstep = r < MUTUAL_ROUNDS / 2;
		for (int i = 0; i < 2; i++) {
			p->side[i].pair = p;
			p->side[i].i    = i;
			p->sub[i] = mutual_subscribe(bus, topic, &p->side[i]);
		}
		assert_weir_ok(weir_publish(bus, topic, "x", 1, 0, NULL));
		if (!wait_int_until(&mutual_frees, 2 * (r + 1),
		        wt_now_ms() + DEADLOCK_MS)) {
			// Both loop threads wait on each other: the bus can
			// no longer be destroyed, so it is left behind.
			fail_msg("round %d: no arg_free after %d ms "
			         "(mutual unsubscribe deadlocked)",
			    r, DEADLOCK_MS);
		}
		mutual_check(p);
	}
	weir_bus_destroy(bus);
	for (int r = 0; r < MUTUAL_ROUNDS; r++) {
		assert_int_equal(atomic_load(&pairs[r].side[0].frees), 1);
		assert_int_equal(atomic_load(&pairs[r].side[1].frees), 1);
	}
}

/* ---- own subscription and one of the same loop --------------------- */

typedef struct self_arg {
	atomic_int calls;
	atomic_int frees;
	pthread_t  free_thread;
	atomic_int returning;
	atomic_int freed_in_call;
} self_arg;

typedef struct self_state {
	weir_subscr *a; // unsubscribes b, then itself
	weir_subscr *b; // same loop
	self_arg     aa;
	self_arg     ba;
	int          b_freed_at_return; // b's arg_free ran inside unsub
	int          a_freed_at_return;
	pthread_t    a_thread;
} self_state;

static self_state self_st;

static void
self_free(void *arg)
{
	self_arg *sa    = arg;
	sa->free_thread = pthread_self();
	if (sa == &self_st.aa && !atomic_load(&sa->returning)) {
		atomic_store(&sa->freed_in_call, 1);
	}
	atomic_fetch_add(&sa->frees, 1);
}

static weir_err
self_a_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	self_arg *sa     = arg;
	self_st.a_thread = pthread_self();
	atomic_fetch_add(&sa->calls, 1);
	// b is not running (this thread runs its loop): closed and freed
	// at once, here. a is: freed when this call returns.
	weir_unsubscribe(self_st.b);
	self_st.b_freed_at_return = atomic_load(&self_st.ba.frees);
	weir_unsubscribe(self_st.a);
	self_st.a_freed_at_return = atomic_load(&self_st.aa.frees);
	atomic_store(&sa->returning, 1);
	return WEIR_OK;
}

static weir_err
self_b_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	atomic_fetch_add(&((self_arg *) arg)->calls, 1);
	return WEIR_OK;
}

static void
test_unsubscribe_self_and_same_loop(void **state)
{
	(void) state;
	memset(&self_st, 0, sizeof(self_st));
	weir_bus *bus;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_subscribe(&self_st.a, bus, "self.t",
	    self_a_handler, &self_st.aa, self_free, NULL));
	assert_weir_ok(weir_subscribe(&self_st.b, bus, "self.u",
	    self_b_handler, &self_st.ba, self_free, NULL));
	// a first on the ready list, then b: a's handler runs first.
	for (int i = 0; i < 3; i++) {
		assert_weir_ok(weir_publish(bus, "self.t", NULL, 0, 0, NULL));
		assert_weir_ok(weir_publish(bus, "self.u", NULL, 0, 0, NULL));
	}
	assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT));
	assert_int_equal(atomic_load(&self_st.aa.calls), 1);
	assert_int_equal(atomic_load(&self_st.ba.calls), 0);
	assert_int_equal(self_st.b_freed_at_return, 1);
	assert_int_equal(self_st.a_freed_at_return, 0);
	assert_int_equal(atomic_load(&self_st.aa.frees), 1);
	assert_int_equal(atomic_load(&self_st.aa.freed_in_call), 0);
	// This thread ran the loop: both args were freed on it.
	assert_true(pthread_equal(self_st.aa.free_thread, pthread_self()));
	assert_true(pthread_equal(self_st.ba.free_thread, pthread_self()));
	assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT));
	weir_bus_destroy(bus);
	assert_int_equal(atomic_load(&self_st.aa.frees), 1);
	assert_int_equal(atomic_load(&self_st.ba.frees), 1);
	assert_int_equal(atomic_load(&self_st.ba.calls), 0);
}

/* ---- an application thread waits for the running call -------------- */

typedef struct wait_state {
	weir_subscr *sub;
	atomic_int   inside;
	atomic_int   go;
	atomic_int   returned;
	atomic_int   frees;
	int          frees_at_return;
	int          returned_at_return;
} wait_state;

static weir_err
wait_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	wait_state *ws = arg;
	atomic_store(&ws->inside, 1);
	wait_int_until(&ws->go, 1, wt_now_ms() + PEER_MS);
	atomic_store(&ws->returned, 1);
	return WEIR_OK;
}

static void
wait_free(void *arg)
{
	atomic_fetch_add(&((wait_state *) arg)->frees, 1);
}

static void *
wait_unsubscriber(void *arg)
{
	wait_state *ws = arg;
	weir_unsubscribe(ws->sub);
	ws->frees_at_return    = atomic_load(&ws->frees);
	ws->returned_at_return = atomic_load(&ws->returned);
	return NULL;
}

static void
test_application_thread_waits(void **state)
{
	(void) state;
	static wait_state ws;
	memset(&ws, 0, sizeof(ws));
	weir_bus *bus = wt_bus_with_loops(1);
	assert_non_null(bus);
	assert_weir_ok(weir_subscribe(
	    &ws.sub, bus, "wait.t", wait_handler, &ws, wait_free, NULL));
	assert_weir_ok(weir_bus_start(bus));
	assert_weir_ok(weir_publish(bus, "wait.t", NULL, 0, 0, NULL));
	assert_true(wait_int_until(&ws.inside, 1, wt_now_ms() + PEER_MS));
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, wait_unsubscriber, &ws), 0);
	atomic_store(&ws.go, 1);
	pthread_join(th, NULL);
	// Not a loop thread: it returned after the call, with arg freed.
	assert_int_equal(ws.returned_at_return, 1);
	assert_int_equal(ws.frees_at_return, 1);
	weir_bus_destroy(bus);
	assert_int_equal(atomic_load(&ws.frees), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unsubscribe_self_and_same_loop),
		cmocka_unit_test(test_application_thread_waits),
		cmocka_unit_test(test_mutual_unsubscribe_two_loops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
