/*
 * The bridge's stats JSON with user-given strings that JSON escapes: a
 * backend's and a source's scheme (any string the registrant chose) and
 * a route's pattern, each with a quote, a backslash and a control
 * character. The text must parse (jansson) and give them back as given.
 */
#include <jansson.h>

#include "inbound_fixture.h"

#define ODD_SCHEME "q\"b\\c\x01"
#define ODD_PATTERN "a\"\\\x01.>"

/* The member @p key of the first element of @p obj's array @p list. */
static const char *
first_str(json_t *obj, const char *list, const char *key)
{
	json_t *v = json_object_get(
	    json_array_get(json_object_get(obj, list), 0), key);
	return json_string_value(v);
}

static void
test_stats_escaped(void **state)
{
	(void) state;
	bt t;
	bt_open(&t, NULL);
	weir_backend_ops be = *weir_backend_mem();
	be.scheme           = ODD_SCHEME;
	assert_weir_ok(weir_bridge_register(t.br, &be));
	weir_source_ops so = *weir_source_mem();
	so.scheme          = ODD_SCHEME;
	assert_weir_ok(weir_bridge_register_source(t.br, &so));
	assert_weir_ok(weir_bridge_route_add(
	    t.br, "r1", ODD_PATTERN, ODD_SCHEME, "x", "id", NULL));
	assert_weir_ok(weir_bridge_inbound_add(
	    t.br, "in1", ODD_SCHEME, "src", "in.{topic}", NULL));
	assert_weir_ok(weir_bridge_start(t.br));
	char *js = weir_bus_stats_json(t.bus);
	assert_non_null(js);
	json_error_t err;
	json_t      *root = json_loads(js, 0, &err);
	if (root == NULL)
		fail_msg("stats JSON does not parse: %s (at %d): %s", err.text,
		    err.position, js);
	json_t *br = json_object_get(root, "bridge");
	assert_string_equal(first_str(br, "routes", "scheme"), ODD_SCHEME);
	assert_string_equal(first_str(br, "inbound", "scheme"), ODD_SCHEME);
	int     found = 0;
	size_t  i;
	json_t *sub;
	json_array_foreach(json_object_get(root, "subscriptions"), i, sub)
	{
		const char *p =
		    json_string_value(json_object_get(sub, "pattern"));
		found += p != NULL && strcmp(p, ODD_PATTERN) == 0;
	}
	assert_int_equal(found, 1);
	json_decref(root);
	weir_free(js);
	bt_close(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stats_escaped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
