/*
 * weir::bridge Kafka backend (library weir_kafka, built when librdkafka
 * is found and WEIR_WITH_KAFKA is ON). See docs/bridge.md, section Kafka.
 */
#ifndef WEIR_KAFKA_H
#define WEIR_KAFKA_H

#include <weir/backend.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief The "kafka" backend: an idempotent librdkafka producer
 *        (enable.idempotence=true, acks=all) writing each event as one
 *        record with CloudEvents 1.0 Kafka binary-mode headers.
 * @returns A static table, never NULL.
 * @remark Every "kafka.*" bridge config key is passed to librdkafka
 *         without its prefix, except "kafka.weir.*", the backend's own
 *         settings (docs/bridge.md). Any thread.
 */
WEIR_API const weir_backend_ops *weir_backend_kafka(void);

#ifdef __cplusplus
}
#endif

#endif /* WEIR_KAFKA_H */
