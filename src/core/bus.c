// The bus: creation, configuration, topic handles.
#include <string.h>

#include "core/alloc.h"
#include "core/bus.h"
#include "core/loop.h"
#include "core/pool.h"
#include "core/scache.h"
#include "core/section.h"

weir_err
weir_bus_config_create(weir_bus_config **out)
{
	if (out == NULL) {
		return WEIR_EINVAL;
	}
	weir_bus_config *cfg = weir__zalloc(sizeof(*cfg));
	if (cfg == NULL) {
		return WEIR_ENOMEM;
	}
	cfg->max_payload = WEIR_DEFAULT_MAX_PAYLOAD;
	*out             = cfg;
	return WEIR_OK;
}

void
weir_bus_config_destroy(weir_bus_config *cfg)
{
	weir__free(cfg);
}

weir_err
weir_bus_config_set_max_payload(weir_bus_config *cfg, size_t max)
{
	if (cfg == NULL || max == 0) {
		return WEIR_EINVAL;
	}
	cfg->max_payload = max;
	return WEIR_OK;
}

weir_err
weir_bus_create(weir_bus **out, const weir_bus_config *cfg)
{
	if (out == NULL) {
		return WEIR_EINVAL;
	}
	*out          = NULL;
	weir_bus *bus = weir__zalloc(sizeof(*bus));
	if (bus == NULL) {
		return WEIR_ENOMEM;
	}
	weir_err rv = weir_loop_create(&bus->loop);
	if (rv == WEIR_OK && cfg != NULL && cfg->has_loops &&
	    (rv = weir__pool_create(&bus->pool, cfg->loops)) != WEIR_OK) {
		weir_loop_destroy(bus->loop);
	}
	if (rv != WEIR_OK) {
		weir__free(bus);
		return rv;
	}
	pthread_mutex_init(&bus->lock, NULL);
	weir__tree_init(&bus->listeners);
	weir__tree_init(&bus->subs);
	weir__sections_init(&bus->sections);
	atomic_init(&bus->gen, weir__scache_gen_next());
	atomic_init(&bus->meta_new, 0);
	atomic_init(&bus->meta_removed, 0);
	bus->max_listeners = WEIR_DEFAULT_MAX_LISTENERS;
	bus->max_payload   = cfg ? cfg->max_payload : WEIR_DEFAULT_MAX_PAYLOAD;
	*out               = bus;
	return WEIR_OK;
}

void
weir_bus_destroy(weir_bus *bus)
{
	if (bus == NULL) {
		return;
	}
	weir_bus_stop(bus);        // the bus's loop threads, if started,
	(void) weir_bus_join(bus); // return and are joined
	weir__subscr_close_all(bus);
	weir_off_all(bus, NULL, NULL);
	weir__pool_destroy(bus->pool);
	weir_loop_destroy(bus->loop);
	weir__tree_fini(&bus->listeners);
	weir__tree_fini(&bus->subs);
	weir__sections_fini(&bus->sections);
	pthread_mutex_destroy(&bus->lock);
	weir__free(bus);
}

weir_loop *
weir_bus_loop(weir_bus *bus)
{
	return bus ? bus->loop : NULL;
}

weir_err
weir_bus_run(weir_bus *bus, weir_run_mode mode)
{
	return bus ? weir_loop_run(bus->loop, mode) : WEIR_EINVAL;
}

void
weir_bus_stop(weir_bus *bus)
{
	if (bus != NULL) {
		weir_loop_stop(bus->loop);
		for (size_t i = 0; i < weir_bus_loop_count(bus); i++) {
			weir_loop_stop(weir_bus_loop_at(bus, i));
		}
	}
}

int
weir_bus_fd(weir_bus *bus)
{
	return bus ? weir_loop_fd(bus->loop) : -1;
}

void
weir__bus_changed(weir_bus *bus)
{
	// A value no bus has had, so that a generation also names its bus
	// (the string cache compares no bus). A plain store: every change
	// holds bus->lock. seq_cst: the string cache's reclamation orders it
	// before the epoch bump of weir__scache_retire() (scache.c).
	atomic_store(&bus->gen, weir__scache_gen_next());
}

weir_err
weir__bus_check(weir_bus *bus, const char *topic, size_t len)
{
	if (bus == NULL || topic == NULL) {
		return WEIR_EINVAL;
	}
	if (weir_topic_validate(topic) != WEIR_OK) {
		return WEIR_EBADTOPIC;
	}
	return len > bus->max_payload ? WEIR_ETOOBIG : WEIR_OK;
}

weir_err
weir_topic_create(weir_topic **out, weir_bus *bus, const char *topic)
{
	if (out == NULL) {
		return WEIR_EINVAL;
	}
	*out        = NULL;
	weir_err rv = weir__bus_check(bus, topic, 0);
	if (rv != WEIR_OK) {
		return rv;
	}
	weir_topic *t = weir__zalloc(sizeof(*t));
	if (t == NULL || (t->name = weir__strdup(topic)) == NULL) {
		weir__free(t);
		return WEIR_ENOMEM;
	}
	t->bus = bus;
	t->len = strlen(topic);
	weir__event_on_stack(&t->ev, t->name, t->len, NULL, 0);
	if ((rv = weir__topic_refresh(t)) != WEIR_OK) {
		weir_topic_destroy(t);
		return rv;
	}
	*out = t;
	return WEIR_OK;
}

void
weir_topic_destroy(weir_topic *t)
{
	if (t == NULL) {
		return;
	}
	weir__lsnap_free(t->ls);
	weir__ssnap_free(t->ss);
	while (t->retired != NULL) {
		weir__lsnap *s = t->retired;
		t->retired     = s->next;
		weir__lsnap_free(s);
	}
	weir__free(t->name);
	weir__free(t);
}

const char *
weir_topic_name(const weir_topic *t)
{
	return t ? t->name : NULL;
}

weir_err
weir__topic_refresh(weir_topic *t)
{
	weir__lsnap *ls  = NULL;
	weir__ssnap *ss  = NULL;
	weir_bus    *bus = t->bus;
	pthread_mutex_lock(&bus->lock);
	uint64_t gen = atomic_load(&bus->gen);
	weir_err rv  = weir__lsnap_take(bus, t->name, &ls);
	if (rv == WEIR_OK) {
		rv = weir__ssnap_take(bus, t->name, &ss);
	}
	pthread_mutex_unlock(&bus->lock);
	if (rv != WEIR_OK) {
		weir__lsnap_free(ls);
		return rv;
	}
	if (t->depth > 0 && t->ls != NULL) {
		t->ls->next = t->retired; // an emit still walks it
		t->retired  = t->ls;
	} else {
		weir__lsnap_free(t->ls);
	}
	weir__ssnap_free(t->ss);
	t->ls  = ls;
	t->ss  = ss;
	t->gen = gen;
	return WEIR_OK;
}
