/*
 * Backoff and breaker. The breaker stops a route from hammering a broker
 * that is down: after `threshold` consecutive failures it opens and
 * nothing is sent for `cooldown_ms`; then one probe message goes out
 * (half-open). Its success closes the breaker; its failure opens it for
 * another cool-down.
 */
#include "bridge/breaker.h"

uint64_t
weir__backoff_ms(
    uint64_t initial_ms, uint64_t max_ms, uint32_t n, uint64_t *rng)
{
	uint64_t d = initial_ms;
	for (uint32_t i = 1; i < n && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	/* xorshift64: jitter needs spread, not quality */
	uint64_t x = *rng != 0 ? *rng : 0x9e3779b97f4a7c15u;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*rng = x;
	return d / 2 + x % (d - d / 2 + 1); /* modulo >= 1, even for d = 0 */
}

uint32_t
weir__breaker_allow(weir__breaker *b, int64_t now_ms)
{
	if (b->state == WEIR_BRIDGE_BREAKER_OPEN && now_ms >= b->open_until) {
		b->state   = WEIR_BRIDGE_BREAKER_HALF_OPEN;
		b->probing = 0;
	}
	switch (b->state) {
	case WEIR_BRIDGE_BREAKER_CLOSED:
		return UINT32_MAX;
	case WEIR_BRIDGE_BREAKER_HALF_OPEN:
		return b->probing ? 0 : 1;
	default:
		return 0;
	}
}

void
weir__breaker_sent(weir__breaker *b)
{
	if (b->state == WEIR_BRIDGE_BREAKER_HALF_OPEN)
		b->probing = 1;
}

void
weir__breaker_success(weir__breaker *b)
{
	b->failures = 0;
	b->state    = WEIR_BRIDGE_BREAKER_CLOSED;
	b->probing  = 0;
}

void
weir__breaker_failure(weir__breaker *b, int64_t now_ms)
{
	b->failures++;
	if (b->state == WEIR_BRIDGE_BREAKER_HALF_OPEN ||
	    (b->state == WEIR_BRIDGE_BREAKER_CLOSED && b->threshold > 0 &&
	        b->failures >= b->threshold)) {
		b->state      = WEIR_BRIDGE_BREAKER_OPEN;
		b->open_until = now_ms + (int64_t) b->cooldown_ms;
		b->probing    = 0;
		b->opens++;
	}
}
