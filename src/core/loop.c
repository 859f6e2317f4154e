// Design notes. One thread runs a loop at a time. Producers on any
// thread put a subscription on the ready list only on its queue's
// empty-to-scheduled edge, and write the wake-up (the backend's: an
// eventfd with epoll, a pipe with poll) only when
// `need_wake` says the loop may be about to sleep (or is not running,
// for a host loop polling weir_loop_fd()). A busy loop therefore costs
// producers no system call. The loop sets `need_wake` before its last
// look at the ready list and clears it after waking; the ready list's
// mutex orders that look against a producer's append. Work found in a
// pass (events published by handlers) runs in the next pass.
#include <stdint.h>

#include "core/alloc.h"
#include "core/loop.h"
#include "core/subscr.h"
#include "core/uuid.h"

#define LOOP_POLL_EVERY 16

weir_err
weir_loop_create(weir_loop **out)
{
	if (out == NULL) {
		return WEIR_EINVAL;
	}
	*out            = NULL;
	weir_loop *loop = weir__zalloc_aligned(sizeof(*loop));
	if (loop == NULL) {
		return WEIR_ENOMEM;
	}
	weir_err rv = weir__poller_create(&loop->poller);
	if (rv != WEIR_OK) {
		weir__free_aligned(loop);
		return rv;
	}
	atomic_init(&loop->need_wake, 1);
	atomic_init(&loop->gather_us, WEIR_LOOP_GATHER_US);
	loop->budget = SIZE_MAX;
	pthread_mutex_init(&loop->ready_mx, NULL);
	pthread_mutex_init(&loop->join_mx, NULL);
	pthread_cond_init(&loop->join_cv, NULL);
	weir__timers_init(&loop->timers);
	*out = loop;
	return WEIR_OK;
}

static void
loop_free_watches(weir_loop *loop, int only_dead)
{
	weir_watch **pp = &loop->watches;
	while (*pp != NULL) {
		weir_watch *w = *pp;
		if (only_dead && !w->dead) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		weir__free(w);
	}
	loop->dead_watches = 0;
}

weir_err
weir_loop_destroy(weir_loop *loop)
{
	if (loop == NULL) {
		return WEIR_OK;
	}
	if (atomic_load(&loop->running) || atomic_load(&loop->nsubs) > 0) {
		return WEIR_EBUSY;
	}
	// Closed subscriptions may still sit on the ready list.
	while (loop->ready_head != NULL) {
		weir_subscr *sub = loop->ready_head;
		loop->ready_head = weir__subscr_next(sub);
		weir__subscr_release(sub);
	}
	loop_free_watches(loop, 0);
	weir__timers_fini(&loop->timers);
	weir__poller_destroy(loop->poller);
	pthread_mutex_destroy(&loop->ready_mx);
	pthread_mutex_destroy(&loop->join_mx);
	pthread_cond_destroy(&loop->join_cv);
	weir__free_aligned(loop);
	return WEIR_OK;
}

static void
loop_wake(weir_loop *loop)
{
	weir__poller_wake(loop->poller);
}

void
weir__loop_schedule(weir_loop *loop, weir_subscr *sub, int carry)
{
	int remote =
	    !weir__loop_on_thread(loop) || (carry && loop->pass_remote);
	weir__subscr_hold(sub);
	pthread_mutex_lock(&loop->ready_mx);
	weir__subscr_set_next(sub, NULL);
	if (loop->ready_tail != NULL) {
		weir__subscr_set_next(loop->ready_tail, sub);
	} else {
		loop->ready_head = sub;
	}
	loop->ready_tail = sub;
	if (remote) {
		loop->ready_remote = 1;
	}
	atomic_store(&loop->ready_any, 1);
	pthread_mutex_unlock(&loop->ready_mx);
	if (atomic_load(&loop->need_wake) &&
	    atomic_exchange(&loop->need_wake, 0)) {
		loop_wake(loop);
	}
}

// The address of a thread-local variable names the calling thread, and
// fits in an atomic word: `owner` can then be read without a race.
static _Thread_local char loop_thread_token;

// Loops the calling thread runs now (a handler may drive another loop).
static _Thread_local int loop_thread_depth;

int
weir__loop_on_thread(weir_loop *loop)
{
	return atomic_load_explicit(&loop->owner, memory_order_relaxed) ==
	    (uintptr_t) &loop_thread_token;
}

int
weir__loop_any_on_thread(void)
{
	return loop_thread_depth > 0;
}

// Without the lock: a spinning loop must not fight producers for the
// ready list's mutex. `ready_any` changes under the mutex, and its
// seq_cst store and load pair with those of `need_wake`.
int
weir__loop_has_ready(weir_loop *loop)
{
	return atomic_load(&loop->ready_any);
}

static int
loop_has_ready(weir_loop *loop)
{
	return weir__loop_has_ready(loop);
}

// Puts back, in front, the subscriptions a step had no budget for.
static void
loop_requeue(weir_loop *loop, weir_subscr *first)
{
	weir_subscr *last = first;
	while (weir__subscr_next(last) != NULL) {
		last = weir__subscr_next(last);
	}
	pthread_mutex_lock(&loop->ready_mx);
	weir__subscr_set_next(last, loop->ready_head);
	if (loop->ready_head == NULL) {
		loop->ready_tail = last;
	}
	loop->ready_head = first;
	atomic_store(&loop->ready_any, 1);
	pthread_mutex_unlock(&loop->ready_mx);
}

static void
loop_run_ready(weir_loop *loop)
{
	pthread_mutex_lock(&loop->ready_mx);
	weir_subscr *sub = loop->ready_head;
	loop->ready_head = loop->ready_tail = NULL;
	loop->pass_remote                   = loop->ready_remote;
	loop->ready_remote                  = 0;
	atomic_store(&loop->ready_any, 0);
	pthread_mutex_unlock(&loop->ready_mx);
	while (sub != NULL && weir__loop_budget_left(loop)) {
		weir_subscr *next = weir__subscr_next(sub);
		weir__subscr_dispatch(sub);
		weir__subscr_release(sub); // the ready list's reference
		sub = next;
	}
	if (sub != NULL) {
		loop_requeue(loop, sub); // a step's budget ran out
	}
}

static void
loop_on_ready_fd(void *ud, int events, void *arg)
{
	(void) arg;
	weir_watch *w = ud;
	if (!w->dead) {
		w->cb(w, w->fd, events & w->events, w->arg);
	}
}

// Spin-then-sleep: look at the ready list for up to spin_us (less if
// a timer is due sooner) before sleeping. need_wake is still 0, so
// producers append without writing the wake fd.
static int
loop_spin(weir_loop *loop, int timeout_ms)
{
	int64_t spin = (int64_t) atomic_load_explicit(
	                   &loop->spin_us, memory_order_relaxed) *
	    1000;
	int64_t stream = weir__gather_spin_ns(loop);
	if (stream > spin) {
		spin = stream;
	}
	if (spin == 0) {
		return 0;
	}
	if (timeout_ms > 0 && spin > (int64_t) timeout_ms * 1000000) {
		spin = (int64_t) timeout_ms * 1000000;
	}
	weir__loop_bump(&loop->st.spins);
	if (weir__loop_busy_wait(loop, spin, 1)) {
		weir__loop_bump(&loop->st.spin_hits);
		return 1;
	}
	return 0;
}

// Only loads of lines producers rarely write, a pause per look (the
// other vCPU may be a sibling hyper-thread running the producer; a pause
// costs ~25 ns here) and the clock once every 16 looks.
int
weir__loop_busy_wait(weir_loop *loop, int64_t ns, int for_ready)
{
	int64_t end = weir__mono_ns() + ns;
	for (unsigned i = 1;; i++) {
		if (atomic_load_explicit(&loop->stop, memory_order_relaxed) ||
		    (for_ready && loop_has_ready(loop))) {
			return 1;
		}
		weir__cpu_relax();
		if ((i & 15) == 0 && weir__mono_ns() >= end) {
			return 0;
		}
	}
}

static int
loop_timeout(weir_loop *loop, weir_run_mode mode)
{
	if (mode == WEIR_RUN_NOWAIT || atomic_load(&loop->stop) ||
	    loop_has_ready(loop)) {
		return 0; // busy: need_wake stays 0, producers stay quiet
	}
	int t = weir__timers_timeout(&loop->timers);
	if (t != 0 && loop_spin(loop, t)) {
		return 0; // work came while spinning, producers stayed quiet
	}
	atomic_store(&loop->need_wake, 1);
	return loop_has_ready(loop) ? 0 : t; // look again after the store
}

void
weir__loop_pass(weir_loop *loop, weir_run_mode mode)
{
	weir__loop_bump(&loop->st.passes);
	weir__gather_wait(loop, mode);
	uint64_t before =
	    atomic_load_explicit(&loop->st.dispatched, memory_order_relaxed);
	// While queued events keep coming, descriptors are still polled
	// every LOOP_POLL_EVERY passes so watchers are not starved; the
	// wake fd may then stay readable a while, which costs nothing.
	int t = loop_timeout(loop, mode);
	if (t != 0 || mode == WEIR_RUN_NOWAIT ||
	    ++loop->polls_skipped >= LOOP_POLL_EVERY) {
		if (weir__poller_wait(
		        loop->poller, t, loop_on_ready_fd, loop)) {
			weir__loop_bump(&loop->st.wakeups);
		}
		loop->polls_skipped = 0;
	}
	if (atomic_load_explicit(&loop->need_wake, memory_order_relaxed)) {
		atomic_store(&loop->need_wake, 0);
	}
	weir__timers_run(&loop->timers);
	loop_run_ready(loop);
	if (loop->dead_watches) {
		loop_free_watches(loop, 1);
	}
	weir__gather_note(loop,
	    atomic_load_explicit(&loop->st.dispatched, memory_order_relaxed) -
	        before,
	    t != 0);
}

weir_err
weir_loop_run(weir_loop *loop, weir_run_mode mode)
{
	if (loop == NULL || (unsigned) mode > WEIR_RUN_NOWAIT) {
		return WEIR_EINVAL;
	}
	if (atomic_load(&loop->host) != NULL) {
		return WEIR_EBUSY; // a host loop drives it (weir_loop_step)
	}
	weir_err rv = weir__loop_enter(loop);
	if (rv != WEIR_OK) {
		return rv;
	}
	do {
		weir__loop_pass(loop, mode);
	} while (mode == WEIR_RUN_DEFAULT && !atomic_load(&loop->stop));
	weir__loop_leave(loop);
	return WEIR_OK;
}

weir_err
weir__loop_enter(weir_loop *loop)
{
	int expected = 0;
	if (!atomic_compare_exchange_strong(&loop->running, &expected, 1)) {
		return WEIR_EBUSY;
	}
	atomic_store_explicit(&loop->owner, (uintptr_t) &loop_thread_token,
	    memory_order_relaxed);
	atomic_store(&loop->need_wake, 0);
	loop_thread_depth++;
	return WEIR_OK;
}

int
weir__loop_leave(weir_loop *loop)
{
	atomic_store(&loop->stop, 0);
	// Nobody looks at the ready list until the next run: producers
	// must signal the fd from now on (a host loop may be polling it).
	atomic_store(&loop->need_wake, 1);
	int more = loop_has_ready(loop);
	loop_thread_depth--;
	atomic_store_explicit(&loop->owner, 0, memory_order_relaxed);
	pthread_mutex_lock(&loop->join_mx);
	atomic_store_explicit(&loop->running, 0, memory_order_release);
	pthread_cond_broadcast(&loop->join_cv);
	pthread_mutex_unlock(&loop->join_mx);
	if (more) {
		loop_wake(loop);
	}
	return more;
}

weir_err
weir_loop_join(weir_loop *loop)
{
	if (loop == NULL) {
		return WEIR_EINVAL;
	}
	if (weir__loop_on_thread(loop)) {
		return WEIR_EBUSY; // it would wait for itself
	}
	pthread_mutex_lock(&loop->join_mx);
	while (atomic_load(&loop->running)) {
		pthread_cond_wait(&loop->join_cv, &loop->join_mx);
	}
	pthread_mutex_unlock(&loop->join_mx);
	return WEIR_OK;
}

void
weir_loop_stop(weir_loop *loop)
{
	if (loop != NULL) {
		atomic_store(&loop->stop, 1);
		loop_wake(loop);
	}
}

int
weir_loop_fd(weir_loop *loop)
{
	if (loop == NULL) {
		return -1;
	}
	return weir__poller_fd(loop->poller);
}

const char *
weir_loop_backend(void)
{
	return weir__poller_name();
}

weir_err
weir_watch_start(weir_watch **out, weir_loop *loop, int fd, int events,
    weir_watch_fn cb, void *arg)
{
	if (loop == NULL || fd < 0 || cb == NULL || out == NULL ||
	    events == 0 || (events & ~(WEIR_WATCH_READ | WEIR_WATCH_WRITE))) {
		return WEIR_EINVAL;
	}
	// The poller keeps one registration per fd: a second watcher would
	// take the first one's events, and stopping either would remove
	// both (libuv likewise allows one poll handle per socket).
	for (weir_watch *o = loop->watches; o != NULL; o = o->next) {
		if (o->fd == fd && !o->dead) {
			return WEIR_EBUSY;
		}
	}
	weir_watch *w = weir__zalloc(sizeof(*w));
	if (w == NULL) {
		return WEIR_ENOMEM;
	}
	*w = (weir_watch) { loop, fd, events, 0, cb, arg, loop->watches };
	weir_err rv = weir__poller_set(loop->poller, fd, events, w);
	if (rv != WEIR_OK) {
		weir__free(w);
		return rv;
	}
	loop->watches = w;
	*out          = w;
	return WEIR_OK;
}

void
weir_watch_stop(weir_watch *w)
{
	if (w == NULL || w->dead) {
		return;
	}
	weir__poller_set(w->loop->poller, w->fd, 0, NULL);
	w->dead               = 1; // freed after the pass: it may be pending
	w->loop->dead_watches = 1;
	if (!atomic_load(&w->loop->running)) {
		loop_free_watches(w->loop, 1);
	}
}
