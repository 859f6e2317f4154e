/*
 * The "kafka" backend (src/bridge/kafka.c) through the real bridge
 * (store, route, relay), against librdkafka's mock cluster
 * (rdkafka_mock.h): the faults no real broker gives on demand. The
 * backend is pointed at the mock cluster through kafka.bootstrap.servers;
 * what must arrive is what the store holds, read back from the mock
 * cluster by a plain librdkafka consumer that de-duplicates by ce_id
 * (brokers.h, bk_rdkafka_read):
 *
 * - the broker down for 10 s mid-stream, records timing out meanwhile
 *   (the relay retries them): 0 lost, none dead;
 * - injected retriable produce errors: retried, 0 lost, none dead;
 * - a record the broker refuses as too large, and one above the
 *   producer's own message.max.bytes: dead letters with the reason, the
 *   rest delivered;
 * - the bridge stopped while the broker is down (the backend purges what
 *   it holds), then started again with the broker back: 0 lost.
 *
 * Besides, what only the backend shows: the error classification table
 * of docs/bridge.md, code by code, and bad kafka.* options named by
 * weir_bridge_register / weir_bridge_start. A real Kafka's own tests
 * (100,000 events read back by kcat, the broker's too-large refusal, an
 * invalid topic, SIGKILL) are e2e_kafka_test.c and e2e_crash_test.c.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <weir/kafka.h>

#include "bridge/kafka.h"
#include "brokers.h"

#define KT_API_PRODUCE 0 /* the Kafka protocol ApiKey of Produce */
#define KT_PARTITIONS 4
#define KT_ROUTE "mock"

/* A mock cluster of one broker with one topic, and a bridge whose kafka
 * backend produces to it through route KT_ROUTE. */
typedef struct kt {
	bt                       t;
	rd_kafka_t              *rk; /* the mock cluster's owner */
	rd_kafka_mock_cluster_t *mc;
	char                     bootstrap[256];
	char                     topic[128];
} kt;

static void
kt_mock_open(kt *k)
{
	char             err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
	k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	assert_non_null(k->rk);
	k->mc = rd_kafka_mock_cluster_new(k->rk, 1);
	assert_non_null(k->mc);
	snprintf(k->bootstrap, sizeof k->bootstrap, "%s",
	    rd_kafka_mock_cluster_bootstraps(k->mc));
	bk_unique(k->topic, sizeof k->topic, "weir-mock-");
	assert_int_equal(
	    rd_kafka_mock_topic_create(k->mc, k->topic, KT_PARTITIONS, 1),
	    RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* The mock cluster, and a started bridge producing to it; @p extra:
 * more key, value pairs (NULL-terminated). The relay's backoff and
 * breaker are kept short so that a drain after an outage is quick. */
static void
kt_open(kt *k, const char *const *extra)
{
	memset(k, 0, sizeof *k);
	kt_mock_open(k);
	const char *kv[40] = { "bridge.source", BK_SOURCE,
		"bridge.retry.max_ms", "1000", "bridge.breaker.cooldown_ms",
		"1000", "kafka.bootstrap.servers", k->bootstrap,
		"kafka.log_level", "2", /* the outages are expected */
		"kafka.linger.ms", "5" };
	size_t      n      = 12;
	for (; extra != NULL && *extra != NULL && n < 38; extra++)
		kv[n++] = *extra;
	kv[n] = NULL;
	bk_open(&k->t, kv, weir_backend_kafka());
	bk_start_route(
	    &k->t, KT_ROUTE, "e2e.*.created", "kafka", k->topic, "{2}");
}

static void
kt_close(kt *k)
{
	bt_close(&k->t);
	rd_kafka_mock_cluster_destroy(k->mc);
	rd_kafka_destroy(k->rk);
}

/* Publishes events [from, to) of the test stream (brokers.h). */
static void
kt_publish(kt *k, uint64_t from, uint64_t to)
{
	for (uint64_t i = from; i < to; i++)
		bk_publish(k->t.bus, i);
}

/* Waits until every stored event of the route is done, then reads the
 * topic back: every stored event arrived but the route's dead letters;
 * returns the number of dead letters. */
static uint64_t
kt_read_back(kt *k, int deadline_ms)
{
	weir_store_flush(k->t.st);
	BK_WAIT(&k->t, KT_ROUTE, deadline_ms,
	    bt_intake_idle(&k->t, KT_ROUTE) && s.backlog == 0 &&
	        s.lag_events == 0);
	bk_check c;
	bk_check_init(&c, k->t.st, "ce_");
	bk_rdkafka_read(&c, k->bootstrap, k->topic, KT_PARTITIONS);
	uint64_t dead = bk_check_complete_but_dead(&c, k->t.st, KT_ROUTE);
	bk_check_fini(&c);
	return dead;
}

/* ------------------------------------------------------------------ */
/* Faults                                                              */
/* ------------------------------------------------------------------ */

/* The broker down for 10 s mid-stream of 20,000 events, while records
 * time out after 2 s (librdkafka then hands them back retriable; with
 * idempotence, queued records fail only once the request and socket
 * timeouts are lowered too): the relay retries, and once the broker is
 * back every stored event is acknowledged; none is dead. */
static void
test_mock_broker_down(void **state)
{
	(void) state;
	enum { N = 20000 };
	kt          k;
	const char *extra[] = { "kafka.message.timeout.ms", "2000",
		"kafka.request.timeout.ms", "1000", "kafka.socket.timeout.ms",
		"1000", NULL };
	kt_open(&k, extra);
	kt_publish(&k, 0, N / 2);
	BK_WAIT(&k.t, KT_ROUTE, 60000, s.acked >= N / 4); /* mid-stream */
	rd_kafka_mock_broker_set_down(k.mc, 1);
	kt_publish(&k, N / 2, N);
	/* Down for 10 s, and until records have failed retriably (a loaded
	 * or sanitized run needs longer than 2 s for that). */
	int64_t up_at = wt_now_ms() + 10000;
	BK_WAIT(&k.t, KT_ROUTE, 60000, s.retried > 0);
	while (wt_now_ms() < up_at)
		usleep(100000); /* the outage's length is the scenario */
	weir_bridge_route_stats s = bt_stats(&k.t, KT_ROUTE);
	print_message("down: acked %llu retried %llu breaker opened %llu\n",
	    (unsigned long long) s.acked, (unsigned long long) s.retried,
	    (unsigned long long) s.breaker_opens);
	rd_kafka_mock_broker_set_up(k.mc, 1);
	assert_int_equal(kt_read_back(&k, 120000), 0);
	assert_int_equal(bt_stats(&k.t, KT_ROUTE).dead, 0);
	kt_close(&k);
}

/* Produce requests fail with retriable errors more often than librdkafka
 * retries them itself (retries=1): the records come back to the relay
 * retriable, it sends them again, and all arrive; none is dead. The
 * errors go to the next produce requests of any partition: 18 of them,
 * so that the first request and its one retry both fail even with
 * every other in-flight request taking one in between (6 were once
 * spread so that each retry succeeded, and the relay retried nothing). */
static void
test_mock_retriable_errors(void **state)
{
	(void) state;
	enum { N = 2000 };
	kt          k;
	const char *extra[] = { "kafka.retries", "1", "kafka.retry.backoff.ms",
		"10", NULL };
	kt_open(&k, extra);
	for (int i = 0; i < 3; i++) {
		rd_kafka_mock_push_request_errors(k.mc, KT_API_PRODUCE, 6,
		    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
		    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
		    RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
		    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
		    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
		    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
	}
	kt_publish(&k, 0, N);
	assert_int_equal(kt_read_back(&k, 60000), 0);
	weir_bridge_route_stats s = bt_stats(&k.t, KT_ROUTE);
	print_message("retried %llu\n", (unsigned long long) s.retried);
	assert_true(s.retried > 0);
	assert_int_equal(s.dead, 0);
	kt_close(&k);
}

static weir_err
kt_reason_fn(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	(void) st;
	print_message("dead letter: %s\n", dl->message);
	assert_string_equal(dl->origin, KT_ROUTE);
	assert_non_null(strstr(dl->message, "too large"));
	assert_non_null(strstr(dl->message, "MSG_SIZE_TOO_LARGE"));
	(*(int *) arg)++;
	return WEIR_OK;
}

/* A record the broker answers MSG_SIZE_TOO_LARGE (injected) and one
 * above the producer's own message.max.bytes (librdkafka refuses it in
 * producev; the backend acks it on the next poll): both are dead
 * letters of the route with the reason, and the events after them
 * arrive. */
static void
test_mock_too_large(void **state)
{
	(void) state;
	kt          k;
	const char *extra[] = { "kafka.message.max.bytes", "10000", NULL };
	kt_open(&k, extra);
	rd_kafka_mock_push_request_errors(
	    k.mc, KT_API_PRODUCE, 1, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
	kt_publish(&k, 0, 1);
	BK_WAIT(&k.t, KT_ROUTE, 30000, s.dead == 1);
	char *big = calloc(1, 20000);
	assert_non_null(big);
	wt_publish_keyed(k.t.bus, "e2e.k1.created", "k1", 2, big, 20000);
	free(big);
	BK_WAIT(&k.t, KT_ROUTE, 30000, s.dead == 2);
	kt_publish(&k, 1, 101);
	assert_int_equal(kt_read_back(&k, 60000), 2);
	int n = 0; /* librdkafka's text is the same for both */
	assert_weir_ok(
	    weir_store_dead_list(k.t.st, KT_ROUTE, 0, kt_reason_fn, &n));
	assert_int_equal(n, 2);
	kt_close(&k);
}

/* The bridge stopped while the broker is down: the backend's stop
 * flushes for kafka.weir.stop.timeout.ms, then purges what it holds and
 * acks it retriable. Nothing is done, so nothing is lost: started again
 * with the broker back, the relay sends it all. */
static void
test_mock_stop_while_down(void **state)
{
	(void) state;
	enum { N = 100 };
	kt          k;
	const char *extra[] = { "kafka.weir.stop.timeout.ms", "500", NULL };
	kt_open(&k, extra);
	rd_kafka_mock_broker_set_down(k.mc, 1);
	kt_publish(&k, 0, N);
	weir_store_flush(k.t.st);
	/* One message in flight per key: all keys have theirs. */
	BK_WAIT(&k.t, KT_ROUTE, 30000, s.sent >= BK_KEYS);
	weir_bridge_stop(k.t.br);
	weir_bridge_route_stats s = bt_stats(&k.t, KT_ROUTE);
	assert_int_equal(s.acked, 0);
	assert_int_equal(s.dead, 0);
	assert_int_equal(s.cursor, 0);
	rd_kafka_mock_broker_set_up(k.mc, 1);
	if (weir_bridge_start(k.t.br) != WEIR_OK)
		fail_msg("start again: %s", weir_bridge_errmsg(k.t.br));
	assert_int_equal(kt_read_back(&k, 60000), 0);
	kt_close(&k);
}

/* ------------------------------------------------------------------ */
/* What only the backend shows                                         */
/* ------------------------------------------------------------------ */

typedef struct kt_class {
	rd_kafka_resp_err_t err;
	int                 retriable;
	weir_err            result;
} kt_class;

#define KT_R(code, res)                                 \
	{                                               \
		RD_KAFKA_RESP_ERR_##code, 1, WEIR_##res \
	}
#define KT_P(code)                                         \
	{                                                  \
		RD_KAFKA_RESP_ERR_##code, 0, WEIR_EBACKEND \
	}

/* docs/bridge.md, Kafka, "Error classification": every code it lists,
 * row by row, as it says (written from the document, not the code). */
static const kt_class kt_doc_table[] = {
	KT_R(_MSG_TIMED_OUT, ETIMEDOUT),
	KT_R(_TIMED_OUT, ETIMEDOUT),
	KT_R(_TIMED_OUT_QUEUE, ETIMEDOUT),
	KT_R(REQUEST_TIMED_OUT, ETIMEDOUT),
	KT_R(_TRANSPORT, EBACKEND),
	KT_R(_ALL_BROKERS_DOWN, EBACKEND),
	KT_R(_RESOLVE, EBACKEND),
	KT_R(NETWORK_EXCEPTION, EBACKEND),
	KT_R(BROKER_NOT_AVAILABLE, EBACKEND),
	KT_R(LEADER_NOT_AVAILABLE, EBACKEND),
	KT_R(NOT_LEADER_FOR_PARTITION, EBACKEND),
	KT_R(REPLICA_NOT_AVAILABLE, EBACKEND),
	KT_R(FENCED_LEADER_EPOCH, EBACKEND),
	KT_R(UNKNOWN_LEADER_EPOCH, EBACKEND),
	KT_R(NOT_ENOUGH_REPLICAS, EBACKEND),
	KT_R(NOT_ENOUGH_REPLICAS_AFTER_APPEND, EBACKEND),
	KT_R(KAFKA_STORAGE_ERROR, EBACKEND),
	KT_R(COORDINATOR_LOAD_IN_PROGRESS, EBACKEND),
	KT_R(THROTTLING_QUOTA_EXCEEDED, EBACKEND),
	KT_R(INVALID_MSG, EBACKEND),
	KT_R(OUT_OF_ORDER_SEQUENCE_NUMBER, EBACKEND),
	KT_R(UNKNOWN_PRODUCER_ID, EBACKEND),
	KT_R(INVALID_PRODUCER_EPOCH, EBACKEND),
	KT_R(_RETRY, EBACKEND),
	KT_R(_FATAL, EBACKEND),
	KT_R(_PURGE_QUEUE, ECLOSED),
	KT_R(_PURGE_INFLIGHT, ECLOSED),
	KT_R(_QUEUE_FULL, EAGAIN),
	KT_P(MSG_SIZE_TOO_LARGE),
	KT_P(INVALID_MSG_SIZE),
	KT_P(RECORD_LIST_TOO_LARGE),
	KT_P(INVALID_RECORD),
	KT_P(INVALID_TIMESTAMP),
	KT_P(UNSUPPORTED_FOR_MESSAGE_FORMAT),
	KT_P(POLICY_VIOLATION),
	KT_P(_BAD_MSG),
	KT_P(_KEY_SERIALIZATION),
	KT_P(_VALUE_SERIALIZATION),
	KT_P(_INVALID_ARG),
	KT_P(UNKNOWN_TOPIC_OR_PART),
	KT_P(_UNKNOWN_TOPIC),
	KT_P(_UNKNOWN_PARTITION),
	KT_P(TOPIC_EXCEPTION),
	KT_P(TOPIC_AUTHORIZATION_FAILED),
	KT_P(CLUSTER_AUTHORIZATION_FAILED),
	KT_P(TRANSACTIONAL_ID_AUTHORIZATION_FAILED),
	KT_P(SASL_AUTHENTICATION_FAILED),
	KT_P(_AUTHENTICATION),
	KT_P(INVALID_REQUIRED_ACKS),
	KT_P(UNSUPPORTED_VERSION),
	/* "A code not listed is retriable". */
	KT_R(GROUP_AUTHORIZATION_FAILED, EBACKEND),
	KT_R(_UNKNOWN_PROTOCOL, EBACKEND),
};

static void
test_classification(void **state)
{
	(void) state;
	for (size_t i = 0; i < sizeof kt_doc_table / sizeof kt_doc_table[0];
	     i++) {
		const kt_class *c         = &kt_doc_table[i];
		int             retriable = -1;
		weir_err r = weir__kafka_classify((int) c->err, &retriable);
		if (retriable != c->retriable || r != c->result)
			fail_msg("%s: %s %s, the table says %s %s",
			    rd_kafka_err2name(c->err),
			    retriable ? "retriable" : "permanent",
			    weir_err_name(r),
			    c->retriable ? "retriable" : "permanent",
			    weir_err_name(c->result));
	}
}

/* weir_bridge_register with @p kv fails, naming @p key. */
static void
kt_register_refused(const char *const *kv, const char *key)
{
	bt t;
	bt_open(&t, kv);
	assert_weir_err(
	    weir_bridge_register(t.br, weir_backend_kafka()), WEIR_EINVAL);
	print_message("%s\n", weir_bridge_errmsg(t.br));
	assert_non_null(strstr(weir_bridge_errmsg(t.br), key));
	bt_close(&t);
}

/* Unknown kafka.* and kafka.weir.* keys, weakened guarantees and no
 * bootstrap servers are refused by register, naming the key. */
static void
test_config_refused(void **state)
{
	(void) state;
	const char *unknown[] = { "kafka.bootstrap.servers", "127.0.0.1:1",
		"kafka.no.such.option", "1", NULL };
	const char *own[]     = { "kafka.bootstrap.servers", "127.0.0.1:1",
		    "kafka.weir.no.such", "1", NULL };
	const char *idem[]    = { "kafka.bootstrap.servers", "127.0.0.1:1",
		   "kafka.enable.idempotence", "false", NULL };
	const char *acks[]    = { "kafka.bootstrap.servers", "127.0.0.1:1",
		   "kafka.acks", "1", NULL };
	kt_register_refused(unknown, "kafka.no.such.option");
	kt_register_refused(own, "kafka.weir.no.such");
	kt_register_refused(idem, "kafka.enable.idempotence");
	kt_register_refused(acks, "kafka.acks");
	kt_register_refused(NULL, "kafka.bootstrap.servers");
}

/* The backend's caps() with @p kv (no broker is needed to ask). */
static uint32_t
kt_caps(const char *const *kv)
{
	bt t;
	bt_open(&t, kv);
	assert_weir_ok(weir_bridge_register(t.br, weir_backend_kafka()));
	const weir_backend_ops *ops = weir_backend_kafka();
	assert_true(ops->version >= WEIR_BACKEND_V2 && ops->caps != NULL);
	uint32_t caps = ops->caps(weir__bridge_backend_state(t.br, "kafka"));
	bt_close(&t);
	return caps;
}

/* Order is promised while librdkafka never skips a record: by default
 * (no expiry, unbounded retries), not once records may expire or run
 * out of retries (it then goes on with the later records). */
static void
test_caps_ordered(void **state)
{
	(void) state;
	const char *dflt[]    = { "kafka.bootstrap.servers", "127.0.0.1:1",
		   NULL };
	const char *expires[] = { "kafka.bootstrap.servers", "127.0.0.1:1",
		"kafka.delivery.timeout.ms", "2000", NULL };
	const char *retries[] = { "kafka.bootstrap.servers", "127.0.0.1:1",
		"kafka.retries", "1", NULL };
	assert_int_equal(kt_caps(dflt), WEIR_BACKEND_CAP_ORDERED);
	assert_int_equal(kt_caps(expires), 0);
	assert_int_equal(kt_caps(retries), 0);
}

/* An unreachable cluster fails weir_bridge_start, naming the option;
 * nothing is left running. */
static void
test_start_unreachable(void **state)
{
	(void) state;
	bt          t;
	const char *kv[] = { "kafka.bootstrap.servers", "127.0.0.1:1",
		"kafka.weir.connect.timeout.ms", "500", "kafka.log_level", "0",
		NULL };
	bk_open(&t, kv, weir_backend_kafka());
	assert_weir_ok(weir_bridge_route_add(
	    t.br, "r", "a.>", "kafka", "weir-unreachable", "key", NULL));
	assert_weir_err(weir_bridge_start(t.br), WEIR_EBACKEND);
	print_message("%s\n", weir_bridge_errmsg(t.br));
	assert_non_null(
	    strstr(weir_bridge_errmsg(t.br), "kafka.bootstrap.servers"));
	bt_close(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classification),
		cmocka_unit_test(test_config_refused),
		cmocka_unit_test(test_caps_ordered),
		cmocka_unit_test(test_start_unreachable),
		cmocka_unit_test(test_mock_too_large),
		cmocka_unit_test(test_mock_retriable_errors),
		cmocka_unit_test(test_mock_stop_while_down),
		cmocka_unit_test(test_mock_broker_down),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
