/*
 * The `mem` backend's controls, for tests: what it recorded, and faults
 * to inject. @p state is the backend's state in a bridge
 * (weir__bridge_backend_state(br, "mem")). All thread-safe.
 */
#ifndef WEIR_BRIDGE_MEM_H
#define WEIR_BRIDGE_MEM_H

#include <stdint.h>

#include <weir/bridge.h>

/* One acknowledged message, as the mem "broker" keeps it. */
typedef struct weir__mem_rec {
	uint8_t  id[16];
	uint64_t seq;
	char     dest[128];
	char     key[64]; /* first bytes, NUL-terminated */
	size_t   key_len;
} weir__mem_rec;

/* Copies up to @p max records (oldest first) into @p out; returns how
 * many there are in all. */
size_t   weir__mem_records(void *state, weir__mem_rec *out, size_t max);
uint64_t weir__mem_publishes(void *state);   /* publish calls accepted */
size_t   weir__mem_max_pending(void *state); /* most unacked at once */
size_t   weir__mem_pending(void *state);
/* Most unacked messages of one (dest, key) at once. */
size_t weir__mem_max_key_pending(void *state);
/* "mem.ordered" = "1": messages published after a failed one of their
 * key, before it was published again (failed by mem). */
uint64_t weir__mem_out_of_order(void *state);

/* The @p n-th publish call from now (1: the next) is answered with a
 * failure, retriable or not, with @p reason. */
void weir__mem_fail_nth(
    void *state, uint64_t n, int retriable, const char *reason);
/* The next @p count accepted publishes are never acknowledged. */
void weir__mem_drop_acks(void *state, uint64_t count);
/* While on, acknowledgements wait (nothing is answered). */
void weir__mem_hold_acks(void *state, int on);
/* While down, every publish is answered "broker down" (retriable). */
void weir__mem_set_down(void *state, int down);

#endif
