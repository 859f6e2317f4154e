// The bus's own loops and the threads that run them ("one loop per
// core"), and the choice of a loop for a new subscription.
#ifndef WEIR_CORE_POOL_H
#define WEIR_CORE_POOL_H

#include <stddef.h>

#include <weir/weir.h>

typedef struct weir__pool weir__pool;

// @p n loops (0: one per online core), not yet running.
weir_err weir__pool_create(weir__pool **out, size_t n);
// Joins the threads and destroys the loops (no subscription left).
void weir__pool_destroy(weir__pool *pool);
// The loop of a new subscription: the config's loop, else the bus
// loop of @p index_plus1 (0: the next one round-robin), else the
// default loop. NULL if the index is past the end.
weir_loop *weir__pool_pick(
    weir_bus *bus, weir_loop *explicit_loop, size_t index_plus1);

#endif
