/*
 * The "kafka" source (src/bridge/kafka.c, consumer section) end to end
 * against a real Kafka (label integration; WEIR_KAFKA_BOOTSTRAP from the
 * environment or build/brokers/env; skipped without one, failed with
 * CI=true):
 * - round trip: a local bus -> an outbound route (weir_backend_kafka)
 *   -> Kafka -> a second weir process (kafka_in_child) -> its bus and
 *   log: every event once, same ids, traceparent intact;
 * - the inbound process killed with SIGKILL 10 times during 100,000
 *   messages: exactly 100,000 distinct ids in its log;
 * - a poison message (more headers than an event takes) goes to dead
 *   letters with its coordinates; the next message is still delivered;
 * - a second group member joins and leaves mid-stream: the two logs
 *   together hold every message exactly once.
 * Each test uses a topic and a consumer group of its own. KIT_ONLY=<name
 * pattern> runs some tests only; KIT_DEBUG=<librdkafka debug contexts>
 * (e.g. cgrp,fetch) sets kafka.debug on the in-process members.
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weir/kafka.h>

#include "inbound_fixture.h"
#include "kafka_fixture.h"

#define KIT_DEADLINE_MS 90000 /* any one wait on Kafka or the child */

extern char **environ;

/* ------------------------------------------------------------------ */
/* The child process and its output                                    */
/* ------------------------------------------------------------------ */

typedef struct kit_child {
	pid_t  pid;
	int    fd; /* its stdout */
	char   buf[1 << 16];
	size_t len;
} kit_child;

static void
kit_spawn(kit_child *c, const char *bs, const char *store, const char *topic,
    unsigned long expect, const char *const *extra)
{
	char        n[32], servers[300];
	const char *argv[16] = { KAFKA_IN_CHILD, store, topic, n };
	int         p[2], i = 4;
	posix_spawn_file_actions_t fa;
	snprintf(n, sizeof n, "%lu", expect);
	for (; extra != NULL && *extra != NULL && i < 14; extra++)
		argv[i++] = *extra;
	snprintf(servers, sizeof servers, "kafka.bootstrap.servers=%s", bs);
	argv[i++] = servers;
	argv[i]   = NULL;
	assert_int_equal(pipe(p), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addclose(&fa, p[0]);
	assert_int_equal(posix_spawn(&c->pid, KAFKA_IN_CHILD, &fa, NULL,
	                     (char *const *) argv, environ),
	    0);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	c->fd  = p[0];
	c->len = 0;
}

/* The next line of the child's output into @p line: 1, or 0 at its end;
 * fails the test after KIT_DEADLINE_MS. */
static int
kit_line(kit_child *c, char *line, size_t cap)
{
	int64_t end = wt_now_ms() + KIT_DEADLINE_MS;
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		if (nl != NULL) {
			size_t n = (size_t) (nl - c->buf);
			snprintf(line, cap, "%.*s", (int) n, c->buf);
			memmove(c->buf, nl + 1, c->len - n - 1);
			c->len -= n + 1;
			return 1;
		}
		struct pollfd pfd  = { c->fd, POLLIN, 0 };
		int64_t       left = end - wt_now_ms();
		if (left <= 0)
			fail_msg("the child said nothing for %d ms",
			    KIT_DEADLINE_MS);
		if (poll(&pfd, 1, (int) left) <= 0)
			continue;
		ssize_t r =
		    read(c->fd, c->buf + c->len, sizeof c->buf - c->len - 1);
		if (r <= 0)
			return 0;
		c->len += (size_t) r;
	}
}

/* Reads the child's lines until "count N" with N >= @p at_least;
 * returns N. */
static unsigned long
kit_count(kit_child *c, unsigned long at_least)
{
	char line[256];
	while (kit_line(c, line, sizeof line))
		if (strncmp(line, "count ", 6) == 0) {
			unsigned long n = strtoul(line + 6, NULL, 10);
			if (n >= at_least)
				return n;
		}
	fail_msg("the child ended before its log held %lu", at_least);
	return 0;
}

/* Waits for the child's exit; returns its status code (-1: signal). */
static int
kit_exit(kit_child *c)
{
	int     st  = 0;
	int64_t end = wt_now_ms() + KIT_DEADLINE_MS;
	while (waitpid(c->pid, &st, WNOHANG) == 0) {
		if (wt_now_ms() > end) {
			kill(c->pid, SIGKILL);
			waitpid(c->pid, &st, 0);
			close(c->fd);
			fail_msg("the child did not end");
		}
		wt_sleep_ms(5);
	}
	close(c->fd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
kit_kill(kit_child *c)
{
	kill(c->pid, SIGKILL);
	assert_int_equal(kit_exit(c), -1);
}

/* ------------------------------------------------------------------ */
/* Reading a log                                                       */
/* ------------------------------------------------------------------ */

typedef struct kit_log {
	char (*ids)[37];
	size_t n, cap;
	size_t bad_traceparent, not_from_kafka;
} kit_log;

static int
kit_header_is(const weir_event *ev, const char *name, const char *want)
{
	for (size_t i = 0; i < weir_event_header_count(ev); i++) {
		const char *hn;
		const void *v;
		size_t      len;
		if (weir_event_header(ev, i, &hn, &v, &len) == WEIR_OK &&
		    strcmp(hn, name) == 0)
			return len == strlen(want) &&
			    memcmp(v, want, len) == 0;
	}
	return 0;
}

#define KIT_TRACEPARENT \
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static weir_err
kit_log_fn(weir_store *st, const weir_event *ev, const char *stream,
    int64_t version, void *arg)
{
	kit_log *l = arg;
	(void) st;
	(void) stream;
	(void) version;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->ids = realloc(l->ids, l->cap * 37);
		assert_non_null(l->ids);
	}
	weir_uuid_format(weir_event_id(ev), l->ids[l->n++]);
	l->bad_traceparent +=
	    !kit_header_is(ev, "traceparent", KIT_TRACEPARENT);
	l->not_from_kafka += !kit_header_is(ev, "weir-origin", "kafka");
	return WEIR_OK;
}

static int
kit_cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, 36);
}

/* Appends every event of @p st to @p l. */
static void
kit_log_read(weir_store *st, kit_log *l)
{
	assert_weir_ok(weir_store_read_all(st, 1, 0, kit_log_fn, l));
}

/* Reads the log in file @p path (no one else has it open). */
static void
kit_log_file(const char *path, kit_log *l)
{
	weir_store *st;
	char        msg[256];
	assert_weir_ok(weir_store_open(&st, path, NULL, msg, sizeof msg));
	kit_log_read(st, l);
	weir_store_destroy(st);
}

/* Sorts the ids; returns how many are distinct. */
static size_t
kit_distinct(kit_log *l)
{
	size_t d = 0;
	qsort(l->ids, l->n, 37, kit_cmp_id);
	for (size_t i = 0; i < l->n; i++)
		d += i == 0 || memcmp(l->ids[i], l->ids[i - 1], 36) != 0;
	return d;
}

/* Whether sorted @p l holds id @p id. */
static int
kit_has(const kit_log *l, const char *id)
{
	return bsearch(id, l->ids, l->n, 37, kit_cmp_id) != NULL;
}

/* ------------------------------------------------------------------ */
/* (a) Round trip through a second weir process                        */
/* ------------------------------------------------------------------ */

#define KIT_RT_N 2000

static void
kit_publish_rt(bt *t, char (*ids)[37])
{
	weir_header h[1] = { { "traceparent", KIT_TRACEPARENT,
	    strlen(KIT_TRACEPARENT) } };
	for (int i = 0; i < KIT_RT_N; i++) {
		char            key[8];
		weir_event     *ev;
		weir_event_init init = { .size = sizeof init,
			.topic                 = "orders.eu.created",
			.key                   = key,
			.key_len =
			    (size_t) snprintf(key, sizeof key, "k%d", i % 5),
			.payload      = &i,
			.payload_len  = sizeof i,
			.headers      = h,
			.header_count = 1 };
		assert_weir_ok(weir_event_new(&ev, &init));
		weir_uuid_format(weir_event_id(ev), ids[i]);
		assert_weir_ok(weir_publish_event(t->bus, ev));
		weir_event_release(ev);
	}
}

/* The child's "ev" lines: each published id once, traceparent kept. */
static void
kit_read_bus(kit_child *c, kit_log *sorted_sent)
{
	char   line[256];
	size_t got  = 0;
	char  *seen = calloc(KIT_RT_N, 1);
	assert_non_null(seen);
	while (kit_line(c, line, sizeof line) && strcmp(line, "done") != 0) {
		if (strncmp(line, "ev ", 3) != 0)
			continue;
		line[3 + 36] = '\0';
		char *hit = bsearch(line + 3, sorted_sent->ids, sorted_sent->n,
		    37, kit_cmp_id);
		assert_non_null(hit);
		size_t i = (size_t) (hit - sorted_sent->ids[0]) / 37;
		assert_int_equal(seen[i], 0);
		seen[i] = 1;
		assert_string_equal(line + 3 + 37, KIT_TRACEPARENT);
		got++;
	}
	assert_string_equal(line, "done");
	assert_int_equal(got, KIT_RT_N);
	free(seen);
}

static void
test_round_trip(void **state)
{
	const char *bs;
	char        bs_buf[256];
	KF_NEED(bs, bs_buf);
	char      topic[128], path[700];
	bt        t;
	kit_child c;
	kit_log   sent = { 0 }, got = { 0 };
	(void) state;
	bk_unique(topic, sizeof topic, "weir-test-rt-");
	assert_int_equal(kf_create_topic(bs, topic, 3), 0);
	const char *kv[] = { "kafka.bootstrap.servers", bs, "kafka.linger.ms",
		"5", NULL };
	it_open(&t, kv);
	assert_weir_ok(weir_bridge_register(t.br, weir_backend_kafka()));
	assert_weir_ok(weir_bridge_route_add(
	    t.br, "out", "orders.>", "kafka", topic, "key", NULL));
	assert_weir_ok(weir_bridge_start(t.br));
	snprintf(path, sizeof path, "%s/second.db", t.dir);
	const char *bus[] = { "--bus", NULL };
	kit_spawn(&c, bs, path, topic, KIT_RT_N, bus);
	sent.cap = sent.n = KIT_RT_N;
	sent.ids          = calloc(KIT_RT_N, 37);
	kit_publish_rt(&t, sent.ids);
	BT_WAIT(&t, "out", s.acked == KIT_RT_N);
	kit_distinct(&sent);
	kit_read_bus(&c, &sent);
	assert_int_equal(kit_exit(&c), 0);
	kit_log_file(path, &got);
	assert_int_equal(got.n, KIT_RT_N);
	assert_int_equal(kit_distinct(&got), KIT_RT_N);
	assert_memory_equal(got.ids, sent.ids, (size_t) KIT_RT_N * 37);
	assert_int_equal(got.bad_traceparent, 0);
	assert_int_equal(got.not_from_kafka, 0);
	free(sent.ids);
	free(got.ids);
	bt_close(&t);
}

/* ------------------------------------------------------------------ */
/* (b) SIGKILL 10 times during 100,000 messages                         */
/* ------------------------------------------------------------------ */

#define KIT_KILL_N 100000
#define KIT_KILLS 10

static void
test_sigkill(void **state)
{
	const char *bs;
	char        bs_buf[256];
	KF_NEED(bs, bs_buf);
	char      topic[128], path[700], id[37], instance[160];
	bt        t;
	kit_child c;
	kit_log   got = { 0 };
	unsigned  run = (unsigned) getpid();
	(void) state;
	bk_unique(topic, sizeof topic, "weir-test-kill-");
	assert_int_equal(kf_create_topic(bs, topic, 4), 0);
	assert_int_equal(
	    kf_produce(bs, topic, run, 0, KIT_KILL_N), KIT_KILL_N);
	memset(&t, 0, sizeof t);
	bt_dir(&t);
	snprintf(path, sizeof path, "%s/killed.db", t.dir);
	/* Static membership: a restarted child takes its predecessor's
	 * place in the group at once instead of waiting out its session. */
	snprintf(
	    instance, sizeof instance, "kafka.group.instance.id=%s", topic);
	const char *extra[] = { instance, "kafka.session.timeout.ms=6000",
		"kafka.auto.commit.interval.ms=200", NULL };
	for (int k = 0; k < KIT_KILLS; k++) {
		kit_spawn(&c, bs, path, topic, KIT_KILL_N, extra);
		unsigned long n = kit_count(&c, 0);
		kit_count(&c, n + 3000 + (unsigned long) k * 500);
		kit_kill(&c);
	}
	kit_spawn(&c, bs, path, topic, KIT_KILL_N, extra);
	kit_count(&c, KIT_KILL_N);
	assert_int_equal(kit_exit(&c), 0);
	kit_log_file(path, &got);
	assert_int_equal(got.n, KIT_KILL_N);
	assert_int_equal(kit_distinct(&got), KIT_KILL_N);
	for (size_t i = 0; i < KIT_KILL_N; i++) {
		kf_ce_id(id, run, i);
		assert_true(kit_has(&got, id));
	}
	free(got.ids);
	bt_rmdir(t.dir);
}

/* ------------------------------------------------------------------ */
/* In-process inbound routes                                           */
/* ------------------------------------------------------------------ */

static weir_inlet *
kit_inbound(bt *t, const char *bs, const char *topic)
{
	const char *kv[] = { "kafka.bootstrap.servers", bs,
		"kafka.auto.commit.interval.ms", "200",
		getenv("KIT_DEBUG") ? "kafka.debug" : NULL,
		getenv("KIT_DEBUG"), NULL };
	it_open(t, kv);
	assert_weir_ok(
	    weir_bridge_register_source(t->br, weir_source_kafka()));
	/* A group of its own: members of other runs, or killed ones not
	 * yet timed out, would hold up its rebalances. */
	weir_bridge_inbound_opts o =
	    WEIR_STRUCT_INIT(weir_bridge_inbound_opts);
	o.group = topic;
	assert_weir_ok(weir_bridge_inbound_add(
	    t->br, "in", "kafka", topic, "{topic}", &o));
	assert_weir_ok(weir_bridge_start(t->br));
	return weir__bridge_inlet(t->br, "in");
}

/* Waits until @p *v reaches @p n, for up to KIT_DEADLINE_MS: a group
 * join or rebalance takes seconds (heartbeats, two phases). */
static void
kit_wait_u64(
    weir_inlet *in, atomic_uint_least64_t *v, uint64_t n, const char *what)
{
	int64_t end = wt_now_ms() + KIT_DEADLINE_MS;
	while (atomic_load(v) < n) {
		if (wt_now_ms() > end)
			fail_msg("waited %d ms for %s >= %llu (at %llu; "
			         "received %llu, duplicates %llu, dead %llu, "
			         "fetch errors %llu, the last: %s)",
			    KIT_DEADLINE_MS, what, (unsigned long long) n,
			    (unsigned long long) atomic_load(v),
			    (unsigned long long) atomic_load(&in->received),
			    (unsigned long long) atomic_load(&in->duplicates),
			    (unsigned long long) atomic_load(&in->dead),
			    (unsigned long long) atomic_load(
			        &in->fetch_errors),
			    in->ops->errmsg(in->state));
		wt_sleep_ms(2);
	}
}

#define kit_wait(in, field, n) \
	kit_wait_u64((in), &(in)->field, (n), #in "." #field)

/* ------------------------------------------------------------------ */
/* (c) A poison message                                                */
/* ------------------------------------------------------------------ */

/* Produces "0", then "1" with 70 headers (an event takes 64), then
 * "2". */
static void
kit_produce_poison(const char *bs, const char *topic)
{
	rd_kafka_t *rk = kf_client(bs, RD_KAFKA_PRODUCER);
	assert_non_null(rk);
	for (int i = 0; i < 3; i++) {
		rd_kafka_headers_t *h = rd_kafka_headers_new(70);
		char                v[4];
		snprintf(v, sizeof v, "%d", i);
		for (int j = 0; i == 1 && j < 70; j++)
			rd_kafka_header_add(h, "x-many", -1, "v", 1);
		assert_int_equal(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
		                     RD_KAFKA_V_VALUE(v, 1),
		                     RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		                     RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END),
		    0);
	}
	assert_int_equal(rd_kafka_flush(rk, 30000), 0);
	rd_kafka_destroy(rk);
}

typedef struct kit_dead {
	int  n;
	char message[600];
} kit_dead;

static weir_err
kit_dead_fn(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	kit_dead *d = arg;
	(void) st;
	d->n++;
	snprintf(d->message, sizeof d->message, "%s", dl->message);
	return WEIR_OK;
}

static void
test_poison(void **state)
{
	const char *bs;
	char        bs_buf[256];
	KF_NEED(bs, bs_buf);
	char     topic[128], coord[200];
	bt       t;
	kit_dead d = { 0 };
	(void) state;
	bk_unique(topic, sizeof topic, "weir-test-poison-");
	assert_int_equal(kf_create_topic(bs, topic, 1), 0);
	kit_produce_poison(bs, topic);
	weir_inlet *in = kit_inbound(&t, bs, topic);
	kit_wait(in, appended, 2);
	kit_wait(in, dead, 1);
	assert_int_equal(it_log_count(&t, ">"), 2);
	assert_weir_ok(weir_store_dead_list(t.st, "in", 0, kit_dead_fn, &d));
	assert_int_equal(d.n, 1);
	snprintf(coord, sizeof coord, "kafka:%s/0/1", topic);
	assert_non_null(strstr(d.message, coord));
	bt_close(&t);
}

/* ------------------------------------------------------------------ */
/* (d) A member joins and leaves mid-stream                            */
/* ------------------------------------------------------------------ */

#define KIT_REB_CHUNK 500
#define KIT_REB_PACE_MS 100 /* the producer's rate: a chunk per pace */

typedef struct kit_reb {
	const char         *bs, *topic;
	weir_inlet *_Atomic a, *_Atomic b;
	atomic_uint_least64_t produced;
	atomic_uint_least64_t b_left; /* b's appends, once b has left */
	atomic_int            stop;
	unsigned              run;
} kit_reb;

static uint64_t
kit_reb_taken(kit_reb *r)
{
	weir_inlet *a = atomic_load(&r->a), *b = atomic_load(&r->b);
	return (a ? atomic_load(&a->appended) : 0) +
	    (b ? atomic_load(&b->appended) : atomic_load(&r->b_left));
}

/* Produces a chunk per KIT_REB_PACE_MS (a steady stream, so that a
 * member joins and leaves while it flows; the pace is the load, not a
 * wait for a condition), never more than four chunks ahead of the
 * members, until told to stop. */
static void *
kit_reb_producer(void *arg)
{
	kit_reb *r = arg;
	for (size_t i = 0; !atomic_load(&r->stop); i += KIT_REB_CHUNK) {
		int64_t end = wt_now_ms() + KIT_DEADLINE_MS;
		while (kit_reb_taken(r) + 4 * KIT_REB_CHUNK < i &&
		    wt_now_ms() < end)
			wt_sleep_ms(2);
		if (kf_produce(r->bs, r->topic, r->run, i, KIT_REB_CHUNK) !=
		    KIT_REB_CHUNK)
			break;
		atomic_fetch_add(&r->produced, KIT_REB_CHUNK);
		wt_sleep_ms(KIT_REB_PACE_MS);
	}
	return NULL;
}

static void
test_rebalance(void **state)
{
	const char *bs;
	char        bs_buf[256];
	KF_NEED(bs, bs_buf);
	char      topic[128];
	bt        a, b;
	kit_log   la = { 0 }, lb = { 0 };
	kit_reb   r = { .bs = bs, .run = (unsigned) getpid() + 1 };
	pthread_t th;
	(void) state;
	bk_unique(topic, sizeof topic, "weir-test-reb-");
	r.topic = topic;
	assert_int_equal(kf_create_topic(bs, topic, 6), 0);
	atomic_store(&r.a, kit_inbound(&a, bs, topic));
	assert_int_equal(pthread_create(&th, NULL, kit_reb_producer, &r), 0);
	kit_wait(r.a, appended, 3000);
	atomic_store(&r.b, kit_inbound(&b, bs, topic)); /* joins */
	kit_wait(r.b, appended, 2000);
	weir_bridge_stop(b.br); /* leaves */
	kit_log_read(b.st, &lb);
	atomic_store(&r.b_left, atomic_load(&r.b->appended));
	atomic_store(&r.b, NULL);
	kit_wait(r.a, appended, atomic_load(&r.a->appended) + 3000);
	atomic_store(&r.stop, 1);
	pthread_join(th, NULL);
	uint64_t n = atomic_load(&r.produced);
	kit_wait(r.a, appended, n - lb.n);
	weir_bridge_stop(a.br);
	kit_log_read(a.st, &la);
	/* Together exactly once: nothing lost, nothing in both logs. */
	assert_int_equal(la.n + lb.n, n);
	la.ids = realloc(la.ids, (la.n + lb.n) * 37);
	memcpy(la.ids + la.n, lb.ids, lb.n * 37);
	la.n += lb.n;
	assert_int_equal(kit_distinct(&la), n);
	free(la.ids);
	free(lb.ids);
	bt_close(&b);
	bt_close(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_poison),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_rebalance),
		cmocka_unit_test(test_sigkill),
	};
	if (getenv("KIT_ONLY") != NULL)
		cmocka_set_test_filter(getenv("KIT_ONLY"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
