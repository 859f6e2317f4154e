/*
 * Peer: Node.js's EventEmitter, run by bench/node_emit.js in a child
 * process (popen) during the same run as the C cases.
 */
#ifndef WEIR_BENCH_PEER_NODE_H
#define WEIR_BENCH_PEER_NODE_H

#include <stdint.h>

/*
 * Runs node_emit.js, which emits @n times to one listener with a 64-byte
 * Buffer, @reps times after a warm-up, and prints one JSON line per rep.
 * Stores the median emits per second in @rate and node's version in
 * @version (at least 32 bytes). Returns 0, or -1 (with a message on
 * stderr) when node or the script cannot be run.
 *
 * The script is looked up in $WEIR_NODE_SCRIPT, beside the executable,
 * then in the source tree; node is $WEIR_NODE or `node` on PATH.
 */
int peer_node_run(uint64_t n, int reps, double *rate, char *version);

#endif /* WEIR_BENCH_PEER_NODE_H */
