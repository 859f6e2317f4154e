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

// A subscription's histogram is made when it is first needed (its first
// dispatch pass, or its first pull), so an idle one does not carry its
// 3 KiB. Until then, and if it could not be made (out of memory), its slot
// points here: samples recorded here are never read (a reader sees no
// samples), so there is no NULL test per delivery.
extern weir__hist weir__hist_none;

// Makes the histogram of @p slot if it has none; any thread. Returns
// it, or weir__hist_none if out of memory (those samples are lost).
weir__hist *weir__hist_make(_Atomic(weir__hist *) *slot);
// Frees the histogram of @p slot (no recorder or reader left).
void weir__hist_free(_Atomic(weir__hist *) *slot);
// Records @p n samples of @p ns (a run of events stamped alike); only
// one thread may record into a histogram.
void weir__hist_record_n(weir__hist *h, uint64_t ns, uint64_t n);

static inline void
weir__hist_record(weir__hist *h, uint64_t ns)
{
	weir__hist_record_n(h, ns, 1);
}
// Records @p ns where several threads record (pull subscriptions).
void weir__hist_record_shared(weir__hist *h, uint64_t ns);
// Count and percentiles (each bucket's upper bound); weir__hist_none
// has no samples.
void weir__hist_read(const weir__hist *h, weir_latency *out);
// The bucket of @p ns and the largest value it holds (for tests).
unsigned weir__hist_bucket(uint64_t ns);
uint64_t weir__hist_upper(unsigned bucket);

#endif
