/*
 * The weir tool's NDJSON codec (src/cli/ndjson.c) and base64
 * (src/cli/b64.c): every refused line names its field and why, what is
 * accepted formats back to an equal line, and an allocation failure
 * (libc's, through libc_fail.h, or jansson's, through
 * json_set_alloc_funcs) is a clean error without a leak.
 */
#include "weir_test.h"

#include <jansson.h>

#include "cli/b64.h"
#include "cli/ndjson.h"
#include "libc_fail.h"

/* Parses @p line, which must be refused with @p field and @p text. */
static void
refused(const char *line, const char *field, const char *text)
{
	weir_event *ev;
	char       *stream;
	ndjson_err  err;
	int rv = weir__ndjson_parse(line, strlen(line), &ev, &stream, &err);
	if (rv == 0 || strcmp(err.field, field) != 0 ||
	    strstr(err.text, text) == NULL)
		fail_msg("%s: rv %d, field '%s', text '%s'", line, rv,
		    err.field, err.text);
	assert_null(ev);
	assert_null(stream);
}

static void
test_refused(void **state)
{
	(void) state;
	refused("[1]", "", "not a JSON object");
	refused("{", "", "not JSON:");
	refused("{\"payload\":\"p\"}", "topic", "is missing");
	refused("{\"topic\":7}", "topic", "must be a string");
	refused("{\"topic\":\"a.*\"}", "topic", "is not a valid topic");
	refused("{\"topic\":\"a\",\"colour\":1}", "colour", "unknown field");
	refused("{\"topic\":\"a\",\"key\":1}", "key", "must be a string");
	refused("{\"topic\":\"a\",\"key\":\"k\",\"key_b64\":\"aw==\"}",
	    "key_b64", "key is given twice");
	refused(
	    "{\"topic\":\"a\",\"key_b64\":\"a\"}", "key_b64", "is not base64");
	refused("{\"topic\":\"a\",\"payload\":\"p\",\"payload_b64\":\"cA==\"}",
	    "payload_b64", "payload is given twice");
	refused("{\"topic\":\"a\",\"payload_b64\":\"c===\"}", "payload_b64",
	    "is not base64");
	refused("{\"topic\":\"a\",\"payload_b64\":\"cA==cA==\"}",
	    "payload_b64", "is not base64");
	refused("{\"topic\":\"a\",\"payload_b64\":\"c!A=\"}", "payload_b64",
	    "is not base64");
	refused("{\"topic\":\"a\",\"headers\":[]}", "headers",
	    "must be an object");
	refused("{\"topic\":\"a\",\"headers\":{\"h\":1}}", "headers.h",
	    "must be a string");
	refused("{\"topic\":\"a\",\"headers_b64\":{\"h\":\"@@@@\"}}",
	    "headers_b64.h", "is not base64");
	refused("{\"topic\":\"a\",\"id\":\"nope\"}", "id", "must be a UUID");
	refused("{\"topic\":\"a\",\"id\":5}", "id", "must be a UUID");
	refused(
	    "{\"topic\":\"a\",\"ts\":0}", "ts", "must be a positive integer");
	refused("{\"topic\":\"a\",\"ts\":\"1\"}", "ts", "must be a positive");
	refused(
	    "{\"topic\":\"a\",\"stream\":\"\"}", "stream", "non-empty string");
	refused(
	    "{\"topic\":\"a\",\"stream\":1}", "stream", "non-empty string");
	refused(
	    "{\"topic\":\"a\",\"seq\":\"1\"}", "seq", "must be an integer");
	refused("{\"topic\":\"a\",\"stream\":\"s\",\"version\":1.5}",
	    "version", "must be an integer");
	/* 65 headers: one more than an event holds */
	char line[2048] = "{\"topic\":\"a\",\"headers\":{";
	for (int i = 0; i < 65; i++)
		snprintf(line + strlen(line), sizeof line - strlen(line),
		    "%s\"h%d\":\"v\"", i ? "," : "", i);
	strcat(line, "}}");
	refused(line, "headers.h64", "more than 64 headers");
	/* a header name the event refuses: 65,535 bytes and more */
	size_t big  = 70000;
	char  *huge = malloc(big + 64);
	assert_non_null(huge);
	strcpy(huge, "{\"topic\":\"a\",\"headers\":{\"");
	size_t at = strlen(huge);
	memset(huge + at, 'n', big);
	strcpy(huge + at + big, "\":\"v\"}}");
	refused(huge, "", "the event is refused");
	free(huge);
}

/* A line that parses, then formats to @p want. */
static void
round_trip(const char *line, const char *want)
{
	weir_event *ev;
	char       *stream;
	ndjson_err  err;
	if (weir__ndjson_parse(line, strlen(line), &ev, &stream, &err) != 0)
		fail_msg("%s: %s: %s", line, err.field, err.text);
	char *text = weir__ndjson_format(ev, stream, 3);
	assert_non_null(text);
	/* seq, id and ts vary: compare from "topic" on */
	const char *from = strstr(text, "\"topic\"");
	assert_non_null(from);
	if (strcmp(from, want) != 0)
		fail_msg("%s\n -> %s\n want %s", line, from, want);
	free(text);
	free(stream);
	weir_event_release(ev);
}

static void
test_round_trip(void **state)
{
	(void) state;
	round_trip(
	    "{\"topic\":\"a.b\",\"key\":\"k\",\"headers\":{\"h\":\"v\"},"
	    "\"headers_b64\":{\"b\":\"AAE=\"},\"payload_b64\":\"AP8=\","
	    "\"stream\":\"s-1\",\"seq\":4,\"version\":2,"
	    "\"id\":\"0190a8f2-6c1e-7b3a-9d4e-5f6a7b8c9d0e\","
	    "\"ts\":1700000000000000000}",
	    "\"topic\":\"a.b\",\"stream\":\"s-1\",\"version\":3,\"key\":\"k\","
	    "\"headers\":{\"h\":\"v\"},\"headers_b64\":{\"b\":\"AAE=\"},"
	    "\"payload_b64\":\"AP8=\"}");
	round_trip(
	    "{\"topic\":\"a\",\"key_b64\":\"AA==\",\"payload\":{\"n\":[1,"
	    "2]},\"stream\":\"y\"}",
	    "\"topic\":\"a\",\"stream\":\"y\",\"version\":3,\"key_b64\":\"AA=="
	    "\","
	    "\"payload\":\"{\\\"n\\\":[1,2]}\"}");
	/* an empty key is no key (weir_event_key gives NULL): same event */
	round_trip("{\"topic\":\"a\",\"payload\":\"\",\"key\":\"\"}",
	    "\"topic\":\"a\",\"payload\":\"\"}");
	round_trip("{\"topic\":\"a\",\"payload_b64\":\"YWJj\"}",
	    "\"topic\":\"a\",\"payload\":\"abc\"}");
	round_trip("{\"topic\":\"a\",\"payload\":7}",
	    "\"topic\":\"a\",\"payload\":\"7\"}");
}

static void
test_b64(void **state)
{
	(void) state;
	static const struct {
		const char *bytes, *text;
	} cases[] = { { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" },
		{ "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
		{ "\xfb\xff\xbf", "+/+/" } };
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		size_t n    = strlen(cases[i].bytes);
		char  *text = weir__b64_encode(cases[i].bytes, n);
		assert_string_equal(text, cases[i].text);
		void  *back;
		size_t len;
		assert_int_equal(
		    weir__b64_decode(text, strlen(text), &back, &len), 0);
		assert_int_equal(len, n);
		assert_memory_equal(back, cases[i].bytes, n);
		free(back);
		free(text);
	}
	static const char *bad[] = { "abc", "a===", "ab=c", "Zg==Zg==", "Zm9-",
		"Zm\x80v", "Z{9v", "Z:9v", "Z 9v" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		void  *back = NULL;
		size_t len;
		if (weir__b64_decode(bad[i], strlen(bad[i]), &back, &len) == 0)
			fail_msg("'%s' decoded", bad[i]);
		assert_null(back);
	}
	lf_arm(1);
	assert_null(weir__b64_encode("x", 1));
	lf_arm(1);
	void  *back;
	size_t len;
	assert_int_equal(weir__b64_decode("Zg==", 4, &back, &len), -1);
	lf_arm(0);
}

/* Each allocation of a parse and of a format fails in turn (libc's
 * and jansson's): refused cleanly, or formatted to NULL. */
static void
test_out_of_memory(void **state)
{
	(void) state;
	static const char line[] =
	    "{\"topic\":\"a\",\"key_b64\":\"AA==\",\"headers\":{\"h\":\"v\"},"
	    "\"headers_b64\":{\"b\":\"AAE=\"},\"payload\":[1],\"stream\":"
	    "\"s\"}";
	json_set_alloc_funcs(lf_json_malloc, lf_json_free);
	long n;
	for (n = 1; n < 500; n++) {
		weir_event *ev;
		char       *stream;
		ndjson_err  err;
		lf_arm(n);
		int rv =
		    weir__ndjson_parse(line, strlen(line), &ev, &stream, &err);
		long fired = lf_calls >= n;
		lf_arm(0);
		if (rv != 0) {
			assert_true(fired);
			assert_null(ev);
			continue;
		}
		if (fired) { /* jansson may recover from some (a hash table) */
			free(stream);
			weir_event_release(ev);
			continue;
		}
		assert_string_equal(stream, "s");
		long formats = 0;
		for (long k = 1; k < 500; k++, formats++) {
			lf_arm(k);
			char *text   = weir__ndjson_format(ev, stream, 1);
			long  fired2 = lf_calls >= k;
			lf_arm(0);
			if (!fired2) {
				assert_non_null(text);
				assert_non_null(
				    strstr(text, "\"headers_b64\""));
				free(text);
				break;
			}
			free(
			    text); /* NULL, or what a recovered failure gave */
		}
		assert_true(formats > 3);
		free(stream);
		weir_event_release(ev);
		break;
	}
	json_set_alloc_funcs(malloc, free);
	assert_true(n > 3 && n < 500);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_b64),
		cmocka_unit_test(test_out_of_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
