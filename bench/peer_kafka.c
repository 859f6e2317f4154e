/*
 * Peer: a bare idempotent librdkafka producer (see peer_kafka.h). Each
 * record carries what weir's kafka backend writes: key, 100-byte value,
 * timestamp, and the headers ce_specversion, ce_id, ce_source, ce_type,
 * ce_time, weir-seq, traceparent, each formatted per record as the
 * backend does. The topic is made with the admin API and deleted at the
 * end, so runs of different engineers never share one.
 */
#include "peer_kafka.h"

#include <librdkafka/rdkafka.h>
#include <stdlib.h>

#include "peer_bridge.h"
#include "peer_util.h"

#define PEER_KAFKA_DEADLINE_NS (60 * UINT64_C(1000000000))

struct peer_kafka {
	rd_kafka_t *rk;
	char        topic[200];
	uint64_t    keys;
	uint64_t    sent; /* records produced so far: the seq and id */
	uint64_t    delivered;
	uint64_t    failed;
	char        payload[BRIDGE_PAYLOAD];
};

static void
peer_kafka_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	peer_kafka *p = opaque;
	(void) rk;
	if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		if (p->failed++ == 0) {
			fprintf(stderr, "peer_kafka: delivery failed: %s\n",
			    rd_kafka_err2str(m->err));
		}
	}
	p->delivered++;
}

static rd_kafka_t *
peer_kafka_producer(peer_kafka *p, const char *bootstrap)
{
	char             err[512];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	if (rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, err,
	        sizeof(err)) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(c, "enable.idempotence", "true", err,
	        sizeof(err)) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(c, "acks", "all", err, sizeof(err)) !=
	        RD_KAFKA_CONF_OK) {
		fprintf(stderr, "peer_kafka: conf: %s\n", err);
		rd_kafka_conf_destroy(c);
		return NULL;
	}
	rd_kafka_conf_set_dr_msg_cb(c, peer_kafka_dr);
	rd_kafka_conf_set_opaque(c, p);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
	if (rk == NULL) {
		fprintf(stderr, "peer_kafka: rd_kafka_new: %s\n", err);
		rd_kafka_conf_destroy(c);
	}
	return rk;
}

/* Runs one admin request on @p q and returns its topic's error. */
static rd_kafka_resp_err_t
peer_kafka_admin_wait(rd_kafka_queue_t *q, int create)
{
	rd_kafka_event_t               *ev = rd_kafka_queue_poll(q, 20000);
	size_t                          n  = 0;
	const rd_kafka_topic_result_t **tr;
	rd_kafka_resp_err_t             err = RD_KAFKA_RESP_ERR__TIMED_OUT;
	if (ev == NULL) {
		return err;
	}
	tr  = create ? rd_kafka_CreateTopics_result_topics(
	                   rd_kafka_event_CreateTopics_result(ev), &n)
	             : rd_kafka_DeleteTopics_result_topics(
	                   rd_kafka_event_DeleteTopics_result(ev), &n);
	err = rd_kafka_event_error(ev);
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR && n == 1) {
		err = rd_kafka_topic_result_error(tr[0]);
	}
	rd_kafka_event_destroy(ev);
	return err;
}

/* Creates (@p create) or deletes the topic. */
static int
peer_kafka_admin(peer_kafka *p, int create)
{
	char                     err[256];
	rd_kafka_queue_t        *q = rd_kafka_queue_new(p->rk);
	rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(p->rk,
	    create ? RD_KAFKA_ADMIN_OP_CREATETOPICS
	           : RD_KAFKA_ADMIN_OP_DELETETOPICS);
	rd_kafka_AdminOptions_set_operation_timeout(
	    o, 15000, err, sizeof(err));
	if (create) {
		rd_kafka_NewTopic_t *nt =
		    rd_kafka_NewTopic_new(p->topic, 1, 1, err, sizeof(err));
		rd_kafka_CreateTopics(p->rk, &nt, 1, o, q);
		rd_kafka_NewTopic_destroy(nt);
	} else {
		rd_kafka_DeleteTopic_t *dt =
		    rd_kafka_DeleteTopic_new(p->topic);
		rd_kafka_DeleteTopics(p->rk, &dt, 1, o, q);
		rd_kafka_DeleteTopic_destroy(dt);
	}
	rd_kafka_resp_err_t e = peer_kafka_admin_wait(q, create);
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_queue_destroy(q);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR &&
	    !(create && e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)) {
		fprintf(stderr, "peer_kafka: %s topic %s: %s\n",
		    create ? "create" : "delete", p->topic,
		    rd_kafka_err2str(e));
		return -1;
	}
	return 0;
}

int
peer_kafka_open(
    peer_kafka **out, const char *bootstrap, const char *topic, uint64_t keys)
{
	peer_kafka *p = calloc(1, sizeof(*p));
	*out          = NULL;
	if (p == NULL) {
		return -1;
	}
	snprintf(p->topic, sizeof(p->topic), "%s", topic);
	p->keys = keys;
	memset(p->payload, 'p', sizeof(p->payload));
	p->rk = peer_kafka_producer(p, bootstrap);
	if (p->rk == NULL || peer_kafka_admin(p, 1) != 0) {
		peer_kafka_close(p, 0);
		return -1;
	}
	*out = p;
	return 0;
}

/* Produces the next record, polling while librdkafka's queue is full. */
static int
peer_kafka_produce(peer_kafka *p)
{
	char     key[24], id[37], when[40], seq[24];
	uint64_t i   = p->sent++;
	size_t   kl  = bridge_key(key, i, p->keys);
	int64_t  now = bridge_wall_ns();
	bridge_uuid(id, now, i);
	bridge_rfc3339(now, when);
	bridge_seq(i + 1, seq);
	rd_kafka_headers_t *h = rd_kafka_headers_new(8);
	rd_kafka_header_add(h, "ce_specversion", -1, "1.0", 3);
	rd_kafka_header_add(h, "ce_id", -1, id, 36);
	rd_kafka_header_add(h, "ce_source", -1, BRIDGE_SOURCE, -1);
	rd_kafka_header_add(h, "ce_type", -1, BRIDGE_TOPIC, -1);
	rd_kafka_header_add(h, "ce_time", -1, when, -1);
	rd_kafka_header_add(h, "weir-seq", -1, seq, -1);
	rd_kafka_header_add(h, "traceparent", -1, BRIDGE_TRACEPARENT, -1);
	for (;;) {
		rd_kafka_resp_err_t err = rd_kafka_producev(p->rk,
		    RD_KAFKA_V_TOPIC(p->topic), RD_KAFKA_V_KEY(key, kl),
		    RD_KAFKA_V_VALUE(p->payload, sizeof(p->payload)),
		    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		    RD_KAFKA_V_TIMESTAMP(now / 1000000), RD_KAFKA_V_HEADERS(h),
		    RD_KAFKA_V_END);
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			rd_kafka_poll(p->rk, 0); /* serve reports as we go */
			return 0;
		}
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			fprintf(stderr, "peer_kafka: producev: %s\n",
			    rd_kafka_err2str(err));
			rd_kafka_headers_destroy(h);
			return -1;
		}
		rd_kafka_poll(p->rk, 1);
	}
}

/* Polls until @p want reports are in (or the deadline). */
static int
peer_kafka_drain(peer_kafka *p, uint64_t want, uint64_t t0)
{
	while (p->delivered < want) {
		if (bench_now_ns() - t0 > PEER_KAFKA_DEADLINE_NS) {
			fprintf(stderr, "peer_kafka: reports missing\n");
			return -1;
		}
		rd_kafka_poll(p->rk, 100);
	}
	return p->failed == 0 ? 0 : -1;
}

int
peer_kafka_run(peer_kafka *p, uint64_t n, uint64_t *ns)
{
	uint64_t want = p->delivered + n;
	uint64_t t0   = bench_now_ns();
	for (uint64_t i = 0; i < n; i++) {
		if (peer_kafka_produce(p) != 0) {
			return -1;
		}
	}
	int rv = peer_kafka_drain(p, want, t0);
	*ns    = bench_now_ns() - t0;
	return rv;
}

int
peer_kafka_one(peer_kafka *p, uint64_t *ns)
{
	return peer_kafka_run(p, 1, ns);
}

void
peer_kafka_close(peer_kafka *p, int drop)
{
	if (p == NULL) {
		return;
	}
	if (p->rk != NULL) {
		rd_kafka_flush(p->rk, 10000);
		if (drop) {
			peer_kafka_admin(p, 0);
		}
		rd_kafka_destroy(p->rk);
	}
	free(p);
}

const char *
peer_kafka_version(void)
{
	return rd_kafka_version_str();
}
