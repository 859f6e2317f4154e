// The one allocator hook of weir (hiredis alloc.h, nng init params).
#include <stdlib.h>
#include <string.h>

#include <weir/weir.h>

#include "core/alloc.h"
#include "core/evpool.h"

static weir_allocator alloc_hook = { malloc, calloc, realloc, free };

void
weir_set_allocator(const weir_allocator *a)
{
	// Cached blocks belong to the old allocator: give them back first.
	weir__evpool_flush();
	if (a == NULL) {
		alloc_hook =
		    (weir_allocator) { malloc, calloc, realloc, free };
		return;
	}
	alloc_hook = *a;
}

void
weir_free(void *p)
{
	weir__free(p);
}

void *
weir__alloc(size_t size)
{
	return alloc_hook.malloc_fn(size);
}

void *
weir__zalloc(size_t size)
{
	return alloc_hook.calloc_fn(1, size);
}

void *
weir__realloc(void *p, size_t size)
{
	return alloc_hook.realloc_fn(p, size);
}

void
weir__free(void *p)
{
	if (p != NULL) {
		alloc_hook.free_fn(p);
	}
}

char *
weir__strdup(const char *s)
{
	size_t len = strlen(s) + 1;
	char  *d   = weir__alloc(len);
	if (d != NULL) {
		memcpy(d, s, len);
	}
	return d;
}
