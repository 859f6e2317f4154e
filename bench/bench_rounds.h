/*
 * Interleaved rounds and the JSON line of a comparison, shared by
 * core_bench and fanout_bench (docs/benchmarks.md, "How the benches
 * measure"): one untimed round, then the cases run round by round in
 * turn; each figure is the median with the fastest and slowest round.
 * Header-only, static functions.
 *
 * The including file defines WEIR_BENCH_BUILD ("app" or "lto", set by
 * bench/build_label.cmake) and BENCH_NAME (its name for messages).
 */
#ifndef WEIR_BENCH_ROUNDS_H
#define WEIR_BENCH_ROUNDS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * How weir was linked into this program: "app" (static archives built
 * without link-time optimisation, as an application links the installed
 * library: the headline) or "lto" (weir and the bench optimised together
 * across files, which no application gets).
 */
#ifndef WEIR_BENCH_BUILD
#define WEIR_BENCH_BUILD "app"
#endif

#define BENCH_MAX_REPS 15

/* One timed run of n units; returns 0 and the elapsed time in *ns. */
typedef int (*bench_run_fn)(void *ctx, uint64_t n, uint64_t *ns);

/* A measured figure, per unit (event or delivery): the median of the
 * rounds and their range. */
typedef struct bench_fig {
	double rate; /* units per second; 0 when not measured */
	double ns;   /* nanoseconds per unit, median */
	double min;  /* fastest round */
	double max;  /* slowest round */
} bench_fig;

/* One case of an interleaved comparison. */
typedef struct bench_case {
	const char  *what;
	bench_run_fn fn;
	void        *ctx;
	uint64_t     times[BENCH_MAX_REPS];
	bench_fig    fig;
} bench_case;

static int
bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *) a;
	uint64_t y = *(const uint64_t *) b;

	return ((x > y) - (x < y));
}

/* Figures from the reps times in t (sorted here), each of @p per units. */
static bench_fig
bench_fig_of(uint64_t *t, int reps, uint64_t per)
{
	bench_fig fig;

	qsort(t, (size_t) reps, sizeof(uint64_t), bench_cmp_u64);
	fig.ns   = (double) t[reps / 2] / (double) per;
	fig.rate = 1e9 / fig.ns;
	fig.min  = (double) t[0] / (double) per;
	fig.max  = (double) t[reps - 1] / (double) per;
	return (fig);
}

/* Runs a case once. Exits on failure: a benchmark that lost an event
 * has no figure worth printing. */
static void
bench_run_or_die(
    const char *what, bench_run_fn fn, void *ctx, uint64_t n, uint64_t *ns)
{
	if (fn(ctx, n, ns) != 0) {
		fprintf(stderr, "%s: %s failed\n", BENCH_NAME, what);
		exit(1);
	}
	if (*ns == 0) {
		*ns = 1;
	}
}

static void
bench_report(const char *what, bench_fig fig)
{
	fprintf(stderr,
	    "  %-28s %14.0f per s %9.2f ns per unit  (runs %.2f..%.2f)\n",
	    what, fig.rate, fig.ns, fig.min, fig.max);
}

/* Runs fn reps times and keeps the median (a case with no peer). */
static inline bench_fig
bench_median(
    const char *what, bench_run_fn fn, void *ctx, uint64_t n, int reps)
{
	uint64_t  times[BENCH_MAX_REPS];
	bench_fig fig;

	for (int r = 0; r < reps; r++) {
		bench_run_or_die(what, fn, ctx, n, &times[r]);
	}
	fig = bench_fig_of(times, reps, n);
	bench_report(what, fig);
	return (fig);
}

/*
 * Runs k cases of n units round by round in turn (a, b, c, a, b, ...)
 * after one untimed round, and keeps each case's median per unit, the
 * time divided by @p per (n, or n times the subscriptions). On a shared
 * VM the speed of cross-core traffic drifts in phases of seconds;
 * taking turns puts every case in every phase. The untimed round pays
 * for page faults on fresh memory and empty caches.
 */
static void
bench_interleaved(bench_case *cs, int k, uint64_t n, uint64_t per, int reps)
{
	uint64_t warm;

	for (int c = 0; c < k; c++) {
		bench_run_or_die(cs[c].what, cs[c].fn, cs[c].ctx, n, &warm);
	}
	for (int r = 0; r < reps; r++) {
		for (int c = 0; c < k; c++) {
			bench_run_or_die(cs[c].what, cs[c].fn, cs[c].ctx, n,
			    &cs[c].times[r]);
		}
		if (k > 1) { /* each round, for reading the drift */
			fprintf(stderr, "    round %d:", r + 1);
			for (int c = 0; c < k; c++) {
				fprintf(stderr, " %.1f",
				    (double) cs[c].times[r] / (double) per);
			}
			fprintf(stderr, "\n");
		}
	}
	for (int c = 0; c < k; c++) {
		cs[c].fig = bench_fig_of(cs[c].times, reps, per);
		bench_report(cs[c].what, cs[c].fig);
	}
}

/*
 * Prints one comparison; ratio = weir's rate / the peer's. A peer that
 * could not run prints null figures. target > 0 adds the goal
 * for the ratio and whether it is met.
 */
static void
bench_print(const char *name, bench_fig weir, const char *peer,
    bench_fig other, uint64_t n, int reps, double target)
{
	printf("{\"name\":\"%s\",\"build\":\"%s\",\"events_per_s\":%.0f,"
	       "\"ns_per_event\":%.2f,\"ns_min\":%.2f,\"ns_max\":%.2f,"
	       "\"peer\":\"%s\",",
	    name, WEIR_BENCH_BUILD, weir.rate, weir.ns, weir.min, weir.max,
	    peer);
	if (other.rate > 0) {
		printf("\"peer_events_per_s\":%.0f,\"peer_ns_per_event\":%.2f,"
		       "\"peer_ns_min\":%.2f,\"peer_ns_max\":%.2f,"
		       "\"ratio\":%.3f",
		    other.rate, other.ns, other.min, other.max,
		    weir.rate / other.rate);
	} else {
		printf("\"peer_events_per_s\":null,\"peer_ns_per_event\":null,"
		       "\"ratio\":null");
	}
	printf(",\"n\":%llu,\"reps\":%d", (unsigned long long) n, reps);
	if (target > 0) {
		int met = other.rate > 0 && weir.rate / other.rate >= target;
		printf(",\"target_ratio\":%.2f,\"target_met\":%s", target,
		    met ? "true" : "false");
	}
	printf("}\n");
	fflush(stdout);
}

#endif /* WEIR_BENCH_ROUNDS_H */
