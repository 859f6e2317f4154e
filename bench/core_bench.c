/*
 * core_bench: weir::core against its peers, measured in the same run.
 *
 * Prints one JSON line per case on stdout (diagnostics go to stderr):
 *   {"name":..., "events_per_s":..., "ns_per_event":..., "peer":...,
 *    "peer_events_per_s":..., "ratio":...}
 * where ratio = weir's throughput / the peer's. Every figure is the
 * median of --reps runs (default 3). See docs/benchmarks.md.
 *
 * Cases:
 *   emit_topic, emit_string   synchronous emit to one listener, on a
 *       pre-resolved topic and by string, against Node's EventEmitter
 *       (bench/node_emit.js) and a bare array of function pointers.
 *   publish_topic, publish_string   1 producer thread publishing 64-byte
 *       events, 1 loop thread dispatching them, first publish to last
 *       dispatch, against ZeroMQ inproc PUB/SUB and a mutex+condvar
 *       bounded queue of the same capacity.
 *   match_emit, match_publish   the same topic with 10 and with 100,000
 *       non-matching subscriptions (`other.<i>.x`): the ratio shows
 *       whether matching cost depends on them.
 */
#define _GNU_SOURCE /* CPU_SET, pthread_setaffinity_np */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weir/weir.h>

#define BENCH_NAME "core_bench"
#include "bench_rounds.h"
#include "peer_mutexq.h"
#include "peer_node.h"
#include "peer_spsc.h"
#include "peer_util.h"
#include "peer_zmq.h"

#define CROSS_CAPACITY 65536
#define MATCH_BATCH 1024
#define CROSS_BATCH 64 /* events per weir_publish_batch() call */

typedef struct bench_opts {
	uint64_t    emit_n;  /* synchronous emits per run */
	uint64_t    cross_n; /* cross-thread events per run */
	uint64_t    match_n; /* events per run of the matching cases */
	uint64_t    subs;    /* non-matching subscriptions, large case */
	int         reps;
	int         node;   /* run the Node.js peer */
	const char *only;   /* emit, cross or match; NULL: all */
	uint32_t    spin;   /* weir_loop_set_spin() of the cross cases, us */
	int64_t     gather; /* weir_loop_set_gather(), us; -1: default */
} bench_opts;

int bench_pin_cpus = 1; /* see peer_util.h */

/* One timed run of n events; returns 0 and the elapsed time in *ns. */
static void
bench_check(weir_err rv, const char *what)
{
	if (rv != WEIR_OK) {
		fprintf(
		    stderr, "core_bench: %s: %s\n", what, weir_strerror(rv));
		exit(1);
	}
}

/* ------------------------------------------------------------------ */
/* Synchronous emit and its floor                                     */
/* ------------------------------------------------------------------ */

/* Every synchronous handler, weir's and the floor's, does this: count
 * the call in a volatile, so no call can be optimised away. */
static volatile uint64_t bench_calls;

static weir_err
bench_count(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	(void) arg;
	bench_calls++;
	return (WEIR_OK);
}

/* The floor: a bare array of listeners, read through a volatile so the
 * compiler can neither hoist the load nor inline the call. */
static weir_handler volatile floor_listeners[1] = { bench_count };

typedef struct emit_ctx {
	weir_bus     *bus;
	weir_topic   *topic;
	unsigned char payload[BENCH_PAYLOAD];
} emit_ctx;

static int
emit_finish(uint64_t n, uint64_t t0, uint64_t *ns)
{
	*ns = bench_now_ns() - t0;
	if (bench_calls != n) {
		fprintf(stderr, "emit: %llu calls for %llu emits\n",
		    (unsigned long long) bench_calls, (unsigned long long) n);
		return (-1);
	}
	return (0);
}

static int
emit_topic_run(void *arg, uint64_t n, uint64_t *ns)
{
	emit_ctx *ec = arg;
	uint64_t  t0;

	bench_calls = 0;
	t0          = bench_now_ns();
	for (uint64_t i = 0; i < n; i++) {
		if (weir_emit_topic(ec->topic, ec->payload, BENCH_PAYLOAD,
		        NULL) != WEIR_OK) {
			return (-1);
		}
	}
	return (emit_finish(n, t0, ns));
}

/* @p n emits by string to @p topic: emit_string and match_emit. */
static int
emit_by_string(weir_bus *bus, const char *topic, const unsigned char *payload,
    uint64_t n, uint64_t *ns)
{
	uint64_t t0;

	bench_calls = 0;
	t0          = bench_now_ns();
	for (uint64_t i = 0; i < n; i++) {
		if (weir_emit(bus, topic, payload, BENCH_PAYLOAD, NULL) !=
		    WEIR_OK) {
			return (-1);
		}
	}
	return (emit_finish(n, t0, ns));
}

static int
emit_string_run(void *arg, uint64_t n, uint64_t *ns)
{
	emit_ctx *ec = arg;

	return (emit_by_string(ec->bus, "bench.emit", ec->payload, n, ns));
}

static int
floor_run(void *arg, uint64_t n, uint64_t *ns)
{
	emit_ctx *ec = arg;
	uint64_t  t0;

	bench_calls = 0;
	t0          = bench_now_ns();
	for (uint64_t i = 0; i < n; i++) {
		floor_listeners[0](
		    NULL, (const weir_event *) ec->payload, NULL);
	}
	return (emit_finish(n, t0, ns));
}

static int
node_round_run(void *arg, uint64_t n, uint64_t *ns)
{
	(void) n;
	return (peer_node_round(arg, ns, NULL));
}

static void
bench_emit(const bench_opts *o)
{
	emit_ctx   ec;
	bench_fig  topic, string, fptr, node = { 0, 0, 0, 0 };
	uint64_t   warm;
	peer_node *pn = o->node ? peer_node_open(o->emit_n) : NULL;

	memset(&ec, 0xab, sizeof(ec));
	bench_check(weir_bus_create(&ec.bus, NULL), "bus_create");
	bench_check(
	    weir_on(ec.bus, "bench.emit", bench_count, NULL, NULL, 0, NULL),
	    "on");
	bench_check(weir_topic_create(&ec.topic, ec.bus, "bench.emit"),
	    "topic_create");

	/* Warm caches and branch predictors, as node_emit.js warms V8. */
	warm = o->emit_n / 10 + 1;
	emit_topic_run(&ec, warm, &(uint64_t) { 0 });
	emit_string_run(&ec, warm, &(uint64_t) { 0 });
	floor_run(&ec, warm, &(uint64_t) { 0 });

	fprintf(stderr,
	    "emit (n=%llu; weir, floor, node: cases run in turn):\n",
	    (unsigned long long) o->emit_n);
	bench_case cs[4] = {
		{ .what  = "weir emit_topic",
		    .fn  = emit_topic_run,
		    .ctx = &ec },
		{ .what  = "weir emit (string)",
		    .fn  = emit_string_run,
		    .ctx = &ec },
		{ .what = "fnptr floor", .fn = floor_run, .ctx = &ec },
		{ .what  = "node EventEmitter",
		    .fn  = node_round_run,
		    .ctx = pn },
	};
	bench_interleaved(
	    cs, pn != NULL ? 4 : 3, o->emit_n, o->emit_n, o->reps);
	topic  = cs[0].fig;
	string = cs[1].fig;
	fptr   = cs[2].fig;
	if (pn != NULL) {
		node = cs[3].fig;
	}
	peer_node_close(pn);
	weir_topic_destroy(ec.topic);
	weir_bus_destroy(ec.bus);

	bench_print("emit_topic", topic, "node_eventemitter", node, o->emit_n,
	    o->reps, 1.5);
	bench_print(
	    "emit_topic", topic, "fnptr_floor", fptr, o->emit_n, o->reps, 0);
	bench_print("emit_string", string, "node_eventemitter", node,
	    o->emit_n, o->reps, 1.0);
	bench_print(
	    "emit_string", string, "fnptr_floor", fptr, o->emit_n, o->reps, 0);
}

/* ------------------------------------------------------------------ */
/* Cross-thread publish to dispatch                                   */
/* ------------------------------------------------------------------ */

typedef struct cross_ctx {
	weir_bus   *bus;
	weir_topic *topic;
	int         by_string;
	int         batch;  /* weir_publish_batch() of CROSS_BATCH */
	uint32_t    spin;   /* weir_loop_set_spin(), 0 by default */
	int64_t     gather; /* weir_loop_set_gather(), -1: default */
	uint64_t    n;
	uint64_t    got; /* loop thread only */
	uint64_t    sum;
	uint64_t    t_end;
	weir_err    run_rv;
} cross_ctx;

/* The subscription's handler: reads the payload, counts, and stops the
 * loop when the last event arrived. */
static weir_err
cross_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	cross_ctx           *cc = arg;
	size_t               len;
	const unsigned char *p = weir_event_payload(ev, &len);

	cc->sum += len == BENCH_PAYLOAD ? p[0] : 0;
	if (++cc->got == cc->n) {
		cc->t_end = bench_now_ns();
		weir_bus_stop(bus);
	}
	return (WEIR_OK);
}

static void *
cross_loop(void *arg)
{
	cross_ctx *cc = arg;

	cc->run_rv = weir_bus_run(cc->bus, WEIR_RUN_DEFAULT);
	return (NULL);
}

static weir_subscr *
cross_subscribe(
    cross_ctx *cc, const char *pattern, weir_handler fn, size_t capacity)
{
	weir_subscr_config *sc;
	weir_subscr        *sub;

	bench_check(weir_subscr_config_create(&sc), "subscr_config_create");
	bench_check(
	    weir_subscr_config_set_capacity(sc, capacity), "set_capacity");
	bench_check(weir_subscr_config_set_policy(sc, WEIR_POLICY_BLOCK, -1),
	    "set_policy");
	bench_check(weir_subscribe(&sub, cc->bus, pattern, fn, cc, NULL, sc),
	    "subscribe");
	weir_subscr_config_destroy(sc);
	return (sub);
}

/* Checks the subscription's counters: every event delivered, none
 * dropped, rejected, timed out or coalesced. */
static int
cross_verify(cross_ctx *cc, weir_subscr *sub)
{
	weir_subscr_stats st = WEIR_STRUCT_INIT(weir_subscr_stats);

	bench_check(weir_subscr_stats_get(sub, &st), "stats");
	if (cc->run_rv != WEIR_OK || cc->got != cc->n ||
	    cc->sum != cc->n * 0xab || st.delivered != cc->n ||
	    st.dropped + st.rejected + st.timed_out + st.coalesced != 0) {
		fprintf(stderr,
		    "publish: got %llu of %llu (delivered %llu, dropped %llu,"
		    " rejected %llu, timed out %llu), run: %s\n",
		    (unsigned long long) cc->got, (unsigned long long) cc->n,
		    (unsigned long long) st.delivered,
		    (unsigned long long) st.dropped,
		    (unsigned long long) st.rejected,
		    (unsigned long long) st.timed_out,
		    weir_strerror(cc->run_rv));
		return (-1);
	}
	return (0);
}

/* CROSS_BATCH events per call; every event must be accepted (BLOCK). */
static void
cross_publish_batches(cross_ctx *cc, const unsigned char *payload)
{
	weir_buf bufs[CROSS_BATCH];

	for (int i = 0; i < CROSS_BATCH; i++) {
		bufs[i].data = payload;
		bufs[i].len  = BENCH_PAYLOAD;
	}
	for (uint64_t i = 0; i < cc->n; i += CROSS_BATCH) {
		size_t k = cc->n - i < CROSS_BATCH ? (size_t) (cc->n - i)
		                                   : CROSS_BATCH;
		size_t accepted;
		bench_check(weir_publish_batch(cc->topic, bufs, k, &accepted),
		    "publish_batch");
		if (accepted != k) {
			fprintf(stderr, "core_bench: batch took %zu of %zu\n",
			    accepted, k);
			exit(1);
		}
	}
}

static void
cross_publish_all(cross_ctx *cc, const unsigned char *payload)
{
	if (cc->batch) {
		cross_publish_batches(cc, payload);
		return;
	}
	for (uint64_t i = 0; i < cc->n; i++) {
		weir_err rv = cc->by_string
		    ? weir_publish(cc->bus, "bench.cross", payload,
		          BENCH_PAYLOAD, 0, NULL)
		    : weir_publish_topic(cc->topic, payload, BENCH_PAYLOAD);
		bench_check(rv, "publish");
	}
}

/* One run: a fresh bus, its loop on a new thread, this thread publishes. */
static int
cross_run(void *arg, uint64_t n, uint64_t *ns)
{
	cross_ctx    *cc = arg;
	weir_subscr  *sub;
	pthread_t     loop_thr;
	unsigned char payload[BENCH_PAYLOAD];
	uint64_t      t0;
	int           rv;

	memset(payload, 0xab, sizeof(payload));
	cc->n   = n;
	cc->got = cc->sum = cc->t_end = 0;
	bench_check(weir_bus_create(&cc->bus, NULL), "bus_create");
	bench_check(weir_loop_set_spin(weir_bus_loop(cc->bus), cc->spin),
	    "loop_set_spin");
	if (cc->gather >= 0) {
		bench_check(weir_loop_set_gather(
		                weir_bus_loop(cc->bus), (uint32_t) cc->gather),
		    "loop_set_gather");
	}
	sub =
	    cross_subscribe(cc, "bench.cross", cross_handler, CROSS_CAPACITY);
	bench_check(weir_topic_create(&cc->topic, cc->bus, "bench.cross"),
	    "topic_create");
	pthread_create(&loop_thr, NULL, cross_loop, cc);
	bench_pin(loop_thr, 1);
	bench_pin(pthread_self(), 0);

	t0 = bench_now_ns();
	cross_publish_all(cc, payload);
	pthread_join(loop_thr, NULL);
	*ns = cc->t_end - t0;
	bench_unpin(pthread_self());

	rv = cross_verify(cc, sub);
	weir_topic_destroy(cc->topic);
	weir_unsubscribe(sub);
	weir_bus_destroy(cc->bus);
	return (rv);
}

static int
zmq_run(void *arg, uint64_t n, uint64_t *ns)
{
	(void) arg;
	return (peer_zmq_run(0, n, ns));
}

static int
zmq_push_run(void *arg, uint64_t n, uint64_t *ns)
{
	(void) arg;
	return (peer_zmq_run(1, n, ns));
}

static int
spsc_run(void *arg, uint64_t n, uint64_t *ns)
{
	(void) arg;
	return (peer_spsc_run(n, CROSS_CAPACITY, ns));
}

static int
mutexq_run(void *arg, uint64_t n, uint64_t *ns)
{
	(void) arg;
	return (peer_mutexq_run(n, CROSS_CAPACITY, ns));
}

static void
bench_cross(const bench_opts *o)
{
	cross_ctx cc_topic, cc_string, cc_batch;
	bench_fig topic, string, zmq, push, mutexq, spsc, batch;
	uint64_t  n = o->cross_n;

	memset(&cc_topic, 0, sizeof(cc_topic));
	cc_topic.spin       = o->spin;
	cc_topic.gather     = o->gather;
	cc_string           = cc_topic;
	cc_string.by_string = 1;
	cc_batch            = cc_topic;
	cc_batch.batch      = 1;
	fprintf(stderr,
	    "publish -> dispatch across threads (n=%llu, loop spin %u us, "
	    "gather %s, %s, cases run in turn):\n",
	    (unsigned long long) n, o->spin, o->gather < 0 ? "default" : "set",
	    bench_pin_cpus ? "producer on CPU 0, consumer on CPU 1"
	                   : "threads not pinned");
	bench_case cs[7] = {
		{ .what  = "weir publish_topic",
		    .fn  = cross_run,
		    .ctx = &cc_topic },
		{ .what  = "weir publish (string)",
		    .fn  = cross_run,
		    .ctx = &cc_string },
		{ .what = "zmq inproc PUB/SUB", .fn = zmq_run },
		{ .what = "zmq inproc PUSH/PULL", .fn = zmq_push_run },
		{ .what = "mutex+condvar queue", .fn = mutexq_run },
		{ .what = "bare SPSC ring (floor)", .fn = spsc_run },
		{ .what  = "weir publish_batch (64)",
		    .fn  = cross_run,
		    .ctx = &cc_batch },
	};
	bench_interleaved(cs, 7, n, n, o->reps);
	topic  = cs[0].fig;
	string = cs[1].fig;
	zmq    = cs[2].fig;
	push   = cs[3].fig;
	mutexq = cs[4].fig;
	spsc   = cs[5].fig;
	batch  = cs[6].fig;

	bench_print(
	    "publish_topic", topic, "zmq_inproc_pubsub", zmq, n, o->reps, 3.0);
	bench_print("publish_topic", topic, "zmq_inproc_pushpull", push, n,
	    o->reps, 4.0);
	bench_print(
	    "publish_topic", topic, "spsc_ring_floor", spsc, n, o->reps, 0);
	bench_print("publish_batch_64", batch, "spsc_ring_floor", spsc, n,
	    o->reps, 0.25);
	bench_print(
	    "publish_batch_64", batch, "publish_topic", topic, n, o->reps, 0);
	bench_print(
	    "publish_string", string, "publish_topic", topic, n, o->reps, 0.8);
	bench_print("publish_string", string, "zmq_inproc_pushpull", push, n,
	    o->reps, 0);
	bench_print("publish_topic", topic, "mutex_condvar_queue", mutexq, n,
	    o->reps, 1.5);
	bench_print("publish_string", string, "zmq_inproc_pubsub", zmq, n,
	    o->reps, 3.0);
	bench_print("publish_string", string, "mutex_condvar_queue", mutexq, n,
	    o->reps, 1.5);
}

/* ------------------------------------------------------------------ */
/* Matching cost against the number of non-matching subscriptions     */
/* ------------------------------------------------------------------ */

typedef struct match_ctx {
	weir_bus     *bus;
	uint64_t      got; /* match_publish's handler */
	unsigned char payload[BENCH_PAYLOAD];
} match_ctx;

static weir_err
match_handler(weir_bus *bus, const weir_event *ev, void *arg)
{
	match_ctx *mc = arg;

	(void) bus;
	(void) ev;
	mc->got++;
	return (WEIR_OK);
}

/* A bus with one listener and one subscription on bench.match, and
 * `subs` of each on other.<i>.x, which never match it. */
static void
match_setup(match_ctx *mc, uint64_t subs)
{
	weir_subscr_config *sc;
	weir_subscr        *sub; /* freed with the bus */
	char                pattern[64];
	uint64_t            t0 = bench_now_ns();

	bench_check(weir_bus_create(&mc->bus, NULL), "bus_create");
	bench_check(weir_subscr_config_create(&sc), "subscr_config_create");
	bench_check(weir_subscr_config_set_capacity(sc, 4), "set_capacity");
	for (uint64_t i = 0; i < subs; i++) {
		snprintf(pattern, sizeof(pattern), "other.%llu.x",
		    (unsigned long long) i);
		bench_check(weir_on(mc->bus, pattern, match_handler, mc, NULL,
		                0, NULL),
		    "on");
		bench_check(weir_subscribe(&sub, mc->bus, pattern,
		                match_handler, mc, NULL, sc),
		    "subscribe");
	}
	bench_check(weir_subscr_config_set_capacity(sc, 2 * MATCH_BATCH),
	    "set_capacity");
	bench_check(
	    weir_on(mc->bus, "bench.match", bench_count, NULL, NULL, 0, NULL),
	    "on");
	bench_check(weir_subscribe(&sub, mc->bus, "bench.match", match_handler,
	                mc, NULL, sc),
	    "subscribe");
	weir_subscr_config_destroy(sc);
	fprintf(stderr,
	    "  set up %llu non-matching listeners and "
	    "subscriptions in %.2f s\n",
	    (unsigned long long) subs, (double) (bench_now_ns() - t0) / 1e9);
}

static int
match_emit_run(void *arg, uint64_t n, uint64_t *ns)
{
	match_ctx *mc = arg;

	return (emit_by_string(mc->bus, "bench.match", mc->payload, n, ns));
}

/* Publishes by string in batches and drains each batch on this thread
 * with WEIR_RUN_NOWAIT: the cost of publish, match and dispatch. */
static int
match_publish_run(void *arg, uint64_t n, uint64_t *ns)
{
	match_ctx *mc = arg;
	uint64_t   t0, sent = 0;

	mc->got = 0;
	t0      = bench_now_ns();
	while (sent < n) {
		uint64_t batch =
		    n - sent < MATCH_BATCH ? n - sent : MATCH_BATCH;
		for (uint64_t i = 0; i < batch; i++) {
			bench_check(weir_publish(mc->bus, "bench.match",
			                mc->payload, BENCH_PAYLOAD, 0, NULL),
			    "publish");
		}
		sent += batch;
		while (mc->got < sent) {
			bench_check(
			    weir_bus_run(mc->bus, WEIR_RUN_NOWAIT), "run");
		}
	}
	*ns = bench_now_ns() - t0;
	return (mc->got == n ? 0 : -1);
}

static void
bench_match(const bench_opts *o)
{
	uint64_t  counts[2] = { 10, o->subs };
	bench_fig emit[2], publish[2];
	char      name[2][64], label[64];

	fprintf(stderr,
	    "matching with few and many non-matching "
	    "subscriptions (n=%llu):\n",
	    (unsigned long long) o->match_n);
	for (int k = 0; k < 2; k++) {
		match_ctx mc;
		memset(&mc, 0xab, sizeof(mc));
		match_setup(&mc, counts[k]);
		snprintf(label, sizeof(label), "emit, %llu others",
		    (unsigned long long) counts[k]);
		emit[k] = bench_median(
		    label, match_emit_run, &mc, o->match_n, o->reps);
		snprintf(label, sizeof(label), "publish, %llu others",
		    (unsigned long long) counts[k]);
		publish[k] = bench_median(
		    label, match_publish_run, &mc, o->match_n, o->reps);
		weir_bus_destroy(mc.bus);
	}
	for (int k = 0; k < 2; k++) {
		snprintf(name[k], sizeof(name[k]), "match_emit_%llu_others",
		    (unsigned long long) counts[k]);
	}
	bench_print(
	    name[1], emit[1], name[0], emit[0], o->match_n, o->reps, 0);
	for (int k = 0; k < 2; k++) {
		snprintf(name[k], sizeof(name[k]), "match_publish_%llu_others",
		    (unsigned long long) counts[k]);
	}
	bench_print(
	    name[1], publish[1], name[0], publish[0], o->match_n, o->reps, 0);
}

/* ------------------------------------------------------------------ */
/* Command line                                                       */
/* ------------------------------------------------------------------ */

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: core_bench [--smoke] [--emit N] [--cross N] [--match N]\n"
	    "                  [--subs N] [--reps R] [--no-node]\n"
	    "  --emit N   synchronous emits per run (default 20000000)\n"
	    "  --cross N  cross-thread events per run (default 2000000)\n"
	    "  --match N  events per run of the matching cases "
	    "(default 1000000)\n"
	    "  --subs N   non-matching subscriptions, large case "
	    "(default 100000)\n"
	    "  --reps R   runs per case, median reported (default 3)\n"
	    "  --no-node  skip the Node.js peer\n"
	    "  --only G   run one group only: emit, cross or match\n"
	    "  --spin US  the cross cases' loop busy-polls US microseconds\n"
	    "             before sleeping (weir_loop_set_spin; default 0)\n"
	    "  --gather US  the cross cases' loop waits US microseconds for "
	    "a\n"
	    "             batch (weir_loop_set_gather; default: the "
	    "library's)\n"
	    "  --no-pin   leave the cross cases' threads to the scheduler\n"
	    "             (default: producer on CPU 0, consumer on CPU 1)\n"
	    "  --smoke    tiny sizes, one run: checks that everything works\n"
	    "Environment: WEIR_NODE (node binary), WEIR_NODE_SCRIPT.\n");
}

/* A count from argv: digits only, at least @min. */
static uint64_t
parse_count_min(const char *s, uint64_t min)
{
	char              *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (*s < '0' || *s > '9' || *end != '\0' || v < min) {
		fprintf(stderr, "core_bench: bad count '%s'\n", s);
		usage(stderr);
		exit(2);
	}
	return ((uint64_t) v);
}

static uint64_t
parse_count(const char *s)
{
	return (parse_count_min(s, 1));
}

static void
parse_args(int argc, char **argv, bench_opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a   = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--smoke") == 0) {
			o->emit_n = o->cross_n = o->match_n = 20000;
			o->subs                             = 1000;
			o->reps                             = 1;
		} else if (strcmp(a, "--no-node") == 0) {
			o->node = 0;
		} else if (strcmp(a, "--no-pin") == 0) {
			bench_pin_cpus = 0;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			exit(0);
		} else if (val == NULL) {
			usage(stderr);
			exit(2);
		} else if (strcmp(a, "--spin") == 0) {
			o->spin = (uint32_t) parse_count_min(argv[++i], 0);
		} else if (strcmp(a, "--gather") == 0) {
			o->gather = (int64_t) parse_count_min(argv[++i], 0);
		} else if (strcmp(a, "--only") == 0) {
			o->only = argv[++i];
		} else if (strcmp(a, "--emit") == 0) {
			o->emit_n = parse_count(argv[++i]);
		} else if (strcmp(a, "--cross") == 0) {
			o->cross_n = parse_count(argv[++i]);
		} else if (strcmp(a, "--match") == 0) {
			o->match_n = parse_count(argv[++i]);
		} else if (strcmp(a, "--subs") == 0) {
			o->subs = parse_count(argv[++i]);
		} else if (strcmp(a, "--reps") == 0) {
			uint64_t r = parse_count(argv[++i]);
			o->reps =
			    r > BENCH_MAX_REPS ? BENCH_MAX_REPS : (int) r;
		} else {
			usage(stderr);
			exit(2);
		}
	}
}

int
main(int argc, char **argv)
{
	bench_opts o = { 20000000, 2000000, 1000000, 100000, 3, 1, NULL, 0,
		-1 };

	parse_args(argc, argv, &o);
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		bench_pin_cpus = 0;
	}
#ifndef __OPTIMIZE__
	fprintf(stderr,
	    "core_bench: WARNING: built without optimisation; "
	    "use -DCMAKE_BUILD_TYPE=Release for real figures\n");
#endif
	fprintf(stderr,
	    "core_bench: weir %d.%d.%d, loop backend %s, "
	    "libzmq %s, reps %d\n",
	    WEIR_VERSION_MAJOR, WEIR_VERSION_MINOR, WEIR_VERSION_PATCH,
	    weir_loop_backend(), peer_zmq_version(), o.reps);
	if (o.only == NULL || strcmp(o.only, "emit") == 0) {
		bench_emit(&o);
	}
	if (o.only == NULL || strcmp(o.only, "cross") == 0) {
		bench_cross(&o);
	}
	if (o.only == NULL || strcmp(o.only, "match") == 0) {
		bench_match(&o);
	}
	return (0);
}
