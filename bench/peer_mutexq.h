/*
 * Peer: a bounded queue guarded by one mutex and two condition variables,
 * the textbook producer/consumer hand-off.
 */
#ifndef WEIR_BENCH_PEER_MUTEXQ_H
#define WEIR_BENCH_PEER_MUTEXQ_H

#include <stddef.h>
#include <stdint.h>

#include "peer_util.h"

/*
 * Moves @n messages of BENCH_PAYLOAD bytes from one producer thread to one
 * consumer thread through a queue of @capacity slots. Stores the time
 * from the first push to the last pop in @ns. Returns 0, or -1 (with a
 * message on stderr) when the consumer did not get exactly @n messages.
 */
int peer_mutexq_run(uint64_t n, size_t capacity, uint64_t *ns);

/* Most producers peer_mutexq_run_mp() takes. */
#define PEER_MUTEXQ_MAX_PRODUCERS 16

/*
 * As peer_mutexq_run(), with @producers threads (1..16, none of them
 * the caller, none pinned) pushing @n messages between them into the
 * one queue: the textbook many-to-one hand-off. @ns runs from the
 * producers' common start to the last pop. Unless @use is NULL, the
 * producers add their usage to use[0] and the consumer to use[1].
 */
int peer_mutexq_run_mp(
    int producers, uint64_t n, size_t capacity, uint64_t *ns, bench_tuse *use);

#endif /* WEIR_BENCH_PEER_MUTEXQ_H */
