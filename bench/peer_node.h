/*
 * Peer: Node.js's EventEmitter, run by bench/node_emit.js in a child
 * process that stays up during the emit group, one round at a time.
 */
#ifndef WEIR_BENCH_PEER_NODE_H
#define WEIR_BENCH_PEER_NODE_H

#include <stdint.h>

typedef struct peer_node peer_node;

/*
 * Starts node_emit.js --serve, which warms up and then emits @n times to
 * one listener with a 64-byte Buffer once per round asked for. Returns
 * NULL (with a message on stderr) when node or the script cannot be run.
 *
 * The script is looked up in $WEIR_NODE_SCRIPT, beside the executable,
 * then in the source tree; node is $WEIR_NODE or `node` on PATH.
 */
peer_node *peer_node_open(uint64_t n);

/* Runs one round: its time in @ns, node's version in @version (32 bytes,
 * may be NULL). Returns 0 or -1. */
int peer_node_round(peer_node *pn, uint64_t *ns, char *version);

/* Ends the child and frees @pn (NULL: nothing). */
void peer_node_close(peer_node *pn);

#endif /* WEIR_BENCH_PEER_NODE_H */
