/*
 * The intake: a bus subscription per route, on the bridge's own loop.
 * Store mode appends each event to the store (asynchronously; the relay
 * sends only committed events) and, once the append has committed,
 * hands the event to the relay through the route's handoff, so that the
 * relay need not read it back from the store. Direct mode puts it in
 * the route's bounded ring. At the bound (max_backlog, or a full ring)
 * the handler defers the delivery and parks it; with max in-flight 1
 * the subscription then takes nothing more, its queue fills and the
 * bus's policy applies to publishers. The relay resumes the intake as
 * events are done. (Without memory to defer, store mode goes one over
 * the bound; direct mode fails the delivery back to the bus.)
 */
#include <stdio.h>

#include "bridge/bridge.h"
#include "core/alloc.h"

/* An append on its way through the store's writer: the event rides
 * along (held) so that the commit can hand it to the relay. */
typedef struct intake_ticket {
	weir__route      *rt;
	const weir_event *ev;
} intake_ticket;

/* An append of @p ev (NULL: not kept for the handoff) ended: note the
 * seq, hand the event over, wake the relay. */
static void
intake_committed(
    weir__route *rt, weir_err err, uint64_t seq, const weir_event *ev)
{
	pthread_mutex_lock(&rt->lock);
	if (err != WEIR_OK || seq <= rt->appended) {
		/* failed, or an id already in the log: nothing new. A
		 * failed append cannot be a dead letter (those live in the
		 * same store): counted on its own, never as dead. */
		atomic_fetch_sub(&rt->backlog, 1);
		if (err != WEIR_OK)
			atomic_fetch_add(&rt->store_failed, 1);
	} else {
		rt->appended = seq;
		if (ev != NULL)
			weir__handoff_put(&rt->handoff, ev, seq);
	}
	rt->wake = 1;
	pthread_cond_signal(&rt->cond);
	pthread_mutex_unlock(&rt->lock);
}

/* Store append committed or failed (writer thread). */
static void
intake_appended(
    weir_store *st, weir_err err, uint64_t seq, int64_t version, void *arg)
{
	(void) st;
	(void) version;
	intake_committed(arg, err, seq, NULL);
}

static void
intake_appended_ticket(
    weir_store *st, weir_err err, uint64_t seq, int64_t version, void *arg)
{
	(void) st;
	(void) version;
	intake_ticket *t = arg;
	intake_committed(t->rt, err, seq, t->ev);
	weir_event_release(t->ev);
	weir__free(t);
}

/* Queues the append of @p ev; a ticket when the handoff is on (without
 * memory for one, the relay reads the event from the store). */
static void
intake_append(weir__route *rt, const weir_event *ev)
{
	weir_store_append_opts o = WEIR_STRUCT_INIT(weir_store_append_opts);
	intake_ticket         *t = NULL;
	o.flags                  = WEIR_STORE_APPEND_NOWAIT;
	o.done                   = intake_appended;
	o.arg                    = rt;
	if (rt->handoff.max_bytes > 0 &&
	    (t = weir__alloc(sizeof *t)) != NULL) {
		t->rt  = rt;
		t->ev  = weir_event_hold(ev);
		o.done = intake_appended_ticket;
		o.arg  = t;
	}
	if (weir_store_append(rt->br->store, ev, &o, NULL, NULL) == WEIR_OK)
		return;
	if (t != NULL) {
		weir_event_release(t->ev);
		weir__free(t);
	}
	intake_committed(rt, WEIR_ESTORE, 0, NULL);
}

/* Takes @p ev in; the caller counted it in the backlog. */
static void
intake_admit(weir__route *rt, const weir_event *ev)
{
	if (!rt->direct) {
		intake_append(rt, ev);
		return;
	}
	pthread_mutex_lock(&rt->lock);
	size_t cap = rt->br->direct_capacity;
	rt->ring[(rt->ring_head + rt->ring_count++) % cap] =
	    weir_event_hold(ev);
	rt->wake = 1;
	pthread_cond_signal(&rt->cond);
	pthread_mutex_unlock(&rt->lock);
}

static int
intake_full(weir__route *rt)
{
	if (rt->direct)
		return rt->ring_count >= rt->br->direct_capacity;
	/* Below zero when the relay found events in the log (put there by
	 * another writer) before the intake took them from the bus. */
	int64_t b = atomic_load(&rt->backlog);
	return b > 0 && (uint64_t) b >= rt->max_backlog;
}

static weir_err
intake_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	weir__route *rt = arg;
	pthread_mutex_lock(&rt->lock);
	if (intake_full(rt)) {
		weir_delivery *d;
		weir_err       e = weir_delivery_defer(&d);
		if (e == WEIR_OK) {
			rt->parked = d;
			atomic_fetch_add(&rt->paused, 1);
		}
		/* Without memory to park it, store mode takes the event in
		 * one over the bound: failed back to the bus, it would be
		 * lost to the route. Direct mode's ring has no room. */
		if (e == WEIR_OK || rt->direct) {
			pthread_mutex_unlock(&rt->lock);
			return e == WEIR_OK ? WEIR_EPENDING : e;
		}
	}
	atomic_fetch_add(&rt->backlog, 1);
	pthread_mutex_unlock(&rt->lock);
	intake_admit(rt, ev);
	return WEIR_OK;
}

void
weir__intake_resume(weir__route *rt)
{
	pthread_mutex_lock(&rt->lock);
	weir_delivery *d = NULL;
	if (rt->parked != NULL && !intake_full(rt)) {
		d          = rt->parked;
		rt->parked = NULL;
		atomic_fetch_add(&rt->backlog, 1);
	}
	pthread_mutex_unlock(&rt->lock);
	if (d != NULL) {
		intake_admit(rt, weir_delivery_event(d));
		weir_delivery_complete(d, WEIR_OK);
	}
}

weir_err
weir__intake_start(weir__route *rt)
{
	weir_bridge        *br = rt->br;
	weir_subscr_config *sc;
	weir_subscr        *sub = NULL;
	weir_err            e   = weir_subscr_config_create(&sc);
	if (e != WEIR_OK)
		return e;
	char name[96];
	snprintf(name, sizeof name, "bridge:%s", rt->name);
	int64_t timeout = br->block_timeout_ms == UINT64_MAX
	    ? -1
	    : (int64_t) br->block_timeout_ms;
	if ((e = weir_subscr_config_set_capacity(sc, br->queue_capacity)) ||
	    (e = weir_subscr_config_set_policy(sc, br->policy, timeout)) ||
	    (e = weir_subscr_config_set_loop(sc, br->loop)) ||
	    (e = weir_subscr_config_set_name(sc, name)) ||
	    (e = weir_subscr_config_set_max_in_flight(sc, 1)) ||
	    (e = weir_subscribe(
	         &sub, br->bus, rt->pattern, intake_handler, rt, NULL, sc)))
		weir__bridge_fail(br, e, "route '%s': subscribe: %s", rt->name,
		    weir_strerror(e));
	weir_subscr_config_destroy(sc);
	pthread_mutex_lock(&rt->lock);
	rt->sub = e == WEIR_OK ? sub : NULL;
	pthread_mutex_unlock(&rt->lock);
	return e;
}

void
weir__intake_stop(weir__route *rt)
{
	pthread_mutex_lock(&rt->lock);
	weir_subscr *sub = rt->sub;
	rt->sub          = NULL;
	pthread_mutex_unlock(&rt->lock);
	if (sub == NULL)
		return;
	weir_unsubscribe(sub);
	pthread_mutex_lock(&rt->lock);
	weir_delivery *d = rt->parked;
	rt->parked       = NULL;
	pthread_mutex_unlock(&rt->lock);
	if (d == NULL)
		return;
	/* Store mode keeps the parked event: stored now, sent after the
	 * next start. Direct mode has nowhere to keep it. */
	if (!rt->direct) {
		atomic_fetch_add(&rt->backlog, 1);
		intake_admit(rt, weir_delivery_event(d));
	} else {
		atomic_fetch_add(&rt->dead, 1);
	}
	weir_delivery_complete(d, WEIR_OK);
}
