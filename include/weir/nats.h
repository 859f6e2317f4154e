/*
 * weir::bridge NATS backends (library weir_nats, built only when cnats,
 * pkg-config "libnats", is found and WEIR_WITH_NATS is ON).
 *
 * Two backends behind the provider API of <weir/backend.h>:
 *   "nats"      JetStream: asynchronous publish, each message
 *               acknowledged by the stream (PubAck); Nats-Msg-Id = event
 *               id, so a re-send inside the stream's duplicate window is
 *               stored once.
 *   "natscore"  core NATS: at-most-once; a message counts as sent once
 *               it has been written to the socket.
 * and two sources behind the inbound part of that API (weir_source_ops):
 *   "nats"      a JetStream durable pull consumer with explicit acks: a
 *               message is acked only once the bridge has it durable.
 *   "natscore"  a core NATS subscription: at-most-once, no redelivery.
 * Configuration keys ("nats.*") and the error table: docs/bridge.md,
 * section NATS.
 */
#ifndef WEIR_NATS_H
#define WEIR_NATS_H

#include <weir/weir.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Repeating a typedef is valid C11, so this header stands alone. */
typedef struct weir_backend_ops weir_backend_ops;
typedef struct weir_source_ops  weir_source_ops;

/**
 * @brief The JetStream backend, scheme "nats".
 * @returns A static table; never NULL.
 * @remark Any thread. The table is constant for the life of the process.
 */
WEIR_API const weir_backend_ops *weir_backend_nats(void);

/**
 * @brief The core NATS backend, scheme "natscore" (at-most-once).
 * @returns A static table; never NULL.
 * @remark Any thread. The table is constant for the life of the process.
 */
WEIR_API const weir_backend_ops *weir_backend_natscore(void);

/**
 * @brief The JetStream source, scheme "nats": a durable pull consumer
 *        (name: the route's group, else "weir-<route>" with '.' turned
 *        into '_') on the route's stream, else on the stream that holds
 *        its subject. It fetches at most the route's batch per pull
 *        request and acks each message once the bridge calls done, that
 *        is once the message is durable in the local store.
 * @returns A static table; never NULL.
 * @remark Any thread. Options "nats.in.ack_wait_ms" and
 *         "nats.in.max_ack_pending" set the consumer; a stream that does
 *         not exist, an unreachable server and an unknown "nats." option
 *         are errors of start / init with the cause in errmsg
 *         (docs/bridge.md, section "Inbound from NATS").
 */
WEIR_API const weir_source_ops *weir_source_nats(void);

/**
 * @brief The core NATS source, scheme "natscore" (at-most-once): a plain
 *        subscription (a queue subscription when the route has a group).
 *        No coordinates, no redelivery; past "nats.in.pending_msgs" /
 *        "nats.in.pending_bytes" messages waiting in the client, new ones
 *        are dropped and counted (errmsg reports the count).
 * @returns A static table; never NULL.
 * @remark Any thread. The table is constant for the life of the process.
 */
WEIR_API const weir_source_ops *weir_source_natscore(void);

#ifdef __cplusplus
}
#endif

#endif /* WEIR_NATS_H */
