/*
 * bridge_bench: weir::bridge against bare broker clients, in one run,
 * on the same brokers (issue 9, item 10). See docs/benchmarks.md.
 *
 *   throughput: N events published on the bus (topic matched by a
 *     route, key choice "key"), appended by the bridge to a store with
 *     FULL durability on disk and relayed to the broker; timed from the
 *     first publish until the route's `acked` counter reaches N.
 *     Peers: a bare idempotent rd_kafka_producev loop with the same
 *     headers (bench/peer_kafka.c), and bare js_PublishMsgAsync with the
 *     same Nats-Msg-Id and headers (bench/peer_jetstream.c), each waiting
 *     for all its acknowledgements.
 *   latency: one event at a time, spaced by --gap-ms, publish to broker
 *     acknowledgement, p50 / p99, weir and peer alternating event by
 *     event.
 *
 * Rounds interleave in ABBA order (weir, peer, peer, weir, ...) after
 * one untimed warm-up round of each, each round after the last one's
 * tail has settled (--settle-ms); figures are medians with min and max,
 * never best-of. One JSON line per comparison on stdout, each round on
 * stderr.
 *
 * Brokers: WEIR_KAFKA_BOOTSTRAP / WEIR_NATS_URL from the environment,
 * else the source tree's build/brokers/env. A broker that is not there
 * is skipped with a note on stderr (a failure with CI=true). Topic and
 * stream names carry a random suffix and are deleted at the end.
 *
 * Usage: bridge_bench [--n N] [--reps R] [--lat N] [--gap-ms G]
 *        [--keys K] [--settle-ms S] [--dir DIR] [--only kafka|nats]
 *        [--set KEY=VALUE]...
 *        [--quick]
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#ifndef WEIR_BENCH_BUILD
#define WEIR_BENCH_BUILD "app" /* set by bench/build_label.cmake */
#endif

#include <weir/bridge.h>
#include <weir/store.h>
#include <weir/weir.h>
#ifdef WEIR_BENCH_KAFKA
#include <weir/kafka.h>

#include "peer_kafka.h"
#endif
#ifdef WEIR_BENCH_NATS
#include <weir/nats.h>

#include "peer_jetstream.h"
#endif

#include "peer_bridge.h"
#include "peer_util.h"

#define TMPFS_MAGIC 0x01021994
#define MAX_SETS 16
#define WAIT_DEADLINE_NS (120 * UINT64_C(1000000000))
/* How often a throughput round reads the route's stats while it waits
 * for the acks: at 100 us the waiting thread's wake-ups alone cost
 * about 1 us of CPU per event on the loaded 2-core machine, charged to
 * weir; 1 ms adds at most 1 ms to a round that takes most of a second. */
#define WSIDE_POLL_US 1000

typedef struct opts {
	uint64_t    n;         /* events per throughput round */
	int         reps;      /* timed rounds per side */
	uint64_t    lat;       /* events of the latency run, per side */
	uint64_t    gap_ms;    /* between latency events */
	uint64_t    keys;      /* distinct keys */
	uint64_t    settle_ms; /* quiet before each throughput round */
	const char *dir;
	const char *only;
	const char *sets[MAX_SETS]; /* extra bridge config, KEY=VALUE */
	int         nsets;
	char        suffix[24];
} opts;

/* The weir side: a bus, a FULL-durability store and one route. */
typedef struct wside {
	weir_bus    *bus;
	weir_store  *st;
	weir_bridge *br;
	char         dir[520];
	char         path[600];
	uint64_t     keys;
	uint64_t     made;
	char         payload[BRIDGE_PAYLOAD];
} wside;

/* One broker: how to open the weir route and run the peer. */
typedef struct broker {
	const char *name; /* "kafka", "jetstream" */
	const char *peer_name;
	void       *peer;
	int (*peer_run)(void *peer, uint64_t n, uint64_t *ns);
	int (*peer_one)(void *peer, uint64_t *ns);
	wside w;
} broker;

static void
die(const char *what, const char *detail)
{
	fprintf(stderr, "bridge_bench: %s: %s\n", what, detail);
	exit(1);
}

/* ---- the weir side ------------------------------------------------- */

static void
wside_store(wside *w, const opts *o)
{
	weir_store_config *cfg;
	char               msg[256];
	snprintf(
	    w->dir, sizeof(w->dir), "%s/weir-bridge-bench-XXXXXX", o->dir);
	if (mkdtemp(w->dir) == NULL) {
		die("mkdtemp", w->dir);
	}
	snprintf(w->path, sizeof(w->path), "%s/bridge.db", w->dir);
	weir_store_config_create(&cfg);
	weir_store_config_set_durability(cfg, WEIR_STORE_DURABILITY_FULL);
	if (weir_store_open(&w->st, w->path, cfg, msg, sizeof(msg)) !=
	    WEIR_OK) {
		die("store", msg);
	}
	weir_store_config_destroy(cfg);
}

static void
wside_config(
    weir_bridge_config *cfg, const opts *o, const char *key, const char *value)
{
	weir_bridge_config_set_str(cfg, "bridge.source", BRIDGE_SOURCE);
	if (weir_bridge_config_set_str(cfg, key, value) != WEIR_OK) {
		die("config", key);
	}
	for (int i = 0; i < o->nsets; i++) {
		char  kv[256];
		char *eq;
		snprintf(kv, sizeof(kv), "%s", o->sets[i]);
		if ((eq = strchr(kv, '=')) == NULL) {
			die("--set needs KEY=VALUE", kv);
		}
		*eq = '\0';
		if (weir_bridge_config_set_str(cfg, kv, eq + 1) != WEIR_OK) {
			die("--set: refused", kv);
		}
	}
}

/* Opens bus, store and bridge with one route "bench" of @p ops to
 * @p dest, the broker reached through config @p key = @p value. */
static void
wside_open(wside *w, const opts *o, const weir_backend_ops *ops,
    const char *key, const char *value, const char *dest)
{
	weir_bridge_config *cfg;
	w->keys = o->keys;
	memset(w->payload, 'p', sizeof(w->payload));
	wside_store(w, o);
	if (weir_bus_create(&w->bus, NULL) != WEIR_OK) {
		die("bus", "create");
	}
	weir_bridge_config_create(&cfg);
	wside_config(cfg, o, key, value);
	if (weir_bridge_create(&w->br, w->bus, w->st, cfg) != WEIR_OK) {
		die("bridge", "create (a bridge.* value out of range?)");
	}
	weir_bridge_config_destroy(cfg);
	if (weir_bridge_register(w->br, ops) != WEIR_OK ||
	    weir_bridge_route_add(w->br, "bench", "bench.>", ops->scheme, dest,
	        "key", NULL) != WEIR_OK ||
	    weir_bridge_start(w->br) != WEIR_OK) {
		die("bridge", weir_bridge_errmsg(w->br));
	}
}

static void
wside_close(wside *w)
{
	char p[700];
	weir_bridge_destroy(w->br);
	weir_bus_destroy(w->bus);
	weir_store_destroy(w->st);
	unlink(w->path);
	snprintf(p, sizeof(p), "%s-wal", w->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", w->path);
	unlink(p);
	rmdir(w->dir);
}

static weir_bridge_route_stats
wside_stats(wside *w)
{
	weir_bridge_route_stats s = WEIR_STRUCT_INIT(weir_bridge_route_stats);
	weir_bridge_route_stats_get(w->br, "bench", &s);
	return s;
}

/* Publishes the next event: what an application does per event. */
static void
wside_publish(wside *w)
{
	char            key[24];
	weir_event     *ev;
	weir_header     h    = { "traceparent", BRIDGE_TRACEPARENT,
		       sizeof(BRIDGE_TRACEPARENT) - 1 };
	weir_event_init init = WEIR_STRUCT_INIT(weir_event_init);
	init.topic           = BRIDGE_TOPIC;
	init.key             = key;
	init.key_len         = bridge_key(key, w->made++, w->keys);
	init.payload         = w->payload;
	init.payload_len     = sizeof(w->payload);
	init.headers         = &h;
	init.header_count    = 1;
	if (weir_event_new(&ev, &init) != WEIR_OK ||
	    weir_publish_event(w->bus, ev) != WEIR_OK) {
		die("publish", "refused");
	}
	weir_event_release(ev);
}

/*
 * Waits until the route's `acked` reaches @p want. The bridge offers no
 * completion callback to an application, so this polls its stats (the
 * public surface) every @p poll_us; a dead-lettered event is a failure.
 */
static int
wside_wait(wside *w, uint64_t want, uint64_t poll_us, uint64_t t0)
{
	struct timespec ts = { 0, (long) poll_us * 1000 };
	for (;;) {
		weir_bridge_route_stats s = wside_stats(w);
		if (s.dead > 0) {
			fprintf(stderr, "bridge_bench: %llu dead-lettered\n",
			    (unsigned long long) s.dead);
			return -1;
		}
		if (s.acked >= want) {
			return 0;
		}
		if (bench_now_ns() - t0 > WAIT_DEADLINE_NS) {
			fprintf(stderr, "bridge_bench: acked %llu of %llu\n",
			    (unsigned long long) s.acked,
			    (unsigned long long) want);
			return -1;
		}
		nanosleep(&ts, NULL);
	}
}

static int
wside_run(wside *w, uint64_t n, uint64_t *ns, uint64_t poll_us)
{
	uint64_t want = wside_stats(w).acked + n;
	uint64_t t0   = bench_now_ns();
	for (uint64_t i = 0; i < n; i++) {
		wside_publish(w);
	}
	int rv = wside_wait(w, want, poll_us, t0);
	*ns    = bench_now_ns() - t0;
	return rv;
}

/* CPU time (user + system) of the whole process so far, in ns: the
 * bus, the bridge's threads, librdkafka's and cnats's threads. */
static uint64_t
cpu_ns(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ((uint64_t) ru.ru_utime.tv_sec +
	           (uint64_t) ru.ru_stime.tv_sec) *
	    1000000000u +
	    ((uint64_t) ru.ru_utime.tv_usec + (uint64_t) ru.ru_stime.tv_usec) *
	    1000u;
}

/*
 * CPU time of the process's threads named "rdk:*" (librdkafka's own:
 * its broker threads serve the network; see docs/benchmarks.md), in ns,
 * from /proc/self/task/<tid>/schedstat; 0 where that is missing. The
 * rest of cpu_ns() is weir's threads and the application's.
 */
static uint64_t
client_cpu_ns(void)
{
	DIR           *d = opendir("/proc/self/task");
	struct dirent *e;
	uint64_t       sum = 0;
	while (d != NULL && (e = readdir(d)) != NULL) {
		char               path[300], comm[32] = "";
		unsigned long long run = 0;
		FILE              *f;
		snprintf(
		    path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(comm, sizeof(comm), f) == NULL)
			comm[0] = '\0';
		fclose(f);
		if (strncmp(comm, "rdk:", 4) != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/schedstat",
		    e->d_name);
		if ((f = fopen(path, "r")) != NULL) {
			if (fscanf(f, "%llu", &run) == 1)
				sum += run;
			fclose(f);
		}
	}
	if (d != NULL)
		closedir(d);
	return sum;
}

/* ---- figures -------------------------------------------------------- */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;
	return (x > y) - (x < y);
}

/* Sorts @p v and returns its median (min and max in v[0], v[n-1]). */
static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The value below which @p q of the sorted @p v lie (nearest rank). */
static double
quantile(const double *v, size_t n, double q)
{
	size_t i = (size_t) (q * (double) n + 0.999999);
	return v[i == 0 ? 0 : (i > n ? n - 1 : i - 1)];
}

static void
report_throughput(const broker *b, const opts *o, double *w, double *p,
    double *wc, double *pc, double *wk, double *pk)
{
	size_t r = (size_t) o->reps;
	double ratio[64], cpu_ratio[64];
	for (size_t i = 0; i < r; i++) {
		ratio[i]     = w[i] / p[i]; /* the round's own pair */
		cpu_ratio[i] = pc[i] / wc[i];
	}
	/* CPU per event moves far less with the machine's load than the
	 * rates do: on a CPU-bound machine the rate ratio tends to it. */
	double crm = median(cpu_ratio, r);
	double wm = median(w, r), pm = median(p, r), rm = wm / pm;
	double wcm = median(wc, r), pcm = median(pc, r);
	double wkm = median(wk, r), pkm = median(pk, r);
	median(ratio, r);
	printf("{\"name\":\"bridge_%s_throughput\","
	       "\"build\":\"" WEIR_BENCH_BUILD "\",\"events_per_s\":%.0f,"
	       "\"events_per_s_min\":%.0f,\"events_per_s_max\":%.0f,"
	       "\"ns_per_event\":%.0f,\"peer\":\"%s\","
	       "\"peer_events_per_s\":%.0f,\"peer_events_per_s_min\":%.0f,"
	       "\"peer_events_per_s_max\":%.0f,\"ratio\":%.3f,"
	       "\"ratio_min\":%.3f,\"ratio_max\":%.3f,"
	       "\"cpu_ns_per_event\":%.0f,\"peer_cpu_ns_per_event\":%.0f,"
	       "\"client_cpu_ns_per_event\":%.0f,"
	       "\"peer_client_cpu_ns_per_event\":%.0f,"
	       "\"cpu_ratio\":%.3f,\"n\":%llu,"
	       "\"reps\":%d,\"durability\":\"full\",\"target_ratio\":0.8,"
	       "\"target_met\":%s}\n",
	    b->name, wm, w[0], w[r - 1], 1e9 / wm, b->peer_name, pm, p[0],
	    p[r - 1], rm, ratio[0], ratio[r - 1], wcm, pcm, wkm, pkm, crm,
	    (unsigned long long) o->n, o->reps, rm >= 0.8 ? "true" : "false");
	fflush(stdout);
}

static void
report_latency(const broker *b, const opts *o, double *w, double *p)
{
	size_t n = (size_t) o->lat;
	median(w, n);
	median(p, n);
	printf("{\"name\":\"bridge_%s_latency\","
	       "\"build\":\"" WEIR_BENCH_BUILD "\",\"p50_us\":%.0f,"
	       "\"p99_us\":%.0f,\"max_us\":%.0f,\"peer\":\"%s\","
	       "\"peer_p50_us\":%.0f,\"peer_p99_us\":%.0f,"
	       "\"peer_max_us\":%.0f,\"n\":%llu,\"gap_ms\":%llu}\n",
	    b->name, quantile(w, n, 0.5), quantile(w, n, 0.99), w[n - 1],
	    b->peer_name, quantile(p, n, 0.5), quantile(p, n, 0.99), p[n - 1],
	    (unsigned long long) n, (unsigned long long) o->gap_ms);
	fflush(stdout);
}

/* The 1-minute load average (the machine is shared). */
static double
load1(void)
{
	double l[1] = { 0 };
	return getloadavg(l, 1) == 1 ? l[0] : -1;
}

/* ---- the driver ------------------------------------------------------ */

/*
 * Lets the previous round's tail finish before the next round starts:
 * the weir route's backlog emptied and its cursor written (the relay's
 * last store transaction), then @p settle_ms of quiet for what runs
 * after an acknowledgement (librdkafka's and cnats's threads, the
 * brokers' own work on the shared machine). Without it a round could
 * start beside the last one's leftovers and be charged for them.
 */
static void
settle(wside *w, uint64_t settle_ms, uint64_t t0)
{
	struct timespec ts = { 0, 1000000L };
	for (;;) {
		weir_bridge_route_stats s = wside_stats(w);
		/* backlog 0: the cursor is written (the relay writes it
		 * before the backlog drops) */
		if (s.backlog == 0 || bench_now_ns() - t0 > WAIT_DEADLINE_NS) {
			break;
		}
		nanosleep(&ts, NULL);
	}
	ts.tv_sec  = (time_t) (settle_ms / 1000);
	ts.tv_nsec = (long) (settle_ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

/* One timed round of one side: events/s, CPU and librdkafka's CPU per
 * event into @p ev, @p cpu, @p rdk. */
static void
run_side(
    broker *b, const opts *o, int peer, double *ev, double *cpu, double *rdk)
{
	uint64_t ns;
	settle(&b->w, o->settle_ms, bench_now_ns());
	uint64_t c0 = cpu_ns(), k0 = client_cpu_ns();
	int      rv = peer ? b->peer_run(b->peer, o->n, &ns)
	                   : wside_run(&b->w, o->n, &ns, WSIDE_POLL_US);
	if (rv != 0) {
		die(b->name, peer ? "peer round failed" : "weir round failed");
	}
	*ev  = (double) o->n * 1e9 / (double) ns;
	*cpu = (double) (cpu_ns() - c0) / (double) o->n;
	*rdk = (double) (client_cpu_ns() - k0) / (double) o->n;
}

/*
 * The rounds go weir, peer, peer, weir, weir, peer, ... (ABBA): each
 * side goes first in half the pairs, so neither always follows the
 * other's tail, and a drift over the run (the topic or stream, the
 * store, the machine's load) falls on both sides alike.
 */
static void
run_throughput(broker *b, const opts *o)
{
	double   w[64], p[64], wc[64], pc[64], wk[64], pk[64];
	uint64_t ns, warm = o->n / 10 > 100 ? o->n / 10 : 100;
	if (wside_run(&b->w, warm, &ns, WSIDE_POLL_US) != 0 ||
	    b->peer_run(b->peer, warm, &ns) != 0) {
		die(b->name, "warm-up failed");
	}
	fprintf(stderr, "%s throughput (events/s, weir / peer):\n", b->name);
	for (int r = 0; r < o->reps; r++) {
		int peer_first = r % 2;
		for (int k = 0; k < 2; k++) {
			if (k == peer_first) {
				run_side(b, o, 0, &w[r], &wc[r], &wk[r]);
			} else {
				run_side(b, o, 1, &p[r], &pc[r], &pk[r]);
			}
		}
		fprintf(stderr,
		    "  round %d%s: %9.0f / %9.0f  (%.2f)  cpu %5.1f / %5.1f "
		    "us/event (librdkafka threads %4.1f / %4.1f), load %.2f\n",
		    r + 1, peer_first ? " (peer first)" : "", w[r], p[r],
		    w[r] / p[r], wc[r] / 1e3, pc[r] / 1e3, wk[r] / 1e3,
		    pk[r] / 1e3, load1());
	}
	report_throughput(b, o, w, p, wc, pc, wk, pk);
}

static void
run_latency(broker *b, const opts *o)
{
	double         *w   = calloc(o->lat, sizeof(double));
	double         *p   = calloc(o->lat, sizeof(double));
	struct timespec gap = { (time_t) (o->gap_ms / 1000),
		(long) (o->gap_ms % 1000) * 1000000L };
	uint64_t        ns;
	if (w == NULL || p == NULL) {
		die("latency", "out of memory");
	}
	for (uint64_t i = 0; i < o->lat; i++) {
		if (wside_run(&b->w, 1, &ns, 10) != 0) {
			die(b->name, "weir latency event failed");
		}
		w[i] = (double) ns / 1e3;
		nanosleep(&gap, NULL); /* the low rate itself, not a wait */
		if (b->peer_one(b->peer, &ns) != 0) {
			die(b->name, "peer latency event failed");
		}
		p[i] = (double) ns / 1e3;
		nanosleep(&gap, NULL);
	}
	report_latency(b, o, w, p);
	free(w);
	free(p);
}

/* ---- brokers ----------------------------------------------------------- */

/* @p var from the environment, else from build/brokers/env. */
static const char *
broker_env(const char *var, char *buf, size_t cap)
{
	const char *env = getenv(var);
	char        line[512];
	size_t      n = strlen(var);
	FILE       *f;
	if (env != NULL && env[0] != '\0') {
		return env;
	}
	buf[0] = '\0';
	if ((f = fopen(WEIR_BENCH_SOURCE_DIR "/../build/brokers/env", "r")) ==
	    NULL) {
		return NULL;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, var, n) == 0 && line[n] == '=') {
			snprintf(buf, cap, "%s", line + n + 1);
			buf[strcspn(buf, "\r\n")] = '\0';
		}
	}
	fclose(f);
	return buf[0] ? buf : NULL;
}

/* No broker: a note, or a failure with CI=true. */
static void
broker_missing(const char *what, const char *var)
{
	const char *ci = getenv("CI");
	fprintf(stderr,
	    "bridge_bench: %s: no %s (scripts/brokers.sh start)%s\n", what,
	    var,
	    ci && strcmp(ci, "true") == 0 ? "; CI=true: failing"
	                                  : ", skipped");
	if (ci && strcmp(ci, "true") == 0) {
		exit(1);
	}
}

static void
broker_run(broker *b, const opts *o)
{
	run_throughput(b, o);
	if (o->lat > 0) {
		fprintf(stderr,
		    "%s latency: %llu events each, %llu ms apart\n", b->name,
		    (unsigned long long) o->lat,
		    (unsigned long long) o->gap_ms);
		run_latency(b, o);
	}
}

#ifdef WEIR_BENCH_KAFKA
static int
kafka_run(void *peer, uint64_t n, uint64_t *ns)
{
	return peer_kafka_run(peer, n, ns);
}

static int
kafka_one(void *peer, uint64_t *ns)
{
	return peer_kafka_one(peer, ns);
}

static void
bench_kafka(const opts *o)
{
	char        buf[256], topic[64];
	const char *boot =
	    broker_env("WEIR_KAFKA_BOOTSTRAP", buf, sizeof(buf));
	broker b = { .name = "kafka",
		.peer_name = "rdkafka_producev_loop",
		.peer_run  = kafka_run,
		.peer_one  = kafka_one };
	if (boot == NULL) {
		broker_missing("kafka", "WEIR_KAFKA_BOOTSTRAP");
		return;
	}
	snprintf(topic, sizeof(topic), "weir-bench-%s", o->suffix);
	if (peer_kafka_open((peer_kafka **) &b.peer, boot, topic, o->keys) !=
	    0) {
		die("kafka", "peer");
	}
	fprintf(stderr, "kafka at %s, topic %s, librdkafka %s\n", boot, topic,
	    peer_kafka_version());
	wside_open(&b.w, o, weir_backend_kafka(), "kafka.bootstrap.servers",
	    boot, topic);
	broker_run(&b, o);
	wside_close(&b.w);
	peer_kafka_close(b.peer, 1);
}
#endif

#ifdef WEIR_BENCH_NATS
static int
js_run(void *peer, uint64_t n, uint64_t *ns)
{
	return peer_js_run(peer, n, ns);
}

static int
js_one(void *peer, uint64_t *ns)
{
	return peer_js_one(peer, ns);
}

static void
bench_nats(const opts *o)
{
	char        buf[256], stream[64], subject[80];
	const char *url = broker_env("WEIR_NATS_URL", buf, sizeof(buf));
	broker      b   = { .name = "jetstream",
		       .peer_name = "jetstream_publish_async",
		       .peer_run  = js_run,
		       .peer_one  = js_one };
	if (url == NULL) {
		broker_missing("jetstream", "WEIR_NATS_URL");
		return;
	}
	snprintf(stream, sizeof(stream), "WEIRBENCH_%s", o->suffix);
	snprintf(subject, sizeof(subject), "%s.weir", stream);
	if (peer_js_open((peer_js **) &b.peer, url, stream, o->keys) != 0) {
		die("jetstream", "peer");
	}
	fprintf(stderr, "nats at %s, stream %s, cnats %s\n", url, stream,
	    peer_js_version());
	wside_open(&b.w, o, weir_backend_nats(), "nats.url", url, subject);
	broker_run(&b, o);
	wside_close(&b.w);
	peer_js_close(b.peer, 1);
}
#endif

/* ---- main ------------------------------------------------------------- */

static uint64_t
parse_count(const char *s)
{
	char              *end;
	unsigned long long v;
	errno = 0;
	v     = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0') {
		die("bad count", s);
	}
	return (uint64_t) v;
}

static void
parse_args(opts *o, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i],
		           *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--quick") == 0) {
			o->n = 300, o->reps = 1, o->lat = 5, o->gap_ms = 1;
			o->settle_ms = 0;
		} else if (strcmp(a, "--n") == 0 && v) {
			o->n = parse_count(argv[++i]);
		} else if (strcmp(a, "--reps") == 0 && v) {
			o->reps = (int) parse_count(argv[++i]);
		} else if (strcmp(a, "--lat") == 0 && v) {
			o->lat = parse_count(argv[++i]);
		} else if (strcmp(a, "--gap-ms") == 0 && v) {
			o->gap_ms = parse_count(argv[++i]);
		} else if (strcmp(a, "--settle-ms") == 0 && v) {
			o->settle_ms = parse_count(argv[++i]);
		} else if (strcmp(a, "--keys") == 0 && v) {
			o->keys = parse_count(argv[++i]);
		} else if (strcmp(a, "--dir") == 0 && v) {
			o->dir = argv[++i];
		} else if (strcmp(a, "--only") == 0 && v) {
			o->only = argv[++i];
		} else if (strcmp(a, "--set") == 0 && v &&
		    o->nsets < MAX_SETS) {
			o->sets[o->nsets++] = argv[++i];
		} else {
			die("usage",
			    "bridge_bench [--n N] [--reps R] [--lat N] "
			    "[--gap-ms G] [--keys K] [--settle-ms S] "
			    "[--dir DIR] "
			    "[--only kafka|nats] [--set KEY=VALUE]... "
			    "[--quick]");
		}
	}
	if (o->n == 0 || o->reps <= 0 || o->reps > 64 || o->keys == 0) {
		die("usage", "n, keys must be positive, reps in 1..64");
	}
}

int
main(int argc, char **argv)
{
	opts          o = { .n      = 50000,
		         .reps      = 5,
		         .settle_ms = 200,
		         .lat       = 200,
		         .gap_ms    = 5,
		         .keys      = 1000,
		         .dir       = "/var/tmp" };
	struct statfs fs;
	parse_args(&o, argc, argv);
	if (statfs(o.dir, &fs) == 0 && fs.f_type == TMPFS_MAGIC) {
		die(o.dir, "is tmpfs; give --dir on a real disk");
	}
	snprintf(o.suffix, sizeof(o.suffix), "%lx%llx", (long) getpid(),
	    (unsigned long long) (bench_now_ns() & 0xffffff));
	fprintf(stderr,
	    "bridge_bench: %llu events of %d bytes per round, %d rounds "
	    "(medians), %llu keys, store FULL in %s\n",
	    (unsigned long long) o.n, BRIDGE_PAYLOAD, o.reps,
	    (unsigned long long) o.keys, o.dir);
#ifdef WEIR_BENCH_KAFKA
	if (o.only == NULL || strcmp(o.only, "kafka") == 0) {
		bench_kafka(&o);
	}
#endif
#ifdef WEIR_BENCH_NATS
	if (o.only == NULL || strcmp(o.only, "nats") == 0) {
		bench_nats(&o);
	}
#endif
	return 0;
}
