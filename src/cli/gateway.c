// weir gateway: NDJSON events on stdin or a UNIX socket -> the store ->
// the bus -> the config's routes (Kafka, NATS, mem). The poll loop and
// the shutdown live here; lines and batches in gwio.c, stats in
// gwstats.c.
//
// Design notes. One thread reads every input with poll(), so a batch is
// a plain array and needs no lock; the store's writer thread and the
// bridge's threads do the rest. On SIGINT / SIGTERM, EOF of stdin or a
// refused line under --on-error=stop, the gateway stops reading, commits
// and acks the batch in hand, gives the routes up to --drain-timeout to
// hand their backlog to the brokers (what is left stays in the store and
// goes out at the next start), then closes the bridge and the store.
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/gateway.h"
#include "cli/opts.h"
#include "cli/sig.h"
#include "cli/sock.h"
#include "cli/wire.h"

static const cli_opt gateway_opts[] = {
	{ "config", 'c', "FILE",
	    "INI file: [store], [bridge], [kafka], "
	    "[nats], [mem], [route NAME]" },
	{ "store", 's', "PATH", "the store (overrides [store] path)" },
	{ "socket", 'S', "PATH",
	    "read clients of this UNIX socket instead of stdin" },
	{ "ack", 'a', NULL,
	    "answer each line with one JSON line (stdout, or the client)" },
	{ "on-error", 'e', "skip|stop",
	    "a refused line: go on (default) or stop reading" },
	{ "stats-socket", 0, "PATH",
	    "serve the stats JSON to each client of this socket" },
	{ "drain-timeout", 0, "SECONDS",
	    "at the end, wait this long for the routes (default 10)" },
	{ NULL, 0, NULL, NULL },
};

static const cli_usage gateway_usage = {
	"weir gateway [-c FILE] [-s PATH] [-S PATH] [--ack] "
	"[--on-error skip|stop]",
	"Reads events, one JSON object a line (topic, key, headers, payload;\n"
	"payload_b64 for binary), appends each to the store, then hands it\n"
	"to the routes of the config. With --ack every line is answered with\n"
	"{\"ok\":true,\"seq\":N,\"id\":\"...\",\"line\":L} once the event is\n"
	"committed, or {\"ok\":false,\"field\":F,\"error\":E,\"line\":L}.\n"
	"SIGINT/SIGTERM: stop reading, drain, exit 0. SIGUSR1: stats on "
	"stderr.",
	gateway_opts,
};

static int
gateway_option(gateway *gw, int i, const char *arg)
{
	const char *name = gateway_opts[i].name;
	if (!strcmp(name, "config"))
		gw->config_file = arg;
	else if (!strcmp(name, "store"))
		gw->store_path = arg;
	else if (!strcmp(name, "socket"))
		gw->socket_path = arg;
	else if (!strcmp(name, "ack"))
		gw->ack = 1;
	else if (!strcmp(name, "stats-socket"))
		gw->stats_path = arg;
	else if (!strcmp(name, "on-error") &&
	    (!strcmp(arg, "skip") || !strcmp(arg, "stop")))
		gw->on_error_stop = !strcmp(arg, "stop");
	else if (!strcmp(name, "drain-timeout") &&
	    weir__opts_seconds(arg, &gw->drain_s) == 0)
		return CLI_EXIT_OK;
	else
		return weir__opts_usage_error(
		    &gateway_usage, "--%s: bad value '%s'", name, arg);
	return CLI_EXIT_OK;
}

static int
gateway_parse(gateway *gw, int argc, char **argv)
{
	const char *arg;
	int         i, rv = CLI_EXIT_OK;
	gw->drain_s = 10;
	optind      = 1;
	while (rv == CLI_EXIT_OK &&
	    (i = weir__opts_next(argc, argv, &gateway_usage, &arg)) != -1) {
		if (i == -2)
			return -1;
		if (i < 0)
			return CLI_EXIT_USAGE;
		rv = gateway_option(gw, i, arg);
	}
	if (rv == CLI_EXIT_OK && optind < argc)
		rv = weir__opts_usage_error(
		    &gateway_usage, "unexpected argument '%s'", argv[optind]);
	return rv;
}

static int
gateway_setup(gateway *gw)
{
	int rv;
	if (gw->config_file != NULL &&
	    weir__config_load(&gw->cfg, gw->config_file) != 0) {
		fprintf(stderr, "weir: %s\n", gw->cfg.err);
		return CLI_EXIT_INPUT;
	}
	if (gw->store_path == NULL)
		gw->store_path = gw->cfg.store_path;
	if (gw->store_path == NULL && gw->cfg.nroutes == 0)
		return weir__opts_usage_error(&gateway_usage,
		    "nothing to do: give --store, or a config with a "
		    "[store] path or routes");
	weir_err e = weir_bus_create(&gw->bus, NULL);
	if (e != WEIR_OK) {
		fprintf(stderr, "weir: gateway: %s\n", weir_strerror(e));
		return CLI_EXIT_RUNTIME;
	}
	if (gw->store_path != NULL &&
	    (rv = weir__wire_store(&gw->st, gw->store_path, &gw->cfg, 1)) != 0)
		return rv;
	cli_bridge_opts bo = { 0 };
	if (gw->cfg.nroutes > 0 &&
	    (rv = weir__wire_bridge(
	         &gw->br, gw->bus, gw->st, &gw->cfg, &bo)) != 0)
		return rv;
	if (gw->socket_path != NULL &&
	    (gw->lfd = weir__sock_listen(gw->socket_path)) < 0)
		return CLI_EXIT_RUNTIME;
	if (gw->stats_path != NULL &&
	    (gw->sfd = weir__sock_listen(gw->stats_path)) < 0)
		return CLI_EXIT_RUNTIME;
	if (gw->socket_path == NULL &&
	    (gw->conns[gw->nconns++] = weir__gw_conn_new(gw, 0, 1)) == NULL) {
		gw->nconns--; /* a NULL conn would crash the loop */
		fprintf(stderr, "weir: gateway: out of memory\n");
		return CLI_EXIT_RUNTIME;
	}
	return CLI_EXIT_OK;
}

static void
gateway_accept(gateway *gw)
{
	int fd;
	while ((fd = accept4(gw->lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		gw_conn *c = gw->nconns < GW_MAX_CONNS
		    ? weir__gw_conn_new(gw, fd, fd)
		    : NULL;
		if (c == NULL) {
			fprintf(stderr, "weir: too many clients\n");
			close(fd);
			continue;
		}
		gw->conns[gw->nconns++] = c;
	}
}

static void
gateway_signals(gateway *gw)
{
	weir__sig_drain();
	if (weir__sig_take_usr1()) {
		char *text = weir__gw_stats_json(gw);
		if (text != NULL)
			fprintf(stderr, "%s\n", text);
		free(text);
	}
	if (weir__sig_stopping())
		gw->stop = 1;
}

/* Reads the ready inputs, commits their batch, drops ended inputs. */
static void
gateway_inputs(gateway *gw, const struct pollfd *p, size_t first)
{
	int ended[GW_MAX_CONNS] = { 0 };
	for (size_t i = 0; i < gw->nconns && !gw->stop; i++)
		if (p[first + i].revents != 0)
			ended[i] = weir__gw_conn_read(gw, gw->conns[i]) != 0;
	weir__gw_commit(gw);
	size_t k = 0;
	for (size_t i = 0; i < gw->nconns; i++) {
		if (!ended[i]) {
			gw->conns[k++] = gw->conns[i];
			continue;
		}
		if (gw->conns[i]->id == 0)
			gw->stop = 1; /* stdin is done */
		weir__gw_conn_free(gw->conns[i]);
	}
	gw->nconns = k;
}

static void
gateway_loop(gateway *gw)
{
	struct pollfd p[GW_MAX_CONNS + 3];
	while (!gw->stop) {
		size_t n = 0;
		p[n++]   = (struct pollfd) { gw->sigfd, POLLIN, 0 };
		p[n++] =
		    (struct pollfd) { gw->sfd > 0 ? gw->sfd : -1, POLLIN, 0 };
		p[n++] =
		    (struct pollfd) { gw->lfd > 0 ? gw->lfd : -1, POLLIN, 0 };
		for (size_t i = 0; i < gw->nconns; i++)
			p[n++] =
			    (struct pollfd) { gw->conns[i]->fd, POLLIN, 0 };
		if (poll(p, n, -1) < 0)
			continue; /* EINTR: the signal pipe says why */
		if (p[0].revents)
			gateway_signals(gw);
		if (p[1].revents)
			weir__gw_stats_serve(gw);
		if (p[2].revents && !gw->stop)
			gateway_accept(gw);
		gateway_inputs(gw, p, 3);
	}
}

/* Events the routes still hold (stored or queued, not yet acked). */
static uint64_t
gateway_backlog(gateway *gw)
{
	uint64_t left = 0;
	for (size_t i = 0; i < gw->cfg.nroutes; i++)
		left += weir__wire_route_stats(gw->br, gw->cfg.routes[i].name)
		            .lag_events;
	return left;
}

static void
gateway_drain(gateway *gw)
{
	int64_t deadline = weir__opts_now_ns() + (int64_t) (gw->drain_s * 1e9);
	struct timespec tick = { 0, 20 * 1000 * 1000 };
	while (gateway_backlog(gw) > 0 && weir__opts_now_ns() < deadline)
		nanosleep(&tick, NULL);
	for (size_t i = 0; i < gw->cfg.nroutes; i++) {
		const cli_route        *rt = &gw->cfg.routes[i];
		weir_bridge_route_stats rs =
		    weir__wire_route_stats(gw->br, rt->name);
		fprintf(stderr,
		    "weir: route %s: %llu acked, %llu dead, %llu left%s\n",
		    rt->name, (unsigned long long) rs.acked,
		    (unsigned long long) rs.dead,
		    (unsigned long long) rs.lag_events,
		    rs.lag_events == 0    ? ""
		        : rt->opts.direct ? " (direct: dropped)"
		                          : " (in the store, sent at the next "
		                            "start)");
	}
}

static void
gateway_close(gateway *gw)
{
	weir__gw_commit(gw);
	if (gw->br != NULL) {
		gateway_drain(gw);
		weir_bridge_destroy(gw->br);
	}
	weir_store_destroy(gw->st); /* waits for the writer */
	weir_bus_destroy(gw->bus);
	for (size_t i = 0; i < gw->nconns; i++)
		weir__gw_conn_free(gw->conns[i]);
	if (gw->lfd > 0) {
		close(gw->lfd);
		unlink(gw->socket_path);
	}
	if (gw->sfd > 0) {
		close(gw->sfd);
		unlink(gw->stats_path);
	}
	weir__gw_topics_free(gw);
	weir__config_free(&gw->cfg);
}

int
weir__cli_gateway(int argc, char **argv)
{
	gateway gw = { .lfd = -1, .sfd = -1 };
	int     rv = gateway_parse(&gw, argc, argv);
	if (rv != CLI_EXIT_OK)
		return rv < 0 ? CLI_EXIT_OK : rv;
	gw.started_ns = weir__opts_now_ns();
	gw.sigfd      = weir__sig_install();
	rv            = gateway_setup(&gw);
	if (rv == CLI_EXIT_OK) {
		gateway_loop(&gw);
		fprintf(stderr,
		    "weir: gateway: %llu lines, %llu stored, %llu refused, "
		    "%llu not stored\n",
		    (unsigned long long) gw.lines,
		    (unsigned long long) gw.accepted,
		    (unsigned long long) gw.rejected,
		    (unsigned long long) gw.failed);
		rv = gw.store_error || gw.read_error || gw.ack_error
		    ? CLI_EXIT_RUNTIME
		    : gw.input_error ? CLI_EXIT_INPUT
		                     : CLI_EXIT_OK;
	}
	gateway_close(&gw);
	return rv;
}
