#include "core/jbuf.h"

#include <stdarg.h>
#include <stdio.h>

#include "core/alloc.h"

void
weir__jbuf_init(weir__jbuf *b, size_t cap)
{
	*b        = (weir__jbuf) { .p = weir__alloc(cap), .cap = cap };
	b->failed = b->p == NULL;
	if (b->p != NULL) {
		b->p[0] = '\0';
	}
}

void
weir__jbuf_add(weir__jbuf *b, const char *fmt, ...)
{
	for (int tries = 0; tries < 2 && !b->failed; tries++) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t) n < b->cap - b->len) {
			b->len += (size_t) n;
			return;
		}
		if (n < 0) { // a formatting error: no size to grow to
			b->failed = 1;
			return;
		}
		size_t ncap = (b->cap + (size_t) n + 1) * 2;
		char  *np   = weir__realloc(b->p, ncap);
		if (np == NULL) { // b->p is still ours, freed by the taker
			b->failed = 1;
			return;
		}
		b->p   = np;
		b->cap = ncap;
	}
}

void
weir__jbuf_str(weir__jbuf *b, const char *s)
{
	weir__jbuf_add(b, "\"");
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char) *s;
		if (c == '"' || c == '\\') {
			weir__jbuf_add(b, "\\%c", c);
		} else if (c < 0x20) {
			weir__jbuf_add(b, "\\u%04x", c);
		} else {
			weir__jbuf_add(b, "%c", c);
		}
	}
	weir__jbuf_add(b, "\"");
}

void
weir__jbuf_fail(weir__jbuf *b)
{
	b->failed = 1;
}

char *
weir__jbuf_take(weir__jbuf *b)
{
	char *p = b->p;
	if (b->failed) {
		weir__free(p);
		p = NULL;
	}
	*b = (weir__jbuf) { .failed = 1 };
	return p;
}
