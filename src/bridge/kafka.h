/*
 * Internals of the "kafka" backend (src/bridge/kafka.c) that its tests
 * check directly: what the bridge cannot show from outside.
 */
#ifndef WEIR_BRIDGE_KAFKA_H
#define WEIR_BRIDGE_KAFKA_H

#include <weir/weir.h>

/* The classification of librdkafka error code @p code (an
 * rd_kafka_resp_err_t) as the relay gets it: the result passed to
 * weir_sink_ack, and *retriable (1 retriable, 0 permanent). The table is
 * docs/bridge.md's, section Kafka, "Error classification". */
weir_err weir__kafka_classify(int code, int *retriable);

#endif
