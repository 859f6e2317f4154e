// The per-pattern listener limit and its one-time leak warning (Node's
// setMaxListeners and MaxListenersExceededWarning).
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "weir_test.h"

typedef struct warned {
	atomic_int calls;
	weir_bus  *bus;
	char       pattern[64];
	size_t     count;
	int        on_inside; // weir_on() calls to make from the hook
} warned;

static weir_bus *bus;

static int
setup(void **state)
{
	(void) state;
	return weir_bus_create(&bus, NULL) == WEIR_OK ? 0 : -1;
}

static int
teardown(void **state)
{
	(void) state;
	weir_bus_destroy(bus);
	bus = NULL;
	return 0;
}

static void
warn_fn(weir_bus *b, const char *pattern, size_t count, void *arg)
{
	warned *w = arg;
	atomic_fetch_add(&w->calls, 1);
	w->bus   = b;
	w->count = count;
	snprintf(w->pattern, sizeof(w->pattern), "%s", pattern);
	if (w->on_inside > 0) {
		w->on_inside--;
		// The hook runs with no lock held: it may add listeners.
		assert_weir_ok(
		    weir_on(b, pattern, wt_nop_handler, NULL, NULL, 0, NULL));
	}
}

static void
add(const char *pattern, int n)
{
	for (int i = 0; i < n; i++) {
		assert_weir_ok(weir_on(
		    bus, pattern, wt_nop_handler, NULL, NULL, 0, NULL));
	}
}

static void
test_default_limit_warns_once(void **state)
{
	(void) state;
	warned w = { 0 };
	assert_int_equal(weir_bus_max_listeners(bus), 10);
	assert_int_equal(WEIR_DEFAULT_MAX_LISTENERS, 10);
	assert_weir_ok(weir_bus_set_warning(bus, warn_fn, &w));
	add("p.q", 10);
	assert_int_equal(atomic_load(&w.calls), 0);
	add("p.q", 1); // the 11th: one warning, still registered
	assert_int_equal(atomic_load(&w.calls), 1);
	assert_ptr_equal(w.bus, bus);
	assert_string_equal(w.pattern, "p.q");
	assert_int_equal(w.count, 11);
	add("p.q", 5);
	assert_int_equal(atomic_load(&w.calls), 1);
	assert_int_equal(weir_listener_count(bus, "p.q"), 16);
	size_t called;
	assert_weir_ok(weir_emit(bus, "p.q", NULL, 0, &called));
	assert_int_equal(called, 16);
	// The limit is per exact pattern: listeners of other patterns that
	// match the same topics do not add up.
	add("p.*", 10);
	add(">", 10);
	assert_int_equal(atomic_load(&w.calls), 1);
	add("p.*", 1);
	assert_int_equal(atomic_load(&w.calls), 2);
	assert_string_equal(w.pattern, "p.*");
}

static void
test_set_limit(void **state)
{
	(void) state;
	warned w = { 0 };
	assert_weir_ok(weir_bus_set_warning(bus, warn_fn, &w));
	assert_weir_ok(weir_bus_set_max_listeners(bus, 0)); // no limit
	assert_int_equal(weir_bus_max_listeners(bus), 0);
	add("a", 50);
	assert_int_equal(atomic_load(&w.calls), 0);
	assert_weir_ok(weir_bus_set_max_listeners(bus, 2));
	add("b", 2);
	assert_int_equal(atomic_load(&w.calls), 0);
	add("a", 1); // a already has 50 > 2: warns at its next add
	assert_int_equal(atomic_load(&w.calls), 1);
	assert_string_equal(w.pattern, "a");
	assert_int_equal(w.count, 51);
	add("b", 1);
	assert_int_equal(atomic_load(&w.calls), 2);
	assert_int_equal(w.count, 3);
	// Raising the limit does not re-arm a pattern that warned.
	assert_weir_ok(weir_bus_set_max_listeners(bus, 3));
	add("b", 1);
	assert_int_equal(atomic_load(&w.calls), 2);
	assert_weir_err(weir_bus_set_max_listeners(NULL, 3), WEIR_EINVAL);
	assert_weir_err(weir_bus_set_warning(NULL, warn_fn, &w), WEIR_EINVAL);
	assert_int_equal(weir_bus_max_listeners(NULL), 0);
}

static void
test_rearms_when_pattern_empties(void **state)
{
	(void) state;
	warned w = { 0 };
	assert_weir_ok(weir_bus_set_warning(bus, warn_fn, &w));
	assert_weir_ok(weir_bus_set_max_listeners(bus, 1));
	add("e", 2);
	assert_int_equal(atomic_load(&w.calls), 1);
	// Some removed, not all: the pattern stays warned.
	assert_weir_ok(weir_off_fn(bus, "e", wt_nop_handler, NULL));
	add("e", 1);
	assert_int_equal(atomic_load(&w.calls), 1);
	// Left without listeners, it starts afresh, as a Node event name.
	assert_weir_ok(weir_off_all(bus, "e", NULL));
	add("e", 1);
	assert_int_equal(atomic_load(&w.calls), 1);
	add("e", 1);
	assert_int_equal(atomic_load(&w.calls), 2);
}

static void
test_hook_may_add_listeners(void **state)
{
	(void) state;
	warned w = { .on_inside = 3 };
	assert_weir_ok(weir_bus_set_warning(bus, warn_fn, &w));
	assert_weir_ok(weir_bus_set_max_listeners(bus, 1));
	add("h", 2); // the hook adds one more inside: no second warning
	assert_int_equal(atomic_load(&w.calls), 1);
	assert_int_equal(w.on_inside, 2);
	assert_int_equal(weir_listener_count(bus, "h"), 3);
}

// Reads what the default hook writes to stderr during @p fn.
static void
capture_stderr(void (*fn)(void), char *out, size_t size)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fds[1], STDERR_FILENO) >= 0);
	close(fds[1]);
	fn();
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	ssize_t n = read(fds[0], out, size - 1);
	close(fds[0]);
	out[n > 0 ? n : 0] = '\0';
}

static void
add_twelve(void)
{
	add("leak.me", 12);
}

static void
test_default_hook_prints_one_line(void **state)
{
	(void) state;
	warned w = { 0 };
	assert_weir_ok(weir_bus_set_warning(bus, warn_fn, &w));
	assert_weir_ok(weir_bus_set_warning(bus, NULL, NULL)); // default
	char text[1024];
	capture_stderr(add_twelve, text, sizeof(text));
	assert_int_equal(atomic_load(&w.calls), 0);
	assert_non_null(strstr(text, "MaxListenersExceededWarning"));
	assert_non_null(strstr(text, "11 listeners on pattern \"leak.me\""));
	assert_non_null(strstr(text, "(max 10)"));
	// One line, once.
	char *nl = strchr(text, '\n');
	assert_non_null(nl);
	assert_string_equal(nl + 1, "");
}

// Threads cross the limit of one pattern together: one warning.
#define LT_THREADS 4
#define LT_EACH 200

static void *
add_many(void *arg)
{
	weir_bus *b = arg;
	for (int i = 0; i < LT_EACH; i++) {
		if (weir_on(b, "shared.p", wt_nop_handler, NULL, NULL, 0,
		        NULL) != WEIR_OK) {
			abort(); // a thread cannot fail a cmocka test
		}
	}
	return NULL;
}

static void
test_warning_once_across_threads(void **state)
{
	(void) state;
	for (int round = 0; round < 20; round++) {
		weir_bus *b;
		warned    w = { 0 };
		assert_weir_ok(weir_bus_create(&b, NULL));
		assert_weir_ok(weir_bus_set_warning(b, warn_fn, &w));
		assert_weir_ok(weir_bus_set_max_listeners(b, 1 + round));
		pthread_t th[LT_THREADS];
		for (int i = 0; i < LT_THREADS; i++) {
			assert_int_equal(
			    pthread_create(&th[i], NULL, add_many, b), 0);
		}
		for (int i = 0; i < LT_THREADS; i++) {
			pthread_join(th[i], NULL);
		}
		assert_int_equal(atomic_load(&w.calls), 1);
		assert_string_equal(w.pattern, "shared.p");
		assert_int_equal(w.count, (size_t) round + 2);
		assert_int_equal(
		    weir_listener_count(b, "shared.p"), LT_THREADS * LT_EACH);
		weir_bus_destroy(b);
	}
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_default_limit_warns_once),
		T(test_set_limit),
		T(test_rearms_when_pattern_empties),
		T(test_hook_may_add_listeners),
		T(test_default_hook_prints_one_line),
		T(test_warning_once_across_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
