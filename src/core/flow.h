// Flow control of one subscription: deferred (asynchronous) deliveries
// and the in-flight bound, the rate limit, debounce, retries and dead
// letters, and the dispatch-latency histogram. Everything here but the
// completion of deferred deliveries runs on the subscription's loop.
#ifndef WEIR_CORE_FLOW_H
#define WEIR_CORE_FLOW_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <weir/weir.h>

#include "core/debounce.h"
#include "core/hist.h"

// The subscription config's share (zero: every defence off).
typedef struct weir__flow_config {
	size_t   max_in_flight; // 0: no bound
	double   rate;          // handler calls per second, 0: no limit
	double   burst;
	uint32_t debounce_ms; // 0: off
	uint32_t retry_max;   // calls in all; 0: no retry policy
	uint32_t retry_base_ms;
	uint32_t retry_max_ms;
	size_t   loop_index; // bus loop + 1; 0: round-robin (pool.c)
} weir__flow_config;

// A delivery that failed and waits for another attempt, or a failed
// asynchronous completion waiting for the loop.
typedef struct weir__retry {
	weir_event         *ev;       // held
	uint32_t            attempts; // calls made so far
	weir_err            err;
	int64_t             due_ns;
	struct weir__retry *next;
} weir__retry;

typedef struct weir__flow {
	weir__flow_config     cfg;
	int                   slow; // a defence is on: dispatch via flow
	atomic_size_t         in_flight;
	atomic_int            paused; // set: whoever clears it schedules
	pthread_mutex_t       done_mx;
	weir__retry          *done; // failed completions, any thread
	atomic_int            has_done;
	weir__retry          *retries; // by due time; loop thread
	double                tokens;
	int64_t               refill_ns;
	weir__debounce       *db;
	weir_timer           *timer; // holds a subscription reference
	int64_t               timer_due;
	int                   rearm; // no timer could be armed; loop thread
	_Atomic(weir__hist *) lat;   // made on the first pass (hist.h)
	atomic_uint_least64_t deferred;
	atomic_uint_least64_t retried;
	atomic_uint_least64_t dead;
	atomic_uint_least64_t rate_delayed;
	atomic_uint_least64_t debounced;
} weir__flow;

weir_err weir__flow_create(weir__flow **out, const weir__flow_config *cfg);
// Releases held events; the timer is never armed by then (it holds a
// reference to the subscription).
void weir__flow_destroy(weir__flow *fl);

// Dispatches up to @p budget events through the defences. Returns 1 if
// the subscription paused: it stays marked scheduled and whoever ends
// the pause (a timer, a completion) puts it back on the ready list.
int weir__flow_drain(weir_subscr *sub, size_t budget);
// 1 (once) if the last drain needed a timer it could not get (out of
// memory): the subscription must then come back on the next pass.
int weir__flow_take_rearm(weir_subscr *sub);
// 1 if dispatch must go through weir__flow_drain().
int weir__flow_slow(weir_subscr *sub);

// Ends a hard pause or, if there is none, schedules the subscription
// on its usual edge. Any thread.
void weir__flow_resume(weir_subscr *sub);

// The outcome of a handler call, on the loop: counts a failure and
// sends it to a retry, a dead letter or WEIR_TOPIC_ERROR.
void weir__flow_failed(
    weir_subscr *sub, weir_event *ev, uint32_t attempts, weir_err err);
// Failed completions posted by other threads (retry.c).
void weir__flow_take_done(weir_subscr *sub);
// The next retry that is due, or NULL; with @p wait receiving the due
// time of the first one not due (or -1).
weir_event *weir__flow_next_retry(
    weir_subscr *sub, int64_t now_ns, uint32_t *attempts, int64_t *wait);
// Arms the subscription's timer for @p due_ns (keeps an earlier one).
void weir__flow_arm(weir_subscr *sub, int64_t due_ns);

// Calls the handler with the delivery context set (delivery.c):
// counts the call and takes the failure path. The caller records its
// latency (weir__flow_latency).
void weir__flow_call(weir_subscr *sub, weir_event *ev, uint32_t attempts);

// The context of a handler call (delivery.c): what weir_delivery_defer()
// and weir_subscr_current() read, through a thread-local pointer.
typedef struct weir__delivery_ctx {
	weir_subscr *sub;
	weir_event  *ev;
	uint32_t     attempts;
	int          deferred;
	struct weir__delivery_ctx
	    *prev; // contexts nest (a handler runs a loop)
} weir__delivery_ctx;

// A run of first attempts on one subscription (dispatch.c): the context
// is set once for the run and each call only points it at its event.
// Between begin() and end() the thread runs no handlers but the run's
// and nested ones, whose contexts are gone again when they return.
void weir__flow_run_begin(weir__delivery_ctx *ctx, weir_subscr *sub);
void weir__flow_run_call(weir__delivery_ctx *ctx, weir_event *ev);
void weir__flow_run_end(weir__delivery_ctx *ctx);
// Records @p n dispatch latencies of @p lat ns (the loop's stamp minus
// the events' ts; a run of events stamped alike is recorded at once).
void weir__flow_latency(weir_subscr *sub, int64_t lat, uint64_t n);

#endif
