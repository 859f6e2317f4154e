// Time and UUIDv7 ids.
#ifndef WEIR_CORE_UUID_H
#define WEIR_CORE_UUID_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/clock.h"
// A per-thread pseudo-random 64-bit number (not for secrets).
uint64_t weir__rand64(void);
// A UUIDv7 for the given unix time in ns.
void weir__uuid_v7_at(uint8_t id[16], int64_t now_ns);

// xorshift128+: fast, and ids need uniqueness, not secrecy.
static inline uint64_t
weir__uuid_xorshift(uint64_t rng[2])
{
	uint64_t a = rng[0];
	uint64_t b = rng[1];
	rng[0]     = b;
	a ^= a << 23;
	rng[1] = a ^ b ^ (a >> 17) ^ (b >> 26);
	return rng[1] + b;
}

// Writes the id of @p stamp (unix ms << 12 | counter) and 62 bits of
// @p rnd: 48 bits of ms, version 7, 12 bits of counter; variant 10,
// random. Big-endian, as RFC 9562 lays it out.
static inline void
weir__uuid_put(uint8_t id[16], uint64_t stamp, uint64_t rnd)
{
	uint64_t w[2] = { ((stamp >> 12) << 16) | 0x7000 | (stamp & 0xfff),
		(rnd >> 2) | 0x8000000000000000ull };
	for (int h = 0; h < 2; h++) {
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		uint64_t v = __builtin_bswap64(w[h]);
		memcpy(id + 8 * h, &v, 8);
#else
		for (int i = 0; i < 8; i++) {
			id[8 * h + i] = (uint8_t) (w[h] >> (56 - 8 * i));
		}
#endif
	}
}

// A run of UUIDv7s made together (a batch publish): begin() reserves
// @p n consecutive stamps of the thread's counter with one look at the
// time and the thread's state, next() hands them out in order, end()
// gives the random stream back to the thread. The ids are exactly those
// n single calls at @p now_ns would make: unique and rising within the
// thread, each with its own random half. Nothing else on the thread may
// make an id between begin() and end().
typedef struct weir__uuid_run {
	uint64_t stamp; // the next id's
	uint64_t rng[2];
} weir__uuid_run;

void weir__uuid_run_begin(weir__uuid_run *r, int64_t now_ns, size_t n);
void weir__uuid_run_end(const weir__uuid_run *r);

static inline void
weir__uuid_run_next(weir__uuid_run *r, uint8_t id[16])
{
	weir__uuid_put(id, r->stamp++, weir__uuid_xorshift(r->rng));
}

#endif
