// Errors: one enum, distinct texts and names, safe for unknown codes.
#include <string.h>

#include "weir_test.h"

static void
test_ok_is_zero(void **state)
{
	(void) state;
	assert_int_equal(WEIR_OK, 0);
	assert_string_equal(weir_strerror(WEIR_OK), "success");
	assert_string_equal(weir_err_name(WEIR_OK), "WEIR_OK");
}

static void
test_every_code_distinct(void **state)
{
	(void) state;
	for (int i = 0; i < WEIR_ERR_COUNT_; i++) {
		const char *text = weir_strerror((weir_err) i);
		const char *name = weir_err_name((weir_err) i);
		assert_non_null(text);
		assert_non_null(name);
		assert_true(strlen(text) > 0);
		assert_true(strncmp(name, "WEIR_", 5) == 0);
		assert_true(strlen(name) > 5);
		for (int j = 0; j < i; j++) {
			assert_string_not_equal(
			    text, weir_strerror((weir_err) j));
			assert_string_not_equal(
			    name, weir_err_name((weir_err) j));
		}
	}
}

static void
test_names_match_enum(void **state)
{
	(void) state;
	// The names are generated from the same list as the enum.
	assert_string_equal(weir_err_name(WEIR_ENOMEM), "WEIR_ENOMEM");
	assert_string_equal(weir_err_name(WEIR_EFULL), "WEIR_EFULL");
	assert_string_equal(weir_err_name(WEIR_ETOOBIG), "WEIR_ETOOBIG");
	assert_string_equal(
	    weir_err_name(WEIR_EBADPATTERN), "WEIR_EBADPATTERN");
	assert_string_equal(weir_err_name(WEIR_EEXIST), "WEIR_EEXIST");
	assert_string_equal(weir_strerror(WEIR_ENOMEM), "out of memory");
	assert_string_equal(weir_strerror(WEIR_EFULL), "queue full");
}

static void
test_unknown_codes_safe(void **state)
{
	(void) state;
	const int bad[] = { -1, WEIR_ERR_COUNT_, WEIR_ERR_COUNT_ + 1, 1000,
		-1000, 0x7fffffff };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *text = weir_strerror((weir_err) bad[i]);
		const char *name = weir_err_name((weir_err) bad[i]);
		assert_non_null(text);
		assert_non_null(name);
		assert_true(strlen(text) > 0);
		assert_true(strlen(name) > 0);
		// Unknown codes must not be mistaken for a known one.
		for (int j = 0; j < WEIR_ERR_COUNT_; j++) {
			assert_string_not_equal(
			    name, weir_err_name((weir_err) j));
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok_is_zero),
		cmocka_unit_test(test_every_code_distinct),
		cmocka_unit_test(test_names_match_enum),
		cmocka_unit_test(test_unknown_codes_safe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
