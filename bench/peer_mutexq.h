/*
 * Peer: a bounded queue guarded by one mutex and two condition variables,
 * the textbook producer/consumer hand-off.
 */
#ifndef WEIR_BENCH_PEER_MUTEXQ_H
#define WEIR_BENCH_PEER_MUTEXQ_H

#include <stddef.h>
#include <stdint.h>

/*
 * Moves @n messages of BENCH_PAYLOAD bytes from one producer thread to one
 * consumer thread through a queue of @capacity slots. Stores the time
 * from the first push to the last pop in @ns. Returns 0, or -1 (with a
 * message on stderr) when the consumer did not get exactly @n messages.
 */
int peer_mutexq_run(uint64_t n, size_t capacity, uint64_t *ns);

#endif /* WEIR_BENCH_PEER_MUTEXQ_H */
