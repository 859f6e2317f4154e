// Design notes. A line is parsed into a weir_event_init whose byte
// buffers point into the jansson tree or into decoded base64 buffers
// held by the parse context; weir_event_new copies them all, then the
// context is freed. Every field has its own small reader, found by name
// in a table, so an unknown field is an error that names it.
#include "cli/ndjson.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/b64.h"
#include "cli/jtext.h"

typedef struct nd_parse {
	weir_event_init in;
	weir_header     hdr[WEIR_MAX_HEADERS];
	void           *owned[WEIR_MAX_HEADERS * 2 + 4];
	size_t          nowned;
	uint8_t         id[16];
	char           *stream;
	int             have_key, have_payload;
	ndjson_err     *err;
} nd_parse;

__attribute__((format(printf, 3, 4))) static int
nd_fail(nd_parse *p, const char *field, const char *fmt, ...)
{
	va_list ap;
	snprintf(p->err->field, sizeof p->err->field, "%s", field);
	va_start(ap, fmt);
	vsnprintf(p->err->text, sizeof p->err->text, fmt, ap);
	va_end(ap);
	return -1;
}

/* A string value as bytes, decoded from base64 when @p b64. */
static int
nd_bytes(nd_parse *p, const char *field, json_t *v, int b64, const void **data,
    size_t *len)
{
	if (!json_is_string(v))
		return nd_fail(p, field, "must be a string");
	const char *s = json_string_value(v);
	size_t      n = json_string_length(v);
	if (!b64) {
		*data = s;
		*len  = n;
		return 0;
	}
	void *buf;
	if (p->nowned == sizeof p->owned / sizeof *p->owned ||
	    weir__b64_decode(s, n, &buf, len) != 0)
		return nd_fail(p, field, "is not base64 (RFC 4648, padded)");
	p->owned[p->nowned++] = buf;
	*data                 = buf;
	return 0;
}

static int
nd_topic(nd_parse *p, const char *name, json_t *v)
{
	if (!json_is_string(v))
		return nd_fail(p, name, "must be a string");
	if (weir_topic_validate(json_string_value(v)) != WEIR_OK)
		return nd_fail(p, name,
		    "is not a valid topic (dot-separated tokens, no "
		    "wildcards, no white space)");
	p->in.topic = json_string_value(v);
	return 0;
}

static int
nd_key(nd_parse *p, const char *name, json_t *v)
{
	if (p->have_key++)
		return nd_fail(p, name, "key is given twice (key, key_b64)");
	return nd_bytes(
	    p, name, v, name[3] == '_', &p->in.key, &p->in.key_len);
}

static int
nd_payload(nd_parse *p, const char *name, json_t *v)
{
	if (p->have_payload++)
		return nd_fail(
		    p, name, "payload is given twice (payload, payload_b64)");
	if (strcmp(name, "payload") == 0 && !json_is_string(v)) {
		char *text = weir__jtext(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (text == NULL)
			return nd_fail(p, name, "out of memory");
		p->owned[p->nowned++] = text;
		p->in.payload         = text;
		p->in.payload_len     = strlen(text);
		return 0;
	}
	return nd_bytes(
	    p, name, v, name[7] == '_', &p->in.payload, &p->in.payload_len);
}

/* A name in both "headers" and "headers_b64" would make an event with
 * two headers of one name, which cannot be written back as NDJSON (one
 * JSON object per kind): refused, so what is accepted replays equal. */
static int
nd_header_seen(const nd_parse *p, const char *hname)
{
	for (size_t i = 0; i < p->in.header_count; i++)
		if (strcmp(p->hdr[i].name, hname) == 0)
			return 1;
	return 0;
}

static int
nd_headers(nd_parse *p, const char *name, json_t *v)
{
	const char *hname;
	json_t     *hv;
	char        field[160];
	if (!json_is_object(v))
		return nd_fail(p, name, "must be an object of strings");
	json_object_foreach(v, hname, hv)
	{
		weir_header *h = &p->hdr[p->in.header_count];
		snprintf(field, sizeof field, "%s.%s", name, hname);
		if (p->in.header_count == WEIR_MAX_HEADERS)
			return nd_fail(p, field, "more than %d headers",
			    WEIR_MAX_HEADERS);
		if (nd_header_seen(p, hname))
			return nd_fail(p, field,
			    "header '%s' is given twice (headers, "
			    "headers_b64)",
			    hname);
		if (nd_bytes(
		        p, field, hv, name[7] == '_', &h->value, &h->len) != 0)
			return -1;
		h->name = hname;
		p->in.header_count++;
	}
	p->in.headers = p->hdr;
	return 0;
}

static int
nd_id(nd_parse *p, const char *name, json_t *v)
{
	if (!json_is_string(v) ||
	    weir_uuid_parse(json_string_value(v), p->id) != WEIR_OK)
		return nd_fail(p, name, "must be a UUID (36 characters)");
	p->in.id = p->id;
	return 0;
}

static int
nd_ts(nd_parse *p, const char *name, json_t *v)
{
	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return nd_fail(
		    p, name, "must be a positive integer (unix nanoseconds)");
	p->in.ts = (int64_t) json_integer_value(v);
	return 0;
}

static int
nd_stream(nd_parse *p, const char *name, json_t *v)
{
	if (!json_is_string(v) || json_string_length(v) == 0)
		return nd_fail(p, name, "must be a non-empty string");
	free(p->stream);
	p->stream = strdup(json_string_value(v));
	return p->stream != NULL ? 0 : nd_fail(p, name, "out of memory");
}

static int
nd_ignored(nd_parse *p, const char *name, json_t *v)
{
	if (!json_is_integer(v))
		return nd_fail(p, name, "must be an integer");
	return 0;
}

typedef int (*nd_field_fn)(nd_parse *p, const char *name, json_t *v);

static const struct {
	const char *name;
	nd_field_fn fn;
} nd_fields[] = { { "topic", nd_topic }, { "key", nd_key },
	{ "key_b64", nd_key }, { "payload", nd_payload },
	{ "payload_b64", nd_payload }, { "headers", nd_headers },
	{ "headers_b64", nd_headers }, { "id", nd_id }, { "ts", nd_ts },
	{ "stream", nd_stream }, { "seq", nd_ignored },
	{ "version", nd_ignored } };

static int
nd_field(nd_parse *p, const char *name, json_t *v)
{
	for (size_t i = 0; i < sizeof nd_fields / sizeof *nd_fields; i++)
		if (strcmp(nd_fields[i].name, name) == 0)
			return nd_fields[i].fn(p, name, v);
	return nd_fail(p, name, "unknown field");
}

static int
nd_object(nd_parse *p, json_t *root, weir_event **ev)
{
	const char *name;
	json_t     *v;
	json_object_foreach(
	    root, name, v) if (nd_field(p, name, v) != 0) return -1;
	if (p->in.topic == NULL)
		return nd_fail(p, "topic", "is missing");
	weir_err e = weir_event_new(ev, &p->in);
	if (e != WEIR_OK)
		return nd_fail(
		    p, "", "the event is refused: %s", weir_strerror(e));
	return 0;
}

int
weir__ndjson_parse(const char *line, size_t len, weir_event **ev,
    char **stream, ndjson_err *err)
{
	nd_parse p = { .in = WEIR_STRUCT_INIT(weir_event_init), .err = err };
	json_error_t je;
	*ev          = NULL;
	*stream      = NULL;
	json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	int     rv   = -1;
	if (root == NULL)
		nd_fail(
		    &p, "", "not JSON: %s (column %d)", je.text, je.column);
	else if (!json_is_object(root))
		nd_fail(&p, "", "not a JSON object");
	else
		rv = nd_object(&p, root, ev);
	for (size_t i = 0; i < p.nowned; i++)
		free(p.owned[i]);
	json_decref(root);
	if (rv == 0)
		*stream = p.stream;
	else
		free(p.stream);
	return rv;
}

/* Sets @p name on @p o when the bytes are UTF-8 text without NUL,
 * otherwise @p name64 (base64) on @p o64. */
static int
nd_put_bytes(json_t *o, const char *name, json_t *o64, const char *name64,
    const void *data, size_t len)
{
	json_t *v = NULL;
	if (len == 0 || memchr(data, '\0', len) == NULL)
		v = json_stringn(len ? data : "", len);
	if (v != NULL)
		return json_object_set_new(o, name, v);
	char *text = weir__b64_encode(data, len);
	if (text == NULL)
		return -1;
	int rv = json_object_set_new(o64, name64, json_string(text));
	free(text);
	return rv;
}

static int
nd_put_headers(json_t *o, const weir_event *ev)
{
	size_t  n   = weir_event_header_count(ev);
	json_t *h   = json_object();
	json_t *h64 = json_object();
	int     rv  = h != NULL && h64 != NULL ? 0 : -1;
	for (size_t i = 0; rv == 0 && i < n; i++) {
		const char *name;
		const void *value;
		size_t      len;
		weir_event_header(ev, i, &name, &value, &len);
		rv = nd_put_bytes(h, name, h64, name, value, len);
	}
	if (rv == 0 && json_object_size(h) > 0)
		rv = json_object_set(o, "headers", h);
	if (rv == 0 && json_object_size(h64) > 0)
		rv = json_object_set(o, "headers_b64", h64);
	json_decref(h);
	json_decref(h64);
	return rv;
}

static int
nd_put_event(
    json_t *o, const weir_event *ev, const char *stream, int64_t version)
{
	char        id[37];
	size_t      klen, plen;
	const void *key     = weir_event_key(ev, &klen);
	const void *payload = weir_event_payload(ev, &plen);
	weir_uuid_format(weir_event_id(ev), id);
	int rv = json_object_set_new(
	    o, "seq", json_integer((json_int_t) weir_event_seq(ev)));
	rv |= json_object_set_new(o, "id", json_string(id));
	rv |= json_object_set_new(o, "ts", json_integer(weir_event_ts(ev)));
	rv |=
	    json_object_set_new(o, "topic", json_string(weir_event_topic(ev)));
	if (stream != NULL) {
		rv |= json_object_set_new(o, "stream", json_string(stream));
		rv |= json_object_set_new(o, "version", json_integer(version));
	}
	if (key != NULL)
		rv |= nd_put_bytes(o, "key", o, "key_b64", key, klen);
	rv |= nd_put_headers(o, ev);
	rv |= nd_put_bytes(o, "payload", o, "payload_b64",
	    payload != NULL ? payload : "", plen);
	return rv;
}

char *
weir__ndjson_format(const weir_event *ev, const char *stream, int64_t version)
{
	json_t *o    = json_object();
	char   *text = NULL;
	if (o != NULL && nd_put_event(o, ev, stream, version) == 0)
		text = weir__jtext(o, JSON_COMPACT);
	json_decref(o);
	return text;
}
