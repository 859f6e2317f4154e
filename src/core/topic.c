// Topics are NATS subjects: non-empty tokens separated by dots, no
// white space. In a pattern a whole token `*` matches one token and a
// last token `>` matches one or more. A wildcard in the first position
// does not match a topic whose first token starts with `$` (the
// system topics `$weir.*`), as MQTT does for `$SYS`.
#include <string.h>

#include <weir/weir.h>

#include "core/topic.h"

// What a byte is to the grammar. A table, one look-up per byte: the
// inbound path validates a topic per message, where testing six white
// space characters per byte cost ~20 instructions a byte.
enum { TOPIC_PLAIN, TOPIC_DOT, TOPIC_END, TOPIC_SPACE };
static const unsigned char topic_class[256] = {
	['\0'] = TOPIC_END,
	['.']  = TOPIC_DOT,
	[' ']  = TOPIC_SPACE,
	['\t'] = TOPIC_SPACE,
	['\r'] = TOPIC_SPACE,
	['\n'] = TOPIC_SPACE,
	['\f'] = TOPIC_SPACE,
	['\v'] = TOPIC_SPACE,
};

// Checks a token of white-space-free bytes at @p s of length @p n: 1 ok,
// 0 bad (empty, or a wildcard where none may be).
static int
topic_token_ok(const char *s, size_t n, int is_pattern, int is_last)
{
	if (n == 0) {
		return 0;
	}
	if (n == 1 && s[0] == '*') {
		return is_pattern;
	}
	if (n == 1 && s[0] == '>') {
		return is_pattern && is_last;
	}
	return 1;
}

// One pass over at most WEIR_MAX_TOPIC + 1 bytes: topics are short and
// checked on every publish by string, where strlen and strchr per
// token cost more than the walk itself.
static int
topic_check(const char *s, int is_pattern)
{
	if (s == NULL) {
		return 0;
	}
	const char *tok = s;
	for (size_t i = 0; i <= WEIR_MAX_TOPIC; i++) {
		unsigned char k = topic_class[(unsigned char) s[i]];
		if (k == TOPIC_PLAIN) {
			continue;
		}
		if (k == TOPIC_SPACE ||
		    !topic_token_ok(tok, (size_t) (s + i - tok), is_pattern,
		        k == TOPIC_END)) {
			return 0;
		}
		if (k == TOPIC_END) {
			return 1;
		}
		tok = s + i + 1;
	}
	return 0; // longer than WEIR_MAX_TOPIC
}

weir_err
weir_topic_validate(const char *topic)
{
	return topic_check(topic, 0) ? WEIR_OK : WEIR_EBADTOPIC;
}

weir_err
weir_pattern_validate(const char *pattern)
{
	return topic_check(pattern, 1) ? WEIR_OK : WEIR_EBADPATTERN;
}

size_t
weir__topic_split(const char *s, const char **tok, size_t *len, size_t max)
{
	size_t      n     = 0;
	const char *start = s;
	for (const char *p = s;; p++) {
		if (*p != '.' && *p != '\0') {
			continue;
		}
		if (n < max) {
			tok[n] = start;
			len[n] = (size_t) (p - start);
		}
		n++;
		if (*p == '\0') {
			return n;
		}
		start = p + 1;
	}
}

static int
topic_tok_is(const char *t, size_t n, char c)
{
	return n == 1 && t[0] == c;
}

int
weir_pattern_match(const char *pattern, const char *topic)
{
	if (weir_pattern_validate(pattern) || weir_topic_validate(topic)) {
		return 0;
	}
	static const size_t max = WEIR_MAX_TOKENS;
	const char         *pt[WEIR_MAX_TOKENS], *tt[WEIR_MAX_TOKENS];
	size_t              pl[WEIR_MAX_TOKENS], tl[WEIR_MAX_TOKENS];
	size_t              np = weir__topic_split(pattern, pt, pl, max);
	size_t              nt = weir__topic_split(topic, tt, tl, max);
	for (size_t i = 0; i < np; i++) {
		int wild = topic_tok_is(pt[i], pl[i], '*') ||
		    topic_tok_is(pt[i], pl[i], '>');
		if (i >= nt || (wild && i == 0 && tt[0][0] == '$')) {
			return 0;
		}
		if (topic_tok_is(pt[i], pl[i], '>')) {
			return 1;
		}
		if (!wild && (pl[i] != tl[i] || memcmp(pt[i], tt[i], pl[i]))) {
			return 0;
		}
	}
	return np == nt;
}
