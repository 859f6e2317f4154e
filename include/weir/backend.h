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
} weir_backend_ops;

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
/* clang-format on */

#ifdef __cplusplus
}
#endif

#endif /* WEIR_BACKEND_H */
