/*
 * The second weir process of the Kafka inbound tests (kafka_in_test.c):
 * a store, a bus and a bridge with one inbound route from a Kafka topic
 * onto the local topic of the same name, in a consumer group named after
 * the topic.
 *
 *   kafka_in_child STORE TOPIC EXPECT [--bus] kafka.bootstrap.servers=B
 *       [kafka.key=value ...]
 *
 * Prints "count N" (the log's last seq) whenever it grows, "ev <id>
 * <traceparent>" for each event its bus delivers (with --bus), and
 * "done" once the log holds EXPECT events and (with --bus) the bus has
 * delivered every event this run appended; then it stops the bridge
 * (committing the offsets) and exits 0. Exits 2 after 150 s without
 * getting there. The tests kill it with SIGKILL at any moment.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <weir/bridge.h>
#include <weir/kafka.h>
#include <weir/store.h>

#define CHILD_DEADLINE_S 150

typedef struct child {
	weir_store           *st;
	weir_bus             *bus;
	weir_bridge          *br;
	weir_subscr          *sub;
	atomic_uint_least64_t seen; // events the bus delivered
	int                   print_bus;
} child;

static void
child_die(const char *what, weir_err e, const char *why)
{
	fprintf(stderr, "kafka_in_child: %s: %s: %s\n", what, weir_err_name(e),
	    why ? why : "");
	exit(1);
}

// Bus handler (the bus's loop thread): one line per event.
static weir_err
child_on_event(weir_bus *bus, const weir_event *ev, void *arg)
{
	child *c = arg;
	char   id[37], tp[128] = "-";
	(void) bus;
	weir_uuid_format(weir_event_id(ev), id);
	for (size_t i = 0; i < weir_event_header_count(ev); i++) {
		const char *name;
		const void *v;
		size_t      len;
		if (weir_event_header(ev, i, &name, &v, &len) == WEIR_OK &&
		    strcmp(name, "traceparent") == 0 && len < sizeof(tp)) {
			memcpy(tp, v, len);
			tp[len] = '\0';
		}
	}
	atomic_fetch_add(&c->seen, 1);
	if (c->print_bus) {
		printf("ev %s %s\n", id, tp);
	}
	return WEIR_OK;
}

static void
child_open(child *c, const char *path)
{
	weir_store_config *scfg;
	weir_bus_config   *bcfg;
	char               msg[256];
	weir_err           e;
	weir_store_config_create(&scfg);
	weir_store_config_set_durability(scfg, WEIR_STORE_DURABILITY_NORMAL);
	e = weir_store_open(&c->st, path, scfg, msg, sizeof(msg));
	weir_store_config_destroy(scfg);
	if (e != WEIR_OK) {
		child_die("store", e, msg);
	}
	weir_bus_config_create(&bcfg);
	weir_bus_config_set_loops(bcfg, 1);
	e = weir_bus_create(&c->bus, bcfg);
	weir_bus_config_destroy(bcfg);
	if (e != WEIR_OK ||
	    (e = weir_subscribe(&c->sub, c->bus, ">", child_on_event, c, NULL,
	         NULL)) != WEIR_OK ||
	    (e = weir_bus_start(c->bus)) != WEIR_OK) {
		child_die("bus", e, NULL);
	}
}

static void
child_bridge(child *c, const char *topic, int argc, char **argv)
{
	weir_bridge_config      *cfg;
	weir_bridge_inbound_opts o =
	    WEIR_STRUCT_INIT(weir_bridge_inbound_opts);
	weir_err e;
	o.group = topic; // a group per test run
	weir_bridge_config_create(&cfg);
	for (int i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		if (eq != NULL) {
			*eq = '\0';
			weir_bridge_config_set_str(cfg, argv[i], eq + 1);
		}
	}
	e = weir_bridge_create(&c->br, c->bus, c->st, cfg);
	weir_bridge_config_destroy(cfg);
	if (e != WEIR_OK) {
		child_die("bridge", e, NULL);
	}
	if ((e = weir_bridge_register_source(c->br, weir_source_kafka())) !=
	        WEIR_OK ||
	    (e = weir_bridge_inbound_add(
	         c->br, "in", "kafka", topic, "{topic}", &o)) != WEIR_OK ||
	    (e = weir_bridge_start(c->br)) != WEIR_OK) {
		child_die("bridge", e, weir_bridge_errmsg(c->br));
	}
}

// Waits for the log to hold @p expect events; 1 if it did in time.
static int
child_wait(child *c, uint64_t expect, uint64_t *last)
{
	time_t          end = time(NULL) + CHILD_DEADLINE_S;
	struct timespec nap = { 0, 20 * 1000000 };
	uint64_t        seq = 0;
	while (time(NULL) < end) {
		weir_store_last_seq(c->st, &seq);
		if (seq != *last) {
			*last = seq;
			printf("count %llu\n", (unsigned long long) seq);
		}
		if (seq >= expect) {
			return 1;
		}
		nanosleep(&nap, NULL);
	}
	return 0;
}

// With --bus: waits until the bus delivered what this run appended.
static int
child_wait_bus(child *c, uint64_t want)
{
	time_t          end = time(NULL) + 30;
	struct timespec nap = { 0, 5 * 1000000 };
	while (atomic_load(&c->seen) < want && time(NULL) < end) {
		nanosleep(&nap, NULL);
	}
	return atomic_load(&c->seen) >= want;
}

int
main(int argc, char **argv)
{
	child    c     = { .print_bus = 0 };
	uint64_t first = 0, last = 0, expect;
	int      ok;
	if (argc < 5) {
		fprintf(stderr,
		    "usage: kafka_in_child STORE TOPIC EXPECT [--bus] "
		    "kafka.bootstrap.servers=B [kafka.key=value ...]\n");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	expect      = strtoull(argv[3], NULL, 10);
	c.print_bus = argc > 4 && strcmp(argv[4], "--bus") == 0;
	atomic_init(&c.seen, 0);
	child_open(&c, argv[1]);
	weir_store_last_seq(c.st, &first);
	last = first;
	printf("count %llu\n", (unsigned long long) first);
	child_bridge(&c, argv[2], argc - 4, argv + 4);
	ok = child_wait(&c, expect, &last);
	weir_bridge_stop(c.br);
	ok = ok && (!c.print_bus || child_wait_bus(&c, last - first));
	printf(ok ? "done\n" : "timeout\n");
	weir_bridge_destroy(c.br);
	weir_bus_destroy(c.bus);
	weir_store_destroy(c.st);
	return ok ? 0 : 2;
}
