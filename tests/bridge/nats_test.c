/*
 * The NATS backends ("nats" = JetStream, "natscore") through the real
 * bridge (store, route, relay) against the nats-server of
 * scripts/brokers.sh (label integration; WEIR_NATS_URL from the
 * environment, else build/brokers/env; none: skipped, a failure with
 * CI=true). What must arrive is what the store holds, read back by a
 * plain cnats client (brokers.h):
 *
 * - the server stopped and started again mid-stream (scripts/brokers.sh
 *   restart nats: same port, same JetStream store; it needs the
 *   nats-server of this checkout): 0 lost, and the stream holds exactly
 *   the events (Nats-Msg-Id absorbed the re-sends);
 * - the headers by their raw names (exact case, ce-source
 *   percent-encoded);
 * - events NATS cannot take (too large, headers it cannot carry): dead
 *   letters with the reason, never sent altered, the next event sent;
 * - natscore into a plain subscriber;
 * - bad nats.* options named; the error classification table of
 *   docs/bridge.md, code by code.
 *
 * 100,000 events read back, the cursor moved back, an invalid subject and
 * SIGKILL are e2e_nats_test.c and e2e_crash_test.c.
 */
#include <nats/nats.h>

#include <pthread.h>
#include <stdatomic.h>

#include <weir/nats.h>

#include "bridge/nats.h"
#include "brokers.h"

#define NT_ROUTE "nats"
#define NT_RESTART_EVENTS 100000

typedef struct nt {
	bt          t;
	char        urlbuf[256];
	const char *url;
	char        stream[64], prefix[96], subjects[128], dest[128];
} nt;

/* Unique stream and subjects: @p n->url must be set. */
static void
nt_names(nt *n)
{
	bk_unique(n->stream, sizeof n->stream, "WEIRNT_");
	bk_unique(n->prefix, sizeof n->prefix, "weirnt.s");
	snprintf(n->subjects, sizeof n->subjects, "%s.>", n->prefix);
	snprintf(n->dest, sizeof n->dest, "%s.{2}", n->prefix);
}

/* A started bridge with route NT_ROUTE (e2e.*.created -> @p scheme,
 * <prefix>.k<j>, keyed by the key token); @p extra: more key, value
 * pairs (NULL-terminated). */
static void
nt_open(nt *n, const weir_backend_ops *ops, const char *const *extra)
{
	const char *kv[32] = { "bridge.source", BK_SOURCE, "nats.url", n->url,
		"nats.stream", n->stream, "nats.stream.subjects", n->subjects,
		"nats.stream.duplicate_window_ms", "600000" };
	size_t      i      = 10;
	if (strcmp(ops->scheme, "natscore") == 0)
		i = 4; /* no stream */
	for (; extra != NULL && *extra != NULL && i < 30; extra++)
		kv[i++] = *extra;
	kv[i] = NULL;
	bk_open(&n->t, kv, ops);
	bk_start_route(
	    &n->t, NT_ROUTE, "e2e.*.created", ops->scheme, n->dest, "{2}");
}

static void
nt_close(nt *n)
{
	bt_close(&n->t);
	if (n->stream[0] != '\0')
		bk_nats_delete_stream(n->url, n->stream);
}

/* Waits until every stored event of the route is done. */
static void
nt_drain(nt *n, int deadline_ms)
{
	weir_store_flush(n->t.st);
	BK_WAIT(&n->t, NT_ROUTE, deadline_ms,
	    bt_intake_idle(&n->t, NT_ROUTE) && s.backlog == 0 &&
	        s.lag_events == 0);
}

/* ------------------------------------------------------------------ */
/* The server stopped and started again                                */
/* ------------------------------------------------------------------ */

/* This checkout's nats-server (scripts/brokers.sh status) is the one
 * the test talks to: only that one can be restarted. */
static int
nt_broker_ours(const char *url)
{
	char own[512];
	if (system("bash " WEIR_SOURCE_DIR "/scripts/brokers.sh status nats "
	           ">/dev/null 2>&1") != 0)
		return 0;
	/* bk_env's fallback, read without the environment's override. */
	own[0]  = '\0';
	FILE *f = fopen(WEIR_SOURCE_DIR "/build/brokers/env", "r");
	char  line[512];
	while (f != NULL && fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, "WEIR_NATS_URL=", 14) == 0) {
			line[strcspn(line, "\r\n")] = '\0';
			memcpy(own, line + 14, strlen(line + 14) + 1);
		}
	if (f != NULL)
		fclose(f);
	return strcmp(own, url) == 0;
}

static atomic_int nt_restarted; /* 1: the restart is over; -1: failed */

static void *
nt_restart(void *arg)
{
	(void) arg;
	int rc = system("bash " WEIR_SOURCE_DIR "/scripts/brokers.sh restart "
	                "nats");
	atomic_store(&nt_restarted, rc == 0 ? 1 : -1);
	return NULL;
}

/* The server stopped (by pid) and started again on the same port and
 * store mid-stream of 100,000 events: a fifth go out first, events keep
 * being published (paced) while the server is down and coming back,
 * and the rest after. The relay re-sends what failed, and in the end
 * the stream holds each stored event exactly once, as a plain consumer
 * finds. */
static void
test_js_broker_restart(void **state)
{
	(void) state;
	nt n = { 0 };
	BK_NEED(n.url, "WEIR_NATS_URL", n.urlbuf);
	if (!nt_broker_ours(n.url)) {
		if (bk_in_ci())
			fail_msg("the nats-server is not this checkout's");
		print_message("the nats-server was not started by this "
		              "checkout's scripts/brokers.sh: cannot restart "
		              "it; skipped\n");
		skip();
	}
	nt_names(&n);
	const char *extra[] = { "nats.ack_timeout_ms", "3000",
		"bridge.retry.max_ms", "1000", "bridge.breaker.cooldown_ms",
		"1000", NULL };
	nt_open(&n, weir_backend_nats(), extra);
	uint64_t i = 0;
	for (; i < NT_RESTART_EVENTS / 5; i++)
		bk_publish(n.t.bus, i);
	weir_store_flush(n.t.st);
	BK_WAIT(&n.t, NT_ROUTE, 120000, s.acked >= NT_RESTART_EVENTS / 10);
	pthread_t th;
	atomic_store(&nt_restarted, 0);
	assert_int_equal(pthread_create(&th, NULL, nt_restart, NULL), 0);
	for (; atomic_load(&nt_restarted) == 0 && i < NT_RESTART_EVENTS / 2;
	     i++) {
		bk_publish(n.t.bus, i);
		usleep(200); /* pacing: the stream spans the outage */
	}
	pthread_join(th, NULL);
	assert_int_equal(atomic_load(&nt_restarted), 1);
	print_message("published %llu before the server was back\n",
	    (unsigned long long) i);
	for (; i < NT_RESTART_EVENTS; i++)
		bk_publish(n.t.bus, i);
	nt_drain(&n, 180000);
	weir_bridge_route_stats s = bt_stats(&n.t, NT_ROUTE);
	print_message("retried %llu, breaker opened %llu\n",
	    (unsigned long long) s.retried,
	    (unsigned long long) s.breaker_opens);
	assert_int_equal(s.dead, 0);
	weir_bridge_stop(n.t.br);
	assert_int_equal(
	    bk_nats_stream_msgs(n.url, n.stream), NT_RESTART_EVENTS);
	bk_check c;
	bk_check_init(&c, n.t.st, "ce-");
	assert_int_equal(c.n, NT_RESTART_EVENTS);
	bk_nats_read(&c, n.url, n.stream, n.subjects, NT_RESTART_EVENTS);
	bk_check_complete(&c);
	assert_int_equal(c.records, NT_RESTART_EVENTS);
	bk_check_fini(&c);
	nt_close(&n);
}

/* ------------------------------------------------------------------ */
/* What only the backend shows                                         */
/* ------------------------------------------------------------------ */

/* Headers on the wire by their raw names: NATS header names are
 * case-sensitive and JetStream de-duplicates on "Nats-Msg-Id" only;
 * ce-source is percent-encoded (the CloudEvents NATS binding). */
static void
test_js_headers(void **state)
{
	(void) state;
	nt n = { 0 };
	BK_NEED(n.url, "WEIR_NATS_URL", n.urlbuf);
	nt_names(&n);
	const char *extra[] = { "bridge.source", "weir://test-host/my bus",
		NULL };
	nt_open(&n, weir_backend_nats(), extra);
	bk_publish(n.t.bus, 5);
	nt_drain(&n, 30000);
	bk_check c;
	bk_check_init(&c, n.t.st, "ce-");
	assert_int_equal(c.n, 1);
	char id[37], seq[24];
	weir_uuid_format(c.w[0].id, id);
	snprintf(seq, sizeof seq, "%llu", (unsigned long long) c.w[0].seq);
	bk_check_fini(&c);

	natsConnection *nc = NULL;
	jsCtx          *js = NULL;
	natsMsg        *m  = NULL;
	const char     *v  = NULL;
	assert_int_equal(natsConnection_ConnectTo(&nc, n.url), NATS_OK);
	assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
	assert_int_equal(js_GetMsg(&m, js, n.stream, 1, NULL, NULL), NATS_OK);
	const char *want[][2] = { { "Nats-Msg-Id", id },
		{ "ce-specversion", "1.0" }, { "ce-id", id },
		{ "ce-source", "weir://test-host/my%20bus" },
		{ "ce-type", "e2e.k5.created" }, { "weir-seq", seq },
		{ "traceparent", BK_TRACEPARENT },
		{ "x-user", BK_USER_VALUE } };
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		assert_int_equal(
		    natsMsgHeader_Get(m, want[i][0], &v), NATS_OK);
		assert_string_equal(v, want[i][1]);
	}
	assert_int_equal(natsMsgHeader_Get(m, "ce-time", &v), NATS_OK);
	assert_int_equal(strlen(v), strlen("2024-05-06T07:08:09.123456789Z"));
	assert_int_equal(v[strlen(v) - 1], 'Z');
	assert_int_equal(
	    natsMsgHeader_Get(m, "nats-msg-id", &v), NATS_NOT_FOUND);
	natsMsg_Destroy(m);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	nt_close(&n);
}

/* Publishes on e2e.k<j>.created an event with payload @p len bytes and
 * header @p h (may be NULL). */
static void
nt_publish_odd(nt *n, unsigned j, size_t len, const weir_header *h)
{
	char  topic[32], key[8];
	char *payload = calloc(1, len + 1);
	assert_non_null(payload);
	payload[0] = 'p';
	snprintf(topic, sizeof topic, "e2e.k%u.created", j);
	snprintf(key, sizeof key, "k%u", j);
	weir_event_init init = WEIR_STRUCT_INIT(weir_event_init);
	init.topic           = topic;
	init.key             = key;
	init.key_len         = strlen(key);
	init.payload         = payload;
	init.payload_len     = len;
	init.headers         = h;
	init.header_count    = h != NULL;
	weir_event *ev;
	assert_weir_ok(weir_event_new(&ev, &init));
	assert_weir_ok(weir_publish_event(n->t.bus, ev));
	weir_event_release(ev);
	free(payload);
}

typedef struct nt_reasons {
	int n, carried;
} nt_reasons;

static weir_err
nt_reason_fn(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	(void) st;
	nt_reasons *r = arg;
	print_message("dead letter: %s\n", dl->message);
	assert_string_equal(dl->origin, NT_ROUTE);
	assert_true(strlen(dl->message) > 0);
	r->carried += strstr(dl->message, "cannot be carried by NATS") != NULL;
	/* The reason quotes the header name escaped: no raw control byte
	 * (a CR/LF would forge lines wherever reasons are printed). */
	for (const char *p = dl->message; *p != '\0'; p++)
		if ((unsigned char) *p < 0x20 || *p == 0x7f)
			fail_msg("raw control byte 0x%02x in the reason",
			    (unsigned char) *p);
	r->n++;
	return WEIR_OK;
}

/* An event larger than the server's max_payload, and headers NATS cannot
 * carry (a space in a name; CR, LF and NUL, which would inject headers
 * or cut a value short): each a dead letter of the route with the
 * reason, none sent altered (the stream holds only the good events),
 * and the events after them are sent. */
static void
test_js_permanent(void **state)
{
	(void) state;
	static const weir_header bad[] = {
		{ "bad name", "v", 1 },
		{ "a\r\nInjected", "v", 1 },
		{ "h", "x\r\nInjected: 1", 14 },
		{ "h", "x\ny", 3 },
		{ "h", "a\0b", 3 },
	};
	enum { BAD = sizeof bad / sizeof bad[0] };
	nt n = { 0 };
	BK_NEED(n.url, "WEIR_NATS_URL", n.urlbuf);
	nt_names(&n);
	nt_open(&n, weir_backend_nats(), NULL);
	nt_publish_odd(&n, 0, WEIR_DEFAULT_MAX_PAYLOAD, NULL);
	for (unsigned i = 0; i < BAD; i++)
		nt_publish_odd(&n, 1 + i, 2, &bad[i]);
	for (uint64_t i = 0; i < 10; i++)
		bk_publish(n.t.bus, i);
	nt_drain(&n, 60000);
	assert_int_equal(bt_stats(&n.t, NT_ROUTE).dead, BAD + 1);
	nt_reasons r = { 0 };
	assert_weir_ok(
	    weir_store_dead_list(n.t.st, NT_ROUTE, 0, nt_reason_fn, &r));
	assert_int_equal(r.n, BAD + 1);
	assert_int_equal(r.carried, BAD);
	assert_int_equal(bk_nats_stream_msgs(n.url, n.stream), 10);
	bk_check c;
	bk_check_init(&c, n.t.st, "ce-");
	bk_nats_read(&c, n.url, n.stream, n.subjects, 10);
	assert_int_equal(
	    bk_check_complete_but_dead(&c, n.t.st, NT_ROUTE), BAD + 1);
	bk_check_fini(&c);
	nt_close(&n);
}

/* natscore (at-most-once, no stream): on a quiet local server every
 * event reaches a plain subscriber, with the CloudEvents headers and no
 * Nats-Msg-Id, in order per key. */
static void
test_core_subscriber(void **state)
{
	(void) state;
	enum { N = 10000 };
	nt n = { 0 };
	BK_NEED(n.url, "WEIR_NATS_URL", n.urlbuf);
	nt_names(&n);
	n.stream[0]           = '\0'; /* none */
	natsConnection   *nc  = NULL;
	natsSubscription *sub = NULL;
	natsMsg          *m   = NULL;
	const char       *v   = NULL;
	assert_int_equal(natsConnection_ConnectTo(&nc, n.url), NATS_OK);
	assert_int_equal(
	    natsConnection_SubscribeSync(&sub, nc, n.subjects), NATS_OK);
	natsSubscription_SetPendingLimits(sub, -1, -1);
	assert_int_equal(natsConnection_Flush(nc), NATS_OK);
	nt_open(&n, weir_backend_natscore(), NULL);
	for (uint64_t i = 0; i < N; i++)
		bk_publish(n.t.bus, i);
	nt_drain(&n, 60000);
	bk_check c;
	bk_check_init(&c, n.t.st, "ce-");
	for (size_t i = 0; i < N; i++) {
		assert_int_equal(
		    natsSubscription_NextMsg(&m, sub, 10000), NATS_OK);
		assert_int_equal(
		    natsMsgHeader_Get(m, "Nats-Msg-Id", &v), NATS_NOT_FOUND);
		char payload[32];
		snprintf(payload, sizeof payload, "%.*s",
		    natsMsg_GetDataLength(m), natsMsg_GetData(m));
		bk_check_record(&c, bk_nats_header, m, payload);
		natsMsg_Destroy(m);
	}
	bk_check_complete(&c);
	bk_check_fini(&c);
	natsSubscription_Destroy(sub);
	natsConnection_Destroy(nc);
	nt_close(&n);
}

/* weir_bridge_register with @p kv fails, naming @p key. */
static void
nt_register_refused(const char *const *kv, const char *key)
{
	bt t;
	bt_open(&t, kv);
	assert_weir_err(
	    weir_bridge_register(t.br, weir_backend_nats()), WEIR_EINVAL);
	print_message("%s\n", weir_bridge_errmsg(t.br));
	assert_non_null(strstr(weir_bridge_errmsg(t.br), key));
	bt_close(&t);
}

/* An unknown option and a bad value are refused by register, an
 * unreachable server by start, each naming the option. (Planted
 * secrets: secret_test.c.) */
static void
test_config_errors(void **state)
{
	(void) state;
	const char *unknown[] = { "nats.no_such_option", "1", NULL };
	const char *value[]   = { "nats.max_pending", "lots", NULL };
	nt_register_refused(unknown, "nats.no_such_option");
	nt_register_refused(value, "nats.max_pending");
	bt          t;
	const char *kv[] = { "nats.url", "nats://127.0.0.1:1",
		"nats.max_reconnect", "0", NULL };
	bk_open(&t, kv, weir_backend_nats());
	assert_weir_ok(weir_bridge_route_add(
	    t.br, "r", "a.>", "nats", "a.b", "key", NULL));
	assert_weir_err(weir_bridge_start(t.br), WEIR_EBACKEND);
	print_message("%s\n", weir_bridge_errmsg(t.br));
	assert_non_null(strstr(weir_bridge_errmsg(t.br), "nats.url"));
	bt_close(&t);
}

typedef struct nt_class {
	int status, js_code, retriable;
} nt_class;

/* docs/bridge.md, NATS, "Errors: retriable or permanent": every status
 * and JetStream code it lists, as it says (written from the document,
 * not the code). */
static const nt_class nt_doc_table[] = {
	{ NATS_TIMEOUT, 0, 1 }, { NATS_NO_RESPONDERS, 0, 1 },
	{ NATS_CONNECTION_CLOSED, 0, 1 },
	{ NATS_CONNECTION_DISCONNECTED, 0, 1 }, { NATS_IO_ERROR, 0, 1 },
	{ NATS_NO_SERVER, 0, 1 }, { NATS_STALE_CONNECTION, 0, 1 },
	{ NATS_NOT_YET_CONNECTED, 0, 1 }, { NATS_INSUFFICIENT_BUFFER, 0, 1 },
	{ NATS_NO_MEMORY, 0, 1 }, { NATS_DRAINING, 0, 1 },
	{ NATS_SLOW_CONSUMER, 0, 1 }, { NATS_MAX_PAYLOAD, 0, 0 },
	{ NATS_INVALID_SUBJECT, 0, 0 }, { NATS_INVALID_ARG, 0, 0 },
	{ NATS_NOT_PERMITTED, 0, 0 }, { NATS_CONNECTION_AUTH_FAILED, 0, 0 },
	{ NATS_PROTOCOL_ERROR, 0, 1 }, /* "any other": retriable */
	{ NATS_ERR, 10077, 1 }, { NATS_ERR, 10023, 1 }, { NATS_ERR, 10047, 1 },
	{ NATS_ERR, 10028, 1 }, { NATS_ERR, 10002, 1 }, { NATS_ERR, 10008, 1 },
	{ NATS_ERR, 10009, 1 }, { NATS_ERR, 10118, 1 }, { NATS_ERR, 10054, 0 },
	{ NATS_ERR, 10059, 0 }, { NATS_ERR, 10109, 0 }, { NATS_ERR, 10076, 0 },
	{ NATS_ERR, 10039, 0 }, { NATS_ERR, 10003, 0 },
	{ NATS_ERR, 10071, 0 }, /* "any other code": permanent */
};

static void
test_classification(void **state)
{
	(void) state;
	for (size_t i = 0; i < sizeof nt_doc_table / sizeof nt_doc_table[0];
	     i++) {
		const nt_class *c = &nt_doc_table[i];
		int r = weir__nats_retriable(c->status, c->js_code);
		if (r != c->retriable)
			fail_msg(
			    "%s, JetStream code %d: %s, the table says %s",
			    natsStatus_GetText((natsStatus) c->status),
			    c->js_code, r ? "retriable" : "permanent",
			    c->retriable ? "retriable" : "permanent");
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classification),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_js_headers),
		cmocka_unit_test(test_js_permanent),
		cmocka_unit_test(test_core_subscriber),
		cmocka_unit_test(test_js_broker_restart),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
