// service_gateway: a service that embeds weir as its gateway to a
// broker. The service publishes order events on its in-process bus; the
// bridge logs each one in a SQLite store (the outbox) before a relay
// thread sends it to NATS JetStream and/or Kafka, and the store keeps
// every event until the broker has acknowledged it.
//
//   service_gateway [-n EVENTS] [-s STORE] [--prefix NAME] [--timeout S]
//
// The brokers come from the environment: WEIR_NATS_URL (a route to a
// JetStream stream) and WEIR_KAFKA_BOOTSTRAP (a route to a Kafka topic).
// With neither, the route goes to the in-memory `mem` backend, so the
// program runs anywhere. Exit 0 once every event is acknowledged on
// every route; 1 if not within the timeout, or on an error; 2 usage.
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <weir/bridge.h>
#include <weir/store.h>
#include <weir/weir.h>
#ifdef SERVICE_GATEWAY_NATS
#include <weir/nats.h>
#endif
#ifdef SERVICE_GATEWAY_KAFKA
#include <weir/kafka.h>
#endif

typedef struct opts {
	uint64_t    n;
	const char *store;
	const char *prefix; // names the stream, subjects and topic
	int         timeout_s;
} opts;

typedef struct gw {
	weir_bus    *bus;
	weir_store  *st;
	weir_bridge *br;
	const char  *routes[3]; // the routes added
	size_t       nroutes;
} gw;

static int
fail(const char *what, weir_err rv, const char *detail)
{
	fprintf(stderr, "service_gateway: %s: %s%s%s\n", what,
	    weir_strerror(rv), detail ? ": " : "", detail ? detail : "");
	return 1;
}

// Broker settings are strings passed through to the backends: `nats.*`
// to cnats, `kafka.*` to librdkafka (docs/bridge.md lists them).
static weir_err
config_brokers(weir_bridge_config *cfg, const opts *o, const char *nats,
    const char *kafka)
{
	char     stream[64], subjects[80];
	weir_err rv = WEIR_OK;
	size_t   i;
	for (i = 0; o->prefix[i] != '\0' && i + 1 < sizeof(stream); i++) {
		stream[i] = (char) toupper((unsigned char) o->prefix[i]);
	}
	stream[i] = '\0';
	snprintf(subjects, sizeof(subjects), "%s.>", o->prefix);
	if (nats != NULL) {
		rv = weir_bridge_config_set_str(cfg, "nats.url", nats);
		if (rv == WEIR_OK) {
			rv = weir_bridge_config_set_str(
			    cfg, "nats.stream", stream);
		}
		if (rv == WEIR_OK) {
			rv = weir_bridge_config_set_str(
			    cfg, "nats.stream.subjects", subjects);
		}
	}
	if (kafka != NULL && rv == WEIR_OK) {
		rv = weir_bridge_config_set_str(
		    cfg, "kafka.bootstrap.servers", kafka);
	}
	return rv;
}

#ifdef SERVICE_GATEWAY_NATS
#define HAVE_NATS 1
#else
#define HAVE_NATS 0
#endif
#ifdef SERVICE_GATEWAY_KAFKA
#define HAVE_KAFKA 1
#else
#define HAVE_KAFKA 0
#endif

// The broker named by environment variable @p name, if set and if this
// build has its backend.
static const char *
broker_env(const char *name, int built)
{
	const char *v = getenv(name);
	if (v == NULL || *v == '\0') {
		return NULL;
	}
	if (!built) {
		printf(
		    "note: %s is set, but this build has no backend for it\n",
		    name);
		return NULL;
	}
	return v;
}

// Every route takes the same orders (shop.<region>.order), keyed by
// the event's key (the customer), so one customer's orders stay in
// order on the broker.
static weir_err
route_add(gw *g, const char *name, const char *scheme, const char *dest)
{
	weir_err rv = weir_bridge_route_add(
	    g->br, name, "shop.*.order", scheme, dest, "key", NULL);
	if (rv == WEIR_OK) {
		g->routes[g->nroutes++] = name;
	}
	return rv;
}

static weir_err
gw_routes(gw *g, const opts *o, const char *nats, const char *kafka)
{
	char     dest[96];
	weir_err rv = WEIR_OK;
#ifdef SERVICE_GATEWAY_NATS
	if (nats != NULL &&
	    (rv = weir_bridge_register(g->br, weir_backend_nats())) ==
	        WEIR_OK) {
		snprintf(dest, sizeof(dest), "%s.orders.{2}", o->prefix);
		printf(
		    "route to-nats: JetStream (WEIR_NATS_URL), subject %s\n",
		    dest); // the URL may carry a password: not printed
		rv = route_add(g, "to-nats", "nats", dest);
	}
#endif
#ifdef SERVICE_GATEWAY_KAFKA
	if (kafka != NULL && rv == WEIR_OK &&
	    (rv = weir_bridge_register(g->br, weir_backend_kafka())) ==
	        WEIR_OK) {
		snprintf(dest, sizeof(dest), "%s-orders", o->prefix);
		printf(
		    "route to-kafka: Kafka (WEIR_KAFKA_BOOTSTRAP), topic %s\n",
		    dest);
		rv = route_add(g, "to-kafka", "kafka", dest);
	}
#endif
	if (nats == NULL && kafka == NULL && rv == WEIR_OK &&
	    (rv = weir_bridge_register(g->br, weir_backend_mem())) ==
	        WEIR_OK) {
		printf("no broker (WEIR_NATS_URL and WEIR_KAFKA_BOOTSTRAP "
		       "unset): routing to the in-memory mem backend\n");
		rv = route_add(g, "to-mem", "mem", "orders.{2}");
	}
	(void) o, (void) dest;
	return rv;
}

// bus + store + bridge, routes added and started.
static int
gw_open(gw *g, const opts *o, const char *path)
{
	const char *nats  = broker_env("WEIR_NATS_URL", HAVE_NATS);
	const char *kafka = broker_env("WEIR_KAFKA_BOOTSTRAP", HAVE_KAFKA);
	weir_bridge_config *cfg = NULL;
	char                msg[256];
	weir_err            rv;
	if ((rv = weir_bus_create(&g->bus, NULL)) != WEIR_OK) {
		return fail("bus", rv, NULL);
	}
	if ((rv = weir_store_open(&g->st, path, NULL, msg, sizeof(msg))) !=
	    WEIR_OK) {
		return fail(path, rv, msg);
	}
	if ((rv = weir_bridge_config_create(&cfg)) == WEIR_OK &&
	    (rv = config_brokers(cfg, o, nats, kafka)) == WEIR_OK) {
		rv = weir_bridge_create(&g->br, g->bus, g->st, cfg);
	}
	weir_bridge_config_destroy(cfg); // the bridge keeps a copy
	if (rv != WEIR_OK) {
		return fail("bridge", rv, NULL);
	}
	if ((rv = gw_routes(g, o, nats, kafka)) != WEIR_OK ||
	    (rv = weir_bridge_start(g->br)) != WEIR_OK) {
		return fail("bridge", rv, weir_bridge_errmsg(g->br));
	}
	return 0;
}

// The service's side: order events with a key and a W3C trace header,
// published on the bus (any thread may do this). The bridge's intake
// takes them from there; the service never waits for a broker.
static weir_err
publish_orders(weir_bus *bus, uint64_t n)
{
	weir_err rv = WEIR_OK;
	for (uint64_t i = 1; i <= n && rv == WEIR_OK; i++) {
		char key[32], body[96];
		int  kl =
		    snprintf(key, sizeof(key), "customer-%" PRIu64, i % 7);
		int             bl    = snprintf(body, sizeof(body),
		                   "{\"order\":%" PRIu64 ",\"amount_cents\":%" PRIu64 "}", i,
		                   100 + i * 37 % 9000);
		weir_header     trace = { "traceparent",
			    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-"
			        "01",
			    55 };
		weir_event_init init  = { .size = sizeof(weir_event_init),
			 .topic   = i % 2 ? "shop.eu.order" : "shop.us.order",
			 .key     = key,
			 .key_len = (size_t) kl,
			 .payload = body,
			 .payload_len  = (size_t) bl,
			 .headers      = &trace,
			 .header_count = 1 };
		weir_event     *ev;
		if ((rv = weir_event_new(&ev, &init)) == WEIR_OK) {
			rv = weir_publish_event(bus, ev);
			weir_event_release(ev);
		}
	}
	return rv;
}

// Waits (up to @p timeout_s) until every route has finished @p n events
// (acknowledged by its broker or dead-lettered) and its cursor has
// passed the last one. Returns 1 when they did.
static int
wait_done(gw *g, uint64_t n, int timeout_s)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	for (long t = 0; t <= timeout_s * 100L; t++) {
		size_t   done = 0;
		uint64_t last = 0; // read again: the intake appends meanwhile
		weir_store_last_seq(g->st, &last);
		for (size_t i = 0; i < g->nroutes; i++) {
			weir_bridge_route_stats s =
			    WEIR_STRUCT_INIT(weir_bridge_route_stats);
			weir_bridge_route_stats_get(g->br, g->routes[i], &s);
			done += s.acked + s.dead >= n && s.cursor >= last;
		}
		if (done == g->nroutes) {
			return 1;
		}
		nanosleep(&tick, NULL);
	}
	return 0;
}

// One line per route, one for the store; returns 1 if all was acked.
static int
report(gw *g, uint64_t n, const char *path)
{
	uint64_t last = 0, acked = 0;
	for (size_t i = 0; i < g->nroutes; i++) {
		weir_bridge_route_stats s =
		    WEIR_STRUCT_INIT(weir_bridge_route_stats);
		weir_bridge_route_stats_get(g->br, g->routes[i], &s);
		printf("route %s: %" PRIu64 " sent, %" PRIu64
		       " acked, %" PRIu64 " dead, cursor at seq %" PRIu64 "\n",
		    g->routes[i], s.sent, s.acked, s.dead, s.cursor);
		acked += s.acked == n;
	}
	weir_store_last_seq(g->st, &last);
	printf("stored: last seq %" PRIu64 " in %s\n", last, path);
	return acked == g->nroutes;
}

static int
opts_parse(opts *o, int argc, char **argv)
{
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];
		if (strcmp(a, "-n") == 0) {
			o->n = strtoull(v, NULL, 10);
		} else if (strcmp(a, "-s") == 0) {
			o->store = v;
		} else if (strcmp(a, "--prefix") == 0) {
			o->prefix = v;
		} else if (strcmp(a, "--timeout") == 0) {
			o->timeout_s = atoi(v);
		} else {
			return -1;
		}
	}
	return argc % 2 == 0 || o->n == 0 || o->timeout_s <= 0 ||
	        o->prefix[0] == '\0' || strlen(o->prefix) > 40
	    ? -1
	    : 0;
}

static void
gw_close(gw *g)
{
	weir_bridge_destroy(g->br); // stops the relays; the log stays
	weir_bus_destroy(g->bus);
	weir_store_destroy(g->st);
}

int
main(int argc, char **argv)
{
	opts o     = { .n = 100, .prefix = "weirdemo", .timeout_s = 30 };
	gw   g     = { 0 };
	char dir[] = "/tmp/weir-gateway.XXXXXX", path[64];
	if (opts_parse(&o, argc, argv) != 0) {
		fprintf(stderr,
		    "usage: service_gateway [-n EVENTS] [-s STORE] "
		    "[--prefix NAME] [--timeout S]\n");
		return 2;
	}
	if (o.store == NULL && mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/events.db", dir);
	const char *store = o.store ? o.store : path;
	int         ok    = 0;
	if (gw_open(&g, &o, store) == 0) {
		weir_err rv = publish_orders(g.bus, o.n);
		if (rv != WEIR_OK) {
			fail("publish", rv, NULL);
		} else {
			printf("published: %" PRIu64 " orders\n", o.n);
			ok = wait_done(&g, o.n, o.timeout_s);
			ok = report(&g, o.n, store) && ok;
		}
	}
	gw_close(&g);
	if (o.store == NULL) {
		const char *ext[] = { "", "-wal", "-shm" };
		for (size_t i = 0; i < 3; i++) {
			char f[80];
			snprintf(f, sizeof(f), "%s%s", path, ext[i]);
			unlink(f);
		}
		rmdir(dir);
	}
	printf("%s\n",
	    ok ? "delivered: every order acknowledged on every route"
	       : "NOT delivered: see the routes above");
	return ok ? 0 : 1;
}
