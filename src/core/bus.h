// The bus: registries of listeners and subscriptions, and topic handles.
#ifndef WEIR_CORE_BUS_H
#define WEIR_CORE_BUS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <weir/weir.h>

#include "core/event.h"
#include "core/listener.h"
#include "core/lpat.h"
#include "core/section.h"
#include "core/subscr.h"
#include "core/tree.h"

struct weir_bus_config {
	size_t max_payload;
	size_t loops;     // weir_bus_config_set_loops() (0: one per core)
	int    has_loops; // set_loops was called
};

struct weir_bus {
	pthread_mutex_t lock;      // guards both trees and the counters
	weir__tree      listeners; // items: weir__listener (one ref each)
	weir__tree      subs;      // items: weir_subscr (one ref each)
	// A new value on every registry change, from one counter for all
	// buses (weir__scache_gen_next): never 0, never another bus's.
	atomic_uint_least64_t gen;
	uint64_t              next_id;
	int64_t               next_order;   // appended listeners count up
	int64_t               next_prepend; // prepended ones count down
	size_t                max_payload;
	weir_loop            *loop; // the default loop
	struct weir__pool    *pool; // the bus's loop threads, or NULL (pool.c)

	// Listener limit and records of patterns with listeners (lpat.c).
	size_t          max_listeners; // per pattern, 0: none
	weir_warning_fn warn_fn;       // NULL: the stderr line
	void           *warn_arg;
	weir__lpat     *pat_head; // oldest first
	weir__lpat     *pat_tail;
	// Registered listeners matching WEIR_TOPIC_LISTENER_NEW / _REMOVED,
	// read without the lock so that on and off skip the emit at once.
	atomic_size_t  meta_new;
	atomic_size_t  meta_removed;
	weir__sections sections; // stats sections of other modules (section.c)
};

struct weir_topic {
	weir_bus    *bus;
	char        *name;
	size_t       len;
	uint64_t     gen; // registry generation of the snapshots
	weir__lsnap *ls;
	weir__ssnap *ss;
	int          depth;   // emits in progress on this handle
	weir__lsnap *retired; // snapshots replaced during an emit
	// The event of the outermost emit (emit.c): filled once, and per
	// emit only what changes, in no frame of the caller's.
	weir_event ev;
};

// Makes the handle's snapshots current (caller's thread owns @p t).
weir_err weir__topic_refresh(weir_topic *t);

// Checks topic and payload size for emit and publish.
weir_err weir__bus_check(weir_bus *bus, const char *topic, size_t len);

// Marks a registry change, invalidating topic handles.
void weir__bus_changed(weir_bus *bus);

#endif
