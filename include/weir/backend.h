/*
 * weir::bridge provider API: what a broker backend (Kafka, NATS, the
 * in-memory test double) implements and calls. Version 1.
 *
 * A backend is a table of functions (weir_backend_ops) registered with a
 * bridge (weir_bridge_register, include/weir/bridge.h). The bridge
 * allocates state_size zeroed bytes per backend instance and hands them
 * to every slot. Acknowledgements come back through weir_sink_ack, from
 * any thread. See docs/bridge.md.
 */
#ifndef WEIR_BACKEND_H
#define WEIR_BACKEND_H

#include <weir/weir.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The text below is the interface as agreed in BRIDGE.md, kept verbatim. */
/* clang-format off */
#define WEIR_BACKEND_V1 1u
#define WEIR_BACKEND_V2 2u /* appends caps; a V1 table is still accepted */
typedef struct weir_sink          weir_sink;          /* the bridge's side, given to init */
typedef struct weir_bridge_config weir_bridge_config; /* opaque; read with weir_bridge_config_get */

/* One outbound message: the event plus what the route decided. Borrowed for the publish call;
 * a backend that needs any of it later copies it (or holds ev with weir_event_hold). */
typedef struct weir_bridge_msg {
	size_t            size;     /* sizeof(weir_bridge_msg) */
	const weir_event *ev;       /* the event (id = idempotency key) */
	uint64_t          seq;      /* store seq (0 in direct mode) */
	const char       *dest;     /* Kafka topic or NATS subject, already substituted */
	const void       *key;      /* record key / ordering key (may be NULL) */
	size_t            key_len;
	const char       *source;   /* CloudEvents source (URI-reference), e.g. "weir://host/bus" */
	uint64_t          token;    /* opaque, passed back to weir_sink_ack */
} weir_bridge_msg;

typedef struct weir_backend_ops {
	uint32_t    version;    /* WEIR_BACKEND_V1 */
	const char *scheme;     /* "kafka", "nats", "natscore", "mem" */
	size_t      state_size; /* the bridge allocates and zeroes this much for the backend */
	weir_err (*init)(void *state, const weir_bridge_config *cfg, weir_sink *sink);
	void (*fini)(void *state);
	weir_err (*start)(void *state);
	void (*stop)(void *state);  /* returns only when no further sink call can happen */
	/* Queues msg for sending; never blocks for long. WEIR_OK: exactly one weir_sink_ack for
	 * msg->token follows (any thread). An error: no ack follows; WEIR_EAGAIN = local queue full,
	 * try later. */
	weir_err (*publish)(void *state, const weir_bridge_msg *msg);
	/* Serves poll/flush work; called by the relay regularly (may be a no-op). timeout_ms >= 0. */
	void (*poll)(void *state, int timeout_ms);
	const char *(*errmsg)(void *state); /* may be NULL */
	/* ---- version 2 (read only when version >= WEIR_BACKEND_V2) ---- */
	/* What this instance promises, WEIR_BACKEND_CAP_* bits; asked by each route after start,
	 * so it may depend on the configuration. NULL, or a version 1 table: no promise (0). */
	uint32_t (*caps)(void *state);
} weir_backend_ops;

/* The sink keeps the order of publish calls per (dest, key), with nothing skipped: it never
 * stores a message after a later-published one of the same key. An acknowledgement with
 * retriable = 1 means the message was not stored, nor will any message of its key published
 * after it be stored ahead of its re-send (the sink fails those too, or holds them until it
 * has the earlier one; Kafka's idempotent producer rejects them by sequence number). A
 * permanent failure drops only that message. The relay then hands over several messages of
 * one key at once instead of one (docs/bridge.md, "Order per key"). */
#define WEIR_BACKEND_CAP_ORDERED 1u

/* The outcome of one publish. result WEIR_OK = acknowledged by the broker (durably, per the
 * backend's settings). retriable: 1 = try again later (timeout, broker down, leader change),
 * 0 = permanent (too large, invalid destination, not authorised). reason: the broker's text
 * (copied by the bridge; may be NULL). Any thread. */
WEIR_API void weir_sink_ack(weir_sink *sink, uint64_t token, weir_err result, int retriable,
    const char *reason);
/* Config lookup for backends: keys "kafka.*" / "nats.*" pass through; NULL if unset. */
WEIR_API const char *weir_bridge_config_get(const weir_bridge_config *cfg, const char *key);
/* Iterates every key with the given prefix (e.g. "kafka."), for pass-through to the client. */
WEIR_API weir_err weir_bridge_config_each(const weir_bridge_config *cfg, const char *prefix,
    weir_err (*fn)(const char *key, const char *value, void *arg), void *arg);
/* ---- inbound: sources (version 1) ---------------------------------------------------------
 * A source consumes from a broker for one inbound route (weir_bridge_inbound_add, bridge.h).
 * The bridge allocates state_size zeroed bytes per inbound route, calls init with the route's
 * spec, then runs one thread per route that calls fetch in a loop. A source hands each message
 * to weir_inlet_deliver, in broker order, from inside fetch. Once the message is durable in the
 * local store (or dead-lettered, or recognised as a duplicate), the bridge calls done(token) on
 * the route's thread, in delivery order: only then does the source commit the Kafka offset /
 * ack the JetStream message. See docs/bridge.md, section Inbound. */
#define WEIR_SOURCE_V1 1u
typedef struct weir_inlet weir_inlet; /* the bridge's side of one inbound route */

/* What an inbound route asks of its source; strings live as long as the route. */
typedef struct weir_source_spec {
	size_t      size;   /* sizeof(weir_source_spec) */
	const char *route;  /* the route's name */
	const char *from;   /* Kafka topic / NATS subject (wildcards allowed for NATS) */
	const char *group;  /* Kafka group.id / JetStream durable name ("weir-<route>" if unset) */
	const char *stream; /* JetStream stream (NULL: the stream that holds `from`) */
	uint32_t    batch;  /* most messages one fetch may deliver (bounded fetch) */
} weir_source_spec;

/* One message from a broker, borrowed for the weir_inlet_deliver call. */
typedef struct weir_inbound_msg {
	size_t             size;    /* sizeof(weir_inbound_msg) */
	const char        *origin;  /* the Kafka topic / NATS subject it arrived on */
	const void        *key;     /* Kafka record key (NULL for NATS) */
	size_t             key_len;
	const void        *payload;
	size_t             payload_len;
	const weir_header *headers; /* as on the wire: ce_*, Nats-Msg-Id, traceparent, user */
	size_t             header_count;
	const char        *coord;   /* stable coordinates, "kafka:<topic>/<partition>/<offset>" or
	                             * "nats:<stream>/<stream seq>"; NULL when there are none (core
	                             * NATS): they derive an id for foreign messages and locate
	                             * dead letters */
	int64_t            ts;      /* broker timestamp, unix ns; 0 if unknown */
	uint64_t           token;   /* opaque to the bridge; handed back to done */
} weir_inbound_msg;

typedef struct weir_source_ops {
	uint32_t    version;    /* WEIR_SOURCE_V1 */
	const char *scheme;     /* "kafka", "nats", "natscore", "mem" */
	size_t      state_size; /* the bridge allocates and zeroes this much per inbound route */
	weir_err (*init)(void *state, const weir_bridge_config *cfg, const weir_source_spec *spec,
	    weir_inlet *inlet);
	void (*fini)(void *state);
	weir_err (*start)(void *state); /* joins the group / binds the consumer; errors name the cause */
	void (*stop)(void *state);      /* returns only when no further inlet call can happen */
	/* Waits up to timeout_ms for messages and delivers at most max of them (max 0: deliver
	 * nothing, only serve the client: heartbeats, rebalances). Route thread only. WEIR_OK also
	 * when nothing came; an error is counted and fetch is called again after a backoff. */
	weir_err (*fetch)(void *state, size_t max, int timeout_ms);
	void (*done)(void *state, uint64_t token); /* commit / ack; route thread, delivery order */
	/* Local pushback: 1 = stop taking messages from the broker (Kafka: pause the assigned
	 * partitions; JetStream: no pull requests), keeping the position; 0 = resume. */
	void (*pause)(void *state, int paused);
	const char *(*errmsg)(void *state); /* may be NULL */
} weir_source_ops;

/* Hands one message to the bridge (from inside fetch, route thread). WEIR_OK: taken; exactly
 * one done(token) follows. An error (WEIR_ECLOSED when the route is stopping, WEIR_ENOMEM when
 * the event cannot be made): not taken, no done follows; the source leaves the message
 * uncommitted so the broker redelivers it. */
WEIR_API weir_err weir_inlet_deliver(weir_inlet *in, const weir_inbound_msg *msg);
/* Waits until every message delivered so far is durable and calls done for each before it
 * returns (re-entrantly, on this thread). For a Kafka revoke callback: commit, then let go. */
WEIR_API weir_err weir_inlet_flush(weir_inlet *in);
/* clang-format on */

#ifdef __cplusplus
}
#endif

#endif /* WEIR_BACKEND_H */
