/*
 * Helpers shared by the Kafka inbound tests (over broker_env.h, which
 * finds the broker): a topic made with a given number of partitions,
 * and a bare librdkafka producer, independent of weir. kf_ prefix. The
 * tests include librdkafka to drive the broker on their own; weir's
 * library includes it only in src/bridge/kafka.c.
 */
#ifndef WEIR_KAFKA_FIXTURE_H
#define WEIR_KAFKA_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "broker_env.h"

/* The broker's address into @p buf, or skips the test (fails it with
 * CI=true). */
#define KF_NEED(var, buf) BK_NEED(var, "WEIR_KAFKA_BOOTSTRAP", buf)

static inline rd_kafka_t *
kf_client(const char *bootstrap, rd_kafka_type_t type)
{
	char             err[256];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	rd_kafka_t      *rk;
	if (rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, err,
	        sizeof(err)) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(c, "linger.ms", "5", err, sizeof(err)) !=
	        RD_KAFKA_CONF_OK) {
		rd_kafka_conf_destroy(c);
		return NULL;
	}
	rk = rd_kafka_new(type, c, err, sizeof(err));
	if (rk == NULL) {
		rd_kafka_conf_destroy(c);
	}
	return rk;
}

/* Creates @p topic with @p partitions partitions; 0 on success. */
static inline int
kf_create_topic(const char *bootstrap, const char *topic, int partitions)
{
	char                 err[256];
	rd_kafka_t          *rk = kf_client(bootstrap, RD_KAFKA_PRODUCER);
	rd_kafka_NewTopic_t *nt;
	rd_kafka_queue_t    *q;
	rd_kafka_event_t    *ev;
	int                  rc = -1;
	if (rk == NULL) {
		return -1;
	}
	nt = rd_kafka_NewTopic_new(topic, partitions, 1, err, sizeof(err));
	q  = rd_kafka_queue_new(rk);
	rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
	ev = rd_kafka_queue_poll(q, 30000);
	if (ev != NULL && rd_kafka_event_error(ev) == 0) {
		const rd_kafka_CreateTopics_result_t *res =
		    rd_kafka_event_CreateTopics_result(ev);
		size_t                          n;
		const rd_kafka_topic_result_t **t =
		    rd_kafka_CreateTopics_result_topics(res, &n);
		rc = n == 1 && rd_kafka_topic_result_error(t[0]) == 0 ? 0 : -1;
	}
	rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_NewTopic_destroy(nt);
	rd_kafka_destroy(rk);
	return rc;
}

/* The ce_id of message @p i of a kf_produce run: a fixed UUID text. */
static inline void
kf_ce_id(char out[37], unsigned run, size_t i)
{
	snprintf(out, 37, "%08x-0000-7000-8000-%012llx", run,
	    (unsigned long long) i);
}

/* Produces messages @p from .. @p from + @p n - 1 to @p topic with a bare
 * producer: key "k<i % 8>", payload "<i>", headers ce_id (kf_ce_id of
 * @p run, unless run is 0: then no ce_id, a foreign message) and
 * traceparent. Returns the number acknowledged by the broker. */
static inline size_t
kf_produce(const char *bootstrap, const char *topic, unsigned run, size_t from,
    size_t n)
{
	rd_kafka_t *rk = kf_client(bootstrap, RD_KAFKA_PRODUCER);
	size_t      ok = 0;
	if (rk == NULL) {
		return 0;
	}
	for (size_t i = from; i < from + n; i++) {
		char                id[37], v[24], k[8];
		rd_kafka_headers_t *h = rd_kafka_headers_new(2);
		snprintf(v, sizeof(v), "%zu", i);
		snprintf(k, sizeof(k), "k%zu", i % 8);
		kf_ce_id(id, run, i);
		if (run != 0) {
			rd_kafka_header_add(h, "ce_id", -1, id, -1);
		}
		rd_kafka_header_add(h, "traceparent", -1,
		    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		    -1);
		while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
		           RD_KAFKA_V_KEY(k, strlen(k)),
		           RD_KAFKA_V_VALUE(v, strlen(v)),
		           RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		           RD_KAFKA_V_HEADERS(h),
		           RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			rd_kafka_poll(rk, 10);
		}
		ok++;
	}
	if (rd_kafka_flush(rk, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		ok = 0;
	}
	rd_kafka_destroy(rk);
	return ok;
}

#endif /* WEIR_KAFKA_FIXTURE_H */
