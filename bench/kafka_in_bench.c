/*
 * kafka_in_bench: inbound from Kafka into weir (a bridge with an inbound
 * "kafka" route: consumer group member -> inbox -> store -> bus)
 * against a bare librdkafka consumer loop (rd_kafka_consumer_poll, each
 * offset stored after the message is taken, auto-commit of the stored
 * offsets: the same at-least-once pattern without a store) on the same
 * broker and the same topic.
 *
 * The topic (4 partitions) is filled once with N records (ce_id,
 * traceparent, a 64-byte payload); every round reads all of them
 * through a new consumer group. Rounds interleave (weir, bare, weir,
 * bare, ...) after one untimed warm-up of each; figures are medians
 * with min and max. Output: JSON lines, one per round and one summary.
 *
 * usage: kafka_in_bench [--n N] [--rounds R] [--dir DIR] [--normal]
 *                       [--in-flight M] [--quick]
 * The store is FULL (a bridged store's durability), NORMAL with
 * --normal. The broker: WEIR_KAFKA_BOOTSTRAP (scripts/brokers.sh start
 * kafka).
 */
#include "in_bench.h"

#include <librdkafka/rdkafka.h>

#include <weir/bridge.h>
#include <weir/kafka.h>
#include <weir/store.h>
#include <weir/weir.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BENCH_PARTITIONS 4
#define BENCH_NAME "kafka_in_bench"

typedef struct bench {
	const char *bs;
	const char *dir;
	char        topic[96];
	uint64_t    n;
	int         round;
	int         normal;    /* --normal: store durability NORMAL */
	const char *in_flight; /* --in-flight: bridge.inbound.max_in_flight */
} bench;

static rd_kafka_t *
bench_client(bench *b, rd_kafka_type_t type, const char *group)
{
	char             err[256];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	rd_kafka_conf_set(c, "bootstrap.servers", b->bs, err, sizeof err);
	if (group != NULL) {
		rd_kafka_conf_set(c, "group.id", group, err, sizeof err);
		rd_kafka_conf_set(c, "partition.assignment.strategy",
		    "cooperative-sticky", err, sizeof err);
		rd_kafka_conf_set(
		    c, "auto.offset.reset", "earliest", err, sizeof err);
		rd_kafka_conf_set(
		    c, "enable.auto.offset.store", "false", err, sizeof err);
	} else {
		rd_kafka_conf_set(c, "linger.ms", "5", err, sizeof err);
	}
	rd_kafka_t *rk = rd_kafka_new(type, c, err, sizeof err);
	if (rk == NULL) {
		fprintf(stderr, "rd_kafka_new: %s\n", err);
		rd_kafka_conf_destroy(c);
	}
	return rk;
}

/* Creates the topic with BENCH_PARTITIONS partitions. */
static int
bench_topic(bench *b, rd_kafka_t *rk)
{
	char                 err[256];
	rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(
	    b->topic, BENCH_PARTITIONS, 1, err, sizeof err);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_event_t *ev;
	int               rc;
	rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
	ev = rd_kafka_queue_poll(q, 30000);
	rc = ev != NULL && rd_kafka_event_error(ev) == 0 ? 0 : -1;
	rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_NewTopic_destroy(nt);
	return rc;
}

/* Creates the topic and produces n records into it. */
static int
bench_fill(bench *b)
{
	rd_kafka_t *rk = bench_client(b, RD_KAFKA_PRODUCER, NULL);
	char        payload[64];
	int         rc;
	memset(payload, 'x', sizeof payload);
	if (rk == NULL || bench_topic(b, rk) != 0) {
		return -1;
	}
	for (uint64_t i = 0; i < b->n; i++) {
		uint8_t id[16];
		char    text[37], key[8];
		weir_uuid_v7(id);
		weir_uuid_format(id, text);
		snprintf(key, sizeof key, "k%u", (unsigned) (i % 16));
		while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(b->topic),
		           RD_KAFKA_V_KEY(key, strlen(key)),
		           RD_KAFKA_V_VALUE(payload, sizeof payload),
		           RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		           RD_KAFKA_V_HEADER("ce_id", text, 36),
		           RD_KAFKA_V_HEADER("traceparent",
		               "00-4bf92f3577b34da6a3ce929d0e0e4736-"
		               "00f067aa0ba902b7-01",
		               -1),
		           RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			rd_kafka_poll(rk, 10);
		}
	}
	rc = rd_kafka_flush(rk, 60000) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
	rd_kafka_destroy(rk);
	return rc;
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
	snprintf(
	    group, sizeof group, "bench-weir-%d-%d", (int) getpid(), b->round);
	if ((rv = in_bench_store(st, path, b->normal)) != WEIR_OK ||
	    (rv = in_bench_bus(bus, got)) != WEIR_OK) {
		return rv;
	}
	weir_bridge_config_create(&cfg);
	weir_bridge_config_set_str(cfg, "kafka.bootstrap.servers", b->bs);
	if (b->in_flight != NULL) {
		weir_bridge_config_set_str(
		    cfg, "bridge.inbound.max_in_flight", b->in_flight);
	}
	rv = weir_bridge_create(br, *bus, *st, cfg);
	weir_bridge_config_destroy(cfg);
	o.group = group;
	if (rv == WEIR_OK &&
	    (rv = weir_bridge_register_source(*br, weir_source_kafka())) ==
	        WEIR_OK) {
		rv = weir_bridge_inbound_add(
		    *br, "in", "kafka", b->topic, "in.{topic}", &o);
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

/* ---- bare: consumer_poll, store the offset, auto-commit -------------- */

static double
bench_bare(void *arg)
{
	bench                           *b = arg;
	char                             group[64];
	uint64_t                         got = 0;
	double                           t0  = in_bench_now_s(), t1;
	rd_kafka_t                      *rk;
	rd_kafka_topic_partition_list_t *l =
	    rd_kafka_topic_partition_list_new(1);
	snprintf(
	    group, sizeof group, "bench-bare-%d-%d", (int) getpid(), b->round);
	rk = bench_client(b, RD_KAFKA_CONSUMER, group);
	if (rk == NULL) {
		return 0;
	}
	rd_kafka_poll_set_consumer(rk);
	rd_kafka_topic_partition_list_add(l, b->topic, RD_KAFKA_PARTITION_UA);
	rd_kafka_subscribe(rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	while (got < b->n && in_bench_now_s() - t0 < IN_BENCH_DEADLINE_S) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (m == NULL) {
			continue;
		}
		if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			rd_kafka_offset_store(m->rkt, m->partition, m->offset);
			got++;
		}
		rd_kafka_message_destroy(m);
	}
	t1 = in_bench_now_s();
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return got >= b->n ? (double) b->n / (t1 - t0) : 0;
}

/* ---- main ------------------------------------------------------------ */

static int
bench_args(bench *b, int *rounds, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--n") && i + 1 < argc) {
			b->n = strtoull(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
			*rounds = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
			b->dir = argv[++i];
		} else if (!strcmp(argv[i], "--normal")) {
			b->normal = 1;
		} else if (!strcmp(argv[i], "--in-flight") && i + 1 < argc) {
			b->in_flight = argv[++i];
		} else if (!strcmp(argv[i], "--quick")) {
			b->n    = 2000;
			*rounds = 1;
		} else {
			return -1;
		}
	}
	return b->bs == NULL || *rounds < 1 || *rounds > 64 ? -1 : 0;
}

int
main(int argc, char **argv)
{
	bench b = {
		.bs = getenv("WEIR_KAFKA_BOOTSTRAP"), .dir = ".", .n = 100000
	};
	int          rounds = 5;
	in_bench_res r;
	if (bench_args(&b, &rounds, argc, argv) != 0) {
		fprintf(stderr,
		    "usage: kafka_in_bench [--n N] [--rounds R] [--dir DIR] "
		    "[--normal] [--in-flight M] [--quick] "
		    "(WEIR_KAFKA_BOOTSTRAP set)\n");
		return 2;
	}
	snprintf(b.topic, sizeof b.topic, "weir-kafka-in-bench-%d-%ld",
	    (int) getpid(), (long) time(NULL));
	if (bench_fill(&b) != 0) {
		fprintf(stderr, "cannot reach or fill Kafka at %s\n", b.bs);
		return 1;
	}
	if (in_bench_run("kafka_in", rounds, b.n, bench_weir, bench_bare, &b,
	        &b.round, &r) != 0) {
		return 1;
	}
	printf("{\"name\":\"kafka_in_throughput\","
	       "\"build\":\"" WEIR_BENCH_BUILD "\",\"n\":%llu,\"rounds\":%d,"
	       "\"partitions\":%d,\"weir_events_per_s\":%.0f,\"weir_min\":%."
	       "0f,\"weir_max\":%.0f,\"bare_events_per_s\":%.0f,\"bare_min\":"
	       "%.0f,\"bare_max\":%.0f,\"ratio\":%.2f,\"weir_cpu_us\":%.2f,"
	       "\"bare_cpu_us\":%.2f,\"durability\":\"%s\","
	       "\"librdkafka\":\"%s\"}\n",
	    (unsigned long long) b.n, rounds, BENCH_PARTITIONS, r.wm, r.w[0],
	    r.w[rounds - 1], r.pm, r.p[0], r.p[rounds - 1], r.wm / r.pm, r.wcm,
	    r.pcm, b.normal ? "NORMAL" : "FULL", rd_kafka_version_str());
	return 0;
}
