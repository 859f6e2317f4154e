/*
 * A route end to end into a real JetStream (scripts/brokers.sh start
 * nats), through the real bridge: events published on the bus, stored,
 * relayed by the route's relay thread through the nats backend, then
 * read back by a plain cnats pull consumer and compared with the store:
 * exactly the stored ids, each once, in order per key, with the
 * CloudEvents headers, Nats-Msg-Id = ce-id, weir-seq, the user header
 * and the traceparent. No broker: skipped (a failure with CI=true).
 */
#include <weir/nats.h>

#include "brokers.h"

#define N_100K 100000

typedef struct ne {
	bt          t;
	char        urlbuf[256];
	const char *url;
	char        stream[64], prefix[96], subjects[128], dest[128];
} ne;

static void
ne_open(ne *n)
{
	const char *kv[] = { "bridge.source", BK_SOURCE, "bridge.window",
		"256", "nats.url", n->url, "nats.stream", n->stream,
		"nats.stream.subjects", n->subjects,
		"nats.stream.duplicate_window_ms", "600000", NULL };
	bk_open(&n->t, kv, weir_backend_nats());
	assert_weir_ok(weir_bridge_route_add(
	    n->t.br, "e2e", "e2e.*.created", "nats", n->dest, "{2}", NULL));
	if (weir_bridge_start(n->t.br) != WEIR_OK)
		fail_msg("start: %s", weir_bridge_errmsg(n->t.br));
}

static void
ne_names(ne *n)
{
	bk_unique(n->stream, sizeof n->stream, "WEIRE2E_");
	bk_unique(n->prefix, sizeof n->prefix, "weire2e.s");
	snprintf(n->subjects, sizeof n->subjects, "%s.>", n->prefix);
	snprintf(n->dest, sizeof n->dest, "%s.{2}", n->prefix);
}

/* 100,000 events through route -> relay -> JetStream, read back; then
 * the route's cursor is moved back 1,000 events and the bridge started
 * again: the relay re-sends them and the stream drops every copy
 * (Nats-Msg-Id), so it still holds exactly the events. */
static void
test_route_100k_to_jetstream(void **state)
{
	(void) state;
	ne n = { 0 };
	BK_NEED(n.url, "WEIR_NATS_URL", n.urlbuf);
	ne_names(&n);
	ne_open(&n);
	for (uint64_t i = 0; i < N_100K; i++)
		bk_publish(n.t.bus, i);
	weir_store_flush(n.t.st);
	BK_WAIT(&n.t, "e2e", 150000,
	    s.acked == N_100K && s.backlog == 0 && s.lag_events == 0);
	assert_int_equal(bt_stats(&n.t, "e2e").dead, 0);
	weir_bridge_stop(n.t.br);
	assert_int_equal(bk_nats_stream_msgs(n.url, n.stream), N_100K);
	bk_check c;
	bk_check_init(&c, n.t.st, "ce-");
	assert_int_equal(c.n, N_100K);
	bk_nats_read(&c, n.url, n.stream, n.subjects, N_100K);
	bk_check_complete(&c);
	assert_int_equal(c.records, N_100K);
	bk_check_fini(&c);

	assert_weir_ok(
	    weir_store_cursor_set(n.t.st, "bridge.route.e2e", N_100K - 1000));
	assert_weir_ok(weir_bridge_start(n.t.br));
	BK_WAIT(
	    &n.t, "e2e", 60000, s.acked == N_100K + 1000 && s.backlog == 0);
	weir_bridge_stop(n.t.br);
	assert_int_equal(bk_nats_stream_msgs(n.url, n.stream), N_100K);
	bk_nats_delete_stream(n.url, n.stream);
	bt_close(&n.t);
}

/* A subject NATS refuses ("a..b": an empty token) is a dead letter of
 * the route with the reason; the route goes on with the next event. */
static void
test_route_invalid_subject(void **state)
{
	(void) state;
	ne n = { 0 };
	BK_NEED(n.url, "WEIR_NATS_URL", n.urlbuf);
	ne_names(&n);
	snprintf(n.dest, sizeof n.dest, "%s..{2}", n.prefix);
	ne_open(&n);
	bk_publish(n.t.bus, 0);
	bk_publish(n.t.bus, 1);
	BK_WAIT(&n.t, "e2e", 60000, s.dead == 2 && s.backlog == 0);
	bt_dead dl = bt_dead_first(&n.t, "e2e");
	print_message("dead letter: %s\n", dl.message);
	assert_string_equal(dl.origin, "e2e");
	assert_non_null(strstr(dl.message, "ubject"));
	bt_dead_free(&dl);
	bk_nats_delete_stream(n.url, n.stream);
	bt_close(&n.t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_invalid_subject),
		cmocka_unit_test(test_route_100k_to_jetstream),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
