/*
 * Peer: a mutex + condition-variable bounded queue, 1 consumer and 1 (or,
 * peer_mutexq_run_mp, several) producers. Written as one would write it
 * for real use, without tricks either way: each push locks, waits while
 * full, copies the 64-byte message into its slot and signals not-empty;
 * each pop locks, waits while empty, copies one message out and signals
 * not-full. With several producers not-full may have several waiters,
 * and a pop signals one of them: each pop frees one slot.
 */
#define _GNU_SOURCE /* CPU_SET, pthread_setaffinity_np */

#include "peer_mutexq.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer_util.h"

typedef struct mutexq_msg {
	unsigned char data[BENCH_PAYLOAD];
} mutexq_msg;

typedef struct mutexq {
	pthread_mutex_t mtx;
	pthread_cond_t  not_empty;
	pthread_cond_t  not_full;
	mutexq_msg     *slots;
	size_t          cap;
	size_t          head; /* next pop */
	size_t          len;
	uint64_t        n;        /* messages to move */
	uint64_t        received; /* consumer's count */
	uint64_t        sum;      /* consumer's checksum */
	uint64_t        t_end;
	bench_tuse     *use; /* [0] producers, [1] consumer; or NULL */
} mutexq;

static void
mutexq_push(mutexq *q, const mutexq_msg *m)
{
	pthread_mutex_lock(&q->mtx);
	while (q->len == q->cap) {
		pthread_cond_wait(&q->not_full, &q->mtx);
	}
	q->slots[(q->head + q->len) % q->cap] = *m;
	q->len++;
	pthread_cond_signal(&q->not_empty);
	pthread_mutex_unlock(&q->mtx);
}

static void
mutexq_pop(mutexq *q, mutexq_msg *m)
{
	pthread_mutex_lock(&q->mtx);
	while (q->len == 0) {
		pthread_cond_wait(&q->not_empty, &q->mtx);
	}
	*m      = q->slots[q->head];
	q->head = (q->head + 1) % q->cap;
	q->len--;
	pthread_cond_signal(&q->not_full);
	pthread_mutex_unlock(&q->mtx);
}

static void *
mutexq_consumer(void *arg)
{
	mutexq    *q = arg;
	mutexq_msg m;

	for (uint64_t i = 0; i < q->n; i++) {
		mutexq_pop(q, &m);
		q->received++;
		q->sum += m.data[0];
	}
	q->t_end = bench_now_ns();
	bench_tuse_add(q->use != NULL ? &q->use[1] : NULL);
	return (NULL);
}

static int
mutexq_init(mutexq *q, uint64_t n, size_t capacity)
{
	memset(q, 0, sizeof(*q));
	q->cap   = capacity;
	q->n     = n;
	q->slots = calloc(capacity, sizeof(mutexq_msg));
	if (q->slots == NULL) {
		fprintf(stderr, "mutexq: out of memory\n");
		return (-1);
	}
	pthread_mutex_init(&q->mtx, NULL);
	pthread_cond_init(&q->not_empty, NULL);
	pthread_cond_init(&q->not_full, NULL);
	return (0);
}

static int
mutexq_fini(mutexq *q)
{
	pthread_cond_destroy(&q->not_full);
	pthread_cond_destroy(&q->not_empty);
	pthread_mutex_destroy(&q->mtx);
	free(q->slots);
	if (q->received != q->n || q->sum != q->n * 0xab) {
		fprintf(stderr, "mutexq: got %llu of %llu messages\n",
		    (unsigned long long) q->received,
		    (unsigned long long) q->n);
		return (-1);
	}
	return (0);
}

int
peer_mutexq_run(uint64_t n, size_t capacity, uint64_t *ns)
{
	mutexq     q;
	mutexq_msg m;
	pthread_t  thr;
	uint64_t   t0;

	if (mutexq_init(&q, n, capacity) != 0) {
		return (-1);
	}
	memset(&m, 0xab, sizeof(m));
	pthread_create(&thr, NULL, mutexq_consumer, &q);
	bench_pin(thr, 1);
	bench_pin(pthread_self(), 0);

	t0 = bench_now_ns();
	for (uint64_t i = 0; i < n; i++) {
		mutexq_push(&q, &m);
	}
	pthread_join(thr, NULL);
	*ns = q.t_end - t0;
	bench_unpin(pthread_self());
	return (mutexq_fini(&q));
}

/* One of several producers: waits for the start, pushes its share. */
typedef struct mutexq_producer {
	mutexq            *q;
	pthread_barrier_t *start;
	uint64_t           n;
} mutexq_producer;

static void *
mutexq_produce(void *arg)
{
	mutexq_producer *p = arg;
	mutexq_msg       m;

	memset(&m, 0xab, sizeof(m));
	pthread_barrier_wait(p->start);
	for (uint64_t i = 0; i < p->n; i++) {
		mutexq_push(p->q, &m);
	}
	bench_tuse_add(p->q->use != NULL ? &p->q->use[0] : NULL);
	return (NULL);
}

int
peer_mutexq_run_mp(
    int producers, uint64_t n, size_t capacity, uint64_t *ns, bench_tuse *use)
{
	mutexq            q;
	mutexq_producer   p[PEER_MUTEXQ_MAX_PRODUCERS];
	pthread_t         thr[PEER_MUTEXQ_MAX_PRODUCERS], cons;
	pthread_barrier_t start;
	uint64_t          t0;

	if (producers < 1 || producers > PEER_MUTEXQ_MAX_PRODUCERS ||
	    mutexq_init(&q, n, capacity) != 0) {
		return (-1);
	}
	q.use = use;
	pthread_barrier_init(&start, NULL, (unsigned) producers + 1);
	pthread_create(&cons, NULL, mutexq_consumer, &q);
	for (int i = 0; i < producers; i++) {
		p[i].q     = &q;
		p[i].start = &start;
		p[i].n     = n / (uint64_t) producers +
		    ((uint64_t) i < n % (uint64_t) producers);
		pthread_create(&thr[i], NULL, mutexq_produce, &p[i]);
	}
	pthread_barrier_wait(&start);
	t0 = bench_now_ns();
	for (int i = 0; i < producers; i++) {
		pthread_join(thr[i], NULL);
	}
	pthread_join(cons, NULL);
	*ns = q.t_end - t0;
	pthread_barrier_destroy(&start);
	return (mutexq_fini(&q));
}
