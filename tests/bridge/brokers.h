/*
 * Helpers for the bridge tests that run against real brokers: where the
 * brokers are (skip, or fail with CI=true, when there is none), unique
 * names, the test's events, and the read-back check: what an
 * independent client finds in the broker is compared with what the
 * store holds (the outbox: every stored event must arrive).
 *
 * Kafka is read back with kcat (a subprocess), or with a plain
 * librdkafka consumer (define BK_WITH_RDKAFKA: for librdkafka's mock
 * cluster, which kcat cannot reach); NATS with a plain cnats pull
 * consumer (define BK_WITH_NATS).
 */
#ifndef WEIR_BRIDGE_BROKERS_H
#define WEIR_BRIDGE_BROKERS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker_env.h"
#include "fixture.h"

#ifdef BK_WITH_NATS
#include <nats/nats.h>
#endif
#ifdef BK_WITH_RDKAFKA
#include <librdkafka/rdkafka.h>
#endif

#define BK_TRACEPARENT \
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
#define BK_USER_VALUE "v \xc3\xa9" /* "v é": UTF-8 passes unchanged */
#define BK_SOURCE "weir://e2e-host/bus"
#define BK_KEYS 64 /* keys e2e.k0 .. e2e.k63 */

/* ---- the harness: store, bus, bridge with real backends ------------ */

/* bt_open plus the backend @p ops (besides mem); fails with the
 * bridge's text if it refuses. */
static inline void
bk_open(bt *t, const char *const *kv, const weir_backend_ops *ops)
{
	bt_open(t, kv);
	weir_err e = weir_bridge_register(t->br, ops);
	if (e != WEIR_OK)
		fail_msg("register: %s", weir_bridge_errmsg(t->br));
}

/* Adds route @p route (@p pattern -> @p scheme, @p dest, keyed by
 * @p key) and starts the bridge; fails with the bridge's text. */
static inline void
bk_start_route(bt *t, const char *route, const char *pattern,
    const char *scheme, const char *dest, const char *key)
{
	if (weir_bridge_route_add(
	        t->br, route, pattern, scheme, dest, key, NULL) != WEIR_OK)
		fail_msg("route: %s", weir_bridge_errmsg(t->br));
	if (weir_bridge_start(t->br) != WEIR_OK)
		fail_msg("start: %s", weir_bridge_errmsg(t->br));
}

/* Like BT_WAIT, with a deadline of @p ms. */
#define BK_WAIT(t, route, ms, expr)                                     \
	do {                                                            \
		int64_t                 bk_end_ = wt_now_ms() + (ms);   \
		weir_bridge_route_stats s       = bt_stats(t, route);   \
		while (!(expr) && wt_now_ms() < bk_end_) {              \
			usleep(2000);                                   \
			s = bt_stats(t, route);                         \
		}                                                       \
		if (!(expr))                                            \
			fail_msg("timed out waiting for %s (sent %llu " \
			         "acked %llu retried %llu dead %llu "   \
			         "backlog %llu)",                       \
			    #expr, (unsigned long long) s.sent,         \
			    (unsigned long long) s.acked,               \
			    (unsigned long long) s.retried,             \
			    (unsigned long long) s.dead,                \
			    (unsigned long long) s.backlog);            \
	} while (0)

/* Publishes event @p i of the test stream on the bus: topic
 * "e2e.k<j>.created" and key "k<j>" (j = i % BK_KEYS), payload "p<i>",
 * a W3C traceparent and a user header. */
static inline void
bk_publish(weir_bus *bus, uint64_t i)
{
	char        topic[32], key[16], payload[32];
	weir_header h[2] = { { "traceparent", BK_TRACEPARENT,
		                 sizeof BK_TRACEPARENT - 1 },
		{ "x-user", BK_USER_VALUE, sizeof BK_USER_VALUE - 1 } };
	unsigned    j    = (unsigned) (i % BK_KEYS);
	snprintf(topic, sizeof topic, "e2e.k%u.created", j);
	snprintf(key, sizeof key, "k%u", j);
	int plen =
	    snprintf(payload, sizeof payload, "p%llu", (unsigned long long) i);
	weir_event_init init = WEIR_STRUCT_INIT(weir_event_init);
	init.topic           = topic;
	init.key             = key;
	init.key_len         = strlen(key);
	init.payload         = payload;
	init.payload_len     = (size_t) plen;
	init.headers         = h;
	init.header_count    = 2;
	weir_event *ev;
	if (weir_event_new(&ev, &init) != WEIR_OK)
		abort();
	weir_err e = weir_publish_event(bus, ev);
	weir_event_release(ev);
	if (e != WEIR_OK)
		fail_msg("publish: %s", weir_strerror(e));
}

/* ---- what the store holds, and what the broker gave back ----------- */

typedef struct bk_want {
	uint8_t  id[16];
	uint64_t seq;
	unsigned key; /* j of "k<j>" */
	uint32_t seen;
	uint32_t dead; /* a dead letter of the route */
} bk_want;

typedef struct bk_check {
	bk_want    *w; /* sorted by id */
	size_t      n, cap;
	uint64_t    last[BK_KEYS]; /* per key, seq of the last first copy */
	uint64_t    records, distinct, dups, dead;
	const char *prefix; /* "ce_" (Kafka) or "ce-" (NATS) */
} bk_check;

static inline int
bk_want_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

static inline weir_err
bk_want_fn(weir_store *st, const weir_event *ev, const char *stream,
    int64_t version, void *arg)
{
	(void) st;
	(void) stream;
	(void) version;
	bk_check *c = arg;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 1024;
		c->w   = realloc(c->w, c->cap * sizeof *c->w);
		if (c->w == NULL)
			return WEIR_ENOMEM;
	}
	bk_want *w = &c->w[c->n++];
	memset(w, 0, sizeof *w);
	memcpy(w->id, weir_event_id(ev), 16);
	w->seq = weir_event_seq(ev);
	if (sscanf(weir_event_topic(ev), "e2e.k%u.", &w->key) != 1 ||
	    w->key >= BK_KEYS)
		return WEIR_EINVAL;
	return WEIR_OK;
}

/* Loads every event of @p st: the ids that must arrive. */
static inline void
bk_check_init(bk_check *c, weir_store *st, const char *prefix)
{
	memset(c, 0, sizeof *c);
	c->prefix = prefix;
	assert_weir_ok(weir_store_read_all(st, 1, 0, bk_want_fn, c));
	qsort(c->w, c->n, sizeof *c->w, bk_want_cmp);
}

static inline void
bk_check_fini(bk_check *c)
{
	free(c->w);
	memset(c, 0, sizeof *c);
}

/* Header lookup of one record: returns the value or NULL (a static
 * buffer of the reader). */
typedef const char *(*bk_header_fn)(void *rec, const char *name);

static inline const char *
bk_hdr(bk_header_fn get, void *rec, const char *prefix, const char *attr)
{
	char name[64];
	snprintf(name, sizeof name, "%s%s", prefix, attr);
	const char *v = get(rec, name);
	if (v == NULL)
		fail_msg("header %s missing", name);
	return v;
}

/* One record read back from a broker: its headers and payload against
 * the stored event its ce id names; counts first copies and
 * duplicates; checks order per key over first copies. */
static inline void
bk_check_record(bk_check *c, bk_header_fn get, void *rec, const char *payload)
{
	uint8_t     id[16];
	char        topic[40];
	const char *v = bk_hdr(get, rec, c->prefix, "id");
	assert_weir_ok(weir_uuid_parse(v, id));
	bk_want *w = bsearch(id, c->w, c->n, sizeof *c->w, bk_want_cmp);
	if (w == NULL)
		fail_msg("record with id %s, not in the store", v);
	c->records++;
	if (w->seen++ > 0) {
		c->dups++;
		return;
	}
	c->distinct++;
	if (w->seq <= c->last[w->key])
		fail_msg("key k%u: seq %llu after %llu", w->key,
		    (unsigned long long) w->seq,
		    (unsigned long long) c->last[w->key]);
	c->last[w->key] = w->seq;
	assert_string_equal(bk_hdr(get, rec, c->prefix, "specversion"), "1.0");
	assert_string_equal(bk_hdr(get, rec, c->prefix, "source"), BK_SOURCE);
	snprintf(topic, sizeof topic, "e2e.k%u.created", w->key);
	assert_string_equal(bk_hdr(get, rec, c->prefix, "type"), topic);
	v = bk_hdr(get, rec, c->prefix, "time"); /* ....-..-..T..:..:..(.n)Z */
	assert_int_equal(strlen(v), 30);
	assert_true(
	    v[4] == '-' && v[10] == 'T' && v[19] == '.' && v[29] == 'Z');
	assert_true(strtoull(get(rec, "weir-seq"), NULL, 10) == w->seq);
	assert_string_equal(get(rec, "traceparent"), BK_TRACEPARENT);
	assert_string_equal(get(rec, "x-user"), BK_USER_VALUE);
	assert_int_equal(payload[0], 'p'); /* the event's own payload */
}

/* Prints the first stored events that did not arrive (and are not
 * dead letters, when bk_dead_fn has marked those). */
static inline void
bk_check_print_missing(const bk_check *c)
{
	int shown = 0;
	for (size_t i = 0; i < c->n && shown < 10; i++)
		if (c->w[i].seen == 0 && !c->w[i].dead) {
			char id[37];
			weir_uuid_format(c->w[i].id, id);
			print_error("missing: seq %llu key k%u id %s\n",
			    (unsigned long long) c->w[i].seq, c->w[i].key, id);
			shown++;
		}
}

/* Every stored id arrived (and nothing else did). */
static inline void
bk_check_complete(bk_check *c)
{
	print_message("%llu records, %llu distinct ids, %llu duplicates, "
	              "%zu stored\n",
	    (unsigned long long) c->records, (unsigned long long) c->distinct,
	    (unsigned long long) c->dups, c->n);
	if (c->distinct != c->n)
		bk_check_print_missing(c);
	assert_int_equal(c->distinct, c->n);
}

static inline weir_err
bk_dead_fn(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	(void) st;
	bk_check *c = arg;
	bk_want  *w = bsearch(
	     weir_event_id(dl->ev), c->w, c->n, sizeof *c->w, bk_want_cmp);
	if (w == NULL)
		fail_msg("a dead letter of an event not in the log");
	if (w->seen > 0)
		fail_msg("event seq %llu is a dead letter and at the broker",
		    (unsigned long long) w->seq);
	w->dead = 1;
	c->dead++;
	return WEIR_OK;
}

/* Every stored event of route @p route arrived, except its dead letters
 * (which must not have); returns how many dead letters there were. */
static inline uint64_t
bk_check_complete_but_dead(bk_check *c, weir_store *st, const char *route)
{
	c->dead = 0;
	assert_weir_ok(weir_store_dead_list(st, route, 0, bk_dead_fn, c));
	print_message("%llu records, %llu distinct ids, %llu duplicates, "
	              "%zu stored, %llu dead letters\n",
	    (unsigned long long) c->records, (unsigned long long) c->distinct,
	    (unsigned long long) c->dups, c->n, (unsigned long long) c->dead);
	if (c->distinct + c->dead != c->n)
		bk_check_print_missing(c);
	assert_int_equal(c->distinct + c->dead, c->n);
	return c->dead;
}

/* ---- Kafka: kcat ---------------------------------------------------- */

typedef struct bk_kcat_rec {
	char *hdrs; /* kcat's "name=value,name=value" */
	char  buf[256];
} bk_kcat_rec;

static inline const char *
bk_kcat_header(void *rec, const char *name)
{
	bk_kcat_rec *r = rec;
	size_t       n = strlen(name);
	for (const char *p = r->hdrs; p != NULL && *p != '\0';) {
		const char *end = strchr(p, ',');
		size_t      len = end ? (size_t) (end - p) : strlen(p);
		if (len > n && strncmp(p, name, n) == 0 && p[n] == '=') {
			snprintf(r->buf, sizeof r->buf, "%.*s",
			    (int) (len - n - 1), p + n + 1);
			return r->buf;
		}
		p = end ? end + 1 : NULL;
	}
	return NULL;
}

/* Reads Kafka topic @p topic from the beginning to its end with kcat
 * and checks every record against @p c. */
static inline void
bk_kafka_read(bk_check *c, const char *bootstrap, const char *topic)
{
	char   cmd[1024], *line = NULL;
	size_t cap = 0;
	snprintf(cmd, sizeof cmd,
	    "kcat -C -b '%s' -t '%s' -o beginning -e -q "
	    "-f '%%k\\t%%h\\t%%s\\n'",
	    bootstrap, topic);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	while (getline(&line, &cap, p) > 0) {
		line[strcspn(line, "\n")] = '\0';
		char *hdrs                = strchr(line, '\t');
		assert_non_null(hdrs);
		*hdrs++       = '\0';
		char *payload = strchr(hdrs, '\t');
		assert_non_null(payload);
		*payload++      = '\0';
		bk_kcat_rec rec = { .hdrs = hdrs };
		bk_check_record(c, bk_kcat_header, &rec, payload);
	}
	free(line);
	assert_int_equal(pclose(p), 0);
}

/* ---- Kafka: a plain librdkafka consumer ---------------------------- */
#ifdef BK_WITH_RDKAFKA
typedef struct bk_rdk_rec {
	const rd_kafka_message_t *m;
	char                      buf[256];
} bk_rdk_rec;

static inline const char *
bk_rdk_header(void *rec, const char *name)
{
	bk_rdk_rec         *r = rec;
	rd_kafka_headers_t *h = NULL;
	const void         *v;
	size_t              len;
	if (rd_kafka_message_headers(r->m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR ||
	    rd_kafka_header_get_last(h, name, &v, &len) !=
	        RD_KAFKA_RESP_ERR_NO_ERROR)
		return NULL;
	snprintf(r->buf, sizeof r->buf, "%.*s", (int) len, (const char *) v);
	return r->buf;
}

/* Reads partitions 0..@p partitions-1 of @p topic from the beginning to
 * their end (partition EOF) with a consumer of its own, no group, and
 * checks every record against @p c, which de-duplicates by ce_id. */
static inline void
bk_rdkafka_read(
    bk_check *c, const char *bootstrap, const char *topic, int partitions)
{
	char             err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	const char      *kv[] = { "bootstrap.servers", bootstrap, "group.id",
		     "weir-test-reader", "enable.auto.commit", "false",
		     "enable.partition.eof", "true", "log_level", "2", NULL };
	for (const char *const *p = kv; *p != NULL; p += 2)
		if (rd_kafka_conf_set(conf, p[0], p[1], err, sizeof err))
			fail_msg("reader: %s", err);
	rd_kafka_t *rk =
	    rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
	if (rk == NULL)
		fail_msg("reader: %s", err);
	rd_kafka_topic_partition_list_t *tp =
	    rd_kafka_topic_partition_list_new(partitions);
	for (int i = 0; i < partitions; i++)
		rd_kafka_topic_partition_list_add(tp, topic, i)->offset =
		    RD_KAFKA_OFFSET_BEGINNING;
	assert_int_equal(rd_kafka_assign(rk, tp), 0);
	rd_kafka_topic_partition_list_destroy(tp);
	int64_t end        = wt_now_ms() + 60000;
	char    at_end[64] = { 0 };
	assert_true(partitions <= 64);
	for (int eof = 0; eof < partitions;) {
		if (wt_now_ms() > end)
			fail_msg("reader: %d of %d partitions read to the end",
			    eof, partitions);
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
		if (m == NULL)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			eof += !at_end[m->partition];
			at_end[m->partition] = 1;
		} else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			fail_msg("reader: %s", rd_kafka_message_errstr(m));
		} else {
			char payload[32];
			snprintf(payload, sizeof payload, "%.*s",
			    (int) (m->len < 31 ? m->len : 31),
			    (const char *) m->payload);
			bk_rdk_rec rec = { .m = m };
			bk_check_record(c, bk_rdk_header, &rec, payload);
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
}
#endif

/* ---- NATS: a plain cnats pull consumer ------------------------------ */
#ifdef BK_WITH_NATS
static inline const char *
bk_nats_header(void *rec, const char *name)
{
	const char *v = NULL;
	return natsMsgHeader_Get(rec, name, &v) == NATS_OK ? v : NULL;
}

/* The number of messages stream @p stream holds. */
static inline uint64_t
bk_nats_stream_msgs(const char *url, const char *stream)
{
	natsConnection *nc = NULL;
	jsCtx          *js = NULL;
	jsStreamInfo   *si = NULL;
	assert_int_equal(natsConnection_ConnectTo(&nc, url), NATS_OK);
	assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
	assert_int_equal(
	    js_GetStreamInfo(&si, js, stream, NULL, NULL), NATS_OK);
	uint64_t n = si->State.Msgs;
	jsStreamInfo_Destroy(si);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	return n;
}

/* Reads the whole of stream @p stream (subjects @p subjects) and checks
 * every message against @p c; the Nats-Msg-Id must equal the ce-id. */
static inline void
bk_nats_read(bk_check *c, const char *url, const char *stream,
    const char *subjects, uint64_t count)
{
	natsConnection   *nc  = NULL;
	jsCtx            *js  = NULL;
	natsSubscription *sub = NULL;
	jsSubOptions      so;
	assert_int_equal(natsConnection_ConnectTo(&nc, url), NATS_OK);
	assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
	jsSubOptions_Init(&so);
	so.Stream           = stream;
	so.Config.AckPolicy = js_AckNone;
	assert_int_equal(
	    js_PullSubscribe(&sub, js, subjects, NULL, NULL, &so, NULL),
	    NATS_OK);
	for (uint64_t got = 0; got < count;) {
		natsMsgList list = { 0 };
		assert_int_equal(
		    natsSubscription_Fetch(&list, sub, 1000, 10000, NULL),
		    NATS_OK);
		for (int i = 0; i < list.Count; i++, got++) {
			natsMsg    *m   = list.Msgs[i];
			const char *mid = bk_nats_header(m, "Nats-Msg-Id");
			assert_non_null(mid);
			assert_string_equal(mid, bk_nats_header(m, "ce-id"));
			char payload[32];
			snprintf(payload, sizeof payload, "%.*s",
			    natsMsg_GetDataLength(m), natsMsg_GetData(m));
			bk_check_record(c, bk_nats_header, m, payload);
		}
		natsMsgList_Destroy(&list);
	}
	natsSubscription_Destroy(sub);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
}

static inline void
bk_nats_delete_stream(const char *url, const char *stream)
{
	natsConnection *nc = NULL;
	jsCtx          *js = NULL;
	if (natsConnection_ConnectTo(&nc, url) == NATS_OK &&
	    natsConnection_JetStream(&js, nc, NULL) == NATS_OK)
		js_DeleteStream(js, stream, NULL, NULL);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
}
#endif

#endif
