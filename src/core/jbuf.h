// JSON text built by hand (core has no dependencies): a growable buffer
// that remembers a failed write, so that a text with a member missing
// is never handed out. The bus's stats and the bridge's stats section
// write through it.
#ifndef WEIR_CORE_JBUF_H
#define WEIR_CORE_JBUF_H

#include <stddef.h>

#include <weir/weir.h>

typedef struct weir__jbuf {
	char  *p;
	size_t len;
	size_t cap;
	int    failed; // a write failed: every later one is skipped
} weir__jbuf;

// WEIR_API: exported from a shared libweir for weir::bridge (not API).

// Starts an empty text with @p cap bytes; on failure b->failed is set.
WEIR_API void weir__jbuf_init(weir__jbuf *b, size_t cap);
// Appends printf-formatted text; a failure to format or grow fails b.
WEIR_API void weir__jbuf_add(weir__jbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
// Appends @p s as a JSON string: quotes, backslashes and control
// characters escaped.
WEIR_API void weir__jbuf_str(weir__jbuf *b, const char *s);
// Marks b failed (a part written elsewhere failed).
WEIR_API void weir__jbuf_fail(weir__jbuf *b);
// The text (the caller frees it with weir__free), or NULL if any write
// failed; either way b holds nothing after.
WEIR_API char *weir__jbuf_take(weir__jbuf *b);

#endif
