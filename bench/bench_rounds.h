/*
 * Interleaved rounds and the JSON line of a comparison, as core_bench
 * measures and prints them (docs/benchmarks.md, "How the benches
 * measure"): one untimed round, then the cases run round by round in
 * turn; each figure is the median with the fastest and slowest round.
 * Header-only, static functions; used by fanout_bench. core_bench keeps
 * its own copy of the same code (left alone while other work edits it).
 *
 * The including file defines WEIR_BENCH_BUILD ("app" or "lto", set by
 * bench/build_label.cmake) and BENCH_NAME (its name for messages).
 */
#ifndef WEIR_BENCH_ROUNDS_H
#define WEIR_BENCH_ROUNDS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

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

/* Figures from sorted t[reps], each the time of @p per units. */
static bench_fig
bench_fig_of(const uint64_t *t, int reps, uint64_t per)
{
	bench_fig fig;

	fig.ns   = (double) t[reps / 2] / (double) per;
	fig.rate = 1e9 / fig.ns;
	fig.min  = (double) t[0] / (double) per;
	fig.max  = (double) t[reps - 1] / (double) per;
	return (fig);
}

static void
bench_run_or_die(bench_case *c, uint64_t n, uint64_t *ns)
{
	if (c->fn(c->ctx, n, ns) != 0) {
		fprintf(stderr, "%s: %s failed\n", BENCH_NAME, c->what);
		exit(1);
	}
	if (*ns == 0) {
		*ns = 1;
	}
}

/*
 * Runs k cases of n events round by round in turn (a, b, c, a, b, ...)
 * after one untimed round, and keeps each case's median per unit, the
 * time divided by @p per (n, or n times the subscriptions). On a shared
 * VM the speed of cross-core traffic drifts in phases of seconds;
 * taking turns puts every case in every phase.
 */
static void
bench_interleaved(bench_case *cs, int k, uint64_t n, uint64_t per, int reps)
{
	uint64_t warm;

	for (int c = 0; c < k; c++) {
		bench_run_or_die(&cs[c], n, &warm);
	}
	for (int r = 0; r < reps; r++) {
		fprintf(stderr, "    round %d:", r + 1);
		for (int c = 0; c < k; c++) {
			bench_run_or_die(&cs[c], n, &cs[c].times[r]);
			fprintf(stderr, " %.1f",
			    (double) cs[c].times[r] / (double) per);
		}
		fprintf(stderr, "\n");
	}
	for (int c = 0; c < k; c++) {
		qsort(cs[c].times, (size_t) reps, sizeof(uint64_t),
		    bench_cmp_u64);
		cs[c].fig = bench_fig_of(cs[c].times, reps, per);
		fprintf(stderr,
		    "  %-32s %9.2f ns per unit  (rounds %.2f..%.2f)\n",
		    cs[c].what, cs[c].fig.ns, cs[c].fig.min, cs[c].fig.max);
	}
}

/*
 * Prints one comparison as core_bench does; ratio = weir's rate / the
 * peer's. target > 0 adds the goal and whether it is met.
 */
static void
bench_print(const char *name, bench_fig weir, const char *peer,
    bench_fig other, uint64_t n, int reps, double target)
{
	int met = other.rate > 0 && weir.rate / other.rate >= target;

	printf("{\"name\":\"%s\",\"build\":\"%s\",\"events_per_s\":%.0f,"
	       "\"ns_per_event\":%.2f,\"ns_min\":%.2f,\"ns_max\":%.2f,"
	       "\"peer\":\"%s\",\"peer_events_per_s\":%.0f,"
	       "\"peer_ns_per_event\":%.2f,\"peer_ns_min\":%.2f,"
	       "\"peer_ns_max\":%.2f,\"ratio\":%.3f,\"n\":%llu,\"reps\":%d",
	    name, WEIR_BENCH_BUILD, weir.rate, weir.ns, weir.min, weir.max,
	    peer, other.rate, other.ns, other.min, other.max,
	    weir.rate / other.rate, (unsigned long long) n, reps);
	if (target > 0) {
		printf(",\"target_ratio\":%.2f,\"target_met\":%s", target,
		    met ? "true" : "false");
	}
	printf("}\n");
	fflush(stdout);
}

#endif /* WEIR_BENCH_ROUNDS_H */
