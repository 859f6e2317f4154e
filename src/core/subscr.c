// Design notes. A subscription is held by the bus tree while
// registered, by the loop's ready list while scheduled, by topic-handle
// snapshots and by publishers while they offer to it; its memory goes
// with the last reference, on whichever thread drops it (no user code
// runs then). Closing is separate from freeing: weir_unsubscribe() marks
// it closed, wakes BLOCKed publishers and unregisters it at once, and
// the close *finishes* (queued events released, arg_free run) exactly
// once, when no handler call can be running. Who finishes is decided
// by one word, `dstate`, changed only by read-modify-writes: a dispatch
// pass sets DISPATCHING when it begins and clears it when it ends; the
// closer sets CLOSING. A closer that finds no pass finishes the close
// itself (a pass begun later sees CLOSING, or `closed`, and calls no
// handler). A closer that finds a pass hands the close to it: the pass
// stops after its current call and finishes the close when it ends, on
// its loop thread, if CLOSING came after it began. A closer on a loop
// thread never waits for a pass on another thread: that pass's handler
// may be closing one of the closer's subscriptions, and both would wait
// for ever. An application thread waits on `close_cv` until the pass has
// finished the close, so arg_free has run when weir_unsubscribe()
// returns there. A pass takes no lock: its two read-modify-writes of
// `dstate` replaced the dispatch mutex it used to hold.
#include <string.h>

#include "core/alloc.h"
#include "core/bus.h"
#include "core/loop.h"
#include "core/pool.h"
#include "core/pull.h"
#include "core/scache.h"
#include "core/subscr.h"

weir_err
weir_subscr_config_create(weir_subscr_config **out)
{
	if (out == NULL) {
		return WEIR_EINVAL;
	}
	weir_subscr_config *sc = weir__zalloc(sizeof(*sc));
	if (sc == NULL) {
		return WEIR_ENOMEM;
	}
	sc->capacity         = 1024;
	sc->policy           = WEIR_POLICY_BLOCK;
	sc->block_timeout_ms = -1;
	*out                 = sc;
	return WEIR_OK;
}

void
weir_subscr_config_destroy(weir_subscr_config *sc)
{
	if (sc != NULL) {
		weir__free(sc->name);
		weir__free(sc);
	}
}

weir_err
weir_subscr_config_set_capacity(weir_subscr_config *sc, size_t capacity)
{
	if (sc == NULL || capacity == 0 || capacity > ((size_t) 1 << 30)) {
		return WEIR_EINVAL;
	}
	sc->capacity = capacity;
	return WEIR_OK;
}

weir_err
weir_subscr_config_set_policy(
    weir_subscr_config *sc, weir_policy policy, int64_t block_timeout_ms)
{
	if (sc == NULL || (unsigned) policy > WEIR_POLICY_COALESCE ||
	    block_timeout_ms < -1) {
		return WEIR_EINVAL;
	}
	sc->policy           = policy;
	sc->block_timeout_ms = block_timeout_ms;
	return WEIR_OK;
}

weir_err
weir_subscr_config_set_watermarks(weir_subscr_config *sc, size_t high,
    size_t low, weir_pressure_fn on_pressure, weir_pressure_fn on_drain,
    void *arg)
{
	if (sc == NULL || high == 0 || low >= high) {
		return WEIR_EINVAL;
	}
	sc->high        = high;
	sc->low         = low;
	sc->on_pressure = on_pressure;
	sc->on_drain    = on_drain;
	sc->wm_arg      = arg;
	return WEIR_OK;
}

weir_err
weir_subscr_config_set_loop(weir_subscr_config *sc, weir_loop *loop)
{
	if (sc == NULL) {
		return WEIR_EINVAL;
	}
	sc->loop = loop;
	return WEIR_OK;
}

weir_err
weir_subscr_config_set_name(weir_subscr_config *sc, const char *name)
{
	if (sc == NULL || name == NULL || *name == '\0') {
		return WEIR_EINVAL;
	}
	char *copy = weir__strdup(name);
	if (copy == NULL) {
		return WEIR_ENOMEM;
	}
	weir__free(sc->name);
	sc->name = copy;
	return WEIR_OK;
}

void
weir__subscr_hold(weir_subscr *sub)
{
	atomic_fetch_add_explicit(&sub->refs, 1, memory_order_relaxed);
}

void
weir__subscr_release(weir_subscr *sub)
{
	if (atomic_fetch_sub_explicit(&sub->refs, 1, memory_order_acq_rel) !=
	    1) {
		return;
	}
	weir__queue_fini(&sub->q);
	weir__flow_destroy(sub->flow);
	weir__pull_destroy(sub->pull);
	pthread_mutex_destroy(&sub->close_mx);
	pthread_cond_destroy(&sub->close_cv);
	weir__free(sub->cfg.name);
	weir__free(sub->pattern);
	weir__free_aligned(sub);
}

weir_subscr *
weir__subscr_next(weir_subscr *sub)
{
	return sub->ready_next;
}

void
weir__subscr_set_next(weir_subscr *sub, weir_subscr *next)
{
	sub->ready_next = next;
}

static weir_err
subscr_check(weir_bus *bus, const char *pattern, weir_handler fn,
    const weir_subscr_config *sc)
{
	if (bus == NULL) {
		return WEIR_EINVAL;
	}
	if (weir_pattern_validate(pattern) != WEIR_OK) {
		return WEIR_EBADPATTERN;
	}
	if (sc != NULL &&
	    (sc->high > sc->capacity ||
	        sc->flow.loop_index > weir_bus_loop_count(bus))) {
		return WEIR_EINVAL;
	}
	// Without a handler it is a pull subscription (pull.c).
	return fn == NULL && sc != NULL ? weir__pull_check(sc) : WEIR_OK;
}

// A pull subscription has no loop: it is never scheduled.
static weir_err
subscr_make_pull(weir_subscr *sub)
{
	sub->loop = NULL;
	return weir__pull_create(&sub->pull);
}

static weir_subscr *
subscr_new(weir_bus *bus, const char *pattern, const weir_subscr_config *sc)
{
	weir_subscr *sub = weir__zalloc_aligned(sizeof(*sub));
	if (sub == NULL) {
		return NULL;
	}
	sub->cfg      = *sc;
	sub->cfg.name = weir__strdup(sc->name ? sc->name : pattern);
	sub->pattern  = weir__strdup(pattern);
	if (sub->cfg.name == NULL || sub->pattern == NULL ||
	    weir__queue_init(&sub->q, sc->capacity, sc->policy,
	        sc->block_timeout_ms) != WEIR_OK) {
		weir__free(sub->cfg.name);
		weir__free(sub->pattern);
		weir__free_aligned(sub);
		return NULL;
	}
	if (weir__flow_create(&sub->flow, &sc->flow) != WEIR_OK) {
		weir__queue_fini(&sub->q);
		weir__free(sub->cfg.name);
		weir__free(sub->pattern);
		weir__free_aligned(sub);
		return NULL;
	}
	pthread_mutex_init(&sub->close_mx, NULL);
	pthread_cond_init(&sub->close_cv, NULL);
	atomic_init(&sub->refs, 1);
	atomic_init(&sub->dstate, 0);
	sub->bus = bus;
	// Explicit loop, bus loop by index, round-robin or default loop.
	sub->loop = weir__pool_pick(bus, sc->loop, sc->flow.loop_index);
	return sub;
}

weir_err
weir_subscribe(weir_subscr **out, weir_bus *bus, const char *pattern,
    weir_handler fn, void *arg, weir_free_fn arg_free,
    const weir_subscr_config *sc)
{
	weir_err rv = subscr_check(bus, pattern, fn, sc);
	if (rv != WEIR_OK || out == NULL) {
		return rv != WEIR_OK ? rv : WEIR_EINVAL;
	}
	weir_subscr_config defaults = { .capacity = 1024,
		.policy                           = WEIR_POLICY_BLOCK,
		.block_timeout_ms                 = -1 };
	weir_subscr       *sub = subscr_new(bus, pattern, sc ? sc : &defaults);
	if (sub == NULL) {
		return WEIR_ENOMEM;
	}
	if (fn == NULL && subscr_make_pull(sub) != WEIR_OK) {
		weir__subscr_release(sub); // arg_free not set yet
		return WEIR_ENOMEM;
	}
	sub->fn       = fn;
	sub->arg      = arg;
	sub->arg_free = arg_free;
	pthread_mutex_lock(&bus->lock);
	rv = weir__tree_add(&bus->subs, pattern, sub);
	if (rv == WEIR_OK) {
		sub->registered = 1;
		if (sub->loop != NULL) {
			atomic_fetch_add(&sub->loop->nsubs, 1);
		}
		weir__bus_changed(bus);
	}
	pthread_mutex_unlock(&bus->lock);
	if (rv != WEIR_OK) {
		weir__subscr_release(sub); // on error the caller keeps arg
		return rv;
	}
	*out = sub;
	return WEIR_OK;
}

static void
subscr_release_item(void *item)
{
	weir__subscr_release(item);
}

static void
subscr_unregister(weir_subscr *sub)
{
	weir_bus *bus = sub->bus;
	pthread_mutex_lock(&bus->lock);
	int was = sub->registered;
	if (was) {
		sub->registered = 0;
		weir__tree_remove(&bus->subs, sub->pattern, sub);
		weir__bus_changed(bus);
	}
	pthread_mutex_unlock(&bus->lock);
	if (was) {
		if (sub->loop != NULL) {
			atomic_fetch_sub(&sub->loop->nsubs, 1);
		}
		// The tree's reference: at once, or when the last cached
		// publish that may still offer to it returns (scache.c).
		weir__scache_retire(bus, subscr_release_item, sub);
	}
}

void
weir__subscr_finish(weir_subscr *sub)
{
	// Queued events go now, not when the loop next looks at the ready
	// list (it may never run again).
	weir__queue_drain(&sub->q);
	if (sub->arg_free != NULL) {
		sub->arg_free(sub->arg);
	}
	pthread_mutex_lock(&sub->close_mx);
	sub->finished = 1;
	pthread_cond_broadcast(&sub->close_cv);
	pthread_mutex_unlock(&sub->close_mx);
}

void
weir_unsubscribe(weir_subscr *sub)
{
	if (sub == NULL || atomic_exchange(&sub->closed, 1)) {
		return;
	}
	weir__subscr_hold(sub); // the tree's reference goes below
	if (sub->pull != NULL) {
		weir__pull_close(sub); // callers waiting in next() leave
	}
	weir__queue_close(&sub->q);
	subscr_unregister(sub);
	unsigned st = atomic_fetch_or(&sub->dstate, WEIR__SUBSCR_CLOSING);
	if (!(st & WEIR__SUBSCR_DISPATCHING)) {
		weir__subscr_finish(sub);
	} else if (!weir__loop_any_on_thread()) {
		// Handed to the pass running on a loop thread: it stops
		// after its current call and finishes the close.
		pthread_mutex_lock(&sub->close_mx);
		while (!sub->finished) {
			pthread_cond_wait(&sub->close_cv, &sub->close_mx);
		}
		pthread_mutex_unlock(&sub->close_mx);
	}
	weir__subscr_release(sub);
}

typedef struct subscr_list {
	weir_subscr **s;
	size_t        n;
	size_t        cap;
	int           failed;
} subscr_list;

static void
subscr_list_visit(void *item, void *arg)
{
	subscr_list *sl = arg;
	if (sl->n == sl->cap) {
		size_t        ncap = sl->cap ? sl->cap * 2 : 8;
		weir_subscr **ns   = weir__realloc(sl->s, ncap * sizeof(*ns));
		if (ns == NULL) {
			sl->failed = 1;
			return;
		}
		sl->s   = ns;
		sl->cap = ncap;
	}
	sl->s[sl->n++] = item;
}

weir_err
weir__ssnap_take(weir_bus *bus, const char *topic, weir__ssnap **out)
{
	subscr_list sl = { 0 };
	weir__tree_match(&bus->subs, topic, subscr_list_visit, &sl);
	weir__ssnap *s = sl.failed
	    ? NULL
	    : weir__alloc(sizeof(*s) + sl.n * sizeof(weir_subscr *));
	if (s == NULL) {
		weir__free(sl.s);
		return WEIR_ENOMEM;
	}
	s->n = sl.n;
	for (size_t i = 0; i < sl.n; i++) {
		s->s[i] = sl.s[i];
		weir__subscr_hold(sl.s[i]);
	}
	weir__free(sl.s);
	*out = s;
	return WEIR_OK;
}

void
weir__ssnap_free(weir__ssnap *s)
{
	if (s == NULL) {
		return;
	}
	for (size_t i = 0; i < s->n; i++) {
		weir__subscr_release(s->s[i]);
	}
	weir__free(s);
}

static void
subscr_count_visit(void *item, void *arg)
{
	(void) item;
	(*(size_t *) arg)++;
}

size_t
weir__subscr_count_locked(weir_bus *bus, const char *topic)
{
	size_t n = 0;
	weir__tree_match(&bus->subs, topic, subscr_count_visit, &n);
	return n;
}

// Keeps the first subscription it sees: a walk that needs no memory.
static void
subscr_first_visit(void *item, void *arg)
{
	weir_subscr **first = arg;
	if (*first == NULL) {
		*first = item;
	}
}

// Closes the bus's subscriptions, or some of them when the list of them
// could not grow (at least one: then it walks again for the first);
// returns 1 if some may be left.
static int
subscr_close_some(weir_bus *bus)
{
	subscr_list  sl    = { 0 };
	weir_subscr *first = NULL;
	pthread_mutex_lock(&bus->lock);
	weir__tree_each(&bus->subs, subscr_list_visit, &sl);
	if (sl.failed && sl.n == 0) {
		weir__tree_each(&bus->subs, subscr_first_visit, &first);
		sl.s = &first;
		sl.n = first != NULL;
	}
	for (size_t i = 0; i < sl.n; i++) {
		weir__subscr_hold(sl.s[i]);
	}
	pthread_mutex_unlock(&bus->lock);
	for (size_t i = 0; i < sl.n; i++) {
		weir_unsubscribe(sl.s[i]); // out of the tree: not seen again
		weir__subscr_release(sl.s[i]);
	}
	if (sl.s != &first) {
		weir__free(sl.s);
	}
	return sl.failed;
}

void
weir__subscr_close_all(weir_bus *bus)
{
	// Out of memory a walk lists only some; each round closes at least
	// one, so the rounds end.
	while (subscr_close_some(bus)) { }
}

const char *
weir_subscr_name(const weir_subscr *sub)
{
	return sub ? sub->cfg.name : NULL;
}
