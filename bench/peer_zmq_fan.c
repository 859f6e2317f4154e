/*
 * Peer: ZeroMQ inproc PUB -> k SUB sockets, each SUB in its own thread,
 * what a ZeroMQ user writes for fan-out inside one process. One PUB
 * thread sends n messages of 64 bytes with zmq_send(); every SUB thread
 * receives all n with zmq_recv(). High-water marks are 0 (no limit, so
 * PUB never drops and the count is exact); no I/O thread (inproc needs
 * none). As in peer_zmq.c, 1-byte handshake messages go first until
 * every SUB has one (a PUB drops what it sends before a subscription
 * arrives); the SUB threads skip any still queued.
 */
#define _GNU_SOURCE /* CPU_SET, pthread_setaffinity_np (peer_util.h) */

#include "peer_zmq_fan.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "peer_util.h"

#define ZMQ_FAN_ENDPOINT "inproc://weir-bench-fan"

typedef struct zmq_fan_sub {
	void    *sock;
	uint64_t n;
	uint64_t received;
	uint64_t sum;
	uint64_t t_end;
} zmq_fan_sub;

static void *
zmq_fan_recv(void *arg)
{
	zmq_fan_sub  *s = arg;
	unsigned char buf[BENCH_PAYLOAD];

	while (s->received < s->n) {
		int rv = zmq_recv(s->sock, buf, sizeof(buf), 0);
		if (rv < 0) {
			break; /* receive timeout: a message was lost */
		}
		if (rv != BENCH_PAYLOAD) {
			continue; /* a late handshake message */
		}
		s->received++;
		s->sum += buf[0];
	}
	s->t_end = bench_now_ns();
	return (NULL);
}

static int
zmq_fan_open_sub(void *ctx, zmq_fan_sub *s)
{
	int zero    = 0;
	int timeout = 10000; /* ms: a lost message fails, never hangs */

	s->sock = zmq_socket(ctx, ZMQ_SUB);
	return (s->sock == NULL ||
	            zmq_setsockopt(s->sock, ZMQ_RCVHWM, &zero, sizeof(zero)) !=
	                0 ||
	            zmq_setsockopt(s->sock, ZMQ_RCVTIMEO, &timeout,
	                sizeof(timeout)) != 0 ||
	            zmq_setsockopt(s->sock, ZMQ_SUBSCRIBE, "", 0) != 0 ||
	            zmq_connect(s->sock, ZMQ_FAN_ENDPOINT) != 0
	        ? -1
	        : 0);
}

/* Sends 1-byte messages until every SUB has seen one. */
static int
zmq_fan_handshake(void *pub, zmq_fan_sub *subs, int k)
{
	int  got[PEER_ZMQ_FAN_MAX] = { 0 };
	char c                     = 0;
	int  seen                  = 0;

	for (int i = 0; i < 10000 && seen < k; i++) {
		zmq_send(pub, &c, 1, 0);
		for (int j = 0; j < k; j++) {
			if (!got[j] &&
			    zmq_recv(subs[j].sock, &c, 1, ZMQ_DONTWAIT) == 1) {
				got[j] = 1;
				seen++;
			}
		}
		struct timespec ms = { 0, 1000000 };
		nanosleep(&ms, NULL);
	}
	return (seen == k ? 0 : -1);
}

static int
zmq_fan_setup(void *ctx, void **pub, zmq_fan_sub *subs, int k, uint64_t n)
{
	int zero = 0;

	*pub = zmq_socket(ctx, ZMQ_PUB);
	if (*pub == NULL ||
	    zmq_setsockopt(*pub, ZMQ_SNDHWM, &zero, sizeof(zero)) != 0 ||
	    zmq_setsockopt(*pub, ZMQ_LINGER, &zero, sizeof(zero)) != 0 ||
	    zmq_bind(*pub, ZMQ_FAN_ENDPOINT) != 0) {
		return (-1);
	}
	for (int j = 0; j < k; j++) {
		subs[j].n = n;
		if (zmq_fan_open_sub(ctx, &subs[j]) != 0) {
			return (-1);
		}
	}
	return (zmq_fan_handshake(*pub, subs, k));
}

/* Sends n messages from this thread, then waits for the SUB threads. */
static int
zmq_fan_move(void *pub, zmq_fan_sub *subs, int k, uint64_t n, uint64_t *ns)
{
	pthread_t     thr[PEER_ZMQ_FAN_MAX];
	unsigned char buf[BENCH_PAYLOAD];
	uint64_t      t0, t_end = 0;
	int           rv = 0;

	memset(buf, 0xab, sizeof(buf));
	for (int j = 0; j < k; j++) {
		pthread_create(&thr[j], NULL, zmq_fan_recv, &subs[j]);
	}
	t0 = bench_now_ns();
	for (uint64_t i = 0; i < n && rv == 0; i++) {
		rv = zmq_send(pub, buf, sizeof(buf), 0) == BENCH_PAYLOAD ? 0
		                                                         : -1;
	}
	for (int j = 0; j < k; j++) {
		pthread_join(thr[j], NULL);
		t_end = subs[j].t_end > t_end ? subs[j].t_end : t_end;
		if (subs[j].received != n || subs[j].sum != n * 0xab) {
			fprintf(stderr,
			    "zmq fan-out: SUB %d got %llu of %llu\n", j,
			    (unsigned long long) subs[j].received,
			    (unsigned long long) n);
			rv = -1;
		}
	}
	*ns = t_end - t0;
	return (rv);
}

int
peer_zmq_fan_run(int k, uint64_t n, uint64_t *ns)
{
	zmq_fan_sub subs[PEER_ZMQ_FAN_MAX];
	void       *pub = NULL;
	void       *ctx = zmq_ctx_new();
	int         rv  = -1;

	memset(subs, 0, sizeof(subs));
	if (k < 1 || k > PEER_ZMQ_FAN_MAX || ctx == NULL ||
	    zmq_ctx_set(ctx, ZMQ_IO_THREADS, 0) != 0) {
		fprintf(stderr, "zmq fan-out: bad count or no context\n");
	} else if (zmq_fan_setup(ctx, &pub, subs, k, n) != 0) {
		fprintf(stderr, "zmq fan-out: setup failed: %s\n",
		    zmq_strerror(zmq_errno()));
	} else {
		rv = zmq_fan_move(pub, subs, k, n, ns);
	}
	if (pub != NULL) {
		zmq_close(pub);
	}
	for (int j = 0; j < k && j < PEER_ZMQ_FAN_MAX; j++) {
		if (subs[j].sock != NULL) {
			zmq_close(subs[j].sock);
		}
	}
	if (ctx != NULL) {
		zmq_ctx_term(ctx);
	}
	return (rv);
}
