/*
 * The NATS backends and sources (src/bridge/nats.c) on their error paths:
 * what a working nats-server and a working cnats never show. This file
 * includes nats.c and stands in for the bridge (sink, inlet, config), so
 * it can drive every operation directly and check each outcome (error
 * code, error text, the acks made):
 *
 * - cnats calls that fail: the executable is linked with
 *   -Wl,--wrap=<fn> (tests/bridge/CMakeLists.txt) and each __wrap_<fn>
 *   below fails on demand (nf_arm), else calls __real_<fn>; weir's own
 *   weir_event_payload is redirected for nats.c by a macro instead;
 * - allocation failures: nats.c allocates with the C library's malloc,
 *   calloc and realloc (not weir's allocator), so they are redirected,
 *   for nats.c only, to nf_malloc and friends, which fail the n-th call;
 * - bad configuration, options cnats refuses, server-side refusals (a
 *   stream refusing a large message, overlapping subjects, a PubAck that
 *   never comes) against the real nats-server (label integration; none:
 *   skipped, a failure with CI=true), with random stream and subject
 *   names.
 */
#define NATS_FIXTURE_CONFIG
#include "nats_fixture.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <weir/backend.h>
#include <weir/nats.h>

/* ------------------------------------------------------------------ */
/* Allocation failures, in nats.c only                                 */
/* ------------------------------------------------------------------ */

static long nf_alloc_at;    /* the n-th allocation from now fails; 0: none */
static long nf_alloc_calls; /* allocations since nf_alloc_arm */

static void
nf_alloc_arm(long n)
{
	nf_alloc_calls = 0;
	nf_alloc_at    = n;
}

static int
nf_alloc_fails(void)
{
	return nf_alloc_at > 0 && ++nf_alloc_calls == nf_alloc_at;
}

static void *
nf_malloc(size_t n)
{
	return nf_alloc_fails() ? NULL : malloc(n);
}

static void *
nf_calloc(size_t n, size_t size)
{
	return nf_alloc_fails() ? NULL : calloc(n, size);
}

static void *
nf_realloc(void *p, size_t n)
{
	return nf_alloc_fails() ? NULL : realloc(p, n);
}

// The event's payload length, for nats.c only (a macro, not a wrap:
// weir's own functions may be inlined across objects by LTO).
static const void *nf_event_payload(const weir_event *ev, size_t *len);

#define weir_event_payload(ev, len) nf_event_payload(ev, len)
#define malloc(n) nf_malloc(n)
#define calloc(n, s) nf_calloc(n, s)
#define realloc(p, n) nf_realloc(p, n)
#include "bridge/nats.c"
#undef malloc
#undef calloc
#undef realloc
#undef weir_event_payload

/* ------------------------------------------------------------------ */
/* cnats calls that fail on demand (-Wl,--wrap)                        */
/* ------------------------------------------------------------------ */

typedef struct nf_fault {
	const char *fn;     /* the wrapped function to fail; NULL: none */
	int         skip;   /* calls to let through first */
	int         times;  /* then fail this many calls */
	natsStatus  status; /* with this status */
	int         hits;   /* calls failed so far */
	const char *text;   /* natsConnection_GetLastError's text */
} nf_fault;

static pthread_mutex_t nf_mu = PTHREAD_MUTEX_INITIALIZER;
static nf_fault        nf[2]; /* two at a time: nf_arm, then nf_also */

/* Arms one fault, disarming any other. */
static void
nf_arm(const char *fn, int skip, int times, natsStatus status)
{
	pthread_mutex_lock(&nf_mu);
	nf[0] = (nf_fault) { fn, skip, times, status, 0, NULL };
	nf[1] = (nf_fault) { NULL, 0, 0, NATS_OK, 0, NULL };
	pthread_mutex_unlock(&nf_mu);
}

/* Arms a second fault beside the first. */
static void
nf_also(const char *fn, int skip, int times, natsStatus status)
{
	pthread_mutex_lock(&nf_mu);
	nf[1] = (nf_fault) { fn, skip, times, status, 0, NULL };
	pthread_mutex_unlock(&nf_mu);
}

/* natsConnection_GetLastError's text while armed. */
static void
nf_text(const char *text)
{
	pthread_mutex_lock(&nf_mu);
	nf[0].text = text;
	pthread_mutex_unlock(&nf_mu);
}

/* The calls failed since nf_arm; disarms. */
static int
nf_hits(void)
{
	pthread_mutex_lock(&nf_mu);
	int n    = nf[0].hits + nf[1].hits;
	nf[0].fn = nf[1].fn = NULL;
	pthread_mutex_unlock(&nf_mu);
	return n;
}

/* NATS_OK, or the status this call of fn must fail with. */
static natsStatus
nf_hit(const char *fn)
{
	natsStatus s = NATS_OK;
	pthread_mutex_lock(&nf_mu);
	for (int i = 0; i < 2 && s == NATS_OK; i++) {
		nf_fault *f = &nf[i];
		if (f->fn == NULL || strcmp(f->fn, fn) != 0) {
			continue;
		}
		if (f->skip > 0) {
			f->skip--;
		} else if (f->times > 0) {
			f->times--;
			f->hits++;
			s = f->status;
		}
	}
	pthread_mutex_unlock(&nf_mu);
	return s;
}

#define NF_WRAP(fn, params, args)                             \
	natsStatus __real_##fn params;                        \
	natsStatus __wrap_##fn params;                        \
	natsStatus __wrap_##fn params                         \
	{                                                     \
		natsStatus s_ = nf_hit(#fn);                  \
		return s_ != NATS_OK ? s_ : __real_##fn args; \
	}

NF_WRAP(natsOptions_Create, (natsOptions * *o), (o))
NF_WRAP(natsOptions_SetURL, (natsOptions * o, const char *u), (o, u))
NF_WRAP(natsOptions_SetTimeout, (natsOptions * o, int64_t v), (o, v))
NF_WRAP(natsOptions_SetMaxReconnect, (natsOptions * o, int v), (o, v))
NF_WRAP(natsOptions_SetReconnectWait, (natsOptions * o, int64_t v), (o, v))
NF_WRAP(natsOptions_SetReconnectBufSize, (natsOptions * o, int v), (o, v))
NF_WRAP(natsOptions_SetPingInterval, (natsOptions * o, int64_t v), (o, v))
NF_WRAP(natsOptions_SetErrorHandler,
    (natsOptions * o, natsErrHandler h, void *c), (o, h, c))
NF_WRAP(natsConnection_JetStream,
    (jsCtx * *js, natsConnection *nc, jsOptions *jo), (js, nc, jo))
NF_WRAP(js_GetStreamInfo,
    (jsStreamInfo * *si, jsCtx *js, const char *n, jsOptions *o, jsErrCode *e),
    (si, js, n, o, e))
NF_WRAP(
    js_PublishMsgAsync, (jsCtx * js, natsMsg **m, jsPubOptions *o), (js, m, o))
NF_WRAP(js_PublishAsyncComplete, (jsCtx * js, jsPubOptions *o), (js, o))
NF_WRAP(natsMsg_Create,
    (natsMsg * *m, const char *s, const char *r, const char *d, int n),
    (m, s, r, d, n))
NF_WRAP(
    natsMsgHeader_Set, (natsMsg * m, const char *k, const char *v), (m, k, v))
NF_WRAP(
    natsMsgHeader_Add, (natsMsg * m, const char *k, const char *v), (m, k, v))
NF_WRAP(natsMsgHeader_Values,
    (natsMsg * m, const char *k, const char ***v, int *n), (m, k, v, n))
NF_WRAP(natsConnection_PublishMsg, (natsConnection * nc, natsMsg *m), (nc, m))
NF_WRAP(natsConnection_FlushTimeout, (natsConnection * nc, int64_t t), (nc, t))
NF_WRAP(natsSubscription_SetPendingLimits,
    (natsSubscription * s, int m, int b), (s, m, b))
NF_WRAP(natsSubscription_Fetch,
    (natsMsgList * l, natsSubscription *s, int n, int64_t t, jsErrCode *e),
    (l, s, n, t, e))
NF_WRAP(natsSubscription_NextMsg,
    (natsMsg * *m, natsSubscription *s, int64_t t), (m, s, t))
NF_WRAP(js_PullSubscribe,
    (natsSubscription * *s, jsCtx *js, const char *f, const char *d,
        jsOptions *o, jsSubOptions *so, jsErrCode *e),
    (s, js, f, d, o, so, e))

NF_WRAP(natsConnection_SubscribeSync,
    (natsSubscription * *s, natsConnection *nc, const char *subj),
    (s, nc, subj))
NF_WRAP(natsMsg_GetMetaData, (jsMsgMetaData * *md, natsMsg *m), (md, m))

/* Set: every message's reply is no JetStream ack subject, so the source
 * asks cnats for the message's metadata (natsMsg_GetMetaData). */
static atomic_int nf_foreign_reply;
const char       *__real_natsMsg_GetReply(const natsMsg *m);
const char       *__wrap_natsMsg_GetReply(const natsMsg *m);
const char *
__wrap_natsMsg_GetReply(const natsMsg *m)
{
	return atomic_load(&nf_foreign_reply) ? "_INBOX.not.an.ack"
	                                      : __real_natsMsg_GetReply(m);
}

/* Armed: the connection is reconnecting. */
natsConnStatus __real_natsConnection_Status(natsConnection *nc);
natsConnStatus __wrap_natsConnection_Status(natsConnection *nc);
natsConnStatus
__wrap_natsConnection_Status(natsConnection *nc)
{
	return nf_hit("natsConnection_Status") != NATS_OK
	    ? NATS_CONN_STATUS_RECONNECTING
	    : __real_natsConnection_Status(nc);
}

/* Armed: the connection's last error is nf.text. */
natsStatus __real_natsConnection_GetLastError(
    natsConnection *nc, const char **text);
natsStatus __wrap_natsConnection_GetLastError(
    natsConnection *nc, const char **text);
natsStatus
__wrap_natsConnection_GetLastError(natsConnection *nc, const char **text)
{
	natsStatus s = nf_hit("natsConnection_GetLastError");
	if (s == NATS_OK) {
		return __real_natsConnection_GetLastError(nc, text);
	}
	pthread_mutex_lock(&nf_mu);
	*text = nf[0].text;
	pthread_mutex_unlock(&nf_mu);
	return s;
}

/* Armed: cnats still holds unsent bytes. */
int __real_natsConnection_Buffered(natsConnection *nc);
int __wrap_natsConnection_Buffered(natsConnection *nc);
int
__wrap_natsConnection_Buffered(natsConnection *nc)
{
	return nf_hit("natsConnection_Buffered") != NATS_OK
	    ? 1
	    : __real_natsConnection_Buffered(nc);
}

/* Armed with NATS_ERR: one message is queued in the subscription;
 * with another status: the call fails with it. */
natsStatus __real_natsSubscription_GetPending(
    natsSubscription *sub, int *msgs, int *bytes);
natsStatus __wrap_natsSubscription_GetPending(
    natsSubscription *sub, int *msgs, int *bytes);
natsStatus
__wrap_natsSubscription_GetPending(
    natsSubscription *sub, int *msgs, int *bytes)
{
	natsStatus f = nf_hit("natsSubscription_GetPending");
	natsStatus s = __real_natsSubscription_GetPending(sub, msgs, bytes);
	if (f == NATS_ERR) {
		*msgs = 1;
	}
	return f == NATS_OK || f == NATS_ERR ? s : f;
}

/* Armed: pthread_mutex_init / pthread_cond_init fail (ENOMEM). */
int __real_pthread_mutex_init(
    pthread_mutex_t *m, const pthread_mutexattr_t *a);
int __wrap_pthread_mutex_init(
    pthread_mutex_t *m, const pthread_mutexattr_t *a);
int
__wrap_pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *a)
{
	return nf_hit("pthread_mutex_init") != NATS_OK
	    ? 12
	    : __real_pthread_mutex_init(m, a);
}

int __real_pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *a);
int __wrap_pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *a);
int
__wrap_pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *a)
{
	return nf_hit("pthread_cond_init") != NATS_OK
	    ? 12
	    : __real_pthread_cond_init(c, a);
}

/* Armed: instead of waiting, nf_hook runs (with the caller's mutex
 * held, as another thread's call would after taking it) and the wait
 * returns as if signalled. */
static void (*nf_hook)(void);

int __real_pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m);
int __wrap_pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m);
int
__wrap_pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	if (nf_hit("pthread_cond_wait") != NATS_OK) {
		nf_hook();
		return 0;
	}
	return __real_pthread_cond_wait(c, m);
}

int __real_pthread_cond_timedwait(
    pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *t);
int __wrap_pthread_cond_timedwait(
    pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *t);
int
__wrap_pthread_cond_timedwait(
    pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *t)
{
	if (nf_hit("pthread_cond_timedwait") != NATS_OK) {
		nf_hook();
		return 0;
	}
	return __real_pthread_cond_timedwait(c, m, t);
}

/* Armed: the event's payload claims INT32_MAX + 1 bytes. */
static const void *
nf_event_payload(const weir_event *ev, size_t *len)
{
	const void *p = weir_event_payload(ev, len);
	if (nf_hit("weir_event_payload") != NATS_OK) {
		*len = (size_t) INT32_MAX + 1;
	}
	return p;
}

/* ------------------------------------------------------------------ */
/* The bridge's side, as a stand-in                                    */
/* ------------------------------------------------------------------ */

typedef struct ack {
	uint64_t token;
	weir_err result;
	int      retriable;
	char     reason[NATS_REASON];
} ack;

/* The sink: records every ack (cnats's threads make them too). */
struct weir_sink {
	pthread_mutex_t mu;
	ack             a[64];
	size_t          n;
};

void
weir_sink_ack(weir_sink *sink, uint64_t token, weir_err result, int retriable,
    const char *reason)
{
	pthread_mutex_lock(&sink->mu);
	if (sink->n < 64) {
		ack *a       = &sink->a[sink->n];
		a->token     = token;
		a->result    = result;
		a->retriable = retriable;
		snprintf(
		    a->reason, sizeof a->reason, "%s", reason ? reason : "");
	}
	sink->n++;
	pthread_mutex_unlock(&sink->mu);
}

static size_t
sink_count(weir_sink *sink)
{
	pthread_mutex_lock(&sink->mu);
	size_t n = sink->n;
	pthread_mutex_unlock(&sink->mu);
	return n;
}

/* The inlet: counts deliveries and answers each with reply. */
struct weir_inlet {
	size_t   n;
	weir_err reply;
	size_t   headers[8];   /* header_count of the first deliveries */
	int      coord[8];     /* 1: with stream coordinates */
	char     where[8][96]; /* the coordinates ("" without) */
	uint64_t token[8];     /* and their tokens */
};

weir_err
weir_inlet_deliver(weir_inlet *in, const weir_inbound_msg *m)
{
	if (in->n < 8) {
		in->headers[in->n] = m->header_count;
		in->token[in->n]   = m->token;
		in->coord[in->n]   = m->coord != NULL;
		snprintf(in->where[in->n], sizeof in->where[in->n], "%s",
		    m->coord != NULL ? m->coord : "");
	}
	in->n++;
	return in->reply;
}

/* ------------------------------------------------------------------ */
/* Fixtures                                                            */
/* ------------------------------------------------------------------ */

#define DEADLINE_MS 20000

/* A backend instance: state, config, sink. */
typedef struct bx {
	const weir_backend_ops *ops;
	nats_state              st;
	weir_bridge_config      cfg;
	weir_sink               sink;
	const char             *source; /* the messages' CloudEvents source */
	char                    stream[64], subj[96], subjects[100], dest[128];
} bx;

static bx *
bx_new(const weir_backend_ops *ops)
{
	bx *b = calloc(1, sizeof *b);
	assert_non_null(b);
	b->ops = ops;
	pthread_mutex_init(&b->sink.mu, NULL);
	bk_unique(b->stream, sizeof b->stream, "WEIRNF_");
	bk_unique(b->subj, sizeof b->subj, "weirnf.s");
	snprintf(b->subjects, sizeof b->subjects, "%s.>", b->subj);
	snprintf(b->dest, sizeof b->dest, "%s.a", b->subj);
	return b;
}

static void
bx_free(bx *b)
{
	pthread_mutex_destroy(&b->sink.mu);
	free(b);
}

/* init with b->cfg; on error checks the code and that errmsg names
 * @p needle, and that a second fini is harmless. */
static void
bx_init_fails(bx *b, weir_err want, const char *needle)
{
	weir_err rv = b->ops->init(&b->st, &b->cfg, &b->sink);
	assert_weir_err(rv, want);
	errmsg_has(b->ops->errmsg(&b->st), needle);
	b->ops->fini(&b->st);
	assert_null(b->ops->errmsg(&b->st));
}

static void
bx_start(bx *b)
{
	assert_weir_ok(b->ops->init(&b->st, &b->cfg, &b->sink));
	assert_weir_ok(b->ops->start(&b->st));
}

static void
bx_stop(bx *b)
{
	b->ops->stop(&b->st);
	b->ops->fini(&b->st);
}

/* An event on topic t.x with @p payload and headers. */
static weir_event *
ev_new(const char *payload, const weir_header *h, size_t nh)
{
	weir_event     *ev   = NULL;
	weir_event_init init = WEIR_STRUCT_INIT(weir_event_init);
	init.topic           = "t.x";
	init.payload         = payload;
	init.payload_len     = strlen(payload);
	init.headers         = h;
	init.header_count    = nh;
	assert_weir_ok(weir_event_new(&ev, &init));
	return ev;
}

/* publish of one event to @p dest with @p token; returns its answer. */
static weir_err
bx_publish(bx *b, const weir_event *ev, const char *dest, uint64_t token)
{
	weir_bridge_msg bm = WEIR_STRUCT_INIT(weir_bridge_msg);
	bm.ev              = ev;
	bm.seq             = token;
	bm.dest            = dest;
	bm.token           = token;
	bm.source          = b->source;
	return b->ops->publish(&b->st, &bm);
}

/* Polls until @p n acks were made (bounded). */
static void
bx_wait_acks(bx *b, size_t n)
{
	int64_t end = wt_now_ms() + DEADLINE_MS;
	while (sink_count(&b->sink) < n && wt_now_ms() < end) {
		b->ops->poll(&b->st, 50);
	}
	assert_int_equal(sink_count(&b->sink), n);
}

/* Ack @p i: checks its token, result, retriable flag and reason. */
static void
ack_is(bx *b, size_t i, uint64_t token, weir_err result, int retriable,
    const char *needle)
{
	ack *a = &b->sink.a[i];
	assert_int_equal(a->token, token);
	assert_int_equal(a->result, result);
	if (result != WEIR_OK) { /* (core acks say 1 for OK) */
		assert_int_equal(a->retriable, retriable);
	}
	if (needle != NULL && strstr(a->reason, needle) == NULL) {
		fail_msg(
		    "ack %zu: reason '%s' lacks '%s'", i, a->reason, needle);
	}
}

/* Publishes one event that fails on the caller's thread and checks its
 * (single) ack. */
static void
bx_publish_fails(bx *b, const weir_event *ev, const char *dest, int retriable,
    const char *needle)
{
	size_t n = sink_count(&b->sink);
	assert_weir_ok(bx_publish(b, ev, dest, 100 + n));
	bx_wait_acks(b, n + 1);
	ack_is(b, n, 100 + n, WEIR_EBACKEND, retriable, needle);
}

/* Deletes stream @p name (a plain cnats client). */
static void
delete_stream(const char *name)
{
	natsConnection *nc = NULL;
	jsCtx          *js = NULL;
	nc                 = plain_connect(&js);
	js_DeleteStream(js, name, NULL, NULL);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
}

/* ------------------------------------------------------------------ */
/* init: bad options, options cnats refuses, allocation failures       */
/* ------------------------------------------------------------------ */

/* Every option checked by weir, each refused value named in errmsg. */
static void
test_init_bad_values(void **state)
{
	static const char *const bad[][2] = {
		{ "nats.tls", "yes" },
		{ "nats.tls.skip_verify", "maybe" },
		{ "nats.timeout_ms", "0" },
		{ "nats.max_reconnect", "-2" },
		{ "nats.reconnect_wait_ms", "x" },
		{ "nats.reconnect_buf_size", "" },
		{ "nats.ping_interval_ms", "99999999999" },
		{ "nats.max_pending", "65537" },
		{ "nats.ack_timeout_ms", "1.5" },
		{ "nats.stall_wait_ms", "0" },
		{ "nats.stream.duplicate_window_ms", "0" },
		{ "nats.stream.storage", "disk" },
	};
	(void) state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		bx *b = bx_new(weir_backend_nats());
		cfg_set(&b->cfg, bad[i][0], bad[i][1]);
		bx_init_fails(b, WEIR_EINVAL, bad[i][0]);
		bx_free(b);
	}
}

/* What cnats itself refuses: a CA file or certificate that does not
 * exist, a certificate without its key, unknown ciphers; each named. */
static void
test_init_cnats_refuses(void **state)
{
	static const char *const bad[][2] = {
		{ "nats.tls.ca_file", "/nonexistent/weir-ca.pem" },
		{ "nats.tls.cert_file", "/nonexistent/weir-cert.pem" },
		{ "nats.tls.key_file", "/nonexistent/weir-key.pem" },
		{ "nats.tls.ciphers", "WEIR-NO-SUCH-CIPHER" },
	};
	bx *b;
	(void) state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		b = bx_new(weir_backend_nats());
		cfg_set(&b->cfg, bad[i][0], bad[i][1]);
		weir_err rv = b->ops->init(&b->st, &b->cfg, &b->sink);
		assert_weir_err(rv, WEIR_EINVAL);
		assert_non_null(strstr(b->ops->errmsg(&b->st), "nats.tls"));
		b->ops->fini(&b->st);
		bx_free(b);
	}
	b = bx_new(weir_backend_nats());
	cfg_set(&b->cfg, "nats.tls.cert_file", "/nonexistent/weir-cert.pem");
	cfg_set(&b->cfg, "nats.tls.key_file", "/nonexistent/weir-key.pem");
	bx_init_fails(b, WEIR_EINVAL, "nats.tls.cert_file");
	bx_free(b);
}

/* nats.stream.subjects: up to 64 subjects (empty items do not count);
 * more are refused at init, by name, never dropped silently (events for
 * a dropped subject could not be stored). */
static void
test_init_subjects_limit(void **state)
{
	char list[65 * 8 + 8], *p = list;
	bx  *b = bx_new(weir_backend_nats());
	(void) state;
	p += sprintf(p, ",,");
	for (int i = 0; i < 64; i++) {
		p += sprintf(p, "s.%d,", i);
	}
	cfg_set(&b->cfg, "nats.stream", b->stream);
	cfg_set(&b->cfg, "nats.stream.subjects", list);
	assert_weir_ok(b->ops->init(&b->st, &b->cfg, &b->sink));
	b->ops->fini(&b->st);
	sprintf(p, "s.64");
	bx_init_fails(b, WEIR_EINVAL, "more than 64 subjects");
	bx_free(b);
}

/* Every option that has a setter, all valid: init succeeds and fini
 * wipes the secrets. */
static void
test_init_all_options(void **state)
{
	bx *b = bx_new(weir_backend_natscore());
	(void) state;
	cfg_set(&b->cfg, "nats.url", "nats://u:pw1@127.0.0.1:1");
	cfg_set(&b->cfg, "nats.name", "weir-fault");
	cfg_set(&b->cfg, "nats.user", "u");
	cfg_set(&b->cfg, "nats.password", "pw2");
	cfg_set(&b->cfg, "nats.token", "tok3");
	cfg_set(&b->cfg, "nats.creds", "/nonexistent/weir.creds");
	cfg_set(&b->cfg, "nats.tls", "false");
	cfg_set(&b->cfg, "nats.tls.hostname", "localhost");
	cfg_set(&b->cfg, "nats.tls.skip_verify", "1");
	cfg_set(&b->cfg, "nats.stream.storage", "memory");
	assert_weir_ok(b->ops->init(&b->st, &b->cfg, &b->sink));
	assert_int_equal(b->st.storage_memory, 1);
	assert_string_equal(b->st.secrets[0], "pw2");
	assert_string_equal(b->st.secrets[1], "tok3");
	assert_string_equal(b->st.secrets[2], "u:pw1");
	assert_null(b->ops->errmsg(&b->st));
	// Not started: publish is refused.
	weir_event *ev = ev_new("x", NULL, 0);
	assert_weir_err(bx_publish(b, ev, "a.b", 1), WEIR_ECLOSED);
	weir_event_release(ev);
	b->ops->fini(&b->st);
	assert_null(b->st.secrets[0]);
	b->cfg.n = 0;
	cfg_set(&b->cfg, "nats.tls", "0");
	cfg_set(&b->cfg, "nats.stream.storage", "file");
	assert_weir_ok(b->ops->init(&b->st, &b->cfg, &b->sink));
	assert_int_equal(b->st.storage_memory, 0);
	b->ops->fini(&b->st);
	bx_free(b);
}

/* A cnats setter or natsOptions_Create failing: init fails with the
 * option named (ENOMEM for NATS_NO_MEMORY), nothing leaks (ASan). */
static void
test_init_setter_fails(void **state)
{
	static const char *const conn[] = { "natsOptions_SetTimeout",
		"natsOptions_SetMaxReconnect", "natsOptions_SetReconnectWait",
		"natsOptions_SetReconnectBufSize",
		"natsOptions_SetPingInterval" };
	bx                      *b;
	(void) state;
	b = bx_new(weir_backend_nats());
	cfg_set(&b->cfg, "nats.url", "nats://127.0.0.1:1");
	nf_arm("natsOptions_SetURL", 0, 1, NATS_INVALID_ARG);
	bx_init_fails(b, WEIR_EINVAL, "nats.url");
	assert_int_equal(nf_hits(), 1);
	nf_arm("natsOptions_SetURL", 0, 1, NATS_NO_MEMORY);
	bx_init_fails(b, WEIR_ENOMEM, "nats.url");
	assert_int_equal(nf_hits(), 1);
	for (size_t i = 0; i < sizeof conn / sizeof conn[0]; i++) {
		nf_arm(conn[i], 0, 1, NATS_ERR);
		bx_init_fails(b, WEIR_EINVAL, "connection options");
		assert_int_equal(nf_hits(), 1);
	}
	nf_arm("natsOptions_SetErrorHandler", 0, 1, NATS_ERR);
	bx_init_fails(b, WEIR_EINVAL, "error handler");
	assert_int_equal(nf_hits(), 1);
	nf_arm("natsOptions_Create", 0, 1, NATS_NO_MEMORY);
	bx_init_fails(b, WEIR_ENOMEM, "nats:");
	assert_int_equal(nf_hits(), 1);
	nf_arm("pthread_mutex_init", 0, 1, NATS_ERR);
	bx_init_fails(b, WEIR_ENOMEM, "out of memory");
	assert_int_equal(nf_hits(), 1);
	nf_arm("pthread_cond_init", 0, 1, NATS_ERR);
	bx_init_fails(b, WEIR_ENOMEM, "out of memory");
	assert_int_equal(nf_hits(), 1);
	bx_free(b);
}

/* Each allocation of init failing in turn (the secrets, the stream
 * names, the rings): WEIR_ENOMEM with "out of memory", for both
 * backends; past the last one, init succeeds. */
static void
test_init_alloc_fails(void **state)
{
	const weir_backend_ops *ops[2] = { weir_backend_nats(),
		weir_backend_natscore() };
	(void) state;
	for (int o = 0; o < 2; o++) {
		bx      *b = bx_new(ops[o]);
		weir_err rv;
		long     n = 1;
		cfg_set(&b->cfg, "nats.url", "nats://u:pw@127.0.0.1:1");
		cfg_set(&b->cfg, "nats.password", "pw");
		cfg_set(&b->cfg, "nats.token", "tok");
		cfg_set(&b->cfg, "nats.stream", b->stream);
		cfg_set(&b->cfg, "nats.stream.subjects", b->subjects);
		for (;; n++) {
			nf_alloc_arm(n);
			rv = b->ops->init(&b->st, &b->cfg, &b->sink);
			nf_alloc_arm(0);
			if (rv == WEIR_OK) {
				break;
			}
			assert_weir_err(rv, WEIR_ENOMEM);
			assert_string_equal(
			    b->ops->errmsg(&b->st), "nats: out of memory");
			b->ops->fini(&b->st);
		}
		assert_true(n >= 7); /* 3 secrets, 2 names, 2 rings */
		b->ops->fini(&b->st);
		bx_free(b);
	}
}

/* Secrets: up to NATS_SECRETS are kept (an empty password is none) and
 * each is scrubbed from errmsg; more are refused by name, not as "out
 * of memory" (a secret not kept could not be scrubbed). */
static void
test_init_secrets(void **state)
{
	bx  *b = bx_new(weir_backend_natscore());
	char urls[40 * 40], *p = urls;
	(void) state;
	for (int i = 0; i < 40; i++) {
		p += sprintf(
		    p, "%snats://u%d:sec%d@127.0.0.1:1", i ? "," : "", i, i);
	}
	cfg_set(&b->cfg, "nats.url", urls);
	cfg_set(&b->cfg, "nats.password", "");
	cfg_set(&b->cfg, "nats.max_reconnect", "0");
	cfg_set(&b->cfg, "nats.timeout_ms", "200");
	bx_init_fails(b, WEIR_EINVAL, "more than 32 secrets");
	// 32 of them: kept.
	*strstr(urls, ",nats://u32:") = '\0';
	assert_weir_ok(b->ops->init(&b->st, &b->cfg, &b->sink));
	assert_string_equal(b->st.secrets[0], "u0:sec0");
	assert_string_equal(b->st.secrets[NATS_SECRETS - 1], "u31:sec31");
	nats_errf(&b->st, "a u3:sec3 b u31:sec31 c u3:sec3");
	assert_string_equal(b->ops->errmsg(&b->st), "a *** b *** c ***");
	assert_weir_err(b->ops->start(&b->st), WEIR_EBACKEND);
	assert_null(strstr(b->ops->errmsg(&b->st), "sec"));
	b->ops->stop(&b->st); /* never started: nothing to stop */
	b->ops->fini(&b->st);
	bx_free(b);
}

/* cnats's error text on a thread that has none. */
static void *
last_text_thread(void *arg)
{
	*(const char **) arg = nats_last_text(NATS_TIMEOUT);
	return NULL;
}

/* The text helpers: percent-encoding, quoting (bounded by length and
 * room), user infos found in URL lists, scrubbing a full buffer. */
static void
test_text_helpers(void **state)
{
	char        out[64];
	nats_state  st;
	pthread_t   t;
	const char *text = NULL;
	(void) state;
	nats_pct_encode("a b\x7f\"%\xc3\xa9~!", 10, out);
	assert_string_equal(out, "a%20b%7F%22%25%C3%A9~!");
	// Plain: what the encoding leaves alone; each other byte is not.
	assert_true(nats_pct_plain("weir://h/bus!~", 14));
	assert_true(nats_pct_plain("", 0));
	for (const char *c = " \x7f\"%\xc3\x01"; *c != '\0'; c++) {
		assert_false(nats_pct_plain(c, 1));
	}
	nats_quote(out, 16, "\x01\x01\x01\x01\x01", 100);
	assert_string_equal(out, "\\x01\\x01\\x01");
	nats_quote(out, sizeof out, "abcdef", 3);
	assert_string_equal(out, "abc");
	memset(&st, 0, sizeof st);
	assert_weir_ok(nats_add_url_secrets(
	    &st, "h:1,nats://h:2,u@h://x,nats://c:d@h:3,nats://h:5,h:4,"));
	assert_string_equal(st.secrets[0], "c:d");
	assert_null(st.secrets[1]);
	nats_errf(&st, "%0390d", 1);
	assert_int_equal(strlen(st.err), 380);
	free(st.secrets[0]);
	assert_int_equal(pthread_create(&t, NULL, last_text_thread, &text), 0);
	pthread_join(t, NULL);
	assert_string_equal(text, natsStatus_GetText(NATS_TIMEOUT));
}

/* ------------------------------------------------------------------ */
/* start                                                               */
/* ------------------------------------------------------------------ */

/* The JetStream context or the stream cannot be made: start fails with
 * the cause named; the connection is closed again. */
static void
test_start_fails(void **state)
{
	bx *b;
	(void) state;
	NEED_BROKER();
	b = bx_new(weir_backend_nats());
	cfg_set(&b->cfg, "nats.url", nats_url);
	cfg_set(&b->cfg, "nats.stream", b->stream);
	cfg_set(&b->cfg, "nats.stream.subjects", b->subjects);
	assert_weir_ok(b->ops->init(&b->st, &b->cfg, &b->sink));
	nf_arm("natsConnection_JetStream", 0, 1, NATS_ERR);
	assert_weir_err(b->ops->start(&b->st), WEIR_EBACKEND);
	assert_int_equal(nf_hits(), 1);
	assert_non_null(strstr(b->ops->errmsg(&b->st), "JetStream context"));
	assert_null(b->st.nc);
	// Out of memory copying the subject list.
	nf_alloc_arm(1);
	assert_weir_err(b->ops->start(&b->st), WEIR_ENOMEM);
	nf_alloc_arm(0);
	assert_null(b->st.nc);
	// publish before a successful start: closed.
	weir_event *ev = ev_new("x", NULL, 0);
	assert_weir_err(bx_publish(b, ev, b->dest, 1), WEIR_ECLOSED);
	b->ops->fini(&b->st);
	// The server refuses the stream: its subjects overlap another's.
	{
		natsConnection *nc = NULL;
		jsCtx          *js = NULL;
		char            other[64];
		bk_unique(other, sizeof other, "WEIRNFO_");
		nc = plain_connect(&js);
		plain_stream(js, other, b->subjects);
		assert_weir_ok(b->ops->init(&b->st, &b->cfg, &b->sink));
		assert_weir_err(b->ops->start(&b->st), WEIR_EBACKEND);
		assert_non_null(
		    strstr(b->ops->errmsg(&b->st), "cannot create stream"));
		b->ops->fini(&b->st);
		js_DeleteStream(js, other, NULL, NULL);
		jsCtx_Destroy(js);
		natsConnection_Destroy(nc);
	}
	weir_event_release(ev);
	bx_free(b);
}

/* A stream created without nats.stream.subjects (the server then uses
 * the stream's name), and a subject list with spaces after commas. */
static void
test_start_stream_forms(void **state)
{
	bx *b;
	(void) state;
	NEED_BROKER();
	b = bx_new(weir_backend_nats());
	cfg_set(&b->cfg, "nats.url", nats_url);
	cfg_set(&b->cfg, "nats.stream", b->stream);
	bx_start(b);
	weir_event *ev = ev_new("x", NULL, 0);
	assert_weir_ok(bx_publish(b, ev, b->stream, 1));
	bx_wait_acks(b, 1);
	ack_is(b, 0, 1, WEIR_OK, 0, NULL);
	bx_stop(b);
	delete_stream(b->stream);
	b->cfg.n = 0;
	char list[256];
	snprintf(list, sizeof list, "%s.x,  %s.y", b->subj, b->subj);
	cfg_set(&b->cfg, "nats.url", nats_url);
	cfg_set(&b->cfg, "nats.stream", b->stream);
	cfg_set(&b->cfg, "nats.stream.subjects", list);
	bx_start(b);
	snprintf(list, sizeof list, "%s.y", b->subj);
	assert_weir_ok(bx_publish(b, ev, list, 2));
	bx_wait_acks(b, 2);
	ack_is(b, 1, 2, WEIR_OK, 0, NULL);
	bx_stop(b);
	delete_stream(b->stream);
	weir_event_release(ev);
	bx_free(b);
}

/* ------------------------------------------------------------------ */
/* publish: what fails on the caller's thread                          */
/* ------------------------------------------------------------------ */

/* A started backend of @p ops over a fresh stream (JetStream). */
static bx *
bx_running(const weir_backend_ops *ops, const char *max_pending,
    const char *ack_timeout_ms)
{
	bx *b = bx_new(ops);
	cfg_set(&b->cfg, "nats.url", nats_url);
	if (strcmp(ops->scheme, "nats") == 0) {
		cfg_set(&b->cfg, "nats.stream", b->stream);
		cfg_set(&b->cfg, "nats.stream.subjects", b->subjects);
	}
	if (max_pending != NULL) {
		cfg_set(&b->cfg, "nats.max_pending", max_pending);
	}
	if (ack_timeout_ms != NULL) {
		cfg_set(&b->cfg, "nats.ack_timeout_ms", ack_timeout_ms);
	}
	bx_start(b);
	return b;
}

static void
bx_done(bx *b)
{
	int js = strcmp(b->ops->scheme, "nats") == 0;
	bx_stop(b);
	if (js) {
		delete_stream(b->stream);
	}
	bx_free(b);
}

/* What NATS cannot carry, for both backends: each event gets one ack,
 * EBACKEND, permanent, the reason quoting what is wrong (escaped), and
 * nothing is sent. */
static void
test_publish_refused(void **state)
{
	const weir_backend_ops  *ops[2]     = { weir_backend_nats(),
		     weir_backend_natscore() };
	static const char *const bad_subj[] = { "a..b", "a.*", "a.>", ".a",
		"a.", "a b", "a\x7f", "a.\\x01\\r\\n\\t" };
	weir_header              h_empty    = { "", "v", 1 };
	weir_header              h_space    = { "a b", "v", 1 };
	weir_header              h_del      = { "a\x7f", "v", 1 };
	weir_header              h_colon    = { "a:b", "v", 1 };
	weir_header              h_ctl      = { "\x01\r\n\t\x80", "v", 1 };
	weir_header              h_cr       = { "ok", "a\rb", 3 };
	weir_header              h_nul      = { "ok", "a\0b", 3 };
	weir_header              h_lf       = { "ok", "a\nb", 3 };
	(void) state;
	NEED_BROKER();
	for (int o = 0; o < 2; o++) {
		bx         *b  = bx_running(ops[o], NULL, NULL);
		weir_event *ev = ev_new("x", NULL, 0);
		char        subj[64];
		bx_publish_fails(b, ev, NULL, 0, "no subject");
		for (size_t i = 0; i < sizeof bad_subj / sizeof bad_subj[0];
		     i++) {
			// The last one holds control bytes (unescaped here).
			snprintf(subj, sizeof subj, "%s",
			    i + 1 < sizeof bad_subj / sizeof bad_subj[0]
			        ? bad_subj[i]
			        : "a.\x01\r\n\t");
			bx_publish_fails(b, ev, subj, 0, "invalid subject");
		}
		ack_is(b, sink_count(&b->sink) - 1, 100 + 8, WEIR_EBACKEND, 0,
		    "'a.\\x01\\r\\n\\t'");
		nf_arm("weir_event_payload", 0, 1, NATS_OK + 1);
		bx_publish_fails(b, ev, b->dest, 0, "payload too large");
		assert_int_equal(nf_hits(), 1);
		weir_event_release(ev);
		const weir_header *hs[] = { &h_empty, &h_space, &h_del,
			&h_colon, &h_ctl, &h_cr, &h_nul, &h_lf };
		for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) {
			ev = ev_new("x", hs[i], 1);
			bx_publish_fails(
			    b, ev, b->dest, 0, "cannot be carried");
			weir_event_release(ev);
		}
		ack_is(b, sink_count(&b->sink) - 4, 100 + 14, WEIR_EBACKEND, 0,
		    "header '\\x01\\r\\n\\t\\x80'");
		assert_int_equal(b->st.outstanding, 0);
		bx_done(b);
	}
}

/* cnats failing to build or take a message, allocation failures for
 * long header values and sources: one ack each, EBACKEND, retriable as
 * the table says; the JetStream map is left empty. */
static void
test_publish_cnats_fails(void **state)
{
	const weir_backend_ops *ops[2] = { weir_backend_nats(),
		weir_backend_natscore() };
	char                    big[400];
	memset(big, 'v', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	weir_header hs[2]   = { { "content-type", "text/plain", 10 },
		  { "long", big, sizeof big - 1 } };
	(void) state;
	NEED_BROKER();
	for (int o = 0; o < 2; o++) {
		bx         *b    = bx_running(ops[o], NULL, NULL);
		weir_event *ev   = ev_new("x", hs, 2);
		int         sets = o == 0 ? 8 : 7; /* Nats-Msg-Id: JetStream */
		char        source[200];
		memset(source, 's', sizeof source - 1);
		source[sizeof source - 1] = '\0';
		source[0] = ' '; /* to encode: a plain one is not copied */
		nf_arm("natsMsg_Create", 0, 1, NATS_NO_MEMORY);
		bx_publish_fails(b, ev, b->dest, 1, NULL);
		assert_int_equal(nf_hits(), 1);
		nf_arm("natsMsgHeader_Add", 0, 1, NATS_INVALID_ARG);
		bx_publish_fails(b, ev, b->dest, 0, NULL);
		assert_int_equal(nf_hits(), 1);
		for (int k = 0; k < sets; k++) {
			nf_arm("natsMsgHeader_Set", k, 1, NATS_NO_MEMORY);
			bx_publish_fails(b, ev, b->dest, 1, NULL);
			assert_int_equal(nf_hits(), 1);
		}
		// The long header value (1st allocation), then the long
		// source (2nd: ce-source's percent-encoding, which only a
		// source with a byte to encode needs).
		b->source = source;
		nf_alloc_arm(1);
		bx_publish_fails(b, ev, b->dest, 1, NULL);
		nf_alloc_arm(2);
		bx_publish_fails(b, ev, b->dest, 1, NULL);
		nf_alloc_arm(0);
		if (o == 0) {
			nf_arm("js_PublishMsgAsync", 0, 1, NATS_TIMEOUT);
		} else {
			nf_arm("natsConnection_PublishMsg", 0, 1,
			    NATS_CONNECTION_CLOSED);
		}
		bx_publish_fails(b, ev, b->dest, 1, NULL);
		assert_int_equal(nf_hits(), 1);
		if (o == 0) {
			for (size_t i = 0; i <= b->st.map_mask; i++) {
				assert_null(b->st.map[i].msg);
			}
		}
		// And a whole one with the long source and value goes out.
		size_t n = sink_count(&b->sink);
		assert_weir_ok(bx_publish(b, ev, b->dest, 7));
		bx_wait_acks(b, n + 1);
		ack_is(b, n, 7, WEIR_OK, 0, NULL);
		weir_event_release(ev);
		bx_done(b);
	}
}

/* ------------------------------------------------------------------ */
/* JetStream: what the server answers                                  */
/* ------------------------------------------------------------------ */

/* A stream that refuses large messages: a negative PubAck with its
 * JetStream code, permanent; a second copy of an event: "duplicate". */
static void
test_js_negative_puback(void **state)
{
	bx            *b;
	jsStreamConfig sc;
	jsStreamInfo  *si = NULL;
	const char    *subj;
	char           big[2000];
	(void) state;
	NEED_BROKER();
	b                  = bx_new(weir_backend_nats());
	natsConnection *nc = NULL;
	jsCtx          *js = NULL;
	nc                 = plain_connect(&js);
	jsStreamConfig_Init(&sc);
	subj           = b->subjects;
	sc.Name        = b->stream;
	sc.Subjects    = &subj;
	sc.SubjectsLen = 1;
	sc.Storage     = js_MemoryStorage;
	sc.MaxMsgSize  = 1024;
	assert_int_equal(js_AddStream(&si, js, &sc, NULL, NULL), NATS_OK);
	jsStreamInfo_Destroy(si);
	// The stream exists: the backend uses it as it is.
	cfg_set(&b->cfg, "nats.url", nats_url);
	cfg_set(&b->cfg, "nats.stream", b->stream);
	bx_start(b);
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	weir_event *ev      = ev_new(big, NULL, 0);
	assert_weir_ok(bx_publish(b, ev, b->dest, 1));
	bx_wait_acks(b, 1);
	ack_is(b, 0, 1, WEIR_EBACKEND, 0, "(JetStream error 10054)");
	weir_event_release(ev);
	ev = ev_new("small", NULL, 0);
	assert_weir_ok(bx_publish(b, ev, b->dest, 2));
	bx_wait_acks(b, 2);
	assert_weir_ok(bx_publish(b, ev, b->dest, 3));
	bx_wait_acks(b, 3);
	ack_is(b, 1, 2, WEIR_OK, 0, NULL);
	ack_is(b, 2, 3, WEIR_OK, 0, "duplicate");
	weir_event_release(ev);
	bx_stop(b);
	js_DeleteStream(js, b->stream, NULL, NULL);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	bx_free(b);
}

static nats_state *hook_st;

/* What a publish failing on another thread does (mu held). */
static void
hook_fail_one(void)
{
	hook_st->outstanding++;
	nats_done_push(hook_st, 4, WEIR_EBACKEND, 0, "no subject");
}

/* A subject whose PubAck never comes (a plain subscriber takes the
 * message and never answers): a retriable timeout after
 * nats.ack_timeout_ms; meanwhile nats.max_pending = 1 is reached
 * (EAGAIN); and at stop, a message cnats still holds is taken back and
 * failed as retriable. */
static void
test_js_no_puback(void **state)
{
	bx               *b;
	natsConnection   *nc  = NULL;
	natsSubscription *sub = NULL;
	char              silent[128];
	(void) state;
	NEED_BROKER();
	nc = plain_connect(NULL);
	bk_unique(silent, sizeof silent, "weirnf.silent");
	assert_int_equal(
	    natsConnection_SubscribeSync(&sub, nc, silent), NATS_OK);
	assert_int_equal(natsConnection_Flush(nc), NATS_OK);
	b              = bx_running(weir_backend_nats(), "1", "300");
	weir_event *ev = ev_new("x", NULL, 0);
	assert_weir_ok(bx_publish(b, ev, silent, 1));
	assert_weir_err(bx_publish(b, ev, silent, 2), WEIR_EAGAIN);
	bx_wait_acks(b, 1);
	ack_is(b, 0, 1, WEIR_EBACKEND, 1, NULL);
	bx_done(b);
	// stop while a PubAck is awaited: js_PublishAsyncComplete "times
	// out" at once, the pending message is failed, retriable.
	b = bx_running(weir_backend_nats(), NULL, "30000");
	assert_weir_ok(bx_publish(b, ev, silent, 5));
	// A poll waiting for the PubAck ends when another thread's
	// publish queues a failure (made here inside the wait).
	hook_st = &b->st;
	nf_hook = hook_fail_one;
	nf_arm("pthread_cond_timedwait", 0, 1, NATS_ERR);
	b->ops->poll(&b->st, 10000);
	assert_int_equal(nf_hits(), 1);
	assert_int_equal(sink_count(&b->sink), 1);
	ack_is(b, 0, 4, WEIR_EBACKEND, 0, "no subject");
	b->sink.n = 0;
	nf_arm("js_PublishAsyncComplete", 0, 1, NATS_TIMEOUT);
	b->ops->stop(&b->st);
	assert_int_equal(nf_hits(), 1);
	assert_int_equal(sink_count(&b->sink), 1);
	ack_is(b, 0, 5, WEIR_EBACKEND, 1, "stopped before the broker");
	assert_weir_err(bx_publish(b, ev, silent, 6), WEIR_ECLOSED);
	b->ops->fini(&b->st);
	delete_stream(b->stream);
	bx_free(b);
	weir_event_release(ev);
	natsSubscription_Destroy(sub);
	natsConnection_Destroy(nc);
}

/* The error handler, for a permission error whose text is @p text. */
static void
on_error_text(bx *b, natsConnection *nc, const char *text)
{
	nf_arm("natsConnection_GetLastError", 0, 1, NATS_NOT_PERMITTED);
	nf_text(text);
	nats_on_error(nc, NULL, NATS_NOT_PERMITTED, &b->st);
	assert_int_equal(nf_hits(), 1);
}

/* Negative PubAcks, as cnats makes them, once "no.pub" is denied: a
 * timeout there is permanent, elsewhere retriable; a JetStream code
 * and a text (scrubbed) are quoted. A PubAck for a message not in the
 * map (taken back at stop) makes no ack. */
static void
puback_errors(bx *b)
{
	natsMsg    *m1 = NULL, *m2 = NULL, *m3 = NULL;
	jsPubAckErr pae;
	assert_int_equal(natsMsg_Create(&m1, "no.pub", NULL, "x", 1), NATS_OK);
	assert_int_equal(natsMsg_Create(&m2, "ok.pub", NULL, "x", 1), NATS_OK);
	assert_int_equal(natsMsg_Create(&m3, "ok.pub", NULL, "x", 1), NATS_OK);
	b->st.outstanding = 4;
	memset(&pae, 0, sizeof pae);
	pae.Err = NATS_TIMEOUT;
	nats_ack_error(&b->st, m1, 1, &pae);
	nats_ack_error(&b->st, m2, 2, &pae);
	pae.ErrCode = JSStreamStoreFailedErr;
	nats_ack_error(&b->st, m2, 3, &pae);
	pae.ErrCode = 0;
	pae.Err     = NATS_NO_RESPONDERS;
	pae.ErrText = "no responders pw9";
	nats_ack_error(&b->st, m2, 4, &pae);
	assert_int_equal(sink_count(&b->sink), 4);
	ack_is(b, 0, 1, WEIR_EBACKEND, 0, "Permissions Violation");
	ack_is(b, 1, 2, WEIR_EBACKEND, 1, natsStatus_GetText(NATS_TIMEOUT));
	ack_is(b, 2, 3, WEIR_EBACKEND, 1, "(JetStream error 10077)");
	ack_is(b, 3, 4, WEIR_EBACKEND, 1, "no responders ***");
	assert_int_equal(b->st.outstanding, 0);
	nats_on_puback(NULL, m3, NULL, &pae, &b->st);
	assert_int_equal(sink_count(&b->sink), 4);
	natsMsg_Destroy(m1);
	natsMsg_Destroy(m2);
}

/* The error handler keeps the subject of a publish permission
 * violation; a PubAck timeout on that subject is then permanent, with
 * the violation as its reason. Other errors and texts are ignored. A
 * PubAck for a message not in the map makes no ack. */
static void
test_js_denied_subject(void **state)
{
	bx             *b = bx_new(weir_backend_nats());
	natsConnection *nc;
	char            long_text[300];
	(void) state;
	NEED_BROKER();
	nc = plain_connect(NULL);
	cfg_set(&b->cfg, "nats.url", nats_url);
	cfg_set(&b->cfg, "nats.password", "pw9");
	assert_weir_ok(b->ops->init(&b->st, &b->cfg, &b->sink));
	// Ignored: another error, no error, no text, another text, no
	// closing quote, a subject too long to keep.
	nats_on_error(nc, NULL, NATS_SLOW_CONSUMER, &b->st);
	nats_on_error(nc, NULL, NATS_NOT_PERMITTED, &b->st);
	on_error_text(b, nc, NULL);
	on_error_text(b, nc, "Authorization Violation");
	on_error_text(b, nc, "Permissions Violation for Publish to \"x.y");
	snprintf(long_text, sizeof long_text,
	    "Permissions Violation for Publish to \"%0200d\"", 7);
	on_error_text(b, nc, long_text);
	for (size_t i = 0; i < NATS_DENIED; i++) {
		assert_string_equal(b->st.denied[i], "");
	}
	on_error_text(
	    b, nc, "Permissions Violation for Publish to \"no.pub\"");
	assert_string_equal(b->st.denied[0], "no.pub");
	puback_errors(b);
	b->ops->fini(&b->st);
	natsConnection_Destroy(nc);
	bx_free(b);
}

/* The pointer -> token map against a model, with random puts and takes
 * in a small table, so that probes wrap around its end and deletion
 * shifts entries back from both sides of it. */
static void
test_map_model(void **state)
{
	nats_state st;
	natsMsg   *keys[12];
	uint64_t   model[12]; /* 0: absent */
	size_t     in = 0;
	(void) state;
	memset(&st, 0, sizeof st);
	st.max_pending = 6;
	st.jetstream   = 1;
	assert_weir_ok(nats_alloc(&st));
	assert_int_equal(st.map_mask, 15);
	srand(12);
	// Keys whose home slots lie around the table's end (13..15, 0):
	// their probes wrap.
	for (size_t i = 0, c = 0; i < 12; c++) {
		natsMsg *k = (natsMsg *) (uintptr_t) (0x1000 + 0x40 * c);
		size_t   h = nats_map_hash(&st, k);
		if (h >= 13 || h == 0) {
			keys[i]    = k;
			model[i++] = 0;
		}
	}
	for (int step = 0; step < 20000; step++) {
		size_t   k = (size_t) rand() % 12;
		uint64_t token;
		if (model[k] == 0 && in < 12) {
			model[k] = (uint64_t) step + 1;
			nats_map_put(&st, keys[k], model[k]);
			in++;
		} else {
			int found = nats_map_take(&st, keys[k], &token);
			assert_int_equal(found, model[k] != 0);
			if (found) {
				assert_int_equal(token, model[k]);
				model[k] = 0;
				in--;
			}
		}
	}
	free(st.map);
	free(st.done);
}

/* ------------------------------------------------------------------ */
/* core NATS: poll and stop                                            */
/* ------------------------------------------------------------------ */

/* poll acks written tokens once cnats's buffer is empty, else after a
 * flush (with a timeout), else not yet (timeout 0); a closed connection
 * fails them (retriable); a flush failing at stop fails them too. */
static void
test_core_poll_and_stop(void **state)
{
	bx *b;
	(void) state;
	NEED_BROKER();
	b              = bx_running(weir_backend_natscore(), NULL, NULL);
	weir_event *ev = ev_new("x", NULL, 0);
	assert_weir_ok(bx_publish(b, ev, b->dest, 1));
	nf_arm("natsConnection_Buffered", 0, 1, NATS_ERR);
	b->ops->poll(&b->st, 0);
	assert_int_equal(nf_hits(), 1);
	assert_int_equal(sink_count(&b->sink), 0);
	nf_arm("natsConnection_Buffered", 0, 1, NATS_ERR);
	b->ops->poll(&b->st, 1000);
	assert_int_equal(nf_hits(), 1);
	assert_int_equal(sink_count(&b->sink), 1);
	ack_is(b, 0, 1, WEIR_OK, 0, NULL);
	// Reconnecting, and no time to flush: not acked yet.
	assert_weir_ok(bx_publish(b, ev, b->dest, 2));
	nf_arm("natsConnection_Status", 0, 1, NATS_ERR);
	b->ops->poll(&b->st, 0);
	assert_int_equal(nf_hits(), 1);
	assert_int_equal(sink_count(&b->sink), 1);
	// The flush fails: not acked yet, but at the next poll.
	nf_arm("natsConnection_Buffered", 0, 1, NATS_ERR);
	nf_also("natsConnection_FlushTimeout", 0, 1, NATS_TIMEOUT);
	b->ops->poll(&b->st, 100);
	assert_int_equal(nf_hits(), 2);
	assert_int_equal(sink_count(&b->sink), 1);
	bx_wait_acks(b, 2);
	ack_is(b, 1, 2, WEIR_OK, 0, NULL);
	// The connection closed under it.
	assert_weir_ok(bx_publish(b, ev, b->dest, 3));
	natsConnection_Close(b->st.nc);
	b->ops->poll(&b->st, 0);
	assert_int_equal(sink_count(&b->sink), 3);
	ack_is(b, 2, 3, WEIR_EBACKEND, 1, "connection closed");
	bx_stop(b);
	// stop: the flush fails.
	b->cfg.n  = 0;
	b->sink.n = 0;
	cfg_set(&b->cfg, "nats.url", nats_url);
	bx_start(b);
	assert_weir_ok(bx_publish(b, ev, b->dest, 4));
	nf_arm("natsConnection_FlushTimeout", 0, 1, NATS_TIMEOUT);
	b->ops->stop(&b->st);
	assert_int_equal(nf_hits(), 1);
	assert_int_equal(sink_count(&b->sink), 1);
	ack_is(b, 0, 4, WEIR_EBACKEND, 1, "stopped before the write");
	b->ops->fini(&b->st);
	bx_free(b);
	weir_event_release(ev);
}

/* ------------------------------------------------------------------ */
/* Sources                                                             */
/* ------------------------------------------------------------------ */

typedef struct sx {
	const weir_source_ops *ops;
	nats_src               src;
	weir_bridge_config     cfg;
	weir_source_spec       spec;
	weir_inlet             in;
	natsConnection        *nc;
	jsCtx                 *js;
	char                   stream[64], subj[96], from[100], route[64];
} sx;

static sx *
sx_new(const weir_source_ops *ops)
{
	sx *x = calloc(1, sizeof *x);
	assert_non_null(x);
	x->ops = ops;
	SRC_FIXTURE_NAME(x, "WEIRNFS_", "weirnfs.s", 16);
	return x;
}

/* With a broker: a plain connection and, for JetStream, the stream. */
static void
sx_connect(sx *x)
{
	int js = strcmp(x->ops->scheme, "nats") == 0;
	x->nc  = plain_connect(&x->js);
	if (js) {
		plain_stream(x->js, x->stream, x->from);
	}
	cfg_set(&x->cfg, "nats.url", nats_url);
}

static void
sx_free(sx *x)
{
	if (x->js != NULL) {
		js_DeleteStream(x->js, x->stream, NULL, NULL);
		jsCtx_Destroy(x->js);
	}
	natsConnection_Destroy(x->nc);
	free(x);
}

static weir_err
sx_init(sx *x)
{
	return x->ops->init(&x->src, &x->cfg, &x->spec, &x->in);
}

/* init fails with @p want and errmsg naming @p needle (the source is
 * released: errmsg stays valid). */
static void
sx_init_fails(sx *x, weir_err want, const char *needle)
{
	assert_weir_err(sx_init(x), want);
	errmsg_has(x->ops->errmsg(&x->src), needle);
	assert_int_equal(x->src.ns.mu_ok, 0);
}

/* init succeeds, start fails with @p want naming @p needle. */
static void
sx_start_fails(sx *x, weir_err want, const char *needle)
{
	assert_weir_ok(sx_init(x));
	assert_weir_err(x->ops->start(&x->src), want);
	errmsg_has(x->ops->errmsg(&x->src), needle);
	assert_null(x->src.ns.nc);
	x->ops->stop(&x->src); /* not started: nothing to do */
	x->ops->fini(&x->src);
}

/* Publishes @p n messages with @p nh headers each (h0..h<nh-1>), and
 * waits for the stream's acks (JetStream) or a flush. */
static void
sx_publish(sx *x, int n, int nh)
{
	int js = strcmp(x->ops->scheme, "nats") == 0;
	for (int i = 0; i < n; i++) {
		natsMsg *m = NULL;
		char     subj[128], k[16];
		snprintf(subj, sizeof subj, "%s.k", x->subj);
		assert_int_equal(
		    natsMsg_Create(&m, subj, NULL, "x", 1), NATS_OK);
		for (int h = 0; h < nh; h++) {
			snprintf(k, sizeof k, "h%d", h);
			assert_int_equal(
			    natsMsgHeader_Set(m, k, "v"), NATS_OK);
		}
		plain_send(x->nc, x->js, m, js);
	}
	plain_sent(x->nc, x->js, js);
}

/* Fetches until the inlet saw @p n deliveries (bounded); each fetch
 * must answer @p want. */
static void
sx_fetch_until(sx *x, size_t n, weir_err want)
{
	int64_t end = wt_now_ms() + DEADLINE_MS;
	while (x->in.n < n && wt_now_ms() < end) {
		assert_weir_err(x->ops->fetch(&x->src, 16, 100), want);
	}
	assert_int_equal(x->in.n, n);
}

/* Options and specs refused at init, and init's allocation failures. */
static void
test_src_init_errors(void **state)
{
	static const char *const bad[][2] = {
		{ "nats.in.ack_wait_ms", "0" },
		{ "nats.in.max_ack_pending", "x" },
		{ "nats.in.pending_msgs", "-1" },
		{ "nats.in.pending_bytes", "99999999999" },
	};
	sx *x;
	(void) state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		x = sx_new(weir_source_natscore());
		cfg_set(&x->cfg, bad[i][0], bad[i][1]);
		sx_init_fails(x, WEIR_EINVAL, bad[i][0]);
		sx_free(x);
	}
	x             = sx_new(weir_source_natscore());
	x->spec.from  = NULL;
	x->spec.route = NULL;
	sx_init_fails(x, WEIR_EINVAL, "route '' has no subject");
	x->spec.route = "r1";
	sx_init_fails(x, WEIR_EINVAL, "route 'r1' has no subject");
	sx_free(x);
	// Durable names: empty, too long; a route's dots become '_', no
	// route is "inbound".
	char long_group[120];
	memset(long_group, 'g', sizeof long_group - 1);
	long_group[sizeof long_group - 1] = '\0';
	x                                 = sx_new(weir_source_nats());
	x->spec.group                     = "";
	sx_init_fails(x, WEIR_EINVAL, "durable name ''");
	x->spec.group = long_group;
	sx_init_fails(x, WEIR_EINVAL, "durable name 'ggg");
	x->spec.group = NULL;
	x->spec.route = "a.b.c";
	x->spec.batch = 0;
	assert_weir_ok(sx_init(x));
	assert_string_equal(x->src.durable, "weir-a_b_c");
	assert_int_equal(x->src.spec.batch, 256);
	assert_weir_err(x->ops->fetch(&x->src, 16, 10), WEIR_ECLOSED);
	x->ops->fini(&x->src);
	x->spec.route = NULL;
	assert_weir_ok(sx_init(x));
	assert_string_equal(x->src.durable, "weir-inbound");
	x->ops->fini(&x->src);
	// Each allocation of init failing (the secrets).
	cfg_set(&x->cfg, "nats.password", "pw");
	cfg_set(&x->cfg, "nats.token", "tok");
	for (long n = 1;; n++) {
		nf_alloc_arm(n);
		weir_err rv = sx_init(x);
		nf_alloc_arm(0);
		if (rv == WEIR_OK) {
			assert_true(n > 2);
			break;
		}
		assert_weir_err(rv, WEIR_ENOMEM);
		assert_string_equal(
		    x->ops->errmsg(&x->src), "nats: out of memory");
	}
	x->ops->fini(&x->src);
	sx_free(x);
}

static void *
start_fails_thread(void *arg)
{
	sx_start_fails(arg, WEIR_EBACKEND, "cannot bind durable consumer");
	return NULL;
}

/* start's failures, each named, the connection closed again. */
static void
test_src_start_errors(void **state)
{
	pthread_t t;
	sx       *x;
	(void) state;
	NEED_BROKER();
	x = sx_new(weir_source_natscore());
	sx_connect(x);
	nf_arm("natsConnection_SubscribeSync", 0, 1, NATS_NOT_PERMITTED);
	sx_start_fails(x, WEIR_EBACKEND, "cannot subscribe");
	assert_int_equal(nf_hits(), 1);
	nf_arm("natsSubscription_SetPendingLimits", 0, 1, NATS_INVALID_ARG);
	sx_start_fails(x, WEIR_EBACKEND, "cannot subscribe");
	assert_int_equal(nf_hits(), 1);
	nf_arm("natsConnection_FlushTimeout", 0, 1, NATS_TIMEOUT);
	sx_start_fails(x, WEIR_EBACKEND, "cannot subscribe");
	assert_int_equal(nf_hits(), 1);
	// A queue group subscribes; a fetch after stop is refused.
	x->spec.group = "weirnf-q";
	assert_weir_ok(sx_init(x));
	assert_weir_ok(x->ops->start(&x->src));
	sx_publish(x, 3, 0);
	sx_fetch_until(x, 3, WEIR_OK);
	x->ops->stop(&x->src);
	assert_weir_err(x->ops->fetch(&x->src, 16, 10), WEIR_ECLOSED);
	x->ops->fini(&x->src);
	sx_free(x);

	x = sx_new(weir_source_nats());
	sx_connect(x);
	nf_arm("natsConnection_JetStream", 0, 1, NATS_ERR);
	sx_start_fails(x, WEIR_EBACKEND, "JetStream context");
	assert_int_equal(nf_hits(), 1);
	x->spec.stream = x->stream;
	nf_arm("js_GetStreamInfo", 0, 1, NATS_TIMEOUT);
	sx_start_fails(x, WEIR_EBACKEND, x->stream);
	assert_int_equal(nf_hits(), 1);
	nf_arm("js_PullSubscribe", 0, 1, NATS_ERR);
	sx_start_fails(x, WEIR_EBACKEND, "cannot bind durable consumer");
	assert_int_equal(nf_hits(), 1);
	nf_arm("js_GetStreamInfo", 0, 1, NATS_NOT_FOUND);
	sx_start_fails(x, WEIR_ENOENT, "does not exist");
	assert_int_equal(nf_hits(), 1);
	// No stream named, and a failure whose text does not say "stream"
	// (a thread without an earlier cnats error): not "no stream".
	x->spec.stream = NULL;
	nf_arm("js_PullSubscribe", 0, 1, NATS_ERR);
	assert_int_equal(pthread_create(&t, NULL, start_fails_thread, x), 0);
	pthread_join(t, NULL);
	assert_int_equal(nf_hits(), 1);
	sx_free(x);
}

/* fetch's failures: the pull fails (EBACKEND, named), allocation fails
 * for the headers or the ring (ENOMEM; the message comes back), a
 * header's values cannot be read (that header skipped); and what goes
 * well: many headers, none, a queued message pulled alone, a done for
 * a token not held, the done list unable to grow. */
static nats_src *hook_src;

/* stop, as seen by a waiting fetch (ns.mu held). */
static void
hook_stopping(void)
{
	hook_src->stopping = 1;
}

/* The end of a fetch, as seen by stop (ns.mu held). */
static void
hook_fetch_ends(void)
{
	hook_src->fetching = 0;
}

static void
test_src_fetch_faults(void **state)
{
	sx *x;
	(void) state;
	NEED_BROKER();
	x = sx_new(weir_source_nats());
	sx_connect(x);
	assert_weir_ok(sx_init(x));
	assert_weir_ok(x->ops->start(&x->src));
	sx_publish(x, 1, 20); /* more headers than the first 16 slots */
	sx_publish(x, 1, 0);  /* none */
	nf_arm("natsSubscription_Fetch", 0, 1, NATS_ERR);
	assert_weir_err(x->ops->fetch(&x->src, 16, 100), WEIR_EBACKEND);
	assert_int_equal(nf_hits(), 1);
	assert_non_null(strstr(x->ops->errmsg(&x->src), "fetch on"));
	// The header array cannot be made (1st allocation), then the
	// ring (3rd, after the array's two): ENOMEM, the batch Nak'ed.
	nf_alloc_arm(1);
	assert_weir_err(x->ops->fetch(&x->src, 16, 2000), WEIR_ENOMEM);
	assert_int_equal(nf_alloc_calls, 1);
	nf_alloc_arm(3);
	assert_weir_err(x->ops->fetch(&x->src, 16, 2000), WEIR_ENOMEM);
	assert_int_equal(nf_alloc_calls, 3);
	nf_alloc_arm(0);
	assert_int_equal(x->in.n, 0);
	// One header's values unreadable: that header is skipped; a
	// queued message (as cnats may hold) is pulled alone.
	nf_arm("natsMsgHeader_Values", 0, 1, NATS_ERR);
	nf_also("natsSubscription_GetPending", 0, 1, NATS_ERR);
	sx_fetch_until(x, 2, WEIR_OK);
	assert_int_equal(nf_hits(), 2);
	// The Nak'ed two come back in either order (a TSan run saw 0, 19).
	assert_true((x->in.headers[0] == 19 && x->in.headers[1] == 0) ||
	    (x->in.headers[0] == 0 && x->in.headers[1] == 19));
	// done for a token never handed out: ignored. The first done
	// cannot make the trash: its message is destroyed at once.
	x->ops->done(&x->src, 12345);
	nf_alloc_arm(1);
	x->ops->done(&x->src, x->in.token[0]);
	nf_alloc_arm(0);
	assert_int_equal(x->src.ntrash, 0);
	assert_null(x->src.trash);
	x->ops->done(&x->src, x->in.token[1]);
	assert_int_equal(x->src.ntrash, 1);
	x->ops->stop(&x->src);
	x->ops->fini(&x->src);
	sx_free(x);
}

/* A message's coordinates come from its ack subject, else from cnats's
 * metadata (the same text); without either it has none. GetPending
 * failing means a full pull; a token done twice is ignored. Paused,
 * fetch waits until stop; stop waits for a fetch still running. (Each
 * wait ends by what another thread would do, made inside the wait.) */
static void
test_src_meta_and_waits(void **state)
{
	sx *x;
	(void) state;
	NEED_BROKER();
	x = sx_new(weir_source_nats());
	sx_connect(x);
	assert_weir_ok(sx_init(x));
	assert_weir_ok(x->ops->start(&x->src));
	sx_publish(x, 1, 0);
	sx_fetch_until(x, 1, WEIR_OK);
	x->ops->done(&x->src, x->in.token[0]);
	sx_publish(x, 1, 0);
	atomic_store(&nf_foreign_reply, 1);
	nf_arm("natsMsg_GetMetaData", 0, 1, NATS_ERR);
	nf_also("natsSubscription_GetPending", 0, 1, NATS_INVALID_ARG);
	sx_fetch_until(x, 2, WEIR_OK);
	assert_int_equal(nf_hits(), 2);
	sx_publish(x, 1, 0);
	sx_fetch_until(x, 3, WEIR_OK); /* cnats reads this one */
	atomic_store(&nf_foreign_reply, 0);
	char want[96];
	snprintf(want, sizeof want, "nats:%s/1", x->stream);
	assert_string_equal(x->in.where[0], want);
	assert_int_equal(x->in.coord[1], 0);
	snprintf(want, sizeof want, "nats:%s/3", x->stream);
	assert_string_equal(x->in.where[2], want);
	x->ops->done(&x->src, x->in.token[2]);
	x->ops->done(&x->src, x->in.token[1]);
	x->ops->done(&x->src, x->in.token[0]); /* done twice: ignored */
	assert_int_equal(x->src.ntrash, 2);
	hook_src = &x->src;
	nf_hook  = hook_stopping;
	x->ops->pause(&x->src, 1);
	nf_arm("pthread_cond_timedwait", 0, 1, NATS_ERR);
	assert_weir_ok(x->ops->fetch(&x->src, 16, 10000));
	assert_int_equal(nf_hits(), 1);
	x->src.stopping = 0;
	x->src.fetching = 1;
	nf_hook         = hook_fetch_ends;
	nf_arm("pthread_cond_wait", 0, 1, NATS_ERR);
	x->ops->stop(&x->src);
	assert_int_equal(nf_hits(), 1);
	assert_int_equal(x->src.fetching, 0);
	assert_null(x->src.sub);
	x->ops->fini(&x->src);
	sx_free(x);
}

/* natscore: a refused delivery is dropped and counted; a slow-consumer
 * status is skipped; paused, fetch only waits. */
static void
test_src_core_refused(void **state)
{
	sx *x;
	(void) state;
	NEED_BROKER();
	x = sx_new(weir_source_natscore());
	sx_connect(x);
	assert_weir_ok(sx_init(x));
	assert_weir_ok(x->ops->start(&x->src));
	sx_publish(x, 3, 1);
	x->in.reply = WEIR_EAGAIN;
	nf_arm("natsSubscription_NextMsg", 0, 1, NATS_SLOW_CONSUMER);
	sx_fetch_until(x, 3, WEIR_OK);
	assert_int_equal(nf_hits(), 1);
	assert_int_equal(x->src.refused, 3);
	assert_non_null(strstr(x->ops->errmsg(&x->src), "3 messages dropped"));
	x->ops->pause(&x->src, 1);
	assert_weir_ok(x->ops->fetch(&x->src, 16, 10));
	x->ops->pause(&x->src, 0);
	assert_weir_ok(x->ops->fetch(&x->src, 0, 10));
	assert_int_equal(x->in.n, 3);
	x->ops->stop(&x->src);
	x->ops->fini(&x->src);
	sx_free(x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_bad_values),
		cmocka_unit_test(test_init_cnats_refuses),
		cmocka_unit_test(test_init_all_options),
		cmocka_unit_test(test_init_setter_fails),
		cmocka_unit_test(test_init_alloc_fails),
		cmocka_unit_test(test_init_secrets),
		cmocka_unit_test(test_init_subjects_limit),
		cmocka_unit_test(test_map_model),
		cmocka_unit_test(test_text_helpers),
		cmocka_unit_test(test_start_fails),
		cmocka_unit_test(test_start_stream_forms),
		cmocka_unit_test(test_publish_refused),
		cmocka_unit_test(test_publish_cnats_fails),
		cmocka_unit_test(test_js_negative_puback),
		cmocka_unit_test(test_js_no_puback),
		cmocka_unit_test(test_js_denied_subject),
		cmocka_unit_test(test_core_poll_and_stop),
		cmocka_unit_test(test_src_init_errors),
		cmocka_unit_test(test_src_start_errors),
		cmocka_unit_test(test_src_fetch_faults),
		cmocka_unit_test(test_src_meta_and_waits),
		cmocka_unit_test(test_src_core_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
