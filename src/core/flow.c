// Design notes. A subscription with a defence configured (in-flight
// bound, rate limit, debounce, retry) dispatches through
// weir__flow_drain() instead of the plain drain. Before each handler
// call the drain checks, in order: a retry not yet due (pause until it
// is, so nothing overtakes it), the in-flight bound, the token bucket.
// A *hard* pause keeps the subscription marked scheduled, so producers
// do not wake the loop for events that must wait; the `paused` flag
// says who brings it back: whoever exchanges it from 1 to 0 (a
// completion on any thread, or the subscription's timer on the loop)
// puts the subscription on the ready list. The drain sets the flag
// before its last look at the in-flight count and a completion lowers
// the count before it looks at the flag (both seq_cst), so a pause is
// never missed. Debounce is not a hard pause: producers keep waking
// the loop so that events are absorbed as they come, and the timer
// only delivers keys that fell quiet. The timer holds a reference to
// the subscription while armed.
#include "core/flow.h"
#include "core/alloc.h"
#include "core/event.h"
#include "core/loop.h"
#include "core/subscr.h"
#include "core/uuid.h"

enum { FLOW_GO, FLOW_PAUSE };

weir_err
weir__flow_create(weir__flow **out, const weir__flow_config *cfg)
{
	weir__flow *fl = weir__zalloc(sizeof(*fl));
	if (fl == NULL) {
		return WEIR_ENOMEM;
	}
	fl->cfg  = *cfg;
	fl->slow = cfg->max_in_flight || cfg->rate > 0 || cfg->debounce_ms ||
	    cfg->retry_max;
	fl->tokens = cfg->burst;
	atomic_init(&fl->lat, &weir__hist_none);
	fl->refill_ns = weir__mono_ns();
	if (cfg->debounce_ms &&
	    weir__debounce_create(
	        &fl->db, (int64_t) cfg->debounce_ms * 1000000) != WEIR_OK) {
		weir__free(fl);
		return WEIR_ENOMEM;
	}
	pthread_mutex_init(&fl->done_mx, NULL);
	*out = fl;
	return WEIR_OK;
}

static void
flow_free_list(weir__retry *r)
{
	while (r != NULL) {
		weir__retry *next = r->next;
		weir_event_release(r->ev);
		weir__free(r);
		r = next;
	}
}

void
weir__flow_destroy(weir__flow *fl)
{
	if (fl == NULL) {
		return;
	}
	flow_free_list(fl->done);
	flow_free_list(fl->retries);
	weir__debounce_destroy(fl->db);
	weir__hist_free(&fl->lat);
	pthread_mutex_destroy(&fl->done_mx);
	weir__free(fl);
}

int
weir__flow_slow(weir_subscr *sub)
{
	return sub->flow->slow ||
	    atomic_load_explicit(&sub->flow->has_done, memory_order_relaxed);
}

void
weir__flow_resume(weir_subscr *sub)
{
	if (atomic_exchange(&sub->flow->paused, 0)) {
		weir__loop_schedule(
		    sub->loop, sub, 0); // still marked scheduled
	} else {
		weir__subscr_kick(sub);
	}
}

static void
flow_on_timer(weir_timer *t, void *arg)
{
	weir_subscr *sub = arg;
	if (sub->flow->timer == t) {
		sub->flow->timer = NULL;
	}
	weir_timer_stop(t);
	if (!atomic_load(&sub->closed)) {
		weir__flow_resume(sub);
	}
	weir__subscr_release(sub); // the timer's reference
}

static void
flow_timer_fin(void *arg)
{
	weir__subscr_release(arg); // the loop died with the timer armed
}

void
weir__flow_arm(weir_subscr *sub, int64_t due_ns)
{
	weir__flow *fl = sub->flow;
	if (fl->timer != NULL && fl->timer_due <= due_ns) {
		return;
	}
	if (fl->timer != NULL) {
		weir_timer_stop(fl->timer);
		fl->timer = NULL;
		weir__subscr_release(sub);
	}
	int64_t  now = weir__mono_ns();
	uint64_t ms =
	    due_ns > now ? (uint64_t) (due_ns - now + 999999) / 1000000 : 0;
	if (WEIR_NEVER(weir_timer_start(&fl->timer, sub->loop, ms, 0,
	                   flow_on_timer, sub) != WEIR_OK)) {
		// Out of memory: come back on the next pass instead, so a
		// quiet key, a retry or a rate pause is never stranded.
		fl->timer = NULL;
		fl->rearm = 1;
		atomic_store(&fl->paused, 0);
		return;
	}
	weir__subscr_hold(sub);
	weir__timer_set_fin(fl->timer, flow_timer_fin);
	fl->timer_due = due_ns;
}

static int
flow_pause_until(weir_subscr *sub, int64_t due_ns)
{
	atomic_store(&sub->flow->paused, 1);
	weir__flow_arm(sub, due_ns);
	return FLOW_PAUSE;
}

static int
flow_in_flight_gate(weir__flow *fl)
{
	size_t max = fl->cfg.max_in_flight;
	if (max == 0 || atomic_load(&fl->in_flight) < max) {
		return FLOW_GO;
	}
	atomic_store(&fl->paused, 1);
	if (atomic_load(&fl->in_flight) < max &&
	    atomic_exchange(&fl->paused, 0)) {
		return FLOW_GO;
	}
	return FLOW_PAUSE; // a completion (maybe already) reschedules
}

static int
flow_rate_gate(weir_subscr *sub, int64_t now)
{
	weir__flow *fl = sub->flow;
	if (fl->cfg.rate <= 0) {
		return FLOW_GO;
	}
	fl->tokens += (double) (now - fl->refill_ns) * fl->cfg.rate / 1e9;
	if (fl->tokens > fl->cfg.burst) {
		fl->tokens = fl->cfg.burst;
	}
	fl->refill_ns = now;
	if (fl->tokens >= 1.0) {
		return FLOW_GO;
	}
	atomic_fetch_add(&fl->rate_delayed, 1);
	double wait = (1.0 - fl->tokens) / fl->cfg.rate * 1e9;
	return flow_pause_until(sub, now + (int64_t) wait + 1);
}

static int
flow_gates(weir_subscr *sub, int64_t now)
{
	weir__flow *fl = sub->flow;
	if (fl->retries != NULL && fl->retries->due_ns > now) {
		return flow_pause_until(sub, fl->retries->due_ns);
	}
	if (flow_in_flight_gate(fl) == FLOW_PAUSE) {
		return FLOW_PAUSE;
	}
	return flow_rate_gate(sub, now);
}

static weir_event *
flow_debounced(weir_subscr *sub, int64_t now)
{
	weir__flow *fl = sub->flow;
	weir_event *ev;
	for (size_t i = 0; i < 1024 && (ev = weir__subscr_pop(sub)); i++) {
		int r = weir__debounce_put(fl->db, ev, now);
		if (WEIR_NEVER(r < 0)) {
			return ev; // out of memory: deliver it undebounced
		}
		if (r == 1) {
			atomic_fetch_add(&fl->debounced, 1);
		}
	}
	ev           = weir__debounce_take(fl->db, now);
	int64_t next = weir__debounce_next(fl->db);
	if (ev == NULL && next >= 0) {
		weir__flow_arm(sub, next);
	}
	return ev;
}

static weir_event *
flow_next(weir_subscr *sub, int64_t now, uint32_t *attempts)
{
	int64_t     wait;
	weir_event *ev = weir__flow_next_retry(sub, now, attempts, &wait);
	if (ev != NULL) {
		return ev;
	}
	*attempts = 1;
	return sub->flow->db ? flow_debounced(sub, now)
	                     : weir__subscr_pop(sub);
}

// Work that is not in the queue (a due retry, a quiet key) gets the
// timer when the drain stops for its budget: the tail only re-kicks
// for queued events.
static int
flow_leftover(weir_subscr *sub)
{
	weir__flow *fl = sub->flow;
	if (fl->retries != NULL) {
		weir__flow_arm(sub, fl->retries->due_ns);
	} else if (fl->db != NULL && weir__debounce_next(fl->db) >= 0) {
		weir__flow_arm(sub, weir__debounce_next(fl->db));
	}
	return 0;
}

int
weir__flow_take_rearm(weir_subscr *sub)
{
	int again        = sub->flow->rearm;
	sub->flow->rearm = 0;
	return again;
}

int
weir__flow_drain(weir_subscr *sub, size_t budget)
{
	weir__flow *fl = sub->flow;
	weir__flow_take_done(sub);
	for (size_t i = 0; i < budget; i++) {
		if (atomic_load_explicit(&sub->closed, memory_order_relaxed)) {
			return 0;
		}
		int64_t now = weir__mono_ns();
		if (flow_gates(sub, now) == FLOW_PAUSE) {
			return 1;
		}
		if (!weir__loop_budget_left(sub->loop)) {
			return flow_leftover(
			    sub); // the step's budget is spent
		}
		uint32_t    attempts;
		weir_event *ev = flow_next(sub, now, &attempts);
		if (ev == NULL) {
			return 0;
		}
		weir__loop_spend(sub->loop);
		fl->tokens -= fl->cfg.rate > 0 ? 1.0 : 0.0;
		weir__flow_latency(sub, weir__now_ns() - ev->ts, 1);
		weir__flow_call(sub, ev, attempts);
		weir_event_release(ev);
	}
	return flow_leftover(sub);
}

weir_err
weir_subscr_config_set_max_in_flight(weir_subscr_config *sc, size_t max)
{
	if (sc == NULL) {
		return WEIR_EINVAL;
	}
	sc->flow.max_in_flight = max;
	return WEIR_OK;
}

weir_err
weir_subscr_config_set_rate(
    weir_subscr_config *sc, double per_sec, double burst)
{
	// The negated tests also refuse NaN.
	if (sc == NULL || !(per_sec >= 0 && per_sec <= 1e9) ||
	    (per_sec > 0 && !(burst >= 1 && burst <= 1e9))) {
		return WEIR_EINVAL;
	}
	sc->flow.rate  = per_sec;
	sc->flow.burst = per_sec > 0 ? burst : 0;
	return WEIR_OK;
}

weir_err
weir_subscr_config_set_debounce(weir_subscr_config *sc, uint32_t quiet_ms)
{
	if (sc == NULL) {
		return WEIR_EINVAL;
	}
	sc->flow.debounce_ms = quiet_ms;
	return WEIR_OK;
}

weir_err
weir_subscr_config_set_retry(weir_subscr_config *sc, uint32_t max_attempts,
    uint32_t base_ms, uint32_t max_ms)
{
	if (sc == NULL || max_attempts == 0 || base_ms == 0 ||
	    max_ms < base_ms || max_ms > 86400000u) {
		return WEIR_EINVAL;
	}
	sc->flow.retry_max     = max_attempts;
	sc->flow.retry_base_ms = base_ms;
	sc->flow.retry_max_ms  = max_ms;
	return WEIR_OK;
}

weir_err
weir_subscr_config_set_loop_index(weir_subscr_config *sc, size_t index)
{
	if (sc == NULL || index >= 1024) {
		return WEIR_EINVAL;
	}
	sc->flow.loop_index = index + 1;
	return WEIR_OK;
}
