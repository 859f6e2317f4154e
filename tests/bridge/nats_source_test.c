/*
 * The NATS sources ("nats" = JetStream durable pull consumer, "natscore")
 * against a real nats-server (label integration), without the bridge:
 * this file includes src/bridge/nats.c and stands in for the inlet, so it
 * checks the source contract only: what one fetch delivers, that done
 * acks (and only done), that a refused message comes back, pause, stop
 * and restart, the errors of init and start, and natscore's drop count.
 * What the broker holds is read back with a plain cnats client.
 */
#define NATS_FIXTURE_CONFIG
#include "nats_fixture.h"

#include "bridge/nats.c"

#include <pthread.h>

#define N_MSGS 1000
#define DEADLINE_MS 30000

/* ------------------------------------------------------------------ */
/* The bridge's side, as a stand-in                                    */
/* ------------------------------------------------------------------ */

void
weir_sink_ack(weir_sink *sink, uint64_t token, weir_err result, int retriable,
    const char *reason)
{
	(void) sink, (void) token, (void) result, (void) retriable;
	(void) reason;
	fail_msg("a source made a sink call");
}

typedef struct got {
	char     origin[128];
	char     coord[128];
	char     ce_id[64];
	char     trace[64];
	int      i; /* the payload's number */
	int64_t  ts;
	uint64_t token;
} got;

/* The inlet: records every delivery; refuses the one numbered refuse. */
struct weir_inlet {
	got   *got;
	size_t n, cap;
	size_t deliveries; /* calls, refused ones included */
	size_t refuse;     /* 1-based call number to refuse; 0: none */
};

static void
header_copy(const weir_inbound_msg *m, const char *name, char *out, size_t n)
{
	out[0] = '\0';
	for (size_t i = 0; i < m->header_count; i++) {
		if (strcmp(m->headers[i].name, name) == 0) {
			snprintf(out, n, "%.*s", (int) m->headers[i].len,
			    (const char *) m->headers[i].value);
		}
	}
}

weir_err
weir_inlet_deliver(weir_inlet *in, const weir_inbound_msg *m)
{
	got *g;
	if (++in->deliveries == in->refuse) {
		return WEIR_EAGAIN;
	}
	if (in->n == in->cap) {
		in->cap = in->cap ? 2 * in->cap : 256;
		in->got = realloc(in->got, in->cap * sizeof *in->got);
		assert_non_null(in->got);
	}
	g = &in->got[in->n++];
	snprintf(g->origin, sizeof g->origin, "%s", m->origin);
	snprintf(g->coord, sizeof g->coord, "%s", m->coord ? m->coord : "");
	header_copy(m, "ce-id", g->ce_id, sizeof g->ce_id);
	header_copy(m, "traceparent", g->trace, sizeof g->trace);
	g->i     = atoi(m->payload_len ? (const char *) m->payload : "-1");
	g->ts    = m->ts;
	g->token = m->token;
	return WEIR_OK;
}

/* ------------------------------------------------------------------ */
/* Fixture: a stream, a source over it                                 */
/* ------------------------------------------------------------------ */

#define TRACE "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

typedef struct fx {
	const weir_source_ops *ops;
	nats_src               src;
	weir_bridge_config     cfg;
	weir_source_spec       spec;
	weir_inlet             in;
	natsConnection        *nc;
	jsCtx                 *js;
	char                   stream[64], subj[96], from[100], route[64];
	char                   durable[NSRC_DURABLE];
} fx;

static fx *
fx_new(const weir_source_ops *ops, int with_stream)
{
	fx *f = calloc(1, sizeof *f);
	assert_non_null(f);
	f->ops = ops;
	SRC_FIXTURE_NAME(f, "WEIRSRC_", "weirsrc.s", 64);
	f->nc = plain_connect(&f->js);
	if (with_stream) {
		plain_stream(f->js, f->stream, f->from);
	}
	cfg_set(&f->cfg, "nats.url", nats_url);
	return f;
}

static void
fx_free(fx *f)
{
	js_DeleteStream(f->js, f->stream, NULL, NULL);
	jsCtx_Destroy(f->js);
	natsConnection_Destroy(f->nc);
	free(f->in.got);
	free(f);
}

static weir_err
fx_start(fx *f)
{
	weir_err rv = f->ops->init(&f->src, &f->cfg, &f->spec, &f->in);
	if (rv == WEIR_OK && (rv = f->ops->start(&f->src)) != WEIR_OK) {
		f->ops->fini(&f->src);
	}
	memcpy(f->durable, f->src.durable, sizeof f->durable);
	return rv;
}

static void
fx_stop(fx *f)
{
	f->ops->stop(&f->src);
	f->ops->fini(&f->src);
}

/* Publishes messages [from, to) on <subj>.k<i%4>, with ce-id,
 * Nats-Msg-Id and traceparent, and waits for their PubAcks. */
static void
fx_publish(fx *f, int from, int to, int jetstream)
{
	for (int i = from; i < to; i++) {
		natsMsg *m = NULL;
		char     subj[128], id[96], data[16];
		snprintf(subj, sizeof subj, "%s.k%d", f->subj, i % 4);
		snprintf(id, sizeof id, "id-%s-%d", f->stream, i);
		snprintf(data, sizeof data, "%d", i);
		assert_int_equal(
		    natsMsg_Create(&m, subj, NULL, data, (int) strlen(data)),
		    NATS_OK);
		natsMsgHeader_Set(m, "ce-id", id);
		natsMsgHeader_Set(m, "Nats-Msg-Id", id);
		natsMsgHeader_Set(m, "traceparent", TRACE);
		plain_send(f->nc, f->js, m, jetstream);
	}
	plain_sent(f->nc, f->js, jetstream);
}

/* Fetches until @p n messages have been delivered in all (bounded). */
static void
fx_fetch_until(fx *f, size_t n)
{
	int64_t end = wt_now_ms() + DEADLINE_MS;
	while (f->in.n < n && wt_now_ms() < end) {
		assert_weir_ok(f->ops->fetch(&f->src, 100, 200));
	}
	assert_int_equal(f->in.n, n);
}

static void
fx_done_all(fx *f, size_t from)
{
	for (size_t i = from; i < f->in.n; i++) {
		f->ops->done(&f->src, f->in.got[i].token);
	}
}

/* The durable's ack floor: messages pending (not delivered) and
 * delivered-but-unacked, as the server sees them. */
static void
fx_consumer(fx *f, uint64_t *pending, int64_t *unacked)
{
	jsConsumerInfo *ci = NULL;
	assert_int_equal(
	    js_GetConsumerInfo(&ci, f->js, f->stream, f->durable, NULL, NULL),
	    NATS_OK);
	*pending = ci->NumPending;
	*unacked = ci->NumAckPending;
	jsConsumerInfo_Destroy(ci);
}

/* Waits until the server counts @p unacked unacknowledged messages. */
static void
fx_wait_unacked(fx *f, int64_t want)
{
	uint64_t pending;
	int64_t  unacked = -1, end = wt_now_ms() + DEADLINE_MS;
	while (wt_now_ms() < end) {
		fx_consumer(f, &pending, &unacked);
		if (unacked == want) {
			return;
		}
		wt_sleep_ms(10);
	}
	fail_msg("server counts %lld unacked, want %lld", (long long) unacked,
	    (long long) want);
}

/* ------------------------------------------------------------------ */
/* JetStream                                                           */
/* ------------------------------------------------------------------ */

/* Everything arrives in stream order with its subject, headers, stream
 * coordinates and time; done acks it; a restart delivers nothing more. */
static void
test_js_deliver_and_ack(void **state)
{
	fx *f;
	(void) state;
	NEED_BROKER();
	f = fx_new(weir_source_nats(), 1);
	fx_publish(f, 0, N_MSGS, 1);
	assert_weir_ok(fx_start(f));
	fx_fetch_until(f, N_MSGS);
	for (int i = 0; i < N_MSGS; i++) {
		got *g = &f->in.got[i];
		char want[160];
		assert_int_equal(g->i, i);
		snprintf(want, sizeof want, "nats:%s/%d", f->stream, i + 1);
		assert_string_equal(g->coord, want);
		snprintf(want, sizeof want, "%s.k%d", f->subj, i % 4);
		assert_string_equal(g->origin, want);
		snprintf(want, sizeof want, "id-%s-%d", f->stream, i);
		assert_string_equal(g->ce_id, want);
		assert_string_equal(g->trace, TRACE);
		assert_true(g->ts > 0);
	}
	// Nothing is acked before done.
	fx_wait_unacked(f, N_MSGS);
	fx_done_all(f, 0);
	fx_stop(f);
	// stop flushed the acks: the server holds nothing unacked.
	fx_wait_unacked(f, 0);
	f->in.n = 0;
	assert_weir_ok(fx_start(f));
	assert_weir_ok(f->ops->fetch(&f->src, 100, 300));
	assert_int_equal(f->in.n, 0);
	fx_stop(f);
	fx_free(f);
}

/* A refused message is Nak'ed with the rest of its batch and comes back
 * at the next fetch, in order; messages never done are redelivered to
 * the next start after AckWait. */
static void
test_js_refused_and_unacked(void **state)
{
	fx *f;
	(void) state;
	NEED_BROKER();
	f = fx_new(weir_source_nats(), 1);
	cfg_set(&f->cfg, "nats.in.ack_wait_ms", "1000");
	fx_publish(f, 0, 10, 1);
	f->in.refuse = 4;
	assert_weir_ok(fx_start(f));
	fx_fetch_until(f, 10);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(f->in.got[i].i, i);
	}
	fx_done_all(f, 5); // 0..4 never done
	fx_stop(f);
	fx_wait_unacked(f, 5);
	f->in.n      = 0;
	f->in.refuse = 0;
	assert_weir_ok(fx_start(f));
	fx_fetch_until(f, 5); // after AckWait (1 s)
	for (int i = 0; i < 5; i++) {
		assert_int_equal(f->in.got[i].i, i);
	}
	fx_done_all(f, 0);
	fx_stop(f);
	fx_wait_unacked(f, 0);
	fx_free(f);
}

/* Paused: fetch makes no pull request, so nothing arrives; resumed: it
 * does. fetch(max 0) behaves the same. */
static void
test_js_pause(void **state)
{
	fx *f;
	(void) state;
	NEED_BROKER();
	f = fx_new(weir_source_nats(), 1);
	fx_publish(f, 0, 20, 1);
	assert_weir_ok(fx_start(f));
	f->ops->pause(&f->src, 1);
	assert_weir_ok(f->ops->fetch(&f->src, 100, 100));
	assert_weir_ok(f->ops->fetch(&f->src, 100, 100));
	f->ops->pause(&f->src, 0);
	assert_weir_ok(f->ops->fetch(&f->src, 0, 100));
	assert_int_equal(f->in.n, 0);
	fx_fetch_until(f, 20);
	fx_done_all(f, 0);
	fx_stop(f);
	fx_free(f);
}

/* stop from another thread ends a fetch that waits for messages. */
static void *
stop_later(void *arg)
{
	fx *f = arg;
	fx_wait_unacked(f, 0); // the consumer exists and is idle
	f->ops->stop(&f->src);
	return NULL;
}

static void
test_js_stop_ends_fetch(void **state)
{
	fx       *f;
	pthread_t t;
	int64_t   t0;
	(void) state;
	NEED_BROKER();
	f = fx_new(weir_source_nats(), 1);
	assert_weir_ok(fx_start(f));
	assert_int_equal(pthread_create(&t, NULL, stop_later, f), 0);
	t0 = wt_now_ms();
	while (f->ops->fetch(&f->src, 10, 60000) == WEIR_OK &&
	    wt_now_ms() - t0 < DEADLINE_MS) { }
	pthread_join(t, NULL);
	assert_weir_err(f->ops->fetch(&f->src, 10, 100), WEIR_ECLOSED);
	f->ops->fini(&f->src);
	fx_free(f);
}

/* ------------------------------------------------------------------ */
/* Errors name their cause                                             */
/* ------------------------------------------------------------------ */

static void
expect_start_error(fx *f, weir_err want, const char *needle)
{
	weir_err rv = f->ops->init(&f->src, &f->cfg, &f->spec, &f->in);
	if (rv == WEIR_OK) {
		rv = f->ops->start(&f->src);
		if (rv != WEIR_OK) {
			errmsg_has(f->ops->errmsg(&f->src), needle);
		}
		f->ops->fini(&f->src);
	} else {
		errmsg_has(f->ops->errmsg(&f->src), needle);
	}
	assert_weir_err(rv, want);
}

static void
test_errors(void **state)
{
	fx *f;
	(void) state;
	NEED_BROKER();
	f = fx_new(weir_source_nats(), 0);
	cfg_set(&f->cfg, "nats.bogus", "1");
	expect_start_error(f, WEIR_EINVAL, "nats.bogus");
	f->cfg.n = 0;
	cfg_set(&f->cfg, "nats.url", "nats://127.0.0.1:1");
	cfg_set(&f->cfg, "nats.max_reconnect", "0");
	expect_start_error(f, WEIR_EBACKEND, "nats.url");
	f->cfg.n = 0;
	cfg_set(&f->cfg, "nats.url", nats_url);
	f->spec.stream = f->stream; // never created
	expect_start_error(f, WEIR_ENOENT, f->stream);
	f->spec.stream = NULL; // and no stream holds the subject
	expect_start_error(f, WEIR_ENOENT, f->from);
	f->spec.group = "bad.name";
	expect_start_error(f, WEIR_EINVAL, "bad.name");
	fx_free(f);
}

/* ------------------------------------------------------------------ */
/* natscore                                                            */
/* ------------------------------------------------------------------ */

/* Every message arrives once, in order, with its headers; no coord. */
static void
test_core_deliver(void **state)
{
	fx *f;
	(void) state;
	NEED_BROKER();
	f = fx_new(weir_source_natscore(), 0);
	assert_weir_ok(fx_start(f));
	fx_publish(f, 0, N_MSGS, 0);
	fx_fetch_until(f, N_MSGS);
	for (int i = 0; i < N_MSGS; i++) {
		assert_int_equal(f->in.got[i].i, i);
		assert_string_equal(f->in.got[i].coord, "");
		assert_string_equal(f->in.got[i].trace, TRACE);
	}
	fx_done_all(f, 0);
	assert_int_equal(f->src.dropped, 0);
	fx_stop(f);
	fx_free(f);
}

/* Past nats.in.pending_msgs, cnats drops; received + dropped = sent,
 * and errmsg reports the count. */
static void
test_core_drops_counted(void **state)
{
	fx     *f;
	int64_t end;
	(void) state;
	NEED_BROKER();
	f = fx_new(weir_source_natscore(), 0);
	cfg_set(&f->cfg, "nats.in.pending_msgs", "10");
	assert_weir_ok(fx_start(f));
	fx_publish(f, 0, N_MSGS, 0);
	end = wt_now_ms() + DEADLINE_MS;
	while (f->in.n + f->src.dropped < N_MSGS && wt_now_ms() < end) {
		assert_weir_ok(f->ops->fetch(&f->src, 100, 100));
		fx_done_all(f, 0);
	}
	assert_int_equal(f->in.n + f->src.dropped, N_MSGS);
	assert_true(f->src.dropped > 0);
	assert_non_null(strstr(f->ops->errmsg(&f->src), "dropped"));
	fx_stop(f);
	fx_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_js_deliver_and_ack),
		cmocka_unit_test(test_js_refused_and_unacked),
		cmocka_unit_test(test_js_pause),
		cmocka_unit_test(test_js_stop_ends_fetch),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_core_deliver),
		cmocka_unit_test(test_core_drops_counted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
