/*
 * An application outside the weir tree, built against an INSTALLED weir
 * only (tests/install/check.sh builds it with find_package and with
 * pkg-config): it uses the three layers the way a user would. Events
 * published on a bus are stored by the bridge (store mode) and relayed
 * to the in-memory `mem` backend; the program waits until the route has
 * acknowledged them all, then checks the store holds them.
 *
 *   outside STORE_PATH
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <weir/bridge.h>
#include <weir/store.h>
#include <weir/weir.h>

#define EVENTS 3
#define DEADLINE_S 30

static int
fail(const char *what, weir_err rv)
{
	fprintf(stderr, "outside: %s: %s\n", what, weir_strerror(rv));
	return 1;
}

// Waits, up to DEADLINE_S, until route "out" has acknowledged EVENTS.
static int
wait_acked(weir_bridge *br)
{
	weir_bridge_route_stats rs = WEIR_STRUCT_INIT(weir_bridge_route_stats);
	struct timespec         nap = { 0, 10 * 1000 * 1000 };
	for (int i = 0; i < DEADLINE_S * 100; i++) {
		if (weir_bridge_route_stats_get(br, "out", &rs) != WEIR_OK) {
			return 0;
		}
		if (rs.acked == EVENTS) {
			return 1;
		}
		nanosleep(&nap, NULL);
	}
	fprintf(stderr, "outside: %llu of %d acknowledged\n",
	    (unsigned long long) rs.acked, EVENTS);
	return 0;
}

static int
run(weir_bus *bus, weir_store *st)
{
	weir_bridge *br;
	weir_err     rv = weir_bridge_create(&br, bus, st, NULL);
	if (rv != WEIR_OK) {
		return fail("bridge", rv);
	}
	if ((rv = weir_bridge_register(br, weir_backend_mem())) != WEIR_OK ||
	    (rv = weir_bridge_route_add(br, "out", "orders.>", "mem",
	         "orders.{2}", "key", NULL)) != WEIR_OK ||
	    (rv = weir_bridge_start(br)) != WEIR_OK) {
		fprintf(stderr, "outside: %s\n", weir_bridge_errmsg(br));
		weir_bridge_destroy(br);
		return fail("bridge set-up", rv);
	}
	for (int i = 0; i < EVENTS && rv == WEIR_OK; i++) {
		rv = weir_publish(bus, "orders.eu.created", "{}", 2, 0, NULL);
	}
	int      ok   = rv == WEIR_OK && wait_acked(br);
	uint64_t last = 0;
	weir_bridge_destroy(br);
	if (ok && weir_store_last_seq(st, &last) == WEIR_OK &&
	    last == EVENTS) {
		printf("outside: weir %d.%d.%d headers: %d events stored "
		       "and relayed\n",
		    WEIR_VERSION_MAJOR, WEIR_VERSION_MINOR, WEIR_VERSION_PATCH,
		    EVENTS);
		return 0;
	}
	fprintf(stderr, "outside: store holds %llu events, not %d\n",
	    (unsigned long long) last, EVENTS);
	return 1;
}

int
main(int argc, char **argv)
{
	weir_bus   *bus;
	weir_store *st;
	char        msg[256] = "";
	if (argc != 2) {
		fprintf(stderr, "usage: outside STORE_PATH\n");
		return 2;
	}
	weir_err rv = weir_bus_create(&bus, NULL);
	if (rv != WEIR_OK) {
		return fail("bus", rv);
	}
	rv = weir_store_open(&st, argv[1], NULL, msg, sizeof(msg));
	if (rv != WEIR_OK) {
		fprintf(stderr, "outside: %s: %s\n", argv[1], msg);
		weir_bus_destroy(bus);
		return fail("store", rv);
	}
	int status = run(bus, st);
	weir_store_destroy(st);
	weir_bus_destroy(bus);
	return status;
}
