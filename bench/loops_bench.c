/*
 * loops_bench: publish-to-dispatch throughput with the bus's handlers
 * on 1 loop thread and on 2 ("one loop per core" on a 2-core machine).
 * Two publisher threads publish N events to a topic matched by four
 * subscriptions whose handlers do a little work (a hash of the
 * payload); the figure is handler calls per second from the first
 * publish to the last call. Prints one JSON line per run.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <weir/weir.h>

#include "peer_util.h"

#define SUBS 4
#define PUBLISHERS 2

static atomic_uint_least64_t calls;
static atomic_uint_least64_t sink;

static weir_err
work_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	size_t         len;
	const uint8_t *p = weir_event_payload(ev, &len);
	uint64_t       h = 1469598103934665603ull;
	(void) bus;
	(void) arg;
	for (int r = 0; r < 8; r++) { // ~ a few hundred ns of work
		for (size_t i = 0; i < len; i++) {
			h = (h ^ p[i]) * 1099511628211ull;
		}
	}
	atomic_fetch_add_explicit(&sink, h & 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
	return WEIR_OK;
}

typedef struct pub_arg {
	weir_bus *bus;
	long      n;
} pub_arg;

static void *
publisher(void *arg)
{
	pub_arg    *pa = arg;
	weir_topic *t;
	char        payload[32] = "0123456789abcdef0123456789abcde";
	if (weir_topic_create(&t, pa->bus, "bench.loops") != WEIR_OK) {
		abort();
	}
	for (long i = 0; i < pa->n; i++) {
		weir_publish_topic(t, payload, sizeof(payload));
	}
	weir_topic_destroy(t);
	return NULL;
}

static void
run(size_t loops, long events)
{
	weir_bus_config    *cfg;
	weir_bus           *bus;
	weir_subscr_config *sc;
	weir_subscr        *sub[SUBS];
	weir_bus_config_create(&cfg);
	weir_bus_config_set_loops(cfg, loops);
	weir_bus_create(&bus, cfg);
	weir_bus_config_destroy(cfg);
	weir_subscr_config_create(&sc);
	weir_subscr_config_set_capacity(sc, 65536);
	for (int i = 0; i < SUBS; i++) {
		weir_subscr_config_set_loop_index(sc, (size_t) i % loops);
		weir_subscribe(
		    &sub[i], bus, "bench.>", work_handler, NULL, NULL, sc);
	}
	weir_subscr_config_destroy(sc);
	atomic_store(&calls, 0);
	weir_bus_start(bus);
	pthread_t th[PUBLISHERS];
	pub_arg   pa   = { bus, events / PUBLISHERS };
	uint64_t  want = (uint64_t) pa.n * PUBLISHERS * SUBS;
	int64_t   t0   = (int64_t) bench_now_ns();
	for (int i = 0; i < PUBLISHERS; i++) {
		pthread_create(&th[i], NULL, publisher, &pa);
	}
	for (int i = 0; i < PUBLISHERS; i++) {
		pthread_join(th[i], NULL);
	}
	while (atomic_load(&calls) < want) {
		struct timespec ts = { 0, 100000 };
		nanosleep(&ts, NULL);
	}
	double secs = (double) ((int64_t) bench_now_ns() - t0) / 1e9;
	weir_bus_stop(bus);
	weir_bus_join(bus);
	printf("{\"bench\":\"loops\",\"loops\":%zu,\"subscriptions\":%d,"
	       "\"publishers\":%d,\"events\":%ld,\"handler_calls\":%llu,"
	       "\"seconds\":%.3f,\"calls_per_sec\":%.0f}\n",
	    loops, SUBS, PUBLISHERS, events, (unsigned long long) want, secs,
	    (double) want / secs);
	fflush(stdout);
	weir_bus_destroy(bus);
}

int
main(int argc, char **argv)
{
	long events = argc > 1 ? atol(argv[1]) : 2000000;
	int  reps   = argc > 2 ? atoi(argv[2]) : 3;
	for (int r = 0; r < reps; r++) {
		run(1, events);
		run(2, events);
	}
	return 0;
}
