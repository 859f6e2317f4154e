// The one allocator hook of weir (hiredis alloc.h, nng init params).
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <weir/weir.h>

#include "core/abi.h"
#include "core/alloc.h"
#include "core/evpool.h"

// Spelled once, used twice: ISO C does not let one static object
// initialise another (GCC accepts it as an extension; clang refuses).
#define ALLOC_LIBC                                                           \
	{                                                                    \
		.size = sizeof(weir_allocator), .malloc_fn = malloc,         \
		.calloc_fn = calloc, .realloc_fn = realloc, .free_fn = free, \
	}

static const weir_allocator alloc_libc = ALLOC_LIBC;

static weir_allocator alloc_hook = ALLOC_LIBC;

// The size of the 1.0 struct: every field up to aligned_fn included.
#define ALLOC_MIN_SIZE sizeof(weir_allocator)

weir_err
weir_set_allocator(const weir_allocator *a)
{
	weir_allocator next = alloc_libc;
	if (a != NULL) {
		weir_err rv =
		    weir__struct_in(&next, sizeof(next), a, ALLOC_MIN_SIZE);
		if (rv != WEIR_OK) {
			return rv;
		}
		if (next.malloc_fn == NULL || next.calloc_fn == NULL ||
		    next.realloc_fn == NULL || next.free_fn == NULL) {
			return WEIR_EINVAL;
		}
	}
	// Cached blocks belong to the old allocator: give them back first.
	weir__evpool_flush();
	alloc_hook = next;
	return WEIR_OK;
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

// With the hook's aligned_fn the block comes aligned and is freed as it
// is; without one, weir over-allocates and keeps the raw pointer just
// below the aligned one. free_aligned must know which: the hook may not
// change while blocks are outstanding (weir_set_allocator's rule).
void *
weir__zalloc_aligned(size_t size)
{
	if (alloc_hook.aligned_fn != NULL) {
		void *p = alloc_hook.aligned_fn(ALLOC_LINE,
		    (size + ALLOC_LINE - 1) & ~(size_t) (ALLOC_LINE - 1));
		if (p != NULL) {
			memset(p, 0, size);
		}
		return p;
	}
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
	if (p != NULL && alloc_hook.aligned_fn != NULL) {
		weir__free(p);
	} else if (p != NULL) {
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
