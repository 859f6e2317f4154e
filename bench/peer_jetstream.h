/*
 * Peer: bare asynchronous JetStream publishing with cnats: one
 * js_PublishMsgAsync per message with Nats-Msg-Id and the headers weir's
 * nats backend writes, PubAcks counted by an AckHandler, then
 * js_PublishAsyncComplete. The flow-control settings are the ones weir's
 * backend uses by default (MaxPending about 4000, StallWait 30 s).
 */
#ifndef WEIR_BENCH_PEER_JETSTREAM_H
#define WEIR_BENCH_PEER_JETSTREAM_H

#include <stdint.h>

typedef struct peer_js peer_js;

/*
 * Connects to @p url and creates stream @p stream (file storage,
 * subjects "<stream>.>", 2-minute duplicate window); the peer publishes
 * on "<stream>.peer". Returns 0, or -1 with a message on stderr.
 */
int peer_js_open(
    peer_js **out, const char *url, const char *stream, uint64_t keys);

/*
 * Publishes @p n messages and waits for all PubAcks; stores the time
 * from the first publish to the last PubAck in @p ns. Returns 0, or -1
 * (a negative PubAck, or 60 s passed).
 */
int peer_js_run(peer_js *p, uint64_t n, uint64_t *ns);

/* One message, publish to PubAck, in @p ns. Returns 0 or -1. */
int peer_js_one(peer_js *p, uint64_t *ns);

/* Deletes the stream (when @p drop) and closes. NULL: no-op. */
void peer_js_close(peer_js *p, int drop);

/* cnats's version text (static storage). */
const char *peer_js_version(void);

#endif /* WEIR_BENCH_PEER_JETSTREAM_H */
