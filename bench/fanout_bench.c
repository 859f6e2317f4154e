/*
 * fanout_bench: the two cross-thread shapes of issue 13 item 4 beyond
 * one producer and one consumer, against their peers in the same run.
 *
 * fanout: 1 producer publishes 64-byte events by topic handle; --subs
 * subscriptions (default 4) each receive every event. What a weir user
 * writes for fan-out to parallel consumers: weir_bus_config_set_loops(
 * cfg, 4) and weir_bus_start(), the subscriptions spread over the loops
 * round-robin, one loop thread each (the headline, thread for thread
 * what the peer runs); set_loops(cfg, 0), one loop per online CPU; and
 * no loops, all on the default loop run by one application thread.
 * Peer: ZeroMQ inproc PUB -> --subs SUB sockets, each SUB in its own
 * thread. Figures per delivery: first publish to the last handler call
 * (the last receive) / (events x subs).
 *
 * mpsc: --producers threads (default 4), each with its own topic
 * handle, publish 64-byte events to 1 subscription on a loop thread.
 * Peer: a mutex+condvar queue with as many producers
 * (peer_mutexq_run_mp). Figures per event: the producers' common start
 * to the last handler call / events.
 *
 * No thread is pinned: with 5 threads on a 2-vCPU machine pinning would
 * choose the result. Output: one JSON line per comparison, as
 * core_bench prints them (bench_rounds.h, docs/benchmarks.md).
 */
#define _GNU_SOURCE /* pthread_barrier_t */

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weir/weir.h>

#define BENCH_NAME "fanout_bench"
#include "bench_rounds.h"
#include "peer_mutexq.h"
#include "peer_util.h"
#include "peer_zmq.h"
#include "peer_zmq_fan.h"

#define FAN_MAX 16
#define FAN_NO_LOOPS (-1) /* a bus without loop threads */

int bench_pin_cpus = 0; /* peer_util.h: never pinned here */

static int fan_diag; /* --diag: each weir run's loop counters on stderr */

/* Queue bound of every weir subscription and of the mutex queue (as
 * core_bench's cross cases); --capacity changes it. */
static size_t fan_capacity = 65536;

typedef struct fan_opts {
	uint64_t    fan_n;  /* events per fan-out run */
	uint64_t    mpsc_n; /* events per 4 -> 1 run, all producers */
	int         subs;
	int         producers;
	int         reps;
	const char *only;      /* fanout or mpsc; NULL: both */
	int         weir_only; /* weir's main case, once: for callgrind */
} fan_opts;

static void
fan_check(weir_err rv, const char *what)
{
	if (rv != WEIR_OK) {
		fprintf(
		    stderr, BENCH_NAME ": %s: %s\n", what, weir_strerror(rv));
		exit(1);
	}
}

/* ------------------------------------------------------------------ */
/* Counting handlers                                                  */
/* ------------------------------------------------------------------ */

/* One subscription's count, on its own line (the handlers of the
 * fan-out run on different threads). */
typedef struct fan_sink {
	_Alignas(64) uint64_t got;
	uint64_t        sum;
	uint64_t        n; /* events it must get */
	struct fan_run *run;
} fan_sink;

/* One run of either group: what the handlers share. */
typedef struct fan_run {
	weir_bus         *bus;
	weir_subscr      *sub[FAN_MAX];
	fan_sink          sink[FAN_MAX];
	int               k;    /* subscriptions */
	atomic_int        done; /* sinks that got all their events */
	_Atomic uint64_t  t_end;
	int               loops; /* FAN_NO_LOOPS, or set_loops()'s count */
	weir_err          run_rv;
	pthread_barrier_t start; /* mpsc: the producers' common start */
	bench_tuse use[2]; /* mpsc: [0] the producers, [1] the loop thread */
} fan_run;

/* Reads the payload, counts; the last event of the last sink to finish
 * takes the time and stops the bus. */
static weir_err
fan_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	fan_sink            *s = arg;
	size_t               len;
	const unsigned char *p = weir_event_payload(ev, &len);

	s->sum += len == BENCH_PAYLOAD ? p[0] : 0;
	if (++s->got == s->n &&
	    atomic_fetch_add(&s->run->done, 1) + 1 == s->run->k) {
		atomic_store(&s->run->t_end, bench_now_ns());
		weir_bus_stop(bus);
	}
	return (WEIR_OK);
}

/* A bus with @p loops (FAN_NO_LOOPS: only its default loop), and k
 * subscriptions on "bench.fan" of fan_capacity, BLOCK, which the bus
 * spreads over its loops. */
static void
fan_setup(fan_run *fr, int k, int loops, uint64_t n)
{
	weir_bus_config    *bc;
	weir_subscr_config *sc;

	fr->k = k;
	atomic_store(&fr->done, 0);
	atomic_store(&fr->t_end, 0);
	fan_check(weir_bus_config_create(&bc), "bus_config_create");
	fr->loops = loops;
	if (loops != FAN_NO_LOOPS) {
		fan_check(weir_bus_config_set_loops(bc, (size_t) loops),
		    "set_loops");
	}
	fan_check(weir_bus_create(&fr->bus, bc), "bus_create");
	weir_bus_config_destroy(bc);
	fan_check(weir_subscr_config_create(&sc), "subscr_config_create");
	fan_check(
	    weir_subscr_config_set_capacity(sc, fan_capacity), "set_capacity");
	fan_check(weir_subscr_config_set_policy(sc, WEIR_POLICY_BLOCK, -1),
	    "set_policy");
	for (int i = 0; i < k; i++) {
		fr->sink[i] = (fan_sink) { .n = n, .run = fr };
		fan_check(weir_subscribe(&fr->sub[i], fr->bus, "bench.fan",
		              fan_handler, &fr->sink[i], NULL, sc),
		    "subscribe");
	}
	weir_subscr_config_destroy(sc);
}

/* --diag: the counters that say where a run's time went: loop passes,
 * wake-ups by the wake fd, gathers, and the deepest queue (at the
 * capacity, the producer blocked). */
static void
fan_print_diag(fan_run *fr)
{
	weir_loop_stats sum = { 0 };
	size_t          nl  = weir_bus_loop_count(fr->bus);
	uint64_t        hw  = 0;

	for (size_t i = 0; i <= nl; i++) {
		weir_loop_stats ls = WEIR_STRUCT_INIT(weir_loop_stats);
		weir_loop      *l  = i < nl ? weir_bus_loop_at(fr->bus, i)
		                            : weir_bus_loop(fr->bus);
		fan_check(weir_loop_stats_get(l, &ls), "loop_stats");
		sum.passes += ls.passes;
		sum.wakeups += ls.wakeups;
		sum.gathers += ls.gathers;
	}
	for (int i = 0; i < fr->k; i++) {
		weir_subscr_stats st = WEIR_STRUCT_INIT(weir_subscr_stats);
		fan_check(weir_subscr_stats_get(fr->sub[i], &st), "stats");
		hw = st.high_water > hw ? st.high_water : hw;
	}
	fprintf(stderr,
	    "    diag: %llu passes, %llu wake-ups, %llu gathers, deepest "
	    "queue %llu\n",
	    (unsigned long long) sum.passes, (unsigned long long) sum.wakeups,
	    (unsigned long long) sum.gathers, (unsigned long long) hw);
}

/* --diag, 4 -> 1: what the producers and the consumer cost per event:
 * CPU, and switches per 1,000 events (voluntary: slept; involuntary:
 * preempted). */
static void
fan_print_use(const char *who, const bench_tuse *use, uint64_t n)
{
	const char *role[2] = { "producers", "consumer" };

	if (!fan_diag) {
		return;
	}
	for (int i = 0; i < 2; i++) {
		fprintf(stderr,
		    "    %s %s: %.1f ns CPU per event, switches per 1000 "
		    "events %.2f voluntary, %.2f involuntary\n",
		    who, role[i],
		    (double) atomic_load(&use[i].cpu_ns) / (double) n,
		    1000.0 * (double) atomic_load(&use[i].vcsw) / (double) n,
		    1000.0 * (double) atomic_load(&use[i].ivcsw) / (double) n);
	}
}

/* Every sink got its n events, each counted delivered by the bus, none
 * refused or dropped; then the bus goes. */
static int
fan_verify(fan_run *fr)
{
	int rv = fr->run_rv == WEIR_OK ? 0 : -1;

	if (fan_diag) {
		fan_print_diag(fr);
	}
	for (int i = 0; i < fr->k; i++) {
		weir_subscr_stats st = WEIR_STRUCT_INIT(weir_subscr_stats);
		fan_check(weir_subscr_stats_get(fr->sub[i], &st), "stats");
		if (fr->sink[i].got != fr->sink[i].n ||
		    fr->sink[i].sum != fr->sink[i].n * 0xab ||
		    st.delivered != fr->sink[i].n ||
		    st.dropped + st.rejected + st.timed_out != 0) {
			fprintf(stderr,
			    BENCH_NAME ": subscription %d got %llu of %llu\n",
			    i, (unsigned long long) fr->sink[i].got,
			    (unsigned long long) fr->sink[i].n);
			rv = -1;
		}
	}
	for (int i = 0; i < fr->k; i++) {
		weir_unsubscribe(fr->sub[i]);
	}
	weir_bus_destroy(fr->bus);
	return (rv);
}

static void *
fan_default_loop(void *arg)
{
	fan_run *fr = arg;

	fr->run_rv = weir_bus_run(fr->bus, WEIR_RUN_DEFAULT);
	bench_tuse_add(&fr->use[1]);
	return (NULL);
}

/* Starts the bus's loop threads, or one thread running its default
 * loop; fan_stop() waits for them after the last handler's stop. */
static void
fan_start(fan_run *fr, pthread_t *thr)
{
	if (fr->loops != FAN_NO_LOOPS) {
		fan_check(weir_bus_start(fr->bus), "bus_start");
	} else {
		pthread_create(thr, NULL, fan_default_loop, fr);
	}
}

static void
fan_stop(fan_run *fr, pthread_t thr)
{
	if (fr->loops != FAN_NO_LOOPS) {
		fr->run_rv = weir_bus_join(fr->bus);
	} else {
		pthread_join(thr, NULL);
	}
}

/* --weir-only: one run of weir's case, no rounds, no peers, nothing
 * printed on stdout: what callgrind counts is weir's work alone. */
static void
fan_once(bench_case *c, uint64_t n)
{
	uint64_t ns;

	bench_run_or_die(c->what, c->fn, c->ctx, n, &ns);
	fprintf(stderr, "  %s: one run, %.0f ns\n", c->what, (double) ns);
}

/* ------------------------------------------------------------------ */
/* Fan-out: 1 producer -> k subscriptions                             */
/* ------------------------------------------------------------------ */

static int
fan_weir_run(void *arg, uint64_t n, uint64_t *ns)
{
	fan_run      *cfg = arg;
	fan_run      *fr  = calloc(1, sizeof(*fr));
	weir_topic   *t;
	pthread_t     thr = 0;
	unsigned char payload[BENCH_PAYLOAD];
	uint64_t      t0;

	if (fr == NULL) {
		return (-1);
	}
	memset(payload, 0xab, sizeof(payload));
	fan_setup(fr, cfg->k, cfg->loops, n);
	fan_check(weir_topic_create(&t, fr->bus, "bench.fan"), "topic");
	fan_start(fr, &thr);
	t0 = bench_now_ns();
	for (uint64_t i = 0; i < n; i++) {
		fan_check(weir_publish_topic(t, payload, BENCH_PAYLOAD),
		    "publish_topic");
	}
	fan_stop(fr, thr);
	*ns = atomic_load(&fr->t_end) - t0;
	weir_topic_destroy(t);
	int rv = fan_verify(fr);
	free(fr);
	return (rv);
}

static int
fan_zmq_run(void *arg, uint64_t n, uint64_t *ns)
{
	return (peer_zmq_fan_run(*(int *) arg, n, ns));
}

static void
bench_fanout(const fan_opts *o)
{
	int     k     = o->subs;
	fan_run loops = { .k = k, .loops = k };
	fan_run core  = { .k = k, .loops = 0 };
	fan_run one   = { .k = k, .loops = FAN_NO_LOOPS };
	char    name[3][64], peer[64];

	fprintf(stderr,
	    "fan-out 1 -> %d (n=%llu events, %llu deliveries a run; "
	    "ns per delivery; cases in turn):\n",
	    k, (unsigned long long) o->fan_n,
	    (unsigned long long) o->fan_n * (uint64_t) k);
	bench_case cs[4] = {
		{ .what  = "weir, a loop thread each",
		    .fn  = fan_weir_run,
		    .ctx = &loops },
		{ .what  = "zmq PUB -> SUB threads",
		    .fn  = fan_zmq_run,
		    .ctx = &k },
		{ .what  = "weir, a loop per CPU",
		    .fn  = fan_weir_run,
		    .ctx = &core },
		{ .what  = "weir, one loop thread",
		    .fn  = fan_weir_run,
		    .ctx = &one },
	};
	if (o->weir_only) {
		fan_once(&cs[0], o->fan_n);
		return;
	}
	bench_interleaved(cs, 4, o->fan_n, o->fan_n * (uint64_t) k, o->reps);
	snprintf(name[0], sizeof(name[0]), "fanout_%d_loops", k);
	snprintf(name[1], sizeof(name[1]), "fanout_%d_loop_per_cpu", k);
	snprintf(name[2], sizeof(name[2]), "fanout_%d_one_loop", k);
	snprintf(peer, sizeof(peer), "zmq_inproc_pub_%d_sub", k);
	bench_print(name[0], cs[0].fig, peer, cs[1].fig, o->fan_n, o->reps,
	    k == 4 ? 3.0 : 0);
	bench_print(name[1], cs[2].fig, peer, cs[1].fig, o->fan_n, o->reps, 0);
	bench_print(name[2], cs[3].fig, peer, cs[1].fig, o->fan_n, o->reps, 0);
}

/* ------------------------------------------------------------------ */
/* Many producers -> 1 subscription                                   */
/* ------------------------------------------------------------------ */

typedef struct mp_producer {
	fan_run *fr;
	uint64_t n;
} mp_producer;

/* A producer with its own topic handle (a handle is one thread's). */
static void *
mp_produce(void *arg)
{
	mp_producer  *p = arg;
	weir_topic   *t;
	unsigned char payload[BENCH_PAYLOAD];

	memset(payload, 0xab, sizeof(payload));
	fan_check(weir_topic_create(&t, p->fr->bus, "bench.fan"), "topic");
	pthread_barrier_wait(&p->fr->start);
	for (uint64_t i = 0; i < p->n; i++) {
		fan_check(weir_publish_topic(t, payload, BENCH_PAYLOAD),
		    "publish_topic");
	}
	weir_topic_destroy(t);
	bench_tuse_add(&p->fr->use[0]);
	return (NULL);
}

static int
mp_weir_run(void *arg, uint64_t n, uint64_t *ns)
{
	int         np = *(int *) arg;
	fan_run    *fr = calloc(1, sizeof(*fr));
	mp_producer p[FAN_MAX];
	pthread_t   thr[FAN_MAX], loop_thr = 0;
	uint64_t    t0;

	if (fr == NULL) {
		return (-1);
	}
	fan_setup(fr, 1, FAN_NO_LOOPS, n);
	pthread_barrier_init(&fr->start, NULL, (unsigned) np + 1);
	for (int i = 0; i < np; i++) {
		p[i].fr = fr;
		p[i].n =
		    n / (uint64_t) np + ((uint64_t) i < n % (uint64_t) np);
		pthread_create(&thr[i], NULL, mp_produce, &p[i]);
	}
	fan_start(fr, &loop_thr);
	pthread_barrier_wait(&fr->start);
	t0 = bench_now_ns();
	for (int i = 0; i < np; i++) {
		pthread_join(thr[i], NULL);
	}
	fan_stop(fr, loop_thr);
	*ns = atomic_load(&fr->t_end) - t0;
	pthread_barrier_destroy(&fr->start);
	fan_print_use("weir", fr->use, n);
	int rv = fan_verify(fr);
	free(fr);
	return (rv);
}

static int
mp_mutexq_run(void *arg, uint64_t n, uint64_t *ns)
{
	bench_tuse use[2] = { 0 };
	int rv = peer_mutexq_run_mp(*(int *) arg, n, fan_capacity, ns, use);

	fan_print_use("mutex queue", use, n);
	return (rv);
}

static void
bench_mpsc(const fan_opts *o)
{
	int  np = o->producers;
	char name[64], peer[64];

	fprintf(stderr,
	    "%d producers -> 1 subscription (n=%llu events a run; ns per "
	    "event; cases in turn):\n",
	    np, (unsigned long long) o->mpsc_n);
	bench_case cs[2] = {
		{ .what  = "weir publish_topic",
		    .fn  = mp_weir_run,
		    .ctx = &np },
		{ .what  = "mutex+condvar queue",
		    .fn  = mp_mutexq_run,
		    .ctx = &np },
	};
	if (o->weir_only) {
		fan_once(&cs[0], o->mpsc_n);
		return;
	}
	bench_interleaved(cs, 2, o->mpsc_n, o->mpsc_n, o->reps);
	snprintf(name, sizeof(name), "mpsc_%d_to_1", np);
	snprintf(peer, sizeof(peer), "mutex_condvar_queue_%d_producers", np);
	bench_print(name, cs[0].fig, peer, cs[1].fig, o->mpsc_n, o->reps,
	    np == 4 ? 3.0 : 0);
}

/* ------------------------------------------------------------------ */
/* Command line                                                       */
/* ------------------------------------------------------------------ */

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: fanout_bench [--smoke] [--fan N] [--mpsc N] [--subs K]\n"
	    "                    [--producers P] [--reps R] [--only G]\n"
	    "  --fan N        events per fan-out run (default 500000)\n"
	    "  --mpsc N       events per many -> 1 run (default 2000000)\n"
	    "  --subs K       fan-out subscriptions / SUB sockets "
	    "(default 4)\n"
	    "  --producers P  producer threads of mpsc (default 4)\n"
	    "  --reps R       timed rounds, median reported (default 5)\n"
	    "  --only G       fanout or mpsc\n"
	    "  --weir-only    one run of weir's case of each group, no "
	    "peers,\n"
	    "                 no JSON (for callgrind's instruction counts)\n"
	    "  --diag         each weir run's loop counters on stderr, and\n"
	    "                 4 -> 1: CPU and switches per event by role\n"
	    "  --capacity C   queue bound, weir's and the mutex queue's "
	    "(default 65536)\n"
	    "  --smoke        tiny sizes, one round\n");
}

static uint64_t
parse_count(const char *s, uint64_t max)
{
	char              *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (*s < '0' || *s > '9' || *end != '\0' || v < 1 || v > max) {
		fprintf(stderr, BENCH_NAME ": bad count '%s'\n", s);
		usage(stderr);
		exit(2);
	}
	return ((uint64_t) v);
}

static void
parse_args(int argc, char **argv, fan_opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a   = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--smoke") == 0) {
			o->fan_n = o->mpsc_n = 20000;
			o->reps              = 1;
		} else if (strcmp(a, "--diag") == 0) {
			fan_diag = 1;
		} else if (strcmp(a, "--weir-only") == 0) {
			o->weir_only = 1;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			exit(0);
		} else if (val == NULL) {
			usage(stderr);
			exit(2);
		} else if (strcmp(a, "--fan") == 0) {
			o->fan_n = parse_count(argv[++i], UINT64_MAX);
		} else if (strcmp(a, "--mpsc") == 0) {
			o->mpsc_n = parse_count(argv[++i], UINT64_MAX);
		} else if (strcmp(a, "--subs") == 0) {
			o->subs = (int) parse_count(argv[++i], FAN_MAX);
		} else if (strcmp(a, "--producers") == 0) {
			o->producers = (int) parse_count(argv[++i], FAN_MAX);
		} else if (strcmp(a, "--capacity") == 0) {
			fan_capacity =
			    (size_t) parse_count(argv[++i], 1u << 24);
		} else if (strcmp(a, "--reps") == 0) {
			o->reps = (int) parse_count(argv[++i], BENCH_MAX_REPS);
		} else if (strcmp(a, "--only") == 0) {
			o->only = argv[++i];
		} else {
			usage(stderr);
			exit(2);
		}
	}
}

int
main(int argc, char **argv)
{
	fan_opts o = { 500000, 2000000, 4, 4, 5, NULL, 0 };

	parse_args(argc, argv, &o);
#ifndef __OPTIMIZE__
	fprintf(stderr,
	    BENCH_NAME ": WARNING: built without optimisation; "
	               "use -DCMAKE_BUILD_TYPE=Release\n");
#endif
	fprintf(stderr,
	    BENCH_NAME ": weir %d.%d.%d, libzmq %s, %ld CPUs, reps %d\n",
	    WEIR_VERSION_MAJOR, WEIR_VERSION_MINOR, WEIR_VERSION_PATCH,
	    peer_zmq_version(), sysconf(_SC_NPROCESSORS_ONLN), o.reps);
	if (o.only == NULL || strcmp(o.only, "fanout") == 0) {
		bench_fanout(&o);
	}
	if (o.only == NULL || strcmp(o.only, "mpsc") == 0) {
		bench_mpsc(&o);
	}
	return (0);
}
