/*
 * What bridge_bench's weir side and its broker peers (peer_kafka.c,
 * peer_jetstream.c) send, so that both sides put the same bytes on the
 * wire: the payload, the key set, the CloudEvents attributes and one
 * W3C traceparent header. Header-only, static inline.
 */
#ifndef WEIR_BENCH_PEER_BRIDGE_H
#define WEIR_BENCH_PEER_BRIDGE_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* The backends' own formatters of ce_time and weir-seq, so that the
 * peers format them exactly as cheaply as weir does. */
#include "../src/bridge/cetext.h"

/* The local topic (ce_type), the route's source (ce_source). */
#define BRIDGE_TOPIC "bench.orders.created"
#define BRIDGE_SOURCE "weir://bench/bus"
#define BRIDGE_PAYLOAD 100 /* bytes */
#define BRIDGE_TRACEPARENT \
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

/* Event i's key: "k<i mod keys>". Returns its length. */
static inline size_t
bridge_key(char out[24], uint64_t i, uint64_t keys)
{
	return (size_t) snprintf(out, 24, "k%" PRIu64, i % keys);
}

/* Wall-clock time in ns (what an event's ts is). */
static inline int64_t
bridge_wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* RFC 3339 UTC with nanoseconds, as the backends write ce_time. */
static inline void
bridge_rfc3339(int64_t ns, char out[40])
{
	weir__ce_time(ns, out);
}

/* The seq as decimal text, as the backends write weir-seq. */
static inline void
bridge_seq(uint64_t seq, char out[24])
{
	weir__ce_u64(seq, out);
}

/*
 * A fresh id as UUID text, UUIDv7-shaped (48-bit ms time, then a
 * per-process counter and a fixed random-looking tail): what a bare
 * producer would make for ce_id / Nats-Msg-Id, formatted as weir
 * formats an event id (hex digits, no printf).
 */
static inline void
bridge_uuid(char out[37], int64_t ns, uint64_t counter)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t          ms    = (uint64_t) ns / 1000000u;
	uint64_t          tail  = (counter * UINT64_C(0x9E3779B97F4A7C15)) &
	    UINT64_C(0xffffffffffff);
	uint8_t id[16];
	for (int i = 0; i < 6; i++)
		id[i] = (uint8_t) (ms >> (40 - 8 * i));
	id[6] = (uint8_t) (0x70 | ((counter >> 20) & 0x0f));
	id[7] = (uint8_t) (counter >> 12);
	id[8] = (uint8_t) (0x80 | ((counter >> 8) & 0x0f));
	id[9] = (uint8_t) counter;
	for (int i = 0; i < 6; i++)
		id[10 + i] = (uint8_t) (tail >> (40 - 8 * i));
	char *p = out;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = hex[id[i] >> 4];
		*p++ = hex[id[i] & 15];
	}
	*p = '\0';
}

#endif /* WEIR_BENCH_PEER_BRIDGE_H */
