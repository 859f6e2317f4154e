/*
 * Events as NDJSON lines, read and written with jansson.
 *
 * One JSON object a line:
 *   {"topic":"orders.eu.created", "key":"k1", "headers":{"a":"b"},
 *    "payload":"text", "id":"<uuid>", "ts":<unix ns>, "stream":"acct-1"}
 * Only "topic" is required. Binary values use the *_b64 variants
 * ("key_b64", "payload_b64", "headers_b64"), base64 with padding. A
 * "payload" that is not a string is stored as its compact JSON text.
 * "seq" and "version" (written by replay and tail) are accepted and
 * ignored: the store assigns them. A header name in both "headers" and
 * "headers_b64" is refused (the event could not be written back).
 */
#ifndef WEIR_CLI_NDJSON_H
#define WEIR_CLI_NDJSON_H

#include <stddef.h>

#include <weir/weir.h>

/* Why a line was refused: the field ("" for the line as a whole) and a
 * sentence. */
typedef struct ndjson_err {
	char field[160];
	char text[256];
} ndjson_err;

/* Parses one line (@p len bytes, no newline) into a new event (*ev,
 * release with weir_event_release) and its stream (*stream, malloc'd
 * or NULL; free with free). Returns 0, or -1 with @p err filled. */
int weir__ndjson_parse(const char *line, size_t len, weir_event **ev,
    char **stream, ndjson_err *err);

/* The event as one JSON object (no newline), with its seq, and its
 * stream and version when @p stream is not NULL. Returns a malloc'd
 * string (free with free), or NULL if out of memory. */
char *weir__ndjson_format(
    const weir_event *ev, const char *stream, int64_t version);

#endif
