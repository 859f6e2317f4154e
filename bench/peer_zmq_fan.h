/*
 * Peer: ZeroMQ inproc fan-out, one PUB socket and k SUB sockets, each
 * SUB in its own thread.
 */
#ifndef WEIR_BENCH_PEER_ZMQ_FAN_H
#define WEIR_BENCH_PEER_ZMQ_FAN_H

#include <stdint.h>

/* Most SUB sockets peer_zmq_fan_run() takes. */
#define PEER_ZMQ_FAN_MAX 16

/*
 * Publishes @n messages of BENCH_PAYLOAD bytes on an inproc PUB socket
 * from this thread; @k SUB threads (1..PEER_ZMQ_FAN_MAX) each receive
 * all of them. Stores the time from the first send to the last receive
 * of the slowest SUB in @ns. Returns 0, or -1 (with a message on
 * stderr) when a SUB did not get exactly @n messages.
 */
int peer_zmq_fan_run(int k, uint64_t n, uint64_t *ns);

#endif /* WEIR_BENCH_PEER_ZMQ_FAN_H */
