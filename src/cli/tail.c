// weir tail: the last N events of a store, filtered, and with -f the
// ones appended from then on, like tail -f. Reading only: the store is
// polled every --interval milliseconds.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/ndjson.h"
#include "cli/opts.h"
#include "cli/sig.h"
#include "cli/wire.h"

static const cli_opt tail_opts[] = {
	{ "store", 's', "PATH", "the store to read (required)" },
	{ "lines", 'n', "N", "print the last N events first (default 10)" },
	{ "follow", 'f', NULL, "then print new events as they come" },
	{ "topic", 't', "PATTERN", "only topics matching (`*`, `>`)" },
	{ "stream", 0, "NAME", "only this stream" },
	{ "interval", 0, "MS",
	    "-f: look for new events this often "
	    "(default 200)" },
	{ NULL, 0, NULL, NULL },
};

static const cli_usage tail_usage = {
	"weir tail -s PATH [-n N] [-f] [-t PATTERN] [--stream NAME]",
	"Prints events as NDJSON (the format gateway reads). With -f it runs\n"
	"until SIGINT or SIGTERM, then exits 0.",
	tail_opts,
};

typedef struct tail {
	const char        *store_path;
	uint64_t           n, interval;
	int                follow;
	weir_store_filter  f;
	const weir_event **held;
	char             **streams;
	int64_t           *versions;
	size_t             nheld, cap;
	uint64_t           last_seq;
} tail;

static int
tail_parse(tail *t, int argc, char **argv)
{
	const char *arg;
	int         i, bad = 0;
	optind = 1;
	while ((i = weir__opts_next(argc, argv, &tail_usage, &arg)) != -1) {
		if (i < 0)
			return i == -2 ? -1 : CLI_EXIT_USAGE;
		const char *name = tail_opts[i].name;
		if (!strcmp(name, "store"))
			t->store_path = arg;
		else if (!strcmp(name, "lines"))
			bad = weir__opts_u64(arg, &t->n);
		else if (!strcmp(name, "follow"))
			t->follow = 1;
		else if (!strcmp(name, "topic"))
			t->f.pattern = arg;
		else if (!strcmp(name, "stream"))
			t->f.stream = arg;
		else /* "interval": the table's last */
			bad = weir__opts_u64(arg, &t->interval) ||
			    t->interval == 0 || t->interval > 60000;
		if (bad)
			return weir__opts_usage_error(
			    &tail_usage, "--%s: bad value '%s'", name, arg);
	}
	if (optind < argc)
		return weir__opts_usage_error(
		    &tail_usage, "unexpected argument '%s'", argv[optind]);
	if (t->store_path == NULL)
		return weir__opts_usage_error(
		    &tail_usage, "--store is required");
	return CLI_EXIT_OK;
}

/* An event that cannot be formatted fails the tail: skipped, it would
 * be missing from the output of a command that exits 0. */
static weir_err
tail_print(const weir_event *ev, const char *stream, int64_t version)
{
	char *text = weir__ndjson_format(ev, stream, version);
	if (text == NULL)
		return WEIR_ENOMEM;
	printf("%s\n", text);
	free(text);
	return WEIR_OK;
}

/* Room for one more held event. The arrays grow with what the read
 * finds, never sized by -n up front: -n may be far more than the store
 * holds (-n 2^64-1 wrapped n + 1 to 0, and 10^11 failed to allocate). */
static int
tail_grow(tail *t)
{
	if (t->nheld < t->cap)
		return 0;
	size_t cap = t->cap ? 2 * t->cap : 16;
	void  *h   = realloc(t->held, cap * sizeof *t->held);
	if (h != NULL)
		t->held = h;
	void *s = realloc(t->streams, cap * sizeof *t->streams);
	if (s != NULL)
		t->streams = s;
	void *v = realloc(t->versions, cap * sizeof *t->versions);
	if (v != NULL)
		t->versions = v;
	if (h == NULL || s == NULL || v == NULL)
		return -1;
	t->cap = cap;
	return 0;
}

/* Backward read of the last N: kept, then printed oldest first. */
static weir_err
tail_keep(weir_store *st, const weir_event *ev, const char *stream,
    int64_t version, void *arg)
{
	tail *t = arg;
	(void) st;
	if (tail_grow(t) != 0)
		return WEIR_ENOMEM;
	const weir_event *held = weir_event_hold(ev);
	char             *name = stream ? strdup(stream) : NULL;
	if (held == NULL || (stream != NULL && name == NULL)) {
		weir_event_release(held);
		free(name);
		return WEIR_ENOMEM;
	}
	t->held[t->nheld]     = held;
	t->streams[t->nheld]  = name;
	t->versions[t->nheld] = version;
	if (weir_event_seq(ev) > t->last_seq)
		t->last_seq = weir_event_seq(ev);
	t->nheld++;
	return WEIR_OK;
}

static weir_err
tail_last(tail *t, weir_store *st)
{
	weir_store_filter f = t->f;
	f.backward          = 1;
	f.limit             = (size_t) t->n;
	weir_err e =
	    t->n > 0 ? weir_store_read(st, &f, tail_keep, t) : WEIR_OK;
	for (size_t i = t->nheld; i-- > 0;) {
		if (e == WEIR_OK)
			e = tail_print(
			    t->held[i], t->streams[i], t->versions[i]);
		weir_event_release(t->held[i]);
		free(t->streams[i]);
	}
	free(t->held);
	free(t->streams);
	free(t->versions);
	return e;
}

static weir_err
tail_new(weir_store *st, const weir_event *ev, const char *stream,
    int64_t version, void *arg)
{
	tail *t = arg;
	(void) st;
	t->last_seq = weir_event_seq(ev);
	return tail_print(ev, stream, version);
}

static weir_err
tail_follow(tail *t, weir_store *st)
{
	uint64_t last = 0;
	weir_err e    = weir_store_last_seq(st, &last);
	if (last > t->last_seq)
		t->last_seq = last; /* nothing matched in the last N */
	while (e == WEIR_OK && !weir__sig_stopping()) {
		fflush(stdout);
		weir__sig_sleep_ms((int) t->interval);
		weir_store_filter f = t->f;
		f.from_seq          = t->last_seq + 1;
		e                   = weir_store_read(st, &f, tail_new, t);
	}
	return e;
}

int
weir__cli_tail(int argc, char **argv)
{
	tail t  = { .n     = 10,
		 .interval = 200,
		 .f        = WEIR_STRUCT_INIT(weir_store_filter) };
	int  rv = tail_parse(&t, argc, argv);
	if (rv != CLI_EXIT_OK)
		return rv < 0 ? CLI_EXIT_OK : rv;
	weir_store *st = NULL;
	if ((rv = weir__wire_store(&st, t.store_path, NULL, 0)) != 0)
		return rv;
	weir__sig_install();
	weir_err e = tail_last(&t, st);
	if (e == WEIR_OK && t.follow)
		e = tail_follow(&t, st);
	fflush(stdout);
	if (e != WEIR_OK)
		fprintf(stderr, "weir: tail: %s\n",
		    e == WEIR_ENOMEM ? weir_strerror(e)
		                     : weir_store_errmsg(st));
	weir_store_destroy(st);
	return e == WEIR_OK ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
}
