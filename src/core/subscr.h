// Subscriptions: a pattern, a handler, a bounded queue, a loop.
#ifndef WEIR_CORE_SUBSCR_H
#define WEIR_CORE_SUBSCR_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>

#include <weir/weir.h>

#include "core/flow.h"
#include "core/queue.h"

struct weir_subscr_config {
	size_t            capacity;
	weir_policy       policy;
	int64_t           block_timeout_ms;
	size_t            high;
	size_t            low;
	weir_pressure_fn  on_pressure;
	weir_pressure_fn  on_drain;
	void             *wm_arg;
	weir_loop        *loop;
	char             *name;
	weir__flow_config flow; // defences and loop index (flow.c)
};

// Three groups on their own cache lines: what the loop reads for every
// event, what publishers write when they take a reference or schedule
// it (by-string publish holds it per event), and what the loop writes
// per pass. Mixed, each by-string publish pulled the line the loop reads
// per event away from it.
struct weir_subscr {
	weir__queue q; // first: its hot fields are cache aligned
	alignas(64) atomic_int closed;
	// Events a dispatch run took from the queue and has not called yet
	// (dispatch.c): the stats count them as queued, so "queued 0" still
	// means every accepted event has reached the handler.
	atomic_size_t      in_hand;
	int                registered; // in the bus tree (bus lock)
	weir_bus          *bus;
	weir_loop         *loop;
	char              *pattern;
	weir_handler       fn;
	void              *arg;
	weir_free_fn       arg_free;
	weir__flow        *flow; // async deliveries, defences, latency
	struct weir__pull *pull; // pull subscriptions only (pull.c)
	weir_subscr_config cfg;  // cfg.name is always set
	alignas(64) atomic_uint refs;
	atomic_int          scheduled; // on the loop's ready list
	atomic_int          wm;        // watermark state (watermark.c)
	struct weir_subscr *ready_next;
	alignas(64) atomic_uint dstate; // WEIR__SUBSCR_*: who finishes a close
	// Where a closer on an application thread waits for the pass it
	// handed the close to; touched only by closing.
	pthread_mutex_t close_mx;
	pthread_cond_t  close_cv;
	int             finished; // the close finished (close_mx)
};

// Bits of weir_subscr.dstate (see the design notes of subscr.c).
#define WEIR__SUBSCR_DISPATCHING 1u // a dispatch pass runs
#define WEIR__SUBSCR_CLOSING 2u     // weir_unsubscribe() was called

// An array of held subscriptions matching one topic.
typedef struct weir__ssnap {
	size_t       n;
	weir_subscr *s[];
} weir__ssnap;

void         weir__subscr_hold(weir_subscr *sub);
void         weir__subscr_release(weir_subscr *sub);
weir_subscr *weir__subscr_next(weir_subscr *sub);
void         weir__subscr_set_next(weir_subscr *sub, weir_subscr *next);
// Runs queued events through the handler on the loop's thread.
void weir__subscr_dispatch(weir_subscr *sub);
// Finishes a close: releases the queued events and runs arg_free.
// Called once, by the closer or by the pass the close handed it to.
void weir__subscr_finish(weir_subscr *sub);
// Schedules the subscription on its loop unless already scheduled.
void weir__subscr_kick(weir_subscr *sub);
// Takes the oldest queued event (noting the low watermark), or NULL.
weir_event *weir__subscr_pop(weir_subscr *sub);
// Offers @p ev to every subscription of a snapshot, consuming the
// caller's reference; BLOCK waits share one deadline (weir__qwait).
// Returns the worst outcome (WEIR_ETIMEDOUT, then WEIR_ECLOSED, then
// WEIR_EFULL, else WEIR_OK).
weir_err weir__subscr_offer_all(
    weir_subscr *const *subs, size_t n, weir_event *ev);
// Of two offer outcomes, the one a publish reports (the order above).
weir_err weir__subscr_worse(weir_err a, weir_err b);
// Snapshot of the subscriptions matching @p topic; caller holds the
// bus lock.
weir_err weir__ssnap_take(weir_bus *bus, const char *topic, weir__ssnap **out);
void     weir__ssnap_free(weir__ssnap *s);
size_t   weir__subscr_count_locked(weir_bus *bus, const char *topic);
// Closes every subscription of the bus (bus destruction).
void weir__subscr_close_all(weir_bus *bus);

#endif
