#include "cli/b64.h"

#include <stdint.h>
#include <stdlib.h>

static const char b64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
weir__b64_encode(const void *data, size_t len)
{
	const uint8_t *p   = data;
	char          *out = malloc((len + 2) / 3 * 4 + 1), *o = out;
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t) p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t) p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		*o++ = b64_chars[(v >> 18) & 63];
		*o++ = b64_chars[(v >> 12) & 63];
		*o++ = i + 1 < len ? b64_chars[(v >> 6) & 63] : '=';
		*o++ = i + 2 < len ? b64_chars[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static int
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* One group of 4 characters into up to 3 bytes; returns the byte count
 * or -1. Padding is allowed only in the last group. */
static int
b64_group(const char *t, int last, uint8_t *o)
{
	int pad = (t[3] == '=') + (t[3] == '=' && t[2] == '=');
	if (pad > 0 && !last)
		return -1;
	uint32_t v = 0;
	for (int k = 0; k < 4 - pad; k++) {
		int x = b64_value(t[k]);
		if (x < 0)
			return -1;
		v = v << 6 | (uint32_t) x;
	}
	v <<= 6 * pad;
	o[0] = (uint8_t) (v >> 16);
	o[1] = (uint8_t) (v >> 8);
	o[2] = (uint8_t) v;
	return 3 - pad;
}

int
weir__b64_decode(const char *text, size_t n, void **out, size_t *len)
{
	if (n % 4 != 0)
		return -1;
	uint8_t *buf = malloc(n / 4 * 3 + 1);
	size_t   k   = 0;
	if (buf == NULL)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		int got = b64_group(text + i, i + 4 == n, buf + k);
		if (got < 0) {
			free(buf);
			return -1;
		}
		k += (size_t) got;
	}
	*out = buf;
	*len = k;
	return 0;
}
