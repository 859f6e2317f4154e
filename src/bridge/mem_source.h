/*
 * The `mem` source's controls, for tests: messages to inject and what
 * the bridge did with them. @p state is the source's state of one
 * inbound route (weir__bridge_source_state(br, route)). Thread-safe.
 */
#ifndef WEIR_BRIDGE_MEM_SOURCE_H
#define WEIR_BRIDGE_MEM_SOURCE_H

#include <stdint.h>

#include <weir/bridge.h>

/* Queues a copy of @p msg for a later fetch (its token is kept as the
 * test gave it). WEIR_ENOMEM. */
weir_err weir__mem_source_push(void *state, const weir_inbound_msg *msg);
/* Copies up to @p max done tokens (in the order done was called) into
 * @p out; returns how many there are in all. */
size_t   weir__mem_source_done(void *state, uint64_t *out, size_t max);
size_t   weir__mem_source_queued(void *state); /* pushed, not delivered */
int      weir__mem_source_paused(void *state); /* the last pause() */
uint64_t weir__mem_source_pauses(void *state); /* pause(1) calls */
/* Most messages delivered and not yet done, at any time. */
uint64_t weir__mem_source_max_undone(void *state);
/* fetch calls with max 0 (while paused). */
uint64_t weir__mem_source_idle_fetches(void *state);

#endif
