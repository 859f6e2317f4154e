// Design notes. Each node owns the items whose pattern ends there, a
// hash table of literal children (open addressing, linear probing,
// tombstones), and its `*` and `>` children. Empty nodes are pruned on
// removal so the tree's size follows its contents. The table grows at
// 3/4 load (counting tombstones) and is rebuilt without tombstones.
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "core/topic.h"
#include "core/tree.h"

struct weir__tree_node {
	char             *token;
	size_t            toklen;
	uint32_t          hash;
	weir__tree_node  *parent;
	weir__tree_node **kids;  // hash table of literal children
	size_t            nkids; // live entries
	size_t            nused; // live entries plus tombstones
	size_t            kcap;  // 0 or a power of two
	weir__tree_node  *star;
	weir__tree_node  *gt;
	void            **items;
	size_t            nitems;
	size_t            icap;
};

static weir__tree_node tree_tomb_; // marks a deleted table slot
#define TREE_TOMB (&tree_tomb_)

static uint32_t
tree_hash(const char *s, size_t n)
{
	return (uint32_t) weir__hash_bytes(s, n);
}

static weir__tree_node *
tree_node_new(weir__tree_node *parent, const char *tok, size_t n)
{
	weir__tree_node *node = weir__zalloc(sizeof(*node));
	if (node == NULL) {
		return NULL;
	}
	node->token = weir__alloc(n + 1);
	if (node->token == NULL) {
		weir__free(node);
		return NULL;
	}
	memcpy(node->token, tok, n);
	node->token[n] = '\0';
	node->toklen   = n;
	node->hash     = tree_hash(tok, n);
	node->parent   = parent;
	return node;
}

static weir__tree_node *
tree_kid_find(
    const weir__tree_node *node, const char *tok, size_t n, size_t *slot)
{
	if (node->kcap == 0) {
		return NULL;
	}
	size_t mask = node->kcap - 1;
	for (size_t i = tree_hash(tok, n) & mask;; i = (i + 1) & mask) {
		weir__tree_node *k = node->kids[i];
		if (k == NULL) {
			return NULL;
		}
		if (k != TREE_TOMB && k->toklen == n &&
		    memcmp(k->token, tok, n) == 0) {
			if (slot != NULL) {
				*slot = i;
			}
			return k;
		}
	}
}

static void
tree_kid_put(weir__tree_node *node, weir__tree_node *kid)
{
	size_t mask = node->kcap - 1;
	size_t i    = kid->hash & mask;
	while (node->kids[i] != NULL && node->kids[i] != TREE_TOMB) {
		i = (i + 1) & mask;
	}
	if (node->kids[i] == NULL) {
		node->nused++;
	}
	node->kids[i] = kid;
	node->nkids++;
}

static int
tree_kids_grow(weir__tree_node *node)
{
	if ((node->nused + 1) * 4 < node->kcap * 3) {
		return 1;
	}
	size_t ncap = node->kcap ? node->kcap : 4;
	while ((node->nkids + 1) * 4 >= ncap * 3) {
		ncap *= 2;
	}
	weir__tree_node **old  = node->kids;
	size_t            ocap = node->kcap;
	node->kids             = weir__zalloc(ncap * sizeof(*old));
	if (node->kids == NULL) {
		node->kids = old;
		return 0;
	}
	node->kcap  = ncap;
	node->nkids = 0;
	node->nused = 0;
	for (size_t i = 0; i < ocap; i++) {
		if (old[i] != NULL && old[i] != TREE_TOMB) {
			tree_kid_put(node, old[i]);
		}
	}
	weir__free(old);
	return 1;
}

// Returns the child for a token, making it if @p make is set.
static weir__tree_node *
tree_child(weir__tree_node *node, const char *tok, size_t n, int make)
{
	weir__tree_node **special = NULL;
	if (n == 1 && (tok[0] == '*' || tok[0] == '>')) {
		special = tok[0] == '*' ? &node->star : &node->gt;
		if (*special == NULL && make) {
			*special = tree_node_new(node, tok, n);
		}
		return *special;
	}
	weir__tree_node *kid = tree_kid_find(node, tok, n, NULL);
	if (kid != NULL || !make || !tree_kids_grow(node)) {
		return kid;
	}
	kid = tree_node_new(node, tok, n);
	if (kid != NULL) {
		tree_kid_put(node, kid);
	}
	return kid;
}

static int
tree_node_empty(const weir__tree_node *node)
{
	return node->nitems == 0 && node->nkids == 0 && node->star == NULL &&
	    node->gt == NULL;
}

static void
tree_node_free(weir__tree_node *node)
{
	weir__free(node->kids);
	weir__free(node->items);
	weir__free(node->token);
	weir__free(node);
}

// Unlinks and frees empty nodes from @p node up to (not incl.) the root.
static void
tree_prune(weir__tree *tree, weir__tree_node *node)
{
	while (node != tree->root && tree_node_empty(node)) {
		weir__tree_node *parent = node->parent;
		size_t           slot;
		if (parent->star == node) {
			parent->star = NULL;
		} else if (parent->gt == node) {
			parent->gt = NULL;
		} else if (tree_kid_find(parent, node->token, node->toklen,
		               &slot) == node) {
			parent->kids[slot] = TREE_TOMB;
			parent->nkids--;
		}
		tree_node_free(node);
		node = parent;
	}
}

void
weir__tree_init(weir__tree *tree)
{
	tree->root  = NULL;
	tree->count = 0;
}

static void
tree_free_all(weir__tree_node *node)
{
	if (node == NULL) {
		return;
	}
	for (size_t i = 0; i < node->kcap; i++) {
		if (node->kids[i] != NULL && node->kids[i] != TREE_TOMB) {
			tree_free_all(node->kids[i]);
		}
	}
	tree_free_all(node->star);
	tree_free_all(node->gt);
	tree_node_free(node);
}

void
weir__tree_fini(weir__tree *tree)
{
	tree_free_all(tree->root);
	weir__tree_init(tree);
}

static weir__tree_node *
tree_walk(weir__tree *tree, const char *pattern, int make)
{
	if (tree->root == NULL && make) {
		tree->root = tree_node_new(NULL, "", 0);
	}
	weir__tree_node *node = tree->root;
	const char      *p    = pattern;
	while (node != NULL) {
		const char      *dot  = strchr(p, '.');
		size_t           n    = dot ? (size_t) (dot - p) : strlen(p);
		weir__tree_node *next = tree_child(node, p, n, make);
		if (next == NULL && make) {
			tree_prune(tree, node);
		}
		node = next;
		if (dot == NULL) {
			break;
		}
		p = dot + 1;
	}
	return node;
}

weir_err
weir__tree_add(weir__tree *tree, const char *pattern, void *item)
{
	weir__tree_node *node = tree_walk(tree, pattern, 1);
	if (node == NULL) {
		return WEIR_ENOMEM;
	}
	if (node->nitems == node->icap) {
		size_t ncap = node->icap ? node->icap * 2 : 2;
		void **items =
		    weir__realloc(node->items, ncap * sizeof(void *));
		if (items == NULL) {
			tree_prune(tree, node);
			return WEIR_ENOMEM;
		}
		node->items = items;
		node->icap  = ncap;
	}
	node->items[node->nitems++] = item;
	tree->count++;
	return WEIR_OK;
}

int
weir__tree_remove(weir__tree *tree, const char *pattern, void *item)
{
	weir__tree_node *node = tree_walk(tree, pattern, 0);
	for (size_t i = 0; node != NULL && i < node->nitems; i++) {
		if (node->items[i] == item) {
			memmove(&node->items[i], &node->items[i + 1],
			    (node->nitems - i - 1) * sizeof(void *));
			node->nitems--;
			tree->count--;
			tree_prune(tree, node);
			return 1;
		}
	}
	return 0;
}

static void
tree_visit_items(const weir__tree_node *node, weir__tree_visit fn, void *arg)
{
	for (size_t i = 0; i < node->nitems; i++) {
		fn(node->items[i], arg);
	}
}

typedef struct tree_query {
	const char     **tok;
	const size_t    *len;
	size_t           n;
	weir__tree_visit fn;
	void            *arg;
} tree_query;

#ifdef WEIR_TESTING
_Thread_local size_t weir__tree_match_nodes;
#endif

static void
tree_match_at(const weir__tree_node *node, size_t i, const tree_query *q)
{
#ifdef WEIR_TESTING
	weir__tree_match_nodes++;
#endif
	if (i == q->n) {
		tree_visit_items(node, q->fn, q->arg);
		return;
	}
	int                    sys = i == 0 && q->tok[0][0] == '$';
	const weir__tree_node *kid =
	    tree_kid_find(node, q->tok[i], q->len[i], NULL);
	if (kid != NULL) {
		tree_match_at(kid, i + 1, q);
	}
	if (node->star != NULL && !sys) {
		tree_match_at(node->star, i + 1, q);
	}
	if (node->gt != NULL && !sys) {
		tree_visit_items(node->gt, q->fn, q->arg);
	}
}

void
weir__tree_match(
    const weir__tree *tree, const char *topic, weir__tree_visit fn, void *arg)
{
	if (tree->root == NULL) {
		return;
	}
	const char *tok[WEIR_MAX_TOKENS];
	size_t      len[WEIR_MAX_TOKENS];
	tree_query  q = { tok, len, 0, fn, arg };
	q.n           = weir__topic_split(topic, tok, len, WEIR_MAX_TOKENS);
	tree_match_at(tree->root, 0, &q);
}

void
weir__tree_exact(const weir__tree *tree, const char *pattern,
    weir__tree_visit fn, void *arg)
{
	weir__tree_node *node = tree_walk((weir__tree *) tree, pattern, 0);
	if (node != NULL) {
		tree_visit_items(node, fn, arg);
	}
}

void *
weir__tree_first(const weir__tree *tree, const char *pattern)
{
	weir__tree_node *node = tree_walk((weir__tree *) tree, pattern, 0);
	return node != NULL && node->nitems ? node->items[0] : NULL;
}

static void
tree_each_at(const weir__tree_node *node, weir__tree_visit fn, void *arg)
{
	if (node == NULL) {
		return;
	}
	tree_visit_items(node, fn, arg);
	for (size_t i = 0; i < node->kcap; i++) {
		if (node->kids[i] != NULL && node->kids[i] != TREE_TOMB) {
			tree_each_at(node->kids[i], fn, arg);
		}
	}
	tree_each_at(node->star, fn, arg);
	tree_each_at(node->gt, fn, arg);
}

void
weir__tree_each(const weir__tree *tree, weir__tree_visit fn, void *arg)
{
	tree_each_at(tree->root, fn, arg);
}
