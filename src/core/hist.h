// A log-linear latency histogram: written by one thread (the loop),
// read by any.
#ifndef WEIR_CORE_HIST_H
#define WEIR_CORE_HIST_H

#include <stdatomic.h>
#include <stdint.h>

#include <weir/weir.h>

// Eight sub-buckets per power of two up to 2^47 ns (about 39 hours).
#define WEIR__HIST_SUB 8
#define WEIR__HIST_BUCKETS (48 * WEIR__HIST_SUB)

typedef struct weir__hist {
	atomic_uint_least64_t b[WEIR__HIST_BUCKETS];
	atomic_uint_least64_t max;
} weir__hist;

// The histogram in @p slot, made (empty) by the first caller: a
// subscription carries its 3 KiB only once it has delivered. Any thread;
// NULL if out of memory (that sample is not recorded).
weir__hist *weir__hist_get(_Atomic(weir__hist *) *slot);
// Frees the histogram in @p slot, if any (no recorder or reader left).
void weir__hist_free(_Atomic(weir__hist *) *slot);

// Records @p ns; only one thread may record into a histogram.
void weir__hist_record(weir__hist *h, uint64_t ns);
// Records @p ns where several threads record (pull subscriptions).
void weir__hist_record_shared(weir__hist *h, uint64_t ns);
// Count and percentiles (each bucket's upper bound); a NULL @p h (none
// made yet) has no samples.
void weir__hist_read(const weir__hist *h, weir_latency *out);
// The bucket of @p ns and the largest value it holds (for tests).
unsigned weir__hist_bucket(uint64_t ns);
uint64_t weir__hist_upper(unsigned bucket);

#endif
