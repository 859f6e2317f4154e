// weir replay: a store's events, filtered, to stdout as NDJSON or onto
// a bus whose routes (from --config) send them to Kafka / NATS, at full
// speed, in real time or N times faster (weir_store_replay).
//
// Design notes. Routes are forced into direct mode here: the events are
// already in a store (the one being replayed), and a second store just
// to relay them would double the writes. Direct mode sends each event
// once; what a broker refused is counted and makes the exit code 4, so
// a script can replay the range again (broker idempotency absorbs the
// copies that did arrive).
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/ndjson.h"
#include "cli/opts.h"
#include "cli/progress.h"
#include "cli/sig.h"
#include "cli/wire.h"

static const cli_opt replay_opts[] = {
	{ "store", 's', "PATH", "the store to read (required)" },
	{ "topic", 't', "PATTERN", "only topics matching (`*`, `>`)" },
	{ "from-seq", 0, "N", "first seq (inclusive)" },
	{ "to-seq", 0, "N", "last seq (inclusive)" },
	{ "since", 0, "TIME",
	    "events at or after TIME (unix s, RFC 3339, "
	    "-10m)" },
	{ "until", 0, "TIME", "events at or before TIME" },
	{ "stream", 0, "NAME", "only this stream" },
	{ "speed", 0, "max|real|xN",
	    "as fast as possible (default), original pace, N times it" },
	{ "to", 0, "stdout|bus",
	    "NDJSON on stdout (default), or the config's routes" },
	{ "config", 'c', "FILE", "routes and brokers for --to bus" },
	{ "route", 'r', "NAME", "with --to bus: only this route" },
	{ "drain-timeout", 0, "SECONDS",
	    "--to bus: wait this long for acks (default 30)" },
	{ NULL, 0, NULL, NULL },
};

static const cli_usage replay_usage = {
	"weir replay -s PATH [filters] [--speed max|real|xN] "
	"[--to stdout|bus -c FILE]",
	"Replays the selected events in seq order. On a terminal, stderr\n"
	"shows a progress bar with rate and ETA; otherwise one summary line.",
	replay_opts,
};

typedef struct replay {
	const char            *store_path, *config_file, *route, *to;
	weir_store_filter      f;
	weir_store_replay_opts rp;
	double                 drain_s;
	cli_progress           prog;
	uint64_t               last_seq;
	int                    write_failed;
} replay;

static int
replay_speed(replay *r, const char *arg)
{
	if (strcmp(arg, "max") == 0)
		r->rp.speed = WEIR_STORE_REPLAY_FAST;
	else if (strcmp(arg, "real") == 0) {
		r->rp.speed  = WEIR_STORE_REPLAY_FACTOR;
		r->rp.factor = 1.0;
	} else if (arg[0] == 'x' &&
	    weir__opts_double(arg + 1, &r->rp.factor) == 0 && r->rp.factor > 0)
		r->rp.speed = WEIR_STORE_REPLAY_FACTOR;
	else
		return -1;
	return 0;
}

static int
replay_option(replay *r, const char *name, const char *arg)
{
	int bad = 0;
	if (!strcmp(name, "store"))
		r->store_path = arg;
	else if (!strcmp(name, "topic"))
		r->f.pattern = arg;
	else if (!strcmp(name, "from-seq"))
		bad = weir__opts_u64(arg, &r->f.from_seq);
	else if (!strcmp(name, "to-seq"))
		bad = weir__opts_u64(arg, &r->f.to_seq);
	else if (!strcmp(name, "since"))
		bad = weir__opts_time(arg, &r->f.from_ts);
	else if (!strcmp(name, "until"))
		bad = weir__opts_time(arg, &r->f.to_ts);
	else if (!strcmp(name, "stream"))
		r->f.stream = arg;
	else if (!strcmp(name, "speed"))
		bad = replay_speed(r, arg);
	else if (!strcmp(name, "to"))
		bad = strcmp(arg, "stdout") && strcmp(arg, "bus"), r->to = arg;
	else if (!strcmp(name, "config"))
		r->config_file = arg;
	else if (!strcmp(name, "route"))
		r->route = arg;
	else /* "drain-timeout": the table's last */
		bad = weir__opts_seconds(arg, &r->drain_s);
	if (bad)
		return weir__opts_usage_error(
		    &replay_usage, "--%s: bad value '%s'", name, arg);
	return CLI_EXIT_OK;
}

static int
replay_parse(replay *r, int argc, char **argv)
{
	const char *arg;
	int         i, rv = CLI_EXIT_OK;
	optind = 1;
	while (rv == CLI_EXIT_OK &&
	    (i = weir__opts_next(argc, argv, &replay_usage, &arg)) != -1) {
		if (i < 0)
			return i == -2 ? -1 : CLI_EXIT_USAGE;
		rv = replay_option(r, replay_opts[i].name, arg);
	}
	if (rv != CLI_EXIT_OK)
		return rv;
	if (optind < argc)
		return weir__opts_usage_error(
		    &replay_usage, "unexpected argument '%s'", argv[optind]);
	if (r->store_path == NULL)
		return weir__opts_usage_error(
		    &replay_usage, "--store is required");
	if (strcmp(r->to, "bus") == 0 && r->config_file == NULL)
		return weir__opts_usage_error(
		    &replay_usage, "--to bus needs --config (the routes)");
	return CLI_EXIT_OK;
}

static weir_err
replay_print(weir_store *st, const weir_event *ev, const char *stream,
    int64_t version, void *arg)
{
	replay *r    = arg;
	char   *text = weir__ndjson_format(ev, stream, version);
	(void) st;
	if (text == NULL)
		return WEIR_ENOMEM;
	if (printf("%s\n", text) < 0)
		r->write_failed = 1;
	free(text);
	r->last_seq = weir_event_seq(ev);
	return r->write_failed ? WEIR_EIO : WEIR_OK;
}

static weir_err
replay_progress(
    weir_store *st, uint64_t done, uint64_t total, uint64_t seq, void *arg)
{
	replay *r = arg;
	(void) st;
	r->last_seq = seq;
	weir__progress_update(&r->prog, done, total);
	return weir__sig_stopping() ? WEIR_ECANCELED : WEIR_OK;
}

/*
 * Replays; stopped by SIGINT / SIGTERM is not an error, whatever the
 * target: the user asked for it. What was sent until then decides the
 * exit code (--to bus: 4 if a route has events not acked).
 */
static weir_err
replay_run(weir_store *st, const weir_store_replay_opts *rp, uint64_t *count)
{
	weir_err e = weir_store_replay(st, rp, count);
	return e == WEIR_ECANCELED && weir__sig_stopping() ? WEIR_OK : e;
}

/* --to bus: waits for the routes, reports, returns the exit code. */
static int
replay_wait_routes(replay *r, weir_bridge *br, const cli_config *c)
{
	int64_t deadline = weir__opts_now_ns() + (int64_t) (r->drain_s * 1e9);
	struct timespec tick = { 0, 20 * 1000 * 1000 };
	int             rv   = CLI_EXIT_OK;
	for (size_t i = 0; i < c->nroutes; i++) {
		const char *name = c->routes[i].name;
		if (r->route != NULL && strcmp(r->route, name) != 0)
			continue;
		weir_bridge_route_stats rs = weir__wire_route_stats(br, name);
		while (rs.lag_events > 0 && weir__opts_now_ns() < deadline &&
		    !weir__sig_stopping()) {
			nanosleep(&tick, NULL);
			rs = weir__wire_route_stats(br, name);
		}
		fprintf(stderr,
		    "weir: route %s: %llu acked, %llu not delivered, %llu "
		    "unanswered\n",
		    name, (unsigned long long) rs.acked,
		    (unsigned long long) rs.dead,
		    (unsigned long long) rs.lag_events);
		if (rs.dead > 0 || rs.lag_events > 0)
			rv = CLI_EXIT_PARTIAL;
	}
	return rv;
}

static int
replay_to_bus(replay *r, weir_store *st, uint64_t *count)
{
	cli_config      c   = { 0 };
	weir_bus       *bus = NULL;
	weir_bridge    *br  = NULL;
	cli_bridge_opts bo  = { .force_direct = 1, .only = r->route };
	int             rv;
	if (weir__config_load(&c, r->config_file) != 0) {
		fprintf(stderr, "weir: %s\n", c.err);
		weir__config_free(&c);
		return CLI_EXIT_INPUT;
	}
	rv = weir_bus_create(&bus, NULL) == WEIR_OK ? CLI_EXIT_OK
	                                            : CLI_EXIT_RUNTIME;
	if (rv == CLI_EXIT_OK)
		rv = weir__wire_bridge(&br, bus, NULL, &c, &bo);
	if (rv == CLI_EXIT_OK) {
		r->rp.target = WEIR_STORE_REPLAY_PUBLISH;
		r->rp.bus    = bus;
		weir_err e   = replay_run(st, &r->rp, count);
		if (e != WEIR_OK)
			fprintf(
			    stderr, "weir: replay: %s\n", weir_strerror(e));
		rv = replay_wait_routes(r, br, &c);
		if (e != WEIR_OK)
			rv = CLI_EXIT_RUNTIME;
	}
	weir_bridge_destroy(br);
	weir_bus_destroy(bus);
	weir__config_free(&c);
	return rv;
}

/*
 * Cancels the store's replay when SIGINT or SIGTERM comes. The progress
 * callback sees the signal only between events, and a paced replay may
 * wait as long as the log's widest gap before the next one.
 */
typedef struct replay_guard {
	weir_store *st;
	atomic_int  done;
	pthread_t   th;
	int         started;
} replay_guard;

static void *
replay_guard_main(void *arg)
{
	replay_guard *g = arg;
	while (!atomic_load(&g->done)) {
		if (weir__sig_stopping()) {
			weir_store_replay_cancel(g->st);
			break;
		}
		weir__sig_sleep_ms(50);
		weir__sig_drain(); // a SIGUSR1 byte would end every poll at
		                   // once
	}
	return NULL;
}

static void
replay_guard_start(replay_guard *g, weir_store *st)
{
	g->st = st;
	atomic_init(&g->done, 0);
	// Without the thread, SIGINT still stops the replay at its next
	// event (the progress callback), as before.
	g->started = pthread_create(&g->th, NULL, replay_guard_main, g) == 0;
}

static void
replay_guard_stop(replay_guard *g)
{
	atomic_store(&g->done, 1);
	if (g->started)
		pthread_join(g->th, NULL);
}

int
weir__cli_replay(int argc, char **argv)
{
	replay r  = { .f  = WEIR_STRUCT_INIT(weir_store_filter),
		 .rp      = WEIR_STRUCT_INIT(weir_store_replay_opts),
		 .to      = "stdout",
		 .drain_s = 30 };
	int    rv = replay_parse(&r, argc, argv);
	if (rv != CLI_EXIT_OK)
		return rv < 0 ? CLI_EXIT_OK : rv;
	weir_store *st = NULL;
	if ((rv = weir__wire_store(&st, r.store_path, NULL, 0)) != CLI_EXIT_OK)
		return rv;
	weir__sig_install();
	// Paced, each event is shown when it is due, not when a buffer fills.
	if (r.rp.speed != WEIR_STORE_REPLAY_FAST)
		setvbuf(stdout, NULL, _IOLBF, 0);
	replay_guard guard;
	replay_guard_start(&guard, st);
	weir__progress_start(&r.prog);
	r.rp.filter         = &r.f;
	r.rp.progress       = replay_progress;
	r.rp.progress_arg   = &r;
	r.rp.progress_every = 100;
	uint64_t count      = 0;
	if (strcmp(r.to, "bus") == 0) {
		rv = replay_to_bus(&r, st, &count);
	} else {
		r.rp.target = WEIR_STORE_REPLAY_CALL;
		r.rp.fn     = replay_print;
		r.rp.arg    = &r;
		weir_err e  = replay_run(st, &r.rp, &count);
		fflush(stdout);
		if (e != WEIR_OK)
			fprintf(stderr, "weir: replay: %s\n",
			    r.write_failed ? "cannot write to stdout"
			                   : weir_strerror(e));
		rv = e == WEIR_OK ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
	}
	replay_guard_stop(&guard);
	weir__progress_end(&r.prog, count, r.last_seq);
	weir_store_destroy(st);
	return rv;
}
