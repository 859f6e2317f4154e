// Design notes. A failed delivery waits in the subscription's retry
// list, sorted by due time, and the subscription pauses until the
// first one is due: later events never overtake it, so a key's events
// keep their order. The wait doubles with each attempt up to a cap,
// and is drawn uniformly from its upper half ("equal jitter"), so that
// subscriptions failing together do not retry in lockstep. When the
// attempts run out the event becomes a dead letter on WEIR_TOPIC_DEAD,
// emitted to listeners and published to subscriptions, with the
// original event as its cause.
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/emit.h"
#include "core/event.h"
#include "core/flow.h"
#include "core/subscr.h"
#include "core/uuid.h"

static void
retry_bump(atomic_uint_least64_t *c)
{
	// Loop thread only (see delivery.c).
	atomic_store_explicit(c,
	    atomic_load_explicit(c, memory_order_relaxed) + 1,
	    memory_order_relaxed);
}

static int64_t
retry_backoff_ns(const weir__flow_config *cfg, uint32_t attempts)
{
	uint64_t ms = cfg->retry_base_ms;
	for (uint32_t i = 1; i < attempts && ms < cfg->retry_max_ms; i++) {
		ms *= 2;
	}
	if (ms > cfg->retry_max_ms) {
		ms = cfg->retry_max_ms;
	}
	uint64_t ns   = ms * 1000000u;
	uint64_t half = ns / 2;
	return (int64_t) (half + weir__rand64() % (ns - half + 1));
}

static void
retry_dead(weir_subscr *sub, weir_event *ev, weir_err err, uint32_t n)
{
	retry_bump(&sub->flow->dead);
	if (strcmp(ev->topic, WEIR_TOPIC_DEAD) == 0) {
		// A dead-letter handler failed for good: do not loop.
		weir__report_error(sub->bus, ev, err, sub->cfg.name);
		return;
	}
	char        code[16], attempts[16];
	const char *name = weir_err_name(err);
	snprintf(code, sizeof(code), "%d", (int) err);
	snprintf(attempts, sizeof(attempts), "%u", (unsigned) n);
	weir_header hdr[5] = {
		{ "weir-topic", ev->topic, ev->topic_len },
		{ "weir-error", name, strlen(name) },
		{ "weir-code", code, strlen(code) },
		{ "weir-attempts", attempts, strlen(attempts) },
		{ "weir-subscr", sub->cfg.name, strlen(sub->cfg.name) },
	};
	weir_event_init init = { .size = sizeof(weir_event_init),
		.topic                 = WEIR_TOPIC_DEAD,
		.key                   = weir__event_key(ev),
		.key_len               = ev->key_len,
		.payload               = ev->payload,
		.payload_len           = ev->payload_len,
		.headers               = hdr,
		.header_count          = 5 };
	weir_event     *dev;
	if (weir__event_make(&dev, &init, NULL, ev) != WEIR_OK) {
		return;
	}
	(void) weir_emit_event(sub->bus, dev, NULL);
	(void) weir_publish_event(sub->bus, dev);
	weir_event_release(dev);
}

static int
retry_later(weir_subscr *sub, weir_event *ev, uint32_t n, weir_err err)
{
	weir__flow  *fl = sub->flow;
	weir__retry *r  = weir__zalloc(sizeof(*r));
	if (r == NULL || (ev = (weir_event *) weir_event_hold(ev)) == NULL) {
		weir__free(r);
		return 0;
	}
	*r               = (weir__retry) { .ev = ev,
		              .attempts        = n,
		              .err             = err,
		              .due_ns = weir__mono_ns() + retry_backoff_ns(&fl->cfg, n) };
	weir__retry **pp = &fl->retries;
	while (*pp != NULL && (*pp)->due_ns <= r->due_ns) {
		pp = &(*pp)->next;
	}
	r->next = *pp;
	*pp     = r;
	return 1;
}

void
weir__flow_failed(
    weir_subscr *sub, weir_event *ev, uint32_t attempts, weir_err err)
{
	retry_bump(&sub->q.failed);
	const weir__flow_config *cfg = &sub->flow->cfg;
	if (cfg->retry_max == 0) {
		weir__report_error(sub->bus, ev, err, sub->cfg.name);
	} else if (attempts >= cfg->retry_max ||
	    !retry_later(sub, ev, attempts, err)) {
		retry_dead(sub, ev, err, attempts);
	}
}

void
weir__flow_take_done(weir_subscr *sub)
{
	weir__flow *fl = sub->flow;
	if (!atomic_load(&fl->has_done)) {
		return;
	}
	pthread_mutex_lock(&fl->done_mx);
	weir__retry *r = fl->done;
	fl->done       = NULL;
	atomic_store(&fl->has_done, 0);
	pthread_mutex_unlock(&fl->done_mx);
	while (r != NULL) {
		weir__retry *next = r->next;
		if (!atomic_load(&sub->closed)) {
			weir__flow_failed(sub, r->ev, r->attempts, r->err);
		}
		weir_event_release(r->ev);
		weir__free(r);
		r = next;
	}
}

weir_event *
weir__flow_next_retry(
    weir_subscr *sub, int64_t now_ns, uint32_t *attempts, int64_t *wait)
{
	weir__retry *r = sub->flow->retries;
	*wait          = -1;
	if (r == NULL) {
		return NULL;
	}
	if (r->due_ns > now_ns) {
		*wait = r->due_ns;
		return NULL;
	}
	sub->flow->retries = r->next;
	weir_event *ev     = r->ev;
	*attempts          = r->attempts + 1;
	weir__free(r);
	return ev;
}
