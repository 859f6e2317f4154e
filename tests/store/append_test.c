/*
 * Appends: seq assignment, round trips, idempotency, asynchronous
 * appends, and bad input that leaves the store usable.
 */
#include "fixture.h"

static void
test_seq_in_order(void **state)
{
	fx      *f = *state;
	uint64_t last;
	assert_weir_ok(weir_store_last_seq(f->st, &last));
	assert_int_equal(last, 0);
	for (uint64_t i = 1; i <= 10; i++) {
		assert_int_equal(fx_append(f->st, "orders.created", "x"), i);
	}
	assert_weir_ok(weir_store_last_seq(f->st, &last));
	assert_int_equal(last, 10);
}

typedef struct rt {
	int         seen;
	weir_event *want;
} rt;

static weir_err
roundtrip_check(weir_store *st, const weir_event *ev, const char *stream,
    int64_t version, void *arg)
{
	rt    *r = arg;
	size_t a, b;
	(void) st;
	assert_null(stream);
	assert_int_equal(version, 0);
	assert_memory_equal(weir_event_id(ev), weir_event_id(r->want), 16);
	assert_int_equal(weir_event_ts(ev), weir_event_ts(r->want));
	assert_string_equal(weir_event_topic(ev), weir_event_topic(r->want));
	const void *k1 = weir_event_key(ev, &a),
	           *k2 = weir_event_key(r->want, &b);
	assert_int_equal(a, b);
	assert_memory_equal(k1, k2, a);
	const void *p1 = weir_event_payload(ev, &a);
	const void *p2 = weir_event_payload(r->want, &b);
	assert_int_equal(a, b);
	assert_memory_equal(p1, p2, a);
	assert_int_equal(weir_event_header_count(ev), 2);
	size_t      len;
	const void *v = weir_event_header_get(ev, "trace", &len);
	assert_int_equal(len, 3);
	assert_memory_equal(v, "abc", 3);
	v = weir_event_header_get(ev, "empty", &len);
	assert_non_null(v);
	assert_int_equal(len, 0);
	assert_int_equal(weir_event_seq(ev), 1);
	r->seen++;
	return WEIR_OK;
}

static void
test_roundtrip(void **state)
{
	fx               *f      = *state;
	const weir_header hdrs[] = { { "trace", "abc", 3 },
		{ "empty", "", 0 } };
	uint8_t           bin[5] = { 0, 1, 2, 0, 255 };
	weir_event_init   init   = { .size = sizeof(weir_event_init),
		    .topic                 = "orders.eu.created",
		    .key                   = "k1",
		    .key_len               = 2,
		    .payload               = bin,
		    .payload_len           = sizeof(bin),
		    .headers               = hdrs,
		    .header_count          = 2,
		    .ts                    = 1234567890123 };
	rt                r      = { 0 };
	uint64_t          seq;
	assert_weir_ok(weir_event_new(&r.want, &init));
	assert_weir_ok(weir_store_append(f->st, r.want, NULL, &seq, NULL));
	assert_int_equal(seq, 1);
	assert_weir_ok(weir_store_read_all(f->st, 0, 0, roundtrip_check, &r));
	assert_int_equal(r.seen, 1);
	weir_event_release(r.want);
}

static void
test_idempotent(void **state)
{
	fx         *f  = *state;
	weir_event *ev = fx_event("a.b", "once");
	uint64_t    s1, s2, last;
	assert_weir_ok(weir_store_append(f->st, ev, NULL, &s1, NULL));
	fx_append(f->st, "a.b", "other");
	assert_weir_ok(weir_store_append(f->st, ev, NULL, &s2, NULL));
	assert_int_equal(s1, s2);
	assert_weir_ok(weir_store_last_seq(f->st, &last));
	assert_int_equal(last, 2);
	// Also idempotent when the retry names a stream.
	weir_store_append_opts opt = {
		.size = sizeof(opt), .stream = "s", .expected = 7
	};
	assert_weir_ok(weir_store_append(f->st, ev, &opt, &s2, NULL));
	assert_int_equal(s1, s2);
	fx_got got = { 0 };
	assert_weir_ok(weir_store_read_all(f->st, 0, 0, fx_collect, &got));
	assert_int_equal(got.n, 2);
	weir_event_release(ev);
}

typedef struct acks {
	int      n;
	uint64_t seq[100];
	weir_err err[100];
} acks;

static void
on_done(weir_store *st, weir_err err, uint64_t seq, int64_t version, void *arg)
{
	acks *a = arg;
	(void) st;
	(void) version;
	a->err[a->n]   = err;
	a->seq[a->n++] = seq;
}

static void
test_nowait(void **state)
{
	fx                    *f   = *state;
	acks                   a   = { 0 };
	weir_store_append_opts opt = { .size = sizeof(opt),
		.flags                       = WEIR_STORE_APPEND_NOWAIT,
		.done                        = on_done,
		.arg                         = &a };
	for (int i = 0; i < 100; i++) {
		weir_event *ev  = fx_event("fast.path", "x");
		uint64_t    seq = 99;
		assert_weir_ok(weir_store_append(f->st, ev, &opt, &seq, NULL));
		assert_int_equal(seq, 0);
		weir_event_release(ev); // the store holds its own reference
	}
	assert_weir_ok(weir_store_flush(f->st));
	assert_int_equal(a.n, 100);
	for (int i = 0; i < 100; i++) {
		assert_weir_ok(a.err[i]);
		assert_int_equal(a.seq[i], (uint64_t) i + 1); // acks in order
	}
}

// Holds the writer inside a done callback until the test has queued
// what it wants taken in one batch.
typedef struct gate {
	atomic_int entered;
	atomic_int open;
} gate;

static void
gate_done(
    weir_store *st, weir_err err, uint64_t seq, int64_t version, void *arg)
{
	gate   *g   = arg;
	int64_t end = wt_now_ms() + WT_WAIT_MS;
	(void) st;
	(void) err;
	(void) seq;
	(void) version;
	atomic_store(&g->entered, 1);
	while (!atomic_load(&g->open) && wt_now_ms() < end) {
		wt_sleep_ms(1);
	}
}

// One batch of 100 plain appends (the writer inserts runs of them with
// one statement) holding a retry of a stored event and one event twice:
// each retry gets its original seq, the others the next seqs in order.
static void
test_nowait_retries_in_batch(void **state)
{
	fx                    *f   = *state;
	gate                   g   = { 0 };
	acks                   a   = { 0 };
	weir_event            *old = fx_event("re.try", "old");
	const weir_event      *evs[100];
	weir_store_append_opts hold = { .size = sizeof(hold),
		.flags                        = WEIR_STORE_APPEND_NOWAIT,
		.done                         = gate_done,
		.arg                          = &g };
	weir_store_append_opts opt  = { .size = sizeof(opt),
		 .flags                       = WEIR_STORE_APPEND_NOWAIT,
		 .done                        = on_done,
		 .arg                         = &a };
	assert_int_equal(fx_append(f->st, "first", "1"), 1);
	assert_weir_ok(weir_store_append(f->st, old, NULL, NULL, NULL));
	assert_weir_ok(weir_store_append(f->st, old, &hold, NULL, NULL));
	wt_wait_until(atomic_load(&g.entered));
	for (int i = 0; i < 100; i++) {
		evs[i] = i == 10 ? weir_event_hold(old)
		    : i == 40    ? weir_event_hold(evs[35])
		                 : fx_event("many.rows", "x");
		assert_weir_ok(
		    weir_store_append(f->st, evs[i], &opt, NULL, NULL));
	}
	atomic_store(&g.open, 1);
	assert_weir_ok(weir_store_flush(f->st));
	assert_int_equal(a.n, 100);
	uint64_t next = 3;
	for (int i = 0; i < 100; i++) {
		assert_weir_ok(a.err[i]);
		uint64_t want = i == 10 ? 2 : i == 40 ? a.seq[35] : next++;
		assert_int_equal(a.seq[i], want);
	}
	uint64_t last;
	assert_weir_ok(weir_store_last_seq(f->st, &last));
	assert_int_equal(last, 2 + 98);
	fx_got *got = calloc(1, sizeof(*got));
	assert_weir_ok(weir_store_read_all(f->st, 0, 0, fx_collect, got));
	assert_int_equal(got->n, 100);
	for (size_t i = 0; i < got->n; i++) {
		assert_int_equal(got->seq[i], i + 1);
	}
	free(got);
	for (int i = 0; i < 100; i++) {
		weir_event_release(evs[i]);
	}
	weir_event_release(old);
}

static void
test_too_big(void **state)
{
	fx                *f = *state;
	weir_store_config *cfg;
	weir_store_destroy(f->st);
	assert_weir_ok(weir_store_config_create(&cfg));
	assert_weir_ok(weir_store_config_set_max_event(cfg, 100));
	fx_open_cfg(f, cfg);
	weir_store_config_destroy(cfg);
	char big[200];
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	weir_event *ev       = fx_event("big.one", big);
	assert_weir_err(
	    weir_store_append(f->st, ev, NULL, NULL, NULL), WEIR_ETOOBIG);
	assert_non_null(strstr(weir_store_errmsg(f->st), "exceeds the limit"));
	weir_store_append_opts opt = { .size = sizeof(opt),
		.flags                       = WEIR_STORE_APPEND_NOWAIT };
	assert_weir_err(
	    weir_store_append(f->st, ev, &opt, NULL, NULL), WEIR_ETOOBIG);
	weir_event_release(ev);
	assert_int_equal(fx_append(f->st, "small.one", "s"), 1);
}

static void
test_bad_names(void **state)
{
	fx         *f  = *state;
	weir_event *ev = fx_event("a.b", "x");
	char        long_name[WEIR_STORE_MAX_NAME + 2];
	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = 0;
	const char *bad[]                = { "", "tab\there", long_name };
	for (size_t i = 0; i < 3; i++) {
		weir_store_append_opts opt = { .size = sizeof(opt),
			.stream                      = bad[i] };
		assert_weir_err(weir_store_append(f->st, ev, &opt, NULL, NULL),
		    WEIR_EBADNAME);
		assert_non_null(strstr(weir_store_errmsg(f->st), "stream"));
	}
	weir_store_append_opts opt = { .size = sizeof(opt),
		.expected                    = 3 }; // a version needs a stream
	assert_weir_err(
	    weir_store_append(f->st, ev, &opt, NULL, NULL), WEIR_EINVAL);
	assert_weir_err(
	    weir_store_append(f->st, NULL, NULL, NULL, NULL), WEIR_EINVAL);
	assert_weir_err(
	    weir_store_append(NULL, ev, NULL, NULL, NULL), WEIR_EINVAL);
	weir_event_release(ev);
	assert_int_equal(fx_append(f->st, "still.works", "x"), 1);
}

static void
test_invalid_topic(void **state)
{
	fx         *f = *state;
	weir_event *ev;
	// Events are checked when made, so a bad topic never reaches the
	// store through weir_event_new; the store checks again anyway.
	weir_event_init init = { .size = sizeof(weir_event_init),
		.topic                 = "bad..topic" };
	assert_weir_err(weir_event_new(&ev, &init), WEIR_EBADTOPIC);
	weir_store_filter flt = { .size = sizeof(weir_store_filter),
		.pattern                = "a.>.b" };
	fx_got            got = { 0 };
	assert_weir_err(
	    weir_store_read(f->st, &flt, fx_collect, &got), WEIR_EBADPATTERN);
	assert_non_null(strstr(weir_store_errmsg(f->st), "a.>.b"));
	assert_int_equal(fx_append(f->st, "good.topic", "x"), 1);
}

// Regression: unknown flags were accepted silently (the bus refuses
// them); a newer caller's flag must not be ignored.
static void
test_unknown_flags(void **state)
{
	fx                    *f   = *state;
	weir_event            *ev  = fx_event("a.b", "x");
	weir_store_append_opts opt = { .size = sizeof(opt), .flags = 2u };
	uint64_t               seq = 7, last = 7;
	assert_weir_err(
	    weir_store_append(f->st, ev, &opt, &seq, NULL), WEIR_EINVAL);
	assert_int_equal(seq, 0);
	opt.flags = WEIR_STORE_APPEND_NOWAIT | 0x80000000u;
	assert_weir_err(
	    weir_store_append(f->st, ev, &opt, NULL, NULL), WEIR_EINVAL);
	assert_weir_ok(weir_store_flush(f->st));
	assert_weir_ok(weir_store_last_seq(f->st, &last));
	assert_int_equal(last, 0);
	weir_event_release(ev);
}

// The log refusing an insert (a trigger aborting it: a constraint that
// is not the id's): WEIR_ESTORE, nothing appended, for a plain append
// and one on a stream; a stream's version update refused likewise
// leaves neither the event nor the version.
static void
test_refused_by_database(void **state)
{
	fx                    *f  = *state;
	weir_event            *ev = fx_event("orders.created", "x");
	weir_store_append_opts o  = { .size = sizeof(o), .stream = "s" };
	uint64_t               last;
	int64_t                v = 99;
	fx_sql(f,
	    "CREATE TRIGGER no_events BEFORE INSERT ON events"
	    " BEGIN SELECT RAISE(ABORT, 'refused by test'); END");
	assert_weir_err(
	    weir_store_append(f->st, ev, NULL, NULL, NULL), WEIR_ESTORE);
	assert_weir_err(
	    weir_store_append(f->st, ev, &o, NULL, NULL), WEIR_ESTORE);
	fx_sql(f,
	    "DROP TRIGGER no_events;"
	    "CREATE TRIGGER no_streams BEFORE INSERT ON streams"
	    " BEGIN SELECT RAISE(ABORT, 'refused by test'); END");
	assert_weir_err(
	    weir_store_append(f->st, ev, &o, NULL, NULL), WEIR_ESTORE);
	assert_non_null(strstr(weir_store_errmsg(f->st), "refused by test"));
	assert_weir_ok(weir_store_last_seq(f->st, &last));
	assert_int_equal(last, 0);
	assert_weir_ok(weir_store_stream_version(f->st, "s", &v));
	assert_int_equal(v, 0);
	fx_sql(f, "DROP TRIGGER no_streams");
	uint64_t seq;
	assert_weir_ok(weir_store_append(f->st, ev, &o, &seq, NULL));
	assert_int_equal(seq, 1);
	weir_event_release(ev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_seq_in_order, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_roundtrip, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_idempotent, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_nowait, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_nowait_retries_in_batch, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_too_big, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_bad_names, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_invalid_topic, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_unknown_flags, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_refused_by_database, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
