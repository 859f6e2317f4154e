// Design notes. Every counter is an atomic written either by many
// threads with read-modify-writes (publish outcomes) or by one loop
// thread with plain stores, so a reader sees each one exact and whole;
// a snapshot is a series of such reads, not one instant. The JSON is
// written by hand (core has no dependencies) through jbuf.c: names
// escaped, numbers as unsigned integers, and any failed write (memory,
// a section's) fails the whole text.
#include <stdio.h>
#include <string.h>

#include "core/abi.h"
#include "core/alloc.h"
#include "core/bus.h"
#include "core/flow.h"
#include "core/jbuf.h"
#include "core/loop.h"
#include "core/pool.h"
#include "core/section.h"
#include "core/subscr.h"

#define LD(x) atomic_load_explicit(&(x), memory_order_relaxed)

// The queue's outcome counters: written by publishers (atomic
// read-modify-writes) and the loop.
static void
stats_queue(weir_subscr *sub, weir_subscr_stats *out)
{
	weir__qstats *st = &sub->q.st;
	out->published   = weir__queue_published(&sub->q);
	out->delivered   = atomic_load(&sub->q.delivered);
	out->failed      = atomic_load(&sub->q.failed);
	out->dropped     = atomic_load(&st->dropped);
	out->rejected    = atomic_load(&st->rejected);
	out->timed_out   = atomic_load(&st->timed_out);
	out->closed      = atomic_load(&st->closed);
	out->coalesced   = atomic_load(&st->coalesced);
	// The depth first: a run sets in_hand before its claim empties the
	// ring, so an event taken is never missed by both (dispatch.c).
	out->queued = weir__queue_depth(&sub->q);
	out->queued += atomic_load(&sub->in_hand);
	out->high_water = atomic_load(&st->high_water);
	out->pressure   = atomic_load(&st->pressure);
	out->drain      = atomic_load(&st->drain);
}

// The defences' counters and the latency histogram (flow.c).
static void
stats_flow(weir_subscr *sub, weir_subscr_stats *out)
{
	weir__flow *fl    = sub->flow;
	out->in_flight    = LD(fl->in_flight);
	out->deferred     = LD(fl->deferred);
	out->retried      = LD(fl->retried);
	out->dead         = LD(fl->dead);
	out->rate_delayed = LD(fl->rate_delayed);
	out->debounced    = LD(fl->debounced);
	weir__hist_read(atomic_load_explicit(&fl->lat, memory_order_acquire),
	    &out->latency);
}

weir_err
weir_subscr_stats_get(const weir_subscr *csub, weir_subscr_stats *out)
{
	if (csub == NULL || out == NULL) {
		return WEIR_EINVAL;
	}
	weir_subscr      *sub = (weir_subscr *) csub;
	weir_subscr_stats all = WEIR_STRUCT_INIT(weir_subscr_stats);
	stats_queue(sub, &all);
	stats_flow(sub, &all);
	return weir__struct_out(out, &all, sizeof(all));
}

weir_err
weir_loop_stats_get(weir_loop *loop, weir_loop_stats *out)
{
	if (loop == NULL || out == NULL) {
		return WEIR_EINVAL;
	}
	weir_loop_stats st = {
		.size          = sizeof(st),
		.passes        = LD(loop->st.passes),
		.wakeups       = LD(loop->st.wakeups),
		.dispatched    = LD(loop->st.dispatched),
		.spins         = LD(loop->st.spins),
		.spin_hits     = LD(loop->st.spin_hits),
		.steps         = LD(loop->st.steps),
		.budget_out    = LD(loop->st.budget_out),
		.gathers       = LD(loop->st.gathers),
		.subscriptions = LD(loop->nsubs),
	};
	return weir__struct_out(out, &st, sizeof(st));
}

static void
json_loop(weir__jbuf *b, weir_loop *loop, long index)
{
	weir_loop_stats st = WEIR_STRUCT_INIT(weir_loop_stats);
	weir_loop_stats_get(loop, &st);
	weir__jbuf_add(b,
	    "{\"index\":%ld,\"passes\":%llu,\"wakeups\":%llu,"
	    "\"dispatched\":%llu,\"spins\":%llu,\"spin_hits\":%llu,"
	    "\"steps\":%llu,\"budget_out\":%llu,\"gathers\":%llu,"
	    "\"subscriptions\":%llu}",
	    index, (unsigned long long) st.passes,
	    (unsigned long long) st.wakeups,
	    (unsigned long long) st.dispatched, (unsigned long long) st.spins,
	    (unsigned long long) st.spin_hits, (unsigned long long) st.steps,
	    (unsigned long long) st.budget_out,
	    (unsigned long long) st.gathers,
	    (unsigned long long) st.subscriptions);
}

static long
json_loop_index(weir_bus *bus, weir_loop *loop)
{
	size_t n = weir_bus_loop_count(bus);
	for (size_t i = 0; i < n; i++) {
		if (weir_bus_loop_at(bus, i) == loop) {
			return (long) i;
		}
	}
	return loop == bus->loop ? -1 : -2; // default, or the user's own
}

#define U(x) ((unsigned long long) (x))

static void
json_subscr(weir__jbuf *b, weir_bus *bus, weir_subscr *sub)
{
	weir_subscr_stats s = WEIR_STRUCT_INIT(weir_subscr_stats);
	weir_subscr_stats_get(sub, &s);
	const weir_subscr_stats *x = &s;
	weir__jbuf_add(b, "{\"name\":");
	weir__jbuf_str(b, sub->cfg.name);
	weir__jbuf_add(b, ",\"pattern\":");
	weir__jbuf_str(b, sub->pattern);
	if (sub->loop != NULL) {
		weir__jbuf_add(
		    b, ",\"loop\":%ld", json_loop_index(bus, sub->loop));
	} else {
		weir__jbuf_add(b, ",\"loop\":null"); // a pull subscription
	}
	weir__jbuf_add(b,
	    ",\"published\":%llu,\"delivered\":%llu,"
	    "\"failed\":%llu,\"dropped\":%llu,\"rejected\":%llu,"
	    "\"timed_out\":%llu,\"coalesced\":%llu,\"queued\":%llu,"
	    "\"high_water\":%llu,\"pressure\":%llu,\"drain\":%llu,"
	    "\"closed\":%llu,",
	    U(s.published), U(s.delivered), U(s.failed), U(s.dropped),
	    U(s.rejected), U(s.timed_out), U(s.coalesced), U(s.queued),
	    U(s.high_water), U(s.pressure), U(s.drain), U(s.closed));
	weir__jbuf_add(b,
	    "\"in_flight\":%llu,\"deferred\":%llu,\"retried\":%llu,"
	    "\"dead\":%llu,\"rate_delayed\":%llu,\"debounced\":%llu,"
	    "\"latency_ns\":{\"count\":%llu,\"p50\":%llu,\"p99\":%llu,"
	    "\"p999\":%llu,\"max\":%llu}}",
	    U(x->in_flight), U(x->deferred), U(x->retried), U(x->dead),
	    U(x->rate_delayed), U(x->debounced), U(x->latency.count),
	    U(x->latency.p50_ns), U(x->latency.p99_ns), U(x->latency.p999_ns),
	    U(x->latency.max_ns));
}

static void
json_loops(weir__jbuf *b, weir_bus *bus)
{
	weir__jbuf_add(b, "{\"loops\":[");
	json_loop(b, bus->loop, -1);
	for (size_t i = 0; i < weir_bus_loop_count(bus); i++) {
		weir__jbuf_add(b, ",");
		json_loop(b, weir_bus_loop_at(bus, i), (long) i);
	}
	weir__jbuf_add(b, "],\"subscriptions\":[");
}

typedef struct json_subs {
	weir_subscr **s;
	size_t        n;
	size_t        cap;
	int           failed;
} json_subs;

static void
json_subs_visit(void *item, void *arg)
{
	json_subs *js = arg;
	if (js->n == js->cap) {
		size_t        ncap = js->cap ? js->cap * 2 : 16;
		weir_subscr **ns   = weir__realloc(js->s, ncap * sizeof(*ns));
		if (ns == NULL) {
			js->failed = 1;
			return;
		}
		js->s   = ns;
		js->cap = ncap;
	}
	weir__subscr_hold(item);
	js->s[js->n++] = item;
}

static void
json_subs_release(json_subs *js)
{
	for (size_t i = 0; i < js->n; i++) {
		weir__subscr_release(js->s[i]);
	}
	weir__free(js->s);
}

char *
weir_bus_stats_json(weir_bus *bus)
{
	if (bus == NULL) {
		return NULL;
	}
	json_subs js = { 0 };
	pthread_mutex_lock(&bus->lock);
	weir__tree_each(&bus->subs, json_subs_visit, &js);
	pthread_mutex_unlock(&bus->lock);
	weir__jbuf b;
	weir__jbuf_init(&b, 1024);
	if (js.failed) {
		weir__jbuf_fail(&b);
	}
	json_loops(&b, bus);
	for (size_t i = 0; i < js.n; i++) {
		if (i > 0) {
			weir__jbuf_add(&b, ",");
		}
		json_subscr(&b, bus, js.s[i]);
	}
	weir__jbuf_add(&b, "]");
	json_subs_release(&js);
	weir__sections_json(bus, &bus->sections, &b);
	weir__jbuf_add(&b, "}");
	return weir__jbuf_take(&b);
}
