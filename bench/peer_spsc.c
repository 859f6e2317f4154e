/*
 * Peer: a bare SPSC ring, the floor for every cross-thread case. Lamport's
 * ring with cached indices: the producer owns `tail`, the consumer owns
 * `head`, each on its own cache line, and each side re-reads the other's
 * index only when its cached copy says the ring is full (or empty). Both
 * sides spin, never sleep: nothing a bus must do (wake a sleeping loop,
 * allocate an event, match a topic, count outcomes) is done. No real
 * program can go faster across two cores with 64-byte messages.
 */
#define _GNU_SOURCE /* CPU_SET, pthread_setaffinity_np */

#include "peer_spsc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer_util.h"

typedef struct spsc_msg {
	unsigned char data[BENCH_PAYLOAD];
} spsc_msg;

typedef struct spsc {
	_Alignas(64) atomic_size_t tail; /* producer: next push */
	size_t head_cache;               /* producer's copy of head */
	_Alignas(64) atomic_size_t head; /* consumer: next pop */
	size_t   tail_cache;             /* consumer's copy of tail */
	uint64_t received;
	uint64_t sum;
	uint64_t t_end;
	_Alignas(64) spsc_msg *slots;
	size_t   mask;
	uint64_t n;
} spsc;

static void
spsc_push(spsc *q, const spsc_msg *m)
{
	size_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);

	while (t - q->head_cache > q->mask) {
		q->head_cache =
		    atomic_load_explicit(&q->head, memory_order_acquire);
	}
	q->slots[t & q->mask] = *m;
	atomic_store_explicit(&q->tail, t + 1, memory_order_release);
}

static void *
spsc_consumer(void *arg)
{
	spsc  *q = arg;
	size_t h = 0;

	for (uint64_t i = 0; i < q->n; i++, h++) {
		while (h == q->tail_cache) {
			q->tail_cache = atomic_load_explicit(
			    &q->tail, memory_order_acquire);
		}
		q->sum += q->slots[h & q->mask].data[0];
		q->received++;
		atomic_store_explicit(&q->head, h + 1, memory_order_release);
	}
	q->t_end = bench_now_ns();
	return (NULL);
}

int
peer_spsc_run(uint64_t n, size_t capacity, uint64_t *ns)
{
	spsc     *q = aligned_alloc(64, sizeof(spsc));
	spsc_msg  m;
	pthread_t thr;
	uint64_t  t0;
	int       rv = 0;

	if (q == NULL) {
		fprintf(stderr, "spsc: out of memory\n");
		return (-1);
	}
	memset(q, 0, sizeof(*q));
	memset(&m, 0xab, sizeof(m));
	q->mask  = capacity - 1;
	q->n     = n;
	q->slots = calloc(capacity, sizeof(spsc_msg));
	if (q->slots == NULL || (capacity & (capacity - 1)) != 0) {
		fprintf(stderr, "spsc: bad capacity or out of memory\n");
		free(q->slots);
		free(q);
		return (-1);
	}
	pthread_create(&thr, NULL, spsc_consumer, q);
	bench_pin(thr, 1);
	bench_pin(pthread_self(), 0);
	t0 = bench_now_ns();
	for (uint64_t i = 0; i < n; i++) {
		spsc_push(q, &m);
	}
	pthread_join(thr, NULL);
	*ns = q->t_end - t0;
	bench_unpin(pthread_self());
	if (q->received != n || q->sum != n * 0xab) {
		fprintf(stderr, "spsc: got %llu of %llu messages\n",
		    (unsigned long long) q->received, (unsigned long long) n);
		rv = -1;
	}
	free(q->slots);
	free(q);
	return (rv);
}
