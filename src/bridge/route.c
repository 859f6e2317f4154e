/*
 * Routes: checked in full at route_add, so that a bad route is refused
 * with the route and the field named, before anything is subscribed or
 * any cursor is touched.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "bridge/bridge.h"
#include "core/abi.h"
#include "core/alloc.h"

#define ROUTE_MAX_NAME 64

int
weir__route_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > ROUTE_MAX_NAME)
		return 0;
	for (const char *p = name; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		        (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' ||
		        *p == '-'))
			return 0;
	return 1;
}

void
weir__route_free(weir__route *rt)
{
	if (rt == NULL)
		return;
	for (size_t i = 0; i < rt->nacks; i++)
		weir__free(rt->acks[i].reason);
	weir__free(rt->acks);
	weir__free(rt->ring);
	weir__free(rt->slots);
	weir__free(rt->keys);
	weir__handoff_clear(&rt->handoff);
	weir__template_fini(&rt->dest);
	weir__free(rt->name);
	weir__free(rt->pattern);
	weir__free(rt->cursor_name);
	weir__free(rt->refused);
	pthread_mutex_destroy(&rt->lock);
	pthread_cond_destroy(&rt->cond);
	weir__free(rt);
}

/* Checks the fields that need no allocation; names the first bad one. */
static weir_err
route_check(weir_bridge *br, const char *name, const char *pattern,
    const char *scheme, const weir_bridge_route_opts *o)
{
	if (!weir__route_name_ok(name))
		return weir__bridge_fail(br, WEIR_EBADNAME,
		    "route '%.80s': name: 1 to 64 of [A-Za-z0-9_.-]", name);
	if (weir__bridge_route(br, name) != NULL)
		return weir__bridge_fail(
		    br, WEIR_EEXIST, "route '%s': name: already taken", name);
	if (pattern == NULL || weir_pattern_validate(pattern) != WEIR_OK)
		return weir__bridge_fail(br, WEIR_EBADPATTERN,
		    "route '%s': pattern: '%.80s' is not a topic pattern",
		    name, pattern ? pattern : "(null)");
	if (scheme == NULL || weir__bridge_backend(br, scheme) == NULL)
		return weir__bridge_fail(br, WEIR_ENOENT,
		    "route '%s': scheme: no backend '%.40s' is registered",
		    name, scheme ? scheme : "(null)");
	if (!o->direct && br->store == NULL)
		return weir__bridge_fail(br, WEIR_EINVAL,
		    "route '%s': direct: the bridge has no store, so the "
		    "route "
		    "must be a direct one",
		    name);
	if (o->window > 65536)
		return weir__bridge_fail(br, WEIR_EINVAL,
		    "route '%s': window: %u is above 65536", name, o->window);
	return WEIR_OK;
}

static weir_err
route_fields(
    weir__route *rt, const char *dest_template, const char *key_choice)
{
	weir_bridge *br = rt->br;
	char         why[160];
	weir_err     e = weir__template_parse(
	        &rt->dest, dest_template, rt->pattern, why, sizeof why);
	if (e == WEIR_EINVAL)
		return weir__bridge_fail(
		    br, e, "route '%s': destination: %s", rt->name, why);
	if (e != WEIR_OK)
		return e;
	e = weir__keychoice_parse(
	    &rt->key, key_choice, rt->pattern, why, sizeof why);
	if (e != WEIR_OK)
		return weir__bridge_fail(
		    br, e, "route '%s': key: %s", rt->name, why);
	return WEIR_OK;
}

static weir_err
route_alloc(weir__route **out, weir_bridge *br, const char *name,
    const char *pattern, const weir_bridge_route_opts *o)
{
	weir__route *rt = weir__zalloc(sizeof *rt);
	*out            = rt;
	if (rt == NULL)
		return WEIR_ENOMEM;
	pthread_mutex_init(&rt->lock, NULL);
	pthread_cond_init(&rt->cond, NULL);
	rt->br          = br;
	rt->direct      = o->direct != 0;
	rt->echo        = o->echo != 0;
	rt->window      = o->window ? o->window : (uint32_t) br->window;
	rt->max_backlog = o->max_backlog ? o->max_backlog : br->max_backlog;
	rt->max_attempts =
	    o->max_attempts ? o->max_attempts : (uint32_t) br->max_attempts;
	rt->name        = weir__strdup(name);
	rt->pattern     = weir__strdup(pattern);
	rt->cursor_name = weir__alloc(strlen(name) + sizeof "bridge.route.");
	rt->slots       = weir__zalloc(rt->window * sizeof *rt->slots);
	weir__handoff_init(&rt->handoff, rt->direct ? 0 : br->handoff_bytes);
	rt->brk =
	    (weir__breaker) { .threshold = (uint32_t) br->breaker_threshold,
		    .cooldown_ms         = br->breaker_cooldown_ms };
	rt->rng = (uint64_t) (uintptr_t) rt ^ (uint64_t) weir__bridge_now_ms();
	if (rt->direct)
		rt->ring =
		    weir__zalloc(br->direct_capacity * sizeof *rt->ring);
	*out = rt;
	if (rt->name == NULL || rt->pattern == NULL ||
	    rt->cursor_name == NULL || rt->slots == NULL ||
	    (rt->direct && rt->ring == NULL))
		return WEIR_ENOMEM;
	sprintf(rt->cursor_name, "bridge.route.%s", name);
	return WEIR_OK;
}

weir_err
weir_bridge_route_add(weir_bridge *br, const char *name, const char *pattern,
    const char *scheme, const char *dest_template, const char *key_choice,
    const weir_bridge_route_opts *opts)
{
	weir_bridge_route_opts o = WEIR_STRUCT_INIT(weir_bridge_route_opts);
	if (br == NULL || name == NULL)
		return WEIR_EINVAL;
	if (br->started)
		return weir__bridge_fail(br, WEIR_EBUSY,
		    "route '%.80s': the bridge is started", name);
	if (opts != NULL) {
		weir_err e = weir__struct_in(&o, sizeof o, opts,
		    offsetof(weir_bridge_route_opts, echo));
		if (e != WEIR_OK)
			return weir__bridge_fail(
			    br, e, "route '%.80s': opts: bad size", name);
	}
	weir_err e = route_check(br, name, pattern, scheme, &o);
	if (e != WEIR_OK)
		return e;
	weir__route *rt = NULL;
	if ((e = route_alloc(&rt, br, name, pattern, &o)) == WEIR_OK &&
	    (e = route_fields(rt, dest_template, key_choice)) == WEIR_OK) {
		weir__route **nr =
		    weir__realloc(br->routes, (br->nroutes + 1) * sizeof *nr);
		e = nr != NULL ? WEIR_OK : WEIR_ENOMEM;
		if (nr != NULL) {
			br->routes        = nr;
			rt->be            = weir__bridge_backend(br, scheme);
			rt->index         = br->nroutes;
			nr[br->nroutes++] = rt;
			return WEIR_OK;
		}
	}
	weir__route_free(rt);
	return e;
}
