// A loop: a small reactor run by one thread at a time.
#ifndef WEIR_CORE_LOOP_H
#define WEIR_CORE_LOOP_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>

#include <weir/weir.h>

#include "core/poller.h"
#include "core/timer.h"

// Default of weir_loop_set_gather(), microseconds (see gather.c).
#define WEIR_LOOP_GATHER_US 3

struct weir_watch {
	weir_loop         *loop;
	int                fd;
	int                events;
	int                dead;
	weir_watch_fn      cb;
	void              *arg;
	struct weir_watch *next; // the loop's list of all watchers
};

// Counters written by the loop's thread only (plain stores).
typedef struct weir__loop_stats {
	atomic_uint_least64_t passes;
	atomic_uint_least64_t wakeups;
	atomic_uint_least64_t dispatched;
	atomic_uint_least64_t spins;
	atomic_uint_least64_t spin_hits;
	atomic_uint_least64_t steps;
	atomic_uint_least64_t budget_out;
	atomic_uint_least64_t gathers;
} weir__loop_stats;

struct weir_loop {
	weir__poller   *poller;    // owns the wake-up descriptor
	atomic_int      need_wake; // 1: the loop may sleep without seeing work
	atomic_int      stop;
	pthread_mutex_t ready_mx;
	weir_subscr    *ready_head; // subscriptions with queued events
	weir_subscr    *ready_tail;
	atomic_int      ready_any;    // ready_head != NULL, readable unlocked
	int             ready_remote; // another thread scheduled (ready_mx)
	weir__timers    timers;
	weir_watch     *watches;
	int             dead_watches;  // freed after the current pass
	int             polls_skipped; // passes run without polling
	atomic_size_t   nsubs;
	size_t          budget;      // handler calls left in this pass
	int64_t         deadline_ns; // of a step, 0: none (loop thread)
	atomic_uint     spin_us;     // weir_loop_set_spin()
	atomic_uint     gather_us;   // weir_loop_set_gather()
	int             gather_next; // the next pass waits first (gather.c)
	int             in_stream;   // the last pass took a stream (gather.c)
	int             pass_remote; // this pass runs work of other threads
	_Atomic(const char *) host;  // weir_loop_attach_host()
	weir__loop_stats      st;
	// Read by every BLOCK publish; kept apart from what the loop writes.
	alignas(64) atomic_int running;
	atomic_uintptr_t owner;   // names the running thread, 0 when idle
	pthread_mutex_t  join_mx; // weir_loop_join() waits on join_cv
	pthread_cond_t   join_cv; // broadcast when the runner leaves
};

// Queues @p sub for dispatch on its loop (takes a reference); wakes the
// loop only if it may be asleep. @p carry is set when the loop itself
// re-schedules work it was running, so that work published from other
// threads stays marked as such (gather.c).
void weir__loop_schedule(weir_loop *loop, weir_subscr *sub, int carry);
// 1 if subscriptions wait on the ready list (no lock taken).
int weir__loop_has_ready(weir_loop *loop);
// 1 if the calling thread is running @p loop.
int weir__loop_on_thread(weir_loop *loop);
// 1 if the calling thread runs any loop now (weir_loop_run, a step, or
// a handler or timer called from one): it must not wait for a handler
// call on another loop, which may be waiting for it (weir_unsubscribe).
int weir__loop_any_on_thread(void);
// 1 if the current pass may call one more handler (a step's budget of
// events and time); loop thread only.
int weir__loop_budget_left(weir_loop *loop);
// Counts one handler call against the pass's budget.
void weir__loop_spend(weir_loop *loop);
// Counts @p n handler calls at once (a run's, after it).
void weir__loop_spend_n(weir_loop *loop, size_t n);
// Adds one to a counter written by one thread only.
void weir__loop_bump(atomic_uint_least64_t *c);
// Claims the loop for the calling thread (WEIR_EBUSY if taken), runs
// one pass, and gives it back; leave() returns 1 if work is left (and
// then wakes the fd for whoever polls it).
weir_err weir__loop_enter(weir_loop *loop);
void     weir__loop_pass(weir_loop *loop, weir_run_mode mode);
// Batch gathering (gather.c): waits before a pass when the last one
// took a small batch of a stream from other threads; notes each pass.
void weir__gather_wait(weir_loop *loop, weir_run_mode mode);
void weir__gather_note(weir_loop *loop, uint64_t dispatched, int slept);
// Busy-waits up to @p ns for a stop or (with @p for_ready) ready work;
// returns 1 if one came.
int weir__loop_busy_wait(weir_loop *loop, int64_t ns, int for_ready);
// Nanoseconds to look for work before sleeping after a stream (0: none).
int64_t weir__gather_spin_ns(weir_loop *loop);
int     weir__loop_leave(weir_loop *loop);

#endif
