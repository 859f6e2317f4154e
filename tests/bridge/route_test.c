/* Routes: destination templates, key choices, bad input named. */
#include "fixture.h"

#include "bridge/template.h"
#include "core/alloc.h"
#include "fault_alloc.h"

static void
test_template_render(void **state)
{
	(void) state;
	weir__template t;
	char           why[160];
	assert_weir_ok(weir__template_parse(
	    &t, "orders.{2}-{{x}}.{topic}", "shop.*.>", why, sizeof why));
	char *d = weir__template_render(&t, "shop.eu.paid.card");
	assert_string_equal(d, "orders.eu-{x}.shop.eu.paid.card");
	weir__free(d);
	weir__template_fini(&t);
	assert_weir_ok(
	    weir__template_parse(&t, "{3}", "a.b.>", why, sizeof why));
	d = weir__template_render(&t, "a.b.c.d");
	assert_string_equal(d, "c");
	weir__free(d);
	/* no memory for the result: NULL, nothing left allocated */
	weir_set_allocator(&fi_alloc);
	fi_arm(1);
	long live = live_allocs;
	assert_null(weir__template_render(&t, "a.b.c.d"));
	fail_at = 0;
	assert_int_equal(live_allocs, live);
	weir_set_allocator(NULL);
	weir__template_fini(&t);
}

static void
test_bad_templates(void **state)
{
	(void) state;
	static const char *const bad[] = { "", "a b", "x.{4}", "x.{0}", "x.{",
		"x.}", "{name}", "{01}", "x.{}", "x.{12345}", "x.{1:}",
		"x.{/}", "x\x7f", NULL };
	weir__template           t;
	char                     why[160];
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		why[0] = '\0';
		assert_weir_err(
		    weir__template_parse(&t, bad[i], "a.b.c", why, sizeof why),
		    WEIR_EINVAL);
		assert_true(why[0] != '\0');
	}
	/* key choices: braces on both ends, a token inside */
	static const char *const bad_keys[] = { "{1x", "x1}", "{}", "{x}",
		"{0}", "{4}", "ky" };
	weir__keychoice          k;
	for (size_t i = 0; i < sizeof bad_keys / sizeof *bad_keys; i++) {
		why[0] = '\0';
		assert_weir_err(weir__keychoice_parse(
		                    &k, bad_keys[i], "a.b.c", why, sizeof why),
		    WEIR_EINVAL);
		assert_true(why[0] != '\0');
	}
}

/* An empty key is no key: the relay then orders nothing by it. */
static void
test_empty_key(void **state)
{
	(void) state;
	weir_event     *ev;
	weir_event_init init = WEIR_STRUCT_INIT(weir_event_init);
	init.topic           = "a.b";
	init.key             = "";
	init.key_len         = 0;
	assert_weir_ok(weir_event_new(&ev, &init));
	weir__keychoice k;
	char            why[160];
	assert_weir_ok(
	    weir__keychoice_parse(&k, "key", "a.*", why, sizeof why));
	const void *key = ev;
	size_t      len = 99;
	weir__keychoice_view(&k, ev, &key, &len);
	assert_null(key);
	assert_int_equal(len, 0);
	assert_weir_ok(
	    weir__keychoice_parse(&k, "none", "a.*", why, sizeof why));
	weir__keychoice_view(&k, ev, &key, &len);
	assert_null(key);
	weir_event_release(ev);
}

static void
test_route_add_errors(void **state)
{
	(void) state;
	bt t;
	bt_open(&t, NULL);
	weir_bridge *br = t.br;
	assert_weir_err(weir_bridge_route_add(
	                    br, "r1", "shop.*", "mem", "x.{3}", NULL, NULL),
	    WEIR_EINVAL);
	assert_non_null(strstr(weir_bridge_errmsg(br), "route 'r1'"));
	assert_non_null(strstr(weir_bridge_errmsg(br), "destination"));
	assert_weir_err(weir_bridge_route_add(
	                    br, "r1", "shop.*", "kafka", "x", NULL, NULL),
	    WEIR_ENOENT);
	assert_non_null(strstr(weir_bridge_errmsg(br), "scheme"));
	assert_weir_err(
	    weir_bridge_route_add(br, "r1", "shop.*", "mem", "x", "{9}", NULL),
	    WEIR_EINVAL);
	assert_non_null(strstr(weir_bridge_errmsg(br), "key"));
	assert_weir_err(
	    weir_bridge_route_add(br, "r1", "shop..*", "mem", "x", NULL, NULL),
	    WEIR_EBADPATTERN);
	assert_non_null(strstr(weir_bridge_errmsg(br), "pattern"));
	assert_weir_err(
	    weir_bridge_route_add(br, "bad name", "a", "mem", "x", NULL, NULL),
	    WEIR_EBADNAME);
	assert_weir_ok(weir_bridge_route_add(
	    br, "r1", "shop.*", "mem", "orders.{2}", "{2}", NULL));
	assert_weir_err(
	    weir_bridge_route_add(br, "r1", "a", "mem", "x", NULL, NULL),
	    WEIR_EEXIST);
	/* a refused route touched nothing: no cursor of it exists */
	uint64_t seq;
	assert_weir_err(
	    weir_store_cursor_get(t.st, "bridge.route.bad name", &seq),
	    WEIR_ENOENT);
	bt_close(&t);
}

static void
test_direct_needs_no_store(void **state)
{
	(void) state;
	bt t;
	memset(&t, 0, sizeof t);
	bt_bridge(&t, NULL);
	assert_weir_err(
	    weir_bridge_route_add(t.br, "s", "a", "mem", "x", NULL, NULL),
	    WEIR_EINVAL);
	assert_non_null(strstr(weir_bridge_errmsg(t.br), "direct"));
	weir_bridge_route_opts o = WEIR_STRUCT_INIT(weir_bridge_route_opts);
	o.direct                 = 1;
	assert_weir_ok(
	    weir_bridge_route_add(t.br, "d", "a", "mem", "x", "id", &o));
	bt_close(&t);
}

static void
test_register_checks(void **state)
{
	(void) state;
	bt t;
	bt_open(&t, NULL);
	weir_backend_ops ops = *weir_backend_mem();
	assert_weir_err(weir_bridge_register(t.br, &ops), WEIR_EEXIST);
	ops.version = 3;
	assert_weir_err(weir_bridge_register(t.br, &ops), WEIR_EVERSION);
	bt_close(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_template_render),
		cmocka_unit_test(test_bad_templates),
		cmocka_unit_test(test_empty_key),
		cmocka_unit_test(test_route_add_errors),
		cmocka_unit_test(test_direct_needs_no_store),
		cmocka_unit_test(test_register_checks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
