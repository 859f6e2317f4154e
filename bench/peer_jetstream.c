/*
 * Peer: bare asynchronous JetStream publishing (see peer_jetstream.h).
 * Each message carries what weir's nats backend writes: the 100-byte
 * payload and the headers ce-specversion, ce-id, ce-source, ce-type,
 * ce-time, weir-seq, Nats-Msg-Id (= ce-id) and traceparent. PubAcks
 * arrive on cnats's thread through the AckHandler, which counts them
 * under a mutex and signals the waiting thread.
 */
#include "peer_jetstream.h"

#include <nats/nats.h>
#include <pthread.h>
#include <stdlib.h>

#include "peer_bridge.h"
#include "peer_util.h"

#define PEER_JS_DEADLINE_MS 60000

struct peer_js {
	natsConnection *nc;
	jsCtx          *js;
	char            stream[128];
	char            subject[160];
	uint64_t        keys;
	uint64_t        sent;
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	uint64_t        acked; /* under mu */
	uint64_t        failed;
	char            payload[BRIDGE_PAYLOAD];
};

static void
peer_js_on_ack(
    jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
	peer_js *p = closure;
	(void) js;
	pthread_mutex_lock(&p->mu);
	if (pa == NULL && p->failed++ == 0) {
		fprintf(stderr, "peer_js: negative PubAck: %s\n",
		    pae && pae->ErrText ? pae->ErrText : "?");
	}
	p->acked++;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	natsMsg_Destroy(msg);
}

static int
peer_js_stream(peer_js *p)
{
	jsStreamConfig sc;
	jsStreamInfo  *si = NULL;
	jsErrCode      code;
	char           subj[160];
	const char    *subjects[1] = { subj };
	snprintf(subj, sizeof(subj), "%s.>", p->stream);
	jsStreamConfig_Init(&sc);
	sc.Name        = p->stream;
	sc.Subjects    = subjects;
	sc.SubjectsLen = 1;
	sc.Storage     = js_FileStorage;
	sc.Duplicates  = (int64_t) 120 * 1000000000; /* ns */
	natsStatus s   = js_AddStream(&si, p->js, &sc, NULL, &code);
	jsStreamInfo_Destroy(si);
	if (s != NATS_OK) {
		fprintf(stderr, "peer_js: stream %s: %s (%d)\n", p->stream,
		    natsStatus_GetText(s), (int) code);
		return -1;
	}
	return 0;
}

int
peer_js_open(peer_js **out, const char *url, const char *stream, uint64_t keys)
{
	jsOptions jo;
	peer_js  *p = calloc(1, sizeof(*p));
	*out        = NULL;
	if (p == NULL) {
		return -1;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	snprintf(p->stream, sizeof(p->stream), "%s", stream);
	snprintf(p->subject, sizeof(p->subject), "%s.peer", stream);
	p->keys = keys;
	memset(p->payload, 'p', sizeof(p->payload));
	jsOptions_Init(&jo);
	jo.PublishAsync.MaxPending        = 4064;
	jo.PublishAsync.StallWait         = 30000;
	jo.PublishAsync.AckHandler        = peer_js_on_ack;
	jo.PublishAsync.AckHandlerClosure = p;
	if (natsConnection_ConnectTo(&p->nc, url) != NATS_OK ||
	    natsConnection_JetStream(&p->js, p->nc, &jo) != NATS_OK) {
		fprintf(stderr, "peer_js: cannot connect to %s\n", url);
		peer_js_close(p, 0);
		return -1;
	}
	if (peer_js_stream(p) != 0) {
		peer_js_close(p, 0);
		return -1;
	}
	*out = p;
	return 0;
}

static natsStatus
peer_js_headers(natsMsg *m, uint64_t i)
{
	char       id[37], when[40], seq[24];
	int64_t    now = bridge_wall_ns();
	natsStatus s;
	bridge_uuid(id, now, i);
	bridge_rfc3339(now, when);
	bridge_seq(i + 1, seq);
	s = natsMsgHeader_Set(m, "traceparent", BRIDGE_TRACEPARENT);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, "ce-specversion", "1.0");
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, "ce-id", id);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, "ce-source", BRIDGE_SOURCE);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, "ce-type", BRIDGE_TOPIC);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, "ce-time", when);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, "weir-seq", seq);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, "Nats-Msg-Id", id);
	return s;
}

static int
peer_js_publish(peer_js *p, const jsPubOptions *po)
{
	natsMsg   *m;
	uint64_t   i = p->sent++;
	natsStatus s = natsMsg_Create(
	    &m, p->subject, NULL, p->payload, (int) sizeof(p->payload));
	if (s == NATS_OK)
		s = peer_js_headers(m, i);
	if (s == NATS_OK)
		s = js_PublishMsgAsync(p->js, &m, (jsPubOptions *) po);
	if (s != NATS_OK) {
		fprintf(
		    stderr, "peer_js: publish: %s\n", natsStatus_GetText(s));
		natsMsg_Destroy(m);
		return -1;
	}
	return 0;
}

/* Waits until @p want PubAcks are in (or the deadline). */
static int
peer_js_wait(peer_js *p, uint64_t want)
{
	struct timespec dl;
	int             rv = 0;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += PEER_JS_DEADLINE_MS / 1000;
	pthread_mutex_lock(&p->mu);
	while (p->acked < want && rv == 0) {
		rv = pthread_cond_timedwait(&p->cv, &p->mu, &dl);
	}
	rv = p->acked >= want && p->failed == 0 ? 0 : -1;
	pthread_mutex_unlock(&p->mu);
	if (rv != 0) {
		fprintf(stderr, "peer_js: PubAcks missing or negative\n");
	}
	return rv;
}

int
peer_js_run(peer_js *p, uint64_t n, uint64_t *ns)
{
	jsPubOptions po;
	jsPubOptions_Init(&po);
	po.MaxWait = 10000; /* as weir's nats.ack_timeout_ms */
	pthread_mutex_lock(&p->mu);
	uint64_t want = p->acked + n;
	pthread_mutex_unlock(&p->mu);
	uint64_t t0 = bench_now_ns();
	for (uint64_t i = 0; i < n; i++) {
		if (peer_js_publish(p, &po) != 0) {
			return -1;
		}
	}
	int rv = peer_js_wait(p, want);
	*ns    = bench_now_ns() - t0;
	return rv;
}

int
peer_js_one(peer_js *p, uint64_t *ns)
{
	return peer_js_run(p, 1, ns);
}

void
peer_js_close(peer_js *p, int drop)
{
	if (p == NULL) {
		return;
	}
	if (p->js != NULL) {
		js_PublishAsyncComplete(p->js, NULL);
		if (drop) {
			js_DeleteStream(p->js, p->stream, NULL, NULL);
		}
		jsCtx_Destroy(p->js);
	}
	natsConnection_Close(p->nc);
	natsConnection_Destroy(p->nc);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

const char *
peer_js_version(void)
{
	return nats_GetVersion();
}
