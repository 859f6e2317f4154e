/*
 * Shared helpers for weir's cmocka tests.
 */
#ifndef WEIR_TEST_H
#define WEIR_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include <weir/weir.h>

/* assert_weir_ok(expr): fails with the error's name and text. */
#define assert_weir_ok(expr)                                  \
	do {                                                  \
		weir_err weir_rv_ = (expr);                   \
		if (weir_rv_ != WEIR_OK) {                    \
			print_error("%s -> %s (%s)\n", #expr, \
			    weir_err_name(weir_rv_),          \
			    weir_strerror(weir_rv_));         \
			fail();                               \
		}                                             \
	} while (0)

/* assert_weir_err(expr, code): expects exactly that error. */
#define assert_weir_err(expr, code)                                        \
	do {                                                               \
		weir_err weir_rv_ = (expr);                                \
		if (weir_rv_ != (code)) {                                  \
			print_error("%s -> %s, expected %s\n", #expr,      \
			    weir_err_name(weir_rv_), weir_err_name(code)); \
			fail();                                            \
		}                                                          \
	} while (0)

#endif /* WEIR_TEST_H */
