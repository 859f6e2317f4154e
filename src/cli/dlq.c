// weir dlq: the store's dead letters (weir_store_dead_*): list them,
// show one with its event, send them again on their route, purge them.
//
// Design notes. A retry sends each dead letter on the route named by its
// origin, through a bridge that has that route alone in direct mode (so
// that no other route of the config gets a copy), and waits for the
// broker's answer: acknowledged -> the dead letter is deleted; refused
// or unanswered -> weir_store_dead_add() counts one more attempt with
// the reason. Dead letters are taken one at a time (weir_store_dead_list
// then delete or add), so --id can pick a single one.
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/jtext.h"
#include "cli/ndjson.h"
#include "cli/opts.h"
#include "cli/sig.h"
#include "cli/wire.h"

static const cli_opt dlq_opts[] = {
	{ "store", 's', "PATH", "the store (required)" },
	{ "route", 'r', "NAME", "only dead letters of this route (origin)" },
	{ "id", 0, "N", "only this dead letter" },
	{ "config", 'c', "FILE", "retry: the routes and brokers" },
	{ "timeout", 0, "SECONDS",
	    "retry: wait this long for each answer (default 30)" },
	{ "all", 0, NULL, "purge: every dead letter" },
	{ NULL, 0, NULL, NULL },
};

static const cli_usage dlq_usage = {
	"weir dlq list|show|retry|purge -s PATH [-r NAME] [--id N] "
	"[-c FILE] [--all]",
	"list: one JSON line per dead letter (id, route, code, error,\n"
	"attempts, first and last failure, the event's topic and id).\n"
	"show: the same with the whole event, for --id N.\n"
	"retry: send again on their route (needs -c); delivered ones are\n"
	"deleted, failed ones count an attempt (exit 4 if any failed).\n"
	"purge: delete them (needs --route, --id or --all).",
	dlq_opts,
};

typedef struct dlq {
	const char *verb, *store_path, *route, *config_file;
	uint64_t    id;
	int         have_id, all;
	double      timeout_s;
	/* retry */
	size_t             n;
	uint64_t          *ids;
	const weir_event **evs;
	char             **origins;
} dlq;

static int
dlq_parse(dlq *d, int argc, char **argv)
{
	const char *arg;
	int         i, bad = 0;
	optind = 1;
	if (argc > 1 && argv[1][0] != '-') { /* the verb first */
		d->verb = argv[1];
		optind  = 2;
	}
	while ((i = weir__opts_next(argc, argv, &dlq_usage, &arg)) != -1) {
		if (i < 0)
			return i == -2 ? -1 : CLI_EXIT_USAGE;
		const char *name = dlq_opts[i].name;
		if (!strcmp(name, "store"))
			d->store_path = arg;
		else if (!strcmp(name, "route"))
			d->route = arg;
		else if (!strcmp(name, "id"))
			bad = weir__opts_u64(arg, &d->id), d->have_id = 1;
		else if (!strcmp(name, "config"))
			d->config_file = arg;
		else if (!strcmp(name, "timeout"))
			bad = weir__opts_seconds(arg, &d->timeout_s);
		else /* "all": the table's last */
			d->all = 1;
		if (bad)
			return weir__opts_usage_error(
			    &dlq_usage, "--%s: bad value '%s'", name, arg);
	}
	if (d->verb == NULL && optind < argc)
		d->verb = argv[optind++];
	if (optind < argc)
		return weir__opts_usage_error(
		    &dlq_usage, "unexpected argument '%s'", argv[optind]);
	if (d->verb == NULL ||
	    (strcmp(d->verb, "list") && strcmp(d->verb, "show") &&
	        strcmp(d->verb, "retry") && strcmp(d->verb, "purge")))
		return weir__opts_usage_error(
		    &dlq_usage, "give one of list, show, retry, purge");
	if (d->store_path == NULL)
		return weir__opts_usage_error(
		    &dlq_usage, "--store is required");
	if (!strcmp(d->verb, "show") && !d->have_id)
		return weir__opts_usage_error(&dlq_usage, "show needs --id");
	if (!strcmp(d->verb, "retry") && d->config_file == NULL)
		return weir__opts_usage_error(
		    &dlq_usage, "retry needs --config (the routes)");
	if (!strcmp(d->verb, "purge") && !d->have_id && !d->route && !d->all)
		return weir__opts_usage_error(
		    &dlq_usage, "purge needs --route, --id or --all");
	return CLI_EXIT_OK;
}

static json_t *
dlq_json(const weir_store_dead_letter *dl, int with_event)
{
	char    id[37];
	json_t *ev = NULL;
	weir_uuid_format(weir_event_id(dl->ev), id);
	if (with_event) {
		char *text = weir__ndjson_format(dl->ev, NULL, 0);
		ev         = text ? json_loads(text, 0, NULL) : NULL;
		free(text);
	} else {
		ev = json_pack("{s:s,s:s,s:I}", "id", id, "topic",
		    weir_event_topic(dl->ev), "seq",
		    (json_int_t) weir_event_seq(dl->ev));
	}
	if (ev == NULL) /* out of memory: "event":null would lie */
		return NULL;
	return json_pack("{s:I,s:s,s:s,s:s,s:I,s:I,s:I,s:o}", "id",
	    (json_int_t) dl->id, "route", dl->origin, "code",
	    weir_err_name(dl->code), "error", dl->message ? dl->message : "",
	    "attempts", (json_int_t) dl->attempts, "first_failure",
	    (json_int_t) dl->first_failure, "last_failure",
	    (json_int_t) dl->last_failure, "event", ev);
}

static weir_err
dlq_print(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	dlq *d = arg;
	(void) st;
	if (d->have_id && dl->id != d->id)
		return WEIR_OK;
	json_t *o    = dlq_json(dl, !strcmp(d->verb, "show"));
	char   *text = weir__jtext(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (text == NULL)
		return WEIR_ENOMEM;
	printf("%s\n", text);
	free(text);
	d->n++;
	return WEIR_OK;
}

static int
dlq_purge(dlq *d, weir_store *st)
{
	uint64_t n = 0;
	weir_err e;
	if (d->have_id) {
		e = weir_store_dead_delete(st, d->id);
		n = e == WEIR_OK;
	} else {
		e = weir_store_dead_purge(st, d->route, &n);
	}
	if (e != WEIR_OK) {
		fprintf(stderr, "weir: dlq purge: %s\n",
		    e == WEIR_ENOENT ? "no such dead letter"
		                     : weir_store_errmsg(st));
		return CLI_EXIT_RUNTIME;
	}
	printf("{\"purged\":%llu}\n", (unsigned long long) n);
	return CLI_EXIT_OK;
}

static weir_err
dlq_collect(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	dlq *d = arg;
	(void) st;
	if (d->have_id && dl->id != d->id)
		return WEIR_OK;
	size_t k   = d->n + 1;
	void  *ids = realloc(d->ids, k * sizeof *d->ids);
	if (ids != NULL)
		d->ids = ids;
	void *evs = realloc(d->evs, k * sizeof *d->evs);
	if (evs != NULL)
		d->evs = evs;
	void *ors = realloc(d->origins, k * sizeof *d->origins);
	if (ors != NULL)
		d->origins = ors;
	if (!ids || !evs || !ors)
		return WEIR_ENOMEM;
	const weir_event *ev     = weir_event_hold(dl->ev);
	char             *origin = strdup(dl->origin);
	if (ev == NULL || origin == NULL) { /* not counted: freed here */
		weir_event_release(ev);
		free(origin);
		return WEIR_ENOMEM;
	}
	d->ids[d->n]     = dl->id;
	d->evs[d->n]     = ev;
	d->origins[d->n] = origin;
	d->n++;
	return WEIR_OK;
}

/* Sends one event on the bridge's only route and waits for the answer:
 * 1 acknowledged, 0 refused or no answer in time. */
static int
dlq_send(dlq *d, weir_bus *bus, weir_bridge *br, const char *route,
    const weir_event *ev)
{
	weir_bridge_route_stats rs    = weir__wire_route_stats(br, route);
	uint64_t                acked = rs.acked, done = rs.acked + rs.dead;
	int64_t                 deadline =
	    weir__opts_now_ns() + (int64_t) (d->timeout_s * 1e9);
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	if (weir_publish_event(bus, ev) != WEIR_OK)
		return 0;
	while (rs.acked + rs.dead == done && weir__opts_now_ns() < deadline &&
	    !weir__sig_stopping()) {
		nanosleep(&tick, NULL);
		rs = weir__wire_route_stats(br, route);
	}
	return rs.acked > acked;
}

/* Retries the dead letters of one route; returns how many failed. */
static size_t
dlq_retry_route(dlq *d, weir_store *st, const cli_config *c, size_t first)
{
	const char     *route  = d->origins[first];
	weir_bus       *bus    = NULL;
	weir_bridge    *br     = NULL;
	cli_bridge_opts bo     = { .force_direct = 1, .only = route };
	size_t          failed = 0, ok = 0;
	weir_err        e = weir_bus_create(&bus, NULL);
	if (e != WEIR_OK)
		fprintf(stderr, "weir: dlq retry: %s\n", weir_strerror(e));
	if (e != WEIR_OK ||
	    weir__wire_bridge(&br, bus, NULL, c, &bo) != CLI_EXIT_OK) {
		weir_bus_destroy(bus);
		return 1;
	}
	for (size_t j = first; j < d->n; j++) {
		if (strcmp(d->origins[j], route) != 0)
			continue;
		if (dlq_send(d, bus, br, route, d->evs[j])) {
			weir_store_dead_delete(st, d->ids[j]);
			ok++;
		} else {
			weir_store_dead_add(st, d->evs[j], route,
			    WEIR_EBACKEND, "weir dlq retry: not acknowledged",
			    NULL);
			failed++;
		}
	}
	fprintf(stderr,
	    "weir: dlq retry: route %s: %zu delivered, %zu "
	    "failed\n",
	    route, ok, failed);
	weir_bridge_destroy(br);
	weir_bus_destroy(bus);
	return failed;
}

static int
dlq_has_route(const cli_config *c, const char *name)
{
	for (size_t i = 0; i < c->nroutes; i++)
		if (strcmp(c->routes[i].name, name) == 0)
			return 1;
	return 0;
}

static int
dlq_retry(dlq *d, weir_store *st)
{
	cli_config c      = { 0 };
	size_t     failed = 0;
	if (weir__config_load(&c, d->config_file) != 0) {
		fprintf(stderr, "weir: %s\n", c.err);
		weir__config_free(&c);
		return CLI_EXIT_INPUT;
	}
	weir_err e = weir_store_dead_list(st, d->route, 0, dlq_collect, d);
	for (size_t i = 0; e == WEIR_OK && i < d->n; i++) {
		int seen = 0;
		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(d->origins[j], d->origins[i]);
		if (seen)
			continue;
		if (!dlq_has_route(&c, d->origins[i])) {
			fprintf(stderr,
			    "weir: dlq retry: %s has no [route %s]; "
			    "its dead letters stay\n",
			    c.file, d->origins[i]);
			failed++;
			continue;
		}
		failed += dlq_retry_route(d, st, &c, i);
	}
	for (size_t i = 0; i < d->n; i++) {
		weir_event_release(d->evs[i]);
		free(d->origins[i]);
	}
	free(d->ids);
	free(d->evs);
	free(d->origins);
	weir__config_free(&c);
	if (e != WEIR_OK)
		fprintf(stderr, "weir: dlq retry: %s\n", weir_strerror(e));
	return e != WEIR_OK ? CLI_EXIT_RUNTIME
	    : failed > 0    ? CLI_EXIT_PARTIAL
	                    : CLI_EXIT_OK;
}

int
weir__cli_dlq(int argc, char **argv)
{
	dlq d  = { .timeout_s = 30 };
	int rv = dlq_parse(&d, argc, argv);
	if (rv != CLI_EXIT_OK)
		return rv < 0 ? CLI_EXIT_OK : rv;
	if (d.verb == NULL) /* dlq_parse said so already */
		return CLI_EXIT_USAGE;
	weir_store *st = NULL;
	if ((rv = weir__wire_store(&st, d.store_path, NULL, 0)) != 0)
		return rv;
	weir__sig_install();
	if (!strcmp(d.verb, "purge"))
		rv = dlq_purge(&d, st);
	else if (!strcmp(d.verb, "retry"))
		rv = dlq_retry(&d, st);
	else {
		weir_err e =
		    weir_store_dead_list(st, d.route, 0, dlq_print, &d);
		if (e != WEIR_OK)
			fprintf(
			    stderr, "weir: dlq: %s\n", weir_store_errmsg(st));
		else if (!strcmp(d.verb, "show") && d.n == 0)
			fprintf(stderr,
			    "weir: dlq show: no dead letter %llu\n",
			    (unsigned long long) d.id);
		rv = e != WEIR_OK || (!strcmp(d.verb, "show") && d.n == 0)
		    ? CLI_EXIT_RUNTIME
		    : CLI_EXIT_OK;
	}
	weir_store_destroy(st);
	return rv;
}
