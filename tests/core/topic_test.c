// Topic and pattern grammar (NATS subjects) and pattern matching.
#include <string.h>

#include "weir_test.h"

static void
test_topic_valid(void **state)
{
	(void) state;
	const char *good[] = { "a", "orders", "orders.eu.created", "a.b.c.d",
		"$weir.error", "x-y_z.1", "a*b", "a>b", "UPPER.lower",
		"\xc3\xa9t\xc3\xa9" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_weir_ok(weir_topic_validate(good[i]));
		assert_weir_ok(weir_pattern_validate(good[i]));
	}
}

static void
test_topic_invalid(void **state)
{
	(void) state;
	const char *bad[] = { "", ".", "..", "a..b", ".a", "a.", "a.b.",
		".a.b", "a b", "a\tb", "a.\n", " a", "a ", "a.b c", "*", ">",
		"a.*", "a.>", "*.b", "a.*.c", "a.>.c", "\r", "a\fb", "a\vb" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (weir_topic_validate(bad[i]) != WEIR_EBADTOPIC) {
			print_error("topic '%s' accepted\n", bad[i]);
			fail();
		}
	}
	assert_weir_err(weir_topic_validate(NULL), WEIR_EBADTOPIC);
}

static void
test_pattern_valid(void **state)
{
	(void) state;
	const char *good[] = { "*", ">", "a.*", "a.>", "*.b", "*.*", "*.>",
		"a.*.c", "a.*.*.>", "$weir.>", "*.*.*" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (weir_pattern_validate(good[i]) != WEIR_OK) {
			print_error("pattern '%s' refused\n", good[i]);
			fail();
		}
		// A wildcard token is never valid in a topic.
		assert_weir_err(weir_topic_validate(good[i]), WEIR_EBADTOPIC);
	}
}

static void
test_pattern_invalid(void **state)
{
	(void) state;
	const char *bad[] = { "", ".", "a..b", ".a", "a.", ">.a", "a.>.b",
		">.>", "> ", "a .*", "a.* ", "*.", ".*", "a.*.", "a\t.>" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (weir_pattern_validate(bad[i]) != WEIR_EBADPATTERN) {
			print_error("pattern '%s' accepted\n", bad[i]);
			fail();
		}
	}
	assert_weir_err(weir_pattern_validate(NULL), WEIR_EBADPATTERN);
}

static void
test_length_limit(void **state)
{
	(void) state;
	static char s[WEIR_MAX_TOPIC + 2];
	// Exactly WEIR_MAX_TOPIC bytes: "a.a.a...a" is valid.
	for (size_t i = 0; i < WEIR_MAX_TOPIC; i++) {
		s[i] = (i % 2) ? '.' : 'a';
	}
	s[WEIR_MAX_TOPIC - 1] = 'a'; // must not end with a dot
	s[WEIR_MAX_TOPIC]     = '\0';
	assert_int_equal(strlen(s), WEIR_MAX_TOPIC);
	assert_weir_ok(weir_topic_validate(s));
	assert_weir_ok(weir_pattern_validate(s));
	assert_int_equal(weir_pattern_match(s, s), 1);
	// One byte more is too long.
	s[WEIR_MAX_TOPIC]     = 'b';
	s[WEIR_MAX_TOPIC + 1] = '\0';
	assert_weir_err(weir_topic_validate(s), WEIR_EBADTOPIC);
	assert_weir_err(weir_pattern_validate(s), WEIR_EBADPATTERN);
	assert_int_equal(weir_pattern_match(s, s), 0);
	assert_int_equal(weir_pattern_match(">", s), 0);
}

// Every byte value inside a token, as a whole token, and next to a
// dot: only the six white space bytes (and '.', and the wildcards as
// whole tokens) change the answer. The reference is the grammar of
// weir.h written out per case.
static void
test_every_byte(void **state)
{
	(void) state;
	for (int c = 1; c < 256; c++) {
		int space = c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
		    c == '\f' || c == '\v';
		int  wild      = c == '*' || c == '>';
		char in[]      = { 'a', (char) c, 'b', '\0' };
		char one[]     = { (char) c, '\0' };
		char tail[]    = { 'a', '.', (char) c, '\0' };
		int  want_in   = !space;
		int  want_one  = !space && !wild && c != '.';
		int  want_tail = want_one;
		if ((weir_topic_validate(in) == WEIR_OK) != want_in ||
		    (weir_topic_validate(one) == WEIR_OK) != want_one ||
		    (weir_topic_validate(tail) == WEIR_OK) != want_tail) {
			print_error("byte %d\n", c);
			fail();
		}
		if ((weir_pattern_validate(one) == WEIR_OK) !=
		        (!space && c != '.') ||
		    (weir_pattern_validate(tail) == WEIR_OK) !=
		        (!space && c != '.')) {
			print_error("pattern byte %d\n", c);
			fail();
		}
	}
}

// A topic longer than WEIR_MAX_TOPIC is refused wherever its dots are,
// also when the byte at WEIR_MAX_TOPIC is a dot.
static void
test_length_limit_dots(void **state)
{
	(void) state;
	static char s[WEIR_MAX_TOPIC + 3];
	memset(s, 'a', sizeof s - 1);
	s[sizeof s - 1]   = '\0';
	s[WEIR_MAX_TOPIC] = '.';
	assert_weir_err(weir_topic_validate(s), WEIR_EBADTOPIC);
	s[WEIR_MAX_TOPIC + 1] = '\0'; // ends with the dot
	assert_weir_err(weir_topic_validate(s), WEIR_EBADTOPIC);
	s[WEIR_MAX_TOPIC - 1] = '.'; // "a...a.a" of WEIR_MAX_TOPIC + 1
	s[WEIR_MAX_TOPIC]     = 'a';
	assert_weir_err(weir_topic_validate(s), WEIR_EBADTOPIC);
	s[WEIR_MAX_TOPIC] = '\0'; // WEIR_MAX_TOPIC bytes ending in a dot
	assert_weir_err(weir_topic_validate(s), WEIR_EBADTOPIC);
	s[WEIR_MAX_TOPIC - 1] = 'a'; // WEIR_MAX_TOPIC bytes, one token
	assert_weir_ok(weir_topic_validate(s));
}

typedef struct match_case {
	const char *pattern;
	const char *topic;
	int         match;
} match_case;

static const match_case match_table[] = {
	{ "a", "a", 1 },
	{ "a", "b", 0 },
	{ "a", "a.b", 0 },
	{ "a.b", "a", 0 },
	{ "a.b", "a.b", 1 },
	{ "a.b", "a.bc", 0 },
	{ "a.bc", "a.b", 0 },
	{ "ab", "a", 0 },
	{ "*", "a", 1 },
	{ "*", "a.b", 0 },
	{ "a.*", "a.b", 1 },
	{ "a.*", "a", 0 },
	{ "a.*", "a.b.c", 0 },
	{ "*.b", "a.b", 1 },
	{ "*.b", "a.c", 0 },
	{ "a.*.c", "a.b.c", 1 },
	{ "a.*.c", "a.b.d", 0 },
	{ "a.*.c", "a.c", 0 },
	{ "*.*", "a.b", 1 },
	{ "*.*", "a", 0 },
	{ ">", "a", 1 },
	{ ">", "a.b.c", 1 },
	{ "a.>", "a", 0 }, // > needs one or more tokens
	{ "a.>", "a.b", 1 },
	{ "a.>", "a.b.c.d", 1 },
	{ "a.>", "b.c", 0 },
	{ "*.>", "a", 0 },
	{ "*.>", "a.b", 1 },
	{ "a.*.>", "a.b.c", 1 },
	{ "a.*.>", "a.b", 0 },
	// System topics: a leading wildcard does not match `$...`.
	{ ">", "$weir.error", 0 },
	{ "*.error", "$weir.error", 0 },
	{ "*", "$weir", 0 },
	{ "*.>", "$weir.error", 0 },
	{ "$weir.>", "$weir.error", 1 },
	{ "$weir.*", "$weir.error", 1 },
	{ "$weir.error", "$weir.error", 1 },
	// A `$` that is not the first token is an ordinary character.
	{ "a.*", "a.$b", 1 },
	{ "a.>", "a.$b.c", 1 },
	// Literal `*` inside a token is not a wildcard.
	{ "a*b", "a*b", 1 },
	{ "a*b", "axb", 0 },
	// Invalid inputs never match.
	{ "a..b", "a..b", 0 },
	{ "a.>.b", "a.x.b", 0 },
	{ "a.*", "a.*", 0 },
	{ ">", "", 0 },
	{ "", "", 0 },
};

static void
test_match_table(void **state)
{
	(void) state;
	for (size_t i = 0; i < sizeof(match_table) / sizeof(match_table[0]);
	     i++) {
		const match_case *c = &match_table[i];
		int               m = weir_pattern_match(c->pattern, c->topic);
		if (m != c->match) {
			print_error("match('%s', '%s') = %d, expected %d\n",
			    c->pattern, c->topic, m, c->match);
			fail();
		}
	}
	assert_int_equal(weir_pattern_match(NULL, "a"), 0);
	assert_int_equal(weir_pattern_match("a", NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_topic_valid),
		cmocka_unit_test(test_topic_invalid),
		cmocka_unit_test(test_pattern_valid),
		cmocka_unit_test(test_pattern_invalid),
		cmocka_unit_test(test_length_limit),
		cmocka_unit_test(test_every_byte),
		cmocka_unit_test(test_length_limit_dots),
		cmocka_unit_test(test_match_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
