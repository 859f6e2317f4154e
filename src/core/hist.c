// Design notes. A value's bucket is its power of two (the position of
// its highest set bit) and the next three bits below it, so a bucket's
// width is at most 1/8 of its values: p99 is known within 12.5% with
// 384 counters. Values below 8 get a bucket each. Only the loop's
// thread records, so a bucket increment is a relaxed load and store
// (no read-modify-write, no lock); readers on other threads see each
// counter whole.
#include "core/hist.h"
#include "core/alloc.h"

weir__hist weir__hist_none;

weir__hist *
weir__hist_make(_Atomic(weir__hist *) *slot)
{
	weir__hist *h = atomic_load_explicit(slot, memory_order_acquire);
	if (h != &weir__hist_none) {
		return h;
	}
	weir__hist *made = weir__zalloc(sizeof(*made));
	if (made == NULL) {
		return h;
	}
	// Pull takers may race to make it: the first one's stays.
	if (atomic_compare_exchange_strong_explicit(
	        slot, &h, made, memory_order_acq_rel, memory_order_acquire)) {
		return made;
	}
	weir__free(made);
	return h;
}

void
weir__hist_free(_Atomic(weir__hist *) *slot)
{
	weir__hist *h = atomic_load_explicit(slot, memory_order_acquire);
	if (h != &weir__hist_none) {
		weir__free(h);
	}
}

unsigned
weir__hist_bucket(uint64_t ns)
{
	if (ns < WEIR__HIST_SUB) {
		return (unsigned) ns;
	}
	unsigned msb = 63u - (unsigned) __builtin_clzll(ns);
	unsigned sub = (unsigned) (ns >> (msb - 3)) & (WEIR__HIST_SUB - 1);
	unsigned b   = (msb - 2) * WEIR__HIST_SUB + sub;
	return b < WEIR__HIST_BUCKETS ? b : WEIR__HIST_BUCKETS - 1;
}

uint64_t
weir__hist_upper(unsigned bucket)
{
	if (bucket < WEIR__HIST_SUB) {
		return bucket;
	}
	unsigned msb = bucket / WEIR__HIST_SUB + 2;
	uint64_t sub = bucket % WEIR__HIST_SUB;
	uint64_t lo  = ((uint64_t) WEIR__HIST_SUB + sub) << (msb - 3);
	return lo + ((uint64_t) 1 << (msb - 3)) - 1;
}

void
weir__hist_record_n(weir__hist *h, uint64_t ns, uint64_t n)
{
	atomic_uint_least64_t *c = &h->b[weir__hist_bucket(ns)];
	atomic_store_explicit(c,
	    atomic_load_explicit(c, memory_order_relaxed) + n,
	    memory_order_relaxed);
	if (ns > atomic_load_explicit(&h->max, memory_order_relaxed)) {
		atomic_store_explicit(&h->max, ns, memory_order_relaxed);
	}
}

static uint64_t
hist_rank(const uint64_t *snap, uint64_t count, double q)
{
	uint64_t want = (uint64_t) ((double) count * q);
	if (want >= count) {
		want = count - 1;
	}
	uint64_t seen = 0;
	for (unsigned i = 0; i < WEIR__HIST_BUCKETS; i++) {
		seen += snap[i];
		if (seen > want) {
			return weir__hist_upper(i);
		}
	}
	return weir__hist_upper(WEIR__HIST_BUCKETS - 1);
}

void
weir__hist_read(const weir__hist *h, weir_latency *out)
{
	uint64_t snap[WEIR__HIST_BUCKETS];
	uint64_t count = 0;
	if (h == &weir__hist_none) {
		*out = (weir_latency) { .count = 0 };
		return;
	}
	for (unsigned i = 0; i < WEIR__HIST_BUCKETS; i++) {
		snap[i] = atomic_load_explicit(&h->b[i], memory_order_relaxed);
		count += snap[i];
	}
	*out = (weir_latency) { .count = count };
	if (count == 0) {
		return;
	}
	out->p50_ns  = hist_rank(snap, count, 0.50);
	out->p99_ns  = hist_rank(snap, count, 0.99);
	out->p999_ns = hist_rank(snap, count, 0.999);
	out->max_ns  = atomic_load_explicit(&h->max, memory_order_relaxed);
	// A bucket's top may lie above the largest value recorded.
	uint64_t *p[3] = { &out->p50_ns, &out->p99_ns, &out->p999_ns };
	for (int i = 0; i < 3; i++) {
		if (*p[i] > out->max_ns) {
			*p[i] = out->max_ns;
		}
	}
}

void
weir__hist_record_shared(weir__hist *h, uint64_t ns)
{
	atomic_fetch_add_explicit(
	    &h->b[weir__hist_bucket(ns)], 1, memory_order_relaxed);
	uint64_t max = atomic_load_explicit(&h->max, memory_order_relaxed);
	while (ns > max &&
	    !atomic_compare_exchange_weak_explicit(&h->max, &max, ns,
	        memory_order_relaxed, memory_order_relaxed)) { }
}
