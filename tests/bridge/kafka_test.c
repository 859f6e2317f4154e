/*
 * The "kafka" backend (src/bridge/kafka.c).
 *
 * Against a real Kafka started by scripts/brokers.sh (WEIR_KAFKA_BOOTSTRAP
 * from the environment or build/brokers/env; with CI=true a missing broker
 * fails, otherwise those tests are skipped): a record the broker refuses
 * as too large. 100,000 events through a route into Kafka, read back by
 * kcat, are e2e_kafka_test.c. On top of that, fault injection with
 * librdkafka's mock cluster (rdkafka_mock.h): a broker down for seconds
 * mid-stream, injected retriable request errors, a too-large record, stop with
 * the cluster down. The test includes librdkafka only for the mock cluster.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <weir/kafka.h>

#include "weir_test.h"

#define KT_MAX_KEYS 64
#define KT_API_PRODUCE 0 /* the Kafka protocol ApiKey of Produce */

/* ------------------------------------------------------------------ */
/* The bridge's side, as far as a backend sees it: a sink recording    */
/* every ack and a key/value config.                                   */
/* ------------------------------------------------------------------ */
#ifdef KAFKA_TEST_STUB_BRIDGE
struct weir_bridge_config {
	const char *key[KT_MAX_KEYS];
	const char *value[KT_MAX_KEYS];
	size_t      n;
};

struct weir_sink {
	pthread_mutex_t mu;
	size_t          n;     /* tokens 1..n */
	int            *acks;  /* acks per token */
	int            *state; /* last outcome: KT_OK, KT_RETRY, KT_PERM */
	size_t          ok, retried, permanent, total;
	char            last_reason[512];
};

void
weir_sink_ack(weir_sink *sink, uint64_t token, weir_err result, int retriable,
    const char *reason)
{
	pthread_mutex_lock(&sink->mu);
	if (token >= 1 && token <= sink->n) {
		sink->acks[token - 1]++;
		sink->state[token - 1] = result == WEIR_OK ? 1
		    : retriable                            ? 2
		                                           : 3;
	}
	sink->total++;
	if (result == WEIR_OK) {
		sink->ok++;
	} else {
		if (retriable) {
			sink->retried++;
		} else {
			sink->permanent++;
		}
		snprintf(sink->last_reason, sizeof(sink->last_reason), "%s",
		    reason ? reason : "");
	}
	pthread_mutex_unlock(&sink->mu);
}

const char *
weir_bridge_config_get(const weir_bridge_config *cfg, const char *key)
{
	for (size_t i = 0; i < cfg->n; i++) {
		if (strcmp(cfg->key[i], key) == 0) {
			return cfg->value[i];
		}
	}
	return NULL;
}

weir_err
weir_bridge_config_each(const weir_bridge_config *cfg, const char *prefix,
    weir_err (*fn)(const char *key, const char *value, void *arg), void *arg)
{
	for (size_t i = 0; i < cfg->n; i++) {
		if (strncmp(cfg->key[i], prefix, strlen(prefix)) == 0) {
			weir_err e = fn(cfg->key[i], cfg->value[i], arg);
			if (e != WEIR_OK) {
				return e;
			}
		}
	}
	return WEIR_OK;
}
#endif

enum { KT_NONE, KT_OK, KT_RETRY, KT_PERM };

/* One backend instance with its sink, config and events. */
typedef struct kt {
	const weir_backend_ops *ops;
	void                   *state;
	weir_sink               sink;
	weir_bridge_config      cfg;
	weir_event            **evs;
	size_t                  n;
	const char             *dest;
	char                    topic[128];
} kt;

static void
kt_set(kt *t, const char *key, const char *value)
{
	assert_true(t->cfg.n < KT_MAX_KEYS);
	t->cfg.key[t->cfg.n]   = key;
	t->cfg.value[t->cfg.n] = value;
	t->cfg.n++;
}

static void
kt_open(kt *t, size_t n)
{
	memset(t, 0, sizeof(*t));
	t->ops = weir_backend_kafka();
	assert_non_null(t->ops);
	assert_int_equal(t->ops->version, WEIR_BACKEND_V1);
	assert_string_equal(t->ops->scheme, "kafka");
	t->state = calloc(1, t->ops->state_size);
	assert_non_null(t->state);
	pthread_mutex_init(&t->sink.mu, NULL);
	t->sink.n     = n;
	t->sink.acks  = calloc(n + 1, sizeof(int));
	t->sink.state = calloc(n + 1, sizeof(int));
	t->evs        = calloc(n + 1, sizeof(*t->evs));
	t->n          = n;
	assert_true(t->sink.acks && t->sink.state && t->evs);
}

static void
kt_close(kt *t)
{
	for (size_t i = 0; i < t->n; i++) {
		weir_event_release(t->evs[i]);
	}
	free(t->evs);
	free(t->sink.acks);
	free(t->sink.state);
	free(t->state);
	pthread_mutex_destroy(&t->sink.mu);
}

/* Event i (0-based) of the stream: key "k<i % keys>", payload "p<i>", a
 * traceparent and a user header. */
static void
kt_make_events(kt *t, size_t payload_len)
{
	static const char tp[] =
	    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
	char *payload = calloc(1, payload_len + 32);
	assert_non_null(payload);
	for (size_t i = 0; i < t->n; i++) {
		char            key[16];
		weir_header     h[2] = { { "traceparent", tp, strlen(tp) },
			    { "x-user", "v é", strlen("v é") } };
		weir_event_init init = WEIR_STRUCT_INIT(weir_event_init);
		int             plen = snprintf(payload, 32, "p%zu", i);
		snprintf(key, sizeof(key), "k%zu", i % 8);
		init.topic        = "orders.eu.created";
		init.key          = key;
		init.key_len      = strlen(key);
		init.payload      = payload;
		init.payload_len  = payload_len ? payload_len : (size_t) plen;
		init.headers      = h;
		init.header_count = 2;
		init.seq          = i + 1;
		assert_weir_ok(weir_event_new(&t->evs[i], &init));
	}
	free(payload);
}

static weir_err
kt_publish_one(kt *t, size_t i)
{
	size_t          klen;
	weir_bridge_msg msg = WEIR_STRUCT_INIT(weir_bridge_msg);
	msg.ev              = t->evs[i];
	msg.seq             = weir_event_seq(t->evs[i]);
	msg.dest            = t->dest;
	msg.key             = weir_event_key(t->evs[i], &klen);
	msg.key_len         = klen;
	msg.source          = "weir://test/bus";
	msg.token           = i + 1;
	return t->ops->publish(t->state, &msg);
}

/* Publishes event i, polling while the local queue is full. */
static void
kt_publish(kt *t, size_t i)
{
	int64_t  deadline = wt_now_ms() + 60000;
	weir_err e;
	while ((e = kt_publish_one(t, i)) == WEIR_EAGAIN) {
		assert_true(wt_now_ms() < deadline);
		t->ops->poll(t->state, 10);
	}
	assert_weir_ok(e);
}

static int
kt_state(kt *t, size_t i)
{
	int s;
	pthread_mutex_lock(&t->sink.mu);
	s = t->sink.state[i];
	pthread_mutex_unlock(&t->sink.mu);
	return s;
}

/* What the relay does: polls until every event has an outcome, and
 * publishes again each one that failed retriably, until all are acked OK
 * (or the deadline, a failure). */
static void
kt_drive_to_ok(kt *t, int deadline_s)
{
	int64_t deadline = wt_now_ms() + (int64_t) deadline_s * 1000;
	size_t  done     = 0;
	while (done < t->n) {
		assert_true(wt_now_ms() < deadline);
		t->ops->poll(t->state, 50);
		done = 0;
		for (size_t i = 0; i < t->n; i++) {
			int s = kt_state(t, i);
			assert_int_not_equal(s, KT_PERM);
			if (s == KT_RETRY) {
				pthread_mutex_lock(&t->sink.mu);
				t->sink.state[i] = KT_NONE;
				pthread_mutex_unlock(&t->sink.mu);
				kt_publish(t, i);
			}
			done += s == KT_OK;
		}
	}
}

/* Polls until token i (0-based) has an outcome. */
static int
kt_wait(kt *t, size_t i, int deadline_s)
{
	int64_t deadline = wt_now_ms() + (int64_t) deadline_s * 1000;
	int     s;
	while ((s = kt_state(t, i)) == KT_NONE) {
		assert_true(wt_now_ms() < deadline);
		t->ops->poll(t->state, 50);
	}
	return s;
}

static void
kt_start(kt *t)
{
	weir_err e = t->ops->init(t->state, &t->cfg, &t->sink);
	if (e != WEIR_OK) {
		print_error("init: %s\n", t->ops->errmsg(t->state));
	}
	assert_weir_ok(e);
	e = t->ops->start(t->state);
	if (e != WEIR_OK) {
		print_error("start: %s\n", t->ops->errmsg(t->state));
	}
	assert_weir_ok(e);
}

static void
kt_stop(kt *t)
{
	size_t total;
	t->ops->stop(t->state);
	pthread_mutex_lock(&t->sink.mu);
	total = t->sink.total;
	pthread_mutex_unlock(&t->sink.mu);
	t->ops->fini(t->state);
	/* stop's promise: no sink call after it returns. */
	assert_int_equal(t->sink.total, total);
}

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

static void
test_config_unknown_key(void **state)
{
	kt t;
	(void) state;
	kt_open(&t, 1);
	kt_set(&t, "kafka.bootstrap.servers", "127.0.0.1:1");
	kt_set(&t, "kafka.no.such.option", "1");
	assert_weir_err(t.ops->init(t.state, &t.cfg, &t.sink), WEIR_EINVAL);
	assert_non_null(
	    strstr(t.ops->errmsg(t.state), "kafka.no.such.option"));
	t.ops->fini(t.state);

	memset(t.state, 0, t.ops->state_size);
	t.cfg.n = 0;
	kt_set(&t, "kafka.bootstrap.servers", "127.0.0.1:1");
	kt_set(&t, "kafka.weir.no.such", "1");
	assert_weir_err(t.ops->init(t.state, &t.cfg, &t.sink), WEIR_EINVAL);
	assert_non_null(strstr(t.ops->errmsg(t.state), "kafka.weir.no.such"));
	t.ops->fini(t.state);
	kt_close(&t);
}

static void
test_config_guarantees_kept(void **state)
{
	kt t;
	(void) state;
	kt_open(&t, 1);
	kt_set(&t, "kafka.bootstrap.servers", "127.0.0.1:1");
	kt_set(&t, "kafka.enable.idempotence", "false");
	assert_weir_err(t.ops->init(t.state, &t.cfg, &t.sink), WEIR_EINVAL);
	assert_non_null(
	    strstr(t.ops->errmsg(t.state), "kafka.enable.idempotence"));
	memset(t.state, 0, t.ops->state_size);
	t.cfg.n = 0;
	kt_set(&t, "kafka.bootstrap.servers", "127.0.0.1:1");
	kt_set(&t, "kafka.acks", "1");
	assert_weir_err(t.ops->init(t.state, &t.cfg, &t.sink), WEIR_EINVAL);
	assert_non_null(strstr(t.ops->errmsg(t.state), "kafka.acks"));
	memset(t.state, 0, t.ops->state_size);
	t.cfg.n = 0;
	assert_weir_err(t.ops->init(t.state, &t.cfg, &t.sink), WEIR_EINVAL);
	assert_non_null(
	    strstr(t.ops->errmsg(t.state), "kafka.bootstrap.servers"));
	kt_close(&t);
}

/* A secret reaches librdkafka but never an error message, even when
 * librdkafka's own text quotes the value it refused. */
static void
test_config_secret_not_in_errors(void **state)
{
	static const char secret[] = "Pl4nted-S3cret";
	kt                t;
	(void) state;
	kt_open(&t, 1);
	kt_set(&t, "kafka.bootstrap.servers", "127.0.0.1:1");
	kt_set(&t, "kafka.sasl.password", secret);
	kt_set(&t, "kafka.security.protocol", secret);
	assert_weir_err(t.ops->init(t.state, &t.cfg, &t.sink), WEIR_EINVAL);
	assert_non_null(
	    strstr(t.ops->errmsg(t.state), "kafka.security.protocol"));
	assert_null(strstr(t.ops->errmsg(t.state), secret));
	assert_null(strstr(t.ops->errmsg(t.state), "S3cret"));
	kt_close(&t);
}

/* An unreachable cluster is an error of start(), naming the option. */
static void
test_start_unreachable(void **state)
{
	kt t;
	(void) state;
	kt_open(&t, 1);
	kt_set(&t, "kafka.bootstrap.servers", "127.0.0.1:1");
	kt_set(&t, "kafka.weir.connect.timeout.ms", "500");
	kt_set(&t, "kafka.log_level", "0");
	assert_weir_ok(t.ops->init(t.state, &t.cfg, &t.sink));
	assert_weir_err(t.ops->start(t.state), WEIR_EBACKEND);
	assert_non_null(
	    strstr(t.ops->errmsg(t.state), "kafka.bootstrap.servers"));
	t.ops->fini(t.state);
	kt_close(&t);
}

/* ------------------------------------------------------------------ */
/* The mock cluster: fault injection                                   */
/* ------------------------------------------------------------------ */

typedef struct kt_mock {
	rd_kafka_t              *rk;
	rd_kafka_mock_cluster_t *mc;
	char                     bootstrap[256];
} kt_mock;

static void
kt_mock_open(kt_mock *m, int brokers)
{
	char             errstr[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof(errstr));
	m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	assert_non_null(m->rk);
	m->mc = rd_kafka_mock_cluster_new(m->rk, brokers);
	assert_non_null(m->mc);
	snprintf(m->bootstrap, sizeof(m->bootstrap), "%s",
	    rd_kafka_mock_cluster_bootstraps(m->mc));
	assert_int_equal(rd_kafka_mock_topic_create(m->mc, "weir.mock", 1, 1),
	    RD_KAFKA_RESP_ERR_NO_ERROR);
}

static void
kt_mock_close(kt_mock *m)
{
	rd_kafka_mock_cluster_destroy(m->mc);
	rd_kafka_destroy(m->rk);
}

static void
kt_mock_config(kt *t, kt_mock *m)
{
	kt_set(t, "kafka.bootstrap.servers", m->bootstrap);
	kt_set(t, "kafka.log_level", "2"); /* the broker down is expected */
	t->dest = "weir.mock";
}

/* Broker down (5 s or more) mid-stream while records time out after 2 s:
 * some fail retriably, none permanently, and every one is acked OK in
 * the end (with the relay's re-publish). */
static void
test_mock_broker_down(void **state)
{
	kt      t;
	kt_mock m;
	size_t  n = 20000;
	int64_t up_at;
	(void) state;
	kt_mock_open(&m, 1);
	kt_open(&t, n);
	kt_mock_config(&t, &m);
	kt_set(&t, "kafka.message.timeout.ms", "2000");
	kt_set(&t, "kafka.request.timeout.ms", "1000");
	kt_set(&t, "kafka.socket.timeout.ms", "1000");
	kt_make_events(&t, 0);
	kt_start(&t);
	for (size_t i = 0; i < n / 2; i++) {
		kt_publish(&t, i);
	}
	rd_kafka_mock_broker_set_down(m.mc, 1);
	for (size_t i = n / 2; i < n; i++) {
		kt_publish(&t, i);
	}
	/* The outage lasts until records have failed retriably (2 s of
	 * message timeout; a loaded or sanitized run needs longer, so the
	 * wait is for the condition, bounded at 60 s), and at least 5 s. */
	up_at        = wt_now_ms() + 5000;
	int64_t last = wt_now_ms() + 60000;
	while ((wt_now_ms() < up_at || t.sink.retried == 0) &&
	    wt_now_ms() < last) {
		t.ops->poll(t.state, 100);
	}
	print_message("retried %zu ok %zu perm %zu\n", t.sink.retried,
	    t.sink.ok, t.sink.permanent);
	assert_true(t.sink.retried > 0);
	rd_kafka_mock_broker_set_up(m.mc, 1);
	kt_drive_to_ok(&t, 60);
	assert_int_equal(t.sink.permanent, 0);
	kt_stop(&t);
	kt_close(&t);
	kt_mock_close(&m);
}

/* Produce requests fail with NOT_ENOUGH_REPLICAS more often than
 * librdkafka retries: the records come back classified retriable, and
 * once the errors stop every one is acked OK. */
static void
test_mock_retriable_errors(void **state)
{
	kt      t;
	kt_mock m;
	size_t  n = 200;
	(void) state;
	kt_mock_open(&m, 1);
	kt_open(&t, n);
	kt_mock_config(&t, &m);
	kt_set(&t, "kafka.retries", "1");
	kt_set(&t, "kafka.retry.backoff.ms", "10");
	kt_make_events(&t, 0);
	kt_start(&t);
	rd_kafka_mock_push_request_errors(m.mc, KT_API_PRODUCE, 6,
	    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
	    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
	    RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
	    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
	    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
	    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
	for (size_t i = 0; i < n; i++) {
		kt_publish(&t, i);
	}
	kt_drive_to_ok(&t, 60);
	assert_true(t.sink.retried > 0);
	assert_int_equal(t.sink.permanent, 0);
	kt_stop(&t);
	kt_close(&t);
	kt_mock_close(&m);
}

/* A record the broker refuses as too large is permanent, with the
 * broker's reason; the records after it go through. */
static void
test_mock_too_large(void **state)
{
	kt      t;
	kt_mock m;
	(void) state;
	kt_mock_open(&m, 1);
	kt_open(&t, 3);
	kt_mock_config(&t, &m);
	kt_make_events(&t, 0);
	kt_start(&t);
	rd_kafka_mock_push_request_errors(
	    m.mc, KT_API_PRODUCE, 1, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
	kt_publish(&t, 0);
	assert_int_equal(kt_wait(&t, 0, 30), KT_PERM);
	assert_non_null(strstr(t.sink.last_reason, "too large"));
	assert_non_null(strstr(t.sink.last_reason, "MSG_SIZE_TOO_LARGE"));
	kt_publish(&t, 1);
	kt_publish(&t, 2);
	assert_int_equal(kt_wait(&t, 1, 30), KT_OK);
	assert_int_equal(kt_wait(&t, 2, 30), KT_OK);
	kt_stop(&t);
	kt_close(&t);
	kt_mock_close(&m);
}

/* Larger than the producer's own message.max.bytes: librdkafka refuses
 * it in producev; publish still takes it and the next poll acks it as
 * permanent. */
static void
test_local_too_large(void **state)
{
	kt      t;
	kt_mock m;
	(void) state;
	kt_mock_open(&m, 1);
	kt_open(&t, 1);
	kt_mock_config(&t, &m);
	kt_set(&t, "kafka.message.max.bytes", "10000");
	kt_make_events(&t, 20000);
	kt_start(&t);
	assert_weir_ok(kt_publish_one(&t, 0));
	assert_int_equal(kt_wait(&t, 0, 30), KT_PERM);
	assert_non_null(strstr(t.sink.last_reason, "MSG_SIZE_TOO_LARGE"));
	kt_stop(&t);
	kt_close(&t);
	kt_mock_close(&m);
}

/* stop() with the cluster down: flushes until its deadline, then every
 * record still queued is acked retriable before stop returns; none after
 * (kt_stop checks). */
static void
test_mock_stop_while_down(void **state)
{
	kt      t;
	kt_mock m;
	size_t  n = 100;
	(void) state;
	kt_mock_open(&m, 1);
	kt_open(&t, n);
	kt_mock_config(&t, &m);
	kt_set(&t, "kafka.weir.stop.timeout.ms", "500");
	kt_make_events(&t, 0);
	kt_start(&t);
	rd_kafka_mock_broker_set_down(m.mc, 1);
	for (size_t i = 0; i < n; i++) {
		kt_publish(&t, i);
	}
	t.ops->stop(t.state);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(t.sink.acks[i], 1);
		assert_int_equal(t.sink.state[i], KT_RETRY);
	}
	assert_weir_err(kt_publish_one(&t, 0), WEIR_ECLOSED);
	kt_stop(&t);
	kt_close(&t);
	kt_mock_close(&m);
}

/* ------------------------------------------------------------------ */
/* The real broker                                                     */
/* ------------------------------------------------------------------ */

/* WEIR_KAFKA_BOOTSTRAP from the environment, else build/brokers/env. */
static const char *
kt_bootstrap(void)
{
	static char buf[256];
	const char *env = getenv("WEIR_KAFKA_BOOTSTRAP");
	FILE       *f;
	char        line[512];
	if (env != NULL && env[0] != '\0') {
		return env;
	}
	f = fopen(WEIR_SOURCE_DIR "/build/brokers/env", "r");
	if (f == NULL) {
		return NULL;
	}
	buf[0] = '\0';
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "WEIR_KAFKA_BOOTSTRAP=", 21) == 0) {
			snprintf(buf, sizeof(buf), "%.255s", line + 21);
			buf[strcspn(buf, "\r\n")] = '\0';
		}
	}
	fclose(f);
	return buf[0] ? buf : NULL;
}

/* The bootstrap address, or skips (fails with CI=true). */
static const char *
kt_real_broker(void)
{
	const char *b  = kt_bootstrap();
	const char *ci = getenv("CI");
	if (b == NULL) {
		if (ci != NULL && strcmp(ci, "true") == 0) {
			fail_msg(
			    "CI=true and no Kafka: run scripts/brokers.sh "
			    "start kafka");
		}
		print_message("[  SKIP    ] no Kafka (scripts/brokers.sh "
		              "start kafka)\n");
		skip();
	}
	return b;
}

static void
kt_real_config(kt *t, const char *bootstrap, const char *what)
{
	snprintf(t->topic, sizeof(t->topic), "weir-test-%s-%ld-%lld", what,
	    (long) getpid(), (long long) wt_now_ms());
	t->dest = t->topic;
	kt_set(t, "kafka.bootstrap.servers", bootstrap);
	kt_set(t, "kafka.linger.ms", "5");
}

/* The real broker refuses a 1.5 MB record (its message.max.bytes is
 * about 1 MB; the producer's is raised so that the broker decides):
 * permanent, with the broker's reason. */
static void
test_real_too_large(void **state)
{
	const char *bootstrap = kt_real_broker();
	kt          t;
	(void) state;
	kt_open(&t, 1);
	kt_real_config(&t, bootstrap, "large");
	kt_set(&t, "kafka.message.max.bytes", "4000000");
	kt_make_events(&t, 1500000);
	kt_start(&t);
	kt_publish(&t, 0);
	assert_int_equal(kt_wait(&t, 0, 60), KT_PERM);
	assert_non_null(strstr(t.sink.last_reason, "too large"));
	kt_stop(&t);
	kt_close(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_unknown_key),
		cmocka_unit_test(test_config_guarantees_kept),
		cmocka_unit_test(test_config_secret_not_in_errors),
		cmocka_unit_test(test_start_unreachable),
		cmocka_unit_test(test_mock_too_large),
		cmocka_unit_test(test_local_too_large),
		cmocka_unit_test(test_mock_retriable_errors),
		cmocka_unit_test(test_mock_stop_while_down),
		cmocka_unit_test(test_mock_broker_down),
		cmocka_unit_test(test_real_too_large),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
