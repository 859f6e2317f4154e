/*
 * The relay's rare paths (issue 12, item 13): a backend's synchronous
 * errors and EAGAIN, forged, stale and late acknowledgements, a direct
 * route stopped with events queued, and failures of what the relay and
 * the bridge call (the destination's rendering, the store's cursor and
 * reads, thread creation). The backend is this file's "stub", whose
 * publish answers from a script and whose acknowledgements the test
 * sends itself; the failing calls are wrapped at link time
 * (-Wl,--wrap=..., tests/bridge/CMakeLists.txt) and fail only while a
 * test arms them.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "fixture.h"

#include "bridge/inbound.h"
#include "bridge/template.h"
#include "store/cursor.h"

/* ---- link-time wraps ------------------------------------------------ */

static atomic_int  render_fail;   /* renderings to fail */
static atomic_int  strdup_fail;   /* copies of strdup_target to fail */
static const char *strdup_target; /* set before arming */
static atomic_int  copy_fail;     /* weir_event_new with a seq to fail */
static atomic_int  cursor_get_fail, cursor_set_fail, last_seq_fail;
static atomic_int  read_fail;
/* queued cursor writes to refuse at once, and to fail at the commit */
static atomic_int cursor_async_fail, cursor_async_late_fail;
static atomic_int thread_fail_at; /* n-th pthread_create from now fails */

/* 1 when the armed counter @p c is positive (and takes one). */
static int
take(atomic_int *c)
{
	int n = atomic_load(c);
	while (n > 0 && !atomic_compare_exchange_weak(c, &n, n - 1))
		;
	return n > 0;
}

/* Declares __real_<fn> and defines __wrap_<fn>, which returns @p failed
 * while the counter @p c is armed (take), else calls the real one. */
#define EDGE_WRAP(type, fn, c, failed, params, args) \
	type __real_##fn params;                     \
	type __wrap_##fn params;                     \
	type __wrap_##fn params                      \
	{                                            \
		if (take(&(c)))                      \
			return failed;               \
		return __real_##fn args;             \
	}

EDGE_WRAP(char *, weir__template_render, render_fail, NULL,
    (const weir__template *t, const char *topic), (t, topic))
EDGE_WRAP(weir_err, weir_store_cursor_get, cursor_get_fail, WEIR_EIO,
    (weir_store * st, const char *name, uint64_t *seq), (st, name, seq))
EDGE_WRAP(weir_err, weir_store_cursor_set, cursor_set_fail, WEIR_EIO,
    (weir_store * st, const char *name, uint64_t seq), (st, name, seq))
EDGE_WRAP(weir_err, weir_store_last_seq, last_seq_fail, WEIR_EIO,
    (weir_store * st, uint64_t *seq), (st, seq))
EDGE_WRAP(weir_err, weir_store_read, read_fail, WEIR_EIO,
    (weir_store * st, const weir_store_filter *f, weir_store_read_fn fn,
        void *arg),
    (st, f, fn, arg))

/* Fails only the copies of strdup_target. */
char *__real_weir__strdup(const char *s);
char *__wrap_weir__strdup(const char *s);
char *
__wrap_weir__strdup(const char *s)
{
	if (s != NULL && strdup_target != NULL &&
	    strcmp(s, strdup_target) == 0 && take(&strdup_fail))
		return NULL;
	return __real_weir__strdup(s);
}

weir_err __real_weir__store_cursor_set_async(weir_store *st, const char *name,
    uint64_t seq, weir__store_cursor_fn done, void *arg);
weir_err __wrap_weir__store_cursor_set_async(weir_store *st, const char *name,
    uint64_t seq, weir__store_cursor_fn done, void *arg);
weir_err
__wrap_weir__store_cursor_set_async(weir_store *st, const char *name,
    uint64_t seq, weir__store_cursor_fn done, void *arg)
{
	if (take(&cursor_async_fail))
		return WEIR_EIO;
	if (take(&cursor_async_late_fail)) {
		done(st, WEIR_EIO, seq, arg); /* as the writer would */
		return WEIR_OK;
	}
	return __real_weir__store_cursor_set_async(st, name, seq, done, arg);
}

/* Fails only copies (an init with a seq), not new events. */
weir_err __real_weir_event_new(weir_event **out, const weir_event_init *init);
weir_err __wrap_weir_event_new(weir_event **out, const weir_event_init *init);
weir_err
__wrap_weir_event_new(weir_event **out, const weir_event_init *init)
{
	if (init != NULL && init->seq != 0 && take(&copy_fail))
		return WEIR_ENOMEM;
	return __real_weir_event_new(out, init);
}

/* Fails the n-th call from arming, letting the ones before through. */
int __real_pthread_create(
    pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);
int __wrap_pthread_create(
    pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);
int
__wrap_pthread_create(
    pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg)
{
	int n = atomic_load(&thread_fail_at);
	if (n > 0) {
		atomic_store(&thread_fail_at, n - 1);
		if (n == 1)
			return 11; /* EAGAIN */
	}
	return __real_pthread_create(t, a, fn, arg);
}

/* ---- the stub backend ----------------------------------------------- */

#define STUB_MAX 64

typedef struct stub {
	pthread_mutex_t lock;
	weir_sink      *sink;
	weir_err        script[16]; /* answers of the next publish calls */
	size_t          nscript, pos;
	uint64_t        tokens[STUB_MAX]; /* accepted, in order */
	uint64_t        seqs[STUB_MAX];   /* their store seqs */
	size_t          ntok;
	uint64_t        calls;
} stub;

static int stub_ordered; /* promise WEIR_BACKEND_CAP_ORDERED */

static weir_err
stub_init(void *state, const weir_bridge_config *cfg, weir_sink *sink)
{
	(void) cfg;
	stub *s = state;
	pthread_mutex_init(&s->lock, NULL);
	s->sink = sink;
	return WEIR_OK;
}

static void
stub_fini(void *state)
{
	pthread_mutex_destroy(&((stub *) state)->lock);
}

static weir_err
stub_start(void *state)
{
	(void) state;
	return WEIR_OK;
}

static void
stub_stop(void *state)
{
	(void) state;
}

static weir_err
stub_publish(void *state, const weir_bridge_msg *msg)
{
	stub *s = state;
	pthread_mutex_lock(&s->lock);
	s->calls++;
	weir_err e = s->pos < s->nscript ? s->script[s->pos++] : WEIR_OK;
	if (e == WEIR_OK && s->ntok < STUB_MAX) {
		s->seqs[s->ntok]     = msg->seq;
		s->tokens[s->ntok++] = msg->token;
	}
	pthread_mutex_unlock(&s->lock);
	return e;
}

static void
stub_poll(void *state, int timeout_ms)
{
	(void) state;
	(void) timeout_ms;
}

static uint32_t
stub_caps(void *state)
{
	(void) state;
	return stub_ordered ? WEIR_BACKEND_CAP_ORDERED : 0;
}

static const char *
stub_errmsg(void *state)
{
	(void) state;
	return "stub: refused";
}
static const weir_backend_ops stub_ops = { .version = WEIR_BACKEND_V2,
	.scheme                                     = "stub",
	.state_size                                 = sizeof(stub),
	.init                                       = stub_init,
	.fini                                       = stub_fini,
	.start                                      = stub_start,
	.stop                                       = stub_stop,
	.publish                                    = stub_publish,
	.poll                                       = stub_poll,
	.caps                                       = stub_caps };

/* "stubm": the same with an errmsg, and version 2 without caps (no
 * promise of order). */
static const weir_backend_ops stubm_ops = { .version = WEIR_BACKEND_V2,
	.scheme                                      = "stubm",
	.state_size                                  = sizeof(stub),
	.init                                        = stub_init,
	.fini                                        = stub_fini,
	.start                                       = stub_start,
	.stop                                        = stub_stop,
	.publish                                     = stub_publish,
	.poll                                        = stub_poll,
	.errmsg                                      = stub_errmsg };

static stub *
stub_of(bt *t)
{
	return weir__bridge_backend_state(t->br, "stub");
}

static void
stub_script(stub *s, const weir_err *codes, size_t n)
{
	pthread_mutex_lock(&s->lock);
	memcpy(s->script, codes, n * sizeof *codes);
	s->nscript = n;
	s->pos     = 0;
	pthread_mutex_unlock(&s->lock);
}

static size_t
stub_ntok(stub *s)
{
	pthread_mutex_lock(&s->lock);
	size_t n = s->ntok;
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* The token of the @p i-th accepted publish, once there is one. */
static uint64_t
stub_token(stub *s, size_t i)
{
	wt_wait_until(stub_ntok(s) > i);
	pthread_mutex_lock(&s->lock);
	uint64_t tok = s->tokens[i];
	pthread_mutex_unlock(&s->lock);
	return tok;
}

/* A bridge with mem, stub and stubm and route "r" (a.> to @p scheme,
 * destination @p tmpl) with @p opts, not started. */
static void
edge_open_tmpl(bt *t, const char *const *kv, const char *scheme,
    const char *tmpl, const weir_bridge_route_opts *opts)
{
	bt_open(t, kv);
	assert_weir_ok(weir_bridge_register(t->br, &stub_ops));
	assert_weir_ok(weir_bridge_register(t->br, &stubm_ops));
	assert_weir_ok(weir_bridge_route_add(
	    t->br, "r", "a.>", scheme, tmpl, "key", opts));
}

/* The same with destination "x". */
static void
edge_open(bt *t, const char *const *kv, const char *scheme,
    const weir_bridge_route_opts *opts)
{
	edge_open_tmpl(t, kv, scheme, "x", opts);
}

/* edge_open_tmpl over the stub, which promises order if @p ordered,
 * started; returns the stub. edge_close undoes it. */
static stub *
edge_stub(bt *t, const char *const *kv, int ordered, const char *tmpl,
    const weir_bridge_route_opts *opts)
{
	stub_ordered = ordered;
	edge_open_tmpl(t, kv, "stub", tmpl, opts);
	stub *sb = stub_of(t);
	assert_weir_ok(weir_bridge_start(t->br));
	return sb;
}

static void
edge_close(bt *t)
{
	bt_close(t);
	stub_ordered = 0;
}

/* Retries at once, without limit. */
static const char *const quick_retry[] = { "bridge.retry.initial_ms", "1",
	"bridge.retry.max_ms", "2", NULL };

/* Every dead letter of route "r": messages joined by '|', and codes. */
typedef struct dead_all {
	char     text[1024];
	weir_err codes[8];
	uint64_t seqs[8];
	size_t   n;
} dead_all;

static weir_err
dead_all_fn(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	(void) st;
	dead_all *d = arg;
	size_t    l = strlen(d->text);
	snprintf(d->text + l, sizeof d->text - l, "%s|", dl->message);
	if (d->n < 8) {
		d->codes[d->n] = dl->code;
		d->seqs[d->n]  = weir_event_seq(dl->ev);
	}
	d->n++;
	return WEIR_OK;
}

static dead_all
dead_list(bt *t)
{
	dead_all d = { 0 };
	assert_weir_ok(weir_store_dead_list(t->st, "r", 0, dead_all_fn, &d));
	return d;
}

static const char *const fast_retry[] = { "bridge.retry.initial_ms", "1",
	"bridge.retry.max_ms", "2", "bridge.retry.max_attempts", "1", NULL };

/* ---- synchronous publish errors -------------------------------------- */

/*
 * e0 goes out (held unacknowledged), e1 is refused as invalid (dead at
 * once, with weir_strerror's text: the stub has no errmsg), e2 meets a
 * full local queue (EAGAIN: tried again, not an attempt), e3 a
 * retriable error with one attempt allowed (dead, "retries exhausted").
 * An ordered sink takes the pass that starts at `fresh`, which then
 * steps over e1's finished slot behind e0 in flight; an unordered one
 * the keyed pass.
 */
static void
run_sync_errors(int ordered)
{
	bt             t;
	stub          *sb      = edge_stub(&t, fast_retry, ordered, "x", NULL);
	const weir_err codes[] = { WEIR_OK, WEIR_EINVAL, WEIR_EAGAIN, WEIR_OK,
		WEIR_EIO };
	stub_script(sb, codes, 5);
	bt_publish(&t, "a.b", "k0", 0);
	uint64_t tok0 = stub_token(sb, 0);
	bt_publish(&t, "a.b", "k1", 1);
	BT_WAIT(&t, "r", s.dead == 1);
	bt_publish(&t, "a.b", "k2", 2);
	uint64_t tok2 = stub_token(sb, 1);
	bt_publish(&t, "a.b", "k3", 3);
	BT_WAIT(&t, "r", s.dead == 2);
	weir_sink_ack(sb->sink, tok0, WEIR_OK, 0, NULL);
	weir_sink_ack(sb->sink, tok2, WEIR_OK, 0, NULL);
	BT_WAIT(&t, "r", s.acked == 2 && s.backlog == 0);
	weir_bridge_route_stats st = bt_stats(&t, "r");
	assert_int_equal(st.sent, 2);
	assert_int_equal(st.retried, 0); /* EAGAIN is no attempt */
	pthread_mutex_lock(&sb->lock);
	assert_int_equal(sb->calls, 5);
	pthread_mutex_unlock(&sb->lock);
	dead_all d = dead_list(&t);
	assert_int_equal(d.n, 2);
	assert_int_equal(d.codes[0], WEIR_EINVAL);
	assert_int_equal(d.codes[1], WEIR_EIO);
	char want[512];
	snprintf(want, sizeof want,
	    "%s|retries exhausted after 1 attempts: %s|",
	    weir_strerror(WEIR_EINVAL), weir_strerror(WEIR_EIO));
	assert_string_equal(d.text, want);
	edge_close(&t);
}

static void
test_sync_errors_keyed(void **state)
{
	(void) state;
	run_sync_errors(0);
}

static void
test_sync_errors_ordered(void **state)
{
	(void) state;
	run_sync_errors(1);
}

/* The permanent errors a publish call may return, with the backend's
 * errmsg as the dead letter's text; a version 2 table without caps
 * promises no order. */
static void
test_sync_permanent_errmsg(void **state)
{
	(void) state;
	bt t;
	edge_open(&t, NULL, "stubm", NULL);
	stub *sb = weir__bridge_backend_state(t.br, "stubm");
	assert_weir_ok(weir_bridge_start(t.br));
	assert_int_equal(weir__bridge_route(t.br, "r")->ordered, 0);
	const weir_err codes[] = { WEIR_ETOOBIG, WEIR_EBADTOPIC,
		WEIR_ENOTSUP };
	stub_script(sb, codes, 3);
	for (int i = 0; i < 3; i++)
		bt_publish(&t, "a.b", "k", i);
	BT_WAIT(&t, "r", s.dead == 3 && s.backlog == 0);
	dead_all d = dead_list(&t);
	assert_int_equal(d.n, 3);
	assert_string_equal(
	    d.text, "stub: refused|stub: refused|stub: refused|");
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(d.codes[i], codes[i]);
	assert_int_equal(bt_stats(&t, "r").sent, 0);
	bt_close(&t);
}

/* Events that came in from the route's own broker are not sent back
 * (counted as echoes), even behind one in flight, unless marked
 * weir-echo. */
/* Publishes an event on @p topic that came in from @p origin, marked
 * weir-echo if @p echo. */
static void
publish_from(bt *t, const char *topic, const char *origin, int echo)
{
	weir_header     h[2] = { { WEIR__HDR_ORIGIN, origin, strlen(origin) },
		    { WEIR__HDR_ECHO, "1", 1 } };
	weir_event     *ev;
	weir_event_init init = WEIR_STRUCT_INIT(weir_event_init);
	init.topic           = topic;
	init.headers         = h;
	init.header_count    = echo ? 2 : 1;
	assert_weir_ok(weir_event_new(&ev, &init));
	assert_weir_ok(weir_publish_event(t->bus, ev));
	weir_event_release(ev);
}

static void
test_echo_in_window(void **state)
{
	(void) state;
	bt    t;
	stub *sb = edge_stub(&t, NULL, 0, "x", NULL);
	bt_publish(&t, "a.b", "k", 0);
	uint64_t tok0 = stub_token(sb, 0);
	publish_from(&t, "a.b", "stub", 0);  /* an echo: not sent */
	publish_from(&t, "a.b", "stub", 1);  /* marked weir-echo: sent */
	publish_from(&t, "a.b", "kafka", 0); /* another broker's: sent */
	uint64_t     tok1 = stub_token(sb, 1);
	uint64_t     tok2 = stub_token(sb, 2);
	weir__route *rt   = weir__bridge_route(t.br, "r");
	assert_int_equal(atomic_load(&rt->echoes), 1);
	weir_sink_ack(sb->sink, tok0, WEIR_OK, 0, NULL);
	weir_sink_ack(sb->sink, tok1, WEIR_OK, 0, NULL);
	weir_sink_ack(sb->sink, tok2, WEIR_OK, 0, NULL);
	BT_WAIT(&t, "r", s.acked == 3 && s.backlog == 0);
	assert_int_equal(bt_stats(&t, "r").cursor, 4);
	pthread_mutex_lock(&sb->lock);
	assert_int_equal(sb->ntok, 3);
	assert_int_equal(sb->seqs[1], 3);
	assert_int_equal(sb->seqs[2], 4);
	pthread_mutex_unlock(&sb->lock);
	// A route that allows echoes sends one from its own broker.
	weir_bridge_stop(t.br);
	weir_bridge_route_opts o = WEIR_STRUCT_INIT(weir_bridge_route_opts);
	o.echo                   = 1;
	assert_weir_ok(
	    weir_bridge_route_add(t.br, "re", "e.>", "stub", "x", "key", &o));
	assert_weir_ok(weir_bridge_start(t.br));
	publish_from(&t, "e.b", "stub", 0);
	weir_sink_ack(sb->sink, stub_token(sb, 3), WEIR_OK, 0, NULL);
	BT_WAIT(&t, "re", s.acked == 1 && s.backlog == 0);
	assert_int_equal(
	    atomic_load(&weir__bridge_route(t.br, "re")->echoes), 0);
	bt_close(&t);
}

/* An ordered sink with one destination: a retriable failure makes the
 * key serial (the pass checks keys until the re-send is acknowledged). */
static void
test_ordered_serial_one_dest(void **state)
{
	(void) state;
	bt    t;
	stub *sb = edge_stub(&t, quick_retry, 1, "x", NULL);
	assert_int_equal(weir__bridge_route(t.br, "r")->one_dest, 1);
	bt_publish(&t, "a.b", "k", 0);
	weir_sink_ack(sb->sink, stub_token(sb, 0), WEIR_EIO, 1, NULL);
	weir_sink_ack(sb->sink, stub_token(sb, 1), WEIR_OK, 0, NULL);
	BT_WAIT(&t, "r", s.acked == 1 && s.backlog == 0);
	weir_bridge_route_stats st = bt_stats(&t, "r");
	assert_int_equal(st.retried, 1);
	assert_int_equal(st.sent, 2);
	assert_int_equal(weir__bridge_route(t.br, "r")->serials, 0);
	edge_close(&t);
}

/* An ordered sink: two topics of one key whose destinations render
 * alike go out together; a retriable failure makes the key serial, so
 * its next event waits for the re-send's acknowledgement. */
static void
test_ordered_same_dest_and_serial(void **state)
{
	(void) state;
	bt           t;
	stub        *sb = edge_stub(&t, quick_retry, 1, "{1}", NULL);
	weir__route *rt = weir__bridge_route(t.br, "r");
	assert_int_equal(rt->ordered, 1);
	assert_int_equal(rt->one_dest, 0);
	bt_publish(&t, "a.b", "k", 0);
	bt_publish(&t, "a.c", "k", 1); /* destination "a" too */
	uint64_t tok0 = stub_token(sb, 0);
	uint64_t tok1 = stub_token(sb, 1); /* before tok0's ack */
	weir_sink_ack(sb->sink, tok0, WEIR_EIO, 1, "later");
	uint64_t tok2 = stub_token(sb, 2); /* seq 1 again */
	weir_sink_ack(sb->sink, tok1, WEIR_OK, 0, NULL);
	bt_publish(&t, "a.b", "k", 2);
	BT_WAIT(&t, "r",
	    s.acked == 1 && s.backlog == 3 && bt_intake_idle(&t, "r"));
	weir_sink_ack(sb->sink, tok2, WEIR_OK, 0, NULL);
	uint64_t tok3 = stub_token(sb, 3);
	weir_sink_ack(sb->sink, tok3, WEIR_OK, 0, NULL);
	BT_WAIT(&t, "r", s.acked == 3 && s.backlog == 0);
	pthread_mutex_lock(&sb->lock);
	assert_int_equal(sb->ntok, 4);
	assert_int_equal(sb->seqs[0], 1);
	assert_int_equal(sb->seqs[1], 2);
	assert_int_equal(sb->seqs[2], 1);
	assert_int_equal(sb->seqs[3], 3);
	pthread_mutex_unlock(&sb->lock);
	weir_bridge_route_stats st = bt_stats(&t, "r");
	assert_int_equal(st.retried, 1);
	assert_int_equal(st.dead, 0);
	edge_close(&t);
}

/* An ordered sink behind an open breaker: nothing goes out until the
 * cool-down ends, then one probe, then the rest. */
static void
test_ordered_breaker(void **state)
{
	(void) state;
	bt                t;
	const char *const kv[]    = { "bridge.retry.initial_ms", "1",
		   "bridge.retry.max_ms", "2", "bridge.retry.max_attempts", "1",
		   "bridge.breaker.threshold", "1", "bridge.breaker.cooldown_ms",
		   "300", NULL };
	stub             *sb      = edge_stub(&t, kv, 1, "x", NULL);
	const weir_err    codes[] = { WEIR_EIO };
	stub_script(sb, codes, 1);
	bt_publish(&t, "a.b", "k0", 0);
	BT_WAIT(&t, "r", s.dead == 1 && s.breaker_opens == 1);
	bt_publish(&t, "a.b", "k1", 1);
	bt_publish(&t, "a.b", "k2", 2);
	uint64_t probe = stub_token(sb, 0);
	assert_int_equal(stub_ntok(sb), 1);
	weir_sink_ack(sb->sink, probe, WEIR_OK, 0, NULL);
	uint64_t tok = stub_token(sb, 1);
	weir_sink_ack(sb->sink, tok, WEIR_OK, 0, NULL);
	BT_WAIT(&t, "r", s.acked == 2 && s.backlog == 0);
	weir_bridge_route_stats st = bt_stats(&t, "r");
	assert_int_equal(st.breaker, WEIR_BRIDGE_BREAKER_CLOSED);
	assert_int_equal(st.breaker_opens, 1);
	assert_int_equal(st.dead, 1);
	edge_close(&t);
}

/* ---- acknowledgements that are not the relay's ------------------------ */

static void
test_forged_and_stale_acks(void **state)
{
	(void) state;
	bt                     t;
	weir_bridge_route_opts o = WEIR_STRUCT_INIT(weir_bridge_route_opts);
	o.window                 = 4;
	stub *sb                 = edge_stub(&t, NULL, 0, "x", &o);
	bt_publish(&t, "a.b", "k", 0);
	uint64_t tok   = stub_token(sb, 0);
	uint64_t route = tok & ~((UINT64_C(1) << 48) - 1);
	weir_sink_ack(NULL, tok, WEIR_OK, 0, NULL); /* no sink */
	weir_sink_ack(sb->sink, tok & ((UINT64_C(1) << 48) - 1), WEIR_OK, 0,
	    NULL); /* route 0 */
	weir_sink_ack(sb->sink, (UINT64_C(9) << 48) | (tok & 0xffff), WEIR_OK,
	    0, NULL);                                        /* no route 9 */
	weir_sink_ack(sb->sink, route | 7, WEIR_OK, 0, "x"); /* pos 7 >= 4 */
	weir_sink_ack(sb->sink, tok ^ (UINT64_C(1) << 16), WEIR_EIO, 1,
	    "stale"); /* an older send's counter */
	weir_sink_ack(sb->sink, tok, WEIR_OK, 0, NULL);
	BT_WAIT(&t, "r", s.acked == 1 && s.backlog == 0);
	// The same token again, then a second event: acked 2 (not 3) shows
	// the duplicate, queued before, was ignored.
	weir_sink_ack(sb->sink, tok, WEIR_OK, 0, NULL);
	bt_publish(&t, "a.b", "k", 1);
	weir_sink_ack(sb->sink, stub_token(sb, 1), WEIR_OK, 0, NULL);
	BT_WAIT(&t, "r", s.acked == 2 && s.backlog == 0);
	weir_bridge_route_stats st = bt_stats(&t, "r");
	assert_int_equal(st.acked, 2);
	assert_int_equal(st.sent, 2);
	assert_int_equal(st.dead, 0);
	assert_int_equal(st.retried, 0);
	assert_int_equal(st.breaker, WEIR_BRIDGE_BREAKER_CLOSED);
	// An acknowledgement after the stop waits in the route's queue: a
	// restart drops it (nothing counted), and so does destroy.
	weir_bridge_stop(t.br);
	weir_sink_ack(sb->sink, tok, WEIR_EINVAL, 0, "late");
	assert_weir_ok(weir_bridge_start(t.br));
	bt_publish(&t, "a.b", "k", 2);
	weir_sink_ack(sb->sink, stub_token(sb, 2), WEIR_OK, 0, NULL);
	BT_WAIT(&t, "r", s.acked == 3 && s.backlog == 0);
	assert_int_equal(bt_stats(&t, "r").dead, 0);
	weir_bridge_stop(t.br);
	weir_sink_ack(sb->sink, tok, WEIR_EINVAL, 0, "late again");
	assert_int_equal(weir__bridge_route(t.br, "r")->nacks, 1);
	bt_close(&t); /* frees the queued one (LeakSanitizer) */
}

/* ---- direct mode ------------------------------------------------------ */

/* A direct route stopped with one event in flight and two in its ring:
 * all three are gone and counted dead. */
static void
test_direct_stop_with_ring(void **state)
{
	(void) state;
	bt                     t;
	weir_bridge_route_opts o = WEIR_STRUCT_INIT(weir_bridge_route_opts);
	o.direct                 = 1;
	o.window                 = 1;
	stub *sb                 = edge_stub(&t, NULL, 0, "x", &o);
	for (int i = 0; i < 3; i++)
		bt_publish(&t, "a.b", "k", i);
	(void) stub_token(sb, 0);
	BT_WAIT(&t, "r", s.backlog == 3 && bt_intake_idle(&t, "r"));
	weir__route *rt = weir__bridge_route(t.br, "r");
	pthread_mutex_lock(&rt->lock);
	size_t ring = rt->ring_count;
	pthread_mutex_unlock(&rt->lock);
	assert_int_equal(ring, 2);
	weir_bridge_stop(t.br);
	weir_bridge_route_stats st = bt_stats(&t, "r");
	assert_int_equal(st.dead, 3);
	assert_int_equal(st.backlog, 0);
	assert_int_equal(st.acked, 0);
	assert_int_equal(stub_ntok(sb), 1);
	bt_close(&t);
}

/* ---- the destination cannot be made (no memory) ----------------------- */

/* Store mode, from the handoff: the event is read again from the store
 * and goes out; nothing is dead. */
static void
test_dest_fail_handoff(void **state)
{
	(void) state;
	bt t;
	edge_open(&t, NULL, "mem", NULL);
	assert_weir_ok(weir_bridge_start(t.br));
	bt_publish(&t, "a.b", "k", 0);
	BT_WAIT(&t, "r", s.acked == 1 && s.backlog == 0);
	weir__route *rt  = weir__bridge_route(t.br, "r");
	uint64_t     st0 = atomic_load(&rt->from_store);
	atomic_store(&render_fail, 1);
	bt_publish(&t, "a.c", "k", 1); /* a new topic: rendered */
	BT_WAIT(&t, "r", s.acked == 2 && s.backlog == 0);
	assert_int_equal(atomic_load(&render_fail), 0);
	assert_int_equal(bt_stats(&t, "r").dead, 0);
	assert_true(atomic_load(&rt->from_store) > st0);
	// The topic's copy fails instead (the rendering kept for a topic).
	strdup_target = "a.b";
	atomic_store(&strdup_fail, 1);
	bt_publish(&t, "a.b", "k", 2);
	BT_WAIT(&t, "r", s.acked == 3 && s.backlog == 0);
	assert_int_equal(atomic_load(&strdup_fail), 0);
	strdup_target = NULL;
	assert_int_equal(bt_stats(&t, "r").dead, 0);
	assert_int_equal(weir__mem_records(t.mem, NULL, 0), 3);
	bt_close(&t);
}

/* Store mode without a handoff: the failing read is tried again. */
static void
test_dest_fail_store_read(void **state)
{
	(void) state;
	bt                t;
	const char *const kv[] = { "bridge.handoff_bytes", "0", NULL };
	edge_open(&t, kv, "mem", NULL);
	assert_weir_ok(weir_bridge_start(t.br));
	atomic_store(&render_fail, 1);
	bt_publish(&t, "a.b", "k", 0);
	BT_WAIT(&t, "r", s.acked == 1 && s.backlog == 0);
	assert_int_equal(atomic_load(&render_fail), 0);
	weir_bridge_route_stats st = bt_stats(&t, "r");
	assert_int_equal(st.dead, 0);
	assert_int_equal(st.sent, 1);
	assert_int_equal(
	    atomic_load(&weir__bridge_route(t.br, "r")->from_memory), 0);
	bt_close(&t);
}

/* Direct mode: the event is dropped and counted dead. */
static void
test_dest_fail_direct(void **state)
{
	(void) state;
	bt                     t;
	weir_bridge_route_opts o = WEIR_STRUCT_INIT(weir_bridge_route_opts);
	o.direct                 = 1;
	edge_open(&t, NULL, "mem", &o);
	assert_weir_ok(weir_bridge_start(t.br));
	atomic_store(&render_fail, 1);
	bt_publish(&t, "a.b", "k", 0);
	BT_WAIT(&t, "r", s.dead == 1 && s.backlog == 0);
	bt_publish(&t, "a.b", "k", 1);
	BT_WAIT(&t, "r", s.acked == 1 && s.backlog == 0);
	assert_int_equal(bt_stats(&t, "r").dead, 1);
	assert_int_equal(weir__mem_records(t.mem, NULL, 0), 1);
	bt_close(&t);
}

/* ---- dead letters of stored events ------------------------------------- */

/* Read from the store, the slot's event is the stored one (its seq);
 * from the handoff it is copied with the seq, and without memory for
 * the copy the dead letter gets the event as published. */
static void
test_dead_letter_event(void **state)
{
	(void) state;
	for (int handoff = 0; handoff < 2; handoff++) {
		bt                t;
		const char *const kv[] = { "bridge.handoff_bytes",
			handoff ? "65536" : "0", NULL };
		edge_open(&t, kv, "mem", NULL);
		assert_weir_ok(weir_bridge_start(t.br));
		weir__mem_fail_nth(t.mem, 1, 0, "refused");
		bt_publish(&t, "a.b", "k", 0);
		BT_WAIT(&t, "r", s.dead == 1);
		weir__mem_fail_nth(t.mem, 1, 0, "refused again");
		atomic_store(&copy_fail, handoff);
		bt_publish(&t, "a.b", "k", 1);
		BT_WAIT(&t, "r", s.dead == 2 && s.backlog == 0);
		assert_int_equal(atomic_load(&copy_fail), 0);
		dead_all d = dead_list(&t);
		assert_int_equal(d.n, 2);
		assert_string_equal(d.text, "refused|refused again|");
		assert_int_equal(d.seqs[0], 1);
		/* without memory for the copy: the event as published */
		assert_int_equal(d.seqs[1], handoff ? 0 : 2);
		bt_close(&t);
	}
}

/* ---- the store fails under the relay ----------------------------------- */

static void
test_start_store_errors(void **state)
{
	(void) state;
	bt t;
	edge_open(&t, NULL, "mem", NULL);
	atomic_int *fails[] = { &last_seq_fail, &cursor_get_fail,
		&cursor_set_fail, &read_fail };
	const char *texts[] = { "route 'r': cursor 'bridge.route.r': ",
		"route 'r': cursor 'bridge.route.r': ",
		"route 'r': cursor 'bridge.route.r': ",
		"route 'r': reading: " };
	for (size_t i = 0; i < 4; i++) {
		atomic_store(fails[i], 1);
		assert_weir_err(weir_bridge_start(t.br), WEIR_EIO);
		assert_int_equal(atomic_load(fails[i]), 0);
		char want[200];
		snprintf(want, sizeof want, "%s%s", texts[i],
		    weir_strerror(WEIR_EIO));
		assert_string_equal(weir_bridge_errmsg(t.br), want);
	}
	assert_weir_ok(weir_bridge_start(t.br));
	bt_publish(&t, "a.b", "k", 0);
	BT_WAIT(&t, "r", s.acked == 1 && s.cursor == 1);
	// A cursor write that fails leaves the cursor where it was; the
	// next write moves it.
	atomic_store(&cursor_set_fail, 1);
	bt_publish(&t, "a.b", "k", 1);
	BT_WAIT(&t, "r", s.acked == 2 && s.backlog == 0);
	assert_int_equal(atomic_load(&cursor_set_fail), 0);
	assert_int_equal(bt_stats(&t, "r").cursor, 1);
	bt_publish(&t, "a.b", "k", 2);
	BT_WAIT(&t, "r", s.acked == 3 && s.cursor == 3);
	bt_close(&t);
}

/* A cursor write queued while the route is busy, refused at once or
 * failed at its commit, leaves the cursor where it was; the write at
 * idle moves it. */
static void
test_cursor_queued_fails(void **state)
{
	(void) state;
	static const char *const kv[] = { "bridge.ack_timeout_ms", "1000",
		NULL };
	atomic_int *fails[] = { &cursor_async_fail, &cursor_async_late_fail };
	bt          t;
	edge_open(&t, kv, "mem", NULL);
	assert_weir_ok(weir_bridge_start(t.br));
	int i = 0;
	for (size_t f = 0; f < 2; f++) {
		bt_publish(&t, "a.b", "k0", i++);
		BT_WAIT(&t, "r", s.acked == (uint64_t) i && s.backlog == 0);
		uint64_t at = bt_stats(&t, "r").cursor;
		/* k1 finishes first, with k2 (ack lost) still unfinished:
		 * the cursor write it makes due is queued, and fails */
		weir__mem_hold_acks(t.mem, 1);
		bt_publish(&t, "a.b", "k1", i++);
		BT_WAIT(&t, "r", s.sent == (uint64_t) i + f);
		weir__mem_drop_acks(t.mem, 1);
		bt_publish(&t, "a.b", "k2", i++);
		BT_WAIT(&t, "r", s.sent == (uint64_t) i + f);
		wt_sleep_ms(150); /* past the cursor's interval */
		atomic_store(fails[f], 1);
		weir__mem_hold_acks(t.mem, 0);
		BT_WAIT(&t, "r", s.acked == (uint64_t) i - 1);
		wt_wait_until(atomic_load(fails[f]) == 0);
		assert_int_equal(bt_stats(&t, "r").cursor, at);
		BT_WAIT(&t, "r", s.backlog == 0 && s.cursor == at + 2);
	}
	bt_close(&t);
}

/* ---- no thread ---------------------------------------------------------- */

static void
test_no_thread(void **state)
{
	(void) state;
	bt t;
	edge_open(&t, NULL, "mem", NULL);
	atomic_store(&thread_fail_at, 1); /* the intake's loop */
	assert_weir_err(weir_bridge_start(t.br), WEIR_ENOMEM);
	assert_string_equal(weir_bridge_errmsg(t.br), "bridge: no thread");
	atomic_store(&thread_fail_at, 2); /* the route's relay */
	assert_weir_err(weir_bridge_start(t.br), WEIR_ENOMEM);
	assert_string_equal(weir_bridge_errmsg(t.br), "route 'r': no thread");
	assert_int_equal(atomic_load(&thread_fail_at), 0);
	assert_weir_ok(weir_bridge_start(t.br));
	bt_publish(&t, "a.b", "k", 0);
	BT_WAIT(&t, "r", s.acked == 1 && s.backlog == 0);
	bt_close(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sync_errors_keyed),
		cmocka_unit_test(test_sync_errors_ordered),
		cmocka_unit_test(test_sync_permanent_errmsg),
		cmocka_unit_test(test_echo_in_window),
		cmocka_unit_test(test_ordered_same_dest_and_serial),
		cmocka_unit_test(test_ordered_breaker),
		cmocka_unit_test(test_ordered_serial_one_dest),
		cmocka_unit_test(test_forged_and_stale_acks),
		cmocka_unit_test(test_direct_stop_with_ring),
		cmocka_unit_test(test_dest_fail_handoff),
		cmocka_unit_test(test_dest_fail_store_read),
		cmocka_unit_test(test_dest_fail_direct),
		cmocka_unit_test(test_dead_letter_event),
		cmocka_unit_test(test_start_store_errors),
		cmocka_unit_test(test_cursor_queued_fails),
		cmocka_unit_test(test_no_thread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
