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
	time_t    t = (time_t) (ns / 1000000000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + 19, 21, ".%09ldZ", (long) (ns % 1000000000));
}

/*
 * A fresh id as UUID text, UUIDv7-shaped (48-bit ms time, then a
 * per-process counter and a fixed random-looking tail): what a bare
 * producer would make for ce_id / Nats-Msg-Id.
 */
static inline void
bridge_uuid(char out[37], int64_t ns, uint64_t counter)
{
	uint64_t ms = (uint64_t) ns / 1000000u;
	snprintf(out, 37,
	    "%08" PRIx64 "-%04" PRIx64 "-7%03" PRIx64 "-8%03" PRIx64
	    "-%012" PRIx64,
	    (ms >> 16) & 0xffffffffu, ms & 0xffffu, (counter >> 12) & 0xfffu,
	    counter & 0xfffu,
	    (counter * UINT64_C(0x9E3779B97F4A7C15)) &
	        UINT64_C(0xffffffffffff));
}

#endif /* WEIR_BENCH_PEER_BRIDGE_H */
