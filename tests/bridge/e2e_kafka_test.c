/*
 * A route end to end into a real Kafka (scripts/brokers.sh start kafka),
 * through the real bridge: events published on the bus, stored, relayed
 * by the route's relay thread through the kafka backend, then read back
 * by kcat, an independent client, and compared with the store: exactly
 * the stored ids, each once, in order per key, with the CloudEvents
 * headers, weir-seq, the user header and the traceparent as specified.
 * No broker: skipped (a failure with CI=true).
 */
#include <weir/kafka.h>

#include "brokers.h"

#define N_100K 100000

typedef struct ke {
	bt          t;
	char        topic[128];
	char        servers[256];
	const char *bootstrap;
} ke;

/* A bridge with the kafka backend and route "e2e" (e2e.*.created ->
 * @p dest, keyed by the key token); @p extra: more key, value pairs. */
static void
ke_open(ke *k, const char *dest, const char *const *extra)
{
	const char *kv[32] = { "bridge.source", BK_SOURCE, "bridge.window",
		"256", "kafka.bootstrap.servers", k->bootstrap,
		"kafka.linger.ms", "5" };
	size_t      n      = 8;
	for (; extra != NULL && extra[0] != NULL && n < 30; extra++)
		kv[n++] = extra[0];
	kv[n] = NULL;
	bk_open(&k->t, kv, weir_backend_kafka());
	assert_weir_ok(weir_bridge_route_add(
	    k->t.br, "e2e", "e2e.*.created", "kafka", dest, "{2}", NULL));
	if (weir_bridge_start(k->t.br) != WEIR_OK)
		fail_msg("start: %s", weir_bridge_errmsg(k->t.br));
}

/* 100,000 events through route -> relay -> Kafka, read back by kcat. */
static void
test_route_100k_to_kafka(void **state)
{
	(void) state;
	ke k = { 0 };
	BK_NEED(k.bootstrap, "WEIR_KAFKA_BOOTSTRAP", k.servers);
	bk_unique(k.topic, sizeof k.topic, "weir-e2e-");
	ke_open(&k, k.topic, NULL);
	for (uint64_t i = 0; i < N_100K; i++)
		bk_publish(k.t.bus, i);
	weir_store_flush(k.t.st);
	BK_WAIT(&k.t, "e2e", 170000,
	    s.acked == N_100K && s.backlog == 0 && s.lag_events == 0);
	assert_int_equal(bt_stats(&k.t, "e2e").dead, 0);
	weir_bridge_stop(k.t.br);
	bk_check c;
	bk_check_init(&c, k.t.st, "ce_");
	assert_int_equal(c.n, N_100K); /* every published event was stored */
	bk_kafka_read(&c, k.bootstrap, k.topic);
	bk_check_complete(&c);
	assert_int_equal(c.records, N_100K); /* idempotent: no copies */
	bk_check_fini(&c);
	bt_close(&k.t);
}

/* A record the real broker refuses (the bus's largest payload, 1 MiB,
 * with the headers above the broker's default message.max.bytes of
 * 1048588; the producer's own limit is raised so that the broker
 * decides) becomes a
 * dead letter of the route with the broker's reason; the events after
 * it are sent. */
static void
test_route_too_large_dead_letter(void **state)
{
	(void) state;
	ke k = { 0 };
	BK_NEED(k.bootstrap, "WEIR_KAFKA_BOOTSTRAP", k.servers);
	bk_unique(k.topic, sizeof k.topic, "weir-e2e-large-");
	const char *extra[] = { "kafka.message.max.bytes", "4000000", NULL };
	ke_open(&k, k.topic, extra);
	size_t len = WEIR_DEFAULT_MAX_PAYLOAD;
	char  *big = calloc(1, len);
	assert_non_null(big);
	wt_publish_keyed(k.t.bus, "e2e.k1.created", "k1", 2, big, len);
	bk_publish(k.t.bus, 2);
	BK_WAIT(&k.t, "e2e", 60000, s.dead == 1 && s.acked == 1);
	bt_dead dl = bt_dead_first(&k.t, "e2e");
	print_message("dead letter: %s\n", dl.message);
	assert_non_null(strstr(dl.message, "too large"));
	assert_int_equal(dl.size, len);
	bt_dead_free(&dl);
	free(big);
	bt_close(&k.t);
}

/* A destination Kafka cannot have (a topic name with '/'): each event
 * becomes a dead letter naming the route, with the reason; the route
 * goes on. */
static void
test_route_invalid_destination(void **state)
{
	(void) state;
	ke k = { 0 };
	BK_NEED(k.bootstrap, "WEIR_KAFKA_BOOTSTRAP", k.servers);
	const char *extra[] = { "kafka.message.timeout.ms", "20000", NULL };
	ke_open(&k, "weir/e2e/{2}", extra);
	bk_publish(k.t.bus, 0);
	bk_publish(k.t.bus, 1);
	BK_WAIT(&k.t, "e2e", 60000, s.dead == 2 && s.backlog == 0);
	bt_dead dl = bt_dead_first(&k.t, "e2e");
	print_message("dead letter: %s\n", dl.message);
	assert_string_equal(dl.origin, "e2e");
	assert_true(strlen(dl.message) > 0);
	bt_dead_free(&dl);
	bt_close(&k.t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_invalid_destination),
		cmocka_unit_test(test_route_too_large_dead_letter),
		cmocka_unit_test(test_route_100k_to_kafka),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
