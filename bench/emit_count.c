/*
 * emit_count: a fixed number of synchronous emits (or publishes) to one
 * listener (one pull subscription), for an instruction count under
 * callgrind, which is deterministic where a timing on a shared machine
 * is not (docs/benchmarks.md):
 *
 *   valgrind --tool=callgrind build/bench/bench/emit_count topic 1000000
 *
 * Modes: topic (weir_emit_topic), string (weir_emit), pub_topic
 * (weir_publish_topic), pub_string (weir_publish); the pull subscription
 * is drained every 1024 publishes. Divide the instruction count of the
 * function (callgrind_annotate) by the count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weir/weir.h>

#define COUNT_TOPIC "bench.emit"
#define COUNT_PAYLOAD 64

static unsigned long count_calls;

static weir_err
count_listener(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	(void) arg;
	count_calls++;
	return WEIR_OK;
}

static void
count_drain(weir_subscr *sub)
{
	const weir_event *ev;
	while (weir_subscr_next(sub, &ev, 0) == WEIR_OK) {
		weir_event_release(ev);
	}
}

/* The loops, one per mode (no dispatch inside: its instructions would
 * count), each returning the number of failed calls. */
static long
count_topic(weir_bus *bus, weir_topic *t, weir_subscr *sub, long n)
{
	static const unsigned char p[COUNT_PAYLOAD];
	long                       bad = 0;
	(void) bus;
	(void) sub;
	for (long i = 0; i < n; i++) {
		bad += weir_emit_topic(t, p, COUNT_PAYLOAD, NULL) != WEIR_OK;
	}
	return bad;
}

static long
count_string(weir_bus *bus, weir_topic *t, weir_subscr *sub, long n)
{
	static const unsigned char p[COUNT_PAYLOAD];
	long                       bad = 0;
	(void) t;
	(void) sub;
	for (long i = 0; i < n; i++) {
		bad += weir_emit(bus, COUNT_TOPIC, p, COUNT_PAYLOAD, NULL) !=
		    WEIR_OK;
	}
	return bad;
}

static long
count_pub_topic(weir_bus *bus, weir_topic *t, weir_subscr *sub, long n)
{
	static const unsigned char p[COUNT_PAYLOAD];
	long                       bad = 0;
	(void) bus;
	for (long i = 0; i < n; i++) {
		bad += weir_publish_topic(t, p, COUNT_PAYLOAD) != WEIR_OK;
		if ((i & 1023) == 1023) {
			count_drain(sub);
		}
	}
	return bad;
}

static long
count_pub_string(weir_bus *bus, weir_topic *t, weir_subscr *sub, long n)
{
	static const unsigned char p[COUNT_PAYLOAD];
	long                       bad = 0;
	(void) t;
	for (long i = 0; i < n; i++) {
		bad += weir_publish(bus, COUNT_TOPIC, p, COUNT_PAYLOAD, 0,
		           NULL) != WEIR_OK;
		if ((i & 1023) == 1023) {
			count_drain(sub);
		}
	}
	return bad;
}

static const struct count_mode {
	const char *name;
	long (*run)(weir_bus *, weir_topic *, weir_subscr *, long);
} count_modes[] = {
	{ "topic", count_topic },
	{ "string", count_string },
	{ "pub_topic", count_pub_topic },
	{ "pub_string", count_pub_string },
};

int
main(int argc, char **argv)
{
	const char              *name = argc > 1 ? argv[1] : "";
	long                     n    = argc > 2 ? atol(argv[2]) : 1000000;
	const struct count_mode *m    = NULL;
	weir_bus                *bus;
	weir_topic              *t;
	weir_subscr             *sub = NULL;
	for (size_t i = 0; i < sizeof(count_modes) / sizeof(count_modes[0]);
	     i++) {
		if (strcmp(name, count_modes[i].name) == 0) {
			m = &count_modes[i];
		}
	}
	if (m == NULL) {
		fprintf(stderr,
		    "usage: emit_count topic|string|pub_topic|pub_string "
		    "[N]\n");
		return 2;
	}
	int pub = strncmp(name, "pub_", 4) == 0;
	if (weir_bus_create(&bus, NULL) != WEIR_OK ||
	    (pub ? weir_subscribe(
	               &sub, bus, COUNT_TOPIC, NULL, NULL, NULL, NULL)
	         : weir_on(bus, COUNT_TOPIC, count_listener, NULL, NULL, 0,
	               NULL)) != WEIR_OK ||
	    weir_topic_create(&t, bus, COUNT_TOPIC) != WEIR_OK) {
		fprintf(stderr, "emit_count: setup failed\n");
		return 1;
	}
	if (m->run(bus, t, sub, n) != 0) {
		fprintf(stderr, "emit_count: calls failed\n");
		return 1;
	}
	if (sub != NULL) {
		count_drain(sub);
		weir_unsubscribe(sub);
	}
	weir_topic_destroy(t);
	weir_bus_destroy(bus);
	printf("%s: %ld calls, %lu listener calls\n", name, n, count_calls);
	return 0;
}
