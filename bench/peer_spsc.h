/*
 * Peer: the floor of a cross-thread hand-off, a bare single-producer
 * single-consumer ring of 64-byte slots.
 */
#ifndef WEIR_BENCH_PEER_SPSC_H
#define WEIR_BENCH_PEER_SPSC_H

#include <stddef.h>
#include <stdint.h>

/*
 * Moves @n messages of BENCH_PAYLOAD bytes from this thread to a consumer
 * thread through a ring of @capacity slots (a power of two). Stores the
 * time from the first push to the last pop in @ns. Returns 0, or -1 (with
 * a message on stderr) when the consumer did not get exactly @n.
 */
int peer_spsc_run(uint64_t n, size_t capacity, uint64_t *ns);

#endif /* WEIR_BENCH_PEER_SPSC_H */
