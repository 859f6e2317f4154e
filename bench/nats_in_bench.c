/*
 * nats_in_bench: inbound from JetStream into weir (a bridge with an
 * inbound "nats" route: durable pull consumer -> inbox -> store ->
 * bus) against a bare cnats pull loop (natsSubscription_Fetch of 256,
 * natsMsg_Ack each) on the same server and the same stream.
 *
 * The stream is filled once with N messages (ce-id, Nats-Msg-Id,
 * traceparent); every round reads all of them through a new durable.
 * Rounds interleave (weir, bare, weir, bare, ...) after one untimed
 * warm-up of each; figures are medians with min and max. Output: JSON
 * lines, one per round and one summary.
 *
 * usage: nats_in_bench [--n N] [--rounds R] [--dir DIR] [--normal]
 *                      [--quick]
 * The store is FULL (a bridged store's durability), NORMAL with
 * --normal.
 * The server: WEIR_NATS_URL (scripts/brokers.sh start nats).
 */
#include "in_bench.h"

#include <nats/nats.h>

#include <weir/bridge.h>
#include <weir/nats.h>
#include <weir/store.h>
#include <weir/weir.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BENCH_NAME "nats_in_bench"

typedef struct bench {
	const char     *url;
	const char     *dir;
	char            stream[64];
	uint64_t        n;
	natsConnection *nc;
	jsCtx          *js;
	int             round;
	int             normal; /* --normal: store durability NORMAL */
} bench;

/* Creates the stream and publishes n messages into it. */
static int
bench_fill(bench *b)
{
	jsStreamConfig sc;
	jsStreamInfo  *si = NULL;
	char           subj[96];
	const char    *subjs = subj;
	snprintf(subj, sizeof subj, "%s.>", b->stream);
	jsStreamConfig_Init(&sc);
	sc.Name        = b->stream;
	sc.Subjects    = &subjs;
	sc.SubjectsLen = 1;
	sc.Storage     = js_FileStorage;
	if (js_AddStream(&si, b->js, &sc, NULL, NULL) != NATS_OK) {
		return -1;
	}
	jsStreamInfo_Destroy(si);
	snprintf(subj, sizeof subj, "%s.e.k", b->stream);
	for (uint64_t i = 0; i < b->n; i++) {
		natsMsg   *m = NULL;
		uint8_t    id[16];
		char       text[37], payload[64];
		natsStatus s = NATS_TIMEOUT;
		weir_uuid_v7(id);
		weir_uuid_format(id, text);
		memset(payload, 'x', sizeof payload);
		natsMsg_Create(&m, subj, NULL, payload, (int) sizeof payload);
		natsMsgHeader_Set(m, "ce-id", text);
		natsMsgHeader_Set(m, "Nats-Msg-Id", text);
		natsMsgHeader_Set(m, "traceparent",
		    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
		while (s == NATS_TIMEOUT) { // a stall at MaxPending: again
			s = js_PublishMsgAsync(b->js, &m, NULL);
		}
		natsMsg_Destroy(m);
		if (s != NATS_OK) {
			return -1;
		}
	}
	return js_PublishAsyncComplete(b->js, NULL) == NATS_OK ? 0 : -1;
}

/* ---- weir: bridge with an inbound route ----------------------------- */

static weir_err
bench_weir_setup(bench *b, weir_store **st, weir_bus **bus, weir_bridge **br,
    atomic_uint_least64_t *got)
{
	char                     path[600], group[64];
	weir_bridge_config      *cfg;
	weir_bridge_inbound_opts o =
	    WEIR_STRUCT_INIT(weir_bridge_inbound_opts);
	weir_err rv;
	in_bench_path(path, sizeof path, b->dir, BENCH_NAME, b->round, "");
	snprintf(group, sizeof group, "bench-%d-%d", (int) getpid(), b->round);
	if ((rv = in_bench_store(st, path, b->normal)) != WEIR_OK ||
	    (rv = in_bench_bus(bus, got)) != WEIR_OK) {
		return rv;
	}
	weir_bridge_config_create(&cfg);
	weir_bridge_config_set_str(cfg, "nats.url", b->url);
	rv = weir_bridge_create(br, *bus, *st, cfg);
	weir_bridge_config_destroy(cfg);
	o.group  = group;
	o.stream = b->stream;
	if (rv == WEIR_OK &&
	    (rv = weir_bridge_register_source(*br, weir_source_nats())) ==
	        WEIR_OK) {
		char from[96];
		snprintf(from, sizeof from, "%s.>", b->stream);
		rv = weir_bridge_inbound_add(
		    *br, "in", "nats", from, "in.{topic}", &o);
	}
	return rv;
}

/* Events/s from start until the bus saw all n (0 on error). */
static double
bench_weir(void *arg)
{
	bench                *b   = arg;
	weir_store           *st  = NULL;
	weir_bus             *bus = NULL;
	weir_bridge          *br  = NULL;
	atomic_uint_least64_t got = 0;
	weir_err              rv  = bench_weir_setup(b, &st, &bus, &br, &got);
	return in_bench_round(
	    rv, st, bus, br, &got, b->n, b->dir, BENCH_NAME, b->round);
}

/* ---- bare: Fetch + Ack ----------------------------------------------- */

static double
bench_bare(void *arg)
{
	bench            *b   = arg;
	natsSubscription *sub = NULL;
	jsSubOptions      so;
	char              durable[64], from[96];
	uint64_t          got = 0;
	double            t0;
	snprintf(
	    durable, sizeof durable, "bare-%d-%d", (int) getpid(), b->round);
	snprintf(from, sizeof from, "%s.>", b->stream);
	jsSubOptions_Init(&so);
	so.Stream           = b->stream;
	so.ManualAck        = true;
	so.Config.AckPolicy = js_AckExplicit;
	t0                  = in_bench_now_s();
	if (js_PullSubscribe(&sub, b->js, from, durable, NULL, &so, NULL) !=
	    NATS_OK) {
		return 0;
	}
	while (got < b->n && in_bench_now_s() - t0 < IN_BENCH_DEADLINE_S) {
		natsMsgList list = { 0 };
		if (natsSubscription_Fetch(&list, sub, 256, 1000, NULL) !=
		    NATS_OK) {
			continue;
		}
		for (int i = 0; i < list.Count; i++) {
			natsMsg_Ack(list.Msgs[i], NULL);
		}
		got += (uint64_t) list.Count;
		natsMsgList_Destroy(&list);
	}
	natsConnection_Flush(b->nc);
	double t1 = in_bench_now_s();
	natsSubscription_Destroy(sub);
	js_DeleteConsumer(b->js, b->stream, durable, NULL, NULL);
	return got >= b->n ? (double) b->n / (t1 - t0) : 0;
}

/* ---- main ------------------------------------------------------------ */

int
main(int argc, char **argv)
{
	bench b = { .url = getenv("WEIR_NATS_URL"), .dir = ".", .n = 50000 };
	int   rounds = 5;
	in_bench_res r;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--n") && i + 1 < argc) {
			b.n = strtoull(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
			rounds = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
			b.dir = argv[++i];
		} else if (!strcmp(argv[i], "--normal")) {
			b.normal = 1;
		} else if (!strcmp(argv[i], "--quick")) {
			b.n    = 2000;
			rounds = 1;
		}
	}
	if (b.url == NULL || rounds < 1 || rounds > 64) {
		fprintf(stderr, "WEIR_NATS_URL unset, or bad --rounds\n");
		return 2;
	}
	snprintf(b.stream, sizeof b.stream, "NATSINBENCH_%d_%ld",
	    (int) getpid(), (long) time(NULL));
	if (natsConnection_ConnectTo(&b.nc, b.url) != NATS_OK ||
	    natsConnection_JetStream(&b.js, b.nc, NULL) != NATS_OK ||
	    bench_fill(&b) != 0) {
		fprintf(
		    stderr, "cannot reach or fill JetStream at %s\n", b.url);
		return 1;
	}
	if (in_bench_run("nats_in", rounds, b.n, bench_weir, bench_bare, &b,
	        &b.round, &r) != 0) {
		return 1;
	}
	printf(
	    "{\"name\":\"nats_in_throughput\","
	    "\"build\":\"" WEIR_BENCH_BUILD "\",\"n\":%llu,\"rounds\":%d,"
	    "\"weir_events_per_s\":%.0f,\"weir_min\":%.0f,\"weir_max\":%.0f,"
	    "\"bare_events_per_s\":%.0f,\"bare_min\":%.0f,\"bare_max\":%.0f,"
	    "\"ratio\":%.2f,\"weir_cpu_us\":%.2f,\"bare_cpu_us\":%.2f,"
	    "\"durability\":\"%s\",\"cnats\":\"%s\"}\n",
	    (unsigned long long) b.n, rounds, r.wm, r.w[0], r.w[rounds - 1],
	    r.pm, r.p[0], r.p[rounds - 1], r.wm / r.pm, r.wcm, r.pcm,
	    b.normal ? "NORMAL" : "FULL", nats_GetVersion());
	js_DeleteStream(b.js, b.stream, NULL, NULL);
	jsCtx_Destroy(b.js);
	natsConnection_Destroy(b.nc);
	return 0;
}
