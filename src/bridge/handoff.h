/*
 * The handoff: events a route's intake appended to the store, kept in
 * memory after their commit for the relay to take instead of reading
 * them back from the store and decoding them again.
 */
#ifndef WEIR_BRIDGE_HANDOFF_H
#define WEIR_BRIDGE_HANDOFF_H

#include <stddef.h>
#include <stdint.h>

#include <weir/weir.h>

/* One committed event and the seq the store gave it. */
typedef struct weir__handed {
	const weir_event *ev; /* held */
	uint64_t          seq;
	size_t            bytes; /* its share of the budget */
} weir__handed;

/* A FIFO in seq order, bounded by an estimate of the memory its events
 * hold. Not locked: the route's lock guards it. */
typedef struct weir__handoff {
	weir__handed *ents; /* ring of cap entries, oldest at head */
	size_t        head, count, cap;
	uint64_t      bytes, max_bytes; /* max_bytes 0: off */
	uint64_t      last_seq;         /* seq of the newest entry put */
} weir__handoff;

/* Starts empty with a budget of @p max_bytes (0: the handoff is off). */
void weir__handoff_init(weir__handoff *h, uint64_t max_bytes);
/* Releases every event and the ring; the handoff is empty and usable. */
void weir__handoff_clear(weir__handoff *h);

/*
 * Puts @p ev (committed at @p seq, above every seq put before) at the
 * tail and holds it. Returns 0 when it does not fit (off, the budget
 * spent, no memory, or a seq out of order): nothing is held, and the
 * relay finds the event in the store instead.
 */
int weir__handoff_put(weir__handoff *h, const weir_event *ev, uint64_t seq);

/*
 * Drops the entries below @p from_seq (the relay already has them from
 * the store), then moves into @p out up to @p max entries whose seqs
 * run on without a gap from @p from_seq. Returns how many; their
 * references pass to the caller. 0 when the next entry is not
 * @p from_seq: that event was not put (overflow) or is not the route's
 * to have (another writer's), and only the store can tell.
 */
size_t weir__handoff_take(
    weir__handoff *h, uint64_t from_seq, weir__handed *out, size_t max);

#endif
