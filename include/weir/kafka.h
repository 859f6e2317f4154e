/*
 * weir::bridge Kafka backend and source (library weir_kafka, built when
 * librdkafka is found and WEIR_WITH_KAFKA is ON). See docs/bridge.md,
 * section Kafka.
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

/**
 * @brief The "kafka" source of inbound routes
 *        (weir_bridge_register_source): per route, one member of a
 *        consumer group (partition.assignment.strategy=
 *        cooperative-sticky) on one topic, committing an offset only
 *        after the bridge says the message is durable locally
 *        (enable.auto.commit=false, enable.auto.offset.store=false).
 * @returns A static table, never NULL.
 * @remark The group is the route's (weir_bridge_inbound_opts.group,
 *         "weir-<route>" by default; a "kafka.group.id" key does not
 *         change it). One topic per route (`from`; no regex). A new
 *         group starts at the earliest offset (auto.offset.reset=
 *         earliest; a "kafka.auto.offset.reset" key overrides it).
 *         The same "kafka.*" keys configure the producer and every
 *         consumer (docs/bridge.md, section Kafka, inbound). Any
 *         thread.
 */
WEIR_API const weir_source_ops *weir_source_kafka(void);

#ifdef __cplusplus
}
#endif

#endif /* WEIR_KAFKA_H */
