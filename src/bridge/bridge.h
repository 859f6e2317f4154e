/*
 * weir::bridge internals: the bridge, its backends and its routes. Who
 * owns what: the controlling thread owns the bridge's lists; a route's
 * relay thread owns its window and breaker; `lock` guards what the
 * intake (bus loop), the sink (any backend thread) and the relay share.
 */
#ifndef WEIR_BRIDGE_BRIDGE_H
#define WEIR_BRIDGE_BRIDGE_H

#include <pthread.h>
#include <stdatomic.h>

#include <weir/bridge.h>

#include "bridge/breaker.h"
#include "bridge/handoff.h"
#include "bridge/template.h"

#define WEIR__BRIDGE_ERRMSG 512

struct weir_sink {
	weir_bridge *br;
};

typedef struct weir__backend {
	const weir_backend_ops *ops;
	void                   *state;
	int                     started;
	char *start_err; /* partial start: why start failed, or NULL */
} weir__backend;

/* An acknowledgement on its way from the sink to the relay. */
typedef struct weir__ack {
	uint64_t token;
	weir_err result;
	int      retriable;
	char    *reason; /* copied, may be NULL */
} weir__ack;

typedef enum weir__slot_state {
	WEIR__SLOT_WAIT = 0, /* to be sent */
	WEIR__SLOT_FLIGHT,   /* sent, no outcome yet */
	WEIR__SLOT_DONE      /* acknowledged or dead-lettered */
} weir__slot_state;

/* A rendered destination, shared by the slots of one topic. The relay
 * thread alone counts its references. */
typedef struct weir__dest {
	size_t refs;
	char  *topic;
	char   text[]; /* the destination */
} weir__dest;

/* One event in a route's window, in seq order. */
typedef struct weir__slot {
	const weir_event *ev; /* held */
	uint64_t          seq;
	uint64_t          token; /* of the current send; 0: none */
	weir__slot_state  state;
	uint32_t          attempts;
	int64_t           sent_ms;
	weir__dest       *dest; /* held */
	const void       *key;  /* borrowed from ev */
	size_t            key_len;
	uint64_t          key_hash; /* of key, for the relay's key set */
	int serial; /* failed retriably, not yet done: its key waits for it */
} weir__slot;

/* An entry of the relay's key set, live when gen is the pass's. */
typedef struct weir__keyent {
	const weir__slot *slot;
	uint64_t          gen;
	int               block; /* later slots of the key wait */
} weir__keyent;

typedef struct weir__route {
	weir_bridge    *br;
	size_t          index;
	char           *name;
	char           *pattern;
	char           *cursor_name;
	weir__template  dest;
	weir__keychoice key;
	weir__backend  *be;
	int             direct;
	int             echo; /* send events from this broker too */
	uint32_t        window;
	uint64_t        max_backlog;
	uint32_t        max_attempts;
	char *refused; /* why the last start refused it (partial start) */

	weir_subscr *sub; /* the intake */

	/* shared: intake, sink, relay */
	pthread_mutex_t    lock;
	pthread_cond_t     cond;
	weir__ack         *acks;
	size_t             nacks, cap_acks;
	weir_delivery     *parked; /* intake paused at max_backlog */
	const weir_event **ring;   /* direct mode queue */
	size_t             ring_head, ring_count;
	uint64_t           appended; /* highest seq the intake committed */
	weir__handoff      handoff;  /* committed events, for the relay */
	int                stopping;
	int                wake; /* something to look at */
	int cursor_queued; /* a cursor write is with the store's writer */

	/* the relay thread's own */
	pthread_t     thread;
	int           running;
	weir__slot   *slots; /* ring of `window` slots, oldest at head */
	size_t        head, count;
	weir__keyent *keys; /* keys of unfinished slots, per send pass */
	size_t        keys_mask;
	uint64_t      keys_gen;
	int           ordered;   /* the sink keeps order: keys pipeline */
	int           one_dest;  /* the destination has no tokens */
	size_t        flying;    /* slots in flight */
	size_t        serials;   /* unfinished slots with serial set */
	size_t        fresh;     /* ordered: offset of the first unsent slot */
	int64_t       lost_ms;   /* last look for lost acknowledgements */
	uint64_t      next_seq;  /* next store seq to read */
	uint64_t      local_seq; /* direct mode numbering */
	uint64_t      next_token;
	int64_t       backoff_until;
	int64_t       last_read_ms;
	weir__dest   *dest_last;  /* the last destination rendered */
	uint64_t      cursor_due; /* seq to write to the cursor; 0: none */
	int64_t       cursor_ms;  /* when the cursor was last written */
	uint64_t      rng;
	weir__breaker brk;

	/* stats, read by any thread */
	atomic_uint_least64_t sent, acked, retried, dead, paused, opens;
	/* intake appends the store refused: no dead letter possible */
	atomic_uint_least64_t store_failed;
	atomic_uint_least64_t echoes; /* not sent: came from this broker */
	atomic_uint_least64_t cursor;
	/* where the relay took events from (tests, docs/benchmarks.md) */
	atomic_uint_least64_t from_memory, from_store;
	atomic_int_least64_t  backlog;
	atomic_int_least64_t  oldest_ts; /* ns of the head slot; 0: none */
	atomic_int            breaker;
} weir__route;

typedef struct weir__source weir__source;

struct weir_bridge {
	weir_bus           *bus;
	weir_store         *store;
	weir_bridge_config *cfg;
	weir_sink           sink;
	weir__backend     **backends;
	size_t              nbackends;
	weir__route       **routes;
	size_t              nroutes;
	weir__source      **sources; /* inbound.c */
	size_t              nsources;
	struct weir_inlet **inlets;
	size_t              ninlets;
	int                 started;
	weir_loop          *loop; /* the intake's loop and its thread */
	pthread_t           loop_thread;
	char               *source;
	/* bridge.* settings */
	uint64_t window, max_backlog, queue_capacity, block_timeout_ms;
	uint64_t retry_initial_ms, retry_max_ms, max_attempts;
	uint64_t breaker_threshold, breaker_cooldown_ms, ack_timeout_ms;
	uint64_t poll_ms, direct_capacity;
	uint64_t in_batch, in_max_in_flight, in_fetch_ms;
	uint64_t in_dedupe_ms, in_dedupe_max, in_prune_ms;
	uint64_t start_partial; /* bridge.start.partial */
	uint64_t handoff_bytes; /* bridge.handoff_bytes */
	int      policy;
	char     errmsg[WEIR__BRIDGE_ERRMSG];
};

/* Sets the bridge's error text (printf-like) and returns @p e. */
weir_err weir__bridge_fail(weir_bridge *br, weir_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
weir__backend *weir__bridge_backend(weir_bridge *br, const char *scheme);
weir__route   *weir__bridge_route(weir_bridge *br, const char *name);
/* The state of the backend registered for @p scheme (for tests). */
void *weir__bridge_backend_state(weir_bridge *br, const char *scheme);

void weir__route_free(weir__route *rt);
/* 1 if @p name is a route name: [A-Za-z0-9_.-]{1,64}. */
int weir__route_name_ok(const char *name);

/* intake.c: the bus side of a route. */
weir_err weir__intake_start(weir__route *rt);
void     weir__intake_stop(weir__route *rt);
/* Called by the relay after events are done: takes a parked event in
 * if the backlog allows it. */
void weir__intake_resume(weir__route *rt);

/* relay.c */
weir_err weir__relay_start(weir__route *rt);
void     weir__relay_stop(weir__route *rt);

/* stats.c */
char *weir__bridge_stats_json(weir_bus *bus, void *arg);

int64_t weir__bridge_now_ms(void);

#endif
