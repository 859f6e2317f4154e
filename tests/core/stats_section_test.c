/*
 * Stats sections: other modules add top-level members to the bus's stats
 * JSON (weir_bus_add_stats_section) without core knowing them.
 */
#include <string.h>

#include "weir_test.h"

#include "core/alloc.h"

static char *
section_fn(weir_bus *bus, void *arg)
{
	(void) bus;
	(*(int *) arg)++;
	return weir__strdup("{\"routes\":[]}");
}

static char *
failing_fn(weir_bus *bus, void *arg)
{
	(void) bus;
	(void) arg;
	return NULL;
}

static void
test_section_in_json(void **state)
{
	(void) state;
	weir_bus *bus;
	int       calls = 0;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_ok(
	    weir_bus_add_stats_section(bus, "bridge", section_fn, &calls));
	char *js = weir_bus_stats_json(bus);
	assert_non_null(js);
	assert_non_null(strstr(js, ",\"bridge\":{\"routes\":[]}}"));
	assert_int_equal(js[strlen(js) - 1], '}');
	weir_free(js);
	assert_int_equal(calls, 1);
	// A section that fails (NULL) fails the whole call: a text with
	// its member missing would read as a bus without that module.
	assert_weir_ok(
	    weir_bus_add_stats_section(bus, "failing", failing_fn, NULL));
	assert_null(weir_bus_stats_json(bus));
	assert_int_equal(calls, 2);
	assert_weir_ok(weir_bus_remove_stats_section(bus, "failing"));
	assert_weir_ok(weir_bus_remove_stats_section(bus, "bridge"));
	js = weir_bus_stats_json(bus);
	assert_null(strstr(js, "bridge"));
	weir_free(js);
	assert_int_equal(calls, 2);
	assert_weir_ok(
	    weir_bus_add_stats_section(bus, "failing", failing_fn, NULL));
	weir_bus_destroy(bus); // frees the section left
}

static void
test_section_bad_input(void **state)
{
	(void) state;
	weir_bus *bus;
	assert_weir_ok(weir_bus_create(&bus, NULL));
	assert_weir_err(
	    weir_bus_add_stats_section(bus, "loops", failing_fn, NULL),
	    WEIR_EBADNAME);
	assert_weir_err(
	    weir_bus_add_stats_section(bus, "Bad-Name", failing_fn, NULL),
	    WEIR_EBADNAME);
	assert_weir_err(
	    weir_bus_add_stats_section(bus, "x", NULL, NULL), WEIR_EINVAL);
	assert_weir_ok(weir_bus_add_stats_section(bus, "x", failing_fn, NULL));
	assert_weir_err(weir_bus_add_stats_section(bus, "x", failing_fn, NULL),
	    WEIR_EEXIST);
	assert_weir_err(weir_bus_remove_stats_section(bus, "y"), WEIR_ENOENT);
	weir_bus_destroy(bus);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_section_in_json),
		cmocka_unit_test(test_section_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
