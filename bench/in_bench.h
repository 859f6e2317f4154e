/*
 * Helpers shared by the inbound benches (kafka_in_bench, nats_in_bench):
 * the clock, the weir side of a round (store, bus, the wait for all n
 * events, the clean-up) and the median. Header-only, static.
 */
#ifndef WEIR_BENCH_IN_BENCH_H
#define WEIR_BENCH_IN_BENCH_H

#include <weir/bridge.h>
#include <weir/store.h>
#include <weir/weir.h>

#include <stdatomic.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* How long one round may take before it counts as failed (seconds). */
#define IN_BENCH_DEADLINE_S 300

#ifndef WEIR_BENCH_BUILD
#define WEIR_BENCH_BUILD "app" /* set by bench/build_label.cmake */
#endif

/* Monotonic time in seconds. */
static double
in_bench_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* CPU time (user + system, every thread) of this process in seconds:
 * per event it is a figure the machine's load hardly moves, unlike
 * events/s. */
static double
in_bench_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double) ru.ru_utime.tv_sec +
	    (double) ru.ru_utime.tv_usec / 1e6 + (double) ru.ru_stime.tv_sec +
	    (double) ru.ru_stime.tv_usec / 1e6;
}

/* Context switches (voluntary: a thread waited; involuntary: preempted)
 * of this process so far, every thread. */
static double
in_bench_csw(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double) ru.ru_nvcsw + (double) ru.ru_nivcsw;
}

/* Subscriber: counts the events the bus delivers into *arg. */
static weir_err
in_bench_count(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	atomic_fetch_add((atomic_uint_least64_t *) arg, 1);
	return WEIR_OK;
}

/* The store file of round @p round: DIR/NAME_PID_ROUND.db plus @p sfx. */
static void
in_bench_path(char *out, size_t cap, const char *dir, const char *name,
    int round, const char *sfx)
{
	snprintf(out, cap, "%s/%s_%d_%d.db%s", dir, name, (int) getpid(),
	    round, sfx);
}

/* Opens the store at @p path, FULL or (@p normal) NORMAL durability. */
static weir_err
in_bench_store(weir_store **st, const char *path, int normal)
{
	char               msg[256];
	weir_store_config *sc;
	weir_err           rv;
	weir_store_config_create(&sc);
	weir_store_config_set_durability(sc,
	    normal ? WEIR_STORE_DURABILITY_NORMAL
	           : WEIR_STORE_DURABILITY_FULL);
	rv = weir_store_open(st, path, sc, msg, sizeof msg);
	weir_store_config_destroy(sc);
	return rv;
}

/* A started bus of one loop whose every event is counted into @p got. */
static weir_err
in_bench_bus(weir_bus **bus, atomic_uint_least64_t *got)
{
	weir_bus_config *bc;
	weir_subscr     *sub;
	weir_err         rv;
	weir_bus_config_create(&bc);
	weir_bus_config_set_loops(bc, 1);
	rv = weir_bus_create(bus, bc);
	weir_bus_config_destroy(bc);
	if (rv == WEIR_OK) {
		rv = weir_subscribe(
		    &sub, *bus, ">", in_bench_count, got, NULL, NULL);
	}
	return rv == WEIR_OK ? weir_bus_start(*bus) : rv;
}

/*
 * Starts @p br (when @p rv, the setup's result, is WEIR_OK) and waits
 * until @p got reaches @p n; events/s from the start, 0 on error or at
 * the deadline. Then destroys br, bus and st and removes the store files
 * named as in_bench_path(dir, name, round).
 */
static double
in_bench_round(weir_err rv, weir_store *st, weir_bus *bus, weir_bridge *br,
    atomic_uint_least64_t *got, uint64_t n, const char *dir, const char *name,
    int round)
{
	double t0 = in_bench_now_s(), t1 = 0;
	char   path[600];
	if (rv == WEIR_OK && (rv = weir_bridge_start(br)) == WEIR_OK) {
		while (atomic_load(got) < n &&
		    in_bench_now_s() - t0 < IN_BENCH_DEADLINE_S) {
			usleep(1000);
		}
		t1 = in_bench_now_s();
	}
	if (rv != WEIR_OK) {
		fprintf(stderr, "weir: %s: %s\n", weir_err_name(rv),
		    br ? weir_bridge_errmsg(br) : "");
	}
	weir_bridge_destroy(br);
	weir_bus_destroy(bus);
	weir_store_destroy(st);
	for (int i = 0; i < 3; i++) {
		const char *sfx[] = { "", "-wal", "-shm" };
		in_bench_path(path, sizeof path, dir, name, round, sfx[i]);
		unlink(path);
	}
	return atomic_load(got) >= n ? (double) n / (t1 - t0) : 0;
}

/* The median of v[0..n) (sorts v in place, so v[0] and v[n-1] are then
 * the min and max). */
static double
in_bench_median(double *v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double t = v[j];
			v[j]     = v[j - 1];
			v[j - 1] = t;
		}
	}
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The rounds of one bench: per round, weir's and the bare loop's
 * events/s, CPU us and context switches per event; medians after
 * in_bench_run (the arrays sorted: [0] min, [rounds-1] max). */
typedef struct {
	double w[64], p[64], wc[64], pc[64], ws[64], ps[64];
	double wm, pm, wcm, pcm; /* medians */
} in_bench_res;

/*
 * An untimed warm-up pair, then @p rounds interleaved rounds of
 * @p weir and @p bare on @p arg (*round set to the round, -1 for the
 * warm-up), a JSON line NAME_round per round. 0, or 1 when a side of a
 * round failed (0 events/s).
 */
static int
in_bench_run(const char *name, int rounds, uint64_t n, double (*weir)(void *),
    double (*bare)(void *), void *arg, int *round, in_bench_res *r)
{
	*round = -1;
	weir(arg);
	bare(arg);
	for (int i = 0; i < rounds; i++) {
		*round    = i;
		double c0 = in_bench_cpu_s(), s0 = in_bench_csw();
		r->w[i]   = weir(arg);
		double c1 = in_bench_cpu_s(), s1 = in_bench_csw();
		r->p[i]  = bare(arg);
		r->wc[i] = (c1 - c0) * 1e6 / (double) n;
		r->pc[i] = (in_bench_cpu_s() - c1) * 1e6 / (double) n;
		r->ws[i] = (s1 - s0) / (double) n;
		r->ps[i] = (in_bench_csw() - s1) / (double) n;
		printf("{\"name\":\"%s_round\",\"round\":%d,"
		       "\"weir_events_per_s\":%.0f,\"bare_events_per_s\":%.0f,"
		       "\"weir_cpu_us\":%.2f,\"bare_cpu_us\":%.2f,"
		       "\"weir_csw\":%.3f,\"bare_csw\":%.3f}\n",
		    name, i, r->w[i], r->p[i], r->wc[i], r->pc[i], r->ws[i],
		    r->ps[i]);
		fflush(stdout);
		if (r->w[i] == 0 || r->p[i] == 0) {
			return 1;
		}
	}
	r->wm  = in_bench_median(r->w, (size_t) rounds);
	r->pm  = in_bench_median(r->p, (size_t) rounds);
	r->wcm = in_bench_median(r->wc, (size_t) rounds);
	r->pcm = in_bench_median(r->pc, (size_t) rounds);
	return 0;
}

#endif /* WEIR_BENCH_IN_BENCH_H */
