/*
 * latency_bench: publish-to-handler latency percentiles (p50, p99,
 * p999) on a bus loop thread, idle (one event at a time, with pauses
 * long enough for the loop to sleep) and under load (another thread
 * floods a second subscription on the same loop), each with the loop
 * sleeping at once and with spin-then-sleep (50 us). The probe event
 * carries its publish time (CLOCK_MONOTONIC); the handler records the
 * difference. Prints one JSON line per case.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <weir/weir.h>

#include "peer_util.h"

#define SAMPLES 5000

typedef struct lat_state {
	int64_t    samples[SAMPLES];
	atomic_int n;
	atomic_int stop_load;
	weir_bus  *bus;
} lat_state;

static weir_err
probe_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	lat_state *ls = arg;
	size_t     len;
	int64_t    t0;
	(void) bus;
	memcpy(&t0, weir_event_payload(ev, &len), sizeof(t0)); // unaligned
	int i = atomic_load(&ls->n);
	if (i < SAMPLES) {
		ls->samples[i] = (int64_t) bench_now_ns() - t0;
	}
	atomic_store(&ls->n, i + 1);
	return WEIR_OK;
}

static weir_err
load_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	(void) arg;
	return WEIR_OK;
}

static void *
load_thread(void *arg)
{
	lat_state  *ls = arg;
	weir_topic *t;
	weir_topic_create(&t, ls->bus, "load.x");
	while (!atomic_load(&ls->stop_load)) {
		for (int i = 0; i < 64; i++) {
			weir_publish_topic(t, "x", 1);
		}
		struct timespec ts = { 0, 20000 }; // ~3M/s peaks, not a wall
		nanosleep(&ts, NULL);
	}
	weir_topic_destroy(t);
	return NULL;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
	return (x > y) - (x < y);
}

static void
run(int load, uint32_t spin_us)
{
	weir_bus_config *cfg;
	lat_state       *ls = calloc(1, sizeof(*ls));
	weir_subscr     *probe, *busy;
	weir_bus_config_create(&cfg);
	weir_bus_config_set_loops(cfg, 1);
	weir_bus_create(&ls->bus, cfg);
	weir_bus_config_destroy(cfg);
	weir_loop_set_spin(weir_bus_loop_at(ls->bus, 0), spin_us);
	weir_subscribe(
	    &probe, ls->bus, "probe.x", probe_handler, ls, NULL, NULL);
	weir_subscr_config *sc;
	weir_subscr_config_create(&sc);
	weir_subscr_config_set_policy(sc, WEIR_POLICY_DROP_OLDEST, 0);
	weir_subscribe(&busy, ls->bus, "load.x", load_handler, NULL, NULL, sc);
	weir_subscr_config_destroy(sc);
	weir_bus_start(ls->bus);
	pthread_t th;
	if (load) {
		pthread_create(&th, NULL, load_thread, ls);
	}
	for (int i = 0; i < SAMPLES; i++) {
		int64_t t0 = (int64_t) bench_now_ns();
		weir_publish(ls->bus, "probe.x", &t0, sizeof(t0), 0, NULL);
		while (atomic_load(&ls->n) <= i) { }
		struct timespec ts = { 0, 200000 }; // let the loop go idle
		nanosleep(&ts, NULL);
	}
	if (load) {
		atomic_store(&ls->stop_load, 1);
		pthread_join(th, NULL);
	}
	weir_bus_stop(ls->bus);
	weir_bus_join(ls->bus);
	qsort(ls->samples, SAMPLES, sizeof(int64_t), cmp_i64);
	printf("{\"bench\":\"latency\",\"load\":%s,\"spin_us\":%u,"
	       "\"samples\":%d,\"p50_ns\":%lld,\"p99_ns\":%lld,"
	       "\"p999_ns\":%lld,\"max_ns\":%lld}\n",
	    load ? "true" : "false", spin_us, SAMPLES,
	    (long long) ls->samples[SAMPLES / 2],
	    (long long) ls->samples[SAMPLES * 99 / 100],
	    (long long) ls->samples[SAMPLES * 999 / 1000],
	    (long long) ls->samples[SAMPLES - 1]);
	fflush(stdout);
	weir_bus_destroy(ls->bus);
	free(ls);
}

int
main(void)
{
	run(0, 0);
	run(0, 50);
	run(1, 0);
	run(1, 50);
	return 0;
}
