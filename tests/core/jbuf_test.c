/*
 * core/jbuf.c, the JSON text buffer of the stats: strings escaped as
 * JSON wants, growth past the first size, and a failed write (out of
 * memory at any point) that turns the whole text into NULL.
 */
#include <string.h>

#include "fault_alloc.h"
#include "weir_test.h"

#include "core/alloc.h"
#include "core/jbuf.h"

static void
test_escapes(void **state)
{
	(void) state;
	weir__jbuf b;
	weir__jbuf_init(&b, 4);
	weir__jbuf_add(&b, "[%d,", 7);
	weir__jbuf_str(&b, "a\"b\\c\x01\n\x1f~");
	weir__jbuf_add(&b, "]");
	char *s = weir__jbuf_take(&b);
	assert_string_equal(s, "[7,\"a\\\"b\\\\c\\u0001\\u000a\\u001f~\"]");
	weir__free(s);
	assert_null(weir__jbuf_take(&b)); /* taken: nothing left */
}

static void
test_grows(void **state)
{
	(void) state;
	weir__jbuf b;
	weir__jbuf_init(&b, 1);
	for (int i = 0; i < 1000; i++)
		weir__jbuf_add(&b, "%s%d", i ? "," : "", i % 10);
	char *s = weir__jbuf_take(&b);
	assert_int_equal(strlen(s), 1999);
	assert_string_equal(s + 1990, "5,6,7,8,9"); /* digit 995 on */
	weir__free(s);
}

/* The n-th allocation fails, n = 1, 2, ...: NULL each time, nothing
 * left allocated, until the text is whole. */
static void
test_fails_whole(void **state)
{
	(void) state;
	assert_weir_ok(weir_set_allocator(&fi_alloc));
	char *s = NULL;
	long  n;
	for (n = 1; s == NULL; n++) {
		fi_arm(n);
		weir__jbuf b;
		weir__jbuf_init(&b, 2);
		weir__jbuf_add(&b, "{\"k\":");
		weir__jbuf_str(&b, "a long enough value to grow twice over");
		weir__jbuf_add(&b, "}");
		s       = weir__jbuf_take(&b);
		fail_at = 0;
		if (s == NULL)
			assert_int_equal(live_allocs, 0);
	}
	assert_true(n > 3); /* the first block and two growths failed */
	assert_string_equal(
	    s, "{\"k\":\"a long enough value to grow twice over\"}");
	weir__free(s);
	// A part written elsewhere failed: the text is NULL too.
	weir__jbuf b;
	weir__jbuf_init(&b, 16);
	weir__jbuf_add(&b, "{}");
	weir__jbuf_fail(&b);
	assert_null(weir__jbuf_take(&b));
	assert_int_equal(live_allocs, 0);
	weir_set_allocator(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_grows),
		cmocka_unit_test(test_fails_whole),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
