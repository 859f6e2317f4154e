// Synchronous emit with EventEmitter semantics.
#include <stdlib.h>
#include <string.h>

#include "fault_alloc.h"
#include "weir_test.h"

// A log of listener calls: each listener appends its tag.
typedef struct emit_fx {
	weir_bus *bus;
	char      log[256];
	int       n;
} emit_fx;

static emit_fx fx;

typedef struct tag {
	char     c;
	weir_err rv;    // returned
	int      calls; // times called
	uint64_t id;    // the listener's own id
	void (*also)(struct tag *, const weir_event *); // extra action
	const weir_event *held;
	char              topic[64];
	size_t            count_inside;
} tag;

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

static weir_err
tag_fn(weir_bus *bus, const weir_event *ev, void *arg)
{
	tag *t = arg;
	assert_ptr_equal(bus, fx.bus);
	t->calls++;
	log_put(t->c);
	snprintf(t->topic, sizeof(t->topic), "%s", weir_event_topic(ev));
	if (t->also != NULL) {
		t->also(t, ev);
	}
	return t->rv;
}

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
on(const char *pattern, tag *t, unsigned flags)
{
	assert_weir_ok(
	    weir_on(fx.bus, pattern, tag_fn, t, NULL, flags, &t->id));
	assert_true(t->id != 0);
}

static void
test_order_across_patterns(void **state)
{
	(void) state;
	tag a = { .c = 'a' }, b = { .c = 'b' }, c = { .c = 'c' },
	    d = { .c = 'd' }, p = { .c = 'P' }, q = { .c = 'Q' },
	    x = { .c = 'x' };
	on("a.b", &a, 0);
	on("a.*", &b, 0);
	on(">", &c, 0);
	on("x.y", &x, 0);
	on("a.b", &d, 0);
	on("a.>", &p, WEIR_ON_PREPEND);
	on("a.b", &q, WEIR_ON_PREPEND);
	assert_int_equal(weir_listener_count(fx.bus, "a.b"), 6);
	assert_int_equal(weir_listener_count(fx.bus, "a.c"), 3);
	assert_int_equal(weir_listener_count(fx.bus, "x.y"), 2);
	assert_int_equal(weir_listener_count(fx.bus, "zzz"), 1);
	assert_int_equal(weir_listener_count(fx.bus, "a.*"), 0); // invalid
	assert_int_equal(weir_listener_count(NULL, "a.b"), 0);
	assert_weir_ok(weir_emit(fx.bus, "a.b", "hi", 2, NULL));
	// Prepended first (newest first), then registration order.
	assert_string_equal(fx.log, "QPabcd");
	log_reset();
	assert_weir_ok(weir_emit(fx.bus, "a.c", NULL, 0, NULL));
	assert_string_equal(fx.log, "Pbc");
	assert_int_equal(x.calls, 0);
	assert_string_equal(a.topic, "a.b");
	assert_string_equal(b.topic, "a.c");
	// Ids are distinct handles.
	assert_true(a.id != b.id && b.id != c.id && p.id != q.id);
}

static weir_err
payload_fn(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	size_t      len;
	const void *p = weir_event_payload(ev, &len);
	assert_int_equal(len, 5);
	assert_memory_equal(p, "hello", 5);
	(*(int *) arg)++;
	return WEIR_OK;
}

static void
test_payload_and_no_match(void **state)
{
	(void) state;
	int n = 0;
	assert_weir_ok(weir_on(fx.bus, "t", payload_fn, &n, NULL, 0, NULL));
	assert_weir_ok(weir_emit(fx.bus, "t", "hello", 5, NULL));
	assert_int_equal(n, 1);
	// Nobody listens: OK, nothing called.
	assert_weir_ok(weir_emit(fx.bus, "t.u", "hello", 5, NULL));
	assert_int_equal(n, 1);
}

static void
count_inside(tag *t, const weir_event *ev)
{
	t->count_inside = weir_listener_count(fx.bus, weir_event_topic(ev));
}

static void
test_once(void **state)
{
	(void) state;
	tag o = { .c = 'o', .also = count_inside }, a = { .c = 'a' };
	on("e", &o, WEIR_ON_ONCE);
	on("e", &a, 0);
	assert_int_equal(weir_listener_count(fx.bus, "e"), 2);
	for (int i = 0; i < 3; i++) {
		assert_weir_ok(weir_emit(fx.bus, "e", NULL, 0, NULL));
	}
	assert_int_equal(o.calls, 1);
	assert_int_equal(a.calls, 3);
	assert_string_equal(fx.log, "oaaa");
	// Removed before its first call.
	assert_int_equal(o.count_inside, 1);
	assert_int_equal(weir_listener_count(fx.bus, "e"), 1);
	assert_weir_err(weir_off(fx.bus, o.id), WEIR_ENOENT);
	// Once plus prepend.
	tag p = { .c = 'p' };
	on("e", &p, WEIR_ON_ONCE | WEIR_ON_PREPEND);
	log_reset();
	assert_weir_ok(weir_emit(fx.bus, "e", NULL, 0, NULL));
	assert_weir_ok(weir_emit(fx.bus, "e", NULL, 0, NULL));
	assert_string_equal(fx.log, "paa");
}

static void
nested_emit_same(tag *t, const weir_event *ev)
{
	if (t->calls < 5) {
		assert_weir_ok(
		    weir_emit(fx.bus, weir_event_topic(ev), NULL, 0, NULL));
	}
}

static void
test_once_nested(void **state)
{
	(void) state;
	// A once-listener that re-emits its own topic is still called once;
	// the plain listener sees both emits.
	tag o = { .c = 'o', .also = nested_emit_same }, a = { .c = 'a' };
	on("n", &o, WEIR_ON_ONCE);
	on("n", &a, 0);
	assert_weir_ok(weir_emit(fx.bus, "n", NULL, 0, NULL));
	assert_int_equal(o.calls, 1);
	assert_int_equal(a.calls, 2);
	assert_string_equal(fx.log, "oaa");
}

static void
test_off(void **state)
{
	(void) state;
	tag a = { .c = 'a' }, b = { .c = 'b' };
	on("k", &a, 0);
	on("k", &b, 0);
	assert_weir_ok(weir_off(fx.bus, a.id));
	assert_weir_err(weir_off(fx.bus, a.id), WEIR_ENOENT);
	assert_weir_err(weir_off(fx.bus, 987654321), WEIR_ENOENT);
	assert_weir_err(weir_off(NULL, b.id), WEIR_EINVAL);
	assert_int_equal(weir_listener_count(fx.bus, "k"), 1);
	assert_weir_ok(weir_emit(fx.bus, "k", NULL, 0, NULL));
	assert_string_equal(fx.log, "b");
}

static void
test_off_all(void **state)
{
	(void) state;
	tag a = { .c = 'a' }, b = { .c = 'b' }, c = { .c = 'c' },
	    d = { .c = 'd' };
	on("p.q", &a, 0);
	on("p.*", &b, 0);
	on("p.q", &c, WEIR_ON_PREPEND);
	on(">", &d, 0);
	size_t removed = 99;
	// Exactly the pattern: "p.q" listeners only, not "p.*" or ">".
	assert_weir_ok(weir_off_all(fx.bus, "p.q", &removed));
	assert_int_equal(removed, 2);
	assert_int_equal(weir_listener_count(fx.bus, "p.q"), 2);
	assert_weir_ok(weir_emit(fx.bus, "p.q", NULL, 0, NULL));
	assert_string_equal(fx.log, "bd");
	assert_weir_ok(weir_off_all(fx.bus, "no.such", &removed));
	assert_int_equal(removed, 0);
	assert_weir_err(
	    weir_off_all(fx.bus, "p..q", &removed), WEIR_EBADPATTERN);
	assert_weir_err(weir_off_all(NULL, "p.q", &removed), WEIR_EINVAL);
	assert_weir_ok(weir_off_all(fx.bus, NULL, &removed));
	assert_int_equal(removed, 2);
	assert_int_equal(weir_listener_count(fx.bus, "p.q"), 0);
	assert_weir_ok(weir_off_all(fx.bus, NULL, NULL));
	log_reset();
	assert_weir_ok(weir_emit(fx.bus, "p.q", NULL, 0, NULL));
	assert_string_equal(fx.log, "");
	assert_weir_err(weir_off(fx.bus, d.id), WEIR_ENOENT);
}

// Snapshot semantics: the listener list is taken when an emit starts.
static tag  snap_new = { .c = 'N' };
static tag *snap_victim;

static void
snap_add(tag *t, const weir_event *ev)
{
	(void) t;
	(void) ev;
	if (snap_new.id == 0) {
		on("s", &snap_new, 0);
	}
}

static void
snap_remove(tag *t, const weir_event *ev)
{
	(void) t;
	(void) ev;
	weir_off(fx.bus, snap_victim->id);
}

static void
test_snapshot_add_during_emit(void **state)
{
	(void) state;
	memset(&snap_new, 0, sizeof(snap_new));
	snap_new.c = 'N';
	tag a = { .c = 'a', .also = snap_add }, b = { .c = 'b' };
	on("s", &a, 0);
	on("s", &b, 0);
	assert_weir_ok(weir_emit(fx.bus, "s", NULL, 0, NULL));
	assert_string_equal(fx.log, "ab"); // N was added, not called
	assert_int_equal(snap_new.calls, 0);
	log_reset();
	assert_weir_ok(weir_emit(fx.bus, "s", NULL, 0, NULL));
	assert_string_equal(fx.log, "abN");
}

static void
test_snapshot_remove_during_emit(void **state)
{
	(void) state;
	tag a = { .c = 'a', .also = snap_remove }, b = { .c = 'b' },
	    c = { .c = 'c' };
	on("s", &a, 0);
	on("s", &b, 0);
	on("s", &c, 0);
	snap_victim = &c;
	assert_weir_ok(weir_emit(fx.bus, "s", NULL, 0, NULL));
	assert_string_equal(fx.log, "abc"); // c removed, still called (Node)
	log_reset();
	assert_weir_ok(weir_emit(fx.bus, "s", NULL, 0, NULL));
	assert_string_equal(fx.log, "ab");
	assert_int_equal(c.calls, 1);
}

static void
emit_inner(tag *t, const weir_event *ev)
{
	(void) t;
	(void) ev;
	assert_weir_ok(weir_emit(fx.bus, "inner", "x", 1, NULL));
}

static void
test_emit_from_handler(void **state)
{
	(void) state;
	tag a = { .c = 'a', .also = emit_inner }, b = { .c = 'b' },
	    i = { .c = 'i' };
	on("outer", &a, 0);
	on("outer", &b, 0);
	on("inner", &i, 0);
	assert_weir_ok(weir_emit(fx.bus, "outer", NULL, 0, NULL));
	// The inner emit runs at once, inside a's call.
	assert_string_equal(fx.log, "aib");
	assert_string_equal(i.topic, "inner");
}

// The error path.
typedef struct err_seen {
	int      calls;
	char     topic[64];
	char     err_topic[64];
	char     err_name[32];
	char     cause_topic[64];
	char     payload[16];
	int      cause_ok;
	weir_err rv;
} err_seen;

static weir_err
error_fn(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	err_seen *e = arg;
	e->calls++;
	snprintf(e->topic, sizeof(e->topic), "%s", weir_event_topic(ev));
	size_t      len;
	const char *v = weir_event_header_get(ev, "weir-topic", &len);
	if (v != NULL) {
		snprintf(
		    e->err_topic, sizeof(e->err_topic), "%.*s", (int) len, v);
	}
	v = weir_event_header_get(ev, "weir-error", &len);
	if (v != NULL) {
		snprintf(
		    e->err_name, sizeof(e->err_name), "%.*s", (int) len, v);
	}
	const weir_event *cause = weir_event_cause(ev);
	if (cause != NULL) {
		e->cause_ok = 1;
		snprintf(e->cause_topic, sizeof(e->cause_topic), "%s",
		    weir_event_topic(cause));
		const void *p = weir_event_payload(cause, &len);
		snprintf(e->payload, sizeof(e->payload), "%.*s", (int) len,
		    (const char *) p);
	}
	return e->rv;
}

static void
test_handler_error_to_error_topic(void **state)
{
	(void) state;
	tag      a = { .c = 'a', .rv = WEIR_EIO }, b = { .c = 'b' };
	tag      all = { .c = '*' };
	err_seen e   = { 0 };
	on("job.done", &a, 0);
	on("job.done", &b, 0);
	on(">", &all, 0); // must not see the `$weir.error` event
	assert_weir_ok(
	    weir_on(fx.bus, WEIR_TOPIC_ERROR, error_fn, &e, NULL, 0, NULL));
	// Somebody listens to errors: the emit succeeds and goes on.
	assert_weir_ok(weir_emit(fx.bus, "job.done", "pay", 3, NULL));
	assert_string_equal(fx.log, "ab*");
	assert_int_equal(e.calls, 1);
	assert_string_equal(e.topic, WEIR_TOPIC_ERROR);
	assert_string_equal(e.err_topic, "job.done");
	assert_string_equal(e.err_name, "WEIR_EIO");
	assert_int_equal(e.cause_ok, 1);
	assert_string_equal(e.cause_topic, "job.done");
	assert_string_equal(e.payload, "pay");
	assert_int_equal(all.calls, 1);
}

static void
test_handler_error_returned(void **state)
{
	(void) state;
	tag a = { .c = 'a' }, b = { .c = 'b', .rv = WEIR_EBACKEND },
	    c = { .c = 'c' };
	on("j", &a, 0);
	on("j", &b, 0);
	on("j", &c, 0);
	// No error listener: the error comes back, c is not called.
	assert_weir_err(weir_emit(fx.bus, "j", NULL, 0, NULL), WEIR_EBACKEND);
	assert_string_equal(fx.log, "ab");
	assert_int_equal(c.calls, 0);
	// The same through a topic handle.
	weir_topic *t;
	assert_weir_ok(weir_topic_create(&t, fx.bus, "j"));
	log_reset();
	assert_weir_err(weir_emit_topic(t, NULL, 0, NULL), WEIR_EBACKEND);
	assert_string_equal(fx.log, "ab");
	weir_topic_destroy(t);
}

static void
test_error_listener_fails(void **state)
{
	(void) state;
	tag      a = { .c = 'a', .rv = WEIR_EIO }, b = { .c = 'b' };
	err_seen e = { .rv = WEIR_EINTERNAL };
	on("j", &a, 0);
	on("j", &b, 0);
	assert_weir_ok(
	    weir_on(fx.bus, WEIR_TOPIC_ERROR, error_fn, &e, NULL, 0, NULL));
	weir_err rv = weir_emit(fx.bus, "j", NULL, 0, NULL);
	// No recursion: the error listener ran once, and its own failure
	// is not reported again as an error event.
	assert_int_equal(e.calls, 1);
	assert_true(rv != WEIR_OK);
	// Emitting on the error topic directly does not loop either.
	e.calls = 0;
	weir_emit(fx.bus, WEIR_TOPIC_ERROR, NULL, 0, NULL);
	assert_int_equal(e.calls, 1);
}

// Out of memory while copying the failed event into an error event's
// cause: the error event is not delivered (the handler's error comes
// back instead); it is never delivered with a NULL cause.
static void
test_enomem_error_cause(void **state)
{
	(void) state;
	tag a        = { .c = 'a', .rv = WEIR_EIO };
	int failures = 0;
	on("job.done", &a, 0);
	for (long n = 1;; n++) {
		err_seen e = { 0 };
		uint64_t id;
		assert_weir_ok(weir_on(
		    fx.bus, WEIR_TOPIC_ERROR, error_fn, &e, NULL, 0, &id));
		weir_set_allocator(&fi_alloc); // empties the event pool
		fi_arm(n);
		weir_err rv = weir_emit(fx.bus, "job.done", "pay", 3, NULL);
		fail_at     = 0;
		weir_set_allocator(NULL);
		assert_weir_ok(weir_off(fx.bus, id));
		if (e.calls == 0) {
			assert_weir_err(rv, WEIR_EIO);
			failures++;
			continue;
		}
		assert_weir_ok(rv);
		assert_int_equal(e.calls, 1);
		assert_int_equal(e.cause_ok, 1); // never a silent NULL cause
		assert_string_equal(e.cause_topic, "job.done");
		if (alloc_calls < n) {
			break; // no allocation failed: done
		}
	}
	assert_true(failures >= 2); // the error event and its cause
}

static void
test_topic_handle(void **state)
{
	(void) state;
	weir_topic *t;
	assert_weir_ok(weir_topic_create(&t, fx.bus, "h.t"));
	assert_string_equal(weir_topic_name(t), "h.t");
	assert_weir_ok(weir_emit_topic(t, "x", 1, NULL));
	assert_string_equal(fx.log, "");
	tag a = { .c = 'a' }, b = { .c = 'b' };
	on("h.*", &a, 0);
	assert_weir_ok(weir_emit_topic(t, "x", 1, NULL)); // refreshed
	assert_string_equal(fx.log, "a");
	on("h.t", &b, WEIR_ON_PREPEND);
	assert_weir_ok(weir_emit_topic(t, "x", 1, NULL));
	assert_string_equal(fx.log, "aba");
	assert_weir_ok(weir_off(fx.bus, a.id));
	assert_weir_ok(weir_emit_topic(t, "x", 1, NULL));
	assert_string_equal(fx.log, "abab");
	assert_weir_ok(weir_off_all(fx.bus, NULL, NULL));
	assert_weir_ok(weir_emit_topic(t, "x", 1, NULL));
	assert_string_equal(fx.log, "abab");
	assert_string_equal(b.topic, "h.t");
	// Bad input through handles.
	assert_weir_err(weir_emit_topic(NULL, "x", 1, NULL), WEIR_EINVAL);
	assert_weir_err(weir_emit_topic(t, NULL, 1, NULL), WEIR_EINVAL);
	assert_weir_err(
	    weir_emit_topic(t, "x", WEIR_DEFAULT_MAX_PAYLOAD + 1, NULL),
	    WEIR_ETOOBIG);
	weir_topic_destroy(t);
	weir_topic_destroy(NULL);
	weir_topic *bad = (weir_topic *) 1;
	assert_weir_err(
	    weir_topic_create(&bad, fx.bus, "a.*"), WEIR_EBADTOPIC);
	assert_null(bad);
	assert_weir_err(weir_topic_create(&bad, NULL, "a"), WEIR_EINVAL);
	assert_weir_err(weir_topic_create(NULL, fx.bus, "a"), WEIR_EINVAL);
}

// A handler that changes the registry and re-emits on the same handle:
// the outer emit keeps walking its (retired) snapshot.
static weir_topic *nest_t;
static tag         nest_added = { .c = 'N' };

static void
nest_change_and_emit(tag *t, const weir_event *ev)
{
	(void) ev;
	if (t->calls == 1) {
		on("nest", &nest_added, 0);
		assert_weir_ok(weir_emit_topic(nest_t, NULL, 0, NULL));
	}
}

static void
test_topic_handle_nested_refresh(void **state)
{
	(void) state;
	memset(&nest_added, 0, sizeof(nest_added));
	nest_added.c = 'N';
	tag a = { .c = 'a', .also = nest_change_and_emit }, b = { .c = 'b' };
	on("nest", &a, 0);
	on("nest", &b, 0);
	assert_weir_ok(weir_topic_create(&nest_t, fx.bus, "nest"));
	assert_weir_ok(weir_emit_topic(nest_t, NULL, 0, NULL));
	// Outer: a, (inner: a b N), b. The outer did not call N.
	assert_string_equal(fx.log, "aabNb");
	log_reset();
	assert_weir_ok(weir_emit_topic(nest_t, NULL, 0, NULL));
	assert_string_equal(fx.log, "abN");
	weir_topic_destroy(nest_t);
}

static void
hold_it(tag *t, const weir_event *ev)
{
	t->held = weir_event_hold(ev);
}

static void
test_hold_outlives_emit(void **state)
{
	(void) state;
	tag  a = { .c = 'a', .also = hold_it };
	char buf[8];
	memcpy(buf, "payload", 8);
	on("keep.me", &a, 0);
	assert_weir_ok(weir_emit(fx.bus, "keep.me", buf, 8, NULL));
	memset(buf, 0, sizeof(buf)); // the caller's buffer is not kept
	assert_non_null(a.held);
	assert_string_equal(weir_event_topic(a.held), "keep.me");
	size_t len;
	assert_memory_equal(weir_event_payload(a.held, &len), "payload", 8);
	assert_int_equal(len, 8);
	const uint8_t *id = weir_event_id(a.held);
	assert_int_equal(id[6] >> 4, 7);
	assert_true(weir_event_ts(a.held) > 0);
	// A second hold shares the heap copy.
	const weir_event *again = weir_event_hold(a.held);
	assert_ptr_equal(again, a.held);
	weir_event_release(again);
	weir_event_release(a.held);
}

static uint8_t seen_id[16];

static weir_err
id_then_hold_fn(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	memcpy(seen_id, weir_event_id(ev), 16);
	*(const weir_event **) arg = weir_event_hold(ev);
	return WEIR_OK;
}

static void
test_hold_keeps_id(void **state)
{
	(void) state;
	const weir_event *held = NULL;
	assert_weir_ok(
	    weir_on(fx.bus, "i", id_then_hold_fn, &held, NULL, 0, NULL));
	assert_weir_ok(weir_emit(fx.bus, "i", NULL, 0, NULL));
	assert_non_null(held);
	assert_memory_equal(weir_event_id(held), seen_id, 16);
	weir_event_release(held);
}

static void
test_bad_input(void **state)
{
	(void) state;
	uint64_t id = 0;
	freed_args  = 0;
	assert_weir_err(
	    weir_on(fx.bus, "a..b", wt_nop_handler, NULL, arg_free_fn, 0, &id),
	    WEIR_EBADPATTERN);
	assert_weir_err(weir_on(fx.bus, "a.>.b", wt_nop_handler, NULL,
	                    arg_free_fn, 0, &id),
	    WEIR_EBADPATTERN);
	assert_weir_err(
	    weir_on(fx.bus, "", wt_nop_handler, NULL, arg_free_fn, 0, &id),
	    WEIR_EBADPATTERN);
	weir_err rv =
	    weir_on(fx.bus, NULL, wt_nop_handler, NULL, arg_free_fn, 0, &id);
	assert_true(rv == WEIR_EINVAL || rv == WEIR_EBADPATTERN);
	assert_weir_err(
	    weir_on(NULL, "a", wt_nop_handler, NULL, arg_free_fn, 0, &id),
	    WEIR_EINVAL);
	assert_weir_err(weir_on(fx.bus, "a", NULL, NULL, arg_free_fn, 0, &id),
	    WEIR_EINVAL);
	assert_weir_err(
	    weir_on(fx.bus, "a", wt_nop_handler, NULL, arg_free_fn, 0x80, &id),
	    WEIR_EINVAL);
	assert_int_equal(id, 0);
	assert_int_equal(freed_args, 0); // the caller keeps arg on error
	assert_int_equal(weir_listener_count(fx.bus, "a"), 0);
	assert_int_equal(weir_listener_count(fx.bus, "a.b"), 0);

	assert_weir_err(
	    weir_emit(fx.bus, "a.*", NULL, 0, NULL), WEIR_EBADTOPIC);
	assert_weir_err(
	    weir_emit(fx.bus, "a..b", NULL, 0, NULL), WEIR_EBADTOPIC);
	assert_weir_err(weir_emit(fx.bus, "", NULL, 0, NULL), WEIR_EBADTOPIC);
	assert_weir_err(weir_emit(fx.bus, NULL, NULL, 0, NULL), WEIR_EINVAL);
	assert_weir_err(weir_emit(NULL, "a", NULL, 0, NULL), WEIR_EINVAL);
	assert_weir_err(weir_emit(fx.bus, "a", NULL, 3, NULL), WEIR_EINVAL);
	assert_weir_err(weir_emit_event(NULL, NULL, NULL), WEIR_EINVAL);
	assert_weir_err(weir_emit_event(fx.bus, NULL, NULL), WEIR_EINVAL);

	// The payload bound: the default is 1 MiB.
	int   n   = 0;
	char *big = calloc(1, WEIR_DEFAULT_MAX_PAYLOAD + 1);
	assert_non_null(big);
	assert_weir_ok(weir_on(fx.bus, "big", payload_fn, &n, NULL, 0, NULL));
	assert_weir_err(
	    weir_emit(fx.bus, "big", big, WEIR_DEFAULT_MAX_PAYLOAD + 1, NULL),
	    WEIR_ETOOBIG);
	assert_int_equal(n, 0);
	assert_weir_err(weir_publish(fx.bus, "big", big,
	                    WEIR_DEFAULT_MAX_PAYLOAD + 1, 0, NULL),
	    WEIR_ETOOBIG);
	assert_weir_ok(weir_off_all(fx.bus, NULL, NULL));
	int exact = 0;
	assert_weir_ok(
	    weir_on(fx.bus, "big", wt_nop_handler, &exact, NULL, 0, NULL));
	assert_weir_ok(
	    weir_emit(fx.bus, "big", big, WEIR_DEFAULT_MAX_PAYLOAD, NULL));
	free(big);
	assert_int_equal(freed_args, 0);
}

static void
test_configured_max_payload(void **state)
{
	(void) state;
	weir_bus_config *cfg;
	weir_bus        *bus;
	assert_weir_ok(weir_bus_config_create(&cfg));
	assert_weir_err(weir_bus_config_set_max_payload(cfg, 0), WEIR_EINVAL);
	assert_weir_err(weir_bus_config_set_max_payload(NULL, 9), WEIR_EINVAL);
	assert_weir_ok(weir_bus_config_set_max_payload(cfg, 100));
	assert_weir_ok(weir_bus_create(&bus, cfg));
	weir_bus_config_destroy(cfg); // the bus keeps its own copy
	char buf[101] = { 0 };
	int  n        = 0;
	assert_weir_ok(weir_on(bus, "m", wt_nop_handler, &n, NULL, 0, NULL));
	assert_weir_ok(weir_emit(bus, "m", buf, 100, NULL));
	assert_weir_err(weir_emit(bus, "m", buf, 101, NULL), WEIR_ETOOBIG);
	assert_weir_err(
	    weir_publish(bus, "m", buf, 101, 0, NULL), WEIR_ETOOBIG);
	weir_topic *t;
	assert_weir_ok(weir_topic_create(&t, bus, "m"));
	assert_weir_err(weir_emit_topic(t, buf, 101, NULL), WEIR_ETOOBIG);
	assert_weir_err(weir_publish_topic(t, buf, 101), WEIR_ETOOBIG);
	assert_weir_ok(weir_emit_topic(t, buf, 100, NULL));
	weir_topic_destroy(t);
	weir_event_init init = { .size = sizeof(weir_event_init),
		.topic                 = "m",
		.payload               = buf,
		.payload_len           = 101 };
	weir_event     *ev;
	assert_weir_ok(weir_event_new(&ev, &init));
	assert_weir_err(weir_publish_event(bus, ev), WEIR_ETOOBIG);
	weir_event_release(ev);
	weir_bus_destroy(bus);
	weir_bus_destroy(NULL);
	weir_bus_config_destroy(NULL);
}

static void
test_arg_free(void **state)
{
	(void) state;
	freed_args = 0;
	uint64_t id;
	assert_weir_ok(
	    weir_on(fx.bus, "f", wt_nop_handler, NULL, arg_free_fn, 0, &id));
	assert_weir_ok(weir_on(fx.bus, "f", wt_nop_handler, NULL, arg_free_fn,
	    WEIR_ON_ONCE, NULL));
	assert_weir_ok(
	    weir_on(fx.bus, "g", wt_nop_handler, NULL, arg_free_fn, 0, NULL));
	assert_weir_ok(weir_off(fx.bus, id));
	assert_int_equal(freed_args, 1);
	assert_weir_ok(
	    weir_emit(fx.bus, "f", NULL, 0, NULL)); // the once one goes
	assert_int_equal(freed_args, 2);
	weir_bus_destroy(fx.bus); // the rest with the bus
	fx.bus = NULL;
	assert_int_equal(freed_args, 3);
}

static void
test_enomem_on(void **state)
{
	(void) state;
	weir_set_allocator(&fi_alloc);
	long n;
	int  failures = 0;
	for (n = 1;; n++) {
		weir_bus *bus;
		fail_at = 0;
		assert_weir_ok(weir_bus_create(&bus, NULL));
		assert_weir_ok(
		    weir_on(bus, "x.y", wt_nop_handler, NULL, NULL, 0, NULL));
		freed_args  = 0;
		uint64_t id = 0;
		fi_arm(n);
		weir_err rv = weir_on(
		    bus, "a.*.c", wt_nop_handler, NULL, arg_free_fn, 0, &id);
		fail_at = 0;
		if (rv == WEIR_OK) {
			assert_true(alloc_calls < n);
			assert_int_equal(weir_listener_count(bus, "a.b.c"), 1);
			weir_bus_destroy(bus);
			assert_int_equal(freed_args, 1);
			break;
		}
		failures++;
		assert_weir_err(rv, WEIR_ENOMEM);
		assert_int_equal(id, 0);
		assert_int_equal(freed_args, 0);
		assert_int_equal(weir_listener_count(bus, "a.b.c"), 0);
		assert_int_equal(weir_listener_count(bus, "x.y"), 1);
		// The bus still works after the failure.
		assert_weir_ok(
		    weir_on(bus, "a.*.c", wt_nop_handler, NULL, NULL, 0, &id));
		assert_int_equal(weir_listener_count(bus, "a.b.c"), 1);
		weir_bus_destroy(bus);
	}
	weir_set_allocator(NULL);
	assert_true(failures >= 2);
}

static void
test_enomem_subscribe(void **state)
{
	(void) state;
	weir_set_allocator(&fi_alloc);
	weir_subscr_config *sc;
	long                n;
	int                 failures = 0;
	assert_weir_ok(weir_subscr_config_create(&sc));
	assert_weir_ok(weir_subscr_config_set_capacity(sc, 8));
	assert_weir_ok(weir_subscr_config_set_name(sc, "fi"));
	for (weir_policy pol = WEIR_POLICY_BLOCK; pol <= WEIR_POLICY_COALESCE;
	     pol++) {
		assert_weir_ok(weir_subscr_config_set_policy(sc, pol, 10));
		for (n = 1;; n++) {
			weir_bus *bus;
			fail_at = 0;
			assert_weir_ok(weir_bus_create(&bus, NULL));
			freed_args       = 0;
			weir_subscr *sub = NULL;
			fi_arm(n);
			weir_err rv = weir_subscribe(&sub, bus, "s.>",
			    wt_nop_handler, NULL, arg_free_fn, sc);
			fail_at     = 0;
			if (rv == WEIR_OK) {
				assert_true(alloc_calls < n);
				assert_non_null(sub);
				assert_weir_ok(
				    weir_publish(bus, "s.t", "x", 1, 0, NULL));
				weir_subscr_stats st =
				    WEIR_STRUCT_INIT(weir_subscr_stats);
				assert_weir_ok(
				    weir_subscr_stats_get(sub, &st));
				assert_int_equal(st.published, 1);
				weir_unsubscribe(sub);
				weir_bus_destroy(bus);
				assert_int_equal(freed_args, 1);
				break;
			}
			failures++;
			assert_weir_err(rv, WEIR_ENOMEM);
			assert_int_equal(freed_args, 0);
			// Nothing registered: the loop can be destroyed
			// (no subscription holds it) and a publish finds
			// nobody.
			weir_loop *lp;
			assert_weir_ok(weir_loop_create(&lp));
			assert_weir_ok(weir_loop_destroy(lp));
			assert_weir_ok(
			    weir_publish(bus, "s.t", "x", 1, 0, NULL));
			weir_bus_destroy(bus);
		}
	}
	weir_subscr_config_destroy(sc);
	weir_set_allocator(NULL);
	assert_true(failures >= 10);
}

static void
test_enomem_bus_create(void **state)
{
	(void) state;
	weir_set_allocator(&fi_alloc);
	long n;
	int  failures = 0;
	for (n = 1;; n++) {
		live_allocs   = 0;
		weir_bus *bus = (weir_bus *) 1;
		fi_arm(n);
		weir_err rv = weir_bus_create(&bus, NULL);
		fail_at     = 0;
		if (rv == WEIR_OK) {
			assert_true(alloc_calls < n);
			weir_bus_destroy(bus);
			assert_int_equal(live_allocs, 0);
			break;
		}
		failures++;
		assert_weir_err(rv, WEIR_ENOMEM);
		assert_null(bus);
		assert_int_equal(live_allocs, 0); // nothing to free
	}
	weir_set_allocator(NULL);
	assert_true(failures >= 2);
}

static void
test_enomem_emit(void **state)
{
	(void) state;
	// An emit that runs out of memory calls nobody and leaks nothing.
	weir_set_allocator(&fi_alloc);
	int calls = 0;
	for (long n = 1;; n++) {
		weir_bus *bus;
		fail_at = 0;
		assert_weir_ok(weir_bus_create(&bus, NULL));
		for (int i = 0; i < 20; i++) {
			assert_weir_ok(weir_on(bus, i % 2 ? "e.*" : "e.f",
			    wt_count_int_handler, &calls, NULL, 0, NULL));
		}
		calls = 0;
		fi_arm(n);
		weir_err rv = weir_emit(bus, "e.f", "x", 1, NULL);
		fail_at     = 0;
		weir_bus_destroy(bus);
		if (rv == WEIR_OK) {
			assert_int_equal(calls, 20);
			break;
		}
		assert_weir_err(rv, WEIR_ENOMEM);
		assert_int_equal(calls, 0);
	}
	weir_set_allocator(NULL);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_order_across_patterns),
		T(test_payload_and_no_match),
		T(test_once),
		T(test_once_nested),
		T(test_off),
		T(test_off_all),
		T(test_snapshot_add_during_emit),
		T(test_snapshot_remove_during_emit),
		T(test_emit_from_handler),
		T(test_handler_error_to_error_topic),
		T(test_handler_error_returned),
		T(test_error_listener_fails),
		T(test_topic_handle),
		T(test_topic_handle_nested_refresh),
		T(test_hold_outlives_emit),
		T(test_hold_keeps_id),
		T(test_bad_input),
		T(test_configured_max_payload),
		T(test_arg_free),
		T(test_enomem_on),
		T(test_enomem_subscribe),
		T(test_enomem_bus_create),
		T(test_enomem_emit),
		T(test_enomem_error_cause),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
