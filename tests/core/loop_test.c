// The loop: run modes, stop, timers, fd watchers, the wake-up fd.
// Built twice, against the epoll and the poll backend (LOOP_BACKEND).
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "weir_test.h"

#include "core/loop.h" // the poller, need_wake: wake-ups and sleep

static void
test_backend_name(void **state)
{
	(void) state;
	assert_string_equal(weir_loop_backend(), LOOP_BACKEND);
}

static void
test_create_destroy_bad(void **state)
{
	(void) state;
	weir_loop *loop;
	assert_weir_err(weir_loop_create(NULL), WEIR_EINVAL);
	assert_weir_ok(weir_loop_create(&loop));
	assert_true(weir_loop_fd(loop) >= 0);
	assert_int_equal(weir_loop_fd(NULL), -1);
	assert_weir_err(weir_loop_run(NULL, WEIR_RUN_NOWAIT), WEIR_EINVAL);
	assert_weir_err(weir_loop_run(loop, (weir_run_mode) 7), WEIR_EINVAL);
	assert_weir_ok(weir_loop_run(loop, WEIR_RUN_NOWAIT)); // nothing to do
	weir_loop_stop(NULL);
	assert_weir_ok(weir_loop_destroy(loop));
	assert_weir_ok(weir_loop_destroy(NULL));
}

static void
count_timer(weir_timer *t, void *arg)
{
	(void) t;
	(*(int *) arg)++;
}

static void
test_run_once_waits(void **state)
{
	(void) state;
	weir_loop  *loop;
	weir_timer *t;
	int         fired = 0;
	assert_weir_ok(weir_loop_create(&loop));
	assert_weir_ok(weir_timer_start(&t, loop, 30, 0, count_timer, &fired));
	int64_t t0 = wt_now_ms();
	assert_weir_ok(weir_loop_run(loop, WEIR_RUN_NOWAIT)); // not due
	assert_int_equal(fired, 0);
	// ONCE waits for the timer, runs it, returns.
	while (fired == 0) {
		assert_weir_ok(weir_loop_run(loop, WEIR_RUN_ONCE));
		assert_true(wt_now_ms() - t0 < WT_WAIT_MS);
	}
	assert_int_equal(fired, 1);
	assert_true(wt_now_ms() - t0 >= 25);
	weir_timer_stop(t);
	assert_weir_ok(weir_loop_destroy(loop));
}

// Stops the loop once it runs and may sleep: it set need_wake, the
// last thing it does before it waits in the poller. (Not the test's
// thread: after WT_WAIT_MS it stops the loop anyway, so the test ends.)
static void *
stop_when_asleep(void *arg)
{
	weir_loop *loop = arg;
	int64_t    end  = wt_now_ms() + WT_WAIT_MS;
	while (
	    !(atomic_load(&loop->running) && atomic_load(&loop->need_wake)) &&
	    wt_now_ms() < end) {
		wt_sleep_ms(1);
	}
	weir_loop_stop(loop);
	return NULL;
}

static void
test_stop_from_other_thread(void **state)
{
	(void) state;
	weir_loop *loop;
	assert_weir_ok(weir_loop_create(&loop));
	for (int i = 0; i < 3; i++) {
		pthread_t th;
		assert_int_equal(
		    pthread_create(&th, NULL, stop_when_asleep, loop), 0);
		int64_t t0 = wt_now_ms();
		assert_weir_ok(weir_loop_run(loop, WEIR_RUN_DEFAULT));
		assert_true(wt_now_ms() - t0 < WT_WAIT_MS);
		pthread_join(th, NULL);
	}
	assert_weir_ok(weir_loop_destroy(loop));
}

typedef struct tstate {
	weir_loop *loop;
	int        calls;
	int        stop_at;
	char      *order;
	char       tag;
} tstate;

static void
tick(weir_timer *t, void *arg)
{
	tstate *s = arg;
	s->calls++;
	if (s->order != NULL) {
		size_t n        = strlen(s->order);
		s->order[n]     = s->tag;
		s->order[n + 1] = '\0';
	}
	if (s->stop_at && s->calls == s->stop_at) {
		weir_timer_stop(t); // from its own callback
	}
}

static void
stop_loop_timer(weir_timer *t, void *arg)
{
	(void) t;
	weir_loop_stop(arg);
}

// test_timers' judge: stops the loop once every timer has done what it
// must and the stopped one's due time is well past, or at the deadline
// (then the asserts fail). Waiting on the outcome, not a fixed 80 ms: a
// loaded machine may run the loop late, and a late repeating timer
// fires once for the beats it missed.
typedef struct tjudge {
	weir_loop    *loop;
	const tstate *one, *rep, *fired_once;
	int64_t       t0;
} tjudge;

static void
judge_timers(weir_timer *t, void *arg)
{
	(void) t;
	tjudge *j       = arg;
	int64_t elapsed = wt_now_ms() - j->t0;
	int     done    = j->one->calls == 1 && j->rep->calls == 5 &&
	    j->fired_once->calls == 1 && elapsed >= 40;
	if (done || elapsed > WT_WAIT_MS) {
		weir_loop_stop(j->loop);
	}
}

static void
test_timers(void **state)
{
	(void) state;
	weir_loop  *loop;
	weir_timer *one, *rep, *never, *stop, *fired_once;
	assert_weir_ok(weir_loop_create(&loop));
	tstate a = { .loop = loop }, r = { .loop = loop, .stop_at = 5 },
	       n = { .loop = loop }, f = { .loop = loop };
	assert_weir_ok(weir_timer_start(&one, loop, 5, 0, tick, &a));
	assert_weir_ok(weir_timer_start(&rep, loop, 1, 3, tick, &r));
	assert_weir_ok(weir_timer_start(&never, loop, 10, 0, tick, &n));
	assert_weir_ok(weir_timer_start(&fired_once, loop, 0, 0, tick, &f));
	weir_timer_stop(never); // stopped before it was due
	tjudge j = { loop, &a, &r, &f, wt_now_ms() };
	assert_weir_ok(weir_timer_start(&stop, loop, 2, 2, judge_timers,
	    &j)); // stop from a callback
	assert_weir_ok(weir_loop_run(loop, WEIR_RUN_DEFAULT));
	assert_int_equal(a.calls, 1);
	assert_int_equal(r.calls, 5); // it stopped itself
	assert_int_equal(n.calls, 0);
	assert_int_equal(f.calls, 1);
	weir_timer_stop(one); // a fired one-shot may still be stopped
	weir_timer_stop(stop);
	weir_timer_stop(NULL);
	assert_weir_err(
	    weir_timer_start(&one, NULL, 1, 0, tick, &a), WEIR_EINVAL);
	assert_weir_err(
	    weir_timer_start(&one, loop, 1, 0, NULL, &a), WEIR_EINVAL);
	assert_weir_err(
	    weir_timer_start(NULL, loop, 1, 0, tick, &a), WEIR_EINVAL);
	// fired_once is left armed-and-fired: freed with the loop.
	assert_weir_ok(weir_loop_destroy(loop));
}

static void
test_timer_order(void **state)
{
	(void) state;
	weir_loop  *loop;
	weir_timer *t[6];
	char        order[16] = "";
	assert_weir_ok(weir_loop_create(&loop));
	tstate s[5] = {
		{ .order = order, .tag = 'D' },
		{ .order = order, .tag = 'B' },
		{ .order = order, .tag = 'C' },
		{ .order = order, .tag = 'A' },
		{ .order = order, .tag = 'b' },
	};
	const uint64_t due[5] = { 40, 10, 25, 0, 10 };
	for (int i = 0; i < 5; i++) {
		assert_weir_ok(
		    weir_timer_start(&t[i], loop, due[i], 0, tick, &s[i]));
	}
	assert_weir_ok(
	    weir_timer_start(&t[5], loop, 60, 0, stop_loop_timer, loop));
	assert_weir_ok(weir_loop_run(loop, WEIR_RUN_DEFAULT));
	// By due time; ties in start order.
	assert_string_equal(order, "ABbCD");
	assert_weir_ok(weir_loop_destroy(loop));
}

typedef struct wstate {
	int         calls;
	int         events;
	int         stop_in_cb;
	weir_watch *w;
} wstate;

static void
on_readable(weir_watch *w, int fd, int events, void *arg)
{
	wstate *s = arg;
	char    buf[16];
	s->calls++;
	s->events = events;
	ssize_t n = read(fd, buf, sizeof(buf));
	(void) n;
	if (s->stop_in_cb) {
		weir_watch_stop(w);
		s->w = NULL;
	}
}

// One live watcher per fd and loop (as libuv allows one poll handle
// per socket): a second is refused with WEIR_EBUSY and the first keeps
// its events; once the first is stopped, the fd may be watched again.
static void
test_fd_one_watcher(void **state)
{
	(void) state;
	weir_loop *loop;
	int        p[2];
	assert_int_equal(pipe(p), 0);
	assert_weir_ok(weir_loop_create(&loop));
	wstate a = { 0 }, b = { 0 };
	assert_weir_ok(weir_watch_start(
	    &a.w, loop, p[0], WEIR_WATCH_READ, on_readable, &a));
	b.w = NULL;
	assert_weir_err(weir_watch_start(&b.w, loop, p[0], WEIR_WATCH_WRITE,
	                    on_readable, &b),
	    WEIR_EBUSY);
	assert_null(b.w);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_weir_ok(weir_loop_run(loop, WEIR_RUN_ONCE));
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 0);
	weir_watch_stop(a.w);
	assert_weir_ok(weir_watch_start(
	    &b.w, loop, p[0], WEIR_WATCH_READ, on_readable, &b));
	assert_int_equal(write(p[1], "y", 1), 1);
	assert_weir_ok(weir_loop_run(loop, WEIR_RUN_ONCE));
	assert_int_equal(b.calls, 1);
	assert_int_equal(a.calls, 1);
	weir_watch_stop(b.w);
	assert_weir_ok(weir_loop_destroy(loop));
	close(p[0]);
	close(p[1]);
}

// A callback that stops its own watch and starts another on the same
// fd in the same pass (to change its callback or argument): the stopped
// one, freed only after the pass, does not count as the fd's watcher,
// and the new one gets the fd's next events.
typedef struct rewatch {
	weir_loop *loop;
	wstate     next;
	weir_err   rv;
	int        calls;
} rewatch;

static void
on_readable_rewatch(weir_watch *w, int fd, int events, void *arg)
{
	rewatch *r = arg;
	char     buf[16];
	(void) events;
	r->calls++;
	ssize_t n = read(fd, buf, sizeof(buf));
	(void) n;
	weir_watch_stop(w);
	r->rv = weir_watch_start(
	    &r->next.w, r->loop, fd, WEIR_WATCH_READ, on_readable, &r->next);
}

static void
test_fd_rewatch_in_callback(void **state)
{
	(void) state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	rewatch     r = { 0 };
	weir_watch *w;
	assert_weir_ok(weir_loop_create(&r.loop));
	assert_weir_ok(weir_watch_start(
	    &w, r.loop, p[0], WEIR_WATCH_READ, on_readable_rewatch, &r));
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_weir_ok(weir_loop_run(r.loop, WEIR_RUN_ONCE));
	assert_int_equal(r.calls, 1);
	assert_weir_ok(r.rv);
	assert_non_null(r.next.w);
	assert_int_equal(r.next.calls, 0);
	assert_int_equal(write(p[1], "y", 1), 1);
	assert_weir_ok(weir_loop_run(r.loop, WEIR_RUN_ONCE));
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.next.calls, 1);
	assert_int_equal(r.next.events, WEIR_WATCH_READ);
	weir_watch_stop(r.next.w);
	assert_weir_ok(weir_loop_destroy(r.loop));
	close(p[0]);
	close(p[1]);
}

static void
test_fd_watcher(void **state)
{
	(void) state;
	weir_loop *loop;
	int        p[2];
	assert_int_equal(pipe(p), 0);
	assert_weir_ok(weir_loop_create(&loop));
	wstate s = { 0 };
	assert_weir_err(
	    weir_watch_start(&s.w, loop, -1, WEIR_WATCH_READ, on_readable, &s),
	    WEIR_EINVAL);
	assert_weir_err(weir_watch_start(&s.w, loop, p[0], 0, on_readable, &s),
	    WEIR_EINVAL);
	assert_weir_err(weir_watch_start(&s.w, loop, p[0], 8, on_readable, &s),
	    WEIR_EINVAL);
	assert_weir_err(
	    weir_watch_start(&s.w, loop, p[0], WEIR_WATCH_READ, NULL, &s),
	    WEIR_EINVAL);
	assert_weir_ok(weir_watch_start(
	    &s.w, loop, p[0], WEIR_WATCH_READ, on_readable, &s));
	assert_weir_ok(weir_loop_run(loop, WEIR_RUN_NOWAIT));
	assert_int_equal(s.calls, 0); // nothing to read yet
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_weir_ok(weir_loop_run(loop, WEIR_RUN_ONCE));
	assert_int_equal(s.calls, 1);
	assert_true(s.events & WEIR_WATCH_READ);
	assert_weir_ok(weir_loop_run(loop, WEIR_RUN_NOWAIT));
	assert_int_equal(s.calls, 1); // drained: not readable
	// Stop from its own callback: no call afterwards.
	s.stop_in_cb = 1;
	assert_int_equal(write(p[1], "y", 1), 1);
	assert_weir_ok(weir_loop_run(loop, WEIR_RUN_ONCE));
	assert_int_equal(s.calls, 2);
	assert_null(s.w);
	assert_int_equal(write(p[1], "z", 1), 1);
	assert_weir_ok(weir_loop_run(loop, WEIR_RUN_NOWAIT));
	assert_int_equal(s.calls, 2);
	// Stop from outside, while data is pending.
	wstate s2 = { 0 };
	assert_weir_ok(weir_watch_start(
	    &s2.w, loop, p[0], WEIR_WATCH_READ, on_readable, &s2));
	weir_watch_stop(s2.w);
	weir_watch_stop(NULL);
	assert_weir_ok(weir_loop_run(loop, WEIR_RUN_NOWAIT));
	assert_int_equal(s2.calls, 0);
	// A write watcher on the other end is ready at once.
	wstate s3 = { 0 };
	assert_weir_ok(weir_watch_start(
	    &s3.w, loop, p[1], WEIR_WATCH_WRITE, on_readable, &s3));
	assert_weir_ok(weir_loop_run(loop, WEIR_RUN_ONCE));
	assert_true(s3.calls >= 1);
	assert_true(s3.events & WEIR_WATCH_WRITE);
	weir_watch_stop(s3.w);
	assert_weir_ok(weir_loop_destroy(loop));
	close(p[0]);
	close(p[1]);
}

// Subscriptions on a loop.
static atomic_int handler_calls;

static weir_err
count_fn(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	(void) arg;
	atomic_fetch_add(&handler_calls, 1);
	return WEIR_OK;
}

static weir_err
stop_fn(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) ev;
	(void) arg;
	atomic_fetch_add(&handler_calls, 1);
	weir_bus_stop(bus);
	return WEIR_OK;
}

static void
test_stop_from_handler(void **state)
{
	(void) state;
	weir_bus    *bus;
	weir_subscr *sub;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(
	    weir_subscribe(&sub, bus, "s", stop_fn, NULL, NULL, NULL));
	atomic_store(&handler_calls, 0);
	assert_weir_ok(weir_publish(bus, "s", NULL, 0, 0, NULL));
	assert_weir_ok(weir_bus_run(bus, WEIR_RUN_DEFAULT)); // returns
	assert_int_equal(atomic_load(&handler_calls), 1);
	weir_unsubscribe(sub);
	weir_bus_destroy(bus);
}

static void
test_fd_readable_on_publish(void **state)
{
	(void) state;
	weir_bus    *bus;
	weir_subscr *sub;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(
	    weir_subscribe(&sub, bus, "f", count_fn, NULL, NULL, NULL));
	int fd = weir_bus_fd(bus);
	assert_true(fd >= 0);
	assert_int_equal(fd, weir_loop_fd(weir_bus_loop(bus)));
	atomic_store(&handler_calls, 0);
	for (int round = 0; round < 3; round++) {
		assert_false(wt_fd_readable(fd)); // idle
		assert_weir_ok(weir_publish(bus, "f", "x", 1, 0, NULL));
		assert_true(wt_fd_readable(fd)); // work is pending
		assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT));
		assert_int_equal(atomic_load(&handler_calls), round + 1);
	}
	assert_false(wt_fd_readable(fd));
	weir_unsubscribe(sub);
	weir_bus_destroy(bus);
}

// Drains the backend's wake-up (eventfd or pipe): the number of wakes
// since the last drain.
static uint64_t
wake_writes(weir_loop *loop)
{
	return weir__poller_drain(loop->poller);
}

static void
test_wake_once_per_edge_idle(void **state)
{
	(void) state;
	// The loop is not running: 10,000 events on 3 subscriptions write
	// the wake-up fd once, not once per event.
	weir_bus           *bus;
	weir_subscr        *sub[3];
	weir_subscr_config *sc;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_ok(weir_subscr_config_set_capacity(sc, 20000));
	for (int i = 0; i < 3; i++) {
		assert_weir_ok(weir_subscribe(
		    &sub[i], bus, "w.*", count_fn, NULL, NULL, sc));
	}
	weir_subscr_config_destroy(sc);
	weir_loop *loop = weir_bus_loop(bus);
	atomic_store(&handler_calls, 0);
	for (int round = 0; round < 3; round++) {
		assert_int_equal(wake_writes(loop), 0);
		for (int i = 0; i < 10000; i++) {
			assert_weir_ok(
			    weir_publish(bus, "w.x", &i, sizeof(i), 0, NULL));
		}
		uint64_t w = wake_writes(loop);
		assert_true(w >= 1); // somebody told the loop
		assert_true(w <= 3); // but not per event
		for (int i = 0; i < 200 &&
		     atomic_load(&handler_calls) < 30000 * (round + 1);
		     i++) {
			assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT));
		}
		assert_int_equal(
		    atomic_load(&handler_calls), 30000 * (round + 1));
		wake_writes(loop); // whatever the passes themselves wrote
	}
	for (int i = 0; i < 3; i++) {
		weir_unsubscribe(sub[i]);
	}
	weir_bus_destroy(bus);
}

// A handler that blocks until released, so that the loop is busy.
static pthread_mutex_t gate_mx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t  gate_cv = PTHREAD_COND_INITIALIZER;
static int             gate_open;
static atomic_int      gate_entered;

static weir_err
gated_fn(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	(void) arg;
	atomic_store(&gate_entered, 1);
	pthread_mutex_lock(&gate_mx);
	while (!gate_open) {
		pthread_cond_wait(&gate_cv, &gate_mx);
	}
	pthread_mutex_unlock(&gate_mx);
	atomic_fetch_add(&handler_calls, 1);
	return WEIR_OK;
}

static void
test_no_wake_while_busy(void **state)
{
	(void) state;
	// While the loop is busy dispatching, 10,000 more events write the
	// wake-up fd not at all: the subscription is already scheduled.
	weir_bus           *bus;
	weir_subscr        *sub;
	weir_subscr_config *sc;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_ok(weir_subscr_config_set_capacity(sc, 20000));
	assert_weir_ok(
	    weir_subscribe(&sub, bus, "b", gated_fn, NULL, NULL, sc));
	weir_subscr_config_destroy(sc);
	weir_loop *loop = weir_bus_loop(bus);
	atomic_store(&handler_calls, 0);
	atomic_store(&gate_entered, 0);
	gate_open = 0;
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, wt_run_bus, bus), 0);
	assert_weir_ok(weir_publish(bus, "b", NULL, 0, 0, NULL));
	wt_wait_until(atomic_load(&gate_entered));
	wake_writes(loop); // reset
	for (int i = 0; i < 10000; i++) {
		assert_weir_ok(weir_publish(bus, "b", NULL, 0, 0, NULL));
	}
	assert_int_equal(wake_writes(loop), 0);
	// Run while it runs elsewhere: EBUSY; destroy while running: EBUSY.
	assert_weir_err(weir_bus_run(bus, WEIR_RUN_NOWAIT), WEIR_EBUSY);
	assert_weir_err(weir_loop_run(loop, WEIR_RUN_DEFAULT), WEIR_EBUSY);
	pthread_mutex_lock(&gate_mx);
	gate_open = 1;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate_mx);
	wt_wait_until(atomic_load(&handler_calls) >= 10001);
	weir_bus_stop(bus);
	pthread_join(th, NULL);
	weir_unsubscribe(sub);
	weir_bus_destroy(bus);
}

static void
test_destroy_with_subscriptions_busy(void **state)
{
	(void) state;
	weir_bus    *bus;
	weir_loop   *loop;
	weir_subscr *sub;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_loop_create(&loop));
	wt_subscribe_on(&sub, bus, loop, "d", count_fn, NULL);
	assert_weir_err(weir_loop_destroy(loop), WEIR_EBUSY);
	// The subscription runs on its own loop, not the bus's.
	atomic_store(&handler_calls, 0);
	assert_weir_ok(weir_publish(bus, "d", NULL, 0, 0, NULL));
	assert_weir_ok(weir_bus_run(bus, WEIR_RUN_NOWAIT));
	assert_int_equal(atomic_load(&handler_calls), 0);
	assert_weir_ok(weir_loop_run(loop, WEIR_RUN_NOWAIT));
	assert_int_equal(atomic_load(&handler_calls), 1);
	// Queued but not dispatched, then closed: the loop can go.
	assert_weir_ok(weir_publish(bus, "d", NULL, 0, 0, NULL));
	weir_unsubscribe(sub);
	assert_weir_ok(weir_loop_destroy(loop));
	assert_int_equal(atomic_load(&handler_calls), 1);
	weir_bus_destroy(bus);
}

static int many_fired;

// A repeating timer that stops itself twice on its first call.
static void
stop_twice_cb(weir_timer *t, void *arg)
{
	(void) arg;
	many_fired++;
	weir_timer_stop(t);
	weir_timer_stop(t);
}

// More timers than the heap's first array (16): all fire, in one pass;
// a repeating one stopped twice in its own callback fires once.
static void
test_many_timers(void **state)
{
	(void) state;
	weir_loop  *loop;
	weir_timer *t;
	assert_weir_ok(weir_loop_create(&loop));
	many_fired = 0;
	for (int i = 0; i < 40; i++) {
		assert_weir_ok(
		    weir_timer_start(&t, loop, 0, 1, stop_twice_cb, NULL));
	}
	assert_weir_ok(weir_loop_run(loop, WEIR_RUN_ONCE));
	assert_int_equal(many_fired, 40);
	assert_int_equal(weir_loop_timeout(loop), -1);
	assert_weir_ok(weir_loop_destroy(loop));
}

static int behind_fired;

static void
behind_cb(weir_timer *t, void *arg)
{
	(void) t;
	(void) arg;
	behind_fired++;
}

// A repeating timer that fell far behind (50 periods) does not fire
// the missed periods in a burst.
static void
test_timer_fell_behind(void **state)
{
	(void) state;
	weir_loop  *loop;
	weir_timer *t;
	assert_weir_ok(weir_loop_create(&loop));
	assert_weir_ok(weir_timer_start(&t, loop, 1, 1, behind_cb, NULL));
	wt_sleep_ms(50); // not a wait for a condition: the lateness itself
	assert_weir_ok(weir_loop_run(loop, WEIR_RUN_NOWAIT));
	assert_true(behind_fired >= 1 && behind_fired <= 2);
	weir_timer_stop(t);
	assert_weir_ok(weir_loop_destroy(loop));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backend_name),
		cmocka_unit_test(test_create_destroy_bad),
		cmocka_unit_test(test_run_once_waits),
		cmocka_unit_test(test_stop_from_other_thread),
		cmocka_unit_test(test_timers),
		cmocka_unit_test(test_timer_order),
		cmocka_unit_test(test_fd_watcher),
		cmocka_unit_test(test_fd_one_watcher),
		cmocka_unit_test(test_fd_rewatch_in_callback),
		cmocka_unit_test(test_stop_from_handler),
		cmocka_unit_test(test_fd_readable_on_publish),
		cmocka_unit_test(test_wake_once_per_edge_idle),
		cmocka_unit_test(test_no_wake_while_busy),
		cmocka_unit_test(test_destroy_with_subscriptions_busy),
		cmocka_unit_test(test_many_timers),
		cmocka_unit_test(test_timer_fell_behind),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
