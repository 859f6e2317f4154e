/*
 * Nothing the store acknowledges can fail to read back: the store's door
 * refuses what its row format cannot hold, and events at every limit
 * (topic, key, header names, values and count, the event size) append,
 * read and replay.
 */
#include "core/event.h"
#include "fixture.h"
#include "store/inbox.h"

// Regression: a header name of 65,535 bytes was acknowledged with a seq,
// but its length did not fit the row's 16-bit field, so every read that
// covered it failed. The event is made past weir_event_new's checks, as
// any internal path could, to test the store's own door.
static void
test_long_header_name_refused(void **state)
{
	fx             *f    = *state;
	char           *name = wt_filled(65535, 'h');
	weir_header     h    = { name, "v", 1 };
	weir_event_init init = { .size = sizeof(init),
		.topic                 = "a.b",
		.headers               = &h,
		.header_count          = 1 };
	weir_event     *ev   = NULL;
	uint64_t        seq  = 0;
	assert_weir_ok(weir__event_make(&ev, &init, NULL, NULL));
	assert_weir_err(
	    weir_store_append(f->st, ev, NULL, &seq, NULL), WEIR_EINVAL);
	assert_int_equal(seq, 0);
	weir_event_release(ev);
	fx_got *g = calloc(1, sizeof(*g));
	assert_weir_ok(weir_store_read_all(f->st, 0, 0, fx_collect, g));
	assert_int_equal(g->n, 0);
	free(g);
	free(name);
}

static weir_err
count_bytes(weir_store *st, const weir_event *ev, const char *stream,
    int64_t version, void *arg)
{
	size_t key_len, payload_len, n = weir_event_header_count(ev);
	(void) st;
	(void) stream;
	(void) version;
	(void) weir_event_key(ev, &key_len);
	(void) weir_event_payload(ev, &payload_len);
	assert_int_equal(strlen(weir_event_topic(ev)), WEIR_MAX_TOPIC);
	assert_int_equal(key_len, WEIR_MAX_KEY);
	assert_int_equal(n, WEIR_MAX_HEADERS);
	for (size_t i = 0; i < n; i++) {
		const char *name;
		size_t      len;
		assert_weir_ok(weir_event_header(ev, i, &name, NULL, &len));
		assert_int_equal(strlen(name), WEIR_MAX_HEADER_NAME);
		assert_int_equal(len, WEIR_MAX_HEADER_VALUE);
	}
	(*(size_t *) arg)++;
	return WEIR_OK;
}

// An event at every limit at once appends, reads and replays back.
static void
test_every_limit_reads_back(void **state)
{
	fx                *f = *state;
	weir_store_config *cfg;
	weir_store_destroy(f->st);
	assert_weir_ok(weir_store_config_create(&cfg));
	assert_weir_ok(weir_store_config_set_max_event(cfg, 16u << 20));
	fx_open_cfg(f, cfg);
	weir_store_config_destroy(cfg);
	char       *topic = wt_filled(WEIR_MAX_TOPIC, 't');
	char       *key   = wt_filled(WEIR_MAX_KEY, 'k');
	char       *value = wt_filled(WEIR_MAX_HEADER_VALUE, 'v');
	char        names[WEIR_MAX_HEADERS][WEIR_MAX_HEADER_NAME + 1];
	weir_header hdr[WEIR_MAX_HEADERS];
	for (size_t i = 0; i < WEIR_MAX_HEADERS; i++) {
		memset(names[i], 'a' + (int) (i % 26), WEIR_MAX_HEADER_NAME);
		names[i][WEIR_MAX_HEADER_NAME] = '\0';
		hdr[i] =
		    (weir_header) { names[i], value, WEIR_MAX_HEADER_VALUE };
	}
	weir_event_init init = { .size = sizeof(init),
		.topic                 = topic,
		.key                   = key,
		.key_len               = WEIR_MAX_KEY,
		.headers               = hdr,
		.header_count          = WEIR_MAX_HEADERS };
	weir_event     *ev;
	size_t          n        = 0;
	uint64_t        replayed = 0;
	assert_weir_ok(weir_event_new(&ev, &init));
	assert_weir_ok(weir_store_append(f->st, ev, NULL, NULL, NULL));
	weir_event_release(ev);
	assert_weir_ok(weir_store_read_all(f->st, 0, 0, count_bytes, &n));
	assert_int_equal(n, 1);
	weir_store_replay_opts rp = { .size = sizeof(rp),
		.target                     = WEIR_STORE_REPLAY_CALL,
		.fn                         = count_bytes,
		.arg                        = &n };
	assert_weir_ok(weir_store_replay(f->st, &rp, &replayed));
	assert_int_equal(replayed, 1);
	assert_int_equal(n, 2);
	free(topic);
	free(key);
	free(value);
}

// The store's event limit, exactly: max_event bytes in, one more out.
static void
test_max_event_exact(void **state)
{
	fx             *f   = *state;
	size_t          len = WEIR_STORE_DEFAULT_MAX_EVENT - strlen("a.b");
	char           *p   = calloc(1, len + 1);
	weir_event_init in  = { .size = sizeof(in),
		 .topic               = "a.b",
		 .payload             = p,
		 .payload_len         = len };
	weir_event     *ev;
	assert_weir_ok(weir_event_new(&ev, &in));
	assert_weir_ok(weir_store_append(f->st, ev, NULL, NULL, NULL));
	weir_event_release(ev);
	in.payload_len = len + 1;
	assert_weir_ok(weir_event_new(&ev, &in));
	assert_weir_err(
	    weir_store_append(f->st, ev, NULL, NULL, NULL), WEIR_ETOOBIG);
	weir_event_release(ev);
	free(p);
}

static void
no_free(void *p)
{
	(void) p;
}

// An event one past a limit, made past weir_event_new's checks (as an
// internal path could): every door of the store refuses it, naming
// why, and nothing is written.
static void
refused_everywhere(fx *f, weir_event *ev, weir_err want, const char *why)
{
	uint64_t seq = 99, n = 99;
	assert_weir_err(weir_store_append(f->st, ev, NULL, &seq, NULL), want);
	assert_int_equal(seq, 0);
	assert_non_null(strstr(weir_store_errmsg(f->st), why));
	weir_store_append_opts o = { .size = sizeof(o),
		.flags                     = WEIR_STORE_APPEND_NOWAIT };
	assert_weir_err(weir_store_append(f->st, ev, &o, NULL, NULL), want);
	// Regression: the inbox took such an event (its door checked the
	// topic and size only), and its row would not have read back.
	assert_weir_err(weir__store_inbox_append(f->st, ev, NULL, NULL), want);
	assert_non_null(strstr(weir_store_errmsg(f->st), why));
	assert_weir_ok(weir_store_flush(f->st));
	assert_weir_ok(weir_store_last_seq(f->st, &seq));
	assert_int_equal(seq, 0);
	assert_weir_ok(weir__store_inbox_count(f->st, &n));
	assert_int_equal(n, 0);
	weir_event_release(ev);
}

// The store checks the topic and limits of an event only when
// weir_event_new has not (its EVENT_CHECKED mark): an event made past
// it (weir__event_make, as an internal path could) is checked at every
// door; one from weir_event_new is trusted, which the topic changed
// behind its back (a test-only trick) shows. Without the mark the store
// checked every event twice (~740 instructions each).
static void
test_checked_mark(void **state)
{
	fx             *f    = *state;
	weir_event_init init = { .size = sizeof(init), .topic = "a.bc" };
	weir_event     *made, *checked;
	uint64_t        seq = 99;
	assert_weir_ok(weir__event_make(&made, &init, NULL, NULL));
	assert_weir_ok(weir_event_new(&checked, &init));
	assert_false(weir__event_checked(made));
	assert_true(weir__event_checked(checked));
	((char *) weir_event_topic(made))[2]    = '.'; // "a..c"
	((char *) weir_event_topic(checked))[2] = '.';
	refused_everywhere(f, made, WEIR_EBADTOPIC, "invalid topic 'a..c'");
	assert_weir_ok(weir_store_append(f->st, checked, NULL, &seq, NULL));
	assert_int_equal(seq, 1);
	weir_event_release(checked);
}

static void
test_one_past_each_limit(void **state)
{
	fx             *f = *state;
	weir_event     *ev;
	weir_header     h[WEIR_MAX_HEADERS + 1];
	char           *big = wt_filled(WEIR_MAX_KEY + 1, 'k');
	weir_event_init init;
	for (size_t i = 0; i <= WEIR_MAX_HEADERS; i++) {
		h[i] = (weir_header) { "h", "v", 1 };
	}
	// One header too many.
	init = (weir_event_init) { .size = sizeof(init),
		.topic                   = "a.b",
		.headers                 = h,
		.header_count            = WEIR_MAX_HEADERS + 1 };
	assert_weir_ok(weir__event_make(&ev, &init, NULL, NULL));
	refused_everywhere(f, ev, WEIR_EINVAL, "past weir's limits");
	// A key one byte too long.
	init = (weir_event_init) { .size = sizeof(init),
		.topic                   = "a.b",
		.key                     = big,
		.key_len                 = WEIR_MAX_KEY + 1 };
	assert_weir_ok(weir__event_make(&ev, &init, NULL, NULL));
	refused_everywhere(f, ev, WEIR_EINVAL, "past weir's limits");
	// A header value one byte too long.
	h[0] = (weir_header) { "h", big, WEIR_MAX_HEADER_VALUE + 1 };
	init = (weir_event_init) { .size = sizeof(init),
		.topic                   = "a.b",
		.headers                 = h,
		.header_count            = 1 };
	assert_weir_ok(weir__event_make(&ev, &init, NULL, NULL));
	refused_everywhere(f, ev, WEIR_EINVAL, "past weir's limits");
	// A header name one byte too long, after one within the limits.
	big[WEIR_MAX_HEADER_NAME + 1] = '\0';
	h[0]                          = (weir_header) { "h", "v", 1 };
	h[1]                          = (weir_header) { big, "v", 1 };
	init.header_count             = 2;
	assert_weir_ok(weir__event_make(&ev, &init, NULL, NULL));
	refused_everywhere(f, ev, WEIR_EINVAL, "past weir's limits");
	big[WEIR_MAX_HEADER_NAME + 1] = 'k';
	// A topic weir's grammar refuses.
	init = (weir_event_init) { .size = sizeof(init), .topic = "a..b" };
	assert_weir_ok(weir__event_make(&ev, &init, NULL, NULL));
	refused_everywhere(f, ev, WEIR_EBADTOPIC, "invalid topic 'a..b'");
	// A payload length near SIZE_MAX (taken, never copied or read): the
	// size sum saturates rather than wrapping to a small number.
	init = (weir_event_init) { .size = sizeof(init),
		.topic                   = "a.b",
		.payload                 = big,
		.payload_len             = SIZE_MAX - 2 };
	assert_weir_ok(weir__event_make(&ev, &init, no_free, NULL));
	refused_everywhere(f, ev, WEIR_ETOOBIG, "exceeds the limit");
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_long_header_name_refused, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_every_limit_reads_back, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_max_event_exact, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_one_past_each_limit, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_checked_mark, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
