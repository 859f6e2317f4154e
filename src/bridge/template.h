/* Destination templates and key choices of a route. */
#ifndef WEIR_BRIDGE_TEMPLATE_H
#define WEIR_BRIDGE_TEMPLATE_H

#include <weir/weir.h>

/* One part of a template: literal text, or topic token @p token (0 = the
 * whole topic, N >= 1 = the N-th dot-separated token). */
typedef struct weir__tpart {
	char    *text; /* literal (NULL for a token) */
	unsigned token;
} weir__tpart;

typedef struct weir__template {
	weir__tpart *parts;
	size_t       count;
} weir__template;

typedef enum weir__keykind {
	WEIR__KEY_EVENT = 0, /* the event's key */
	WEIR__KEY_ID,        /* the event id, 16 bytes */
	WEIR__KEY_TOKEN,     /* a topic token (or the whole topic) */
	WEIR__KEY_NONE
} weir__keykind;

typedef struct weir__keychoice {
	weir__keykind kind;
	unsigned      token; /* WEIR__KEY_TOKEN */
} weir__keychoice;

/* Parses @p text for topics matching @p pattern (already valid). On
 * WEIR_EINVAL, @p why (size @p why_size) says what is wrong. */
weir_err weir__template_parse(weir__template *t, const char *text,
    const char *pattern, char *why, size_t why_size);
void     weir__template_fini(weir__template *t);
/* The destination for @p topic, allocated (weir__free); NULL: no memory. */
char *weir__template_render(const weir__template *t, const char *topic);

/* Parses a key choice ("key", "id", "none", "{N}", "{topic}"). */
weir_err weir__keychoice_parse(weir__keychoice *k, const char *text,
    const char *pattern, char *why, size_t why_size);
/* The key of @p ev, borrowed from it (a part of its key, id or topic,
 * valid while @p ev is): *key NULL with *len 0 for no key. */
void weir__keychoice_view(const weir__keychoice *k, const weir_event *ev,
    const void **key, size_t *len);

#endif
