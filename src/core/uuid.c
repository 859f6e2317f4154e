// UUIDv7 (RFC 9562): 48-bit unix milliseconds, then 12 bits used as a
// per-thread counter (method 1 of section 6.2) so that ids made by one
// thread sort in creation order, then 62 random bits. The milliseconds
// never go back within a thread: when the wall clock is stepped back,
// ids keep the last millisecond and count on (borrowing the next one
// when the counter runs out) until the clock catches up, so they may
// run ahead of the event's ts for as long as the step.
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <weir/weir.h>

#include "core/tls.h"
#include "core/uuid.h"

typedef struct uuid_state {
	uint64_t rng[2];
	int64_t  last_ms;
	uint32_t counter;
	// The counter's last value the fast path may take: 0 until the
	// stream is seeded, so that an unseeded thread always takes the
	// slow half.
	uint32_t counter_max;
	int      seeded;
} uuid_state;

static _Thread_local uuid_state uuid_tls WEIR__TLS_FAST;

static void
uuid_seed(uuid_state *s)
{
	// getrandom() may be short or fail in odd sandboxes; the clock and
	// the thread's address still make the streams of threads differ.
	if (getrandom(s->rng, sizeof(s->rng), 0) != (ssize_t) sizeof(s->rng)) {
		s->rng[0] = (uint64_t) weir__mono_ns();
		s->rng[1] = (uint64_t) (uintptr_t) s;
	}
	s->rng[0] |= 1;
	s->seeded      = 1;
	s->counter_max = 0xfff;
}

uint64_t
weir__rand64(void)
{
	uuid_state *s = &uuid_tls;
	if (!s->seeded) {
		uuid_seed(s);
	}
	return weir__uuid_xorshift(s->rng);
}

static uint64_t
uuid_next_stamp(int64_t now_ns)
{
	// Returns ms << 12 | counter, never going backwards in a thread.
	uuid_state *s  = &uuid_tls;
	int64_t     ms = now_ns / 1000000;
	if (ms > s->last_ms) {
		s->last_ms = ms;
		s->counter = (uint32_t) (weir__rand64() & 0x1ff);
	} else if (++s->counter > 0xfff) {
		s->last_ms++; // counter exhausted: borrow the next ms
		s->counter = 0;
	}
	return ((uint64_t) s->last_ms << 12) | s->counter;
}

// The slow half of weir__uuid_v7_at: the thread's first id, a new
// millisecond, or a counter that ran out. Out of line so that the
// common case saves no registers.
static __attribute__((noinline)) void
uuid_v7_slow(uint8_t id[16], int64_t now_ns)
{
	uint64_t    stamp = uuid_next_stamp(now_ns);
	uuid_state *s     = &uuid_tls;
	if (!s->seeded) {
		uuid_seed(s);
	}
	weir__uuid_put(id, stamp, weir__uuid_xorshift(s->rng));
}

void
weir__uuid_v7_at(uint8_t id[16], int64_t now_ns)
{
	// The common case, one look at the thread's state: the millisecond
	// has not moved past last_ms and the counter has room in a seeded
	// stream (counter_max is 0 before the seed). Anything else is what
	// uuid_next_stamp decides, in the slow half.
	uuid_state *s = &uuid_tls;
	if (__builtin_expect(
	        now_ns / 1000000 <= s->last_ms && s->counter < s->counter_max,
	        1)) {
		uint64_t stamp = ((uint64_t) s->last_ms << 12) | ++s->counter;
		weir__uuid_put(id, stamp, weir__uuid_xorshift(s->rng));
		return;
	}
	uuid_v7_slow(id, now_ns);
}

void
weir__uuid_run_begin(weir__uuid_run *r, int64_t now_ns, size_t n)
{
	// The stamps of the run are consecutive: the first one as a single
	// id would take it, the rest by adding one, which carries a full
	// counter into the next millisecond exactly as uuid_next_stamp
	// borrows it.
	uuid_state *s = &uuid_tls;
	r->stamp      = uuid_next_stamp(now_ns);
	if (n > 1) {
		uint64_t last = r->stamp + (n - 1);
		s->last_ms    = (int64_t) (last >> 12);
		s->counter    = (uint32_t) (last & 0xfff);
	}
	if (!s->seeded) {
		uuid_seed(s);
	}
	r->rng[0] = s->rng[0];
	r->rng[1] = s->rng[1];
}

void
weir__uuid_run_end(const weir__uuid_run *r)
{
	uuid_tls.rng[0] = r->rng[0];
	uuid_tls.rng[1] = r->rng[1];
}

void
weir_uuid_v7(uint8_t id[16])
{
	if (id != NULL) {
		weir__uuid_v7_at(id, weir__now_ns());
	}
}

void
weir_uuid_format(const uint8_t id[16], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	char             *p     = out;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10) {
			*p++ = '-';
		}
		*p++ = hex[id[i] >> 4];
		*p++ = hex[id[i] & 15];
	}
	*p = '\0';
}

// Each hex digit's value plus one, 0 for every other byte (NUL
// included, so a short string fails at its end). A table: the inbound
// path parses a ce_id per message, and range tests per digit cost ~600
// instructions a parse.
#define UUID_HEX_RUN(v) v, v + 1, v + 2, v + 3, v + 4, v + 5
static const uint8_t uuid_hex[256] = {
	['0'] = 1,
	2,
	3,
	4,
	5,
	6,
	7,
	8,
	9,
	10,
	['a'] = UUID_HEX_RUN(11),
	['A'] = UUID_HEX_RUN(11),
};

// Two hex digits at @p t into @p out; 0 if either is not one. The
// second is read only after the first was a digit (not the NUL).
static int
uuid_hex2(const unsigned char *t, uint8_t *out)
{
	unsigned hi = uuid_hex[t[0]];
	if (hi == 0) {
		return 0;
	}
	unsigned lo = uuid_hex[t[1]];
	if (lo == 0) {
		return 0;
	}
	*out = (uint8_t) ((hi - 1) << 4 | (lo - 1));
	return 1;
}

// 8-4-4-4-12 digits, read in order so that nothing past a NUL is read;
// @p id is written only when the whole text parsed.
weir_err
weir_uuid_parse(const char *text, uint8_t id[16])
{
	static const uint8_t group_bytes[5] = { 4, 2, 2, 2, 6 };
	const unsigned char *t              = (const unsigned char *) text;
	uint8_t              out[16];
	int                  n = 0;
	if (text == NULL || id == NULL) {
		return WEIR_EINVAL;
	}
	for (int g = 0; g < 5; g++) {
		for (int b = 0; b < group_bytes[g]; b++, t += 2) {
			if (!uuid_hex2(t, &out[n++])) {
				return WEIR_EINVAL;
			}
		}
		if (g < 4 && *t++ != '-') {
			return WEIR_EINVAL;
		}
	}
	if (*t != '\0') {
		return WEIR_EINVAL;
	}
	memcpy(id, out, sizeof out);
	return WEIR_OK;
}
