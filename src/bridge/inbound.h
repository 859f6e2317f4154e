/*
 * Inbound routes: a source (broker consumer) per route feeding the
 * store and the bus. See inbound.c (the route's threads), inlet.c (one
 * message in), inbound_id.c (ids and headers) and docs/bridge.md.
 */
#ifndef WEIR_BRIDGE_INBOUND_H
#define WEIR_BRIDGE_INBOUND_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <weir/bridge.h>

#include "bridge/template.h"

typedef enum weir__in_state {
	WEIR__IN_PENDING = 0, /* append queued, not committed */
	WEIR__IN_READY,       /* committed (or dead, or a duplicate) */
	WEIR__IN_FINISHED     /* published if new: done may be called */
} weir__in_state;

typedef enum weir__in_outcome {
	WEIR__IN_NEW = 0, /* appended: to be published */
	WEIR__IN_DUP,     /* seen before: nothing to publish */
	WEIR__IN_DEAD,    /* dead-lettered */
	WEIR__IN_FAILED   /* the append failed: dead-letter it */
} weir__in_outcome;

/* One delivered message, from weir_inlet_deliver to done. */
typedef struct weir__in_msg {
	struct weir_inlet *in;
	uint64_t           token;
	const weir_event  *ev; /* held until published (NULL: none) */
	weir__in_state     state;
	weir__in_outcome   outcome;
	weir_err           err;   /* WEIR__IN_FAILED */
	char              *coord; /* for a failed append's dead letter */
} weir__in_msg;

/* The source registered for a scheme. */
typedef struct weir__source {
	const weir_source_ops *ops;
} weir__source;

/* One inbound route; it is also the inlet its source delivers to. */
struct weir_inlet {
	weir_bridge   *br;
	char          *name, *scheme, *from, *group, *stream;
	weir__template topic; /* over the broker destination */
	/* the last topic rendered and its origin (inlet.c, route thread) */
	char                  *topic_text, *topic_origin;
	const weir_source_ops *ops;
	void                  *state; /* the source's */
	weir_source_spec       spec;
	int                    echo;
	int                    inited, started;

	/* the ring of messages in delivery order; `count` from `head` */
	weir__in_msg   *ring;
	size_t          cap;
	uint64_t        head;        /* number of the oldest not done */
	uint64_t        delivered;   /* messages taken so far */
	uint64_t        published;   /* the publisher's next number */
	pthread_mutex_t lock;        /* states, delivered, published */
	pthread_cond_t  cond;        /* slots FINISHED, or stopping */
	pthread_cond_t  ready_cv;    /* slot `published` READY, or stopping */
	int             pub_waiting; /* the publisher waits on ready_cv */
	int             stopping;
	int             paused;
	int             halted; /* a dead letter failed: no more done */

	pthread_t route_thread, pub_thread;
	int       running;
	int64_t   next_prune_ms;

	/* stats, read by any thread */
	atomic_uint_least64_t received, appended, duplicates, dead;
	atomic_uint_least64_t pauses, fetch_errors;
};

/* inbound.c */
weir__source *weir__bridge_source(weir_bridge *br, const char *scheme);
weir_inlet   *weir__bridge_inlet(weir_bridge *br, const char *name);
weir_err      weir__inbound_start(weir_inlet *in);
void          weir__inbound_stop(weir_inlet *in);
void          weir__inbound_free(weir_inlet *in);
/* The route thread's part: calls done for the finished messages at the
 * head, in delivery order. */
void weir__inbound_reap(weir_inlet *in);
/* Slot @p m has become READY (lock held): wakes the publisher if it
 * waits for exactly this slot (the only one it can take next). */
void weir__inbound_ready(weir_inlet *in, const weir__in_msg *m);
/* The source state of inbound route @p name (for tests). */
void *weir__bridge_source_state(weir_bridge *br, const char *name);

/* inlet.c: the dead letter of a message that cannot be taken in; @p ev
 * is its event or a stand-in, never NULL. */
void weir__inlet_dead(weir_inlet *in, const weir_event *ev, weir_err code,
    const char *why, const char *coord);

/* inbound_id.c */

/* The id of an inbound message (docs/bridge.md, "Ids"): a UUID ce_id
 * or Nats-Msg-Id as it is; else one derived from a foreign ce_id (with
 * ce_source) or Nats-Msg-Id; else derived from @p coord; else fresh. */
void weir__inbound_id(const weir_inbound_msg *msg, uint8_t id[16]);
/* The derived id of @p n byte strings: UUIDv8 shaped, from a 128-bit
 * FNV-1a over them (each preceded by its length). Stable forever. */
void weir__inbound_derive(
    const void *const *parts, const size_t *lens, size_t n, uint8_t id[16]);
/* Parses an RFC 3339 time to unix ns; 0 if it is not one. */
int64_t weir__inbound_time(const void *text, size_t len);
/* 1 if header @p name is CloudEvents attribute @p attr in the Kafka
 * (ce_) or NATS (ce-) binding, in any case. */
int weir__inbound_ce(const char *name, const char *attr);
/* 1 if header @p name is a transport attribute that inbound consumes. */
int weir__inbound_header_dropped(const char *name);
/* The broker family of a scheme ("natscore" is "nats"), for echoes. */
int weir__inbound_same_broker(const char *a, const void *b, size_t blen);

/* Header names inbound events carry (docs/bridge.md). */
#define WEIR__HDR_ORIGIN "weir-origin"
#define WEIR__HDR_ECHO "weir-echo"
#define WEIR__HDR_CE_SOURCE "weir-ce-source"
#define WEIR__HDR_CE_TYPE "weir-ce-type"

#endif
