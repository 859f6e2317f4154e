/*
 * Destination templates: literal text with `{topic}` and `{N}` tokens,
 * `{{` and `}}` for literal braces. A template is checked against its
 * route's pattern once, at route_add, so that rendering cannot fail for
 * any topic the route receives (but for memory).
 */
#include "bridge/template.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

/* Tokens every topic matched by @p pattern has (a trailing `>` stands
 * for one or more). */
static unsigned
template_min_tokens(const char *pattern)
{
	unsigned n = 1;
	for (const char *p = pattern; *p != '\0'; p++)
		n += *p == '.';
	return n;
}

/* Parses "topic" or a decimal N >= 1 between braces. */
static int
template_token(const char *s, size_t len, unsigned *token)
{
	if (len == 5 && memcmp(s, "topic", 5) == 0) {
		*token = 0;
		return 1;
	}
	if (len == 0 || len > 4 || s[0] == '0')
		return 0;
	unsigned n = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		n = n * 10 + (unsigned) (s[i] - '0');
	}
	*token = n;
	return 1;
}

static weir_err
template_push(weir__template *t, const char *text, size_t len, unsigned token)
{
	weir__tpart *np = weir__realloc(t->parts, (t->count + 1) * sizeof *np);
	if (np == NULL)
		return WEIR_ENOMEM;
	t->parts          = np;
	weir__tpart *part = &np[t->count];
	part->token       = token;
	part->text        = NULL;
	if (text != NULL) {
		part->text = weir__alloc(len + 1);
		if (part->text == NULL)
			return WEIR_ENOMEM;
		memcpy(part->text, text, len);
		part->text[len] = '\0';
	}
	t->count++;
	return WEIR_OK;
}

/* Appends literal text up to the next single brace, unescaping doubled
 * ones. Returns the characters consumed, or SIZE_MAX on a lone `}`. */
static size_t
template_literal(const char *s, char *buf, size_t *blen)
{
	size_t i = 0;
	*blen    = 0;
	while (s[i] != '\0') {
		if ((s[i] == '{' || s[i] == '}') && s[i + 1] == s[i]) {
			buf[(*blen)++] = s[i];
			i += 2;
		} else if (s[i] == '{') {
			break;
		} else if (s[i] == '}') {
			return SIZE_MAX;
		} else {
			buf[(*blen)++] = s[i++];
		}
	}
	return i;
}

static int
template_bad_char(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char) *s <= 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

weir_err
weir__template_parse(weir__template *t, const char *text, const char *pattern,
    char *why, size_t why_size)
{
	memset(t, 0, sizeof *t);
	if (text == NULL || text[0] == '\0' || template_bad_char(text)) {
		snprintf(why, why_size,
		    "empty, or holds white space or control characters");
		return WEIR_EINVAL;
	}
	char *buf = weir__alloc(strlen(text) + 1);
	if (buf == NULL)
		return WEIR_ENOMEM;
	unsigned    max = template_min_tokens(pattern);
	weir_err    e   = WEIR_OK;
	const char *s   = text;
	while (*s != '\0' && e == WEIR_OK) {
		size_t blen, used = template_literal(s, buf, &blen);
		if (used == SIZE_MAX) {
			snprintf(why, why_size, "a lone '}' (write '}}')");
			e = WEIR_EINVAL;
			break;
		}
		if (blen > 0)
			e = template_push(t, buf, blen, 0);
		s += used;
		if (*s != '{' || e != WEIR_OK)
			continue;
		const char *end = strchr(s, '}');
		unsigned    tok;
		if (end == NULL ||
		    !template_token(s + 1, (size_t) (end - s - 1), &tok)) {
			snprintf(why, why_size,
			    "'%.20s': a token is {topic} or {N}, N from 1", s);
			e = WEIR_EINVAL;
		} else if (tok > max) {
			snprintf(why, why_size,
			    "{%u}: the pattern's topics may have only %u "
			    "tokens",
			    tok, max);
			e = WEIR_EINVAL;
		} else {
			e = template_push(t, NULL, 0, tok);
			s = end + 1;
		}
	}
	weir__free(buf);
	if (e != WEIR_OK)
		weir__template_fini(t);
	return e;
}

void
weir__template_fini(weir__template *t)
{
	for (size_t i = 0; i < t->count; i++)
		weir__free(t->parts[i].text);
	weir__free(t->parts);
	memset(t, 0, sizeof *t);
}

/* Token @p n of @p topic (0: all of it) as a pointer and length. */
static const char *
template_topic_token(const char *topic, unsigned n, size_t *len)
{
	if (n == 0) {
		*len = strlen(topic);
		return topic;
	}
	const char *p = topic;
	for (unsigned i = 1; i < n && p != NULL; i++) {
		p = strchr(p, '.');
		p = p != NULL ? p + 1 : NULL;
	}
	if (p == NULL) { /* cannot happen for a matching topic */
		*len = 0;
		return "";
	}
	const char *dot = strchr(p, '.');
	*len            = dot != NULL ? (size_t) (dot - p) : strlen(p);
	return p;
}

char *
weir__template_render(const weir__template *t, const char *topic)
{
	size_t total = 1;
	for (size_t i = 0; i < t->count; i++) {
		size_t len = 0;
		if (t->parts[i].text != NULL)
			len = strlen(t->parts[i].text);
		else
			template_topic_token(topic, t->parts[i].token, &len);
		total += len;
	}
	char *out = weir__alloc(total), *w = out;
	for (size_t i = 0; out != NULL && i < t->count; i++) {
		size_t      len;
		const char *src = t->parts[i].text;
		if (src != NULL)
			len = strlen(src);
		else
			src = template_topic_token(
			    topic, t->parts[i].token, &len);
		memcpy(w, src, len);
		w += len;
	}
	if (out != NULL)
		*w = '\0';
	return out;
}

weir_err
weir__keychoice_parse(weir__keychoice *k, const char *text,
    const char *pattern, char *why, size_t why_size)
{
	k->token = 0;
	if (text == NULL || strcmp(text, "key") == 0) {
		k->kind = WEIR__KEY_EVENT;
		return WEIR_OK;
	}
	if (strcmp(text, "id") == 0 || strcmp(text, "none") == 0) {
		k->kind = text[0] == 'i' ? WEIR__KEY_ID : WEIR__KEY_NONE;
		return WEIR_OK;
	}
	size_t len = strlen(text);
	if (len < 3 || text[0] != '{' || text[len - 1] != '}' ||
	    !template_token(text + 1, len - 2, &k->token)) {
		snprintf(why, why_size,
		    "'%.40s': one of key, id, none, {topic}, {N}", text);
		return WEIR_EINVAL;
	}
	if (k->token > template_min_tokens(pattern)) {
		snprintf(why, why_size,
		    "{%u}: the pattern's topics may have only %u tokens",
		    k->token, template_min_tokens(pattern));
		return WEIR_EINVAL;
	}
	k->kind = WEIR__KEY_TOKEN;
	return WEIR_OK;
}

void
weir__keychoice_view(const weir__keychoice *k, const weir_event *ev,
    const void **key, size_t *len)
{
	const void *src = NULL;
	*len            = 0;
	switch (k->kind) {
	case WEIR__KEY_EVENT:
		src = weir_event_key(ev, len);
		break;
	case WEIR__KEY_ID:
		src  = weir_event_id(ev);
		*len = 16;
		break;
	case WEIR__KEY_TOKEN:
		src =
		    template_topic_token(weir_event_topic(ev), k->token, len);
		break;
	case WEIR__KEY_NONE:
	default:
		break;
	}
	*key = *len > 0 ? src : NULL; /* no key and an empty one are alike;
	                               * src is NULL only with *len 0 */
}
