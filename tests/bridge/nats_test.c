/*
 * The NATS backends ("nats" = JetStream, "natscore") against a real
 * nats-server started by scripts/brokers.sh (label integration).
 *
 * The bridge's side of the provider API (weir_sink_ack and the config
 * lookups) is a small stand-in here, so this test exercises only the
 * backend's contract: every publish that returns WEIR_OK gets exactly
 * one ack, and what the broker holds is read back by a plain cnats
 * client, independent of the backend.
 *
 * The broker and the config stand-in: nats_fixture.h.
 */
#define NATS_FIXTURE_CONFIG
#include "nats_fixture.h"

#include <weir/backend.h>
#include <weir/nats.h>

#include <pthread.h>
#include <string.h>
#include <unistd.h>

#define N_EVENTS 100000
#define N_KEYS 16
#define DEADLINE_MS 120000

/* ------------------------------------------------------------------ */
/* The bridge's side, as a stand-in                                    */
/* ------------------------------------------------------------------ */

enum { T_IDLE, T_SENT, T_OK, T_RETRY, T_PERM };

struct weir_sink {
	pthread_mutex_t mu;
	pthread_cond_t  cond;
	uint8_t        *state; /* per token */
	size_t          n;
	size_t          ok, dup, retry, perm, extra;
	char            reason[256];
};

void
weir_sink_ack(weir_sink *sink, uint64_t token, weir_err result, int retriable,
    const char *reason)
{
	pthread_mutex_lock(&sink->mu);
	if (token >= sink->n || sink->state[token] != T_SENT) {
		sink->extra++; /* an ack nobody asked for: a defect */
	} else if (result == WEIR_OK) {
		sink->state[token] = T_OK;
		sink->ok++;
		sink->dup +=
		    reason != NULL && strcmp(reason, "duplicate") == 0;
	} else {
		sink->state[token] = retriable ? T_RETRY : T_PERM;
		*(retriable ? &sink->retry : &sink->perm) += 1;
		snprintf(sink->reason, sizeof sink->reason, "%s",
		    reason ? reason : "");
	}
	pthread_cond_broadcast(&sink->cond);
	pthread_mutex_unlock(&sink->mu);
}

/* The bridge's inbound side: the sources in nats.c call it, but this
 * test drives the backends only. */
weir_err
weir_inlet_deliver(weir_inlet *in, const weir_inbound_msg *msg)
{
	(void) in;
	(void) msg;
	return WEIR_ECLOSED;
}

/* ------------------------------------------------------------------ */
/* A relay-like driver                                                 */
/* ------------------------------------------------------------------ */

typedef struct fixture {
	const weir_backend_ops *ops;
	void                   *st;
	weir_bridge_config      cfg;
	weir_sink               sink;
	weir_event            **ev;
	size_t                  n;
	char                    subj_prefix[96];
	char                    subjects[128];
	char                    stream[64];
	char                    dest[N_KEYS][128];
} fixture;

static void
fixture_events(fixture *fx, size_t n)
{
	fx->ev = calloc(n, sizeof *fx->ev);
	assert_non_null(fx->ev);
	fx->n = n;
	for (size_t i = 0; i < n; i++) {
		char        key[8], payload[32];
		weir_header h[] = { { "traceparent",
		    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		    55 } };
		snprintf(key, sizeof key, "k%zu", i % N_KEYS);
		snprintf(payload, sizeof payload, "%zu", i);
		weir_event_init init = { .size = sizeof(weir_event_init),
			.topic                 = "orders.eu.created",
			.key                   = key,
			.key_len               = strlen(key),
			.payload               = payload,
			.payload_len           = strlen(payload),
			.headers               = h,
			.header_count          = 1 };
		assert_weir_ok(weir_event_new(&fx->ev[i], &init));
	}
	fx->sink.state = calloc(n, 1);
	fx->sink.n     = n;
	assert_non_null(fx->sink.state);
}

static fixture *
fixture_new(const weir_backend_ops *ops, size_t n)
{
	fixture *fx = calloc(1, sizeof *fx);
	assert_non_null(fx);
	fx->ops = ops;
	fx->st  = calloc(1, ops->state_size);
	assert_non_null(fx->st);
	pthread_mutex_init(&fx->sink.mu, NULL);
	pthread_cond_init(&fx->sink.cond, NULL);
	bk_unique(fx->subj_prefix, sizeof fx->subj_prefix, "weirtest.s");
	bk_unique(fx->stream, sizeof fx->stream, "WEIRTEST_");
	snprintf(fx->subjects, sizeof fx->subjects, "%s.>", fx->subj_prefix);
	for (size_t k = 0; k < N_KEYS; k++) {
		snprintf(fx->dest[k], sizeof fx->dest[k], "%s.k%zu",
		    fx->subj_prefix, k);
	}
	cfg_set(&fx->cfg, "nats.url", nats_url);
	if (n > 0) {
		fixture_events(fx, n);
	}
	return fx;
}

static void
fixture_free(fixture *fx)
{
	for (size_t i = 0; i < fx->n; i++) {
		weir_event_release(fx->ev[i]);
	}
	free(fx->ev);
	free(fx->sink.state);
	free(fx->st);
	pthread_cond_destroy(&fx->sink.cond);
	pthread_mutex_destroy(&fx->sink.mu);
	free(fx);
}

static void
fixture_start(fixture *fx)
{
	weir_err rv = fx->ops->init(fx->st, &fx->cfg, &fx->sink);
	if (rv == WEIR_OK) {
		rv = fx->ops->start(fx->st);
	}
	if (rv != WEIR_OK) {
		fail_msg("init/start: %s: %s", weir_err_name(rv),
		    fx->ops->errmsg(fx->st));
	}
}

static void
fixture_stop(fixture *fx)
{
	fx->ops->stop(fx->st);
	fx->ops->fini(fx->st);
}

/* Publishes token i (the event at i), waiting while the window is full. */
static void
send_one(fixture *fx, size_t i)
{
	weir_bridge_msg m = { .size = sizeof(weir_bridge_msg),
		.ev                 = fx->ev[i],
		.seq                = i + 1,
		.dest               = fx->dest[i % N_KEYS],
		.key                = weir_event_key(fx->ev[i], &m.key_len),
		.source             = "weir://test-host/my bus",
		.token              = i };
	weir_err        rv;
	int64_t         dl = wt_now_ms() + DEADLINE_MS;
	pthread_mutex_lock(&fx->sink.mu);
	fx->sink.state[i] = T_SENT;
	pthread_mutex_unlock(&fx->sink.mu);
	while ((rv = fx->ops->publish(fx->st, &m)) == WEIR_EAGAIN) {
		assert_true(wt_now_ms() < dl);
		fx->ops->poll(fx->st, 20);
	}
	assert_weir_ok(rv);
}

/* Re-sends every retriable failure until all of [0, n) are acked, as
 * the relay does; returns how many re-sends it took. */
static size_t
settle(fixture *fx, size_t n)
{
	int64_t dl      = wt_now_ms() + DEADLINE_MS;
	size_t  resends = 0;
	for (;;) {
		size_t ok, perm;
		fx->ops->poll(fx->st, 50);
		pthread_mutex_lock(&fx->sink.mu);
		ok   = fx->sink.ok;
		perm = fx->sink.perm;
		pthread_mutex_unlock(&fx->sink.mu);
		if (perm > 0) {
			fail_msg("permanent failure: %s", fx->sink.reason);
		}
		if (ok == n) {
			return resends;
		}
		assert_true(wt_now_ms() < dl);
		for (size_t i = 0; i < n; i++) {
			if (fx->sink.state[i] == T_RETRY) { /* only we write */
				send_one(fx, i);
				resends++;
			}
		}
	}
}

/* ------------------------------------------------------------------ */
/* Reading back with a plain cnats client                              */
/* ------------------------------------------------------------------ */

static uint64_t
stream_msgs(jsCtx *js, const char *stream)
{
	jsStreamInfo *si = NULL;
	uint64_t      n;
	assert_int_equal(
	    js_GetStreamInfo(&si, js, stream, NULL, NULL), NATS_OK);
	n = si->State.Msgs;
	jsStreamInfo_Destroy(si);
	return n;
}

static int
id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

/* One fetched message: its id into ids, its order checked per key. */
static void
check_one(natsMsg *m, uint8_t *id, long *last)
{
	const char *v = NULL;
	long        idx;
	assert_int_equal(natsMsgHeader_Get(m, "Nats-Msg-Id", &v), NATS_OK);
	assert_weir_ok(weir_uuid_parse(v, id));
	idx = strtol(natsMsg_GetData(m), NULL, 10);
	if (last != NULL) {
		assert_true(idx > last[idx % N_KEYS]); /* in order per key */
		last[idx % N_KEYS] = idx;
	}
}

/* Reads the whole stream with a pull consumer; checks that it holds
 * exactly the ids of fx's events, each once, in order per key. */
static void
read_back(fixture *fx, jsCtx *js, int check_order)
{
	natsSubscription *sub = NULL;
	jsSubOptions      so;
	uint8_t          *got = malloc(16 * fx->n), *want = malloc(16 * fx->n);
	long              last[N_KEYS];
	size_t            n = 0;
	assert_true(got != NULL && want != NULL);
	for (size_t k = 0; k < N_KEYS; k++) {
		last[k] = -1;
	}
	jsSubOptions_Init(&so);
	so.Stream           = fx->stream;
	so.Config.AckPolicy = js_AckNone;
	assert_int_equal(js_PullSubscribe(&sub, js, fx->subjects, "reader",
	                     NULL, &so, NULL),
	    NATS_OK);
	while (n < fx->n) {
		natsMsgList list = { 0 };
		assert_int_equal(
		    natsSubscription_Fetch(&list, sub, 1000, 10000, NULL),
		    NATS_OK);
		for (int i = 0; i < list.Count && n < fx->n; i++) {
			check_one(list.Msgs[i], got + 16 * n++,
			    check_order ? last : NULL);
		}
		natsMsgList_Destroy(&list);
	}
	for (size_t i = 0; i < fx->n; i++) {
		memcpy(want + 16 * i, weir_event_id(fx->ev[i]), 16);
	}
	qsort(got, n, 16, id_cmp);
	qsort(want, n, 16, id_cmp);
	assert_memory_equal(got, want, 16 * n); /* distinct, none missing */
	natsSubscription_Destroy(sub);
	free(got);
	free(want);
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

static void
js_config(fixture *fx)
{
	cfg_set(&fx->cfg, "nats.stream", fx->stream);
	cfg_set(&fx->cfg, "nats.stream.subjects", fx->subjects);
	cfg_set(&fx->cfg, "nats.stream.duplicate_window_ms", "600000");
}

/* Headers on the wire, by their raw names. */
static void
test_js_headers(void **state)
{
	fixture        *fx;
	natsConnection *nc;
	jsCtx          *js = NULL;
	natsMsg        *m  = NULL;
	const char     *v  = NULL;
	char            id[37], seq[8];
	(void) state;
	NEED_BROKER();
	fx = fixture_new(weir_backend_nats(), 1);
	js_config(fx);
	fixture_start(fx);
	send_one(fx, 0);
	settle(fx, 1);
	nc = plain_connect(&js);
	assert_int_equal(
	    js_GetMsg(&m, js, fx->stream, 1, NULL, NULL), NATS_OK);
	weir_uuid_format(weir_event_id(fx->ev[0]), id);
	snprintf(seq, sizeof seq, "1");
	const char *want[][2] = { { "Nats-Msg-Id", id },
		{ "ce-specversion", "1.0" }, { "ce-id", id },
		{ "ce-source", "weir://test-host/my%20bus" },
		{ "ce-type", "orders.eu.created" }, { "weir-seq", seq },
		{ "traceparent",
		    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-"
		    "01" } };
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		assert_int_equal(
		    natsMsgHeader_Get(m, want[i][0], &v), NATS_OK);
		assert_string_equal(v, want[i][1]);
	}
	assert_int_equal(natsMsgHeader_Get(m, "ce-time", &v), NATS_OK);
	assert_int_equal(strlen(v), strlen("2024-05-06T07:08:09.123456789Z"));
	assert_int_equal(v[strlen(v) - 1], 'Z');
	/* Case matters: JetStream de-duplicates on "Nats-Msg-Id" only. */
	assert_int_equal(
	    natsMsgHeader_Get(m, "nats-msg-id", &v), NATS_NOT_FOUND);
	natsMsg_Destroy(m);
	fixture_stop(fx);
	js_DeleteStream(js, fx->stream, NULL, NULL);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	fixture_free(fx);
}

static int restart_rc = -1;

static void *
restart_broker(void *arg)
{
	(void) arg;
	restart_rc = system("bash " WEIR_SOURCE_DIR "/scripts/brokers.sh "
	                    "restart nats");
	return NULL;
}

static int
broker_ours(void)
{
	return system(
	           "bash " WEIR_SOURCE_DIR "/scripts/brokers.sh status nats "
	           ">/dev/null 2>&1") == 0;
}

/* The server stopped (by pid) and started again on the same port and
 * store while 100,000 events go out: after the relay-style re-send of
 * what failed, the stream holds each event exactly once. */
static void
test_js_broker_restart(void **state)
{
	fixture        *fx;
	natsConnection *nc;
	jsCtx          *js = NULL;
	pthread_t       t;
	size_t          resends;
	(void) state;
	NEED_BROKER();
	if (!broker_ours()) {
		if (bk_in_ci()) {
			fail_msg("the broker is not this checkout's");
		}
		print_message(
		    "nats-server not started by this checkout's "
		    "scripts/brokers.sh: cannot restart it; skipped\n");
		skip();
	}
	fx = fixture_new(weir_backend_nats(), N_EVENTS);
	js_config(fx);
	cfg_set(&fx->cfg, "nats.ack_timeout_ms", "3000");
	fixture_start(fx);
	for (size_t i = 0; i < fx->n; i++) {
		if (i == 30000) {
			assert_int_equal(
			    pthread_create(&t, NULL, restart_broker, NULL), 0);
		}
		send_one(fx, i);
	}
	resends = settle(fx, fx->n);
	pthread_join(t, NULL);
	assert_int_equal(restart_rc, 0);
	print_message("re-sent after the restart: %zu\n", resends);
	nc = plain_connect(&js);
	assert_int_equal(stream_msgs(js, fx->stream), N_EVENTS);
	read_back(fx, js, 0);
	assert_int_equal(fx->sink.extra, 0);
	fixture_stop(fx);
	js_DeleteStream(js, fx->stream, NULL, NULL);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	fixture_free(fx);
}

/* Too large and a header NATS cannot carry: permanent, with a reason. */
static void
test_js_permanent(void **state)
{
	fixture    *fx;
	weir_event *big;
	char       *payload;
	(void) state;
	NEED_BROKER(); // before the calloc: a skip returns at once
	payload = calloc(1, 2u << 20);
	fx      = fixture_new(weir_backend_nats(), 2);
	js_config(fx);
	fixture_start(fx);
	weir_event_init init = { .size = sizeof(weir_event_init),
		.topic                 = "a.b",
		.payload               = payload,
		.payload_len           = 2u << 20 };
	assert_weir_ok(weir_event_new(&big, &init));
	weir_event_release(fx->ev[0]);
	fx->ev[0]       = big;
	weir_header bad = { "bad name", "v", 1 };
	init            = (weir_event_init) { .size = sizeof(weir_event_init),
		           .topic                   = "a.b",
		           .headers                 = &bad,
		           .header_count            = 1 };
	weir_event_release(fx->ev[1]);
	assert_weir_ok(weir_event_new(&fx->ev[1], &init));
	send_one(fx, 0);
	send_one(fx, 1);
	for (int64_t dl = wt_now_ms() + 30000; fx->sink.perm < 2;) {
		assert_true(wt_now_ms() < dl);
		fx->ops->poll(fx->st, 50);
	}
	assert_int_equal(fx->sink.state[0], T_PERM);
	assert_int_equal(fx->sink.state[1], T_PERM);
	fixture_stop(fx);
	fixture_free(fx);
	free(payload);
}

/* CR, LF (header injection on NATS's line-based headers) and NUL (cnats
 * takes C strings: the value would be cut short) in a header name or
 * value: a permanent failure with a reason, never sent altered. */
static void
test_js_header_crlf(void **state)
{
	static const weir_header bad[] = {
		{ "a\r\nInjected", "v", 1 },
		{ "h", "x\r\nInjected: 1", 14 },
		{ "h", "x\ny", 3 },
		{ "h", "a\0b", 3 },
	};
	fixture *fx;
	(void) state;
	NEED_BROKER();
	fx = fixture_new(weir_backend_nats(), 4);
	js_config(fx);
	fixture_start(fx);
	for (size_t i = 0; i < 4; i++) {
		weir_event_init init = { .size = sizeof(weir_event_init),
			.topic                 = "a.b",
			.headers               = &bad[i],
			.header_count          = 1 };
		weir_event_release(fx->ev[i]);
		assert_weir_ok(weir_event_new(&fx->ev[i], &init));
		send_one(fx, i);
	}
	for (int64_t dl = wt_now_ms() + 30000; fx->sink.perm < 4;) {
		assert_true(wt_now_ms() < dl);
		fx->ops->poll(fx->st, 50);
	}
	assert_int_equal(fx->sink.ok, 0);
	assert_non_null(strstr(fx->sink.reason, "cannot be carried by NATS"));
	fixture_stop(fx);
	fixture_free(fx);
}

/* core NATS: every event reaches a plain subscriber, with the same
 * CloudEvents headers and no Nats-Msg-Id. */
static void
test_core_subscriber(void **state)
{
	enum { N = 10000 };
	fixture          *fx;
	natsConnection   *nc;
	natsSubscription *sub = NULL;
	natsMsg          *m   = NULL;
	const char       *v;
	(void) state;
	NEED_BROKER();
	fx = fixture_new(weir_backend_natscore(), N);
	nc = plain_connect(NULL);
	assert_int_equal(
	    natsConnection_SubscribeSync(&sub, nc, fx->subjects), NATS_OK);
	natsSubscription_SetPendingLimits(sub, -1, -1);
	assert_int_equal(natsConnection_Flush(nc), NATS_OK);
	fixture_start(fx);
	for (size_t i = 0; i < N; i++) {
		send_one(fx, i);
	}
	settle(fx, N);
	for (size_t i = 0; i < N; i++) {
		assert_int_equal(
		    natsSubscription_NextMsg(&m, sub, 10000), NATS_OK);
		assert_int_equal(
		    strtol(natsMsg_GetData(m), NULL, 10), (long) i);
		assert_int_equal(natsMsgHeader_Get(m, "ce-id", &v), NATS_OK);
		assert_int_equal(
		    natsMsgHeader_Get(m, "Nats-Msg-Id", &v), NATS_NOT_FOUND);
		natsMsg_Destroy(m);
	}
	fixture_stop(fx);
	natsSubscription_Destroy(sub);
	natsConnection_Destroy(nc);
	fixture_free(fx);
}

/* Bad options name the option; secrets never show in a message. */
static void
test_config_errors(void **state)
{
	fixture    *fx = fixture_new(weir_backend_nats(), 0);
	const char *msg;
	(void) state;
	cfg_set(&fx->cfg, "nats.no_such_option", "1");
	assert_weir_err(
	    fx->ops->init(fx->st, &fx->cfg, &fx->sink), WEIR_EINVAL);
	assert_non_null(
	    strstr(fx->ops->errmsg(fx->st), "nats.no_such_option"));
	fx->ops->fini(fx->st);

	fx->cfg.n = 0;
	cfg_set(&fx->cfg, "nats.max_pending", "lots");
	assert_weir_err(
	    fx->ops->init(fx->st, &fx->cfg, &fx->sink), WEIR_EINVAL);
	assert_non_null(strstr(fx->ops->errmsg(fx->st), "nats.max_pending"));
	fx->ops->fini(fx->st);

	/* An unreachable broker with planted secrets. */
	fx->cfg.n = 0;
	cfg_set(&fx->cfg, "nats.url",
	    "nats://someone:planted-url-secret@127.0.0.1:1");
	cfg_set(&fx->cfg, "nats.password", "planted-password");
	cfg_set(&fx->cfg, "nats.user", "someone");
	cfg_set(&fx->cfg, "nats.max_reconnect", "0");
	assert_weir_ok(fx->ops->init(fx->st, &fx->cfg, &fx->sink));
	assert_weir_err(fx->ops->start(fx->st), WEIR_EBACKEND);
	msg = fx->ops->errmsg(fx->st);
	print_message("unreachable: %s\n", msg);
	assert_non_null(strstr(msg, "nats.url"));
	assert_null(strstr(msg, "planted"));
	fx->ops->stop(fx->st);
	fx->ops->fini(fx->st);
	fixture_free(fx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_js_headers),
		cmocka_unit_test(test_js_permanent),
		cmocka_unit_test(test_js_header_crlf),
		cmocka_unit_test(test_core_subscriber),
		cmocka_unit_test(test_js_broker_restart),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
