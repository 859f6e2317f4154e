// The "kafka" backend and source of weir::bridge: one idempotent
// librdkafka producer per backend instance (outbound routes) and one
// consumer-group member per inbound route. This is the only file of weir
// that includes librdkafka. Three sections: what both share (the
// "kafka.*" keys, the connect wait), the producer, the consumer.
//
// Design notes, producer.
// - Delivery reports are librdkafka's dr_msg_cb, which librdkafka calls
//   only from inside rd_kafka_poll() or rd_kafka_flush(). Both run under
//   poll_mu, so every weir_sink_ack happens with poll_mu held, and stop()
//   ends by setting `silent` under poll_mu: after stop() returns, no sink
//   call can happen (the bridge may free the sink).
// - The token travels as librdkafka's per-message opaque pointer, so a
//   publish allocates nothing of its own (the static assertion below
//   keeps this honest on a platform with 32-bit pointers).
// - A publish that librdkafka refuses at once is either WEIR_EAGAIN
//   (local queue full: nothing was taken), WEIR_EBACKEND (the producer
//   hit a fatal error: start it again), or is taken with WEIR_OK and its
//   failure acknowledged on the next poll(), from a small list, so that
//   the relay learns every other outcome through weir_sink_ack with the
//   same classification as a broker's answer.
// - Order: with idempotence librdkafka writes a partition's records in
//   produce order and never writes one after a later one, unless a
//   record expires (message.timeout.ms) or fails after its retries
//   (message.send.max.retries): it then skips it and goes on with the
//   later ones (librdkafka INTRODUCTION.md, "Message timeout
//   considerations" and the gap-less guarantee). So the default here is
//   no expiry (message.timeout.ms=0; the relay has its own ack timeout,
//   backoff and dead letters; retries are unbounded by librdkafka's
//   default with idempotence), and caps() promises
//   WEIR_BACKEND_CAP_ORDERED only while both hold: the relay then hands
//   over several records of a key at once. A refusal in producev that may pass
//   later is returned at once (WEIR_EBACKEND), so that no later record of the
//   key is handed over before the relay has it back.
// - The configuration is a template built in init(); each start() makes
//   a fresh producer from a copy of it, so start after stop works and
//   is the way out of a fatal producer error.
// - Secrets: values are never formatted into errmsg; when librdkafka's
//   own error text quotes the value it refused, the value is blanked.
//
// Design notes, consumer (the source, weir_source_kafka()).
// - Every consumer call happens on the route's thread (fetch, done,
//   pause, and the rebalance and commit callbacks, which librdkafka runs
//   inside rd_kafka_consumer_poll), or in stop() once that thread no
//   longer calls the source; so the consumer's state has no lock.
// - An offset is committed only after done(): done records offset + 1
//   per partition; fetch hands those to librdkafka's offset store
//   (enable.auto.offset.store=false), and librdkafka's auto-commit
//   commits the stored offsets every auto.commit.interval.ms, but not
//   while the group rebalances (a commit racing a rebalance makes
//   librdkafka 2.0 drop the assignment: its issue 4059). A revoke
//   flushes the inlet (every delivered message becomes durable and
//   done), stores and commits synchronously, and only then lets the
//   partitions go; stop leaves the group, which is such a revoke.
// - A message never overtakes one of its partition that was not taken:
//   a message fetched but not delivered (no room in this fetch, or the
//   inlet refused it) rewinds its partition to it (seek), which also
//   drops what librdkafka had fetched after it.
// - A pause first only stops polling (librdkafka's prefetch queue is
//   bounded and kept); one older than KIN_HOLD_MS pauses the partitions
//   assigned at the time and those assigned while it lasts (paused in
//   the rebalance callback), and polls again to serve the group.

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include <weir/kafka.h>

#include "bridge/cetext.h"
#include "bridge/kafka.h"
#include "core/alloc.h"

_Static_assert(sizeof(void *) >= sizeof(uint64_t),
    "the kafka backend carries the 64-bit token in librdkafka's opaque");

// Defaults of the backend's own settings, "kafka.weir.*".
#define KAFKA_STOP_MS 10000    // stop(): how long to flush
#define KAFKA_CONNECT_MS 10000 // start(): how long to wait for a broker
#define KAFKA_PURGE_MS 5000    // stop(): serving purged messages' reports

// What both clients (the producer and the consumer) take from the
// "kafka.*" keys: librdkafka's configuration, used as a template that
// every start() copies, so start after stop works; the backend's own
// "kafka.weir.*" settings; and the text of the last error.
typedef struct kafka_base {
	rd_kafka_conf_t *conf;
	int              stop_ms;
	int              connect_ms;
	char             errmsg[512];
} kafka_base;

/* ================================================================== */
/* Shared by the producer and the consumer: the "kafka.*" keys         */
/* ================================================================== */

// A setting the bridge's guarantees depend on: the user may pass it
// through, but only with this value.
typedef struct kafka_need {
	const char *name;
	const char *want; // as rd_kafka_conf_get reads it back
	const char *why;
} kafka_need;

static void kafka_fail(kafka_base *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
kafka_fail(kafka_base *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b->errmsg, sizeof(b->errmsg), fmt, ap);
	va_end(ap);
}

// Blanks every occurrence of @p value in @p text: librdkafka's message
// for a refused value quotes it, and it may be a password.
static void
kafka_redact(char *text, const char *value)
{
	size_t n = strlen(value);
	char  *p;
	if (n == 0) {
		return;
	}
	while ((p = strstr(text, value)) != NULL) {
		static const char mark[] = "(redacted)";
		size_t            tail   = strlen(p + n) + 1;
		if (n >= sizeof(mark) - 1) {
			memcpy(p, mark, sizeof(mark) - 1);
			memmove(p + sizeof(mark) - 1, p + n, tail);
		} else {
			memset(p, '*', n);
		}
	}
}

// The backend's own settings, "kafka.weir.<name>". Producer and consumer
// share the bridge's config, so each accepts the other's settings too.
static weir_err
kafka_conf_own(kafka_base *b, const char *name, const char *value)
{
	char *end;
	long  ms = strtol(value, &end, 10);
	int  *slot;
	if (strcmp(name, "stop.timeout.ms") == 0) {
		slot = &b->stop_ms;
	} else if (strcmp(name, "connect.timeout.ms") == 0) {
		slot = &b->connect_ms;
	} else {
		kafka_fail(b,
		    "kafka.weir.%s: no such setting of the kafka "
		    "backend (stop.timeout.ms, connect.timeout.ms)",
		    name);
		return WEIR_EINVAL;
	}
	if (end == value || *end != '\0' || ms < 0 || ms > 3600000) {
		kafka_fail(b,
		    "kafka.weir.%s: not a number of milliseconds "
		    "in 0..3600000",
		    name);
		return WEIR_EINVAL;
	}
	*slot = (int) ms;
	return WEIR_OK;
}

// weir_bridge_config_each callback: one "kafka.*" key.
static weir_err
kafka_conf_one(const char *key, const char *value, void *arg)
{
	kafka_base *b    = arg;
	const char *name = key + 6; // config_each passes only "kafka.*"
	char        errstr[512];
	if (strncmp(name, "weir.", 5) == 0) {
		return kafka_conf_own(b, name + 5, value);
	}
	if (rd_kafka_conf_set(b->conf, name, value, errstr, sizeof(errstr)) !=
	    RD_KAFKA_CONF_OK) {
		kafka_redact(errstr, value);
		kafka_fail(b, "kafka.%s: %s", name, errstr);
		return WEIR_EINVAL;
	}
	return WEIR_OK;
}

// True when property @p name of the template reads @p want.
static int
kafka_conf_is(kafka_base *b, const char *name, const char *want)
{
	char   buf[64];
	size_t n = sizeof(buf);
	return rd_kafka_conf_get(b->conf, name, buf, &n) == RD_KAFKA_CONF_OK &&
	    strcmp(buf, want) == 0;
}

// True when property @p name of the template has a non-empty value.
static int
kafka_conf_set(kafka_base *b, const char *name)
{
	char   buf[8];
	size_t n = sizeof(buf);
	// n becomes the value's full size, even when buf is too small
	// (rd_kafka_conf_get answers only OK or UNKNOWN).
	return rd_kafka_conf_get(b->conf, name, buf, &n) == RD_KAFKA_CONF_OK &&
	    n > 1;
}

// What the bridge's guarantees need, whatever the user passed through.
static weir_err
kafka_conf_check(kafka_base *b, const kafka_need *needs)
{
	for (; needs->name != NULL; needs++) {
		if (!kafka_conf_is(b, needs->name, needs->want)) {
			kafka_fail(b, "kafka.%s: %s", needs->name, needs->why);
			return WEIR_EINVAL;
		}
	}
	if (!kafka_conf_set(b, "bootstrap.servers") &&
	    kafka_conf_is(b, "test.mock.num.brokers", "0")) {
		kafka_fail(b, "kafka.bootstrap.servers: not set");
		return WEIR_EINVAL;
	}
	return WEIR_OK;
}

// Builds the template: @p defaults (NULL-terminated name, value pairs),
// then every "kafka.*" key of @p cfg, then checks @p needs. On error
// nothing is left to free.
static weir_err
kafka_base_build(kafka_base *b, const weir_bridge_config *cfg,
    const char *const *defaults, const kafka_need *needs)
{
	char     errstr[512];
	weir_err e    = WEIR_OK;
	b->stop_ms    = KAFKA_STOP_MS;
	b->connect_ms = KAFKA_CONNECT_MS;
	b->conf       = rd_kafka_conf_new();
	for (; e == WEIR_OK && defaults[0] != NULL; defaults += 2) {
		if (rd_kafka_conf_set(b->conf, defaults[0], defaults[1],
		        errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
			kafka_fail(b, "kafka: librdkafka refuses %s=%s: %s",
			    defaults[0], defaults[1], errstr);
			e = WEIR_ENOTSUP;
		}
	}
	if (e == WEIR_OK) {
		e = weir_bridge_config_each(cfg, "kafka.", kafka_conf_one, b);
	}
	if (e == WEIR_OK) {
		e = kafka_conf_check(b, needs);
	}
	if (e != WEIR_OK) {
		rd_kafka_conf_destroy(b->conf);
		b->conf = NULL;
	}
	return e;
}

// Makes a client of @p type from the template and waits until a broker
// answers a metadata request, so that an unreachable cluster is an
// error of start() rather than a silent backlog or a silent wait.
static weir_err
kafka_base_connect(kafka_base *b, rd_kafka_type_t type, rd_kafka_t **out)
{
	char             errstr[512], servers[256];
	size_t           n  = sizeof(servers);
	rd_kafka_conf_t *c  = rd_kafka_conf_dup(b->conf);
	rd_kafka_t      *rk = rd_kafka_new(type, c, errstr, sizeof(errstr));
	const struct rd_kafka_metadata *md;
	rd_kafka_resp_err_t             err;
	if (rk == NULL) {
		rd_kafka_conf_destroy(c);
		kafka_fail(b, "kafka: cannot make the %s: %s",
		    type == RD_KAFKA_PRODUCER ? "producer" : "consumer",
		    errstr);
		return WEIR_EINVAL;
	}
	err = rd_kafka_metadata(rk, 0, NULL, &md, b->connect_ms);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		if (rd_kafka_conf_get(b->conf, "bootstrap.servers", servers,
		        &n) != RD_KAFKA_CONF_OK) {
			servers[0] = '\0';
		}
		kafka_fail(b,
		    "kafka: no broker of kafka.bootstrap.servers=%s answered "
		    "within %d ms: %s",
		    servers, b->connect_ms, rd_kafka_err2str(err));
		rd_kafka_destroy(rk);
		return WEIR_EBACKEND;
	}
	rd_kafka_metadata_destroy(md);
	*out = rk;
	return WEIR_OK;
}

/* ================================================================== */
/* The producer: the "kafka" backend of outbound routes               */
/* ================================================================== */

// One publish that librdkafka refused in producev; acknowledged later.
typedef struct kafka_refusal {
	struct kafka_refusal *next;
	uint64_t              token;
	rd_kafka_resp_err_t   err;
} kafka_refusal;

typedef struct kafka {
	kafka_base      b; // configuration template, settings, errmsg
	rd_kafka_t     *rk;
	weir_sink      *sink;
	atomic_int      closing; // publish refuses from stop() on
	int             silent;  // no sink call any more (under poll_mu)
	int             ordered; // records never expire: caps() says so
	pthread_mutex_t poll_mu;
	pthread_mutex_t refused_mu;
	kafka_refusal  *refused;
	kafka_refusal **refused_tail;
} kafka;

// How an error code ends up at the relay. The classification table of
// docs/bridge.md (section Kafka) is this table; keep them in step.
// R(code) and P(code) paste code onto RD_KAFKA_RESP_ERR: broker codes
// read _NAME, librdkafka's local ones __NAME, as in rdkafka.h.
// Codes not listed are retriable: a retry is never a loss, and the
// relay's bounded retries still end in a dead letter.
typedef struct kafka_class {
	rd_kafka_resp_err_t err;
	int                 retriable;
	weir_err            result;
} kafka_class;

#define R(code, res)                                   \
	{                                              \
		RD_KAFKA_RESP_ERR##code, 1, WEIR_##res \
	}
#define P(code)                                           \
	{                                                 \
		RD_KAFKA_RESP_ERR##code, 0, WEIR_EBACKEND \
	}
static const kafka_class kafka_classes[] = {
	// Retriable: the record may be accepted later as it is.
	R(__MSG_TIMED_OUT, ETIMEDOUT),
	R(__TIMED_OUT, ETIMEDOUT),
	R(__TIMED_OUT_QUEUE, ETIMEDOUT),
	R(_REQUEST_TIMED_OUT, ETIMEDOUT),
	R(__TRANSPORT, EBACKEND),
	R(__ALL_BROKERS_DOWN, EBACKEND),
	R(__RESOLVE, EBACKEND),
	R(__QUEUE_FULL, EAGAIN),
	R(__PURGE_QUEUE, ECLOSED),
	R(__PURGE_INFLIGHT, ECLOSED),
	R(__FATAL, EBACKEND),
	R(__RETRY, EBACKEND),
	R(_NETWORK_EXCEPTION, EBACKEND),
	R(_LEADER_NOT_AVAILABLE, EBACKEND),
	R(_NOT_LEADER_FOR_PARTITION, EBACKEND),
	R(_BROKER_NOT_AVAILABLE, EBACKEND),
	R(_REPLICA_NOT_AVAILABLE, EBACKEND),
	R(_NOT_ENOUGH_REPLICAS, EBACKEND),
	R(_NOT_ENOUGH_REPLICAS_AFTER_APPEND, EBACKEND),
	R(_KAFKA_STORAGE_ERROR, EBACKEND),
	R(_FENCED_LEADER_EPOCH, EBACKEND),
	R(_UNKNOWN_LEADER_EPOCH, EBACKEND),
	R(_OUT_OF_ORDER_SEQUENCE_NUMBER, EBACKEND),
	R(_UNKNOWN_PRODUCER_ID, EBACKEND),
	R(_INVALID_PRODUCER_EPOCH, EBACKEND),
	R(_COORDINATOR_LOAD_IN_PROGRESS, EBACKEND),
	R(_THROTTLING_QUOTA_EXCEEDED, EBACKEND),
	R(_INVALID_MSG, EBACKEND), // a CRC mismatch on the way: resend
	// Permanent: the same record will be refused again.
	P(_MSG_SIZE_TOO_LARGE),
	P(_INVALID_MSG_SIZE),
	P(_RECORD_LIST_TOO_LARGE),
	P(_INVALID_RECORD),
	P(_INVALID_TIMESTAMP),
	P(_UNSUPPORTED_FOR_MESSAGE_FORMAT),
	P(_POLICY_VIOLATION),
	P(_UNKNOWN_TOPIC_OR_PART),
	P(__UNKNOWN_TOPIC),
	P(__UNKNOWN_PARTITION),
	P(_TOPIC_EXCEPTION),
	P(_TOPIC_AUTHORIZATION_FAILED),
	P(_CLUSTER_AUTHORIZATION_FAILED),
	P(_TRANSACTIONAL_ID_AUTHORIZATION_FAILED),
	P(_SASL_AUTHENTICATION_FAILED),
	P(__AUTHENTICATION),
	P(_INVALID_REQUIRED_ACKS),
	P(_UNSUPPORTED_VERSION),
	P(__INVALID_ARG),
	P(__BAD_MSG),
	P(__KEY_SERIALIZATION),
	P(__VALUE_SERIALIZATION),
};
#undef R
#undef P

static kafka_class
kafka_classify(rd_kafka_resp_err_t err)
{
	size_t      n    = sizeof(kafka_classes) / sizeof(kafka_classes[0]);
	kafka_class dflt = { err, 1, WEIR_EBACKEND };
	for (size_t i = 0; i < n; i++) {
		if (kafka_classes[i].err == err) {
			return kafka_classes[i];
		}
	}
	return dflt;
}

weir_err
weir__kafka_classify(int code, int *retriable)
{
	kafka_class c = kafka_classify((rd_kafka_resp_err_t) code);
	*retriable    = c.retriable;
	return c.result;
}

static void
kafka_ack(kafka *k, uint64_t token, rd_kafka_resp_err_t err)
{
	char        reason[512];
	kafka_class c;
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		weir_sink_ack(k->sink, token, WEIR_OK, 0, NULL);
		return;
	}
	c = kafka_classify(err);
	snprintf(reason, sizeof(reason), "%s (%s)", rd_kafka_err2str(err),
	    rd_kafka_err2name(err));
	weir_sink_ack(k->sink, token, c.result, c.retriable, reason);
}

// dr_msg_cb: called by librdkafka inside rd_kafka_poll/flush, which this
// file calls only with poll_mu held.
static void
kafka_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *arg)
{
	kafka *k = arg;
	(void) rk;
	if (k->silent) {
		return;
	}
	// Not rd_kafka_message_errstr(): librdkafka says it is for the
	// consumer; the produce path's text is err2str's.
	kafka_ack(k, (uint64_t) (uintptr_t) m->_private, m->err);
}

// Acknowledges the refused publishes (poll_mu held).
static void
kafka_serve_refused(kafka *k)
{
	kafka_refusal *r;
	pthread_mutex_lock(&k->refused_mu);
	r               = k->refused;
	k->refused      = NULL;
	k->refused_tail = &k->refused;
	pthread_mutex_unlock(&k->refused_mu);
	while (r != NULL) {
		kafka_refusal *next = r->next;
		if (!k->silent) {
			kafka_ack(k, r->token, r->err);
		}
		weir__free(r);
		r = next;
	}
}

static weir_err
kafka_conf_build(kafka *k, const weir_bridge_config *cfg)
{
	static const char *const defaults[] = { "enable.idempotence", "true",
		"acks", "all", "message.timeout.ms", "0", NULL };
	static const kafka_need  needs[]    = {
		    { "enable.idempotence", "true",
		        "the kafka backend needs true (no loss, no duplicates)" },
		    { "acks", "-1", "the kafka backend needs all (-1)" },
		    { NULL, NULL, NULL },
	};
	weir_err e = kafka_base_build(&k->b, cfg, defaults, needs);
	if (e == WEIR_OK) {
		rd_kafka_conf_set_dr_msg_cb(k->b.conf, kafka_on_delivery);
		rd_kafka_conf_set_opaque(k->b.conf, k);
		k->ordered = kafka_conf_is(&k->b, "message.timeout.ms", "0") &&
		    kafka_conf_is(
		        &k->b, "message.send.max.retries", "2147483647");
	}
	return e;
}

static weir_err
kafka_init(void *state, const weir_bridge_config *cfg, weir_sink *sink)
{
	kafka   *k = state;
	weir_err e;
	if (k == NULL || cfg == NULL || sink == NULL) {
		return WEIR_EINVAL;
	}
	k->sink         = sink;
	k->refused_tail = &k->refused;
	k->silent       = 1;
	atomic_init(&k->closing, 1);
	pthread_mutex_init(&k->poll_mu, NULL);
	pthread_mutex_init(&k->refused_mu, NULL);
	e = kafka_conf_build(k, cfg);
	if (e != WEIR_OK) {
		pthread_mutex_destroy(&k->poll_mu);
		pthread_mutex_destroy(&k->refused_mu);
	}
	return e;
}

static weir_err
kafka_start(void *state)
{
	kafka   *k = state;
	weir_err e;
	if (k->rk != NULL) {
		if (!k->silent) {
			return WEIR_EBUSY; // started and not stopped
		}
		rd_kafka_destroy(k->rk);
		k->rk = NULL;
	}
	e = kafka_base_connect(&k->b, RD_KAFKA_PRODUCER, &k->rk);
	if (e == WEIR_OK) {
		k->silent = 0;
		atomic_store(&k->closing, 0);
	}
	return e;
}

static void
kafka_stop(void *state)
{
	kafka *k = state;
	if (k->rk == NULL) {
		return;
	}
	atomic_store(&k->closing, 1);
	rd_kafka_yield(k->rk); // a poll() in progress returns sooner
	pthread_mutex_lock(&k->poll_mu);
	if (!k->silent) {
		kafka_serve_refused(k);
		if (rd_kafka_flush(k->rk, k->b.stop_ms) !=
		    RD_KAFKA_RESP_ERR_NO_ERROR) {
			// Past the deadline: whatever is left fails with
			// __PURGE_*, acknowledged as retriable right here.
			rd_kafka_purge(k->rk,
			    RD_KAFKA_PURGE_F_QUEUE |
			        RD_KAFKA_PURGE_F_INFLIGHT);
			rd_kafka_flush(k->rk, KAFKA_PURGE_MS);
		}
		k->silent = 1;
	}
	pthread_mutex_unlock(&k->poll_mu);
}

static void
kafka_fini(void *state)
{
	kafka *k = state;
	if (k->b.conf == NULL) {
		return; // init failed or never ran
	}
	kafka_stop(k);
	if (k->rk != NULL) {
		rd_kafka_destroy(k->rk);
		k->rk = NULL;
	}
	kafka_serve_refused(k); // frees; silent, so no ack
	rd_kafka_conf_destroy(k->b.conf);
	k->b.conf = NULL;
	pthread_mutex_destroy(&k->poll_mu);
	pthread_mutex_destroy(&k->refused_mu);
}

static void
kafka_poll(void *state, int timeout_ms)
{
	kafka *k = state;
	pthread_mutex_lock(&k->poll_mu);
	if (!k->silent) { // started (so k->rk is set) and not stopped
		kafka_serve_refused(k);
		rd_kafka_poll(k->rk, timeout_ms < 0 ? 0 : timeout_ms);
	}
	pthread_mutex_unlock(&k->poll_mu);
}

// The CloudEvents 1.0 Kafka binding, binary content mode: ce_*
// attributes, weir-seq, then the event's own headers unchanged.
static rd_kafka_headers_t *
kafka_headers(const weir_bridge_msg *msg)
{
	const weir_event   *ev = msg->ev;
	size_t              n  = weir_event_header_count(ev);
	rd_kafka_headers_t *h  = rd_kafka_headers_new(n + 6);
	char                id[37], when[40], seq[24];
	const char         *src = msg->source ? msg->source : "weir";
	const char         *name;
	const void         *value;
	size_t              len;
	weir_uuid_format(weir_event_id(ev), id);
	weir__ce_time(weir_event_ts(ev), when);
	rd_kafka_header_add(h, "ce_specversion", -1, "1.0", 3);
	rd_kafka_header_add(h, "ce_id", -1, id, 36);
	rd_kafka_header_add(h, "ce_source", -1, src, -1);
	rd_kafka_header_add(h, "ce_type", -1, weir_event_topic(ev), -1);
	rd_kafka_header_add(h, "ce_time", -1, when, -1);
	if (msg->seq != 0) {
		rd_kafka_header_add(h, "weir-seq", -1, seq,
		    (ssize_t) weir__ce_u64(msg->seq, seq));
	}
	for (size_t i = 0;
	     weir_event_header(ev, i, &name, &value, &len) == WEIR_OK; i++) {
		rd_kafka_header_add(h, name, -1, value, (ssize_t) len);
	}
	return h;
}

// producev refused the record: decide what the relay hears.
static weir_err
kafka_refuse(kafka *k, uint64_t token, rd_kafka_resp_err_t err)
{
	kafka_refusal *r;
	if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
		return WEIR_EAGAIN;
	}
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		char why[256];
		rd_kafka_fatal_error(k->rk, why, sizeof(why));
		kafka_fail(&k->b,
		    "kafka: the producer failed for good (stop and "
		    "start it again): %s",
		    why);
		return WEIR_EBACKEND;
	}
	if (kafka_classify(err).retriable) {
		kafka_fail(&k->b, "kafka: producev: %s (%s)",
		    rd_kafka_err2str(err), rd_kafka_err2name(err));
		return WEIR_EBACKEND;
	}
	if ((r = weir__alloc(sizeof(*r))) == NULL) {
		return WEIR_ENOMEM;
	}
	r->next  = NULL;
	r->token = token;
	r->err   = err;
	pthread_mutex_lock(&k->refused_mu);
	*k->refused_tail = r;
	k->refused_tail  = &r->next;
	pthread_mutex_unlock(&k->refused_mu);
	return WEIR_OK;
}

static weir_err
kafka_publish(void *state, const weir_bridge_msg *msg)
{
	kafka              *k = state;
	size_t              len;
	const void         *payload;
	rd_kafka_headers_t *h;
	rd_kafka_resp_err_t err;
	if (msg == NULL || msg->size < sizeof(*msg) || msg->ev == NULL ||
	    msg->dest == NULL) {
		return WEIR_EINVAL;
	}
	if (atomic_load_explicit(&k->closing, memory_order_acquire)) {
		return WEIR_ECLOSED;
	}
	payload = weir_event_payload(msg->ev, &len);
	h       = kafka_headers(msg);
	err     = rd_kafka_producev(k->rk, RD_KAFKA_V_TOPIC(msg->dest),
	        RD_KAFKA_V_KEY(msg->key, msg->key_len),
	        RD_KAFKA_V_VALUE((void *) payload, len),
	        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
	        RD_KAFKA_V_TIMESTAMP(weir_event_ts(msg->ev) / 1000000),
	        RD_KAFKA_V_HEADERS(h),
	        RD_KAFKA_V_OPAQUE((void *) (uintptr_t) msg->token),
	        RD_KAFKA_V_END);
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		return WEIR_OK; // the headers belong to librdkafka now
	}
	rd_kafka_headers_destroy(h);
	return kafka_refuse(k, msg->token, err);
}

static const char *
kafka_errmsg(void *state)
{
	kafka *k = state;
	return k->b.errmsg;
}

static uint32_t
kafka_caps(void *state)
{
	kafka *k = state;
	return k->ordered ? WEIR_BACKEND_CAP_ORDERED : 0;
}

static const weir_backend_ops kafka_ops = {
	.version    = WEIR_BACKEND_V2,
	.scheme     = "kafka",
	.state_size = sizeof(kafka),
	.init       = kafka_init,
	.fini       = kafka_fini,
	.start      = kafka_start,
	.stop       = kafka_stop,
	.publish    = kafka_publish,
	.poll       = kafka_poll,
	.errmsg     = kafka_errmsg,
	.caps       = kafka_caps,
};

const weir_backend_ops *
weir_backend_kafka(void)
{
	return &kafka_ops;
}

/* ================================================================== */
/* The consumer: the "kafka" source of inbound routes                 */
/* ================================================================== */

// A token is the message's partition (high 16 bits) and offset (low 48
// bits): done() needs nothing more, and nothing is allocated per
// message. A topic has far fewer than 65536 partitions; an offset
// reaches 2^48 after 9 years at a million messages a second on one
// partition.
#define KIN_OFFSET_BITS 48
#define KIN_OFFSET_MAX ((INT64_C(1) << KIN_OFFSET_BITS) - 1)
#define KIN_PART_MAX 0xffff
#define KIN_HEADERS 16   // headers converted on the stack; more: allocated
#define KIN_HOLD_MS 1000 // a pause this old pauses the partitions

// One partition: the offset to commit (the one after the last done
// message; -1: none yet) and whether it is newer than the last commit.
typedef struct kin_part {
	int64_t next;
	int     dirty;
} kin_part;

typedef struct kin {
	kafka_base  b; // configuration template, settings, errmsg
	rd_kafka_t *rk;
	weir_inlet *inlet;
	const char *topic;      // spec->from: lives as long as the route
	kin_part   *parts;      // indexed by partition number
	size_t      nparts;     // slots in parts
	size_t      ndirty;     // parts with dirty set
	int         paused;     // the route asked for a pause
	int         held;       // and the partitions are paused in librdkafka
	int64_t     paused_at;  // monotonic ms of the route's pause
	char        coord[300]; // "kafka:TOPIC/" (kin_init), then the rest
	size_t      coord_len;  // of the prefix
} kin;

// The slot of @p partition, made on first use; NULL: out of memory.
static kin_part *
kin_part_at(kin *k, int32_t partition)
{
	size_t    want = (size_t) partition + 1;
	kin_part *p;
	if (want > k->nparts) {
		p = weir__realloc(k->parts, want * sizeof(*p));
		if (p == NULL) {
			return NULL;
		}
		for (size_t i = k->nparts; i < want; i++) {
			p[i].next  = -1;
			p[i].dirty = 0;
		}
		k->parts  = p;
		k->nparts = want;
	}
	return &k->parts[partition];
}

// Hands the done offsets to librdkafka's offset store, from which its
// auto-commit timer commits them (and only them).
static void
kin_store(kin *k)
{
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_resp_err_t              err;
	l = rd_kafka_topic_partition_list_new((int) k->ndirty);
	for (size_t i = 0; i < k->nparts; i++) {
		if (k->parts[i].dirty) {
			rd_kafka_topic_partition_list_add(
			    l, k->topic, (int32_t) i)
			    ->offset      = k->parts[i].next;
			k->parts[i].dirty = 0;
		}
	}
	k->ndirty = 0;
	err       = rd_kafka_offsets_store(k->rk, l);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		kafka_fail(&k->b, "kafka: storing offsets of %s: %s", k->topic,
		    rd_kafka_err2str(err));
	}
	rd_kafka_topic_partition_list_destroy(l);
}

// Stores what is done and commits every stored offset, waiting for
// the answer: a revoke's last word on its partitions.
static void
kin_commit(kin *k)
{
	rd_kafka_resp_err_t err;
	if (k->ndirty > 0) {
		kin_store(k);
	}
	err = rd_kafka_commit(k->rk, NULL, 0);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR &&
	    err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
		kafka_fail(&k->b, "kafka: committing offsets of %s: %s (%s)",
		    k->topic, rd_kafka_err2str(err), rd_kafka_err2name(err));
	}
}

// offset_commit_cb: the answer to a commit (route thread, inside
// rd_kafka_consumer_poll, or in kin_commit).
static void
kin_committed(rd_kafka_t *rk, rd_kafka_resp_err_t err,
    rd_kafka_topic_partition_list_t *offsets, void *arg)
{
	kin *k = arg;
	(void) rk;
	(void) offsets;
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR &&
	    err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
		kafka_fail(&k->b,
		    "kafka: commit of %s failed (the next commit covers it): "
		    "%s (%s)",
		    k->topic, rd_kafka_err2str(err), rd_kafka_err2name(err));
	}
}

static void
kin_assign(kin *k, rd_kafka_topic_partition_list_t *parts, int coop)
{
	rd_kafka_error_t   *er  = NULL;
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
	if (coop) {
		er = rd_kafka_incremental_assign(k->rk, parts);
	} else {
		err = rd_kafka_assign(k->rk, parts);
	}
	if (er != NULL || err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		kafka_fail(&k->b, "kafka: assigning partitions of %s: %s",
		    k->topic,
		    er ? rd_kafka_error_string(er) : rd_kafka_err2str(err));
		rd_kafka_error_destroy(er);
		return;
	}
	// A pause covers the assignment of its moment: partitions that
	// come later are paused here, before their first fetch is served.
	if (k->held) {
		rd_kafka_pause_partitions(k->rk, parts);
	}
}

// Revoked (or lost) partitions: whatever was delivered becomes durable
// and done, its offsets are committed, and only then are they let go,
// so the next owner starts after the last message this one appended.
static void
kin_revoke(kin *k, rd_kafka_topic_partition_list_t *parts, int coop)
{
	rd_kafka_error_t *er = NULL;
	weir_err          e  = weir_inlet_flush(k->inlet);
	if (e != WEIR_OK) {
		kafka_fail(&k->b,
		    "kafka: flushing before a revoke of %s: %s (the next "
		    "owner may deliver those messages again)",
		    k->topic, weir_strerror(e));
	}
	kin_commit(k);
	if (coop) {
		er = rd_kafka_incremental_unassign(k->rk, parts);
	} else {
		rd_kafka_assign(k->rk, NULL);
	}
	rd_kafka_error_destroy(er);
	for (int i = 0; i < parts->cnt; i++) {
		int32_t p = parts->elems[i].partition;
		if ((size_t) p < k->nparts) { // (a negative p: huge)
			k->parts[p].next = -1;
		}
	}
}

// rebalance_cb: route thread, inside rd_kafka_consumer_poll (or the
// stopping thread, inside rd_kafka_consumer_close).
static void
kin_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
    rd_kafka_topic_partition_list_t *parts, void *arg)
{
	kin *k   = arg;
	int coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		kin_assign(k, parts, coop);
	} else {
		kin_revoke(k, parts, coop);
	}
}

// A Kafka topic name: 1..249 of [A-Za-z0-9._-] (no regex subscription:
// a token names a partition of this one topic).
static int
kin_topic_ok(const char *t)
{
	size_t n = strlen(t);
	return n > 0 && n <= 249 &&
	    strspn(t,
	        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	        "0123456789._-") == n;
}

// group.id: the route's group (the bridge passes "weir-<route>" when
// the route names none); it overrides a "kafka.group.id" key.
static weir_err
kin_group(kin *k, const weir_source_spec *spec)
{
	char        errstr[512], dflt[128];
	const char *g = spec->group;
	if (g == NULL || g[0] == '\0') {
		snprintf(dflt, sizeof(dflt), "weir-%s",
		    spec->route ? spec->route : "inbound");
		g = dflt;
	}
	if (rd_kafka_conf_set(k->b.conf, "group.id", g, errstr,
	        sizeof(errstr)) != RD_KAFKA_CONF_OK) {
		kafka_fail(&k->b, "group: %s", errstr);
		return WEIR_EINVAL;
	}
	return WEIR_OK;
}

static weir_err
kin_conf_build(
    kin *k, const weir_bridge_config *cfg, const weir_source_spec *spec)
{
	// librdkafka's auto-commit commits only offsets this file stored
	// (after done), and its timer skips commits while the group
	// rebalances: a commit racing a rebalance makes librdkafka 2.0
	// drop the whole assignment (librdkafka issue 4059, fixed in 2.10).
	static const char *const defaults[] = {
		"partition.assignment.strategy", "cooperative-sticky",
		"enable.auto.commit", "true", "auto.commit.interval.ms",
		"1000", "enable.auto.offset.store", "false",
		"auto.offset.reset", "earliest", NULL
	};
	static const kafka_need needs[] = {
		{ "enable.auto.offset.store", "false",
		    "the kafka source needs false (an offset is stored only "
		    "after the local append)" },
		{ NULL, NULL, NULL },
	};
	weir_err e = kafka_base_build(&k->b, cfg, defaults, needs);
	if (e == WEIR_OK && (e = kin_group(k, spec)) != WEIR_OK) {
		rd_kafka_conf_destroy(k->b.conf);
		k->b.conf = NULL;
	}
	if (e == WEIR_OK) {
		rd_kafka_conf_set_rebalance_cb(k->b.conf, kin_rebalance);
		rd_kafka_conf_set_offset_commit_cb(k->b.conf, kin_committed);
		rd_kafka_conf_set_opaque(k->b.conf, k);
	}
	return e;
}

static weir_err
kin_init(void *state, const weir_bridge_config *cfg,
    const weir_source_spec *spec, weir_inlet *inlet)
{
	kin *k = state;
	if (k == NULL || cfg == NULL || spec == NULL || inlet == NULL ||
	    spec->size < sizeof(*spec) || spec->from == NULL) {
		return WEIR_EINVAL;
	}
	if (!kin_topic_ok(spec->from)) {
		kafka_fail(&k->b,
		    "from: \"%.64s\" is not a Kafka topic name (1 to 249 of "
		    "A-Z a-z 0-9 . _ -; no patterns)",
		    spec->from);
		return WEIR_EINVAL;
	}
	k->inlet     = inlet;
	k->topic     = spec->from;
	k->coord_len = (size_t) snprintf(
	    k->coord, sizeof(k->coord), "kafka:%s/", k->topic);
	return kin_conf_build(k, cfg, spec);
}

static weir_err
kin_start(void *state)
{
	kin                             *k = state;
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_resp_err_t              err;
	weir_err                         e;
	if (k->rk != NULL) {
		return WEIR_EBUSY;
	}
	e = kafka_base_connect(&k->b, RD_KAFKA_CONSUMER, &k->rk);
	if (e != WEIR_OK) {
		return e;
	}
	rd_kafka_poll_set_consumer(k->rk);
	l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, k->topic, RD_KAFKA_PARTITION_UA);
	err = rd_kafka_subscribe(k->rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		kafka_fail(&k->b, "kafka: cannot subscribe to %s: %s",
		    k->topic, rd_kafka_err2str(err));
		rd_kafka_destroy(k->rk);
		k->rk = NULL;
		return WEIR_EBACKEND;
	}
	return WEIR_OK;
}

// Leaving the group revokes the assignment through kin_rebalance on
// this thread: flush, commit, let go. Then nothing calls the inlet.
// After a fatal error (the member was fenced: it may neither commit nor
// leave) there is no group to leave, and librdkafka 2.0's destroy after
// rd_kafka_consumer_close then never returns, its main thread spinning:
// the client is destroyed without closing. What was delivered and not
// committed goes to the next owner again (a duplicate, never a loss).
static void
kin_stop(void *state)
{
	kin                *k = state;
	rd_kafka_resp_err_t err;
	if (k->rk == NULL) {
		return;
	}
	if (rd_kafka_fatal_error(k->rk, NULL, 0) !=
	    RD_KAFKA_RESP_ERR_NO_ERROR) {
		rd_kafka_destroy_flags(
		    k->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
	} else {
		err = rd_kafka_consumer_close(k->rk);
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			kafka_fail(&k->b, "kafka: leaving group of %s: %s",
			    k->topic, rd_kafka_err2str(err));
		}
		rd_kafka_destroy(k->rk);
	}
	k->rk     = NULL;
	k->held   = 0;
	k->ndirty = 0;
	for (size_t i = 0; i < k->nparts; i++) {
		k->parts[i].next  = -1;
		k->parts[i].dirty = 0;
	}
}

static void
kin_fini(void *state)
{
	kin *k = state;
	if (k->b.conf == NULL) {
		return; // init failed or never ran
	}
	kin_stop(k);
	weir__free(k->parts);
	k->parts  = NULL;
	k->nparts = 0;
	rd_kafka_conf_destroy(k->b.conf);
	k->b.conf = NULL;
}

// Sends a message that was not taken back to the broker's side: the
// partition's position returns to it, and librdkafka drops what it had
// fetched after it, so nothing later of that partition is delivered
// (and committed) before it.
static void
kin_rewind(kin *k, const rd_kafka_message_t *m)
{
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_error_t                *er;
	l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, k->topic, m->partition)->offset =
	    m->offset;
	er = rd_kafka_seek_partitions(k->rk, l, 0);
	if (er != NULL) {
		kafka_fail(&k->b,
		    "kafka: rewinding %s [%d] to %" PRId64 ": %s", k->topic,
		    (int) m->partition, m->offset, rd_kafka_error_string(er));
		rd_kafka_error_destroy(er);
	}
	rd_kafka_topic_partition_list_destroy(l);
}

// The message's headers as weir_header, into @p h (room for @p n).
static void
kin_headers(rd_kafka_headers_t *kh, weir_header *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const void *v   = NULL;
		size_t      len = 0;
		h[i].name       = "";
		if (rd_kafka_header_get_all(kh, i, &h[i].name, &v, &len) !=
		    RD_KAFKA_RESP_ERR_NO_ERROR) {
			h[i].name = "";
		}
		h[i].value = v != NULL ? v : "";
		h[i].len   = v != NULL ? len : 0;
	}
}

// Hands one message to the bridge, its headers converted on the stack
// (or, past KIN_HEADERS, in an allocation freed before returning).
static weir_err
kin_deliver(kin *k, const rd_kafka_message_t *m, weir_inbound_msg *msg)
{
	weir_header         stack[KIN_HEADERS], *h = stack;
	rd_kafka_headers_t *kh = NULL;
	size_t              n  = 0;
	weir_err            e;
	if (rd_kafka_message_headers(m, &kh) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		n = rd_kafka_header_cnt(kh);
	}
	if (n > KIN_HEADERS && (h = weir__alloc(n * sizeof(*h))) == NULL) {
		return WEIR_ENOMEM;
	}
	kin_headers(kh, h, n);
	msg->headers      = h;
	msg->header_count = n;
	e                 = weir_inlet_deliver(k->inlet, msg);
	if (h != stack) {
		weir__free(h);
	}
	msg->headers      = NULL; /* they lived in this frame */
	msg->header_count = 0;
	return e;
}

// The message's coordinates, "kafka:TOPIC/PARTITION/OFFSET", after the
// prefix kin_init wrote (a topic of at most 249 characters, a partition
// of at most 5 digits and an offset of at most 15 fit). By hand: with
// snprintf they cost ~1,400 instructions per message.
static void
kin_coord(kin *k, int32_t partition, int64_t offset)
{
	char *p = k->coord + k->coord_len;
	p += weir__ce_u64((uint64_t) partition, p);
	*p++ = '/';
	weir__ce_u64((uint64_t) offset, p);
}

// One consumed message as a weir_inbound_msg, then delivered.
static weir_err
kin_take(kin *k, const rd_kafka_message_t *m)
{
	int64_t          ms  = rd_kafka_message_timestamp(m, NULL);
	weir_inbound_msg msg = { .size = sizeof(msg) };
	if (m->partition < 0 || m->partition > KIN_PART_MAX || m->offset < 0 ||
	    m->offset > KIN_OFFSET_MAX) {
		kafka_fail(&k->b,
		    "kafka: %s [%d] at %" PRId64 ": partition or offset "
		    "beyond what the kafka source supports",
		    k->topic, (int) m->partition, m->offset);
		return WEIR_ENOTSUP;
	}
	if (kin_part_at(k, m->partition) == NULL) {
		return WEIR_ENOMEM;
	}
	kin_coord(k, m->partition, m->offset);
	msg.origin      = k->topic;
	msg.key         = m->key;
	msg.key_len     = m->key_len;
	msg.payload     = m->payload;
	msg.payload_len = m->len;
	msg.coord       = k->coord;
	msg.ts          = ms > 0 ? ms * 1000000 : 0;
	msg.token =
	    (uint64_t) m->partition << KIN_OFFSET_BITS | (uint64_t) m->offset;
	return kin_deliver(k, m, &msg);
}

// A consumer error event (m->err set): recorded; WEIR_EBACKEND makes the
// route count it and back off. librdkafka reconnects by itself.
static weir_err
kin_error(kin *k, const rd_kafka_message_t *m)
{
	char why[256];
	if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
		return WEIR_OK;
	}
	if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
		rd_kafka_fatal_error(k->rk, why, sizeof(why));
		kafka_fail(&k->b,
		    "kafka: the consumer of %s failed for good (stop and "
		    "start it again): %s",
		    k->topic, why);
		return WEIR_EBACKEND;
	}
	kafka_fail(&k->b, "kafka: consuming %s: %s (%s)", k->topic,
	    rd_kafka_message_errstr(m), rd_kafka_err2name(m->err));
	return WEIR_EBACKEND;
}

// One result of rd_kafka_consumer_poll; @p room: whether it may be
// delivered. A message not taken is rewound, never skipped.
static weir_err
kin_one(kin *k, const rd_kafka_message_t *m, int room, size_t *n)
{
	weir_err e;
	if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		return kin_error(k, m);
	}
	if (!room) {
		kin_rewind(k, m);
		return WEIR_OK;
	}
	e = kin_take(k, m);
	if (e != WEIR_OK) {
		kin_rewind(k, m);
		return e;
	}
	(*n)++;
	return WEIR_OK;
}

static int kin_paused(kin *k);

// Waits up to timeout_ms for the first message, then takes what is
// already there, up to max. Polling also serves the group (heartbeats,
// the rebalance callback, commit answers), which is all that max 0
// asks for.
static weir_err
kin_fetch(void *state, size_t max, int timeout_ms)
{
	kin                *k    = state;
	int                 wait = timeout_ms;
	size_t              n    = 0;
	weir_err            e    = WEIR_OK;
	rd_kafka_message_t *m;
	if (k->rk == NULL) {
		return WEIR_ECLOSED;
	}
	if (max == 0 && k->paused && kin_paused(k)) {
		return WEIR_OK;
	}
	do {
		m    = rd_kafka_consumer_poll(k->rk, wait);
		wait = 0;
		if (m != NULL) {
			e = kin_one(k, m, n < max, &n);
			rd_kafka_message_destroy(m);
		}
	} while (m != NULL && e == WEIR_OK && n < max);
	if (k->ndirty > 0) {
		kin_store(k);
	}
	return e;
}

// The message of @p token is durable here: its offset + 1 may be
// committed (stored by the next fetch; committed by auto-commit, a revoke
// or stop).
static void
kin_done(void *state, uint64_t token)
{
	kin      *k    = state;
	size_t    p    = (size_t) (token >> KIN_OFFSET_BITS);
	int64_t   next = (int64_t) (token & (uint64_t) KIN_OFFSET_MAX) + 1;
	kin_part *slot;
	if (WEIR_NEVER(p >= k->nparts)) {
		return; // kin_take made the slot before delivering
	}
	slot = &k->parts[p];
	if (next > slot->next) {
		slot->next = next;
		if (!slot->dirty) {
			slot->dirty = 1;
			k->ndirty++;
		}
	}
}

static int64_t
kin_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// Pauses (or resumes) the whole current assignment in librdkafka.
static void
kin_hold(kin *k, int hold)
{
	rd_kafka_topic_partition_list_t *l = NULL;
	k->held                            = hold;
	if (rd_kafka_assignment(k->rk, &l) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		return;
	}
	if (hold) {
		rd_kafka_pause_partitions(k->rk, l);
	} else {
		rd_kafka_resume_partitions(k->rk, l);
	}
	rd_kafka_topic_partition_list_destroy(l);
}

// A pause served while the route is paused (fetch with max 0). A short
// pause only stops polling: librdkafka's prefetch queue is bounded
// (queued.min.messages, queued.max.messages.kbytes) and stays for the
// resume, whereas pausing the partitions drops it, which made every
// pause cost a refetch (7x fewer events/s in kafka_in_bench). A pause
// older than KIN_HOLD_MS pauses the partitions and polls again, so the
// group (rebalances) is served while a subscriber stays stalled.
static int
kin_paused(kin *k)
{
	if (!k->held && kin_now_ms() - k->paused_at < KIN_HOLD_MS) {
		return 1;
	}
	if (!k->held) {
		kin_hold(k, 1);
	}
	return 0;
}

// Local pushback, from the route: see kin_paused; kin_assign pauses
// what is assigned while the partitions are held.
static void
kin_pause(void *state, int paused)
{
	kin *k    = state;
	k->paused = paused != 0;
	if (k->paused) {
		k->paused_at = kin_now_ms();
	} else if (k->held) { // only fetch holds; stop clears held
		kin_hold(k, 0);
	}
}

static const char *
kin_errmsg(void *state)
{
	kin *k = state;
	return k->b.errmsg;
}

static const weir_source_ops kin_ops = {
	.version    = WEIR_SOURCE_V1,
	.scheme     = "kafka",
	.state_size = sizeof(kin),
	.init       = kin_init,
	.fini       = kin_fini,
	.start      = kin_start,
	.stop       = kin_stop,
	.fetch      = kin_fetch,
	.done       = kin_done,
	.pause      = kin_pause,
	.errmsg     = kin_errmsg,
};

const weir_source_ops *
weir_source_kafka(void)
{
	return &kin_ops;
}
