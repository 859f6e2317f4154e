// The one allocator hook of weir (hiredis alloc.h, nng init params).
#include <stdint.h>
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

#define ALLOC_LINE 64

void *
weir__zalloc_aligned(size_t size)
{
	char *raw = weir__zalloc(size + ALLOC_LINE + sizeof(void *));
	if (raw == NULL) {
		return NULL;
	}
	uintptr_t at = ((uintptr_t) (raw + sizeof(void *)) + ALLOC_LINE - 1) &
	    ~(uintptr_t) (ALLOC_LINE - 1);
	memcpy((char *) at - sizeof(void *), &raw, sizeof(raw));
	return (void *) at;
}

void
weir__free_aligned(void *p)
{
	if (p != NULL) {
		void *raw;
		memcpy(&raw, (char *) p - sizeof(void *), sizeof(raw));
		weir__free(raw);
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
