/*
 * weir: an embeddable event bus (the consumer API of weir::core).
 *
 * What is not declared in this header is not API. The sections follow
 * the objects: errors, structs that grow, the allocator, events, topic
 * names, loops, the bus, listeners and emit, topic handles,
 * subscriptions and publish, asynchronous delivery, stats.
 *
 * Conventions (docs/api.md says why):
 * - Every function returns a weir_err (WEIR_OK == 0) unless it is an
 *   accessor. Handles are opaque. Passing NULL to a _destroy, _close,
 *   _stop or _release function is a harmless no-op.
 * - Constructors take their out-parameter first (`weir_x **out`); on
 *   failure *out is NULL and there is nothing to free. Optional results
 *   that are not objects (counts, ids) come last and may be NULL.
 * - Config objects are opaque, set with typed setters and copied by the
 *   function that takes them: the caller always destroys its own.
 * - Every public struct starts with `size_t size` (see "Structs that
 *   grow"), so it can gain fields without breaking the ABI.
 *
 * Threads, in one statement: every function may be called from any
 * thread, except those marked "Loop-thread API" (timers, fd watchers,
 * weir_loop_step, weir_loop_timeout), which belong to the thread that
 * runs the loop, or to any thread while no thread runs it. Listeners
 * run on the emitting thread, inside weir_emit*(). Subscription
 * handlers, timers and fd watchers run only inside weir_loop_run() /
 * weir_loop_step() of their loop, on the thread that calls it; weir's
 * own loop threads (weir_bus_start) are such callers. weir_publish*()
 * never calls a handler. A pull subscription (no handler) is served by
 * no loop: weir_subscr_next() takes its events on the caller's thread.
 * Callback arguments are borrowed for the duration of the call.
 */
#ifndef WEIR_WEIR_H
#define WEIR_WEIR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WEIR_VERSION_MAJOR 0
#define WEIR_VERSION_MINOR 1
#define WEIR_VERSION_PATCH 0

#if defined(WEIR_STATIC_DEFINE)
#define WEIR_API
#elif defined(__GNUC__)
#define WEIR_API __attribute__((visibility("default")))
#else
#define WEIR_API
#endif

/* ================================================================== */
/* Errors: one list generates the enum and both string tables.        */
/* Codes are append-only.                                             */
/* ================================================================== */
#define WEIR_ERRORS(X)                          \
	X(OK, "success")                        \
	X(ENOMEM, "out of memory")              \
	X(EINVAL, "invalid argument")           \
	X(ECLOSED, "closed")                    \
	X(EAGAIN, "try again")                  \
	X(EBUSY, "busy")                        \
	X(ETIMEDOUT, "timed out")               \
	X(ENOENT, "not found")                  \
	X(ECONFLICT, "version conflict")        \
	X(ENOTSUP, "not supported")             \
	X(EBACKEND, "backend error")            \
	X(ESTORE, "storage error")              \
	X(ECORRUPT, "store corrupt")            \
	X(EINTERNAL, "internal error")          \
	X(EFULL, "queue full")                  \
	X(ETOOBIG, "too large")                 \
	X(EBADTOPIC, "invalid topic")           \
	X(EBADPATTERN, "invalid topic pattern") \
	X(EBADNAME, "invalid name")             \
	X(EPENDING, "pending: completes later") \
	X(EHANDLER, "handler failed")           \
	X(ECANCELED, "canceled")                \
	X(EREADONLY, "read-only")               \
	X(ENOSPC, "no space left")              \
	X(EIO, "I/O error")                     \
	X(EVERSION, "unsupported version")      \
	X(ENOTSTORE, "not a weir store")        \
	X(EEXIST, "already exists")

typedef enum weir_err {
#define WEIR_ERR_ENUM_(name, text) WEIR_##name,
	WEIR_ERRORS(WEIR_ERR_ENUM_)
#undef WEIR_ERR_ENUM_
	    WEIR_ERR_COUNT_
} weir_err;

/** @brief Static text for an error code; never NULL. Any thread. */
WEIR_API const char *weir_strerror(weir_err e);
/** @brief The code's name, e.g. "WEIR_ENOMEM"; never NULL. Any thread. */
WEIR_API const char *weir_err_name(weir_err e);

/* ================================================================== */
/* Structs that grow                                                  */
/* ================================================================== */
/*
 * Every public struct starts with `size_t size`, which the side that
 * allocates the struct sets to sizeof(the struct) as it knows it:
 *
 *     weir_subscr_stats st = WEIR_STRUCT_INIT(weir_subscr_stats);
 *
 * weir reads or writes at most `size` bytes of it. A size below the
 * struct's 1.0 size is WEIR_EINVAL. An input struct from a newer header
 * whose extra fields are all zero is accepted; one that sets fields this
 * build does not know is WEIR_ENOTSUP. Structs that weir hands to a
 * callback carry weir's own size. weir_header, an array element, is
 * frozen for 1.x.
 */
#define WEIR_STRUCT_INIT(T)       \
	{                         \
		.size = sizeof(T) \
	}

/* ================================================================== */
/* Allocator                                                          */
/* ================================================================== */

/** The allocation functions weir uses (all of them, core and store). */
typedef struct weir_allocator {
	size_t size; /* sizeof(weir_allocator) */
	void *(*malloc_fn)(size_t size);
	void *(*calloc_fn)(size_t n, size_t size);
	void *(*realloc_fn)(void *p, size_t size);
	void (*free_fn)(void *p);
	/* @p align bytes (a power of two), freed with free_fn, like C11
	 * aligned_alloc. May be NULL: weir then over-allocates. */
	void *(*aligned_fn)(size_t align, size_t size);
} weir_allocator;

/**
 * @brief Replaces the allocator used by weir; NULL restores libc's.
 * @returns WEIR_EINVAL if a mandatory function is NULL or the size is
 *          wrong (the allocator is then unchanged).
 * @remark Call before creating any object, with no other weir call
 *         running: not thread-safe. Memory allocated before the call
 *         must not be outstanding (blocks cached by weir are returned
 *         to the old allocator first).
 */
WEIR_API weir_err weir_set_allocator(const weir_allocator *a);
/** @brief Frees a `char *` returned by weir (e.g. stats JSON). */
WEIR_API void weir_free(void *p);

/* ================================================================== */
/* Events                                                             */
/* ================================================================== */
typedef struct weir_event weir_event;

/** A header: a name and a byte value. Frozen for 1.x (an array item). */
typedef struct weir_header {
	const char *name;
	const void *value;
	size_t      len;
} weir_header;

/** Everything an event is made of; unset fields are zero. */
typedef struct weir_event_init {
	size_t             size;  /* sizeof(weir_event_init) */
	const char        *topic; /* required, a valid topic */
	const void        *key;   /* optional */
	size_t             key_len;
	const void        *payload; /* optional */
	size_t             payload_len;
	const weir_header *headers; /* optional */
	size_t             header_count;
	const uint8_t     *id;  /* 16 bytes, or NULL for a new UUIDv7 */
	int64_t            ts;  /* unix ns, or 0 for now */
	uint64_t           seq; /* 0 unless a store assigned one */
} weir_event_init;

/*
 * Limits of an event, checked by weir_event_new() (WEIR_EINVAL past
 * them) and again by the store before it acknowledges an append, so that
 * every event the store acknowledges reads back. They are far above what
 * any broker binding needs (CloudEvents attribute names are short; Kafka
 * and NATS keep headers small) and low enough that the store's row
 * format holds them (a header name's length, with its NUL, is a 16-bit
 * field) and that no sum of lengths can wrap.
 */
/** Headers per event. */
#define WEIR_MAX_HEADERS 64
/** A header name, in bytes without its NUL (the row's 16-bit field). */
#define WEIR_MAX_HEADER_NAME 256
/** A header value, in bytes. */
#define WEIR_MAX_HEADER_VALUE (64u * 1024u)
/** A topic, in bytes without its NUL (weir_topic_validate()). */
#define WEIR_MAX_TOPIC 1024
/** A key, in bytes. */
#define WEIR_MAX_KEY (64u * 1024u)
/**
 * A payload given to weir_event_new(), in bytes: so that the sum of all
 * lengths fits a size_t. A bus has its own, lower limit
 * (weir_bus_config_set_max_payload), a store its event limit.
 */
#define WEIR_MAX_EVENT_PAYLOAD ((size_t) -1 / 2)

/**
 * @brief Creates an immutable, reference-counted event (count 1),
 *        copying every field of @p init in one allocation.
 * @returns WEIR_EBADTOPIC for an invalid topic, WEIR_EINVAL for NULL
 *          arguments, a bad size, or a length or count past the limits
 *          above (WEIR_MAX_HEADERS, WEIR_MAX_HEADER_NAME,
 *          WEIR_MAX_HEADER_VALUE, WEIR_MAX_KEY, WEIR_MAX_EVENT_PAYLOAD),
 *          WEIR_ENOTSUP, WEIR_ENOMEM.
 * @remark Nothing of @p init is kept. Release the event with
 *         weir_event_release(). Any thread.
 */
WEIR_API weir_err weir_event_new(
    weir_event **out, const weir_event_init *init);

/**
 * @brief Takes a reference. Returns the pointer to keep: for an event
 *        that lives only for a synchronous emit this is a heap copy.
 * @returns NULL only when copying runs out of memory.
 * @remark Any thread (atomic count).
 */
WEIR_API const weir_event *weir_event_hold(const weir_event *ev);
/** @brief Drops a reference taken by new or hold. NULL is a no-op. */
WEIR_API void weir_event_release(const weir_event *ev);

/* Accessors: the returned pointers are borrowed from the event. */

/** @brief The 16-byte UUIDv7 id. */
WEIR_API const uint8_t *weir_event_id(const weir_event *ev);
WEIR_API const char    *weir_event_topic(const weir_event *ev);
WEIR_API const void    *weir_event_key(const weir_event *ev, size_t *len);
/** @brief The payload; a copied payload starts 16-byte aligned. */
WEIR_API const void *weir_event_payload(const weir_event *ev, size_t *len);
/**
 * @brief Unix time in nanoseconds: the ts given at creation, or
 *        wall-clock time (CLOCK_REALTIME) when the event was made,
 *        within 50 us (up to 1 ms late in following a clock step).
 * @remark Follows steps of the wall clock, so two events of one thread
 *         may have decreasing ts; ids stay ordered within a thread.
 */
WEIR_API int64_t  weir_event_ts(const weir_event *ev);
WEIR_API uint64_t weir_event_seq(const weir_event *ev);
WEIR_API size_t   weir_event_header_count(const weir_event *ev);
/** @brief Header @p i; returns WEIR_ENOENT past the end. */
WEIR_API weir_err weir_event_header(const weir_event *ev, size_t i,
    const char **name, const void **value, size_t *len);
/** @brief First header named @p name, or NULL. */
WEIR_API const void *weir_event_header_get(
    const weir_event *ev, const char *name, size_t *len);
/**
 * @brief For an error or dead-letter event, the event that failed
 *        (borrowed from @p ev); otherwise NULL.
 */
WEIR_API const weir_event *weir_event_cause(const weir_event *ev);

/** @brief Formats a 16-byte id as 36 characters plus NUL. */
WEIR_API void weir_uuid_format(const uint8_t id[16], char out[37]);
/** @brief Parses the 36-character form (hex digits in either case);
 *         WEIR_EINVAL if malformed, and then @p id is left as it was. */
WEIR_API weir_err weir_uuid_parse(const char *text, uint8_t id[16]);
/** @brief A new UUIDv7 (time-ordered within a thread). */
WEIR_API void weir_uuid_v7(uint8_t id[16]);

/* ================================================================== */
/* Topic names and patterns (the NATS subject grammar)                */
/* ================================================================== */

/**
 * @brief Checks a topic: dot-separated non-empty tokens, no white
 *        space, no wildcard, at most WEIR_MAX_TOPIC bytes.
 * @returns WEIR_OK or WEIR_EBADTOPIC.
 */
WEIR_API weir_err weir_topic_validate(const char *topic);
/**
 * @brief Checks a pattern: like a topic, where a token may be `*` (one
 *        token) and the last token may be `>` (one or more tokens).
 * @returns WEIR_OK or WEIR_EBADPATTERN.
 */
WEIR_API weir_err weir_pattern_validate(const char *pattern);
/** @brief 1 if @p topic matches @p pattern, 0 if not (or invalid). */
WEIR_API int weir_pattern_match(const char *pattern, const char *topic);

/* ================================================================== */
/* Loops                                                              */
/* ================================================================== */
typedef struct weir_loop  weir_loop;
typedef struct weir_timer weir_timer;
typedef struct weir_watch weir_watch;

typedef enum weir_run_mode {
	WEIR_RUN_DEFAULT = 0, /* until stopped */
	WEIR_RUN_ONCE    = 1, /* wait for work once, do it, return */
	WEIR_RUN_NOWAIT  = 2  /* do what is ready, never wait */
} weir_run_mode;

#define WEIR_WATCH_READ 1
#define WEIR_WATCH_WRITE 2

typedef void (*weir_timer_fn)(weir_timer *t, void *arg);
typedef void (*weir_watch_fn)(weir_watch *w, int fd, int events, void *arg);

/** @brief Creates a loop (epoll or poll, chosen at build time). */
WEIR_API weir_err weir_loop_create(weir_loop **out);
/**
 * @brief Destroys a loop that is not running. Subscriptions still
 *        assigned to it must be closed first.
 * @returns WEIR_EBUSY (nothing freed) while it runs or has
 *          subscriptions.
 */
WEIR_API weir_err weir_loop_destroy(weir_loop *loop);
/**
 * @brief Runs the loop on the calling thread. All callbacks of the loop
 *        (timers, watchers, subscription handlers) run here.
 * @returns WEIR_OK, or WEIR_EBUSY if the loop already runs elsewhere or
 *          a host drives it.
 * @remark A weir_loop_stop() made while the loop is not running makes
 *         the next run return after one pass (as libuv's uv_stop).
 */
WEIR_API weir_err weir_loop_run(weir_loop *loop, weir_run_mode mode);
/**
 * @brief Asks weir_loop_run() to return after the current pass; never
 *        waits. Any thread, including the loop's own handlers.
 */
WEIR_API void weir_loop_stop(weir_loop *loop);
/**
 * @brief Waits until no thread runs the loop (after a weir_loop_stop(),
 *        the runner returns and this wakes).
 * @returns WEIR_OK, WEIR_EBUSY on the loop's own thread (it would wait
 *          for itself), WEIR_EINVAL.
 * @remark Any other thread. "stop" asks, "join" waits: the same pair as
 *         weir_bus_stop() / weir_bus_join().
 */
WEIR_API weir_err weir_loop_join(weir_loop *loop);
/** @brief A descriptor that polls readable when the loop has work. */
WEIR_API int weir_loop_fd(weir_loop *loop);
/** @brief The backend's name: "epoll" or "poll". */
WEIR_API const char *weir_loop_backend(void);

/**
 * @brief Starts a timer firing after @p timeout_ms and then every
 *        @p repeat_ms (0: once).
 * @remark Loop-thread API. The timer is freed by weir_timer_stop(),
 *         which may be called from its own callback; a one-shot timer
 *         must still be stopped.
 */
WEIR_API weir_err weir_timer_start(weir_timer **out, weir_loop *loop,
    uint64_t timeout_ms, uint64_t repeat_ms, weir_timer_fn cb, void *arg);
/** @brief Stops and frees a timer. Loop-thread API. */
WEIR_API void weir_timer_stop(weir_timer *t);

/**
 * @brief Watches @p fd for WEIR_WATCH_READ / WEIR_WATCH_WRITE.
 * @returns WEIR_OK; WEIR_EBUSY if a watcher of this loop not yet
 *          stopped has @p fd (one per fd: ask for both events in one);
 *          WEIR_EINVAL; WEIR_ENOMEM; the poller's error.
 * @remark Loop-thread API, like timers. The fd stays the caller's.
 */
WEIR_API weir_err weir_watch_start(weir_watch **out, weir_loop *loop, int fd,
    int events, weir_watch_fn cb, void *arg);
/** @brief Stops and frees a watcher. Loop-thread API. */
WEIR_API void weir_watch_stop(weir_watch *w);

/* ---- embedding in a host loop (libuv, libevent, the host's epoll) --- */

/**
 * @brief One non-blocking pass with a budget: due timers, ready fd
 *        watchers, then queued events until @p max_events handler
 *        calls (0: no limit) or @p max_ns nanoseconds (0: no limit).
 * @param done receives the number of handler calls; may be NULL.
 * @returns WEIR_OK when nothing ready is left, WEIR_EAGAIN when the
 *          budget ran out with work left (weir_loop_fd() stays
 *          readable), WEIR_EBUSY if the loop runs on another thread.
 * @remark Loop-thread API: call on the host loop's thread when
 *         weir_loop_fd() polls readable or weir_loop_timeout() expires.
 */
WEIR_API weir_err weir_loop_step(
    weir_loop *loop, size_t max_events, uint64_t max_ns, size_t *done);
/**
 * @brief Milliseconds until the loop needs a step without its fd
 *        becoming readable (its next timer); 0 if work is ready now;
 *        -1 if nothing is pending. For the host's poll timeout.
 * @remark Loop-thread API.
 */
WEIR_API int weir_loop_timeout(weir_loop *loop);
/**
 * @brief Marks the loop as driven by a host loop (adapters call it).
 * @param host a static name, e.g. "libuv".
 * @returns WEIR_EBUSY if another host is attached (weir_loop_host()
 *          names it) or a thread runs the loop, WEIR_EINVAL.
 */
WEIR_API weir_err weir_loop_attach_host(weir_loop *loop, const char *host);
/** @brief Ends an attachment made by weir_loop_attach_host(). */
WEIR_API void weir_loop_detach_host(weir_loop *loop);
/** @brief The attached host's name, or NULL. */
WEIR_API const char *weir_loop_host(weir_loop *loop);

/* ---- tuning ---------------------------------------------------------- */

/**
 * @brief Busy-polls for ready work up to @p usec microseconds before
 *        sleeping (0, the default, sleeps at once). Trades a core's
 *        idle time for wake-up latency.
 * @remark Any thread; takes effect at the loop's next wait.
 */
WEIR_API weir_err weir_loop_set_spin(weir_loop *loop, uint32_t usec);
/**
 * @brief Batch gathering: after a pass that took a small batch (under
 *        256 events) of a stream published from other threads, the loop
 *        waits up to @p usec microseconds before it looks again, so the
 *        next pass takes a larger batch (like a producer's linger.ms, on
 *        the consumer's side). Default 3; 0 turns it off.
 * @remark Trades up to @p usec of latency, for events of a steady stream
 *         only, for far fewer cache-line transfers between the
 *         publishers' cores and the loop's: a lone event, a handler
 *         publishing to its own loop and weir_loop_step() never wait.
 *         Any thread; takes effect at the loop's next pass.
 */
WEIR_API weir_err weir_loop_set_gather(weir_loop *loop, uint32_t usec);

/* ================================================================== */
/* The bus                                                            */
/* ================================================================== */
typedef struct weir_bus        weir_bus;
typedef struct weir_bus_config weir_bus_config;

#define WEIR_DEFAULT_MAX_PAYLOAD (1024u * 1024u)

WEIR_API weir_err weir_bus_config_create(weir_bus_config **out);
WEIR_API void     weir_bus_config_destroy(weir_bus_config *cfg);
/** @brief Largest payload accepted (default WEIR_DEFAULT_MAX_PAYLOAD). */
WEIR_API weir_err weir_bus_config_set_max_payload(
    weir_bus_config *cfg, size_t max);
/**
 * @brief Gives the bus @p n loops of its own, run by threads that
 *        weir_bus_start() creates (0: one per online core).
 * @remark Without this setting the bus has no loop threads and every
 *         subscription uses the default loop, run by the application.
 *         With it, subscriptions without an explicit loop are spread
 *         over the bus's loops round-robin.
 */
WEIR_API weir_err weir_bus_config_set_loops(weir_bus_config *cfg, size_t n);

/**
 * @brief Creates a bus with its default loop.
 * @param cfg may be NULL for defaults; it is copied.
 */
WEIR_API weir_err weir_bus_create(weir_bus **out, const weir_bus_config *cfg);
/**
 * @brief Destroys the bus: stops and joins its loop threads, closes
 *        every subscription, frees listeners, queued events and the
 *        default loop. Subscription and topic handles of the bus are
 *        invalid afterwards (do not unsubscribe or destroy them after).
 * @remark No application thread may be running the default loop, and
 *         no other call on the bus may be running or start.
 */
WEIR_API void weir_bus_destroy(weir_bus *bus);
/** @brief The bus's default loop (owned by the bus). */
WEIR_API weir_loop *weir_bus_loop(weir_bus *bus);
/** @brief weir_loop_run() on the default loop. */
WEIR_API weir_err weir_bus_run(weir_bus *bus, weir_run_mode mode);
/** @brief weir_loop_fd() of the default loop. */
WEIR_API int weir_bus_fd(weir_bus *bus);
/** @brief Number of loops owned by the bus (0 without set_loops). */
WEIR_API size_t weir_bus_loop_count(weir_bus *bus);
/** @brief Loop @p i of the bus, or NULL past the end. */
WEIR_API weir_loop *weir_bus_loop_at(weir_bus *bus, size_t i);
/**
 * @brief Starts one thread per bus loop, each running its loop.
 * @returns WEIR_EBUSY if already started, WEIR_EINVAL without loops,
 *          WEIR_EINTERNAL if a thread cannot be made (those started
 *          are stopped and joined again).
 */
WEIR_API weir_err weir_bus_start(weir_bus *bus);
/**
 * @brief Asks every loop of the bus (the default loop and the loop
 *        threads') to return from its run; never waits. Any thread,
 *        including handlers. Events still queued stay queued.
 */
WEIR_API void weir_bus_stop(weir_bus *bus);
/**
 * @brief Waits until the loop threads started by weir_bus_start() have
 *        returned (they do after weir_bus_stop()), so the bus can be
 *        started again. WEIR_OK at once if they are not started.
 * @returns WEIR_EBUSY from one of those threads (it would wait for
 *          itself), WEIR_EINVAL.
 */
WEIR_API weir_err weir_bus_join(weir_bus *bus);

/* ================================================================== */
/* Listeners and emit (synchronous, EventEmitter semantics)           */
/* ================================================================== */

/** Topic of the events that report a handler's failure. */
#define WEIR_TOPIC_ERROR "$weir.error"
/** Topic of the local dead letters. */
#define WEIR_TOPIC_DEAD "$weir.dead"

/**
 * @brief A listener or subscription handler. Returns WEIR_OK, an error
 *        (reported on WEIR_TOPIC_ERROR), or, for subscriptions that
 *        allow it, WEIR_EPENDING.
 * @remark @p ev is borrowed for the call; weir_event_hold() keeps it.
 */
typedef weir_err (*weir_handler)(
    weir_bus *bus, const weir_event *ev, void *arg);
/** Frees a handler's @p arg when its listener or subscription goes. */
typedef void (*weir_free_fn)(void *arg);

#define WEIR_ON_ONCE 1u    /* removed before its first call */
#define WEIR_ON_PREPEND 2u /* called before earlier listeners */

/**
 * Reserved topics on which the bus reports its own listener changes,
 * like Node's 'newListener' and 'removeListener'. The payload is the
 * listener's pattern (without a NUL). Both are emitted synchronously on
 * the thread that adds or removes the listener, with no lock held, so
 * their listeners may call weir_on() and weir_off(). While no listener
 * matches one of them, adding and removing listeners does not emit it.
 */
#define WEIR_TOPIC_LISTENER_NEW "$weir.listener.new"
#define WEIR_TOPIC_LISTENER_REMOVED "$weir.listener.removed"

/** Default per-pattern listener limit (Node's defaultMaxListeners). */
#define WEIR_DEFAULT_MAX_LISTENERS 10

/**
 * @brief Adds a listener for @p pattern. Listeners are called in
 *        registration order (prepended ones first, newest first).
 * @param arg_free called on @p arg when the listener is freed.
 * @param id receives a handle for weir_off(); may be NULL.
 * @returns WEIR_EBADPATTERN, WEIR_EINVAL, WEIR_ENOMEM; or the error of
 *          a WEIR_TOPIC_LISTENER_NEW listener when nobody listens to
 *          WEIR_TOPIC_ERROR (as when a Node 'newListener' listener
 *          throws). On error nothing is registered and arg_free is not
 *          called.
 * @remark Any thread. An emit already running does not see the new
 *         listener (its list was snapshotted). Before the listener is
 *         added, WEIR_TOPIC_LISTENER_NEW is emitted (so its own
 *         listeners do not see themselves added). When the pattern then
 *         has more listeners than the bus's limit for the first time
 *         (weir_bus_set_max_listeners()), the warning hook is called
 *         once; the listener is registered all the same.
 */
WEIR_API weir_err weir_on(weir_bus *bus, const char *pattern, weir_handler fn,
    void *arg, weir_free_fn arg_free, unsigned flags, uint64_t *id);
/**
 * @brief Removes a listener by handle.
 * @returns WEIR_ENOENT if unknown (or already removed), WEIR_EINVAL.
 * @remark Any thread. A listener removed during an emit is still called
 *         by that emit (the list was snapshotted), as in Node. arg_free
 *         runs once no emit still uses the listener (at once, or when
 *         the last such emit ends, on its thread).
 *         WEIR_TOPIC_LISTENER_REMOVED is emitted after the removal; a
 *         failure of its listeners does not undo it and is not returned
 *         (it goes to WEIR_TOPIC_ERROR when somebody listens there).
 */
WEIR_API weir_err weir_off(weir_bus *bus, uint64_t id);
/**
 * @brief Removes one listener registered with exactly @p pattern and
 *        the same @p fn and @p arg, as Node's removeListener(name, fn):
 *        of several such registrations, the one an emit calls last
 *        (without WEIR_ON_PREPEND, the most recently added).
 * @returns WEIR_OK, WEIR_ENOENT if none matches, WEIR_EBADPATTERN,
 *          WEIR_EINVAL.
 * @remark Any thread; may be called from a handler, also for a
 *         listener of the running emit (which still calls it). Emits
 *         WEIR_TOPIC_LISTENER_REMOVED as weir_off() does; @p arg is
 *         compared, never dereferenced, and freed by the listener's
 *         arg_free if it had one.
 */
WEIR_API weir_err weir_off_fn(
    weir_bus *bus, const char *pattern, weir_handler fn, void *arg);
/**
 * @brief Removes every listener registered with exactly @p pattern,
 *        or every listener when @p pattern is NULL.
 * @param removed receives how many; may be NULL.
 * @remark Any thread. The listeners go at once; then one
 *         WEIR_TOPIC_LISTENER_REMOVED is emitted per removed listener,
 *         to the listeners of that topic still registered (unlike
 *         Node's removeAllListeners(), which removes its
 *         'removeListener' listeners last and tells them first).
 */
WEIR_API weir_err weir_off_all(
    weir_bus *bus, const char *pattern, size_t *removed);
/** @brief Number of listeners an emit on @p topic would call. */
WEIR_API size_t weir_listener_count(weir_bus *bus, const char *topic);
/**
 * @brief The patterns that have at least one listener, as Node's
 *        eventNames(): each once, in the order in which they got their
 *        first listener (a pattern left without listeners and given one
 *        again moves to the end).
 * @param out receives a NULL-terminated array of @p *count strings,
 *        allocated as one block: free it with weir_free(*out). It is a
 *        copy: later changes of the bus do not alter it.
 * @param count receives the number of patterns; may be NULL.
 * @returns WEIR_OK, WEIR_EINVAL, WEIR_ENOMEM (then *out is NULL).
 * @remark Any thread; the list is taken under the bus's lock, so it is
 *         one instant of the registry.
 */
WEIR_API weir_err weir_listener_patterns(
    weir_bus *bus, char ***out, size_t *count);

/**
 * @brief A listener-leak warning: @p pattern (borrowed for the call)
 *        has @p count listeners, more than the bus's limit.
 */
typedef void (*weir_warning_fn)(
    weir_bus *bus, const char *pattern, size_t count, void *arg);
/**
 * @brief Sets the per-pattern listener limit, as Node's
 *        setMaxListeners(): when weir_on() gives a pattern more than
 *        @p max listeners, the warning hook (weir_bus_set_warning()) is
 *        called once for that pattern. Default
 *        WEIR_DEFAULT_MAX_LISTENERS; 0 means no limit.
 * @returns WEIR_OK, WEIR_EINVAL for a NULL bus.
 * @remark Any thread. The limit only warns: registration still
 *         succeeds. A pattern warns once for as long as it has
 *         listeners; left without any, it may warn again (as a Node
 *         event name does). Changing the limit does not re-arm
 *         patterns that warned already.
 */
WEIR_API weir_err weir_bus_set_max_listeners(weir_bus *bus, size_t max);
/** @brief The per-pattern listener limit (0: none); 0 for NULL. */
WEIR_API size_t weir_bus_max_listeners(weir_bus *bus);
/**
 * @brief Sets the hook called when a pattern exceeds the listener
 *        limit. NULL restores the default, which writes one line to
 *        stderr: "weir: MaxListenersExceededWarning: possible listener
 *        leak: N listeners on pattern "P" (max M); raise the limit with
 *        weir_bus_set_max_listeners()".
 * @returns WEIR_OK, WEIR_EINVAL for a NULL bus.
 * @remark Any thread. The hook runs on the thread whose weir_on()
 *         crossed the limit, after the listener was added and with no
 *         lock held (it may add or remove listeners). @p arg is
 *         borrowed: it must outlive the bus or a later set_warning.
 */
WEIR_API weir_err weir_bus_set_warning(
    weir_bus *bus, weir_warning_fn fn, void *arg);

/**
 * @brief Calls every listener matching @p topic, synchronously, in
 *        order. The list is snapshotted when the emit starts.
 * @param data borrowed for the call (never kept: hold() copies).
 * @param called receives the number of listeners this emit called
 *        (one that failed included), so 0 means nobody listened, as
 *        Node's emit() returning false; may be NULL. It is set on every
 *        return (0 for bad input).
 * @returns WEIR_OK; the first handler error when no listener of
 *          WEIR_TOPIC_ERROR exists, or when memory runs out making the
 *          error event (remaining listeners are not called, as when a
 *          Node listener throws); WEIR_EBADTOPIC,
 *          WEIR_ETOOBIG, WEIR_EINVAL for bad input.
 * @remark Any thread; listeners run on it. The event's id and ts are
 *         taken when first read. Listeners of WEIR_TOPIC_ERROR called
 *         for a failure are not counted in @p called.
 * @remark The topic is looked up in a small per-thread cache (fixed
 *         size, no lock; refreshed after any registry change), so a
 *         repeated emit by string costs about what a topic handle does.
 *         The cache holds no reference: weir_off() from any thread is
 *         honoured by every emit that starts after it returns.
 */
WEIR_API weir_err weir_emit(weir_bus *bus, const char *topic, const void *data,
    size_t len, size_t *called);
/**
 * @brief Emits an existing event (borrowed for the call).
 * @param called as for weir_emit(); may be NULL.
 */
WEIR_API weir_err weir_emit_event(
    weir_bus *bus, const weir_event *ev, size_t *called);

/* ================================================================== */
/* Topic handles                                                      */
/* ================================================================== */
typedef struct weir_topic weir_topic;

/**
 * @brief Resolves a topic once, so that emit and publish skip parsing
 *        and matching while no listener or subscription changes.
 * @remark A topic handle is used by one thread at a time (like a
 *         prepared statement); make one per thread. Free it with
 *         weir_topic_destroy() before the bus.
 */
WEIR_API weir_err weir_topic_create(
    weir_topic **out, weir_bus *bus, const char *topic);
WEIR_API void        weir_topic_destroy(weir_topic *t);
WEIR_API const char *weir_topic_name(const weir_topic *t);
/**
 * @brief weir_emit() on a resolved topic.
 * @param called as for weir_emit(); may be NULL.
 * @remark The topic handle's thread only (see weir_topic_create()).
 */
WEIR_API weir_err weir_emit_topic(
    weir_topic *t, const void *data, size_t len, size_t *called);
/** @brief weir_publish() on a resolved topic (copies @p data). */
WEIR_API weir_err weir_publish_topic(
    weir_topic *t, const void *data, size_t len);

/* ================================================================== */
/* Subscriptions and publish (queued)                                 */
/* ================================================================== */
typedef struct weir_subscr        weir_subscr;
typedef struct weir_subscr_config weir_subscr_config;

typedef enum weir_policy {
	WEIR_POLICY_BLOCK       = 0, /* publisher waits, up to a timeout */
	WEIR_POLICY_REJECT      = 1, /* publish fails with WEIR_EFULL */
	WEIR_POLICY_DROP_OLDEST = 2, /* the oldest queued event goes */
	WEIR_POLICY_DROP_NEWEST = 3, /* the new event goes */
	WEIR_POLICY_COALESCE    = 4  /* newest event per key, in place */
} weir_policy;

/**
 * Watermark callback: on_pressure when a queue reaches its high
 * watermark, on_drain when, after a pressure, it falls back to its low
 * one (Node's write() === false and 'drain').
 *
 * Order: for one subscription the two alternate, pressure first, and
 * never run at the same time: every pressure is followed by exactly one
 * drain once the depth is <= low, and no pressure comes before that
 * drain (reaching high again in between fires nothing).
 *
 * Thread: each runs on the thread that makes its transition. Usually
 * on_pressure runs on the publishing thread, inside weir_publish*(),
 * and on_drain on the subscription's loop, during dispatch (for a pull
 * subscription, on the weir_subscr_next() caller whose take brought
 * the depth to low). But if the queue is emptied while on_pressure
 * runs (or just before), the drain is delivered at once by the same
 * publishing thread, after on_pressure returns; and if publishers fill
 * the queue to high while on_drain runs (or on_drain publishes), the
 * next pressure is delivered by the thread that ran on_drain, after it
 * returns. So a callback must not take a lock its publisher holds
 * around weir_publish*(), and must not wait for the other callback (it
 * would wait for itself).
 * A subscription closed while pressured gets no drain.
 */
typedef void (*weir_pressure_fn)(weir_subscr *sub, void *arg);

/* ---- the subscription config (copied by weir_subscribe) ------------- */

WEIR_API weir_err weir_subscr_config_create(weir_subscr_config **out);
WEIR_API void     weir_subscr_config_destroy(weir_subscr_config *sc);
/** @brief Queue bound, > 0 (default 1024). */
WEIR_API weir_err weir_subscr_config_set_capacity(
    weir_subscr_config *sc, size_t capacity);
/**
 * @brief Policy at the bound (default BLOCK). @p block_timeout_ms is
 *        the BLOCK wait (-1: forever; 0: fail at once).
 * @remark The BLOCK timeout bounds a publish call, not each queue: a
 *         call that finds several BLOCK queues full waits until one
 *         deadline, the time of its first wait plus the smallest
 *         timeout among the full queues it has met so far (see
 *         weir_publish).
 * @remark COALESCE keeps the newest event per key. A new event whose
 *         key is already queued replaces the queued one in its place:
 *         the key keeps its position in the queue (it does not move to
 *         the tail), so after A1 B1 A2 the handler gets A2 then B1.
 *         An event without a key is never coalesced. When the queue is
 *         full of distinct keys, the event at the oldest position is
 *         dropped, even if it was just replaced by a newer one.
 */
WEIR_API weir_err weir_subscr_config_set_policy(
    weir_subscr_config *sc, weir_policy policy, int64_t block_timeout_ms);
/**
 * @brief Watermarks (low < high <= capacity) and their callbacks (see
 *        weir_pressure_fn for their order and threads); either may be
 *        NULL, and the stats count both transitions regardless.
 * @returns WEIR_EINVAL if @p sc is NULL, @p high is 0 or low >= high.
 * @remark weir_subscribe() refuses a high watermark above the capacity
 *         (WEIR_EINVAL).
 */
WEIR_API weir_err weir_subscr_config_set_watermarks(weir_subscr_config *sc,
    size_t high, size_t low, weir_pressure_fn on_pressure,
    weir_pressure_fn on_drain, void *arg);
/** @brief The loop that dispatches (default: see set_loop_index). */
WEIR_API weir_err weir_subscr_config_set_loop(
    weir_subscr_config *sc, weir_loop *loop);
/**
 * @brief Assigns the subscription to the bus's loop @p index
 *        (checked at subscribe: WEIR_EINVAL past the end). Without
 *        set_loop or this, a bus with loops spreads subscriptions over
 *        them round-robin; a bus without uses its default loop.
 */
WEIR_API weir_err weir_subscr_config_set_loop_index(
    weir_subscr_config *sc, size_t index);
/** @brief A name for stats and dead letters (default: the pattern). */
WEIR_API weir_err weir_subscr_config_set_name(
    weir_subscr_config *sc, const char *name);
/**
 * @brief At most @p max deferred deliveries open at once (0: no
 *        bound, the default); dispatch pauses while at the bound and
 *        resumes when one completes.
 */
WEIR_API weir_err weir_subscr_config_set_max_in_flight(
    weir_subscr_config *sc, size_t max);
/**
 * @brief Token-bucket rate limit: at most @p per_sec handler calls per
 *        second on average, @p burst at once (>= 1). Events wait in the
 *        queue (its policy applies when it fills); a timer resumes
 *        dispatch. @p per_sec 0 removes the limit.
 */
WEIR_API weir_err weir_subscr_config_set_rate(
    weir_subscr_config *sc, double per_sec, double burst);
/**
 * @brief Debounce: events are held per key (events without a key
 *        share one slot) and only the last one of a key is delivered,
 *        once the key has been quiet for @p quiet_ms (> 0; 0 turns it
 *        off). Replaced events count as `debounced`.
 */
WEIR_API weir_err weir_subscr_config_set_debounce(
    weir_subscr_config *sc, uint32_t quiet_ms);
/**
 * @brief Retries a failed delivery up to @p max_attempts calls in all
 *        (>= 1), waiting base_ms * 2^(n-1) capped at @p max_ms, with
 *        jitter (a uniform draw in [d/2, d]), then publishes a dead
 *        letter on WEIR_TOPIC_DEAD (and emits it to its listeners).
 * @remark The subscription pauses while a retry waits, so events keep
 *         their order. A dead letter's cause is the original event;
 *         its headers are weir-topic, weir-error, weir-code,
 *         weir-attempts and weir-subscr. With retry set, failures are
 *         not also reported on WEIR_TOPIC_ERROR.
 */
WEIR_API weir_err weir_subscr_config_set_retry(weir_subscr_config *sc,
    uint32_t max_attempts, uint32_t base_ms, uint32_t max_ms);

/* ---- subscribe, unsubscribe ----------------------------------------- */

/**
 * @brief Subscribes @p fn to @p pattern with a bounded queue.
 * @param fn the handler, or NULL for a pull subscription: one that no
 *        loop dispatches, whose events the application takes with
 *        weir_subscr_next() on threads of its own.
 * @param arg_free called on @p arg once the subscription is closed
 *        and no handler call runs (for a pull subscription too: at once
 *        in weir_unsubscribe()); may be NULL.
 * @param sc may be NULL for defaults; it is copied.
 * @returns WEIR_EBADPATTERN, WEIR_EINVAL, WEIR_ENOMEM; on error nothing
 *          is registered and arg_free is not called. A pull subscription
 *          whose config sets a loop, a loop index, max in-flight, a rate
 *          limit, debounce or retry gets WEIR_EINVAL: they pace or
 *          re-run handler calls, and a pull subscription has none.
 * @remark Any thread. The handler runs on the subscription's loop.
 *         arg_free runs once the subscription is closed and its handler
 *         no longer runs (weir_unsubscribe() says when and where).
 */
WEIR_API weir_err weir_subscribe(weir_subscr **out, weir_bus *bus,
    const char *pattern, weir_handler fn, void *arg, weir_free_fn arg_free,
    const weir_subscr_config *sc);
/**
 * @brief Closes a subscription: it no longer matches publishes, no
 *        handler call starts after this returns, publishers waiting
 *        for room in its full BLOCK queue return WEIR_ECLOSED, and it
 *        is freed once no handler call runs. Do not use @p sub after
 *        this call.
 * @remark Any thread, including a handler (of this subscription or any
 *         other, on any loop). arg_free runs exactly once, when no
 *         handler call of @p sub runs any more: at once, on the
 *         caller's thread, if no loop is dispatching @p sub; otherwise
 *         on the loop thread that is, as soon as its current call
 *         returns (for a handler that closes its own subscription: on
 *         its thread, after it returns). Queued events are released
 *         at the same moment.
 * @remark From a thread that runs no loop, this waits for that call:
 *         arg_free has run when it returns, and the caller may free
 *         what @p arg points to.
 * @remark From a loop thread (a handler, a timer or watcher callback,
 *         or a thread inside weir_loop_run() / weir_loop_step()) it
 *         never waits for a call running on another thread, which could
 *         be waiting for this one: that call may still be running when
 *         this returns, and arg_free may not have run yet. Leave @p arg
 *         to arg_free; never free it after this call returns.
 * @remark Not after weir_bus_destroy(), which closes and frees every
 *         subscription of the bus itself: @p sub is freed memory then,
 *         and weir_unsubscribe() on it is a use-after-free. As for
 *         topic handles: unsubscribe before weir_bus_destroy(), or
 *         forget the handle.
 */
WEIR_API void weir_unsubscribe(weir_subscr *sub);

/**
 * @brief Takes the next event of a pull subscription (one created with
 *        a NULL handler), waiting up to @p timeout_ms for one.
 * @param sub a pull subscription.
 * @param ev receives the event, oldest first; NULL unless WEIR_OK.
 * @param timeout_ms -1 waits until an event comes or the subscription
 *        closes; 0 only looks; > 0 waits at most that long.
 * @returns WEIR_OK with @p *ev set; WEIR_ETIMEDOUT if no event came in
 *          time (at once for 0); WEIR_ECLOSED once the subscription is
 *          being unsubscribed (weir_unsubscribe(), weir_bus_destroy()),
 *          also for calls blocked in the wait when that happens;
 *          WEIR_EINVAL for NULL arguments, a timeout below -1, or a
 *          subscription with a handler.
 * @remark Ownership: the caller gets the queue's reference to the event
 *         and releases it with weir_event_release(), on any thread.
 * @remark Threads: any thread, and several at once: each event goes to
 *         exactly one caller; one caller gets the events of one
 *         publisher in publish order. The subscription's policy applies
 *         as for a handler: BLOCK publishers wait until a caller takes
 *         an event, REJECT / DROP / COALESCE act at the bound, and the
 *         stats count each outcome; `delivered` counts events taken.
 *         The drain watermark callback runs on the caller that brings
 *         the depth down to the low mark. A thread that both publishes
 *         to a full BLOCK pull subscription and is its only consumer
 *         waits for itself: give it a block timeout.
 * @remark Lifetime: weir_unsubscribe() may run on another thread while
 *         callers wait here; they return WEIR_ECLOSED, and the last of
 *         them to leave frees the subscription (arg_free has run in
 *         weir_unsubscribe(): a pull subscription has no handler call
 *         to wait for).
 *         A call that starts after weir_unsubscribe() was called uses a
 *         freed handle: stop the consumers first, or let the consumer
 *         unsubscribe itself (e.g. on a stop event it takes).
 */
WEIR_API weir_err weir_subscr_next(
    weir_subscr *sub, const weir_event **ev, int64_t timeout_ms);
/** @brief The subscription's name (owned by it). */
WEIR_API const char *weir_subscr_name(const weir_subscr *sub);

/* ---- publish --------------------------------------------------------- */

#define WEIR_PUBLISH_TAKE 1u /* the bus takes @p data (see below) */

/**
 * @brief Queues an event on every matching subscription.
 * @param data copied, unless flags has WEIR_PUBLISH_TAKE: then @p data
 *        (freed with @p free_fn, or weir_free() if NULL) belongs to the
 *        bus once the event is made, whatever the queues answered
 *        (WEIR_OK, WEIR_EFULL, WEIR_ETIMEDOUT, WEIR_ECLOSED); on
 *        WEIR_EINVAL, WEIR_EBADTOPIC, WEIR_ETOOBIG or WEIR_ENOMEM the
 *        caller keeps it.
 * @returns WEIR_OK (also when nothing matches); when a subscription did
 *          not get the event (the others still did), the first that
 *          applies of: WEIR_ETIMEDOUT if a BLOCK wait expired;
 *          WEIR_ECLOSED if a subscription was closed
 *          (weir_unsubscribe()) while the call waited for room in its
 *          full BLOCK queue; WEIR_EFULL if a REJECT subscription (or a
 *          BLOCK one with a 0 timeout, or one of the caller's own loop)
 *          was full. WEIR_EBADTOPIC, WEIR_ETOOBIG, WEIR_EINVAL,
 *          WEIR_ENOMEM for bad input.
 * @remark BLOCK waits: the queues are offered the event one after the
 *         other, and all the waits of the call share ONE deadline,
 *         counted from its first wait (the start). Each full BLOCK
 *         queue with a timeout, as the call meets it, brings the
 *         deadline to start + that timeout if that is sooner (possibly
 *         already past: that queue then times out without waiting); a
 *         wait under way is not cut short by a queue met later. Every
 *         wait ends at the deadline, also on a queue whose own timeout
 *         is -1; before any deadline is set (only -1 queues met) a wait
 *         lasts until there is room or the subscription is closed. So
 *         N stalled queues with timeout T cost the call one T, not N.
 * @remark Any thread; never calls a handler. Without flags the topic
 *         goes through the same per-thread cache as weir_emit().
 */
WEIR_API weir_err weir_publish(weir_bus *bus, const char *topic,
    const void *data, size_t len, unsigned flags, weir_free_fn free_fn);
/** @brief Queues an existing event (a reference is taken per queue). */
WEIR_API weir_err weir_publish_event(weir_bus *bus, const weir_event *ev);

/** One payload of a batch. Frozen for 1.x (an array item, like
 * weir_header). */
typedef struct weir_buf {
	const void *data; /* may be NULL when len is 0 */
	size_t      len;
} weir_buf;

/**
 * @brief Queues @p n events on the subscriptions of a topic handle in
 *        one hand-off: what n weir_publish_topic() calls would queue,
 *        in order, for a fraction of the cost per event.
 * @param bufs the payloads, copied; bufs[i] becomes the i-th event.
 * @param accepted set (if not NULL) to the number of leading events
 *        that every matching subscription took: queued, or disposed of
 *        by its policy (DROP_OLDEST, DROP_NEWEST, COALESCE), as
 *        weir_publish() would have returned WEIR_OK for each. n when
 *        the call returns WEIR_OK (also when nothing matches); 0 on
 *        bad input.
 * @returns WEIR_OK; or, when a subscription refused an event, the same
 *          outcome weir_publish() reports (WEIR_ETIMEDOUT, then
 *          WEIR_ECLOSED, then WEIR_EFULL); WEIR_ENOMEM if events could
 *          not be made (those before were offered, see @p accepted);
 *          WEIR_EINVAL (NULL @p t, NULL @p bufs with n > 0, a NULL
 *          data with a length) or WEIR_ETOOBIG (a payload over the
 *          bus's limit) before anything is queued.
 * @remark At the bound each event meets the subscription's policy as a
 *         single publish would: DROP_OLDEST drops the oldest queued
 *         events (earlier events of the same batch too: a batch larger
 *         than the capacity leaves its newest events queued), DROP_NEWEST
 *         drops each event that finds the queue full, COALESCE replaces
 *         by key, BLOCK waits for room. A refusal (REJECT full, or a
 *         BLOCK queue with a 0 timeout or on the caller's own loop;
 *         a BLOCK wait that timed out or was ended by weir_unsubscribe())
 *         is counted once, for the refused event, and the rest of the
 *         batch is not offered to that subscription (nor counted in its
 *         published): each subscription gets a prefix of the batch.
 *         The others still get every event. So with one subscription,
 *         resending bufs[*accepted..] after room is made neither
 *         reorders nor duplicates; with several, the subscriptions that
 *         took more get those again. All BLOCK waits of the call share
 *         one deadline, as in weir_publish().
 * @remark The events share one timestamp; their ids are distinct and
 *         rise in batch order. A subscription dispatches them in batch
 *         order, after what the thread published before.
 * @remark The topic handle's thread only (see weir_topic_create());
 *         never calls a handler.
 */
WEIR_API weir_err weir_publish_batch(
    weir_topic *t, const weir_buf *bufs, size_t n, size_t *accepted);

/* ================================================================== */
/* Asynchronous delivery                                              */
/* ================================================================== */
typedef struct weir_delivery weir_delivery;

/**
 * @brief Inside a subscription handler: turns the current delivery
 *        into one that completes later. The handler then returns
 *        WEIR_EPENDING (its return value is otherwise ignored), and
 *        the token must be completed exactly once.
 * @returns WEIR_EINVAL outside a subscription handler, WEIR_ENOMEM.
 * @remark The token holds the event and the subscription until it is
 *         completed; max in-flight counts open tokens. Tokens must be
 *         completed before weir_bus_destroy().
 */
WEIR_API weir_err weir_delivery_defer(weir_delivery **out);
/** @brief The event of a deferred delivery (owned by the token). */
WEIR_API const weir_event *weir_delivery_event(const weir_delivery *d);
/** @brief The subscription of a deferred delivery. */
WEIR_API weir_subscr *weir_delivery_subscr(const weir_delivery *d);
/**
 * @brief Completes a deferred delivery with the handler's outcome and
 *        frees the token. An error takes the subscription's failure
 *        path (retry, dead letter, WEIR_TOPIC_ERROR).
 * @remark Any thread. Completing after the subscription was closed
 *         only frees the token. A token does not keep the handler's
 *         arg: arg_free may have run when it is completed.
 */
WEIR_API void weir_delivery_complete(weir_delivery *d, weir_err result);
/** @brief The subscription whose handler runs on this thread, or NULL. */
WEIR_API weir_subscr *weir_subscr_current(void);

/* ================================================================== */
/* Stats                                                              */
/* ================================================================== */

/** Percentiles of a log-linear histogram (within 1/8 of the value). */
typedef struct weir_latency {
	uint64_t count;
	uint64_t p50_ns;
	uint64_t p99_ns;
	uint64_t p999_ns;
	uint64_t max_ns;
} weir_latency;

/** Exact counters of one subscription. */
typedef struct weir_subscr_stats {
	size_t   size;       /* sizeof(weir_subscr_stats) */
	uint64_t published;  /* offered to the queue */
	uint64_t delivered;  /* handler calls finished (pull: taken) */
	uint64_t failed;     /* handler returned an error */
	uint64_t dropped;    /* DROP_OLDEST / DROP_NEWEST */
	uint64_t rejected;   /* REJECT, or BLOCK with a 0 timeout */
	uint64_t timed_out;  /* BLOCK waits that expired */
	uint64_t coalesced;  /* replaced by a newer event of its key */
	uint64_t queued;     /* in the queue now */
	uint64_t high_water; /* deepest the queue has been */
	uint64_t pressure;   /* pressure callbacks */
	uint64_t drain;      /* drain callbacks */
	/* the defences and the dispatch latency */
	uint64_t     in_flight;    /* deferred deliveries open now */
	uint64_t     deferred;     /* deliveries deferred in all */
	uint64_t     retried;      /* delivery attempts after a failure */
	uint64_t     dead;         /* dead letters published */
	uint64_t     rate_delayed; /* dispatch pauses for the rate limit */
	uint64_t     debounced;    /* events replaced while debouncing */
	weir_latency latency;      /* ts to its run's dispatch (pull: take) */
	uint64_t     closed;       /* BLOCK waits ended by weir_unsubscribe */
} weir_subscr_stats;

/**
 * @brief The subscription's counters; @p out->size must be set.
 * @remark Any thread; counters are read one by one (each exact, the
 *         set not a single instant).
 */
WEIR_API weir_err weir_subscr_stats_get(
    const weir_subscr *sub, weir_subscr_stats *out);

/** Counters of a loop, written by its thread only. */
typedef struct weir_loop_stats {
	size_t   size;          /* sizeof(weir_loop_stats) */
	uint64_t passes;        /* run or step passes */
	uint64_t wakeups;       /* wake-ups by the wake fd */
	uint64_t dispatched;    /* handler calls */
	uint64_t spins;         /* waits that spun first */
	uint64_t spin_hits;     /* ... and found work while spinning */
	uint64_t steps;         /* weir_loop_step() calls */
	uint64_t budget_out;    /* steps that ran out of budget */
	uint64_t gathers;       /* waits for a batch (weir_loop_set_gather) */
	uint64_t subscriptions; /* assigned now */
} weir_loop_stats;

/** @brief The loop's counters; @p out->size must be set. Any thread. */
WEIR_API weir_err weir_loop_stats_get(weir_loop *loop, weir_loop_stats *out);

/**
 * @brief The bus's loops and subscriptions with all their counters as
 *        one JSON object. Free it with weir_free().
 * @returns NULL if out of memory, here or in a stats section: never a
 *          text with a member left out.
 * @remark Any thread; counters are read one by one.
 */
WEIR_API char *weir_bus_stats_json(weir_bus *bus);

/**
 * Returns one JSON value (object, array, number...) for a stats section,
 * allocated with weir's allocator (the bus frees it with weir_free()),
 * or NULL if it failed (out of memory): weir_bus_stats_json() then
 * returns NULL rather than a text with the member missing. It runs inside
 * weir_bus_stats_json(), on its caller's thread, and must not call
 * weir_bus_stats_json() or add or remove sections.
 */
typedef char *(*weir_stats_section_fn)(weir_bus *bus, void *arg);

/**
 * @brief Adds a section to weir_bus_stats_json(): the top-level member
 *        @p name (copied; [a-z0-9_]+, not "loops" or "subscriptions")
 *        with the value @p fn returns. For modules built over core
 *        (the bridge), so that core needs to know nothing of them.
 * @param arg borrowed: it must stay valid until the section is removed
 *        or the bus destroyed.
 * @returns WEIR_EINVAL (NULL argument), WEIR_EBADNAME, WEIR_EEXIST (the
 *          name is taken), WEIR_ENOMEM.
 * @remark Any thread.
 */
WEIR_API weir_err weir_bus_add_stats_section(
    weir_bus *bus, const char *name, weir_stats_section_fn fn, void *arg);
/**
 * @brief Removes the section @p name. When it returns, its function is
 *        not running and will not run again.
 * @returns WEIR_EINVAL, WEIR_ENOENT.
 * @remark Any thread, but not from the section's own function.
 */
WEIR_API weir_err weir_bus_remove_stats_section(
    weir_bus *bus, const char *name);

#ifdef __cplusplus
}
#endif
#endif /* WEIR_WEIR_H */
