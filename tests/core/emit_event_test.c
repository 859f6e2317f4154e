// The event a listener of a synchronous emit gets. The outermost emit on
// a topic handle, and the outermost emit by string on a thread, reuse one
// event (the handle's, the thread's) and rewrite only what changes per
// emit: every emit must still look like a fresh one (its payload, its
// topic, its own lazily made id), and an emit from a listener must not
// touch the event of the emit that called it.
#include <string.h>

#include "weir_test.h"

#define TOPIC "ev.reuse"

// What a listener saw: its payload and topic, at the start of the call
// and again after a nested emit returned.
typedef struct seen {
	weir_topic *t;      // nested emits go through it; NULL: by string
	int         depth;  // nesting of this test's emits
	int         calls;  // outer calls
	const void *before; // payload at the start of the outer call
	const void *after;  // payload after the nested emit returned
	size_t      len_after;
	char        topic_after[32];
	const void *nested; // payload the nested call got
	uint8_t     id[4][16];
	int         ids;
} seen;

static const char payload_a[] = "outer payload";
static const char payload_b[] = "nested";

static weir_err
nesting_listener(weir_bus *bus, const weir_event *ev, void *arg)
{
	seen  *s = arg;
	size_t len;
	if (s->depth > 0) {
		s->nested = weir_event_payload(ev, NULL);
		return WEIR_OK;
	}
	s->calls++;
	s->before = weir_event_payload(ev, NULL);
	s->depth++;
	if (s->t != NULL) {
		assert_weir_ok(
		    weir_emit_topic(s->t, payload_b, sizeof(payload_b), NULL));
	} else {
		assert_weir_ok(
		    weir_emit(bus, TOPIC, payload_b, sizeof(payload_b), NULL));
	}
	s->depth--;
	s->after     = weir_event_payload(ev, &len);
	s->len_after = len;
	snprintf(s->topic_after, sizeof(s->topic_after), "%s",
	    weir_event_topic(ev));
	return WEIR_OK;
}

// A second listener of the outer emit: called after the nested emit,
// it must see the outer payload too.
static weir_err
second_listener(weir_bus *bus, const weir_event *ev, void *arg)
{
	seen *s = arg;
	(void) bus;
	if (s->depth == 0) {
		assert_ptr_equal(weir_event_payload(ev, NULL), payload_a);
	}
	return WEIR_OK;
}

static void
check_nested(seen *s)
{
	assert_int_equal(s->calls, 1);
	assert_ptr_equal(s->before, payload_a);
	assert_ptr_equal(s->nested, payload_b);
	assert_ptr_equal(s->after, payload_a);
	assert_int_equal(s->len_after, sizeof(payload_a));
	assert_string_equal(s->topic_after, TOPIC);
}

// An emit on a handle from a listener of an emit on the same handle.
static void
test_handle_nested_keeps_outer_event(void **state)
{
	(void) state;
	weir_bus *bus;
	seen      s = { 0 };
	size_t    called;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(
	    weir_on(bus, TOPIC, nesting_listener, &s, NULL, 0, NULL));
	assert_weir_ok(
	    weir_on(bus, TOPIC, second_listener, &s, NULL, 0, NULL));
	assert_weir_ok(weir_topic_create(&s.t, bus, TOPIC));
	// Twice: the first emit may take the handle's slow path.
	for (int i = 0; i < 2; i++) {
		memset(&s.calls, 0, sizeof(s) - offsetof(seen, calls));
		assert_weir_ok(weir_emit_topic(
		    s.t, payload_a, sizeof(payload_a), &called));
		assert_int_equal(called, 2);
		check_nested(&s);
	}
	weir_topic_destroy(s.t);
	weir_bus_destroy(bus);
}

// The same by string: the thread's event belongs to the outer emit.
static void
test_string_nested_keeps_outer_event(void **state)
{
	(void) state;
	weir_bus *bus;
	seen      s = { 0 };
	size_t    called;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(
	    weir_on(bus, TOPIC, nesting_listener, &s, NULL, 0, NULL));
	assert_weir_ok(
	    weir_on(bus, TOPIC, second_listener, &s, NULL, 0, NULL));
	for (int i = 0; i < 2; i++) {
		memset(&s.calls, 0, sizeof(s) - offsetof(seen, calls));
		assert_weir_ok(weir_emit(
		    bus, TOPIC, payload_a, sizeof(payload_a), &called));
		assert_int_equal(called, 2);
		check_nested(&s);
	}
	weir_bus_destroy(bus);
}

static weir_err
id_listener(weir_bus *bus, const weir_event *ev, void *arg)
{
	seen *s = arg;
	(void) bus;
	memcpy(s->id[s->ids++ % 4], weir_event_id(ev), 16);
	return WEIR_OK;
}

// Each emit gets its own id, though the event is reused.
static void
test_each_emit_its_own_id(void **state)
{
	(void) state;
	weir_bus   *bus;
	weir_topic *t;
	seen        s = { 0 };
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_on(bus, TOPIC, id_listener, &s, NULL, 0, NULL));
	assert_weir_ok(weir_topic_create(&t, bus, TOPIC));
	assert_weir_ok(weir_emit_topic(t, NULL, 0, NULL));
	assert_weir_ok(weir_emit_topic(t, NULL, 0, NULL));
	assert_weir_ok(weir_emit(bus, TOPIC, NULL, 0, NULL));
	assert_weir_ok(weir_emit(bus, TOPIC, NULL, 0, NULL));
	assert_int_equal(s.ids, 4);
	for (int i = 0; i < 4; i++) {
		for (int j = i + 1; j < 4; j++) {
			assert_memory_not_equal(s.id[i], s.id[j], 16);
		}
	}
	weir_topic_destroy(t);
	weir_bus_destroy(bus);
}

typedef struct got {
	const void       *payload;
	size_t            len;
	char              topic[32];
	const weir_event *held;
} got;

static weir_err
got_listener(weir_bus *bus, const weir_event *ev, void *arg)
{
	got *g = arg;
	(void) bus;
	g->payload = weir_event_payload(ev, &g->len);
	snprintf(g->topic, sizeof(g->topic), "%s", weir_event_topic(ev));
	if (g->held == NULL) {
		g->held = weir_event_hold(ev);
	}
	return WEIR_OK;
}

// What changes between emits is what each listener sees: payload,
// length (an empty one reads as NULL), topic; a held copy keeps the
// first emit's.
static void
test_fields_follow_each_emit(void **state)
{
	(void) state;
	weir_bus   *bus;
	weir_topic *t;
	got         g[2] = { 0 };
	size_t      len;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(
	    weir_on(bus, "f.a", got_listener, &g[0], NULL, 0, NULL));
	assert_weir_ok(
	    weir_on(bus, "f.abc", got_listener, &g[1], NULL, 0, NULL));
	assert_weir_ok(weir_topic_create(&t, bus, "f.a"));

	assert_weir_ok(weir_emit_topic(t, payload_a, sizeof(payload_a), NULL));
	assert_ptr_equal(g[0].payload, payload_a);
	assert_weir_ok(weir_emit_topic(t, NULL, 0, NULL));
	assert_null(g[0].payload);
	assert_int_equal(g[0].len, 0);
	assert_weir_ok(weir_emit_topic(t, payload_b, 3, NULL));
	assert_ptr_equal(g[0].payload, payload_b);
	assert_int_equal(g[0].len, 3);
	assert_string_equal(g[0].topic, "f.a");

	assert_weir_ok(weir_emit(bus, "f.abc", payload_a, 5, NULL));
	assert_ptr_equal(g[1].payload, payload_a);
	assert_int_equal(g[1].len, 5);
	assert_string_equal(g[1].topic, "f.abc");
	assert_weir_ok(weir_emit(bus, "f.a", payload_b, 2, NULL));
	assert_string_equal(g[0].topic, "f.a");
	assert_int_equal(g[0].len, 2);
	assert_weir_ok(weir_emit(bus, "f.abc", NULL, 0, NULL));
	assert_null(g[1].payload);
	assert_string_equal(g[1].topic, "f.abc");

	for (int i = 0; i < 2; i++) {
		assert_ptr_not_equal(
		    weir_event_payload(g[i].held, &len), NULL);
		assert_int_equal(len, i == 0 ? sizeof(payload_a) : 5);
		assert_memory_equal(
		    weir_event_payload(g[i].held, NULL), payload_a, len);
		weir_event_release(g[i].held);
	}
	weir_topic_destroy(t);
	weir_bus_destroy(bus);
}

static weir_err
failing_listener(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	(void) arg;
	return WEIR_EIO;
}

// The error listener records the failed emit's topic as the error event
// names it (built from the topic and its length).
static weir_err
error_listener(weir_bus *bus, const weir_event *ev, void *arg)
{
	char       *out = arg;
	size_t      len = 0;
	const char *v   = weir_event_header_get(ev, "weir-topic", &len);
	(void) bus;
	assert_non_null(v);
	snprintf(out, 32, "%.*s", (int) len, v);
	return WEIR_OK;
}

// The topic's length is per emit too: failures of topics of different
// lengths, by handle and by string, are reported under their own names.
static void
test_error_names_each_topic(void **state)
{
	(void) state;
	static const char *const topics[] = { "e.abcdef", "e.a", "e.abc" };
	weir_bus                *bus;
	weir_topic              *t[3];
	char                     name[32];
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_on(
	    bus, WEIR_TOPIC_ERROR, error_listener, name, NULL, 0, NULL));
	assert_weir_ok(
	    weir_on(bus, "e.*", failing_listener, NULL, NULL, 0, NULL));
	for (int i = 0; i < 3; i++) {
		assert_weir_ok(weir_topic_create(&t[i], bus, topics[i]));
	}
	for (int r = 0; r < 2; r++) {
		for (int i = 0; i < 3; i++) {
			memset(name, 0, sizeof(name));
			assert_weir_ok(
			    weir_emit(bus, topics[i], NULL, 0, NULL));
			assert_string_equal(name, topics[i]);
			memset(name, 0, sizeof(name));
			assert_weir_ok(weir_emit_topic(t[i], NULL, 0, NULL));
			assert_string_equal(name, topics[i]);
		}
	}
	for (int i = 0; i < 3; i++) {
		weir_topic_destroy(t[i]);
	}
	weir_bus_destroy(bus);
}

static weir_err
count_error(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	(*(int *) arg)++;
	return WEIR_OK;
}

// Emits @p topic by string and by a handle, checking the result, the
// count of listeners called and of failures reported.
static void
emit_both(weir_bus *bus, const char *topic, weir_err want, size_t called_want,
    int *errors, int errors_want)
{
	weir_topic *t;
	size_t      called = 99;
	assert_weir_ok(weir_topic_create(&t, bus, topic));
	for (int r = 0; r < 2; r++) {
		*errors = 0;
		assert_int_equal(
		    weir_emit(bus, topic, NULL, 0, &called), want);
		assert_int_equal(called, called_want);
		assert_int_equal(*errors, errors_want);
		*errors = 0;
		assert_int_equal(weir_emit_topic(t, NULL, 0, &called), want);
		assert_int_equal(called, called_want);
		assert_int_equal(*errors, errors_want);
	}
	weir_topic_destroy(t);
}

// Failing listeners among others (the out-of-line failure paths): with
// an error listener every listener is called and counted, each failure
// reported; without one the first failure stops the emit.
static void
test_failures_counted(void **state)
{
	(void) state;
	weir_bus *bus;
	int       errors = 0, calls = 0;
	uint64_t  id;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(
	    weir_on(bus, "x.one", failing_listener, NULL, NULL, 0, NULL));
	assert_weir_ok(
	    weir_on(bus, "x.four", failing_listener, NULL, NULL, 0, NULL));
	assert_weir_ok(weir_on(
	    bus, "x.four", wt_count_int_handler, &calls, NULL, 0, NULL));
	assert_weir_ok(
	    weir_on(bus, "x.four", failing_listener, NULL, NULL, 0, NULL));
	assert_weir_ok(weir_on(
	    bus, "x.four", wt_count_int_handler, &calls, NULL, 0, NULL));
	assert_weir_ok(weir_on(
	    bus, WEIR_TOPIC_ERROR, count_error, &errors, NULL, 0, &id));
	emit_both(bus, "x.one", WEIR_OK, 1, &errors, 1);
	emit_both(bus, "x.four", WEIR_OK, 4, &errors, 2);
	assert_int_equal(calls, 8);
	assert_weir_ok(weir_off(bus, id));
	emit_both(bus, "x.one", WEIR_EIO, 1, &errors, 0);
	emit_both(bus, "x.four", WEIR_EIO, 1, &errors, 0);
	assert_int_equal(calls, 8);
	weir_bus_destroy(bus);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handle_nested_keeps_outer_event),
		cmocka_unit_test(test_string_nested_keeps_outer_event),
		cmocka_unit_test(test_each_emit_its_own_id),
		cmocka_unit_test(test_fields_follow_each_emit),
		cmocka_unit_test(test_error_names_each_topic),
		cmocka_unit_test(test_failures_counted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
