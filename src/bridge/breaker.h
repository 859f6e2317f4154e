/* Exponential backoff with jitter and a circuit breaker, per route. */
#ifndef WEIR_BRIDGE_BREAKER_H
#define WEIR_BRIDGE_BREAKER_H

#include <stdint.h>

#include <weir/bridge.h>

typedef struct weir__breaker {
	weir_bridge_breaker state;
	uint32_t            failures;  /* consecutive failures */
	uint32_t            threshold; /* failures that open it */
	uint64_t            cooldown_ms;
	int64_t             open_until; /* ms, monotonic */
	int                 probing;    /* half-open: the probe is out */
	uint64_t            opens;
} weir__breaker;

/* A backoff delay for the @p n-th consecutive failure (n >= 1):
 * d = min(max_ms, initial_ms * 2^(n-1)), drawn uniformly in [d/2, d]. */
uint64_t weir__backoff_ms(
    uint64_t initial_ms, uint64_t max_ms, uint32_t n, uint64_t *rng);

/* How many messages may be sent now: 0 (open, or half-open with the
 * probe out), 1 (half-open: the probe), or UINT32_MAX (closed). Moves
 * an open breaker whose cool-down is over to half-open. */
uint32_t weir__breaker_allow(weir__breaker *b, int64_t now_ms);
/* A message was sent under a half-open breaker: it is the probe. */
void weir__breaker_sent(weir__breaker *b);
void weir__breaker_success(weir__breaker *b);
/* Counts a failure; opens the breaker at the threshold, or again after
 * a failed probe. */
void weir__breaker_failure(weir__breaker *b, int64_t now_ms);

#endif
