/*
 * libFuzzer target: the topic and pattern grammar.
 *
 * The input is a list of NUL-separated strings (at most FUZZ_STRINGS).
 * Each string is checked as a topic and as a pattern against a
 * reference validator written here from the grammar in weir.h, and
 * every (pattern, topic) pair is matched both by weir_pattern_match()
 * and by a reference matcher; then every valid pattern goes into a
 * token tree (tree.c, what the bus uses) and every valid topic is
 * matched through it. Any disagreement aborts, which libFuzzer reports
 * as a crash with the input kept.
 *
 * The reference is deliberately plain: split into copied tokens, then
 * compare token by token. It shares no code with topic.c or tree.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weir/weir.h>

#include "core/tree.h"

#define FUZZ_STRINGS 12
#define REF_TOKENS (WEIR_MAX_TOPIC + 1)

typedef struct ref_split {
	size_t n;
	char  *tok[REF_TOKENS];
	char   buf[WEIR_MAX_TOPIC + 2];
} ref_split;

static void
mismatch(const char *what, const char *a, const char *b, int want, int got)
{
	fprintf(stderr,
	    "topic_fuzz: %s mismatch: '%s' '%s': reference %d, "
	    "weir %d\n",
	    what, a, b != NULL ? b : "", want, got);
	abort();
}

// Splits a string of at most WEIR_MAX_TOPIC bytes at every dot.
static void
ref_tokens(const char *s, ref_split *sp)
{
	strcpy(sp->buf, s);
	sp->n            = 0;
	sp->tok[sp->n++] = sp->buf;
	for (char *p = sp->buf; *p != '\0'; p++) {
		if (*p == '.') {
			*p               = '\0';
			sp->tok[sp->n++] = p + 1;
		}
	}
}

// The grammar of weir.h: at most WEIR_MAX_TOPIC bytes; tokens between
// dots are non-empty and hold no white space; a pattern's token may be
// exactly `*`, and its last token exactly `>`; a topic has neither.
static int
ref_valid(const char *s, int pattern)
{
	ref_split sp;
	if (strlen(s) > WEIR_MAX_TOPIC) {
		return 0;
	}
	ref_tokens(s, &sp);
	for (size_t i = 0; i < sp.n; i++) {
		const char *t = sp.tok[i];
		if (t[0] == '\0' || strpbrk(t, " \t\r\n\f\v") != NULL) {
			return 0;
		}
		int star = strcmp(t, "*") == 0;
		int gt   = strcmp(t, ">") == 0;
		if ((star || gt) && !pattern) {
			return 0;
		}
		if (gt && i + 1 != sp.n) {
			return 0;
		}
	}
	return 1;
}

// `*` is one token, a last `>` one or more; a wildcard in the first
// place never matches a first token starting with `$`.
static int
ref_match(const char *pattern, const char *topic)
{
	static ref_split p, t;
	if (!ref_valid(pattern, 1) || !ref_valid(topic, 0)) {
		return 0;
	}
	ref_tokens(pattern, &p);
	ref_tokens(topic, &t);
	for (size_t i = 0; i < p.n; i++) {
		int star = strcmp(p.tok[i], "*") == 0;
		int gt   = strcmp(p.tok[i], ">") == 0;
		if (i >= t.n) {
			return 0;
		}
		if ((star || gt) && i == 0 && t.tok[0][0] == '$') {
			return 0;
		}
		if (gt) {
			return 1;
		}
		if (!star && strcmp(p.tok[i], t.tok[i]) != 0) {
			return 0;
		}
	}
	return p.n == t.n;
}

typedef struct fuzz_hits {
	unsigned char hit[FUZZ_STRINGS];
} fuzz_hits;

static void
fuzz_visit(void *item, void *arg)
{
	fuzz_hits *h = arg;
	h->hit[(uintptr_t) item - 1]++;
}

// The tree holds every valid pattern whose keep bit is set (one item
// each, the string's index + 1); each valid topic must reach exactly
// the patterns that the reference matches.
static void
fuzz_tree(char **s, size_t n, unsigned keep)
{
	weir__tree tree;
	weir__tree_init(&tree);
	for (size_t i = 0; i < n; i++) {
		if (ref_valid(s[i], 1) &&
		    weir__tree_add(&tree, s[i], (void *) (i + 1)) != WEIR_OK) {
			mismatch("tree add", s[i], NULL, 1, 0);
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (ref_valid(s[i], 1) && !(keep >> i & 1u) &&
		    !weir__tree_remove(&tree, s[i], (void *) (i + 1))) {
			mismatch("tree remove", s[i], NULL, 1, 0);
		}
	}
	for (size_t j = 0; j < n; j++) {
		fuzz_hits h = { { 0 } };
		if (!ref_valid(s[j], 0)) {
			continue;
		}
		weir__tree_match(&tree, s[j], fuzz_visit, &h);
		for (size_t i = 0; i < n; i++) {
			int want = (keep >> i & 1u) && ref_match(s[i], s[j]);
			if (h.hit[i] != want) {
				mismatch(
				    "tree match", s[i], s[j], want, h.hit[i]);
			}
		}
	}
	weir__tree_fini(&tree);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char  *s[FUZZ_STRINGS];
	size_t n = 0, off = 0;
	// The first byte chooses which patterns stay in the tree.
	unsigned keep = size > 0 ? data[0] | (unsigned) data[0] << 8 : 0;
	while (off < size && n < FUZZ_STRINGS) {
		size_t len = strnlen((const char *) data + off, size - off);
		s[n]       = malloc(len + 1);
		memcpy(s[n], data + off, len);
		s[n][len] = '\0';
		n++;
		off += len + 1;
	}
	for (size_t i = 0; i < n; i++) {
		int want = ref_valid(s[i], 0);
		int got  = weir_topic_validate(s[i]) == WEIR_OK;
		if (want != got) {
			mismatch("topic validation", s[i], NULL, want, got);
		}
		want = ref_valid(s[i], 1);
		got  = weir_pattern_validate(s[i]) == WEIR_OK;
		if (want != got) {
			mismatch("pattern validation", s[i], NULL, want, got);
		}
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			int want = ref_match(s[i], s[j]);
			int got  = weir_pattern_match(s[i], s[j]);
			if (want != got) {
				mismatch("match", s[i], s[j], want, got);
			}
		}
	}
	fuzz_tree(s, n, keep);
	for (size_t i = 0; i < n; i++) {
		free(s[i]);
	}
	return 0;
}
