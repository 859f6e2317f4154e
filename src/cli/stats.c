// weir stats: a store's figures (events per topic, cursors, dead
// letters) or a running gateway's stats JSON read from its
// --stats-socket, once or, with --watch, as a live per-topic rate view.
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/jtext.h"
#include "cli/opts.h"
#include "cli/sig.h"
#include "cli/sock.h"
#include "cli/wire.h"

static const cli_opt stats_opts[] = {
	{ "store", 's', "PATH", "figures of this store" },
	{ "socket", 'S', "PATH", "a running gateway's --stats-socket" },
	{ "watch", 'w', NULL, "a live per-topic rate view, until SIGINT" },
	{ "interval", 0, "SECONDS",
	    "--watch: refresh period (default 1, at most 86400)" },
	{ "count", 0, "N", "--watch: stop after N refreshes" },
	{ NULL, 0, NULL, NULL },
};

static const cli_usage stats_usage = {
	"weir stats (-s PATH | -S PATH) [--watch [--interval S] [--count N]]",
	"Prints one JSON object: for a store {\"store\":{path, last_seq,\n"
	"events, topics:{topic:count}, cursors:{name:seq}, dead_letters}};\n"
	"for a gateway {\"gateway\":{lines, accepted, rejected, failed,\n"
	"clients, uptime_s, topics}, \"bus\":{loops, subscriptions, "
	"bridge}}.\n"
	"--watch prints a table of topics with totals and rates instead.",
	stats_opts,
};

typedef struct stats {
	const char *store_path, *socket_path;
	int         watch;
	double      interval;
	uint64_t    count;
	weir_store *st;
	uint64_t    seen_seq;
	json_t     *topics;  /* store: counts so far */
	json_t     *cursors; /* store: of the current fetch */
	int         nomem;   /* a JSON value could not be made */
} stats;

static int
stats_parse(stats *s, int argc, char **argv)
{
	const char *arg;
	int         i, bad = 0;
	optind = 1;
	while ((i = weir__opts_next(argc, argv, &stats_usage, &arg)) != -1) {
		if (i < 0)
			return i == -2 ? -1 : CLI_EXIT_USAGE;
		const char *name = stats_opts[i].name;
		if (!strcmp(name, "store"))
			s->store_path = arg;
		else if (!strcmp(name, "socket"))
			s->socket_path = arg;
		else if (!strcmp(name, "watch"))
			s->watch = 1;
		else if (!strcmp(name, "interval"))
			bad = weir__opts_seconds(arg, &s->interval) ||
			    s->interval == 0;
		else /* "count": the table's last */
			bad = weir__opts_u64(arg, &s->count);
		if (bad)
			return weir__opts_usage_error(
			    &stats_usage, "--%s: bad value '%s'", name, arg);
	}
	if (optind < argc)
		return weir__opts_usage_error(
		    &stats_usage, "unexpected argument '%s'", argv[optind]);
	if ((s->store_path == NULL) == (s->socket_path == NULL))
		return weir__opts_usage_error(
		    &stats_usage, "give one of --store and --socket");
	return CLI_EXIT_OK;
}

static weir_err
stats_count(weir_store *st, const weir_event *ev, const char *stream,
    int64_t version, void *arg)
{
	stats      *s = arg;
	const char *t = weir_event_topic(ev);
	(void) st;
	(void) stream;
	(void) version;
	json_t *n = json_object_get(s->topics, t);
	if (json_object_set_new(s->topics, t,
	        json_integer(n ? json_integer_value(n) + 1 : 1)) != 0)
		return WEIR_ENOMEM; /* a count left out would be wrong */
	s->seen_seq = weir_event_seq(ev);
	return WEIR_OK;
}

static void
stats_cursor(weir_store *st, const char *name, uint64_t seq, void *arg)
{
	stats *s = arg;
	(void) st;
	if (json_object_set_new(
	        s->cursors, name, json_integer((json_int_t) seq)) != 0)
		s->nomem = 1;
}

static weir_err
stats_dead(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	(void) st;
	(void) dl;
	(*(uint64_t *) arg)++;
	return WEIR_OK;
}

/* The store's figures; reads only the events after the last call. */
static json_t *
stats_store(stats *s)
{
	weir_store_filter f    = WEIR_STRUCT_INIT(weir_store_filter);
	uint64_t          last = 0, dead = 0, events = 0;
	f.from_seq      = s->seen_seq + 1;
	json_t *cursors = s->cursors = json_object();
	s->nomem                     = cursors == NULL || s->topics == NULL;
	weir_err e                   = s->nomem ? WEIR_ENOMEM
	                                        : weir_store_read(s->st, &f, stats_count, s);
	if (e == WEIR_OK)
		e = weir_store_last_seq(s->st, &last);
	if (e == WEIR_OK)
		e = weir_store_cursor_list(s->st, stats_cursor, s);
	if (e == WEIR_OK)
		e = weir_store_dead_list(s->st, NULL, 0, stats_dead, &dead);
	if (e == WEIR_OK && s->nomem)
		e = WEIR_ENOMEM;
	if (e != WEIR_OK) {
		fprintf(stderr, "weir: stats: %s\n",
		    e == WEIR_ENOMEM ? weir_strerror(e)
		                     : weir_store_errmsg(s->st));
		json_decref(cursors);
		return NULL;
	}
	const char *k;
	json_t     *v;
	json_object_foreach(s->topics, k, v) events +=
	    (uint64_t) json_integer_value(v);
	json_t *o = json_pack("{s:{s:s,s:I,s:I,s:O,s:o,s:I}}", "store", "path",
	    s->store_path, "last_seq", (json_int_t) last, "events",
	    (json_int_t) events, "topics", s->topics, "cursors", cursors,
	    "dead_letters", (json_int_t) dead);
	if (o == NULL)
		fprintf(stderr, "weir: stats: out of memory\n");
	return o;
}

static json_t *
stats_gateway(stats *s)
{
	int fd = weir__sock_connect(s->socket_path);
	if (fd < 0)
		return NULL;
	char *text = weir__sock_read_all(fd);
	close(fd);
	json_error_t je;
	json_t      *o = text ? json_loads(text, 0, &je) : NULL;
	if (o == NULL)
		fprintf(
		    stderr, "weir: stats: %s sent no JSON\n", s->socket_path);
	free(text);
	return o;
}

static json_t *
stats_fetch(stats *s)
{
	return s->st != NULL ? stats_store(s) : stats_gateway(s);
}

/* The topic counts of a fetched object (borrowed). */
static json_t *
stats_topics_of(json_t *o)
{
	json_t *t = json_object_get(json_object_get(o, "store"), "topics");
	return t != NULL
	    ? t
	    : json_object_get(json_object_get(o, "gateway"), "topics");
}

static void
stats_table(json_t *cur, json_t *prev, double secs, int tty)
{
	const char *k;
	json_t     *v;
	if (tty)
		printf("\033[H\033[2J");
	printf("%-40s %12s %12s\n", "TOPIC", "TOTAL", "RATE/s");
	json_object_foreach(cur, k, v)
	{
		json_int_t n = json_integer_value(v);
		json_int_t p = json_integer_value(json_object_get(prev, k));
		printf("%-40s %12lld %12.1f\n", k, (long long) n,
		    prev ? (double) (n - p) / secs : 0.0);
	}
	printf("\n");
	fflush(stdout);
}

static int
stats_watch(stats *s)
{
	json_t *prev = NULL;
	int     tty  = isatty(1);
	for (uint64_t i = 0; !weir__sig_stopping(); i++) {
		json_t *o = stats_fetch(s);
		if (o == NULL) {
			json_decref(prev);
			return CLI_EXIT_RUNTIME;
		}
		json_t *cur = json_deep_copy(stats_topics_of(o));
		json_decref(o);
		stats_table(cur, prev, s->interval, tty);
		json_decref(prev);
		prev = cur;
		if (s->count > 0 && i + 1 >= s->count)
			break;
		weir__sig_sleep_ms((int) (s->interval * 1000));
	}
	json_decref(prev);
	return CLI_EXIT_OK;
}

int
weir__cli_stats(int argc, char **argv)
{
	stats s  = { .interval = 1 };
	int   rv = stats_parse(&s, argc, argv);
	if (rv != CLI_EXIT_OK)
		return rv < 0 ? CLI_EXIT_OK : rv;
	if (s.store_path != NULL &&
	    (rv = weir__wire_store(&s.st, s.store_path, NULL, 0)) != 0)
		return rv;
	weir__sig_install();
	s.topics = json_object();
	if (s.watch) {
		rv = stats_watch(&s);
	} else {
		json_t *o    = stats_fetch(&s);
		char   *text = weir__jtext(o, JSON_COMPACT);
		if (text != NULL)
			printf("%s\n", text);
		else if (o != NULL) /* else: stats_fetch said why */
			fprintf(stderr, "weir: stats: out of memory\n");
		rv = text != NULL ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
		free(text);
		json_decref(o);
	}
	json_decref(s.topics);
	weir_store_destroy(s.st);
	return rv;
}
