/*
 * Peer: ZeroMQ inproc PUB/SUB or PUSH/PULL, one sending thread and one
 * receiving thread.
 */
#ifndef WEIR_BENCH_PEER_ZMQ_H
#define WEIR_BENCH_PEER_ZMQ_H

#include <stdint.h>

/*
 * Publishes @n messages of BENCH_PAYLOAD bytes on an inproc PUB (with
 * @push_pull: PUSH) socket and receives them on a SUB (PULL) socket in
 * another thread; both high-water marks are 0 (unbounded) so PUB never
 * drops. Stores the time from the
 * first send to the last receive in @ns. Returns 0, or -1 (with a
 * message on stderr) when the SUB did not get exactly @n messages.
 */
int peer_zmq_run(int push_pull, uint64_t n, uint64_t *ns);

/* The libzmq version as "4.3.4" (static storage). */
const char *peer_zmq_version(void);

#endif /* WEIR_BENCH_PEER_ZMQ_H */
