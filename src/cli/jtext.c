// Why not json_dumps: jansson 2.14 ignores the result of writing an
// object's key (do_dump drops dump_string's), so when its buffer cannot
// grow, json_dumps may return a text with a key missing: invalid JSON,
// printed as if all went well (cmd_oom_test). Here a sink remembers any
// failed write, and the text is dropped.
#include "cli/jtext.h"

#include <stdlib.h>
#include <string.h>

typedef struct jtext_buf {
	char  *buf;
	size_t len, cap;
	int    failed;
} jtext_buf;

static int
jtext_add(const char *s, size_t n, void *arg)
{
	jtext_buf *t = arg;
	if (!t->failed && t->len + n + 1 > t->cap) {
		size_t cap = (t->len + n + 1) * 2;
		char  *b   = realloc(t->buf, cap);
		if (b == NULL) {
			t->failed = 1; // t->buf stays, freed by weir__jtext
		} else {
			t->buf = b;
			t->cap = cap;
		}
	}
	if (t->failed)
		return -1;
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	t->buf[t->len] = '\0';
	return 0;
}

char *
weir__jtext(const json_t *v, size_t flags)
{
	jtext_buf t = { 0 };
	if (v == NULL)
		return NULL;
	/* A failed write is sticky, so the write after a dropped key (its
	 * ':') fails too, and that one jansson reports. */
	if (json_dump_callback(v, jtext_add, &t, flags) != 0) {
		free(t.buf);
		return NULL;
	}
	return t.buf;
}
