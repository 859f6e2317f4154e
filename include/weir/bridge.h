/*
 * weir::bridge: sends chosen topics of a bus to message brokers (consumer
 * API). Backends (Kafka, NATS, the in-memory `mem`) plug in through
 * include/weir/backend.h.
 *
 * A route maps a topic pattern to a backend (by scheme), a destination
 * template and a key choice. In store mode (the bridge has a store) an
 * event is appended to the store before it is sent, and a relay thread
 * per route sends it from the store, advancing a named cursor; a crash
 * re-sends what was not acknowledged (at-least-once, duplicates carry
 * the same event id). In direct mode (no store) a route queues events
 * in memory and sends each once (at-most-once). See docs/bridge.md.
 *
 * Threads: the configuration functions are not for concurrent use on
 * the same object. weir_bridge_route_stats_get and weir_bridge_errmsg
 * may be called from any thread while the bridge runs. Every other
 * bridge function is for one controlling thread at a time.
 */
#ifndef WEIR_BRIDGE_H
#define WEIR_BRIDGE_H

#include <weir/backend.h>
#include <weir/store.h>
#include <weir/weir.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weir_bridge weir_bridge;

/* ---- configuration (cloned at create) --------------------------- */

/**
 * @brief Creates an empty bridge configuration (every key at its default).
 * @param out receives the config; NULL on error.
 * @returns WEIR_EINVAL (out NULL), WEIR_ENOMEM.
 * @remark The caller owns the config and frees it with
 *         weir_bridge_config_destroy(); weir_bridge_create() copies it.
 */
WEIR_API weir_err weir_bridge_config_create(weir_bridge_config **out);
/** @brief Frees @p cfg; NULL is a no-op. Bridges made with it keep their
 *         own copy. */
WEIR_API void weir_bridge_config_destroy(weir_bridge_config *cfg);
/**
 * @brief Sets @p key to @p value (both copied); a NULL value unsets it.
 * @param key "kafka.<option>" and "nats.<option>" keys are passed
 *        through, unread, to the backends, which check them at
 *        weir_bridge_register(); "bridge.<option>" keys are the
 *        bridge's own (docs/bridge.md lists them and their defaults)
 *        and are checked when the bridge is created.
 * @returns WEIR_EINVAL (NULL cfg or key, a key outside those families,
 *          an unknown "bridge." key), WEIR_ENOMEM.
 * @remark Not thread-safe on one config.
 */
WEIR_API weir_err weir_bridge_config_set_str(
    weir_bridge_config *cfg, const char *key, const char *value);

/* ---- the bridge ------------------------------------------------- */

/**
 * @brief Creates a bridge over @p bus and, for store mode, @p store.
 * @param store may be NULL: then every route must be a direct one.
 * @param cfg may be NULL (defaults); it is copied.
 * @returns WEIR_EINVAL (NULL out or bus, a "bridge." value out of
 *          range: weir_bridge_errmsg is not available then, as *out is
 *          NULL), WEIR_ENOMEM. On error *out is NULL.
 * @remark The bus and the store must outlive the bridge. Any thread.
 */
WEIR_API weir_err weir_bridge_create(weir_bridge **out, weir_bus *bus,
    weir_store *store, const weir_bridge_config *cfg);
/**
 * @brief Registers a backend: the bridge allocates ops->state_size
 *        zeroed bytes and calls ops->init with its config.
 * @param ops must stay valid until the bridge is destroyed (backends
 *        return a static table).
 * @returns WEIR_EVERSION (ops->version is not WEIR_BACKEND_V1),
 *          WEIR_EEXIST (scheme already registered), WEIR_EBUSY (the
 *          bridge is started), WEIR_EINVAL, WEIR_ENOMEM, or what init
 *          returned (its text in weir_bridge_errmsg).
 * @remark A table without a mandatory slot (scheme, init, fini, start,
 *         stop, publish, poll) is a programming error: asserted, and
 *         WEIR_EINVAL in builds without asserts.
 */
WEIR_API weir_err weir_bridge_register(
    weir_bridge *br, const weir_backend_ops *ops);

/** Options of one route; zero fields take the bridge's defaults. */
typedef struct weir_bridge_route_opts {
	size_t   size;        /* sizeof(weir_bridge_route_opts) */
	int      direct;      /* 1: direct mode (memory only, at-most-once) */
	uint32_t window;      /* messages in flight (bridge.window) */
	uint64_t max_backlog; /* events waiting (bridge.max_backlog) */
	uint32_t
	    max_attempts; /* sends per event (bridge.retry.max_attempts) */
	int echo;         /* 1: also send events that came in from this route's
	                     broker (see "No echo" in docs/bridge.md) */
} weir_bridge_route_opts;

/**
 * @brief Adds a route: events published on the bus whose topic matches
 *        @p pattern go to backend @p scheme, to the destination made
 *        from @p dest_template, keyed by @p key_choice.
 * @param name the route's name, [A-Za-z0-9_.-]{1,64}: its cursor is
 *        "bridge.route.<name>" and its dead letters' origin is @p name.
 * @param dest_template literal text with tokens: `{topic}` (the whole
 *        local topic) and `{N}` (the N-th dot-separated token of the
 *        local topic, from 1); `{{` and `}}` are literal braces. Every
 *        `{N}` must exist in every topic the pattern can match (its
 *        first N tokens are not `>`).
 * @param key_choice "key" (the event's key; none if it has none),
 *        "id" (the 16-byte event id), "{N}" (the N-th topic token, as
 *        in templates) or "none"; NULL means "key".
 * @param opts may be NULL (defaults).
 * @returns WEIR_EBADNAME (name), WEIR_EEXIST (name taken),
 *          WEIR_EBADPATTERN, WEIR_ENOENT (no backend registered for
 *          @p scheme), WEIR_EINVAL (bad template, key choice, options,
 *          a store route on a bridge without a store), WEIR_EBUSY
 *          (started), WEIR_ENOMEM. weir_bridge_errmsg names the route
 *          and the field. A refused route changes nothing; nothing in
 *          the store is touched.
 */
WEIR_API weir_err weir_bridge_route_add(weir_bridge *br, const char *name,
    const char *pattern, const char *scheme, const char *dest_template,
    const char *key_choice, const weir_bridge_route_opts *opts);
/**
 * @brief Starts the backends, then every route: reads or creates each
 *        store route's cursor (a new cursor starts at the store's last
 *        seq: a new route sends what is published from then on),
 *        subscribes to the bus and starts the relay threads.
 * @returns WEIR_EBUSY (already started), a backend's start error (its
 *          text in weir_bridge_errmsg), a store error, WEIR_ENOMEM.
 *          On error nothing is left running.
 * @remark All or nothing by default. With "bridge.start.partial" = 1,
 *         a route that cannot start (its backend's start failed, its
 *         cursor cannot be read, ...) is refused and the others start:
 *         WEIR_OK, weir_bridge_errmsg lists the refused routes with
 *         their reasons, weir_bridge_route_refused tells one route's.
 *         A refused route takes no events and leaves its cursor and
 *         stored events as they are (sent after a later start). Only
 *         when every route is refused does start fail.
 */
WEIR_API weir_err weir_bridge_start(weir_bridge *br);
/**
 * @brief Stops taking events from the bus, stops the relay threads and
 *        the backends. Events already stored stay in the store and are
 *        sent after the next start; direct-mode events still queued are
 *        dropped (counted as dead). NULL and a stopped bridge are no-ops.
 * @remark Waits for the threads; not from a backend callback.
 */
WEIR_API void weir_bridge_stop(weir_bridge *br);
/** @brief Stops (if needed) and frees the bridge and its backends'
 *         states. NULL is a no-op. */
WEIR_API void weir_bridge_destroy(weir_bridge *br);
/**
 * @brief The text of the most recent error of the bridge's controlling
 *        calls (it names the route and the field); never NULL.
 * @remark Owned by the bridge, valid until the next such call.
 */
WEIR_API const char *weir_bridge_errmsg(const weir_bridge *br);
/**
 * @brief Why the last weir_bridge_start refused route @p name (only
 *        with "bridge.start.partial" = 1).
 * @returns The reason, naming the backend and the option, or NULL when
 *          the route started, was never started, or does not exist.
 * @remark Owned by the bridge, valid until the next start or destroy.
 *         Controlling thread.
 */
WEIR_API const char *weir_bridge_route_refused(
    const weir_bridge *br, const char *name);

/* ---- inbound routes ----------------------------------------------- */

/**
 * @brief Registers a source (the inbound side of a broker backend).
 * @param ops must stay valid until the bridge is destroyed.
 * @returns WEIR_EVERSION (ops->version is not WEIR_SOURCE_V1),
 *          WEIR_EEXIST (scheme already registered as a source),
 *          WEIR_EBUSY (started), WEIR_EINVAL, WEIR_ENOMEM.
 * @remark Sources are initialised per inbound route, at
 *         weir_bridge_inbound_add().
 */
WEIR_API weir_err weir_bridge_register_source(
    weir_bridge *br, const weir_source_ops *ops);

/** Options of one inbound route; zero fields take the defaults. */
typedef struct weir_bridge_inbound_opts {
	size_t      size;   /* sizeof(weir_bridge_inbound_opts) */
	const char *group;  /* Kafka group.id / JetStream durable */
	const char *stream; /* JetStream stream name */
	uint32_t    batch;  /* messages per fetch (bridge.inbound.batch) */
	int         echo;   /* 1: outbound routes may send these events back
	                       to the scheme they came from */
} weir_bridge_inbound_opts;

/**
 * @brief Adds an inbound route: messages of source @p scheme arriving
 *        on @p from are appended to the store (once per event id) and
 *        published on the bus on the topic made from @p topic_template.
 * @param topic_template as route templates, over the broker's
 *        destination: `{topic}` (all of it) and `{N}` (its N-th
 *        dot-separated token).
 * @returns WEIR_EBADNAME, WEIR_EEXIST, WEIR_ENOENT (no source for
 *          @p scheme), WEIR_EINVAL (bad template or options, or no
 *          store), WEIR_EBUSY (started), WEIR_ENOMEM, or the source's
 *          init error; weir_bridge_errmsg names the route and the field.
 */
WEIR_API weir_err weir_bridge_inbound_add(weir_bridge *br, const char *name,
    const char *scheme, const char *from, const char *topic_template,
    const weir_bridge_inbound_opts *opts);

/* ---- stats ------------------------------------------------------ */

typedef enum weir_bridge_breaker {
	WEIR_BRIDGE_BREAKER_CLOSED    = 0, /* sending */
	WEIR_BRIDGE_BREAKER_OPEN      = 1, /* cooling down after failures */
	WEIR_BRIDGE_BREAKER_HALF_OPEN = 2  /* one probe message in flight */
} weir_bridge_breaker;

/** Counters of one route (set size = sizeof before the call). */
typedef struct weir_bridge_route_stats {
	size_t   size;    /* sizeof(weir_bridge_route_stats) */
	uint64_t sent;    /* publish calls the backend accepted */
	uint64_t acked;   /* events acknowledged by the broker */
	uint64_t retried; /* re-sends after a retriable failure */
	uint64_t dead;    /* dead-lettered (direct mode: dropped) */
	uint64_t backlog; /* this route's events stored or queued, not done */
	uint64_t lag_events; /* backlog plus events waiting in the bus queue */
	double   lag_seconds; /* age of the oldest event not done (0: none) */
	uint64_t cursor;      /* the cursor's seq (store mode) */
	uint64_t paused;      /* times the intake paused at max_backlog */
	uint64_t breaker_opens; /* times the breaker opened */
	weir_bridge_breaker breaker;
	/* store mode: events the store refused at intake (full, I/O error,
	 * too large); the store is where dead letters go, so these have
	 * none and are not counted in `dead` */
	uint64_t store_failed;
} weir_bridge_route_stats;

/**
 * @brief The counters of route @p name, written into the first
 *        out->size bytes of @p out.
 * @returns WEIR_ENOENT (no such route), WEIR_EINVAL (NULL, or out->size
 *          below the 1.0 size).
 * @remark Any thread; counters are read one by one. The same figures
 *         appear in weir_bus_stats_json() under "bridge".
 */
WEIR_API weir_err weir_bridge_route_stats_get(
    weir_bridge *br, const char *name, weir_bridge_route_stats *out);

/** @brief The name of a breaker state ("closed", "open", "half_open"). */
WEIR_API const char *weir_bridge_breaker_name(weir_bridge_breaker b);

/* ---- the in-memory backend --------------------------------------- */

/**
 * @brief The `mem` backend: keeps acknowledged messages in memory. It
 *        is the reference backend and the relay's test double (see
 *        weir_mem_* in docs/bridge.md); it talks to no broker.
 */
WEIR_API const weir_backend_ops *weir_backend_mem(void);

/**
 * @brief The `mem` source: the inbound side of the in-memory broker, a
 *        test double whose messages a test injects (docs/bridge.md,
 *        "Inbound"); it talks to no broker.
 */
WEIR_API const weir_source_ops *weir_source_mem(void);

#ifdef __cplusplus
}
#endif
#endif /* WEIR_BRIDGE_H */
