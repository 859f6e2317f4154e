/*
 * The second weir process of nats_in_test: a store, a bus and a bridge
 * with one inbound route "in" from NATS. Every event its bus delivers is
 * printed as "ev <id> <traceparent>" on stdout; "ready" once the route
 * runs. It stops cleanly (bridge, bus, store) when stdin reaches EOF;
 * the kill test ends it with SIGKILL instead.
 *
 * usage: nats_in_peer STORE URL SCHEME FROM TOPIC_TEMPLATE STREAM|-
 *                     ACK_WAIT_MS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weir/bridge.h>
#include <weir/nats.h>
#include <weir/store.h>
#include <weir/weir.h>

static weir_err
peer_on_event(weir_bus *bus, const weir_event *ev, void *arg)
{
	char        id[37];
	size_t      n  = 0;
	const void *tp = weir_event_header_get(ev, "traceparent", &n);
	(void) bus;
	(void) arg;
	weir_uuid_format(weir_event_id(ev), id);
	printf("ev %s %.*s\n", id, tp ? (int) n : 1,
	    tp ? (const char *) tp : "-");
	return WEIR_OK;
}

static int
peer_die(const char *what, weir_err rv, const char *msg)
{
	printf("error %s: %s: %s\n", what, weir_err_name(rv), msg ? msg : "");
	fflush(stdout);
	return 2;
}

static weir_err
peer_bus(weir_bus **bus)
{
	weir_bus_config    *bc;
	weir_subscr_config *sc;
	weir_subscr        *sub;
	weir_err            rv = weir_bus_config_create(&bc);
	if (rv != WEIR_OK) {
		return rv;
	}
	weir_bus_config_set_loops(bc, 1);
	rv = weir_bus_create(bus, bc);
	weir_bus_config_destroy(bc);
	if (rv != WEIR_OK ||
	    (rv = weir_subscr_config_create(&sc)) != WEIR_OK) {
		return rv;
	}
	// BLOCK: a slow stdout pushes back to the route instead of dropping.
	weir_subscr_config_set_capacity(sc, 4096);
	weir_subscr_config_set_policy(sc, WEIR_POLICY_BLOCK, 600000);
	rv = weir_subscribe(&sub, *bus, ">", peer_on_event, NULL, NULL, sc);
	weir_subscr_config_destroy(sc);
	return rv == WEIR_OK ? weir_bus_start(*bus) : rv;
}

int
main(int argc, char **argv)
{
	weir_store_config       *stc;
	weir_store              *st  = NULL;
	weir_bus                *bus = NULL;
	weir_bridge_config      *cfg;
	weir_bridge             *br = NULL;
	weir_bridge_inbound_opts o =
	    WEIR_STRUCT_INIT(weir_bridge_inbound_opts);
	char     msg[256] = "";
	weir_err rv;
	if (argc != 8) {
		fprintf(stderr, "usage: see nats_in_peer.c\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	weir_store_config_create(&stc);
	// NORMAL survives a process crash (the kill test's SIGKILL).
	weir_store_config_set_durability(stc, WEIR_STORE_DURABILITY_NORMAL);
	rv = weir_store_open(&st, argv[1], stc, msg, sizeof msg);
	weir_store_config_destroy(stc);
	if (rv != WEIR_OK) {
		return peer_die("store", rv, msg);
	}
	if ((rv = peer_bus(&bus)) != WEIR_OK) {
		return peer_die("bus", rv, NULL);
	}
	weir_bridge_config_create(&cfg);
	weir_bridge_config_set_str(cfg, "nats.url", argv[2]);
	weir_bridge_config_set_str(cfg, "nats.in.ack_wait_ms", argv[7]);
	rv = weir_bridge_create(&br, bus, st, cfg);
	weir_bridge_config_destroy(cfg);
	if (rv != WEIR_OK) {
		return peer_die("bridge", rv, NULL);
	}
	o.stream = strcmp(argv[6], "-") != 0 ? argv[6] : NULL;
	if ((rv = weir_bridge_register_source(br, weir_source_nats())) ||
	    (rv = weir_bridge_register_source(br, weir_source_natscore())) ||
	    (rv = weir_bridge_inbound_add(
	         br, "in", argv[3], argv[4], argv[5], &o)) ||
	    (rv = weir_bridge_start(br))) {
		return peer_die("route", rv, weir_bridge_errmsg(br));
	}
	printf("ready\n");
	while (fgets(msg, sizeof msg, stdin) != NULL) { }
	weir_bridge_destroy(br);
	weir_bus_destroy(bus);
	weir_store_destroy(st);
	return 0;
}
