// The token tree of patterns (internal: src/core/tree.h).
#include <stdlib.h>
#include <string.h>

#include "weir_test.h"

#include "core/tree.h"

typedef struct hits {
	void  *item[64];
	size_t n;
} hits;

static void
hits_visit(void *item, void *arg)
{
	hits *h = arg;
	if (h->n < 64) {
		h->item[h->n] = item;
	}
	h->n++;
}

static int
hits_has(const hits *h, void *item)
{
	for (size_t i = 0; i < h->n && i < 64; i++) {
		if (h->item[i] == item) {
			return 1;
		}
	}
	return 0;
}

static unsigned
test_rand(unsigned *seed)
{
	// xorshift32: deterministic and portable.
	unsigned x = *seed;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*seed = x;
	return x;
}

static hits
tree_hits(const weir__tree *t, const char *topic)
{
	hits h = { .n = 0 };
	weir__tree_match(t, topic, hits_visit, &h);
	return h;
}

// Live allocations, counted through the allocator hook.
static long live_allocs;

static void *
count_malloc(size_t n)
{
	void *p = malloc(n);
	live_allocs += p != NULL;
	return p;
}

static void *
count_calloc(size_t n, size_t size)
{
	void *p = calloc(n, size);
	live_allocs += p != NULL;
	return p;
}

static void *
count_realloc(void *p, size_t n)
{
	void *q = realloc(p, n);
	live_allocs += p == NULL && q != NULL;
	return q;
}

static void
count_free(void *p)
{
	live_allocs -= p != NULL;
	free(p);
}

static const weir_allocator count_alloc = {
	.size       = sizeof(weir_allocator),
	.malloc_fn  = count_malloc,
	.calloc_fn  = count_calloc,
	.realloc_fn = count_realloc,
	.free_fn    = count_free,
};

static void
test_add_match_remove(void **state)
{
	(void) state;
	weir__tree t;
	int        a, b, c, d, e;
	weir__tree_init(&t);
	assert_int_equal(tree_hits(&t, "x").n, 0); // empty tree
	assert_weir_ok(weir__tree_add(&t, "a.b", &a));
	assert_weir_ok(weir__tree_add(&t, "a.*", &b));
	assert_weir_ok(weir__tree_add(&t, "a.>", &c));
	assert_weir_ok(weir__tree_add(&t, ">", &d));
	assert_weir_ok(weir__tree_add(&t, "a.b", &e)); // same pattern twice
	assert_int_equal(t.count, 5);

	hits h = tree_hits(&t, "a.b");
	assert_int_equal(h.n, 5);
	assert_true(hits_has(&h, &a) && hits_has(&h, &b) && hits_has(&h, &c) &&
	    hits_has(&h, &d) && hits_has(&h, &e));
	h = tree_hits(&t, "a.c");
	assert_int_equal(h.n, 3);
	assert_false(hits_has(&h, &a));
	h = tree_hits(&t, "a.b.c");
	assert_int_equal(h.n, 2);
	assert_true(hits_has(&h, &c) && hits_has(&h, &d));
	h = tree_hits(&t, "a");
	assert_int_equal(h.n, 1);
	assert_true(hits_has(&h, &d));
	h = tree_hits(&t, "$sys.a");
	assert_int_equal(h.n, 0); // `>` at the root skips `$` topics

	// Exact lookup: only items added under exactly that pattern.
	hits x = { .n = 0 };
	weir__tree_exact(&t, "a.b", hits_visit, &x);
	assert_int_equal(x.n, 2);
	assert_true(hits_has(&x, &a) && hits_has(&x, &e));
	x.n = 0;
	weir__tree_exact(&t, "a.*", hits_visit, &x);
	assert_int_equal(x.n, 1);
	assert_ptr_equal(x.item[0], &b);
	x.n = 0;
	weir__tree_exact(&t, "a.c", hits_visit, &x);
	assert_int_equal(x.n, 0);
	x.n = 0;
	weir__tree_each(&t, hits_visit, &x);
	assert_int_equal(x.n, 5);

	// Remove: only the named item under the named pattern.
	assert_int_equal(weir__tree_remove(&t, "a.*", &a), 0);
	assert_int_equal(weir__tree_remove(&t, "a.x", &a), 0);
	assert_int_equal(weir__tree_remove(&t, "a.b", &a), 1);
	assert_int_equal(weir__tree_remove(&t, "a.b", &a), 0);
	assert_int_equal(t.count, 4);
	h = tree_hits(&t, "a.b");
	assert_int_equal(h.n, 4);
	assert_false(hits_has(&h, &a));
	assert_true(hits_has(&h, &e));
	assert_int_equal(weir__tree_remove(&t, "a.b", &e), 1);
	assert_int_equal(weir__tree_remove(&t, "a.*", &b), 1);
	assert_int_equal(weir__tree_remove(&t, "a.>", &c), 1);
	assert_int_equal(weir__tree_remove(&t, ">", &d), 1);
	assert_int_equal(t.count, 0);
	assert_int_equal(tree_hits(&t, "a.b").n, 0);
	weir__tree_fini(&t);
}

static void
test_dollar_topics(void **state)
{
	(void) state;
	weir__tree t;
	int        a, b, c, d;
	weir__tree_init(&t);
	assert_weir_ok(weir__tree_add(&t, "*.error", &a));
	assert_weir_ok(weir__tree_add(&t, "$weir.error", &b));
	assert_weir_ok(weir__tree_add(&t, "$weir.>", &c));
	assert_weir_ok(weir__tree_add(&t, "$weir.*", &d));
	hits h = tree_hits(&t, "$weir.error");
	assert_int_equal(h.n, 3);
	assert_false(hits_has(&h, &a));
	h = tree_hits(&t, "app.error");
	assert_int_equal(h.n, 1);
	assert_true(hits_has(&h, &a));
	weir__tree_fini(&t);
}

static void
test_pruning(void **state)
{
	(void) state;
	weir__tree t;
	int        item;
	char       pat[64];
	weir_set_allocator(&count_alloc);
	live_allocs = 0;
	weir__tree_init(&t);
	// The root (and its table) may stay; measure after one round.
	assert_weir_ok(weir__tree_add(&t, "seed", &item));
	assert_int_equal(weir__tree_remove(&t, "seed", &item), 1);
	long base = live_allocs;
	for (int i = 0; i < 2000; i++) {
		snprintf(pat, sizeof(pat), "p%d.q%d.*.r.>", i % 7, i);
		assert_weir_ok(weir__tree_add(&t, pat, &item));
	}
	assert_true(live_allocs > base + 2000);
	for (int i = 0; i < 2000; i++) {
		snprintf(pat, sizeof(pat), "p%d.q%d.*.r.>", i % 7, i);
		assert_int_equal(weir__tree_remove(&t, pat, &item), 1);
	}
	assert_int_equal(t.count, 0);
	// Every node made for those patterns is gone again.
	assert_int_equal(live_allocs, base);
	// And a match walks nothing but the root.
	weir__tree_match_nodes = 0;
	assert_int_equal(tree_hits(&t, "p1.q1.x.r.s").n, 0);
	assert_true(weir__tree_match_nodes <= 1);
	weir__tree_fini(&t);
	assert_int_equal(live_allocs, 0);
	weir_set_allocator(NULL);
}

static void
test_many_patterns_vs_brute_force(void **state)
{
	(void) state;
	// Random patterns over a tiny alphabet, so that many match; the
	// tree must agree with weir_pattern_match() on every topic.
	enum { NPAT = 3000, NTOPIC = 300 };
	static char pats[NPAT][32];
	static char topics[NTOPIC][32];
	const char *tok[] = { "a", "b", "c", "$d" };
	weir__tree  t;
	unsigned    seed = 12345;
	weir__tree_init(&t);
	for (int i = 0; i < NPAT; i++) {
		int   n = 1 + (int) (test_rand(&seed) % 4);
		char *p = pats[i];
		p[0]    = '\0';
		for (int k = 0; k < n; k++) {
			int         r = (int) (test_rand(&seed) % 6);
			const char *s = r < 4 ? tok[r] : "*";
			if (k == n - 1 && r == 5) {
				s = ">";
			}
			if (k > 0) {
				strcat(p, ".");
			}
			strcat(p, s);
		}
		assert_weir_ok(weir_pattern_validate(p));
		assert_weir_ok(weir__tree_add(&t, p, pats[i]));
	}
	for (int i = 0; i < NTOPIC; i++) {
		int   n = 1 + (int) (test_rand(&seed) % 5);
		char *p = topics[i];
		p[0]    = '\0';
		for (int k = 0; k < n; k++) {
			if (k > 0) {
				strcat(p, ".");
			}
			strcat(p, tok[test_rand(&seed) % 4]);
		}
	}
	static unsigned char seen[NPAT];
	for (int i = 0; i < NTOPIC; i++) {
		memset(seen, 0, sizeof(seen));
		hits h = { .n = 0 };
		// Count with a visitor that marks each pattern.
		weir__tree_match(&t, topics[i], hits_visit, &h);
		size_t expect = 0;
		for (int j = 0; j < NPAT; j++) {
			expect +=
			    (size_t) weir_pattern_match(pats[j], topics[i]);
		}
		assert_int_equal(h.n, expect);
		for (size_t k = 0; k < h.n && k < 64; k++) {
			assert_true(weir_pattern_match(
			    (const char *) h.item[k], topics[i]));
		}
	}
	// Remove every other pattern and compare again.
	for (int j = 0; j < NPAT; j += 2) {
		assert_int_equal(weir__tree_remove(&t, pats[j], pats[j]), 1);
	}
	for (int i = 0; i < NTOPIC; i++) {
		size_t expect = 0;
		for (int j = 1; j < NPAT; j += 2) {
			expect +=
			    (size_t) weir_pattern_match(pats[j], topics[i]);
		}
		assert_int_equal(tree_hits(&t, topics[i]).n, expect);
	}
	weir__tree_fini(&t);
}

static void
test_cost_independent_of_nonmatching(void **state)
{
	(void) state;
	// The claim, shown by counting instead of timing: adding
	// 100,000 patterns that do not match a topic changes neither what
	// a match of that topic visits (items) nor how many tree nodes it
	// enters.
	weir__tree  t;
	const char *match[] = { "a.b.c", "a.*.c", "*.b.c", "a.>", ">", "a.b.*",
		"*.*.*" };
	const char *other[] = { "a.b", "a.b.c.d", "x.y", "a.*.d", "a.b.c.>" };
	int         item[16];
	char        pat[64];
	weir__tree_init(&t);
	for (size_t i = 0; i < 7; i++) {
		assert_weir_ok(weir__tree_add(&t, match[i], &item[i]));
	}
	for (size_t i = 0; i < 5; i++) {
		assert_weir_ok(weir__tree_add(&t, other[i], &item[8 + i]));
	}
	weir__tree_match_nodes = 0;
	hits   before          = tree_hits(&t, "a.b.c");
	size_t nodes_before    = weir__tree_match_nodes;
	assert_int_equal(before.n, 7);
	assert_true(nodes_before > 0);

	// Shapes that hang off every node the match walks, but never match.
	const char *shape[] = { "n%d.b.c", "a.n%d", "a.b.n%d", "a.*.n%d",
		"*.b.n%d", "a.b.c.n%d", "n%d.>", "*.n%d.c", "a.b.c.d.n%d",
		"*.*.n%d" };
	int         junk;
	for (int i = 0; i < 100000; i++) {
		snprintf(pat, sizeof(pat), shape[i % 10], i);
		assert_weir_ok(weir__tree_add(&t, pat, &junk));
	}
	assert_int_equal(t.count, 12 + 100000);

	weir__tree_match_nodes = 0;
	hits   after           = tree_hits(&t, "a.b.c");
	size_t nodes_after     = weir__tree_match_nodes;
	assert_int_equal(after.n, before.n);
	for (size_t i = 0; i < before.n; i++) {
		assert_true(hits_has(&after, before.item[i]));
	}
	assert_false(hits_has(&after, &junk));
	assert_int_equal(nodes_after, nodes_before);
	weir__tree_fini(&t);
}

// Fails the allocation numbered fail_at (1-based) after arming.
static long alloc_calls;
static long fail_at;

static int
alloc_should_fail(void)
{
	return fail_at > 0 && ++alloc_calls == fail_at;
}

static void *
fail_malloc(size_t n)
{
	return alloc_should_fail() ? NULL : count_malloc(n);
}

static void *
fail_calloc(size_t n, size_t size)
{
	return alloc_should_fail() ? NULL : count_calloc(n, size);
}

static void *
fail_realloc(void *p, size_t n)
{
	return alloc_should_fail() ? NULL : count_realloc(p, n);
}

static const weir_allocator fail_alloc = {
	.size       = sizeof(weir_allocator),
	.malloc_fn  = fail_malloc,
	.calloc_fn  = fail_calloc,
	.realloc_fn = fail_realloc,
	.free_fn    = count_free,
};

static void
test_add_enomem_leaves_tree(void **state)
{
	(void) state;
	// Fail the Nth allocation for N = 1, 2, ... (SQLite style): add
	// either works or returns WEIR_ENOMEM with the tree as it was.
	int  item, other;
	long n;
	for (n = 1;; n++) {
		weir__tree t;
		weir__tree_init(&t);
		assert_weir_ok(weir__tree_add(&t, "a.b", &other));
		weir_set_allocator(&fail_alloc);
		live_allocs = 0;
		alloc_calls = 0;
		fail_at     = n;
		weir_err rv = weir__tree_add(&t, "a.x.*.y.>", &item);
		fail_at     = 0;
		if (rv == WEIR_OK) {
			assert_true(alloc_calls < n); // nothing failed
			assert_int_equal(t.count, 2);
			assert_int_equal(tree_hits(&t, "a.x.1.y.2").n, 1);
			weir__tree_fini(&t);
			weir_set_allocator(NULL);
			break;
		}
		assert_weir_err(rv, WEIR_ENOMEM);
		assert_int_equal(t.count, 1);
		assert_int_equal(tree_hits(&t, "a.x.1.y.2").n, 0);
		assert_int_equal(tree_hits(&t, "a.b").n, 1);
		assert_int_equal(live_allocs, 0); // half-made nodes are gone
		weir__tree_fini(&t);
		weir_set_allocator(NULL);
	}
	assert_true(n > 3); // several allocations were really failed
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_match_remove),
		cmocka_unit_test(test_dollar_topics),
		cmocka_unit_test(test_pruning),
		cmocka_unit_test(test_many_patterns_vs_brute_force),
		cmocka_unit_test(test_cost_independent_of_nonmatching),
		cmocka_unit_test(test_add_enomem_leaves_tree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
