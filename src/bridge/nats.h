/*
 * Internals of the NATS backends (src/bridge/nats.c) that their tests
 * check directly: what the bridge cannot show from outside.
 */
#ifndef WEIR_BRIDGE_NATS_H
#define WEIR_BRIDGE_NATS_H

/* 1 when a failure with cnats status @p status (a natsStatus) and
 * JetStream error code @p js_code (a jsErrCode from a negative PubAck;
 * 0: none) is retriable, 0 when permanent. The tables are
 * docs/bridge.md's, section NATS, "Errors: retriable or permanent". */
int weir__nats_retriable(int status, int js_code);

#endif
