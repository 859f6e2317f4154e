/*
 * libFuzzer target: the weir tool's NDJSON decoder (src/cli/ndjson.c).
 *
 * The input is one line. weir__ndjson_parse() must return an event, or
 * -1 with an error that names a field or the line as a whole ("") and
 * says why (a non-empty sentence); never crash or leak.
 *
 * Round trip: a decoded event is written back with weir__ndjson_format()
 * (what replay and tail write, with its stream and a version when the
 * line had a stream) and decoded again: the two events must be equal,
 * and so must their streams. Headers are compared by name: NDJSON holds
 * them in two JSON objects (text in "headers", bytes in "headers_b64"),
 * so the writer groups them and their order is not kept (docs/cli.md,
 * Limits today).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weir/weir.h>

#include "cli/ndjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fail(const char *what, const char *line)
{
	fprintf(stderr, "ndjson_fuzz: %s\n", what);
	if (line != NULL)
		fprintf(stderr, "ndjson_fuzz: re-encoded: %s\n", line);
	abort();
}

static int
bytes_eq(const void *a, size_t alen, const void *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static int
str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

// Every header of @p a is in @p b with the same value, and the counts
// are equal (names are unique: the decoder refuses a name given twice).
static int
headers_eq(const weir_event *a, const weir_event *b)
{
	size_t n = weir_event_header_count(a);
	if (n != weir_event_header_count(b))
		return 0;
	for (size_t i = 0; i < n; i++) {
		const char *name;
		const void *av;
		size_t      alen, blen;
		(void) weir_event_header(a, i, &name, &av, &alen);
		const void *bv = weir_event_header_get(b, name, &blen);
		if (bv == NULL || !bytes_eq(av, alen, bv, blen))
			return 0;
	}
	return 1;
}

static int
events_eq(const weir_event *a, const weir_event *b)
{
	size_t      alen, blen;
	const void *ak = weir_event_key(a, &alen);
	const void *bk = weir_event_key(b, &blen);
	if (memcmp(weir_event_id(a), weir_event_id(b), 16) != 0 ||
	    weir_event_ts(a) != weir_event_ts(b) ||
	    strcmp(weir_event_topic(a), weir_event_topic(b)) != 0 ||
	    !bytes_eq(ak, alen, bk, blen))
		return 0;
	ak = weir_event_payload(a, &alen);
	bk = weir_event_payload(b, &blen);
	return bytes_eq(ak, alen, bk, blen) && headers_eq(a, b);
}

static void
check_error(const ndjson_err *err)
{
	if (memchr(err->field, '\0', sizeof err->field) == NULL ||
	    memchr(err->text, '\0', sizeof err->text) == NULL ||
	    err->text[0] == '\0')
		fail("an error without a sentence", NULL);
}

static void
round_trip(const weir_event *ev, const char *stream)
{
	char *line = weir__ndjson_format(ev, stream, 1);
	if (line == NULL)
		fail("weir__ndjson_format returned NULL", NULL);
	weir_event *again = NULL;
	char       *s2    = NULL;
	ndjson_err  err;
	if (weir__ndjson_parse(line, strlen(line), &again, &s2, &err) != 0) {
		fprintf(stderr, "ndjson_fuzz: field '%s': %s\n", err.field,
		    err.text);
		fail("the re-encoded event does not decode", line);
	}
	if (!events_eq(ev, again) || !str_eq(stream, s2))
		fail("the re-encoded event decodes to another event", line);
	weir_event_release(again);
	free(s2);
	free(line);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	weir_event *ev     = NULL;
	char       *stream = NULL;
	ndjson_err  err;
	memset(&err, 0x5a, sizeof err); /* the decoder must terminate both */
	if (weir__ndjson_parse(
	        (const char *) data, size, &ev, &stream, &err) != 0) {
		if (ev != NULL || stream != NULL)
			fail("an error, yet an event or a stream", NULL);
		check_error(&err);
		return 0;
	}
	if (ev == NULL)
		fail("success without an event", NULL);
	round_trip(ev, stream);
	weir_event_release(ev);
	free(stream);
	return 0;
}
