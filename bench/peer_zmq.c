/*
 * Peer: ZeroMQ inproc PUB/SUB and PUSH/PULL. One sending thread sends n
 * messages of 64 bytes with zmq_send(); one receiving thread receives
 * them with zmq_recv(). PUSH/PULL is ZeroMQ's plain pipeline (no
 * subscription filter, and faster here than PUB/SUB), so both are
 * reported.
 * Both high-water marks are 0 (no limit): a PUB socket drops messages at
 * its HWM, so with a bound the count would not be exact. The context has
 * no I/O thread, which inproc does not need (this only helps ZeroMQ).
 *
 * A PUB socket drops everything sent before the subscription reaches it,
 * so a handshake of 1-byte messages runs first; the SUB thread skips any
 * that are still queued and counts only 64-byte messages.
 */
#define _GNU_SOURCE /* CPU_SET, pthread_setaffinity_np */

#include "peer_zmq.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "peer_util.h"

#define ZMQ_ENDPOINT "inproc://weir-bench"

typedef struct zmq_bench {
	void    *pub;
	void    *sub;
	uint64_t n;
	uint64_t received;
	uint64_t sum;
	uint64_t t_start;
	uint64_t t_end;
	int      send_failed;
} zmq_bench;

static void *
zmq_bench_sub(void *arg)
{
	zmq_bench    *zb = arg;
	unsigned char buf[BENCH_PAYLOAD];

	while (zb->received < zb->n) {
		int rv = zmq_recv(zb->sub, buf, sizeof(buf), 0);
		if (rv < 0) {
			break; /* receive timeout: a message was lost */
		}
		if (rv != BENCH_PAYLOAD) {
			continue; /* a late handshake message */
		}
		zb->received++;
		zb->sum += buf[0];
	}
	zb->t_end = bench_now_ns();
	return (NULL);
}

static void *
zmq_bench_pub(void *arg)
{
	zmq_bench    *zb = arg;
	unsigned char buf[BENCH_PAYLOAD];

	memset(buf, 0xab, sizeof(buf));
	zb->t_start = bench_now_ns();
	for (uint64_t i = 0; i < zb->n; i++) {
		if (zmq_send(zb->pub, buf, sizeof(buf), 0) != BENCH_PAYLOAD) {
			zb->send_failed = 1;
			break;
		}
	}
	return (NULL);
}

/* Sends 1-byte messages until the SUB side has seen one. */
static int
zmq_bench_handshake(zmq_bench *zb)
{
	char c = 0;

	for (int i = 0; i < 10000; i++) {
		zmq_send(zb->pub, &c, 1, 0);
		if (zmq_recv(zb->sub, &c, 1, ZMQ_DONTWAIT) == 1) {
			return (0);
		}
		struct timespec ms = { 0, 1000000 };
		nanosleep(&ms, NULL);
	}
	return (-1);
}

static int
zmq_bench_sockets(void *ctx, zmq_bench *zb, int push_pull)
{
	int zero    = 0;
	int timeout = 10000; /* ms: a lost message fails instead of hanging */

	zb->pub = zmq_socket(ctx, push_pull ? ZMQ_PUSH : ZMQ_PUB);
	zb->sub = zmq_socket(ctx, push_pull ? ZMQ_PULL : ZMQ_SUB);
	if (zb->pub == NULL || zb->sub == NULL ||
	    zmq_setsockopt(zb->pub, ZMQ_SNDHWM, &zero, sizeof(zero)) != 0 ||
	    zmq_setsockopt(zb->sub, ZMQ_RCVHWM, &zero, sizeof(zero)) != 0 ||
	    zmq_setsockopt(zb->sub, ZMQ_RCVTIMEO, &timeout, sizeof(timeout)) !=
	        0 ||
	    (!push_pull &&
	        zmq_setsockopt(zb->sub, ZMQ_SUBSCRIBE, "", 0) != 0) ||
	    zmq_bind(zb->pub, ZMQ_ENDPOINT) != 0 ||
	    zmq_connect(zb->sub, ZMQ_ENDPOINT) != 0) {
		fprintf(stderr, "zmq: setup failed: %s\n",
		    zmq_strerror(zmq_errno()));
		return (-1);
	}
	return (zmq_bench_handshake(zb));
}

int
peer_zmq_run(int push_pull, uint64_t n, uint64_t *ns)
{
	zmq_bench zb;
	pthread_t pub_thr, sub_thr;
	void     *ctx    = zmq_ctx_new();
	int       rv     = -1;
	int       linger = 0;

	memset(&zb, 0, sizeof(zb));
	zb.n = n;
	if (ctx == NULL || zmq_ctx_set(ctx, ZMQ_IO_THREADS, 0) != 0) {
		fprintf(stderr, "zmq: context failed\n");
		goto out;
	}
	if (zmq_bench_sockets(ctx, &zb, push_pull) != 0) {
		goto out;
	}
	/* Sockets move to their threads; pthread_create is the barrier
	 * that ZeroMQ asks for when a socket changes threads. */
	pthread_create(&sub_thr, NULL, zmq_bench_sub, &zb);
	pthread_create(&pub_thr, NULL, zmq_bench_pub, &zb);
	bench_pin(sub_thr, 1);
	bench_pin(pub_thr, 0);
	pthread_join(pub_thr, NULL);
	pthread_join(sub_thr, NULL);
	*ns = zb.t_end - zb.t_start;
	if (zb.send_failed || zb.received != n || zb.sum != n * 0xab) {
		fprintf(stderr, "zmq: got %llu of %llu messages\n",
		    (unsigned long long) zb.received, (unsigned long long) n);
		goto out;
	}
	rv = 0;
out:
	if (zb.pub != NULL) {
		zmq_setsockopt(zb.pub, ZMQ_LINGER, &linger, sizeof(linger));
		zmq_close(zb.pub);
	}
	if (zb.sub != NULL) {
		zmq_close(zb.sub);
	}
	if (ctx != NULL) {
		zmq_ctx_term(ctx);
	}
	return (rv);
}

const char *
peer_zmq_version(void)
{
	static char buf[32];
	int         major, minor, patch;

	zmq_version(&major, &minor, &patch);
	snprintf(buf, sizeof(buf), "%d.%d.%d", major, minor, patch);
	return (buf);
}
