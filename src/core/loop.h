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

struct weir_watch {
	weir_loop         *loop;
	int                fd;
	int                events;
	int                dead;
	weir_watch_fn      cb;
	void              *arg;
	struct weir_watch *next; // the loop's list of all watchers
};

struct weir_loop {
	weir__poller   *poller;
	int             wake_fd;
	atomic_int      need_wake; // 1: the loop may sleep without seeing work
	atomic_int      stop;
	pthread_mutex_t ready_mx;
	weir_subscr    *ready_head; // subscriptions with queued events
	weir_subscr    *ready_tail;
	weir__timers    timers;
	weir_watch     *watches;
	int             dead_watches; // freed after the current pass
	int             polls_skipped; // passes run without polling
	atomic_size_t   nsubs;
	// Read by every BLOCK publish; kept apart from what the loop writes.
	alignas(64) atomic_int running;
	pthread_t thread; // valid while running
};

// Queues @p sub for dispatch on its loop (takes a reference); wakes the
// loop only if it may be asleep.
void weir__loop_schedule(weir_loop *loop, weir_subscr *sub);
// 1 if the calling thread is running @p loop.
int weir__loop_on_thread(weir_loop *loop);

#endif
