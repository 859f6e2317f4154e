/*
 * Format strings in user data are text: topics, patterns, names and
 * messages holding "%s%n" reach the error texts, dead letters and the
 * listener-leak warning literally (every printf-like call takes them as
 * arguments; the format attributes and -Wformat-security keep it so).
 */
#include <fcntl.h>

#include "fixture.h"

#define EVIL "%s%n%x%n"

static void
test_store_errors_literal(void **state)
{
	fx         *f  = *state;
	weir_event *ev = fx_event("a.b", "1");
	assert_weir_err(weir_topic_validate(EVIL " bad"), WEIR_EBADTOPIC);
	weir_store_filter flt = { .size = sizeof(flt),
		.pattern                = EVIL ".>.x" };
	assert_weir_err(
	    weir_store_read(f->st, &flt, fx_collect, NULL), WEIR_EBADPATTERN);
	assert_non_null(strstr(weir_store_errmsg(f->st), EVIL ".>.x"));
	assert_weir_err(weir_store_cursor_get(f->st, EVIL, &(uint64_t) { 0 }),
	    WEIR_ENOENT);
	assert_non_null(strstr(weir_store_errmsg(f->st), EVIL));
	weir_store_append_opts o = { .size = sizeof(o),
		.stream                    = EVIL "\x01" };
	assert_weir_err(
	    weir_store_append(f->st, ev, &o, NULL, NULL), WEIR_EBADNAME);
	assert_non_null(strstr(weir_store_errmsg(f->st), EVIL));
	weir_event_release(ev);
}

static weir_err
on_dead(weir_store *st, const weir_store_dead_letter *dl, void *arg)
{
	(void) st;
	(void) arg;
	assert_string_equal(dl->origin, "route." EVIL);
	assert_string_equal(dl->message, EVIL EVIL);
	assert_string_equal(weir_event_topic(dl->ev), "t." EVIL);
	return WEIR_OK;
}

static void
test_dead_letter_literal(void **state)
{
	fx         *f  = *state;
	weir_event *ev = fx_event("t." EVIL, EVIL);
	assert_weir_ok(weir_store_dead_add(
	    f->st, ev, "route." EVIL, WEIR_EBACKEND, EVIL EVIL, NULL));
	assert_weir_ok(weir_store_dead_list(f->st, NULL, 0, on_dead, NULL));
	weir_event_release(ev);
}

static weir_err
noop(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) bus;
	(void) ev;
	(void) arg;
	return WEIR_OK;
}

// The default listener-leak warning goes to stderr: read it back.
static void
test_listener_warning_literal(void **state)
{
	(void) state;
	char      path[] = "/tmp/weir-fmt-XXXXXX";
	int       fd     = mkstemp(path);
	int       saved  = dup(STDERR_FILENO);
	weir_bus *bus;
	char      text[1024] = "";
	assert_true(fd >= 0 && saved >= 0);
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(weir_bus_set_max_listeners(bus, 1));
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	for (int i = 0; i < 2; i++) {
		assert_weir_ok(
		    weir_on(bus, "w." EVIL, noop, NULL, NULL, 0, NULL));
	}
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	assert_true(pread(fd, text, sizeof(text) - 1, 0) > 0);
	close(fd);
	unlink(path);
	weir_bus_destroy(bus);
	assert_non_null(strstr(text, "\"w." EVIL "\""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_store_errors_literal, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_dead_letter_literal, fx_setup, fx_teardown),
		cmocka_unit_test(test_listener_warning_literal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
