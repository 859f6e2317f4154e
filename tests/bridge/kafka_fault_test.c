/*
 * The error paths of src/bridge/kafka.c (the "kafka" backend and
 * source), which the broker tests (kafka_test, kafka_in_test, e2e_*) do
 * not take: this file includes kafka.c and stands in for the bridge's
 * side (the sink, the inlet), so it calls the ops directly, and makes
 * librdkafka calls fail on demand through -Wl,--wrap (each __wrap_ below
 * calls the real function unless its fault is armed). The broker is
 * librdkafka's mock cluster (rdkafka_mock.h), so no real Kafka is
 * needed. Allocation failures come from tests/support/fault_alloc.h.
 *
 * Every case checks what the caller sees: the error code, the text of
 * errmsg, the acks the sink got, the messages the inlet got, and that
 * nothing is skipped (a message refused or not taken comes back).
 */
#include <pthread.h>

#include "weir_test.h"

#include "broker_env.h"
#include "fault_alloc.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <weir/bridge.h>

#include "bridge/kafka.c"

#define KF_DEADLINE_MS 30000 /* any wait on the mock cluster */

/* ------------------------------------------------------------------ */
/* librdkafka calls that fail on demand                                */
/* ------------------------------------------------------------------ */

/* Armed faults: a name (for conf calls) or a count of calls to fail. */
static struct {
	const char         *conf_set; /* property whose conf_set fails */
	const char         *conf_get; /* property whose conf_get fails */
	rd_kafka_conf_res_t conf_get_res;
	int                 new_client; /* rd_kafka_new */
	int                 offsets_store;
	int                 commit;
	int                 assign;     /* rd_kafka_assign */
	int                 inc_assign; /* rd_kafka_incremental_assign */
	int                 subscribe;
	int                 close; /* rd_kafka_consumer_close */
	int                 seek;
	int                 header_get; /* rd_kafka_header_get_all */
	int                 timestamp;  /* rd_kafka_message_timestamp */
	int                 assignment; /* rd_kafka_assignment */
	int                 seeks;      /* seek calls, failed or not */
	int                 pauses;     /* pause_partitions calls */
	int                 eofs;       /* partition ends consumer_poll saw */
} ff;

rd_kafka_conf_res_t __real_rd_kafka_conf_set(
    rd_kafka_conf_t *, const char *, const char *, char *, size_t);
rd_kafka_conf_res_t __wrap_rd_kafka_conf_set(
    rd_kafka_conf_t *, const char *, const char *, char *, size_t);
rd_kafka_conf_res_t
__wrap_rd_kafka_conf_set(rd_kafka_conf_t *c, const char *name,
    const char *value, char *errstr, size_t n)
{
	if (ff.conf_set != NULL && strcmp(name, ff.conf_set) == 0) {
		snprintf(errstr, n, "injected refusal of %s", name);
		return RD_KAFKA_CONF_INVALID;
	}
	return __real_rd_kafka_conf_set(c, name, value, errstr, n);
}

rd_kafka_conf_res_t __real_rd_kafka_conf_get(
    const rd_kafka_conf_t *, const char *, char *, size_t *);
rd_kafka_conf_res_t __wrap_rd_kafka_conf_get(
    const rd_kafka_conf_t *, const char *, char *, size_t *);
rd_kafka_conf_res_t
__wrap_rd_kafka_conf_get(
    const rd_kafka_conf_t *c, const char *name, char *dest, size_t *n)
{
	if (ff.conf_get != NULL && strcmp(name, ff.conf_get) == 0) {
		if (ff.conf_get_res == RD_KAFKA_CONF_OK) { /* reads "" */
			if (dest != NULL && *n > 0) {
				dest[0] = '\0';
			}
			*n = 1;
		}
		return ff.conf_get_res;
	}
	return __real_rd_kafka_conf_get(c, name, dest, n);
}

rd_kafka_t *__real_rd_kafka_new(
    rd_kafka_type_t, rd_kafka_conf_t *, char *, size_t);
rd_kafka_t *__wrap_rd_kafka_new(
    rd_kafka_type_t, rd_kafka_conf_t *, char *, size_t);
rd_kafka_t *
__wrap_rd_kafka_new(
    rd_kafka_type_t type, rd_kafka_conf_t *c, char *errstr, size_t n)
{
	if (ff.new_client > 0) {
		ff.new_client--;
		snprintf(errstr, n, "injected: no client");
		return NULL; /* the conf stays the caller's */
	}
	return __real_rd_kafka_new(type, c, errstr, n);
}

rd_kafka_resp_err_t __real_rd_kafka_offsets_store(
    rd_kafka_t *, rd_kafka_topic_partition_list_t *);
rd_kafka_resp_err_t __wrap_rd_kafka_offsets_store(
    rd_kafka_t *, rd_kafka_topic_partition_list_t *);
rd_kafka_resp_err_t
__wrap_rd_kafka_offsets_store(
    rd_kafka_t *rk, rd_kafka_topic_partition_list_t *l)
{
	if (ff.offsets_store > 0) {
		ff.offsets_store--;
		return RD_KAFKA_RESP_ERR__STATE;
	}
	return __real_rd_kafka_offsets_store(rk, l);
}

rd_kafka_resp_err_t __real_rd_kafka_commit(
    rd_kafka_t *, const rd_kafka_topic_partition_list_t *, int);
rd_kafka_resp_err_t __wrap_rd_kafka_commit(
    rd_kafka_t *, const rd_kafka_topic_partition_list_t *, int);
rd_kafka_resp_err_t
__wrap_rd_kafka_commit(
    rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *l, int async)
{
	if (ff.commit > 0) {
		ff.commit--;
		return RD_KAFKA_RESP_ERR__TIMED_OUT;
	}
	return __real_rd_kafka_commit(rk, l, async);
}

/* The assignment calls fail after doing their work, so that librdkafka's
 * rebalance goes on (a consumer that never assigns could not close). */
rd_kafka_resp_err_t __real_rd_kafka_assign(
    rd_kafka_t *, const rd_kafka_topic_partition_list_t *);
rd_kafka_resp_err_t __wrap_rd_kafka_assign(
    rd_kafka_t *, const rd_kafka_topic_partition_list_t *);
rd_kafka_resp_err_t
__wrap_rd_kafka_assign(
    rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *l)
{
	rd_kafka_resp_err_t err = __real_rd_kafka_assign(rk, l);
	if (l != NULL && ff.assign > 0) {
		ff.assign--;
		return RD_KAFKA_RESP_ERR__STATE;
	}
	return err;
}

rd_kafka_error_t *__real_rd_kafka_incremental_assign(
    rd_kafka_t *, const rd_kafka_topic_partition_list_t *);
rd_kafka_error_t *__wrap_rd_kafka_incremental_assign(
    rd_kafka_t *, const rd_kafka_topic_partition_list_t *);
rd_kafka_error_t *
__wrap_rd_kafka_incremental_assign(
    rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *l)
{
	rd_kafka_error_t *er = __real_rd_kafka_incremental_assign(rk, l);
	if (ff.inc_assign > 0) {
		ff.inc_assign--;
		rd_kafka_error_destroy(er);
		return rd_kafka_error_new(
		    RD_KAFKA_RESP_ERR__STATE, "injected assign failure");
	}
	return er;
}

rd_kafka_resp_err_t __real_rd_kafka_subscribe(
    rd_kafka_t *, const rd_kafka_topic_partition_list_t *);
rd_kafka_resp_err_t __wrap_rd_kafka_subscribe(
    rd_kafka_t *, const rd_kafka_topic_partition_list_t *);
rd_kafka_resp_err_t
__wrap_rd_kafka_subscribe(
    rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *l)
{
	if (ff.subscribe > 0) {
		ff.subscribe--;
		return RD_KAFKA_RESP_ERR__INVALID_ARG;
	}
	return __real_rd_kafka_subscribe(rk, l);
}

rd_kafka_resp_err_t __real_rd_kafka_consumer_close(rd_kafka_t *);
rd_kafka_resp_err_t __wrap_rd_kafka_consumer_close(rd_kafka_t *);
rd_kafka_resp_err_t
__wrap_rd_kafka_consumer_close(rd_kafka_t *rk)
{
	rd_kafka_resp_err_t err = __real_rd_kafka_consumer_close(rk);
	if (ff.close > 0) {
		ff.close--;
		return RD_KAFKA_RESP_ERR__TRANSPORT;
	}
	return err;
}

rd_kafka_error_t *__real_rd_kafka_seek_partitions(
    rd_kafka_t *, rd_kafka_topic_partition_list_t *, int);
rd_kafka_error_t *__wrap_rd_kafka_seek_partitions(
    rd_kafka_t *, rd_kafka_topic_partition_list_t *, int);
rd_kafka_error_t *
__wrap_rd_kafka_seek_partitions(
    rd_kafka_t *rk, rd_kafka_topic_partition_list_t *l, int ms)
{
	ff.seeks++;
	if (ff.seek > 0) {
		ff.seek--;
		return rd_kafka_error_new(
		    RD_KAFKA_RESP_ERR__STATE, "injected seek failure");
	}
	return __real_rd_kafka_seek_partitions(rk, l, ms);
}

rd_kafka_resp_err_t __real_rd_kafka_header_get_all(const rd_kafka_headers_t *,
    size_t, const char **, const void **, size_t *);
rd_kafka_resp_err_t __wrap_rd_kafka_header_get_all(const rd_kafka_headers_t *,
    size_t, const char **, const void **, size_t *);
rd_kafka_resp_err_t
__wrap_rd_kafka_header_get_all(const rd_kafka_headers_t *h, size_t i,
    const char **name, const void **value, size_t *len)
{
	if (ff.header_get > 0) {
		ff.header_get--;
		return RD_KAFKA_RESP_ERR__NOENT;
	}
	return __real_rd_kafka_header_get_all(h, i, name, value, len);
}

int64_t __real_rd_kafka_message_timestamp(
    const rd_kafka_message_t *, rd_kafka_timestamp_type_t *);
int64_t __wrap_rd_kafka_message_timestamp(
    const rd_kafka_message_t *, rd_kafka_timestamp_type_t *);
int64_t
__wrap_rd_kafka_message_timestamp(
    const rd_kafka_message_t *m, rd_kafka_timestamp_type_t *type)
{
	if (ff.timestamp > 0) {
		ff.timestamp--;
		return -1; /* a record without a timestamp */
	}
	return __real_rd_kafka_message_timestamp(m, type);
}

rd_kafka_resp_err_t __real_rd_kafka_assignment(
    rd_kafka_t *, rd_kafka_topic_partition_list_t **);
rd_kafka_resp_err_t __wrap_rd_kafka_assignment(
    rd_kafka_t *, rd_kafka_topic_partition_list_t **);
rd_kafka_resp_err_t
__wrap_rd_kafka_assignment(rd_kafka_t *rk, rd_kafka_topic_partition_list_t **l)
{
	if (ff.assignment > 0) {
		ff.assignment--;
		return RD_KAFKA_RESP_ERR__STATE;
	}
	return __real_rd_kafka_assignment(rk, l);
}

rd_kafka_resp_err_t __real_rd_kafka_pause_partitions(
    rd_kafka_t *, rd_kafka_topic_partition_list_t *);
rd_kafka_resp_err_t __wrap_rd_kafka_pause_partitions(
    rd_kafka_t *, rd_kafka_topic_partition_list_t *);
rd_kafka_resp_err_t
__wrap_rd_kafka_pause_partitions(
    rd_kafka_t *rk, rd_kafka_topic_partition_list_t *l)
{
	ff.pauses++;
	return __real_rd_kafka_pause_partitions(rk, l);
}

/* Counts the partition ends, so that a test can wait for one. */
rd_kafka_message_t *__real_rd_kafka_consumer_poll(rd_kafka_t *, int);
rd_kafka_message_t *__wrap_rd_kafka_consumer_poll(rd_kafka_t *, int);
rd_kafka_message_t *
__wrap_rd_kafka_consumer_poll(rd_kafka_t *rk, int ms)
{
	rd_kafka_message_t *m = __real_rd_kafka_consumer_poll(rk, ms);
	if (m != NULL && m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
		ff.eofs++;
	}
	return m;
}

/* ------------------------------------------------------------------ */
/* The bridge's side, as stand-ins                                     */
/* ------------------------------------------------------------------ */

#define FF_MAX 64

/* The sink: records every ack. */
struct weir_sink {
	size_t   n;
	uint64_t token[FF_MAX];
	weir_err result[FF_MAX];
	int      retriable[FF_MAX];
	char     reason[FF_MAX][256];
};

void
weir_sink_ack(weir_sink *s, uint64_t token, weir_err result, int retriable,
    const char *reason)
{
	assert_true(s->n < FF_MAX);
	s->token[s->n]     = token;
	s->result[s->n]    = result;
	s->retriable[s->n] = retriable;
	snprintf(
	    s->reason[s->n], sizeof s->reason[0], "%s", reason ? reason : "");
	s->n++;
}

/* One message the inlet took. */
typedef struct ff_got {
	int32_t  partition;
	int64_t  offset;
	int64_t  ts;
	size_t   headers;
	char     first_name[32]; /* the first header's name */
	size_t   null_len;       /* length of header "null" */
	uint64_t token;
} ff_got;

/* The inlet: records every delivery; refuses call number `refuse`;
 * flush fails while flush_fail is set. */
struct weir_inlet {
	ff_got   got[FF_MAX];
	size_t   n;
	size_t   calls;
	size_t   refuse;
	weir_err flush_fail;
	size_t   flushes;
};

weir_err
weir_inlet_deliver(weir_inlet *in, const weir_inbound_msg *m)
{
	ff_got *g;
	if (++in->calls == in->refuse) {
		return WEIR_EAGAIN;
	}
	assert_true(in->n < FF_MAX);
	g            = &in->got[in->n++];
	g->partition = (int32_t) (m->token >> KIN_OFFSET_BITS);
	g->offset    = (int64_t) (m->token & (uint64_t) KIN_OFFSET_MAX);
	g->ts        = m->ts;
	g->headers   = m->header_count;
	g->token     = m->token;
	g->null_len  = (size_t) -1;
	snprintf(g->first_name, sizeof g->first_name, "%s",
	    m->header_count > 0 ? m->headers[0].name : "-");
	for (size_t i = 0; i < m->header_count; i++) {
		assert_non_null(m->headers[i].name);
		assert_non_null(m->headers[i].value);
		if (strcmp(m->headers[i].name, "null") == 0) {
			g->null_len = m->headers[i].len;
		}
	}
	return WEIR_OK;
}

weir_err
weir_inlet_flush(weir_inlet *in)
{
	in->flushes++;
	return in->flush_fail;
}

/* ------------------------------------------------------------------ */
/* Fixture: a mock cluster, a config                                   */
/* ------------------------------------------------------------------ */

typedef struct ffm {
	rd_kafka_t              *owner;
	rd_kafka_mock_cluster_t *mc;
	char                     bootstrap[256];
	char                     topic[96];
} ffm;

static void
ffm_open(ffm *m, int partitions)
{
	char             err[256];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	rd_kafka_conf_set(c, "log_level", "0", err, sizeof err);
	m->owner = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
	assert_non_null(m->owner);
	m->mc = rd_kafka_mock_cluster_new(m->owner, 1);
	assert_non_null(m->mc);
	snprintf(m->bootstrap, sizeof m->bootstrap, "%s",
	    rd_kafka_mock_cluster_bootstraps(m->mc));
	bk_unique(m->topic, sizeof m->topic, "weir-fault-");
	assert_int_equal(
	    rd_kafka_mock_topic_create(m->mc, m->topic, partitions, 1),
	    RD_KAFKA_RESP_ERR_NO_ERROR);
}

static void
ffm_close(ffm *m)
{
	rd_kafka_mock_cluster_destroy(m->mc);
	rd_kafka_destroy(m->owner);
}

/* A config of NULL-terminated key, value pairs. */
static weir_bridge_config *
ff_cfg(const char *const *kv)
{
	weir_bridge_config *cfg;
	assert_weir_ok(weir_bridge_config_create(&cfg));
	for (; kv != NULL && kv[0] != NULL; kv += 2) {
		assert_weir_ok(weir_bridge_config_set_str(cfg, kv[0], kv[1]));
	}
	return cfg;
}

/* Produces @p n messages to partition @p part of the mock cluster's
 * topic with a plain producer: payload "<i>"; headers: @p nh headers
 * "h<j>" and, with @p null_header, a header "null" without a value. */
static void
ffm_produce(ffm *m, int32_t part, size_t n, size_t nh, int null_header)
{
	char             err[256];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	rd_kafka_t      *rk;
	__real_rd_kafka_conf_set(
	    c, "bootstrap.servers", m->bootstrap, err, sizeof err);
	rk = __real_rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
	assert_non_null(rk);
	for (size_t i = 0; i < n; i++) {
		char                v[24];
		rd_kafka_headers_t *h = rd_kafka_headers_new(nh + 1);
		snprintf(v, sizeof v, "%zu", i);
		for (size_t j = 0; j < nh; j++) {
			char name[24];
			snprintf(name, sizeof name, "h%zu", j);
			rd_kafka_header_add(h, name, -1, "v", 1);
		}
		if (null_header) {
			rd_kafka_header_add(h, "null", -1, NULL, 0);
		}
		assert_int_equal(
		    rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(m->topic),
		        RD_KAFKA_V_PARTITION(part),
		        RD_KAFKA_V_VALUE(v, strlen(v)),
		        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		        RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END),
		    RD_KAFKA_RESP_ERR_NO_ERROR);
	}
	assert_int_equal(
	    rd_kafka_flush(rk, KF_DEADLINE_MS), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_destroy(rk);
}

/* ------------------------------------------------------------------ */
/* The producer: the "kafka" backend                                   */
/* ------------------------------------------------------------------ */

typedef struct ffp {
	ffm                 m;
	weir_bridge_config *cfg;
	kafka               k;
	weir_sink           sink;
	weir_event         *ev;
	weir_bridge_msg     msg;
	char                big[4096];
} ffp;

/* A backend over the mock cluster, with @p extra key, value pairs;
 * started when @p start. */
static void
ffp_open(ffp *p, const char *const *extra, int start)
{
	const char *kv[24] = { "kafka.bootstrap.servers", NULL,
		"kafka.log_level", "0", "kafka.weir.connect.timeout.ms",
		"10000" };
	size_t      n      = 6;
	memset(p, 0, sizeof *p);
	ffm_open(&p->m, 1);
	kv[1] = p->m.bootstrap;
	for (; extra != NULL && *extra != NULL && n < 22; extra++) {
		kv[n++] = *extra;
	}
	kv[n]  = NULL;
	p->cfg = ff_cfg(kv);
	assert_weir_ok(kafka_ops.init(&p->k, p->cfg, &p->sink));
	if (start) {
		assert_weir_ok(kafka_ops.start(&p->k));
	}
	weir_header     hs[2] = { { "a", "1", 1 }, { "b", "2", 1 } };
	weir_event_init ei    = { .size = sizeof ei,
		   .topic               = "orders.created",
		   .payload             = "{}",
		   .payload_len         = 2,
		   .headers             = hs,
		   .header_count        = 2 };
	assert_weir_ok(weir_event_new(&p->ev, &ei));
	p->msg = (weir_bridge_msg) { .size = sizeof p->msg,
		.ev                        = p->ev,
		.dest                      = p->m.topic,
		.key                       = "k",
		.key_len                   = 1,
		.token                     = 1 };
}

static void
ffp_close(ffp *p)
{
	kafka_ops.fini(&p->k);
	weir_event_release(p->ev);
	weir_bridge_config_destroy(p->cfg);
	ffm_close(&p->m);
}

/* Polls until the sink holds @p n acks. */
static void
ffp_wait_acks(ffp *p, size_t n)
{
	int64_t end = wt_now_ms() + KF_DEADLINE_MS;
	while (p->sink.n < n) {
		if (wt_now_ms() > end) {
			fail_msg(
			    "waited for %zu acks, have %zu", n, p->sink.n);
		}
		kafka_ops.poll(&p->k, 50);
	}
}

/* The backend's contract on bad calls and the order of its life:
 * init's arguments, publish before start and after stop, publish of an
 * incomplete message, start twice, fini after a failed init, an event
 * without a seq or a source (ce_source "weir", no weir-seq). */
static void
test_sink_contract(void **state)
{
	(void) state;
	ffp p;
	ffp_open(&p, NULL, 0);
	assert_weir_err(kafka_ops.init(NULL, p.cfg, &p.sink), WEIR_EINVAL);
	kafka k2 = { 0 };
	assert_weir_err(kafka_ops.init(&k2, NULL, &p.sink), WEIR_EINVAL);
	assert_weir_err(kafka_ops.init(&k2, p.cfg, NULL), WEIR_EINVAL);
	kafka_ops.fini(&k2); /* never initialised: nothing to do */
	/* Not started: poll serves nothing, publish is refused. */
	kafka_ops.poll(&p.k, 0);
	assert_weir_err(kafka_ops.publish(&p.k, &p.msg), WEIR_ECLOSED);
	assert_int_equal(p.sink.n, 0);
	assert_weir_ok(kafka_ops.start(&p.k));
	assert_weir_err(kafka_ops.start(&p.k), WEIR_EBUSY);
	weir_bridge_msg bad = p.msg;
	assert_weir_err(kafka_ops.publish(&p.k, NULL), WEIR_EINVAL);
	bad.size = sizeof bad - 1;
	assert_weir_err(kafka_ops.publish(&p.k, &bad), WEIR_EINVAL);
	bad    = p.msg;
	bad.ev = NULL;
	assert_weir_err(kafka_ops.publish(&p.k, &bad), WEIR_EINVAL);
	bad      = p.msg;
	bad.dest = NULL;
	assert_weir_err(kafka_ops.publish(&p.k, &bad), WEIR_EINVAL);
	/* seq 0 and no source: acknowledged. */
	assert_weir_ok(kafka_ops.publish(&p.k, &p.msg));
	ffp_wait_acks(&p, 1);
	assert_int_equal(p.sink.token[0], 1);
	assert_weir_ok(p.sink.result[0]);
	kafka_ops.stop(&p.k);
	assert_weir_err(kafka_ops.publish(&p.k, &p.msg), WEIR_ECLOSED);
	ffp_close(&p);
}

/* A record the local queue has no room for: WEIR_EAGAIN, and no ack
 * follows for it (only for the one queued). */
static void
test_sink_queue_full(void **state)
{
	(void) state;
	ffp         p;
	const char *extra[] = { "kafka.queue.buffering.max.messages", "1",
		"kafka.linger.ms", "60000", NULL };
	ffp_open(&p, extra, 1);
	assert_weir_ok(kafka_ops.publish(&p.k, &p.msg));
	p.msg.token = 2;
	assert_weir_err(kafka_ops.publish(&p.k, &p.msg), WEIR_EAGAIN);
	kafka_ops.stop(&p.k); /* flushes the one queued */
	assert_int_equal(p.sink.n, 1);
	assert_int_equal(p.sink.token[0], 1);
	assert_weir_ok(p.sink.result[0]);
	ffp_close(&p);
}

/* A record above the producer's message.max.bytes is refused in
 * producev: taken (WEIR_OK) and acknowledged permanent on the next poll,
 * with the reason; with no memory to remember it, WEIR_ENOMEM and no
 * ack. */
static void
test_sink_refused_permanent(void **state)
{
	(void) state;
	ffp         p;
	const char *extra[] = { "kafka.message.max.bytes", "1000", NULL };
	ffp_open(&p, extra, 1);
	memset(p.big, 'x', sizeof p.big);
	weir_event     *big;
	weir_event_init ei = { .size = sizeof ei,
		.topic               = "orders.created",
		.payload             = p.big,
		.payload_len         = sizeof p.big };
	assert_weir_ok(weir_event_new(&big, &ei));
	p.msg.ev    = big;
	p.msg.token = 7;
	assert_weir_ok(weir_set_allocator(&fi_alloc));
	long live = live_allocs;
	fi_arm(1);
	assert_weir_err(kafka_ops.publish(&p.k, &p.msg), WEIR_ENOMEM);
	fi_arm(0);
	assert_int_equal(live_allocs, live);
	assert_weir_ok(kafka_ops.publish(&p.k, &p.msg));
	ffp_wait_acks(&p, 1);
	assert_int_equal(p.sink.token[0], 7);
	assert_weir_err(p.sink.result[0], WEIR_EBACKEND);
	assert_int_equal(p.sink.retriable[0], 0);
	print_message("%s\n", p.sink.reason[0]);
	assert_non_null(strstr(p.sink.reason[0], "MSG_SIZE_TOO_LARGE"));
	/* A refusal taken while stop() runs (publish passed its check
	 * before): once stopped, it is freed without an ack. */
	kafka_ops.stop(&p.k);
	assert_weir_ok(
	    kafka_refuse(&p.k, 8, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE));
	assert_int_equal(live_allocs, live + 1);
	/* A delivery report served after stop() is not acknowledged. */
	rd_kafka_message_t late = { .err = RD_KAFKA_RESP_ERR_NO_ERROR,
		._private                = (void *) (uintptr_t) 9 };
	kafka_on_delivery(p.k.rk, &late, &p.k);
	kafka_ops.fini(&p.k);
	assert_int_equal(live_allocs, live);
	assert_int_equal(p.sink.n, 1);
	memset(&p.k, 0, sizeof p.k); /* ffp_close's fini: nothing left */
	weir_set_allocator(NULL);
	weir_event_release(big);
	ffp_close(&p);
}

/* producev refuses with an error that may pass later (a transactional
 * producer outside a transaction: __STATE): WEIR_EBACKEND at once,
 * errmsg names the error, and no ack follows. */
static void
test_sink_refused_retriable(void **state)
{
	(void) state;
	ffp         p;
	const char *extra[] = { "kafka.transactional.id", "weir-fault-tx",
		NULL };
	ffp_open(&p, extra, 1);
	assert_weir_err(kafka_ops.publish(&p.k, &p.msg), WEIR_EBACKEND);
	print_message("%s\n", kafka_ops.errmsg(&p.k));
	assert_non_null(strstr(kafka_ops.errmsg(&p.k), "kafka: producev:"));
	assert_non_null(strstr(kafka_ops.errmsg(&p.k), "_STATE"));
	kafka_ops.poll(&p.k, 0);
	assert_int_equal(p.sink.n, 0);
	ffp_close(&p);
}

/* A fatal producer error (librdkafka's test hook raises one): publish
 * gives WEIR_EBACKEND, errmsg says to start again and quotes the cause;
 * stop and start make a fresh producer that delivers. */
static void
test_sink_fatal(void **state)
{
	(void) state;
	ffp p;
	ffp_open(&p, NULL, 1);
	assert_int_equal(
	    rd_kafka_test_fatal_error(p.k.rk,
	        RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, "injected"),
	    RD_KAFKA_RESP_ERR_NO_ERROR);
	assert_weir_err(kafka_ops.publish(&p.k, &p.msg), WEIR_EBACKEND);
	print_message("%s\n", kafka_ops.errmsg(&p.k));
	assert_non_null(strstr(kafka_ops.errmsg(&p.k), "failed for good"));
	assert_non_null(strstr(kafka_ops.errmsg(&p.k), "injected"));
	kafka_ops.stop(&p.k);
	assert_weir_ok(kafka_ops.start(&p.k));
	assert_weir_ok(kafka_ops.publish(&p.k, &p.msg));
	ffp_wait_acks(&p, 1);
	assert_weir_ok(p.sink.result[0]);
	ffp_close(&p);
}

/* init with @p kv fails with @p want; errmsg holds @p text; the state is
 * left with nothing to free (fini is a no-op). */
static void
ff_init_refused(const char *const *kv, weir_err want, const char *text)
{
	weir_bridge_config *cfg = ff_cfg(kv);
	kafka               k   = { 0 };
	weir_sink           s   = { 0 };
	assert_weir_err(kafka_ops.init(&k, cfg, &s), want);
	print_message("%s\n", k.b.errmsg);
	assert_non_null(strstr(k.b.errmsg, text));
	assert_null(k.b.conf);
	kafka_ops.fini(&k);
	weir_bridge_config_destroy(cfg);
}

/* The "kafka.*" keys: bad values of the backend's own settings, values
 * librdkafka refuses (a quoted value is blanked: short ones with '*'),
 * a default librdkafka refuses, and no bootstrap.servers unless the
 * built-in mock cluster is asked for. */
static void
test_config_errors(void **state)
{
	(void) state;
	static const char *const bad_ms[] = { "abc", "12x", "", "-1",
		"3600001" };
	for (size_t i = 0; i < sizeof bad_ms / sizeof bad_ms[0]; i++) {
		const char *kv[] = { "kafka.bootstrap.servers", "127.0.0.1:1",
			"kafka.weir.stop.timeout.ms", bad_ms[i], NULL };
		ff_init_refused(kv, WEIR_EINVAL,
		    "kafka.weir.stop.timeout.ms: not a number");
	}
	const char *shortv[] = { "kafka.bootstrap.servers", "127.0.0.1:1",
		"kafka.compression.codec", "zzz", NULL };
	ff_init_refused(shortv, WEIR_EINVAL, "\"***\"");
	const char *empty[] = { "kafka.bootstrap.servers", "127.0.0.1:1",
		"kafka.acks", "", NULL };
	ff_init_refused(empty, WEIR_EINVAL, "kafka.acks:");
	/* A default of the backend that this librdkafka refuses. */
	ff.conf_set         = "message.timeout.ms";
	const char *plain[] = { "kafka.bootstrap.servers", "127.0.0.1:1",
		NULL };
	ff_init_refused(
	    plain, WEIR_ENOTSUP, "librdkafka refuses message.timeout.ms=0");
	ff.conf_set = NULL;
	/* A guarantee librdkafka cannot read back is not assumed. */
	ff.conf_get     = "acks";
	ff.conf_get_res = RD_KAFKA_CONF_UNKNOWN;
	ff_init_refused(plain, WEIR_EINVAL, "kafka.acks: the kafka backend");
	ff.conf_get = "bootstrap.servers";
	ff_init_refused(
	    plain, WEIR_EINVAL, "kafka.bootstrap.servers: not set");
	ff.conf_get = NULL;
	/* An empty value: librdkafka 2.0 reads it back as unset; another
	 * may read it back as "". Not set either way. */
	const char *blank[] = { "kafka.bootstrap.servers", "", NULL };
	ff_init_refused(
	    blank, WEIR_EINVAL, "kafka.bootstrap.servers: not set");
	ff.conf_get     = "bootstrap.servers";
	ff.conf_get_res = RD_KAFKA_CONF_OK;
	ff_init_refused(
	    plain, WEIR_EINVAL, "kafka.bootstrap.servers: not set");
	ff.conf_get = NULL;
	/* No bootstrap.servers, but librdkafka's built-in mock cluster. */
	const char         *mock[] = { "kafka.test.mock.num.brokers", "1",
		        "kafka.log_level", "0", NULL };
	weir_bridge_config *cfg    = ff_cfg(mock);
	kafka               k      = { 0 };
	weir_sink           s      = { 0 };
	assert_weir_ok(kafka_ops.init(&k, cfg, &s));
	assert_weir_ok(kafka_ops.start(&k));
	kafka_ops.fini(&k);
	weir_bridge_config_destroy(cfg);
}

/* start() when librdkafka cannot make the client (either kind) names
 * the kind and the cause; when no broker answers, the error quotes
 * kafka.bootstrap.servers, even a list too long to quote in full. */
static void
test_connect_errors(void **state)
{
	(void) state;
	char        list[600] = "";
	const char *kv[]      = { "kafka.bootstrap.servers", list,
		     "kafka.weir.connect.timeout.ms", "200", "kafka.log_level", "0",
		     NULL };
	while (strlen(list) < 400) {
		strcat(list, list[0] ? ",127.0.0.1:1" : "127.0.0.1:1");
	}
	weir_bridge_config *cfg = ff_cfg(kv);
	kafka               k   = { 0 };
	weir_sink           s   = { 0 };
	assert_weir_ok(kafka_ops.init(&k, cfg, &s));
	ff.new_client = 1;
	assert_weir_err(kafka_ops.start(&k), WEIR_EINVAL);
	assert_non_null(strstr(k.b.errmsg, "cannot make the producer"));
	assert_non_null(strstr(k.b.errmsg, "injected: no client"));
	assert_weir_err(kafka_ops.start(&k), WEIR_EBACKEND);
	print_message("%s\n", k.b.errmsg);
	assert_non_null(
	    strstr(k.b.errmsg, "kafka.bootstrap.servers=127.0.0.1:1,"));
	/* The list cannot be read back: the option is named all the same. */
	ff.conf_get     = "bootstrap.servers";
	ff.conf_get_res = RD_KAFKA_CONF_UNKNOWN;
	assert_weir_err(kafka_ops.start(&k), WEIR_EBACKEND);
	ff.conf_get = NULL;
	assert_non_null(strstr(k.b.errmsg, "kafka.bootstrap.servers= "));
	kafka_ops.fini(&k);

	kin              c    = { 0 };
	weir_inlet       in   = { 0 };
	weir_source_spec spec = {
		.size = sizeof spec, .route = "r", .from = "t"
	};
	assert_weir_ok(kin_ops.init(&c, cfg, &spec, &in));
	ff.new_client = 1;
	assert_weir_err(kin_ops.start(&c), WEIR_EINVAL);
	assert_non_null(
	    strstr(kin_ops.errmsg(&c), "cannot make the consumer"));
	assert_weir_err(kin_ops.start(&c), WEIR_EBACKEND);
	assert_non_null(strstr(kin_ops.errmsg(&c), "answered"));
	kin_ops.fini(&c);
	weir_bridge_config_destroy(cfg);
}

/* ------------------------------------------------------------------ */
/* The consumer: the "kafka" source                                    */
/* ------------------------------------------------------------------ */

typedef struct ffc {
	ffm                 m;
	weir_bridge_config *cfg;
	weir_source_spec    spec;
	kin                 k;
	weir_inlet          in;
	char                group[96];
	atomic_int          stopped;
} ffc;

static void
ffc_open(ffc *c, int partitions, const char *const *extra)
{
	const char *kv[24] = { "kafka.bootstrap.servers", NULL,
		"kafka.log_level", "0", "kafka.session.timeout.ms", "6000",
		"kafka.heartbeat.interval.ms", "500" };
	size_t      n      = 8;
	memset(c, 0, sizeof *c);
	memset(&ff, 0, sizeof ff);
	ffm_open(&c->m, partitions);
	kv[1] = c->m.bootstrap;
	for (; extra != NULL && *extra != NULL && n < 22; extra++) {
		kv[n++] = *extra;
	}
	kv[n]  = NULL;
	c->cfg = ff_cfg(kv);
	bk_unique(c->group, sizeof c->group, "weir-fault-g");
	c->spec = (weir_source_spec) { .size = sizeof c->spec,
		.route                       = "in",
		.from                        = c->m.topic,
		.group                       = c->group,
		.batch                       = 100 };
	assert_weir_ok(kin_ops.init(&c->k, c->cfg, &c->spec, &c->in));
}

static void
ffc_close(ffc *c)
{
	kin_ops.fini(&c->k);
	weir_bridge_config_destroy(c->cfg);
	ffm_close(&c->m);
}

/* The number of partitions assigned to the consumer now. */
static int
ffc_assigned(ffc *c)
{
	rd_kafka_topic_partition_list_t *l = NULL;
	int                              n;
	assert_int_equal(__real_rd_kafka_assignment(c->k.rk, &l),
	    RD_KAFKA_RESP_ERR_NO_ERROR);
	n = l->cnt;
	rd_kafka_topic_partition_list_destroy(l);
	return n;
}

/* Serves the group (fetch max 0) until the consumer holds partitions. */
static void
ffc_wait_assigned(ffc *c)
{
	int64_t end = wt_now_ms() + KF_DEADLINE_MS;
	while (ffc_assigned(c) == 0) {
		if (wt_now_ms() > end) {
			fail_msg("no assignment within %d ms", KF_DEADLINE_MS);
		}
		assert_weir_ok(kin_ops.fetch(&c->k, 0, 100));
	}
}

/* Fetches until the inlet holds @p n messages; returns the last
 * fetch's result other than WEIR_OK, or WEIR_OK. */
static weir_err
ffc_fetch_until(ffc *c, size_t n, size_t max)
{
	int64_t  end  = wt_now_ms() + KF_DEADLINE_MS;
	weir_err last = WEIR_OK;
	while (c->in.n < n) {
		weir_err e;
		if (wt_now_ms() > end) {
			fail_msg("have %zu messages of %zu", c->in.n, n);
		}
		e = kin_ops.fetch(&c->k, max, 100);
		if (e != WEIR_OK) {
			last = e;
		}
	}
	return last;
}

/* The source's contract on bad calls: init's arguments, topic names,
 * the default group.id, fetch before start, done of an unknown
 * partition, resume without a pause. */
static void
test_source_contract(void **state)
{
	(void) state;
	const char *kv[] = { "kafka.bootstrap.servers", "127.0.0.1:1", NULL };
	weir_bridge_config *cfg  = ff_cfg(kv);
	weir_inlet          in   = { 0 };
	kin                 k    = { 0 };
	weir_source_spec    spec = { .size = sizeof spec, .from = "t" };
	weir_source_spec    bad  = spec;
	assert_weir_err(kin_ops.init(NULL, cfg, &spec, &in), WEIR_EINVAL);
	assert_weir_err(kin_ops.init(&k, NULL, &spec, &in), WEIR_EINVAL);
	assert_weir_err(kin_ops.init(&k, cfg, NULL, &in), WEIR_EINVAL);
	assert_weir_err(kin_ops.init(&k, cfg, &spec, NULL), WEIR_EINVAL);
	bad.size = sizeof bad - 1;
	assert_weir_err(kin_ops.init(&k, cfg, &bad, &in), WEIR_EINVAL);
	bad      = spec;
	bad.from = NULL;
	assert_weir_err(kin_ops.init(&k, cfg, &bad, &in), WEIR_EINVAL);
	kin_ops.fini(&k); /* nothing was made */
	const char *unknown[] = { "kafka.bootstrap.servers", "127.0.0.1:1",
		"kafka.no.such.option", "1", NULL };
	weir_bridge_config *bad_cfg = ff_cfg(unknown);
	assert_weir_err(kin_ops.init(&k, bad_cfg, &spec, &in), WEIR_EINVAL);
	assert_non_null(strstr(kin_ops.errmsg(&k), "kafka.no.such.option"));
	assert_null(k.b.conf);
	weir_bridge_config_destroy(bad_cfg);
	char long_topic[251];
	memset(long_topic, 'a', 250);
	long_topic[250]                = '\0';
	const char *const bad_topics[] = { "", long_topic, "a*b", "a/b" };
	for (size_t i = 0; i < 4; i++) {
		bad.from = bad_topics[i];
		assert_weir_err(kin_ops.init(&k, cfg, &bad, &in), WEIR_EINVAL);
		assert_non_null(
		    strstr(kin_ops.errmsg(&k), "not a Kafka topic"));
	}
	/* The longest name is a name. */
	long_topic[249] = '\0';
	bad.from        = long_topic;
	assert_weir_ok(kin_ops.init(&k, cfg, &bad, &in));
	kin_ops.fini(&k);
	/* group.id: "weir-<route>", or weir-inbound without a route. */
	const struct {
		const char *group, *route, *want;
	} groups[] = { { NULL, NULL, "weir-inbound" }, { "", "r1", "weir-r1" },
		{ "mine", "r1", "mine" } };
	for (size_t i = 0; i < 3; i++) {
		char   got[128];
		size_t n   = sizeof got;
		spec.group = groups[i].group;
		spec.route = groups[i].route;
		assert_weir_ok(kin_ops.init(&k, cfg, &spec, &in));
		assert_int_equal(
		    rd_kafka_conf_get(k.b.conf, "group.id", got, &n),
		    RD_KAFKA_CONF_OK);
		assert_string_equal(got, groups[i].want);
		if (i == 0) {
			/* Not started: fetch is refused, done of a partition
			 * never seen and resume change nothing. */
			assert_weir_err(
			    kin_ops.fetch(&k, 10, 0), WEIR_ECLOSED);
			kin_ops.done(&k, (uint64_t) 5 << KIN_OFFSET_BITS);
			assert_int_equal(k.ndirty, 0);
			kin_ops.pause(&k, 1);
			kin_ops.pause(&k, 0);
			assert_int_equal(k.held, 0);
			kin_ops.stop(&k);
		}
		kin_ops.fini(&k);
	}
	/* librdkafka refuses the group. */
	ff.conf_set = "group.id";
	assert_weir_err(kin_ops.init(&k, cfg, &spec, &in), WEIR_EINVAL);
	ff.conf_set = NULL;
	assert_non_null(strstr(kin_ops.errmsg(&k), "group: injected"));
	assert_null(k.b.conf);
	kin_ops.fini(&k);
	weir_bridge_config_destroy(cfg);
}

/* A message whose partition or offset a token cannot carry is refused
 * (WEIR_ENOTSUP, errmsg says which), never delivered. */
static void
test_source_token_range(void **state)
{
	(void) state;
	kin        k  = { .topic = "t" };
	weir_inlet in = { 0 };
	k.inlet       = &in;
	const struct {
		int32_t part;
		int64_t off;
	} bad[]      = { { -1, 0 }, { KIN_PART_MAX + 1, 0 }, { 0, -1 },
		     { 0, KIN_OFFSET_MAX + 1 } };
	ff.timestamp = 4; /* these messages are not librdkafka's */
	for (size_t i = 0; i < 4; i++) {
		rd_kafka_message_t m = { .partition = bad[i].part,
			.offset                     = bad[i].off };
		assert_weir_err(kin_take(&k, &m), WEIR_ENOTSUP);
		assert_non_null(strstr(k.b.errmsg, "beyond what the kafka"));
	}
	assert_int_equal(in.calls, 0);
	assert_null(k.parts);
	ff.timestamp = 0;
}

/* Fetches (max @p max) until one returns other than WEIR_OK; returns it. */
static weir_err
ffc_fetch_error(ffc *c, size_t max)
{
	int64_t end = wt_now_ms() + KF_DEADLINE_MS;
	for (;;) {
		weir_err e = kin_ops.fetch(&c->k, max, 100);
		if (e != WEIR_OK) {
			return e;
		}
		if (wt_now_ms() > end) {
			fail_msg(
			    "no fetch failed within %d ms", KF_DEADLINE_MS);
		}
	}
}

/* The inlet holds messages 0 .. n-1 of partition 0, in order, from
 * index @p from. */
static void
ffc_check_order(ffc *c, size_t from, size_t n)
{
	assert_int_equal(c->in.n, from + n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(c->in.got[from + i].partition, 0);
		assert_int_equal(c->in.got[from + i].offset, (int64_t) i);
	}
}

/* One partition's messages through every refusal a fetch can meet: a
 * fetch that may deliver nothing (max 0), no memory for the partition's
 * slot, no memory for more than KIN_HEADERS headers, the inlet refusing:
 * each time the message is rewound and comes again, so the inlet gets
 * 0..4 in order, none skipped. Also: a header librdkafka cannot read
 * (name ""), a header without a value (""), a record without a
 * timestamp (ts 0), start twice, and an assignment that fails. */
static void
test_source_refusals(void **state)
{
	(void) state;
	ffc  c;
	long live = live_allocs;
	assert_weir_ok(weir_set_allocator(&fi_alloc));
	ffc_open(&c, 1, NULL);
	ffm_produce(&c.m, 0, 5, KIN_HEADERS + 4, 1);
	ff.inc_assign = 1;
	assert_weir_ok(kin_ops.start(&c.k));
	assert_weir_err(kin_ops.start(&c.k), WEIR_EBUSY);
	ffc_wait_assigned(&c);
	print_message("%s\n", kin_ops.errmsg(&c.k));
	assert_non_null(strstr(kin_ops.errmsg(&c.k), "assigning partitions"));
	assert_non_null(strstr(kin_ops.errmsg(&c.k), "injected assign"));
	/* max 0: a message that comes is sent back. */
	int64_t end = wt_now_ms() + KF_DEADLINE_MS;
	while (ff.seeks == 0 && wt_now_ms() < end) {
		assert_weir_ok(kin_ops.fetch(&c.k, 0, 100));
	}
	assert_true(ff.seeks > 0);
	assert_int_equal(c.in.calls, 0);
	/* No memory for the partition's slot, then for the headers. */
	fi_arm(1);
	assert_weir_err(ffc_fetch_error(&c, 10), WEIR_ENOMEM);
	assert_int_equal(c.k.nparts, 0);
	fi_arm(2);
	assert_weir_err(ffc_fetch_error(&c, 10), WEIR_ENOMEM);
	fi_arm(0);
	assert_int_equal(c.k.nparts, 1);
	assert_int_equal(c.in.calls, 0);
	/* The inlet refuses. */
	c.in.refuse = 1;
	assert_weir_err(ffc_fetch_error(&c, 10), WEIR_EAGAIN);
	assert_int_equal(c.in.n, 0);
	/* Then takes them all: the first with a header librdkafka cannot
	 * read and without a timestamp. */
	ff.header_get = 1;
	ff.timestamp  = 1;
	assert_weir_ok(ffc_fetch_until(&c, 5, 10));
	ffc_check_order(&c, 0, 5);
	assert_string_equal(c.in.got[0].first_name, "");
	assert_int_equal(c.in.got[0].ts, 0);
	assert_string_equal(c.in.got[1].first_name, "h0");
	assert_true(c.in.got[1].ts > 0);
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(c.in.got[i].headers, KIN_HEADERS + 5);
		assert_int_equal(c.in.got[i].null_len, 0);
	}
	/* Rewinding fails: said in errmsg. */
	ffm_produce(&c.m, 0, 1, 0, 0);
	c.in.refuse = c.in.calls + 1;
	ff.seek     = 1;
	assert_weir_err(ffc_fetch_error(&c, 10), WEIR_EAGAIN);
	print_message("%s\n", kin_ops.errmsg(&c.k));
	assert_non_null(strstr(kin_ops.errmsg(&c.k), "rewinding"));
	ffc_close(&c);
	assert_int_equal(live_allocs, live);
	weir_set_allocator(NULL);
}

/* What stop meets: offsets librdkafka will not store, a flush that
 * fails before a revoke, a commit that fails, leaving the group with an
 * error; each is said in errmsg, and a message not committed is
 * delivered again after a restart, never skipped. */
static void
test_source_commit_errors(void **state)
{
	(void) state;
	ffc c;
	ffc_open(&c, 1, NULL);
	ffm_produce(&c.m, 0, 3, 1, 0);
	assert_weir_ok(kin_ops.start(&c.k));
	assert_weir_ok(ffc_fetch_until(&c, 3, 10));
	ffc_check_order(&c, 0, 3);
	for (size_t i = 0; i < 3; i++) {
		kin_ops.done(&c.k, c.in.got[i].token);
	}
	assert_int_equal(c.k.ndirty, 1);
	kin_ops.done(&c.k, c.in.got[0].token); /* older: changes nothing */
	assert_int_equal(c.k.parts[0].next, 3);
	assert_int_equal(c.k.ndirty, 1);
	ff.offsets_store = 1;
	assert_weir_ok(kin_ops.fetch(&c.k, 0, 0));
	assert_non_null(strstr(kin_ops.errmsg(&c.k), "storing offsets"));
	c.in.flush_fail = WEIR_EIO;
	kin_ops.stop(&c.k);
	c.in.flush_fail = WEIR_OK;
	print_message("%s\n", kin_ops.errmsg(&c.k));
	assert_non_null(
	    strstr(kin_ops.errmsg(&c.k), "flushing before a revoke"));
	assert_int_equal(c.in.flushes, 1);
	assert_weir_err(kin_ops.fetch(&c.k, 10, 0), WEIR_ECLOSED);
	/* Nothing was committed: all three come again. */
	assert_weir_ok(kin_ops.start(&c.k));
	assert_weir_ok(ffc_fetch_until(&c, 6, 10));
	ffc_check_order(&c, 3, 3);
	for (size_t i = 3; i < 6; i++) {
		kin_ops.done(&c.k, c.in.got[i].token);
	}
	ff.commit = 1;
	kin_ops.stop(&c.k);
	print_message("%s\n", kin_ops.errmsg(&c.k));
	assert_non_null(strstr(kin_ops.errmsg(&c.k), "committing offsets"));
	/* Leaving the group fails. */
	assert_weir_ok(kin_ops.start(&c.k));
	ffc_wait_assigned(&c);
	ff.close = 1;
	kin_ops.stop(&c.k);
	assert_non_null(strstr(kin_ops.errmsg(&c.k), "leaving group"));
	ffc_close(&c);
}

/* The eager protocol ("range"): assignment and revoke through
 * rd_kafka_assign; an assign that fails is said in errmsg. */
static void
test_source_eager(void **state)
{
	(void) state;
	ffc         c;
	const char *extra[] = { "kafka.partition.assignment.strategy", "range",
		NULL };
	ffc_open(&c, 1, extra);
	ffm_produce(&c.m, 0, 3, 0, 0);
	ff.assign = 1;
	assert_weir_ok(kin_ops.start(&c.k));
	ffc_wait_assigned(&c);
	assert_non_null(strstr(kin_ops.errmsg(&c.k), "assigning partitions"));
	assert_weir_ok(ffc_fetch_until(&c, 3, 10));
	ffc_check_order(&c, 0, 3);
	kin_ops.stop(&c.k);
	assert_int_equal(c.in.flushes, 1);
	ffc_close(&c);
}

/* Waits (serving the route's max-0 fetches) until a pause is older than
 * KIN_HOLD_MS and the partitions are held. */
static void
ffc_wait_held(ffc *c)
{
	int64_t end = wt_now_ms() + KF_DEADLINE_MS;
	while (!c->k.held) {
		if (wt_now_ms() > end) {
			fail_msg("not held within %d ms", KF_DEADLINE_MS);
		}
		assert_weir_ok(kin_ops.fetch(&c->k, 0, 10));
		wt_sleep_ms(10); /* a paused fetch returns at once */
	}
}

/* A long pause: the partitions assigned while it lasts are paused as
 * they come, those assigned before it are paused once it is older than
 * KIN_HOLD_MS; the resume lets every message through in order. */
static void
test_source_hold(void **state)
{
	(void) state;
	ffc c;
	ffc_open(&c, 1, NULL);
	ffm_produce(&c.m, 0, 4, 0, 0);
	assert_weir_ok(kin_ops.start(&c.k));
	kin_ops.pause(&c.k, 1);
	ff.assignment = 1; /* the first hold cannot read the assignment */
	ffc_wait_held(&c);
	assert_int_equal(ff.assignment, 0);
	ffc_wait_assigned(&c);
	assert_true(ff.pauses >= 1); /* paused as assigned */
	assert_int_equal(c.in.calls, 0);
	kin_ops.pause(&c.k, 0);
	assert_int_equal(c.k.held, 0);
	assert_weir_ok(ffc_fetch_until(&c, 2, 2));
	/* Paused with the partition assigned. */
	int pauses = ff.pauses;
	kin_ops.pause(&c.k, 1);
	ffc_wait_held(&c);
	assert_int_equal(ff.pauses, pauses + 1);
	kin_ops.pause(&c.k, 0);
	assert_weir_ok(ffc_fetch_until(&c, 4, 10));
	ffc_check_order(&c, 0, 4);
	ffc_close(&c);
}

/* Consumer errors: the end of a partition is no error; a topic the
 * broker refuses is WEIR_EBACKEND with the cause in errmsg; a subscribe
 * librdkafka refuses fails start, which leaves nothing behind. */
static void
test_source_errors(void **state)
{
	(void) state;
	ffc         c;
	const char *extra[] = { "kafka.enable.partition.eof", "true",
		"kafka.auto.commit.interval.ms", "100", NULL };
	ffc_open(&c, 1, extra);
	ffm_produce(&c.m, 0, 2, 0, 0);
	ff.subscribe = 1;
	assert_weir_err(kin_ops.start(&c.k), WEIR_EBACKEND);
	assert_non_null(strstr(kin_ops.errmsg(&c.k), "cannot subscribe"));
	assert_null(c.k.rk);
	assert_weir_ok(kin_ops.start(&c.k));
	c.k.b.errmsg[0] = '\0';
	assert_weir_ok(ffc_fetch_until(&c, 2, 10));
	/* The partition's end is reported, and is no error. */
	int64_t end = wt_now_ms() + KF_DEADLINE_MS;
	while (ff.eofs == 0 && wt_now_ms() < end) {
		assert_weir_ok(kin_ops.fetch(&c.k, 10, 50));
	}
	assert_true(ff.eofs > 0);
	assert_int_equal(c.k.b.errmsg[0], '\0');
	/* An auto-commit the broker refuses: said, and nothing else. */
	kin_ops.done(&c.k, c.in.got[1].token);
	rd_kafka_mock_push_request_errors(c.m.mc, 8 /* OffsetCommit */, 1,
	    RD_KAFKA_RESP_ERR_OFFSET_METADATA_TOO_LARGE);
	while (strstr(kin_ops.errmsg(&c.k), "commit of") == NULL &&
	    wt_now_ms() < end) {
		assert_weir_ok(kin_ops.fetch(&c.k, 10, 50));
	}
	print_message("%s\n", kin_ops.errmsg(&c.k));
	assert_non_null(strstr(kin_ops.errmsg(&c.k), "commit of"));
	assert_non_null(
	    strstr(kin_ops.errmsg(&c.k), "OFFSET_METADATA_TOO_LARGE"));
	kin_ops.stop(&c.k);
	/* The broker refuses the topic. */
	rd_kafka_mock_topic_set_error(
	    c.m.mc, c.m.topic, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
	assert_weir_ok(kin_ops.start(&c.k));
	assert_weir_err(ffc_fetch_error(&c, 10), WEIR_EBACKEND);
	print_message("%s\n", kin_ops.errmsg(&c.k));
	assert_non_null(strstr(kin_ops.errmsg(&c.k), "kafka: consuming"));
	ffc_close(&c);
}

static void *
ffc_stop_thread(void *arg)
{
	ffc *c = arg;
	kin_ops.stop(&c->k);
	atomic_store(&c->stopped, 1);
	return NULL;
}

/* A fatal consumer error (librdkafka's test hook raises one, as a fenced
 * static member would): fetch gives WEIR_EBACKEND and says to start
 * again; stop returns (it once never did: librdkafka's destroy after
 * consumer_close spun forever), and a start again delivers from the
 * last commit, so nothing is lost. */
static void
test_source_fatal(void **state)
{
	(void) state;
	ffc       c;
	pthread_t th;
	ffc_open(&c, 1, NULL);
	ffm_produce(&c.m, 0, 2, 0, 0);
	assert_weir_ok(kin_ops.start(&c.k));
	assert_weir_ok(ffc_fetch_until(&c, 2, 10));
	assert_int_equal(rd_kafka_test_fatal_error(c.k.rk,
	                     RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID, "injected"),
	    RD_KAFKA_RESP_ERR_NO_ERROR);
	assert_weir_err(ffc_fetch_error(&c, 10), WEIR_EBACKEND);
	print_message("%s\n", kin_ops.errmsg(&c.k));
	assert_non_null(strstr(kin_ops.errmsg(&c.k), "failed for good"));
	assert_non_null(strstr(kin_ops.errmsg(&c.k), "injected"));
	assert_int_equal(pthread_create(&th, NULL, ffc_stop_thread, &c), 0);
	int64_t end = wt_now_ms() + KF_DEADLINE_MS;
	while (!atomic_load(&c.stopped)) {
		if (wt_now_ms() > end) {
			fail_msg("stop after a fatal error did not return "
			         "within %d ms",
			    KF_DEADLINE_MS);
		}
		wt_sleep_ms(10);
	}
	pthread_join(th, NULL);
	assert_null(c.k.rk);
	assert_weir_ok(kin_ops.start(&c.k));
	assert_weir_ok(ffc_fetch_until(&c, 4, 10));
	ffc_check_order(&c, 2, 2);
	ffc_close(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_connect_errors),
		cmocka_unit_test(test_sink_contract),
		cmocka_unit_test(test_sink_queue_full),
		cmocka_unit_test(test_sink_refused_permanent),
		cmocka_unit_test(test_sink_refused_retriable),
		cmocka_unit_test(test_sink_fatal),
		cmocka_unit_test(test_source_contract),
		cmocka_unit_test(test_source_token_range),
		cmocka_unit_test(test_source_refusals),
		cmocka_unit_test(test_source_commit_errors),
		cmocka_unit_test(test_source_eager),
		cmocka_unit_test(test_source_hold),
		cmocka_unit_test(test_source_errors),
		cmocka_unit_test(test_source_fatal),
	};
	if (getenv("KF_ONLY") != NULL) {
		cmocka_set_test_filter(getenv("KF_ONLY"));
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
