/*
 * Inbound routes at their edges, with a scripted source (inbound_stub.h):
 * what registration and weir_bridge_inbound_add refuse (and say), the
 * spec a source is given, a source whose init, start or fetch fails,
 * stops that begin while the route is paused or backing off, a source
 * that delivers more than `max`, what weir_inlet_deliver refuses, and
 * pruning of the inbox by count alone.
 */
#include "fault_alloc.h"
#include "inbound_stub.h"
#include "store_gate.h"

#include "core/evpool.h"

#include "store/inbox.h"

static void
assert_msg(bt *t, const char *part)
{
	const char *m = weir_bridge_errmsg(t->br);
	if (m == NULL || strstr(m, part) == NULL) {
		print_error(
		    "errmsg '%s' lacks '%s'\n", m ? m : "(null)", part);
		fail();
	}
}

static void
test_register_source_refusals(void **state)
{
	(void) state;
	bt t;
	it_open(&t, NULL);
	assert_weir_err(
	    weir_bridge_register_source(NULL, &sb_ops), WEIR_EINVAL);
	assert_weir_err(weir_bridge_register_source(t.br, NULL), WEIR_EINVAL);
	weir_source_ops bad = sb_ops;
	bad.version         = WEIR_SOURCE_V1 + 7;
	assert_weir_err(
	    weir_bridge_register_source(t.br, &bad), WEIR_EVERSION);
	assert_msg(&t, "this bridge speaks");
	/* each mandatory slot NULL in turn */
	for (int slot = 0; slot < 8; slot++) {
		bad = sb_ops;
		switch (slot) {
		case 0:
			bad.scheme = NULL;
			break;
		case 1:
			bad.init = NULL;
			break;
		case 2:
			bad.fini = NULL;
			break;
		case 3:
			bad.start = NULL;
			break;
		case 4:
			bad.stop = NULL;
			break;
		case 5:
			bad.fetch = NULL;
			break;
		case 6:
			bad.done = NULL;
			break;
		default:
			bad.pause = NULL;
			break;
		}
		assert_weir_err(
		    weir_bridge_register_source(t.br, &bad), WEIR_EINVAL);
		assert_msg(&t, "a mandatory slot is NULL");
	}
	assert_null(weir__bridge_source(t.br, "stub"));
	assert_weir_ok(weir_bridge_register_source(t.br, &sb_ops));
	assert_weir_err(
	    weir_bridge_register_source(t.br, &sb_ops), WEIR_EEXIST);
	assert_msg(&t, "source stub: already registered");
	assert_weir_ok(weir_bridge_start(t.br));
	assert_weir_err(
	    weir_bridge_register_source(t.br, &sb_ops0), WEIR_EBUSY);
	assert_null(weir__bridge_source(t.br, "stub0"));
	bt_close(&t);
}

static void
test_inbound_add_refusals(void **state)
{
	(void) state;
	bt t;
	sb_open(&t, NULL, "stub", "in");
	assert_weir_ok(
	    weir_bridge_route_add(t.br, "out", "a.>", "mem", "x", NULL, NULL));
	weir_bridge *br = t.br;
	assert_weir_err(
	    weir_bridge_inbound_add(NULL, "n", "stub", "o", "t", NULL),
	    WEIR_EINVAL);
	assert_weir_err(
	    weir_bridge_inbound_add(br, NULL, "stub", "o", "t", NULL),
	    WEIR_EINVAL);
	weir_bridge_inbound_opts small = { .size = 1 };
	assert_weir_err(
	    weir_bridge_inbound_add(br, "n", "stub", "o", "t", &small),
	    WEIR_EINVAL);
	assert_msg(&t, "inbound route 'n': opts: bad size");
	assert_weir_err(
	    weir_bridge_inbound_add(br, "a b", "stub", "o", "t", NULL),
	    WEIR_EBADNAME);
	assert_msg(&t, "name: 1 to 64 of");
	assert_weir_err(
	    weir_bridge_inbound_add(br, "in", "stub", "o", "t", NULL),
	    WEIR_EEXIST);
	assert_msg(&t, "inbound route 'in': name: already taken");
	assert_weir_err(
	    weir_bridge_inbound_add(br, "out", "stub", "o", "t", NULL),
	    WEIR_EEXIST);
	assert_weir_err(weir_bridge_inbound_add(br, "n", NULL, "o", "t", NULL),
	    WEIR_ENOENT);
	assert_msg(&t, "no source '(null)' is registered");
	assert_weir_err(
	    weir_bridge_inbound_add(br, "n", "kafkaesque", "o", "t", NULL),
	    WEIR_ENOENT);
	assert_msg(&t, "no source 'kafkaesque' is registered");
	assert_weir_err(
	    weir_bridge_inbound_add(br, "n", "stub", NULL, "t", NULL),
	    WEIR_EINVAL);
	assert_msg(&t, "inbound route 'n': from: empty");
	assert_weir_err(
	    weir_bridge_inbound_add(br, "n", "stub", "", "t", NULL),
	    WEIR_EINVAL);
	assert_weir_err(
	    weir_bridge_inbound_add(br, "n", "stub", "o.*", "x.{3}", NULL),
	    WEIR_EINVAL);
	assert_msg(&t, "inbound route 'n': topic template:");
	assert_int_equal(br->ninlets, 1);
	assert_weir_ok(weir_bridge_start(br));
	assert_weir_err(
	    weir_bridge_inbound_add(br, "n", "stub", "o", "t", NULL),
	    WEIR_EBUSY);
	assert_msg(&t, "inbound route 'n': the bridge is started");
	assert_int_equal(br->ninlets, 1);
	bt_close(&t);

	/* a bridge without a store has nowhere to de-duplicate */
	it_bus(&t);
	assert_weir_ok(weir_bridge_create(&t.br, t.bus, NULL, NULL));
	assert_weir_ok(weir_bridge_register_source(t.br, &sb_ops));
	assert_weir_err(
	    weir_bridge_inbound_add(t.br, "n", "stub", "o", "t", NULL),
	    WEIR_EINVAL);
	assert_msg(&t, "inbound route 'n': the bridge has no store");
	bt_close(&t);
}

/* The source is given the route's group (its own or "weir-<route>"),
 * stream and batch (the option, else the bridge's, at most the ring). */
static void
test_spec_and_lookup(void **state)
{
	(void) state;
	static const char *const kv[] = { "bridge.inbound.max_in_flight", "8",
		NULL };
	bt                       t;
	sb_open(&t, kv, "stub0", "first");
	assert_string_equal(sb.group, "weir-first");
	assert_false(sb.has_stream);
	assert_int_equal(sb.batch, 8); /* 256 by default, clamped */
	assert_non_null(sb.state);     /* state_size 0: still a state */

	weir_bridge_inbound_opts o =
	    WEIR_STRUCT_INIT(weir_bridge_inbound_opts);
	o.group  = "g1";
	o.stream = "ORDERS";
	o.batch  = 3;
	assert_weir_ok(weir_bridge_inbound_add(
	    t.br, "second", "stub", "orders", "in.{topic}", &o));
	assert_string_equal(sb.group, "g1");
	assert_true(sb.has_stream);
	assert_string_equal(sb.stream, "ORDERS");
	assert_int_equal(sb.batch, 3);
	o.batch = 100;
	assert_weir_ok(weir_bridge_inbound_add(
	    t.br, "third", "stub", "orders", "in.{topic}", &o));
	assert_int_equal(sb.batch, 8);

	assert_ptr_equal(weir__bridge_source_state(t.br, "third"), sb.state);
	assert_ptr_equal(weir__bridge_inlet(t.br, "second"), t.br->inlets[1]);
	assert_null(weir__bridge_inlet(t.br, "fourth"));
	assert_null(weir__bridge_source_state(t.br, "fourth"));
	/* a Kafka regex: only {topic} and {1} can be filled */
	assert_weir_ok(weir_bridge_inbound_add(
	    t.br, "re", "stub", "^ord..*$", "in.{1}", NULL));
	assert_weir_err(weir_bridge_inbound_add(
	                    t.br, "re2", "stub", "^ord..*$", "in.{2}", NULL),
	    WEIR_EINVAL);
	bt_close(&t);
}

static void
test_init_fails(void **state)
{
	(void) state;
	bt t;
	sb_open(&t, NULL, "stub", "in");
	pthread_mutex_lock(&sb_mu);
	sb.init_err = WEIR_EBACKEND;
	pthread_mutex_unlock(&sb_mu);
	assert_weir_err(weir_bridge_inbound_add(
	                    t.br, "n1", "stub", "orders", "in.{topic}", NULL),
	    WEIR_EBACKEND);
	assert_msg(&t,
	    "inbound route 'n1': source stub: init: stub: the "
	    "broker said no");
	assert_weir_err(weir_bridge_inbound_add(
	                    t.br, "n0", "stub0", "orders", "in.{topic}", NULL),
	    WEIR_EBACKEND);
	assert_msg(&t, weir_strerror(WEIR_EBACKEND));
	assert_null(weir__bridge_inlet(t.br, "n1"));
	assert_null(weir__bridge_inlet(t.br, "n0"));
	assert_int_equal(t.br->ninlets, 1);
	pthread_mutex_lock(&sb_mu);
	sb.init_err = WEIR_OK;
	pthread_mutex_unlock(&sb_mu);
	assert_weir_ok(weir_bridge_inbound_add(
	    t.br, "n1", "stub", "orders", "in.{topic}", NULL));
	bt_close(&t);
}

static void
run_start_fails(const char *scheme, const char *why)
{
	bt t;
	sb_open(&t, NULL, scheme, "in");
	pthread_mutex_lock(&sb_mu);
	sb.start_err = WEIR_EBACKEND;
	pthread_mutex_unlock(&sb_mu);
	assert_weir_err(weir_bridge_start(t.br), WEIR_EBACKEND);
	assert_msg(&t, "inbound route 'in': source ");
	assert_msg(&t, why);
	assert_false(t.br->started);
	/* once the broker is there, the route starts and takes messages */
	pthread_mutex_lock(&sb_mu);
	sb.start_err = WEIR_OK;
	pthread_mutex_unlock(&sb_mu);
	uint64_t         tok = 1;
	weir_inbound_msg m   = sb_msg(&tok, "kafka:orders/0/1");
	sb_push(&m);
	assert_weir_ok(weir_bridge_start(t.br));
	wt_wait_until(sb_ndone() == 1);
	assert_int_equal(it_log_count(&t, "in.orders"), 1);
	bt_close(&t);
}

static void
test_start_fails(void **state)
{
	(void) state;
	run_start_fails("stub", "start: stub: the broker said no");
	run_start_fails("stub0", weir_strerror(WEIR_EBACKEND));
}

/* weir_bridge_stop on a thread of its own, so that a stop that hangs
 * fails the test (a bounded wait) instead of timing it out. */
typedef struct stopper {
	pthread_t    th;
	weir_bridge *br;
	atomic_int   done;
} stopper;

static void *
stopper_main(void *arg)
{
	stopper *s = arg;
	weir_bridge_stop(s->br);
	atomic_store(&s->done, 1);
	return NULL;
}

static void
stopper_start(stopper *s, weir_bridge *br)
{
	s->br = br;
	atomic_store(&s->done, 0);
	assert_int_equal(pthread_create(&s->th, NULL, stopper_main, s), 0);
}

static void
stopper_join(stopper *s)
{
	wt_wait_until(atomic_load(&s->done));
	assert_int_equal(pthread_join(s->th, NULL), 0);
}

/* The stub's inbound route "in" whose fetches fail (EBACKEND), after
 * the stop began if @p wait_stop; the backoff is an hour. */
static weir_inlet *
fetch_failing_open(bt *t, int wait_stop)
{
	static const char *const kv[] = { "bridge.retry.initial_ms", "3600000",
		NULL };
	weir_inlet              *in   = sb_open(t, kv, "stub", "in");
	pthread_mutex_lock(&sb_mu);
	sb.fetch_err       = WEIR_EBACKEND;
	sb.fetch_wait_stop = wait_stop;
	pthread_mutex_unlock(&sb_mu);
	assert_weir_ok(weir_bridge_start(t->br));
	return in;
}

/* A failing fetch is counted and retried after the backoff; stop does
 * not wait the backoff out (an hour here). */
static void
test_fetch_error_backs_off(void **state)
{
	(void) state;
	bt          t;
	weir_inlet *in = fetch_failing_open(&t, 0);
	wt_wait_until(atomic_load(&in->fetch_errors) == 1);
	stopper s;
	stopper_start(&s, t.br);
	stopper_join(&s);
	assert_int_equal(atomic_load(&in->fetch_errors), 1);
	assert_int_equal(sb_fetches(), 1);
	bt_close(&t);
}

/* A fetch that fails as the stop begins: no backoff wait at all. */
static void
test_fetch_fails_as_stop_begins(void **state)
{
	(void) state;
	bt          t;
	weir_inlet *in = fetch_failing_open(&t, 1);
	wt_wait_until(sb_fetches() == 1);
	weir_bridge_stop(t.br); /* the fetch returns once this began */
	assert_int_equal(atomic_load(&in->fetch_errors), 1);
	assert_int_equal(sb_fetches(), 1);
	bt_close(&t);
}

/* The ring full (its one message not committed: the writer is held),
 * the route pauses the source; the stop begins during pause(1): the
 * route does not wait for room, and the stop's flush still stores and
 * publishes the message and calls done. */
static void
test_pause_as_stop_begins(void **state)
{
	(void) state;
	static const char *const kv[] = { "bridge.inbound.max_in_flight", "1",
		NULL };
	bt                       t;
	weir_inlet              *in   = sb_open(&t, kv, "stub", "in");
	atomic_uint_least64_t    seen = 0;
	weir_subscr             *sub;
	assert_weir_ok(weir_subscribe(
	    &sub, t.bus, "in.orders", wt_count_handler, &seen, NULL, NULL));
	uint64_t         tok[2] = { 1, 2 };
	weir_inbound_msg m1     = sb_msg(&tok[0], "kafka:orders/0/1");
	weir_inbound_msg m2     = sb_msg(&tok[1], "kafka:orders/0/2");
	sb_push(&m1);
	assert_weir_ok(weir_bridge_start(t.br));
	wt_wait_until(sb_ndone() == 1); /* past the first inbox prune */
	fx_gate g;
	fx_gate_close(&g, t.st);
	pthread_mutex_lock(&sb_mu);
	sb.pause_wait_stop = 1;
	pthread_mutex_unlock(&sb_mu);
	sb_push(&m2);
	wt_wait_until(sb_pause_entered());
	stopper s;
	stopper_start(&s, t.br);
	wt_wait_until(sb_stopping(in));
	fx_gate_open(&g);
	stopper_join(&s);
	assert_int_equal(sb_ndone(), 2);
	assert_int_equal(sb.done[1], 2);
	/* (the first message may have paused it too, for a moment) */
	assert_true(sb_pauses() >= 1);
	assert_int_equal(atomic_load(&in->pauses), sb_pauses());
	assert_int_equal(it_log_count(&t, "in.orders"), 2);
	assert_true(wt_wait_u64(&seen, 2));
	weir_unsubscribe(sub);
	bt_close(&t);
}

/* A source that delivers more than `max` in one fetch: deliver waits
 * for room in the ring (calling done itself as slots finish) rather
 * than overwriting a slot; all are taken, stored and done in order. */
static void
test_source_over_max_waits_for_room(void **state)
{
	(void) state;
	static const char *const kv[] = { "bridge.inbound.max_in_flight", "2",
		NULL };
	bt                       t;
	sb_open(&t, kv, "stub", "in");
	enum { N = 40 };
	uint64_t         tok[N];
	char             coord[N][32];
	weir_inbound_msg m[N];
	pthread_mutex_lock(&sb_mu);
	sb.ignore_max = 1;
	pthread_mutex_unlock(&sb_mu);
	for (int i = 0; i < N; i++) {
		tok[i] = (uint64_t) i + 1;
		snprintf(coord[i], sizeof coord[i], "kafka:orders/0/%d", i);
		m[i] = sb_msg(&tok[i], coord[i]);
		sb_push(&m[i]);
	}
	assert_weir_ok(weir_bridge_start(t.br));
	wt_wait_until(sb_ndone() == N);
	weir_bridge_stop(t.br);
	for (int i = 0; i < N; i++)
		assert_int_equal(sb.done[i], i + 1);
	assert_true(sb.max_undone <= 2);
	assert_int_equal(sb.nresults, N); /* every deliver took its message */
	assert_int_equal(it_log_count(&t, "in.orders"), N);
	bt_close(&t);
}

typedef struct dl_first {
	int  n;
	char text[700];
} dl_first;

static weir_err
dl_first_fn(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	(void) st;
	dl_first *d = arg;
	if (d->n++ == 0)
		snprintf(d->text, sizeof d->text, "%s: %s",
		    weir_err_name(dl->code), dl->message);
	return WEIR_OK;
}

static void
test_deliver_refusals(void **state)
{
	(void) state;
	bt          t;
	weir_inlet *in  = sb_open(&t, NULL, "stub", "in");
	uint64_t    tok = 1, tok2 = 2;
	/* a nameless header: a dead letter, and consumption goes on */
	weir_header      h[1] = { { NULL, "v", 1 } };
	weir_inbound_msg bad  = sb_msg(&tok, "kafka:orders/0/1");
	bad.headers           = h;
	bad.header_count      = 1;
	weir_inbound_msg good = sb_msg(&tok2, "kafka:orders/0/2");
	sb_push(&bad);
	sb_push(&good);
	assert_weir_ok(weir_bridge_start(t.br));
	wt_wait_until(sb_ndone() == 2);
	dl_first d = { 0 };
	char     want[200];
	snprintf(want, sizeof want,
	    "%s: more than %d headers, or a nameless one (at "
	    "kafka:orders/0/1)",
	    weir_err_name(WEIR_EINVAL), WEIR_MAX_HEADERS - 2);
	assert_weir_ok(weir_store_dead_list(t.st, "in", 0, dl_first_fn, &d));
	assert_int_equal(d.n, 1);
	assert_string_equal(d.text, want);
	assert_int_equal(it_log_count(&t, "in.orders"), 1);
	assert_int_equal(atomic_load(&in->dead), 1);
	weir_bridge_stop(t.br);

	/* what is not a message, or comes after the stop */
	assert_weir_err(weir_inlet_deliver(NULL, &good), WEIR_EINVAL);
	assert_weir_err(weir_inlet_deliver(in, NULL), WEIR_EINVAL);
	weir_inbound_msg old = good;
	old.size             = sizeof old - 1;
	assert_weir_err(weir_inlet_deliver(in, &old), WEIR_EINVAL);
	assert_weir_err(weir_inlet_deliver(in, &good), WEIR_ECLOSED);
	assert_weir_err(weir_inlet_flush(NULL), WEIR_EINVAL);
	assert_weir_ok(weir_inlet_flush(in)); /* nothing left */
	assert_int_equal(atomic_load(&in->received), 2);
	bt_close(&t);
}

/* bridge.inbound.dedupe_ms 0: the inbox is pruned by count alone, to
 * the newest dedupe_max ids, never emptied by age. */
static void
test_prune_by_count_only(void **state)
{
	(void) state;
	static const char *const kv[] = { "bridge.inbound.dedupe_ms", "0",
		"bridge.inbound.dedupe_max", "3", "bridge.inbound.prune_ms",
		"1", NULL };
	bt                       t;
	sb_open(&t, kv, "stub", "in");
	enum { N = 10 };
	uint64_t         tok[N];
	char             coord[N][32];
	weir_inbound_msg m[N];
	assert_weir_ok(weir_bridge_start(t.br));
	for (int i = 0; i < N; i++) { /* one by one: distinct times */
		tok[i] = (uint64_t) i + 1;
		snprintf(coord[i], sizeof coord[i], "kafka:orders/0/%d", i);
		m[i] = sb_msg(&tok[i], coord[i]);
		sb_push(&m[i]);
		wt_wait_until(sb_ndone() == (size_t) i + 1);
	}
	assert_int_equal(it_log_count(&t, "in.orders"), N);
	/* Their ids go into the inbox when the log is trimmed. */
	uint64_t n = N, last, gone = 0;
	assert_weir_ok(weir_store_last_seq(t.st, &last));
	assert_weir_ok(weir_store_trim(t.st, last + 1, 0, &gone));
	assert_int_equal(gone, N);
	wt_wait_until(weir__store_inbox_count(t.st, &n) == WEIR_OK && n <= 3);
	assert_true(n >= 1);
	bt_close(&t);
}

/* The NATS binding's ce- headers (any case) are understood as Kafka's
 * ce_ ones: source and type under weir's names, time as the event's
 * ts, the rest consumed; a message without an origin maps `from`. */
static weir_err
first_ev_fn(weir_store *st, const weir_event *ev, const char *stream,
    int64_t version, void *arg)
{
	(void) st;
	(void) stream;
	(void) version;
	const weir_event **out = arg;
	if (*out == NULL)
		*out = weir_event_hold(ev);
	return WEIR_OK;
}

static void
test_nats_binding_headers(void **state)
{
	(void) state;
	bt t;
	it_open(&t, NULL);
	void       *src    = it_route(&t, "in", "orders", "in.{topic}", NULL);
	weir_header h[5]   = { { "ce-source", "/shop", 5 },
		  { "CE-Type", "order.made", 10 },
		  { "ce-time", "2024-01-02T03:04:05Z", 20 },
		  { "ce-specversion", "1.0", 3 }, { "x-user", "u1", 2 } };
	weir_inbound_msg m = { .size = sizeof m,
		.payload             = "p",
		.payload_len         = 1,
		.headers             = h,
		.header_count        = 5,
		.coord               = "nats:ORDERS/7",
		.token               = 1 };
	assert_weir_ok(weir__mem_source_push(src, &m));
	assert_weir_ok(weir_bridge_start(t.br));
	it_wait_done(src, 1);
	const weir_event *ev = NULL;
	assert_weir_ok(weir_store_read(t.st, NULL, first_ev_fn, &ev));
	assert_non_null(ev);
	assert_string_equal(weir_event_topic(ev), "in.orders");
	assert_int_equal(weir_event_ts(ev), 1704164645LL * 1000000000LL);
	size_t      len;
	const char *v = weir_event_header_get(ev, WEIR__HDR_CE_SOURCE, &len);
	assert_non_null(v);
	assert_memory_equal(v, "/shop", 5);
	v = weir_event_header_get(ev, WEIR__HDR_CE_TYPE, &len);
	assert_non_null(v);
	assert_memory_equal(v, "order.made", 10);
	assert_non_null(weir_event_header_get(ev, "x-user", &len));
	assert_null(weir_event_header_get(ev, "ce-specversion", &len));
	assert_null(weir_event_header_get(ev, "ce-time", &len));
	/* x-user, the two ce attributes, weir-origin */
	assert_int_equal(weir_event_header_count(ev), 4);
	weir_event_release(ev);
	bt_close(&t);
}

/* Core NATS has no coordinates: the dead letter says so. */
static void
test_dead_letter_without_coordinates(void **state)
{
	(void) state;
	bt t;
	it_open(&t, NULL);
	void *src = it_route(&t, "in", "a.>", "in.{topic}", NULL);
	it_push(src, 1, "a..b", NULL, NULL);
	assert_weir_ok(weir_bridge_start(t.br));
	it_wait_done(src, 1);
	bt_dead d = bt_dead_first(&t, "in");
	assert_int_equal(d.code, WEIR_EBADTOPIC);
	assert_non_null(strstr(d.message, "(at no coordinates: core NATS)"));
	bt_dead_free(&d);
	bt_close(&t);
}

/* weir_bridge_inbound_add with every option, its n-th allocation
 * failing, n = 1, 2, ...: WEIR_ENOMEM, and no route added, until it
 * succeeds. */
static void
test_add_out_of_memory(void **state)
{
	(void) state;
	bt t;
	sb_open(&t, NULL, "stub", "in");
	weir_bridge_inbound_opts o =
	    WEIR_STRUCT_INIT(weir_bridge_inbound_opts);
	o.group       = "g";
	o.stream      = "ORDERS";
	int  failures = 0;
	long n;
	for (n = 1; n < 200; n++) {
		weir__evpool_flush();
		fi_arm(n);
		weir_err e = weir_bridge_inbound_add(
		    t.br, "n", "stub", "orders", "in.{topic}", &o);
		long calls = alloc_calls;
		fail_at    = 0;
		if (e == WEIR_OK) {
			assert_true(calls < n);
			break;
		}
		assert_weir_err(e, WEIR_ENOMEM);
		assert_int_equal(t.br->ninlets, 1);
		failures++;
	}
	assert_true(n < 200);
	assert_true(failures >= 10); /* one per allocation of the route */
	assert_int_equal(t.br->ninlets, 2);
	bt_close(&t);
}

int
main(void)
{
	if (weir_set_allocator(&fi_alloc) != WEIR_OK)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_source_refusals),
		cmocka_unit_test(test_inbound_add_refusals),
		cmocka_unit_test(test_spec_and_lookup),
		cmocka_unit_test(test_init_fails),
		cmocka_unit_test(test_start_fails),
		cmocka_unit_test(test_fetch_error_backs_off),
		cmocka_unit_test(test_fetch_fails_as_stop_begins),
		cmocka_unit_test(test_pause_as_stop_begins),
		cmocka_unit_test(test_source_over_max_waits_for_room),
		cmocka_unit_test(test_deliver_refusals),
		cmocka_unit_test(test_prune_by_count_only),
		cmocka_unit_test(test_nats_binding_headers),
		cmocka_unit_test(test_dead_letter_without_coordinates),
		cmocka_unit_test(test_add_out_of_memory),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	weir__evpool_flush();
	weir_set_allocator(NULL);
	return rc;
}
