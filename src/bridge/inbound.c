/*
 * Inbound routes: registration, and the two threads of each route.
 *
 * Design notes. The route thread is the only one that calls the source
 * (fetch, done, pause): sources need no locks of their own. Messages
 * enter a ring of max_in_flight slots in delivery order (inlet.c) and
 * leave it in that order: an append committed by the store's writer
 * (group commit) makes a slot READY; the publisher thread publishes
 * READY slots on the bus in order, a run at a time, and marks them
 * FINISHED; the route thread calls done for the FINISHED run at the
 * head. Wake-ups are kept to what is needed (they cost more than the
 * rest of a message's hand-over): the publisher sleeps on its own
 * condition, signalled only when the very slot it waits for becomes
 * READY; the route thread and flush wait on `cond`, broadcast once per
 * published run. So done follows
 * the commit and the publish, in delivery order, and a crash before
 * done leaves the message to the broker, which hands it over again
 * (the inbox then recognises it).
 *
 * Flow control: the ring is the only buffer. When it is full (the
 * store or a BLOCK subscriber on the bus is slower than the broker),
 * the route pauses the source and calls fetch with max 0, which only
 * serves the client, until the ring is half empty again. The
 * publisher may wait in weir_publish_event for a full BLOCK queue: the
 * route thread goes on serving the client meanwhile.
 */
#include "bridge/inbound.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bridge/bridge.h"
#include "core/abi.h"
#include "core/alloc.h"
#include "store/inbox.h"

/* The most slots the publisher takes in one run: bounds how long the
 * head waits for its FINISHED mark (and its done). */
#define WEIR__IN_PUB_RUN 256

weir__source *
weir__bridge_source(weir_bridge *br, const char *scheme)
{
	for (size_t i = 0; i < br->nsources; i++)
		if (strcmp(br->sources[i]->ops->scheme, scheme) == 0)
			return br->sources[i];
	return NULL;
}

weir_inlet *
weir__bridge_inlet(weir_bridge *br, const char *name)
{
	for (size_t i = 0; i < br->ninlets; i++)
		if (strcmp(br->inlets[i]->name, name) == 0)
			return br->inlets[i];
	return NULL;
}

void *
weir__bridge_source_state(weir_bridge *br, const char *name)
{
	weir_inlet *in = weir__bridge_inlet(br, name);
	return in != NULL ? in->state : NULL;
}

static int
inbound_ops_complete(const weir_source_ops *ops)
{
	return ops->scheme != NULL && ops->init != NULL && ops->fini != NULL &&
	    ops->start != NULL && ops->stop != NULL && ops->fetch != NULL &&
	    ops->done != NULL && ops->pause != NULL;
}

weir_err
weir_bridge_register_source(weir_bridge *br, const weir_source_ops *ops)
{
	if (br == NULL || ops == NULL)
		return WEIR_EINVAL;
	if (ops->version != WEIR_SOURCE_V1)
		return weir__bridge_fail(br, WEIR_EVERSION,
		    "source: version %u, this bridge speaks %u", ops->version,
		    WEIR_SOURCE_V1);
	if (!inbound_ops_complete(ops))
		return weir__bridge_fail(
		    br, WEIR_EINVAL, "source: a mandatory slot is NULL");
	if (br->started)
		return weir__bridge_fail(br, WEIR_EBUSY, "bridge started");
	if (weir__bridge_source(br, ops->scheme) != NULL)
		return weir__bridge_fail(br, WEIR_EEXIST,
		    "source %s: already registered", ops->scheme);
	weir__source  *src = weir__zalloc(sizeof *src);
	weir__source **ns =
	    weir__realloc(br->sources, (br->nsources + 1) * sizeof *ns);
	if (ns != NULL)
		br->sources = ns;
	if (src == NULL || ns == NULL) {
		weir__free(src);
		return WEIR_ENOMEM;
	}
	src->ops                    = ops;
	br->sources[br->nsources++] = src;
	return WEIR_OK;
}

void
weir__inbound_free(weir_inlet *in)
{
	if (in == NULL)
		return;
	if (in->inited)
		in->ops->fini(in->state);
	for (size_t i = 0; in->ring != NULL && i < in->cap; i++) {
		weir_event_release(in->ring[i].ev);
		weir__free(in->ring[i].coord);
	}
	weir__free(in->ring);
	weir__free(in->state);
	weir__template_fini(&in->topic);
	weir__free(in->topic_text);
	weir__free(in->topic_origin);
	weir__free(in->name);
	weir__free(in->scheme);
	weir__free(in->from);
	weir__free(in->group);
	weir__free(in->stream);
	pthread_mutex_destroy(&in->lock);
	pthread_cond_destroy(&in->cond);
	pthread_cond_destroy(&in->ready_cv);
	weir__free(in);
}

static weir_err
inbound_check(
    weir_bridge *br, const char *name, const char *scheme, const char *from)
{
	if (!weir__route_name_ok(name))
		return weir__bridge_fail(br, WEIR_EBADNAME,
		    "inbound route '%.80s': name: 1 to 64 of [A-Za-z0-9_.-]",
		    name);
	if (weir__bridge_inlet(br, name) != NULL ||
	    weir__bridge_route(br, name) != NULL)
		return weir__bridge_fail(br, WEIR_EEXIST,
		    "inbound route '%s': name: already taken", name);
	if (scheme == NULL || weir__bridge_source(br, scheme) == NULL)
		return weir__bridge_fail(br, WEIR_ENOENT,
		    "inbound route '%s': scheme: no source '%.40s' is "
		    "registered",
		    name, scheme ? scheme : "(null)");
	if (from == NULL || from[0] == '\0')
		return weir__bridge_fail(
		    br, WEIR_EINVAL, "inbound route '%s': from: empty", name);
	if (br->store == NULL)
		return weir__bridge_fail(br, WEIR_EINVAL,
		    "inbound route '%s': the bridge has no store", name);
	return WEIR_OK;
}

static char *
inbound_dup(const char *s)
{
	return s != NULL ? weir__strdup(s) : NULL;
}

static weir_err
inbound_alloc(weir_inlet **out, weir_bridge *br, const char *name,
    const char *scheme, const char *from, const weir_bridge_inbound_opts *o)
{
	weir_inlet *in = weir__zalloc(sizeof *in);
	*out           = in;
	if (in == NULL)
		return WEIR_ENOMEM;
	pthread_mutex_init(&in->lock, NULL);
	pthread_cond_init(&in->cond, NULL);
	pthread_cond_init(&in->ready_cv, NULL);
	in->br      = br;
	in->ops     = weir__bridge_source(br, scheme)->ops;
	in->echo    = o->echo != 0;
	in->cap     = (size_t) br->in_max_in_flight;
	in->name    = weir__strdup(name);
	in->scheme  = weir__strdup(scheme);
	in->from    = weir__strdup(from);
	size_t glen = strlen(name) + sizeof "weir-";
	in->group =
	    o->group != NULL ? weir__strdup(o->group) : weir__alloc(glen);
	in->stream = inbound_dup(o->stream);
	in->ring   = weir__zalloc(in->cap * sizeof *in->ring);
	in->state =
	    weir__zalloc(in->ops->state_size > 0 ? in->ops->state_size : 1);
	if (in->name == NULL || in->scheme == NULL || in->from == NULL ||
	    in->group == NULL || in->ring == NULL || in->state == NULL ||
	    (o->stream != NULL && in->stream == NULL))
		return WEIR_ENOMEM;
	if (o->group == NULL)
		snprintf(in->group, glen, "weir-%s", name);
	in->spec = (weir_source_spec) { .size = sizeof in->spec,
		.route                        = in->name,
		.from                         = in->from,
		.group                        = in->group,
		.stream                       = in->stream,
		.batch = o->batch ? o->batch : (uint32_t) br->in_batch };
	if (in->spec.batch > in->cap)
		in->spec.batch = (uint32_t) in->cap;
	return WEIR_OK;
}

/* The template is checked against `from` when that is a pattern (NATS
 * subjects, plain Kafka topics); any other `from` (a Kafka regex) only
 * allows what every destination has: {topic} and {1}. */
static weir_err
inbound_template(weir_inlet *in, const char *topic_template)
{
	char        why[160];
	const char *pat =
	    weir_pattern_validate(in->from) == WEIR_OK ? in->from : ">";
	weir_err e = weir__template_parse(
	    &in->topic, topic_template, pat, why, sizeof why);
	if (e == WEIR_EINVAL)
		return weir__bridge_fail(in->br, e,
		    "inbound route '%s': topic template: %s", in->name, why);
	return e;
}

static weir_err
inbound_init(weir_inlet *in)
{
	weir_err e = in->ops->init(in->state, in->br->cfg, &in->spec, in);
	if (e != WEIR_OK) {
		const char *why =
		    in->ops->errmsg ? in->ops->errmsg(in->state) : NULL;
		return weir__bridge_fail(in->br, e,
		    "inbound route '%s': source %s: init: %s", in->name,
		    in->scheme, why ? why : weir_strerror(e));
	}
	in->inited = 1;
	return WEIR_OK;
}

weir_err
weir_bridge_inbound_add(weir_bridge *br, const char *name, const char *scheme,
    const char *from, const char *topic_template,
    const weir_bridge_inbound_opts *opts)
{
	weir_bridge_inbound_opts o =
	    WEIR_STRUCT_INIT(weir_bridge_inbound_opts);
	if (br == NULL || name == NULL)
		return WEIR_EINVAL;
	if (br->started)
		return weir__bridge_fail(br, WEIR_EBUSY,
		    "inbound route '%.80s': the bridge is started", name);
	if (opts != NULL && weir__struct_in(&o, sizeof o, opts, sizeof o))
		return weir__bridge_fail(br, WEIR_EINVAL,
		    "inbound route '%.80s': opts: bad size", name);
	weir_err e = inbound_check(br, name, scheme, from);
	if (e != WEIR_OK)
		return e;
	weir_inlet *in = NULL;
	if ((e = inbound_alloc(&in, br, name, scheme, from, &o)) == WEIR_OK &&
	    (e = inbound_template(in, topic_template)) == WEIR_OK) {
		weir_inlet **ni =
		    weir__realloc(br->inlets, (br->ninlets + 1) * sizeof *ni);
		e = ni != NULL ? WEIR_OK : WEIR_ENOMEM;
		if (ni != NULL)
			br->inlets = ni;
		if (e == WEIR_OK && (e = inbound_init(in)) == WEIR_OK) {
			br->inlets[br->ninlets++] = in;
			return WEIR_OK;
		}
	}
	weir__inbound_free(in);
	return e;
}

/* ---- the route thread ------------------------------------------------ */

void
weir__inbound_reap(weir_inlet *in)
{
	for (;;) {
		pthread_mutex_lock(&in->lock);
		weir__in_msg *m = &in->ring[in->head % in->cap];
		int ready       = in->head < in->delivered && !in->halted &&
		    m->state == WEIR__IN_FINISHED;
		uint64_t token = m->token;
		if (ready) {
			m->state = WEIR__IN_PENDING;
			in->head++;
			pthread_cond_broadcast(&in->cond);
		}
		pthread_mutex_unlock(&in->lock);
		if (!ready)
			return;
		in->ops->done(in->state, token);
	}
}

/* Waits on the route's condition for at most @p ms. */
static void
inbound_wait(weir_inlet *in, int64_t ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long) (ms % 1000) * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(&in->cond, &in->lock, &ts);
}

/* Pauses at a full ring, resumes at half: returns what fetch may take. */
static size_t
inbound_room(weir_inlet *in)
{
	pthread_mutex_lock(&in->lock);
	size_t used   = (size_t) (in->delivered - in->head);
	int    halted = in->halted;
	pthread_mutex_unlock(&in->lock);
	int pause =
	    halted || (in->paused ? used > in->cap / 2 : used >= in->cap);
	if (pause != in->paused) {
		in->paused = pause;
		if (pause)
			atomic_fetch_add(&in->pauses, 1);
		in->ops->pause(in->state, pause);
	}
	if (pause)
		return 0;
	size_t room = in->cap - used;
	return room < in->spec.batch ? room : in->spec.batch;
}

static void
inbound_prune(weir_inlet *in, int64_t now_ms)
{
	weir_bridge *br = in->br;
	if (now_ms < in->next_prune_ms)
		return;
	in->next_prune_ms = now_ms + (int64_t) br->in_prune_ms;
	int64_t before    = 0;
	if (br->in_dedupe_ms > 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		before = ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000 -
		             (int64_t) br->in_dedupe_ms) *
		    1000000;
	}
	weir__store_inbox_prune(br->store, before, br->in_dedupe_max, NULL);
}

static void
inbound_fetch(weir_inlet *in)
{
	size_t max = inbound_room(in);
	int    ms  = (int) in->br->in_fetch_ms;
	if (max == 0) { /* paused: wait for room, then serve the client */
		pthread_mutex_lock(&in->lock);
		if (!in->stopping)
			inbound_wait(in, ms);
		pthread_mutex_unlock(&in->lock);
		ms = 0;
	}
	weir_err e = in->ops->fetch(in->state, max, ms);
	if (e != WEIR_OK) {
		atomic_fetch_add(&in->fetch_errors, 1);
		pthread_mutex_lock(&in->lock); /* back off, but wake on stop */
		if (!in->stopping)
			inbound_wait(in, (int64_t) in->br->retry_initial_ms);
		pthread_mutex_unlock(&in->lock);
	}
}

static void *
inbound_route_main(void *arg)
{
	weir_inlet *in = arg;
	for (;;) {
		pthread_mutex_lock(&in->lock);
		int stopping = in->stopping;
		pthread_mutex_unlock(&in->lock);
		if (stopping)
			break;
		weir__inbound_reap(in);
		inbound_prune(in, weir__bridge_now_ms());
		inbound_fetch(in);
		weir__inbound_reap(in);
	}
	weir_inlet_flush(in); /* done for everything taken in */
	return NULL;
}

/* ---- the publisher thread -------------------------------------------- */

/* Handles slot @p m (READY) outside the lock: publishes a new event,
 * dead-letters one whose append failed. */
static void
inbound_publish_one(weir_inlet *in, weir__in_msg *m)
{
	if (m->outcome == WEIR__IN_NEW) {
		weir_publish_event(in->br->bus, m->ev);
	} else if (m->outcome == WEIR__IN_FAILED) {
		char why[200];
		snprintf(why, sizeof why, "append failed: %s",
		    weir_strerror(m->err));
		weir__inlet_dead(in, m->ev, m->err, why, m->coord);
	}
	weir_event_release(m->ev);
	m->ev = NULL;
	weir__free(m->coord);
	m->coord = NULL;
}

void
weir__inbound_ready(weir_inlet *in, const weir__in_msg *m)
{
	if (in->pub_waiting && m == &in->ring[in->published % in->cap])
		pthread_cond_signal(&in->ready_cv);
}

/* The run of READY slots from `published` (lock held): its end. */
static uint64_t
inbound_ready_run(weir_inlet *in)
{
	uint64_t end = in->published;
	while (end < in->delivered && end - in->published < WEIR__IN_PUB_RUN &&
	    in->ring[end % in->cap].state == WEIR__IN_READY)
		end++;
	return end;
}

/* Publishes READY slots a run at a time: one lock hold to find the run,
 * one to finish it, one wake-up for the route thread (publishing one by
 * one woke it, and was woken, once per event). */
static void *
inbound_pub_main(void *arg)
{
	weir_inlet *in = arg;
	pthread_mutex_lock(&in->lock);
	for (;;) {
		uint64_t end = inbound_ready_run(in);
		if (end > in->published) {
			pthread_mutex_unlock(&in->lock);
			for (uint64_t i = in->published; i < end; i++)
				inbound_publish_one(
				    in, &in->ring[i % in->cap]);
			pthread_mutex_lock(&in->lock);
			for (uint64_t i = in->published; i < end; i++)
				in->ring[i % in->cap].state =
				    WEIR__IN_FINISHED;
			in->published = end;
			pthread_cond_broadcast(&in->cond);
			continue;
		}
		if (in->stopping == 2) /* the route thread has flushed */
			break;
		in->pub_waiting = 1;
		pthread_cond_wait(&in->ready_cv, &in->lock);
		in->pub_waiting = 0;
	}
	pthread_mutex_unlock(&in->lock);
	return NULL;
}

/* ---- start and stop -------------------------------------------------- */

static weir_err
inbound_threads(weir_inlet *in)
{
	in->stopping = 0;
	if (pthread_create(&in->pub_thread, NULL, inbound_pub_main, in) != 0)
		return WEIR_ENOMEM;
	if (pthread_create(&in->route_thread, NULL, inbound_route_main, in) !=
	    0) {
		pthread_mutex_lock(&in->lock);
		in->stopping = 2;
		pthread_cond_broadcast(&in->ready_cv);
		pthread_mutex_unlock(&in->lock);
		pthread_join(in->pub_thread, NULL);
		return WEIR_ENOMEM;
	}
	in->running = 1;
	return WEIR_OK;
}

weir_err
weir__inbound_start(weir_inlet *in)
{
	weir_err e = in->ops->start(in->state);
	if (e != WEIR_OK) {
		const char *why =
		    in->ops->errmsg ? in->ops->errmsg(in->state) : NULL;
		return weir__bridge_fail(in->br, e,
		    "inbound route '%s': source %s: start: %s", in->name,
		    in->scheme, why ? why : weir_strerror(e));
	}
	in->started = 1;
	in->paused  = 0;
	if ((e = inbound_threads(in)) != WEIR_OK)
		return weir__bridge_fail(
		    in->br, e, "inbound route '%s': no thread", in->name);
	return WEIR_OK;
}

void
weir__inbound_stop(weir_inlet *in)
{
	if (in->running) {
		pthread_mutex_lock(&in->lock);
		in->stopping = 1;
		pthread_cond_broadcast(&in->cond);
		pthread_mutex_unlock(&in->lock);
		pthread_join(in->route_thread, NULL);
		pthread_mutex_lock(&in->lock);
		in->stopping = 2;
		pthread_cond_broadcast(&in->cond);
		pthread_cond_broadcast(&in->ready_cv);
		pthread_mutex_unlock(&in->lock);
		pthread_join(in->pub_thread, NULL);
		in->running = 0;
	}
	if (in->started)
		in->ops->stop(in->state);
	in->started = 0;
}
