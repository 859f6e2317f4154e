// Design notes. The Kafka and NATS backends are separate libraries that
// a build may leave out (WEIR_WITH_KAFKA / WEIR_WITH_NATS, or the client
// library missing). The CMake file defines WEIR_CLI_HAVE_KAFKA /
// WEIR_CLI_HAVE_NATS when it links them; the two #if blocks below are
// the only places the tool depends on that, so that a config asking for
// a missing backend gets a sentence saying so instead of a link error.
#include "cli/wire.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#if WEIR_CLI_HAVE_KAFKA
#include <weir/kafka.h>
#endif
#if WEIR_CLI_HAVE_NATS
#include <weir/nats.h>
#endif

int
weir__wire_store(
    weir_store **st, const char *path, const cli_config *c, int create)
{
	weir_store_config *sc = NULL;
	char               why[512];
	if (!create && access(path, F_OK) != 0) {
		fprintf(
		    stderr, "weir: store '%s': %s\n", path, strerror(errno));
		return CLI_EXIT_RUNTIME;
	}
	weir_err e = weir_store_config_create(&sc);
	if (e == WEIR_OK && c != NULL && c->durability >= 0)
		e = weir_store_config_set_durability(
		    sc, (weir_store_durability) c->durability);
	if (e == WEIR_OK && c != NULL && c->max_event > 0)
		e = weir_store_config_set_max_event(sc, c->max_event);
	if (e == WEIR_OK)
		e = weir_store_open(st, path, sc, why, sizeof why);
	else
		snprintf(why, sizeof why, "%s", weir_strerror(e));
	weir_store_config_destroy(sc);
	if (e != WEIR_OK) {
		fprintf(stderr, "weir: store '%s': %s\n", path, why);
		return CLI_EXIT_RUNTIME;
	}
	return CLI_EXIT_OK;
}

const char *
weir__wire_backends(void)
{
	return "mem"
#if WEIR_CLI_HAVE_KAFKA
	       " kafka"
#endif
#if WEIR_CLI_HAVE_NATS
	       " nats natscore"
#endif
	    ;
}

const weir_backend_ops *
weir__wire_backend(const char *scheme, const char **why)
{
	*why = "unknown scheme (mem, kafka, nats, natscore)";
	if (strcmp(scheme, "mem") == 0)
		return weir_backend_mem();
	if (strcmp(scheme, "kafka") == 0) {
#if WEIR_CLI_HAVE_KAFKA
		return weir_backend_kafka();
#else
		*why = "this weir was built without Kafka (WEIR_WITH_KAFKA "
		       "off or librdkafka missing)";
#endif
	}
	if (strcmp(scheme, "nats") == 0 || strcmp(scheme, "natscore") == 0) {
#if WEIR_CLI_HAVE_NATS
		return scheme[4] == '\0' ? weir_backend_nats()
		                         : weir_backend_natscore();
#else
		*why = "this weir was built without NATS (WEIR_WITH_NATS "
		       "off or libnats missing)";
#endif
	}
	return NULL;
}

/* Prints a bridge error, with the config line to blame if any. */
static int
wire_fail(const cli_config *c, const char *what, const char *text, int line)
{
	const cli_entry *e = weir__config_blame(c, text);
	if (e != NULL)
		line = e->line;
	if (line > 0)
		fprintf(stderr, "weir: %s:%d: %s: %s\n", c->file, line, what,
		    text);
	else
		fprintf(stderr, "weir: %s: %s: %s\n", c->file, what, text);
	return CLI_EXIT_INPUT;
}

/* weir_bridge_create refuses a bad "bridge." value without a text: find
 * the entry by trying each one alone. */
static int
wire_bad_value(const cli_config *c, weir_bus *bus, weir_store *st)
{
	for (size_t i = 0; i < c->nentries; i++) {
		weir_bridge_config *bc = NULL;
		weir_bridge        *br = NULL;
		const cli_entry    *en = &c->entries[i];
		if (strncmp(en->key, "bridge.", 7) != 0 ||
		    weir_bridge_config_create(&bc) != WEIR_OK)
			continue;
		weir_bridge_config_set_str(bc, en->key, en->value);
		weir_err e = weir_bridge_create(&br, bus, st, bc);
		weir_bridge_destroy(br);
		weir_bridge_config_destroy(bc);
		if (e == WEIR_EINVAL)
			return wire_fail(
			    c, en->key + 7, "value out of range", en->line);
	}
	return wire_fail(c, "bridge", "a value is out of range", 0);
}

static int
wire_create(
    weir_bridge **br, weir_bus *bus, weir_store *st, const cli_config *c)
{
	weir_bridge_config *bc = NULL;
	weir_err            e  = weir_bridge_config_create(&bc);
	for (size_t i = 0; e == WEIR_OK && i < c->nentries; i++)
		e = weir_bridge_config_set_str(
		    bc, c->entries[i].key, c->entries[i].value);
	if (e == WEIR_OK)
		e = weir_bridge_create(br, bus, st, bc);
	weir_bridge_config_destroy(bc);
	if (e == WEIR_EINVAL)
		return wire_bad_value(c, bus, st);
	if (e != WEIR_OK) {
		fprintf(stderr, "weir: bridge: %s\n", weir_strerror(e));
		return CLI_EXIT_RUNTIME;
	}
	return CLI_EXIT_OK;
}

/* Registers the backend of @p rt's scheme unless it already is. */
static int
wire_register(weir_bridge *br, const cli_config *c, const cli_route *rt)
{
	const char             *why;
	const weir_backend_ops *ops = weir__wire_backend(rt->scheme, &why);
	char                    what[128];
	snprintf(
	    what, sizeof what, "[route %s] scheme '%s'", rt->name, rt->scheme);
	if (ops == NULL)
		return wire_fail(c, what, why, rt->line);
	weir_err e = weir_bridge_register(br, ops);
	if (e == WEIR_OK || e == WEIR_EEXIST)
		return CLI_EXIT_OK;
	return wire_fail(c, what, weir_bridge_errmsg(br), rt->line);
}

static int
wire_route(weir_bridge *br, const cli_config *c, const cli_route *rt,
    const cli_bridge_opts *o, int have_store)
{
	weir_bridge_route_opts ro = rt->opts;
	int                    rv = wire_register(br, c, rt);
	if (rv != CLI_EXIT_OK)
		return rv;
	if (o->force_direct)
		ro.direct = 1;
	if (!ro.direct && !have_store)
		return wire_fail(c, rt->name,
		    "a store route needs a store ([store] path or --store; "
		    "or direct = true)",
		    rt->line);
	weir_err e = weir_bridge_route_add(
	    br, rt->name, rt->pattern, rt->scheme, rt->dest, rt->key, &ro);
	if (e == WEIR_OK)
		return CLI_EXIT_OK;
	return wire_fail(c, "route", weir_bridge_errmsg(br), rt->line);
}

int
weir__wire_bridge(weir_bridge **out, weir_bus *bus, weir_store *st,
    const cli_config *c, const cli_bridge_opts *o)
{
	const char *why;
	*out = NULL;
	if (c->kafka_line > 0 && weir__wire_backend("kafka", &why) == NULL)
		return wire_fail(c, "[kafka]", why, c->kafka_line);
	if (c->nats_line > 0 && weir__wire_backend("nats", &why) == NULL)
		return wire_fail(c, "[nats]", why, c->nats_line);
	int rv = wire_create(out, bus, st, c);
	for (size_t i = 0; rv == CLI_EXIT_OK && i < c->nroutes; i++)
		if (o->only == NULL || strcmp(o->only, c->routes[i].name) == 0)
			rv = wire_route(*out, c, &c->routes[i], o, st != NULL);
	if (rv == CLI_EXIT_OK && weir_bridge_start(*out) != WEIR_OK) {
		fprintf(stderr, "weir: bridge start: %s\n",
		    weir_bridge_errmsg(*out));
		rv = CLI_EXIT_RUNTIME;
	}
	if (rv != CLI_EXIT_OK) {
		weir_bridge_destroy(*out);
		*out = NULL;
	}
	return rv;
}

weir_bridge_route_stats
weir__wire_route_stats(weir_bridge *br, const char *name)
{
	weir_bridge_route_stats rs = WEIR_STRUCT_INIT(weir_bridge_route_stats);
	if (weir_bridge_route_stats_get(br, name, &rs) != WEIR_OK) {
		memset(&rs, 0, sizeof rs);
		rs.size = sizeof rs;
	}
	return rs;
}
