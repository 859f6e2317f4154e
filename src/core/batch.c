// Design notes. A batch publish is one hand-off of many events to the
// subscriptions of a topic handle. It shares what n single publishes
// would each pay for: one look at the registry generation, one clock
// read (the ids still come one by one from the thread's UUIDv7 counter,
// so they stay unique and rising), one allocation for a chunk's events
// (evblock.c: one block, each event with its own count, the block freed
// with its last event), one claim of a run of ring cells per queue
// (queue.c), one schedule or wake-up of each subscription's loop, and
// one watermark check per queue.
//
// The batch goes out in chunks of BATCH_CHUNK events (their pointers
// live on the stack). Each subscription takes a prefix of the batch: its
// first refusal (a full REJECT queue, a BLOCK wait that timed out or was
// ended by a close) is counted once and the rest of the batch is not
// offered to it, so a caller that resends from the first event not
// accepted neither reorders nor duplicates on a single subscription.
// The other subscriptions carry on. All BLOCK waits of the call share
// one deadline (weir__qwait), as in weir_publish.
#include <stdint.h>

#include "core/alloc.h"
#include "core/bus.h"
#include "core/evblock.h"
#include "core/event.h"
#include "core/loop.h"
#include "core/pull.h"
#include "core/subscr.h"
#include "core/uuid.h"
#include "core/watermark.h"

#define BATCH_CHUNK 64 // events whose pointers live on the stack
#define BATCH_LOCAL 16 // subscriptions whose state lives on the stack

// Where one subscription stands in the batch.
typedef struct batch_sub {
	size_t   taken;   // leading events it took (or disposed of)
	weir_err rv;      // its refusal, or WEIR_OK while it takes them all
	int      stopped; // refused: offered nothing more
} batch_sub;

typedef struct batch_call {
	weir_subscr *const *subs;
	size_t              nsubs;
	batch_sub           local[BATCH_LOCAL];
	batch_sub          *st;
	size_t              live; // subscriptions not stopped
	int64_t             ts;   // of every event of the batch
	weir__qwait         w;
} batch_call;

static weir_err
batch_check(weir_topic *t, const weir_buf *bufs, size_t n)
{
	if (t == NULL || (n > 0 && bufs == NULL)) {
		return WEIR_EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (bufs[i].len && bufs[i].data == NULL) {
			return WEIR_EINVAL;
		}
		if (bufs[i].len > t->bus->max_payload) {
			return WEIR_ETOOBIG;
		}
	}
	return WEIR_OK;
}

static weir_err
batch_begin(batch_call *bc, weir_subscr *const *subs, size_t nsubs)
{
	bc->subs      = subs;
	bc->nsubs     = nsubs;
	bc->live      = nsubs;
	bc->w.started = 0;
	bc->ts        = weir__now_ns();
	bc->st        = nsubs <= BATCH_LOCAL ? bc->local
	                                     : weir__alloc(nsubs * sizeof(*bc->st));
	if (bc->st == NULL) {
		return WEIR_ENOMEM;
	}
	for (size_t i = 0; i < nsubs; i++) {
		bc->st[i] = (batch_sub) { 0, WEIR_OK, 0 };
	}
	return WEIR_OK;
}

static void
batch_end(batch_call *bc)
{
	if (bc->st != bc->local) {
		weir__free(bc->st);
	}
}

// After @p pushed events entered the queue of @p sub: the same steps as
// a single offer (dispatch.c), once for the run.
static void
batch_after_push(weir_subscr *sub, size_t pushed)
{
	if (sub->pull != NULL) {
		for (size_t i = 0; i < pushed; i++) {
			weir__pull_wake(sub);
		}
	} else {
		weir__subscr_kick(sub);
	}
	if (sub->cfg.high != 0) {
		weir__watermark_pushed(sub);
	}
}

// Offers evs[0..n) to a subscription that is not closed: runs go into
// the ring with one claim each; an event that finds the ring full goes
// through the single push, which applies the policy (and may wait).
// Each run is scheduled before the next one is tried, so a BLOCK wait
// never waits for events nobody was told about. Returns how many
// leading events were taken or disposed of by policy, and the first
// refusal in @p rv; consumes one reference of each event.
static size_t
batch_push(
    batch_call *bc, weir_subscr *sub, weir_event **evs, size_t n, weir_err *rv)
{
	int may_block = sub->q.policy == WEIR_POLICY_BLOCK &&
	    (sub->pull != NULL || !weir__loop_on_thread(sub->loop));
	size_t i = 0;
	*rv      = WEIR_OK;
	while (i < n && *rv == WEIR_OK) {
		size_t k = weir__queue_push_run(&sub->q, evs + i, n - i);
		if (k == 0) {
			int pushed;
			*rv = weir__queue_push(
			    &sub->q, evs[i++], may_block, &bc->w, &pushed);
			k = (size_t) pushed;
		} else {
			i += k;
		}
		if (k > 0) {
			batch_after_push(sub, k);
		}
	}
	for (size_t j = i; j < n; j++) {
		weir_event_release(evs[j]); // not offered after a refusal
	}
	return *rv == WEIR_OK ? n : i - 1;
}

// Offers one chunk to one subscription, consuming one reference of
// each event.
static void
batch_offer(batch_call *bc, size_t s, weir_event **evs, size_t n)
{
	weir_subscr *sub = bc->subs[s];
	batch_sub   *st  = &bc->st[s];
	if (atomic_load_explicit(&sub->closed, memory_order_relaxed)) {
		// As weir_publish: a closed subscription takes silently.
		for (size_t i = 0; i < n; i++) {
			weir_event_release(evs[i]);
		}
		st->taken += n;
		return;
	}
	st->taken += batch_push(bc, sub, evs, n, &st->rv);
	if (st->rv != WEIR_OK) {
		st->stopped = 1;
		bc->live--;
	}
}

// Makes one chunk's events, a reference per live subscription, and
// offers it. Returns WEIR_ENOMEM if not every event could be made (those
// made were offered).
static weir_err
batch_chunk(batch_call *bc, weir_topic *t, const weir_buf *bufs, size_t n)
{
	weir_event *evs[BATCH_CHUNK];
	size_t      made = weir__evblock_make_n(
	         evs, t->name, t->len, bufs, n, (unsigned) bc->live, bc->ts);
	for (size_t s = 0; s < bc->nsubs && made > 0; s++) {
		if (!bc->st[s].stopped) {
			batch_offer(bc, s, evs, made);
		}
	}
	return made == n ? WEIR_OK : WEIR_ENOMEM;
}

// The call's outcome: WEIR_ENOMEM if it stopped for memory, else the
// worst refusal (weir__subscr_worse), and the events every subscription
// took.
static weir_err
batch_result(const batch_call *bc, weir_err rv, size_t *accepted)
{
	size_t least = SIZE_MAX;
	for (size_t s = 0; s < bc->nsubs; s++) {
		least = bc->st[s].taken < least ? bc->st[s].taken : least;
		if (rv != WEIR_ENOMEM) {
			rv = weir__subscr_worse(rv, bc->st[s].rv);
		}
	}
	*accepted = least;
	return rv;
}

static weir_err
batch_run(weir_topic *t, const weir_buf *bufs, size_t n, size_t *accepted)
{
	batch_call bc;
	weir_err   rv = batch_begin(&bc, t->ss->s, t->ss->n);
	if (rv != WEIR_OK) {
		return rv;
	}
	for (size_t i = 0; i < n && bc.live > 0 && rv == WEIR_OK;
	     i += BATCH_CHUNK) {
		size_t k = n - i < BATCH_CHUNK ? n - i : BATCH_CHUNK;
		rv       = batch_chunk(&bc, t, bufs + i, k);
	}
	rv = batch_result(&bc, rv, accepted);
	batch_end(&bc);
	return rv;
}

weir_err
weir_publish_batch(
    weir_topic *t, const weir_buf *bufs, size_t n, size_t *accepted)
{
	size_t   done = 0;
	weir_err rv   = batch_check(t, bufs, n);
	if (rv == WEIR_OK && n > 0) {
		uint64_t gen =
		    atomic_load_explicit(&t->bus->gen, memory_order_acquire);
		rv = t->gen != gen ? weir__topic_refresh(t) : WEIR_OK;
		if (rv == WEIR_OK && t->ss->n == 0) {
			done = n; // nothing matches: published to nobody
		} else if (rv == WEIR_OK) {
			rv = batch_run(t, bufs, n, &done);
		}
	}
	if (accepted != NULL) {
		*accepted = done;
	}
	return rv;
}
