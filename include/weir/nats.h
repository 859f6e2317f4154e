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

#ifdef __cplusplus
}
#endif

#endif /* WEIR_NATS_H */
