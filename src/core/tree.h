// A token tree of patterns: matching a topic walks one path per
// wildcard branch, so its cost does not grow with the number of
// patterns that do not match.
#ifndef WEIR_CORE_TREE_H
#define WEIR_CORE_TREE_H

#include <stddef.h>

#include <weir/weir.h>

typedef struct weir__tree_node weir__tree_node;

typedef struct weir__tree {
	weir__tree_node *root;
	size_t           count; // items in the tree
} weir__tree;

typedef void (*weir__tree_visit)(void *item, void *arg);

void weir__tree_init(weir__tree *tree);
// Frees the nodes; items are the caller's.
void weir__tree_fini(weir__tree *tree);
// Adds @p item under a valid @p pattern. WEIR_ENOMEM leaves the tree
// as it was.
weir_err weir__tree_add(weir__tree *tree, const char *pattern, void *item);
// Removes one @p item added under @p pattern; returns 1 if found.
int weir__tree_remove(weir__tree *tree, const char *pattern, void *item);
// Calls @p fn for every item whose pattern matches the valid @p topic.
void weir__tree_match(
    const weir__tree *tree, const char *topic, weir__tree_visit fn, void *arg);
// Calls @p fn for every item added under exactly @p pattern.
void weir__tree_exact(const weir__tree *tree, const char *pattern,
    weir__tree_visit fn, void *arg);
// The first item added under exactly @p pattern and still there, or
// NULL; costs one walk of the pattern's tokens.
void *weir__tree_first(const weir__tree *tree, const char *pattern);
// Calls @p fn for every item.
void weir__tree_each(const weir__tree *tree, weir__tree_visit fn, void *arg);

#ifdef WEIR_TESTING
// Nodes entered by weir__tree_match() on this thread, so that a test can
// show the cost of a match without timing it.
extern _Thread_local size_t weir__tree_match_nodes;
#endif

#endif
