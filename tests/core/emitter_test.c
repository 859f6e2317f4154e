// EventEmitter parity: emit's listener count, removal by function,
// the patterns that have listeners, and the listener-change topics.
#include <string.h>

#include "fault_alloc.h"
#include "weir_test.h"

typedef struct em_fx {
	weir_bus *bus;
	char      log[256];
	int       n;
} em_fx;

static em_fx fx;

static int
setup(void **state)
{
	(void) state;
	memset(&fx, 0, sizeof(fx));
	return weir_bus_create(&fx.bus, NULL) == WEIR_OK ? 0 : -1;
}

static int
teardown(void **state)
{
	(void) state;
	weir_bus_destroy(fx.bus);
	fx.bus = NULL;
	return 0;
}

static void
log_put(char c)
{
	if (fx.n < (int) sizeof(fx.log) - 1) {
		fx.log[fx.n++] = c;
		fx.log[fx.n]   = '\0';
	}
}

static void
log_reset(void)
{
	fx.n      = 0;
	fx.log[0] = '\0';
}

// A listener whose arg is a tag: it logs the tag's letter.
typedef struct tag {
	char     c;
	weir_err rv;
	void (*also)(struct tag *); // an extra action inside the call
} tag;

static weir_err
tag_fn(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	tag *t = arg;
	log_put(t->c);
	if (t->also != NULL) {
		t->also(t);
	}
	return t->rv;
}

static uint64_t
on(const char *pattern, tag *t, unsigned flags)
{
	uint64_t id = 0;
	assert_weir_ok(weir_on(fx.bus, pattern, tag_fn, t, NULL, flags, &id));
	return id;
}

// ---- 1. emit tells how many listeners it called --------------------

static void
test_called_count(void **state)
{
	(void) state;
	size_t called = 99;
	// Nobody listens: OK and 0, as Node's emit() returns false.
	assert_weir_ok(weir_emit(fx.bus, "c.d", "x", 1, &called));
	assert_int_equal(called, 0);
	tag a = { .c = 'a' }, b = { .c = 'b' }, o = { .c = 'o' };
	on("c.d", &a, 0);
	on("c.*", &b, 0);
	on("c.d", &o, WEIR_ON_ONCE);
	called = 99;
	assert_weir_ok(weir_emit(fx.bus, "c.d", "x", 1, &called));
	assert_int_equal(called, 3);
	assert_weir_ok(weir_emit(fx.bus, "c.d", NULL, 0, &called));
	assert_int_equal(called, 2); // the once-listener went
	assert_weir_ok(weir_emit(fx.bus, "c.e", NULL, 0, &called));
	assert_int_equal(called, 1);
	assert_weir_ok(weir_emit(fx.bus, "c.d", NULL, 0, NULL));
	assert_string_equal(fx.log, "aboabbab");

	weir_event_init init = { .size = sizeof(weir_event_init),
		.topic                 = "c.d" };
	weir_event     *ev;
	assert_weir_ok(weir_event_new(&ev, &init));
	called = 99;
	assert_weir_ok(weir_emit_event(fx.bus, ev, &called));
	assert_int_equal(called, 2);
	weir_event_release(ev);

	// Bad input sets it to 0 too.
	called = 99;
	assert_weir_err(
	    weir_emit(fx.bus, "c.*", NULL, 0, &called), WEIR_EBADTOPIC);
	assert_int_equal(called, 0);
	called = 99;
	assert_weir_err(weir_emit_event(fx.bus, NULL, &called), WEIR_EINVAL);
	assert_int_equal(called, 0);
}

static void
test_called_count_topic_handle(void **state)
{
	(void) state;
	weir_topic *t;
	assert_weir_ok(weir_topic_create(&t, fx.bus, "h"));
	size_t called = 99;
	assert_weir_ok(weir_emit_topic(t, NULL, 0, &called));
	assert_int_equal(called, 0);
	tag a = { .c = 'a' }, b = { .c = 'b' }, o = { .c = 'o' };
	on("h", &a, 0);
	on("h", &b, 0);
	assert_weir_ok(weir_emit_topic(t, NULL, 0, &called)); // plain path
	assert_int_equal(called, 2);
	on("h", &o, WEIR_ON_ONCE);
	assert_weir_ok(weir_emit_topic(t, NULL, 0, &called)); // once path
	assert_int_equal(called, 3);
	assert_weir_ok(weir_emit_topic(t, NULL, 0, &called));
	assert_int_equal(called, 2);
	assert_weir_ok(weir_emit_topic(t, NULL, 0, NULL));
	called = 99;
	assert_weir_err(weir_emit_topic(t, NULL, 1, &called), WEIR_EINVAL);
	assert_int_equal(called, 0);
	called = 99;
	assert_weir_err(
	    weir_emit_topic(t, "x", WEIR_DEFAULT_MAX_PAYLOAD + 1, &called),
	    WEIR_ETOOBIG);
	assert_int_equal(called, 0);
	weir_topic_destroy(t);
}

static void
test_called_count_with_failures(void **state)
{
	(void) state;
	tag a = { .c = 'a' }, f = { .c = 'f', .rv = WEIR_EIO },
	    c = { .c = 'c' };
	on("j", &a, 0);
	on("j", &f, 0);
	on("j", &c, 0);
	weir_topic *t;
	assert_weir_ok(weir_topic_create(&t, fx.bus, "j"));
	// No error listener: the emit stops at the failing one, counted.
	size_t called = 99;
	assert_weir_err(weir_emit(fx.bus, "j", NULL, 0, &called), WEIR_EIO);
	assert_int_equal(called, 2);
	assert_weir_err(weir_emit_topic(t, NULL, 0, &called), WEIR_EIO);
	assert_int_equal(called, 2);
	// With an error listener the emit goes on; the error listener is
	// not counted.
	int errors = 0;
	assert_weir_ok(weir_on(fx.bus, WEIR_TOPIC_ERROR, wt_count_int_handler,
	    &errors, NULL, 0, NULL));
	assert_weir_ok(weir_emit(fx.bus, "j", NULL, 0, &called));
	assert_int_equal(called, 3);
	assert_weir_ok(weir_emit_topic(t, NULL, 0, &called));
	assert_int_equal(called, 3);
	assert_int_equal(errors, 2);
	weir_topic_destroy(t);
}

// ---- 2. removal by (fn, arg), as Node's removeListener(name, fn) -----

static void
test_off_fn(void **state)
{
	(void) state;
	tag      x = { .c = 'x' }, y = { .c = 'y' };
	uint64_t x1 = on("a", &x, 0);
	uint64_t y1 = on("a", &y, 0);
	uint64_t x2 = on("a", &x, 0);
	uint64_t xb = on("b", &x, 0);
	uint64_t xw = on("*", &x, 0);
	// The most recently added (x, &x) on exactly "a" goes, only it.
	assert_weir_ok(weir_off_fn(fx.bus, "a", tag_fn, &x));
	assert_weir_err(weir_off(fx.bus, x2), WEIR_ENOENT);
	size_t called;
	assert_weir_ok(weir_emit(fx.bus, "a", NULL, 0, &called));
	assert_int_equal(called, 3); // x1, y1 and "*"
	assert_string_equal(fx.log, "xyx");
	assert_weir_ok(weir_off_fn(fx.bus, "a", tag_fn, &x));
	assert_weir_err(weir_off(fx.bus, x1), WEIR_ENOENT);
	// None left: ENOENT; the arg must match too; other patterns
	// (also wildcard ones that match "a") are untouched.
	assert_weir_err(weir_off_fn(fx.bus, "a", tag_fn, &x), WEIR_ENOENT);
	assert_weir_err(
	    weir_off_fn(fx.bus, "a", wt_count_int_handler, &y), WEIR_ENOENT);
	assert_weir_err(weir_off_fn(fx.bus, "c", tag_fn, &y), WEIR_ENOENT);
	assert_weir_ok(weir_off(fx.bus, y1));
	assert_weir_ok(weir_off(fx.bus, xb));
	assert_weir_ok(weir_off(fx.bus, xw));
	assert_weir_err(
	    weir_off_fn(fx.bus, "a..b", tag_fn, &x), WEIR_EBADPATTERN);
	assert_weir_err(
	    weir_off_fn(fx.bus, NULL, tag_fn, &x), WEIR_EBADPATTERN);
	assert_weir_err(weir_off_fn(NULL, "a", tag_fn, &x), WEIR_EINVAL);
	assert_weir_err(weir_off_fn(fx.bus, "a", NULL, &x), WEIR_EINVAL);
}

static void
test_off_fn_prepended(void **state)
{
	(void) state;
	// Node removes the match its emit calls last: with prependListener
	// that is the one added first.
	tag      x  = { .c = 'x' };
	uint64_t x1 = on("p", &x, 0);
	uint64_t x2 = on("p", &x, WEIR_ON_PREPEND);
	assert_weir_ok(weir_off_fn(fx.bus, "p", tag_fn, &x));
	assert_weir_err(weir_off(fx.bus, x1), WEIR_ENOENT);
	assert_weir_ok(weir_off(fx.bus, x2));
}

static void
test_off_fn_arg_free(void **state)
{
	(void) state;
	freed_args = 0;
	int marker;
	assert_weir_ok(weir_on(
	    fx.bus, "f", wt_nop_handler, &marker, arg_free_fn, 0, NULL));
	assert_weir_ok(weir_off_fn(fx.bus, "f", wt_nop_handler, &marker));
	assert_int_equal(freed_args, 1);
}

// A listener that removes, by function, a later listener and itself.
static tag *victim;

static void
remove_victim_and_self(tag *t)
{
	assert_weir_ok(weir_off_fn(fx.bus, "r", tag_fn, victim));
	assert_weir_ok(weir_off_fn(fx.bus, "r", tag_fn, t));
}

static void
test_off_fn_during_emit(void **state)
{
	(void) state;
	tag a = { .c = 'a', .also = remove_victim_and_self }, b = { .c = 'b' },
	    c = { .c = 'c' };
	on("r", &a, 0);
	on("r", &b, 0);
	on("r", &c, 0);
	victim = &b;
	weir_topic *t;
	assert_weir_ok(weir_topic_create(&t, fx.bus, "r"));
	size_t called;
	// Both removed during the emit: still called by it (snapshot).
	assert_weir_ok(weir_emit_topic(t, NULL, 0, &called));
	assert_int_equal(called, 3);
	assert_string_equal(fx.log, "abc");
	log_reset();
	assert_weir_ok(weir_emit_topic(t, NULL, 0, &called));
	assert_int_equal(called, 1);
	assert_string_equal(fx.log, "c");
	weir_topic_destroy(t);
}

// ---- 3. the patterns that have listeners (eventNames) ---------------

static void
assert_patterns(const char *const *want, size_t n)
{
	char **got   = (char **) 1;
	size_t count = 99;
	assert_weir_ok(weir_listener_patterns(fx.bus, &got, &count));
	assert_non_null(got);
	assert_int_equal(count, n);
	for (size_t i = 0; i < n; i++) {
		assert_non_null(got[i]);
		assert_string_equal(got[i], want[i]);
	}
	assert_null(got[n]);
	weir_free(got);
}

static void
test_listener_patterns(void **state)
{
	(void) state;
	assert_patterns(NULL, 0);
	tag      t  = { .c = 't' };
	uint64_t b1 = on("b.x", &t, 0);
	uint64_t a1 = on("a.*", &t, 0);
	on("c.>", &t, WEIR_ON_PREPEND);
	on("b.x", &t, WEIR_ON_PREPEND); // b.x has one: keeps its place
	on("a.*", &t, 0);
	const char *w1[] = { "b.x", "a.*", "c.>" };
	assert_patterns(w1, 3);
	// b.x keeps a listener: it stays first, as a Node event name does
	// (its first listener's place, not its oldest remaining one's).
	assert_weir_ok(weir_off(fx.bus, b1));
	assert_patterns(w1, 3);
	// a.* loses all its listeners, then gets one: it moves to the end.
	assert_weir_ok(weir_off(fx.bus, a1));
	assert_weir_ok(weir_off_fn(fx.bus, "a.*", tag_fn, &t));
	const char *w2[] = { "b.x", "c.>" };
	assert_patterns(w2, 2);
	on("a.*", &t, WEIR_ON_ONCE);
	const char *w3[] = { "b.x", "c.>", "a.*" };
	assert_patterns(w3, 3);
	// A once-listener's pattern goes with its call.
	assert_weir_ok(weir_emit(fx.bus, "a.q", NULL, 0, NULL));
	assert_patterns(w2, 2);
	assert_weir_ok(weir_off_all(fx.bus, NULL, NULL));
	assert_patterns(NULL, 0);
	// count may be NULL; bad arguments.
	char **got;
	assert_weir_ok(weir_listener_patterns(fx.bus, &got, NULL));
	assert_null(got[0]);
	weir_free(got);
	got = (char **) 1;
	assert_weir_err(weir_listener_patterns(NULL, &got, NULL), WEIR_EINVAL);
	assert_null(got);
	assert_weir_err(
	    weir_listener_patterns(fx.bus, NULL, NULL), WEIR_EINVAL);
}

static void
test_listener_patterns_enomem(void **state)
{
	(void) state;
	tag t = { .c = 't' };
	on("one", &t, 0);
	on("two.*", &t, 0);
	weir_set_allocator(&fi_alloc);
	fi_arm(1);
	char   **got   = (char **) 1;
	size_t   count = 99;
	weir_err rv    = weir_listener_patterns(fx.bus, &got, &count);
	fail_at        = 0;
	weir_set_allocator(NULL);
	assert_weir_err(rv, WEIR_ENOMEM);
	assert_null(got);
	assert_int_equal(count, 0);
	const char *w[] = { "one", "two.*" };
	assert_patterns(w, 2);
}

// ---- 5. listener changes on reserved topics -------------------------

typedef struct seen {
	int      calls;
	char     last[64];
	char     all[256];
	size_t   count_inside; // weir_listener_count() of the pattern
	int      on_inside;    // weir_on() calls to make from the handler
	int      off_inside;   // weir_off_fn() calls to make
	weir_err rv;
} seen;

static weir_err
seen_fn(weir_bus *bus, const weir_event *ev, void *arg)
{
	seen       *s = arg;
	size_t      len;
	const char *p = weir_event_payload(ev, &len);
	s->calls++;
	snprintf(s->last, sizeof(s->last), "%.*s", (int) len, p);
	size_t used = strlen(s->all);
	snprintf(s->all + used, sizeof(s->all) - used, "%s%s", used ? " " : "",
	    s->last);
	// The pattern is a valid topic in these tests.
	s->count_inside = weir_listener_count(bus, s->last);
	if (s->on_inside > 0) {
		s->on_inside--;
		assert_weir_ok(
		    weir_on(bus, "inner", wt_nop_handler, s, NULL, 0, NULL));
	}
	if (s->off_inside > 0) {
		s->off_inside--;
		assert_weir_ok(weir_off_fn(bus, "inner", wt_nop_handler, s));
	}
	return s->rv;
}

static void
test_new_listener_topic(void **state)
{
	(void) state;
	seen s = { 0 };
	// Its own registration is not told to it (emitted before the add).
	assert_weir_ok(weir_on(
	    fx.bus, WEIR_TOPIC_LISTENER_NEW, seen_fn, &s, NULL, 0, NULL));
	assert_int_equal(s.calls, 0);
	tag t = { .c = 't' };
	on("x.y", &t, 0);
	assert_int_equal(s.calls, 1);
	assert_string_equal(s.last, "x.y");
	assert_int_equal(s.count_inside, 0); // before the listener is added
	on("x.y", &t, WEIR_ON_ONCE);
	assert_int_equal(s.count_inside, 1);
	on("x.*", &t, 0);
	assert_string_equal(s.all, "x.y x.y x.*");
	// Removals are not told on this topic.
	assert_weir_ok(weir_off_all(fx.bus, "x.y", NULL));
	assert_int_equal(s.calls, 3);
	// Wildcards not in first position match reserved topics too.
	seen w = { 0 };
	assert_weir_ok(
	    weir_on(fx.bus, "$weir.listener.*", seen_fn, &w, NULL, 0, NULL));
	assert_int_equal(s.calls, 4);
	on("z", &t, 0);
	assert_int_equal(w.calls, 1);
	assert_string_equal(w.last, "z");
}

static void
test_removed_listener_topic(void **state)
{
	(void) state;
	seen s = { 0 };
	assert_weir_ok(weir_on(
	    fx.bus, WEIR_TOPIC_LISTENER_REMOVED, seen_fn, &s, NULL, 0, NULL));
	tag      t  = { .c = 't' };
	uint64_t id = on("r", &t, 0);
	on("r", &t, 0);
	on("q", &t, 0);
	on("o", &t, WEIR_ON_ONCE);
	assert_int_equal(s.calls, 0);
	assert_weir_ok(weir_off(fx.bus, id));
	assert_int_equal(s.calls, 1);
	assert_string_equal(s.last, "r");
	assert_int_equal(s.count_inside, 1); // after the removal
	assert_weir_ok(weir_off_fn(fx.bus, "r", tag_fn, &t));
	assert_int_equal(s.count_inside, 0);
	// A once-listener is removed just before its call, and told.
	assert_weir_ok(weir_emit(fx.bus, "o", NULL, 0, NULL));
	assert_string_equal(s.all, "r r o");
	assert_string_equal(fx.log, "t");
	assert_weir_ok(weir_off_all(fx.bus, "q", NULL));
	assert_string_equal(s.all, "r r o q");
	// Failed removals tell nothing.
	assert_weir_err(weir_off(fx.bus, id), WEIR_ENOENT);
	assert_int_equal(s.calls, 4);
	// Removing everything removes this listener too: it is not told.
	assert_weir_ok(weir_off_all(fx.bus, NULL, NULL));
	assert_int_equal(s.calls, 4);
}

static void
test_listener_topics_reentrant(void **state)
{
	(void) state;
	// Handlers of both topics add and remove listeners: no deadlock,
	// and each change is told in turn.
	seen n = { .on_inside = 1 }, r = { .off_inside = 1 };
	assert_weir_ok(weir_on(
	    fx.bus, WEIR_TOPIC_LISTENER_NEW, seen_fn, &n, NULL, 0, NULL));
	assert_weir_ok(weir_on(
	    fx.bus, WEIR_TOPIC_LISTENER_REMOVED, seen_fn, &r, NULL, 0, NULL));
	// Adding r was told to n, which added "inner" from inside its
	// call; that was told to n too, at once.
	assert_int_equal(n.calls, 2);
	assert_int_equal(n.on_inside, 0);
	assert_string_equal(n.all, "$weir.listener.removed inner");
	assert_int_equal(weir_listener_count(fx.bus, "inner"), 1);
	// Removing "inner" by function tells r (disarmed: nothing to do).
	r.off_inside = 0;
	assert_weir_ok(weir_off_fn(fx.bus, "inner", wt_nop_handler, &n));
	assert_int_equal(r.calls, 1);
	assert_string_equal(r.last, "inner");
	// A removal handler that removes another listener.
	assert_weir_ok(
	    weir_on(fx.bus, "inner", wt_nop_handler, &r, NULL, 0, NULL));
	r.off_inside = 1;
	tag      t   = { .c = 't' };
	uint64_t id  = on("other", &t, 0);
	assert_weir_ok(weir_off(fx.bus, id));
	assert_string_equal(r.all, "inner other inner");
	assert_int_equal(weir_listener_count(fx.bus, "inner"), 0);
}

// A listener of the reserved topic that removes itself from inside.
static weir_err
remove_self_fn(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) ev;
	(*(int *) arg)++;
	return weir_off_fn(
	    bus, WEIR_TOPIC_LISTENER_REMOVED, remove_self_fn, arg);
}

static void
test_removed_listener_removes_itself(void **state)
{
	(void) state;
	int calls = 0;
	assert_weir_ok(weir_on(fx.bus, WEIR_TOPIC_LISTENER_REMOVED,
	    remove_self_fn, &calls, NULL, 0, NULL));
	tag      t  = { .c = 't' };
	uint64_t id = on("z", &t, 0);
	assert_weir_ok(weir_off(fx.bus, id));
	assert_int_equal(calls, 1); // its own removal is not told to it
	id = on("z", &t, 0);
	assert_weir_ok(weir_off(fx.bus, id));
	assert_int_equal(calls, 1);
}

static void
test_new_listener_error_vetoes(void **state)
{
	(void) state;
	// A failing 'newListener' listener with nobody on the error topic
	// fails weir_on (a throw in Node): nothing registered, arg kept.
	seen s = { .rv = WEIR_EIO };
	assert_weir_ok(weir_on(
	    fx.bus, WEIR_TOPIC_LISTENER_NEW, seen_fn, &s, NULL, 0, NULL));
	freed_args  = 0;
	uint64_t id = 0;
	assert_weir_err(
	    weir_on(fx.bus, "v", wt_nop_handler, NULL, arg_free_fn, 0, &id),
	    WEIR_EIO);
	assert_int_equal(id, 0);
	assert_int_equal(freed_args, 0);
	assert_int_equal(weir_listener_count(fx.bus, "v"), 0);
	// With an error listener the failure is reported there instead.
	int errors = 0;
	s.rv       = WEIR_OK;
	assert_weir_ok(weir_on(fx.bus, WEIR_TOPIC_ERROR, wt_count_int_handler,
	    &errors, NULL, 0, NULL));
	s.rv = WEIR_EIO;
	assert_weir_ok(
	    weir_on(fx.bus, "v", wt_nop_handler, NULL, NULL, 0, NULL));
	assert_int_equal(errors, 1);
	assert_int_equal(weir_listener_count(fx.bus, "v"), 1);
}

static void
test_listener_topics_ignore_max_payload(void **state)
{
	(void) state;
	// The pattern is told whole, whatever the bus's payload limit.
	weir_bus_config *cfg;
	weir_bus        *bus;
	assert_weir_ok(weir_bus_config_create(&cfg));
	assert_weir_ok(weir_bus_config_set_max_payload(cfg, 2));
	assert_weir_ok(weir_bus_create(&bus, cfg));
	weir_bus_config_destroy(cfg);
	seen s = { 0 };
	assert_weir_ok(
	    weir_on(bus, WEIR_TOPIC_LISTENER_NEW, seen_fn, &s, NULL, 0, NULL));
	assert_weir_ok(
	    weir_on(bus, "long.pattern", wt_nop_handler, NULL, NULL, 0, NULL));
	assert_int_equal(s.calls, 1);
	assert_string_equal(s.last, "long.pattern");
	weir_bus_destroy(bus);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_called_count),
		T(test_called_count_topic_handle),
		T(test_called_count_with_failures),
		T(test_off_fn),
		T(test_off_fn_prepended),
		T(test_off_fn_arg_free),
		T(test_off_fn_during_emit),
		T(test_listener_patterns),
		T(test_listener_patterns_enomem),
		T(test_new_listener_topic),
		T(test_removed_listener_topic),
		T(test_listener_topics_reentrant),
		T(test_removed_listener_removes_itself),
		T(test_new_listener_error_vetoes),
		T(test_listener_topics_ignore_max_payload),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
