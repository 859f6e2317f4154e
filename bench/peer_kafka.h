/*
 * Peer: a bare librdkafka producer, the way one would write it for real
 * use: enable.idempotence=true, acks=all, otherwise librdkafka's
 * defaults (as weir's kafka backend), one rd_kafka_producev per record
 * with the headers weir's backend writes, then rd_kafka_poll until every
 * delivery report is in.
 */
#ifndef WEIR_BENCH_PEER_KAFKA_H
#define WEIR_BENCH_PEER_KAFKA_H

#include <stdint.h>

typedef struct peer_kafka peer_kafka;

/*
 * Connects to @p bootstrap and creates @p topic (1 partition,
 * replication 1) with the admin API. Returns 0, or -1 with a message on
 * stderr (*out is then NULL).
 */
int peer_kafka_open(
    peer_kafka **out, const char *bootstrap, const char *topic, uint64_t keys);

/*
 * Produces @p n records and waits for all their delivery reports;
 * stores the time from the first producev to the last report in @p ns.
 * Returns 0, or -1 (a report carried an error, or 60 s passed).
 */
int peer_kafka_run(peer_kafka *p, uint64_t n, uint64_t *ns);

/* One record, produce to delivery report, in @p ns. Returns 0 or -1. */
int peer_kafka_one(peer_kafka *p, uint64_t *ns);

/* Deletes the topic (when @p drop) and frees the producer. NULL: no-op. */
void peer_kafka_close(peer_kafka *p, int drop);

/* librdkafka's version text (static storage). */
const char *peer_kafka_version(void);

#endif /* WEIR_BENCH_PEER_KAFKA_H */
