// The header blob is a flat length-prefixed list so that a row decodes
// without parsing a text format; every length is checked on decode, so
// a damaged row yields WEIR_ECORRUPT and never a read past the blob.
#include <string.h>

#include "store/codec.h"

static uint8_t *
codec_put_le(uint8_t *p, uint32_t v, int bytes)
{
	for (int i = 0; i < bytes; i++) {
		*p++ = (uint8_t) (v >> (8 * i));
	}
	return p;
}

// The one walk over the headers: counts the bytes, and writes them too
// when @p buf is set, so that size and encoding cannot disagree.
static size_t
codec_headers_walk(const weir_event *ev, uint8_t *buf)
{
	size_t n     = 0;
	size_t count = weir_event_header_count(ev);
	for (size_t i = 0; i < count; i++) {
		const char *name;
		const void *value;
		size_t      len;
		(void) weir_event_header(ev, i, &name, &value, &len);
		size_t nlen = strlen(name) + 1;
		n += 2 + nlen + 4 + len;
		if (buf != NULL) {
			buf = codec_put_le(buf, (uint32_t) nlen, 2);
			memcpy(buf, name, nlen);
			buf = codec_put_le(buf + nlen, (uint32_t) len, 4);
			if (len) {
				memcpy(buf, value, len);
			}
			buf += len;
		}
	}
	return n;
}

size_t
weir__codec_headers_size(const weir_event *ev)
{
	return codec_headers_walk(ev, NULL);
}

void
weir__codec_headers_encode(const weir_event *ev, uint8_t *buf)
{
	(void) codec_headers_walk(ev, buf);
}

weir_err
weir__codec_check(const weir_event *ev)
{
	size_t count = weir_event_header_count(ev);
	size_t key_len;
	(void) weir_event_key(ev, &key_len);
	if (count > WEIR_MAX_HEADERS || key_len > WEIR_MAX_KEY) {
		return WEIR_EINVAL;
	}
	for (size_t i = 0; i < count; i++) {
		const char *name;
		size_t      len;
		(void) weir_event_header(ev, i, &name, NULL, &len);
		if (len > WEIR_MAX_HEADER_VALUE ||
		    strlen(name) > WEIR_MAX_HEADER_NAME) {
			return WEIR_EINVAL;
		}
	}
	return WEIR_OK;
}

size_t
weir__codec_event_size(const weir_event *ev, size_t headers_size)
{
	size_t key_len, payload_len;
	(void) weir_event_key(ev, &key_len);
	(void) weir_event_payload(ev, &payload_len);
	// The other parts are bounded by the limits weir__codec_check()
	// enforces; only a payload (one taken from the caller) can be
	// near SIZE_MAX, so the sum saturates instead of wrapping.
	size_t rest = strlen(weir_event_topic(ev)) + key_len + headers_size;
	return payload_len > SIZE_MAX - rest ? SIZE_MAX : rest + payload_len;
}

static uint32_t
codec_get_le(const uint8_t *p, int bytes)
{
	uint32_t v = 0;
	for (int i = 0; i < bytes; i++) {
		v |= (uint32_t) p[i] << (8 * i);
	}
	return v;
}

// Decodes the header blob into @p hdrs (WEIR_MAX_HEADERS entries).
static weir_err
codec_headers_decode(
    const uint8_t *p, size_t len, weir_header *hdrs, size_t *count)
{
	size_t n = 0;
	while (len > 0) {
		if (n == WEIR_MAX_HEADERS || len < 2) {
			return WEIR_ECORRUPT;
		}
		// The name ends at its one NUL: a NUL inside would read
		// back as a shorter name, so the blob is damaged.
		size_t nlen = codec_get_le(p, 2);
		if (nlen == 0 || len < 2 + nlen + 4 || p[2 + nlen - 1] != 0 ||
		    memchr(p + 2, 0, nlen - 1) != NULL) {
			return WEIR_ECORRUPT;
		}
		hdrs[n].name = (const char *) p + 2;
		size_t vlen  = codec_get_le(p + 2 + nlen, 4);
		p += 2 + nlen + 4;
		len -= 2 + nlen + 4;
		if (vlen > len) {
			return WEIR_ECORRUPT;
		}
		hdrs[n].value = p;
		hdrs[n].len   = vlen;
		p += vlen;
		len -= vlen;
		n++;
	}
	*count = n;
	return WEIR_OK;
}

static int
codec_blob_or_null(sqlite3_stmt *stmt, int col)
{
	int t = sqlite3_column_type(stmt, col);
	return t == SQLITE_BLOB || t == SQLITE_NULL;
}

// The types the store writes; anything else is damage, never converted
// (SQLite would read a NULL or text ts as 0, i.e. "now").
static int
codec_row_types_ok(sqlite3_stmt *stmt, int col)
{
	return sqlite3_column_type(stmt, col) == SQLITE_BLOB &&
	    sqlite3_column_bytes(stmt, col) == 16 &&
	    sqlite3_column_type(stmt, col + 1) == SQLITE_INTEGER &&
	    sqlite3_column_type(stmt, col + 2) == SQLITE_TEXT &&
	    codec_blob_or_null(stmt, col + 3) &&
	    codec_blob_or_null(stmt, col + 4) &&
	    codec_blob_or_null(stmt, col + 5);
}

weir_err
weir__codec_row_stream(
    sqlite3_stmt *stmt, int col, const char **stream, int64_t *version)
{
	int st = sqlite3_column_type(stmt, col);
	int vt = sqlite3_column_type(stmt, col + 1);
	if (!(st == SQLITE_TEXT && vt == SQLITE_INTEGER) &&
	    !(st == SQLITE_NULL && vt == SQLITE_NULL)) {
		return WEIR_ECORRUPT;
	}
	*stream  = (const char *) sqlite3_column_text(stmt, col);
	*version = sqlite3_column_int64(stmt, col + 1);
	return WEIR_OK;
}

weir_err
weir__codec_row_event(
    sqlite3_stmt *stmt, int col, uint64_t seq, weir_event **out)
{
	weir_header     hdrs[WEIR_MAX_HEADERS];
	weir_event_init init = { .size = sizeof(weir_event_init), .seq = seq };
	*out                 = NULL;
	if (!codec_row_types_ok(stmt, col)) {
		return WEIR_ECORRUPT;
	}
	init.id          = sqlite3_column_blob(stmt, col);
	init.ts          = sqlite3_column_int64(stmt, col + 1);
	init.topic       = (const char *) sqlite3_column_text(stmt, col + 2);
	init.key         = sqlite3_column_blob(stmt, col + 3);
	init.key_len     = (size_t) sqlite3_column_bytes(stmt, col + 3);
	const void *h    = sqlite3_column_blob(stmt, col + 4);
	size_t      hlen = (size_t) sqlite3_column_bytes(stmt, col + 4);
	init.payload     = sqlite3_column_blob(stmt, col + 5);
	init.payload_len = (size_t) sqlite3_column_bytes(stmt, col + 5);
	weir_err rv = codec_headers_decode(h, hlen, hdrs, &init.header_count);
	if (rv != WEIR_OK) {
		return rv;
	}
	init.headers = hdrs;
	rv           = weir_event_new(out, &init);
	return rv == WEIR_EBADTOPIC || rv == WEIR_EINVAL ? WEIR_ECORRUPT : rv;
}
