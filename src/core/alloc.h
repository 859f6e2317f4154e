// Internal allocation: every allocation in weir goes through the hook
// set by weir_set_allocator(), so tests can inject failures.
#ifndef WEIR_CORE_ALLOC_H
#define WEIR_CORE_ALLOC_H

#include <stddef.h>

#include <weir/weir.h>

// WEIR_API here exports these from a shared libweir for weir::store,
// which is a library of its own and must allocate through the same
// hook. They stay out of the public headers, so they are not API.
WEIR_API void *weir__alloc(size_t size);
WEIR_API void *weir__zalloc(size_t size);
WEIR_API void *weir__realloc(void *p, size_t size);
WEIR_API void  weir__free(void *p);
WEIR_API char *weir__strdup(const char *s);
// Zeroed and aligned to a cache line, for structs whose fields are laid
// out on separate lines (alignas(64)); freed by weir__free_aligned().
// Uses the hook's aligned_fn, or over-allocates when it has none.
void *weir__zalloc_aligned(size_t size);
void  weir__free_aligned(void *p);

// WEIR_ALWAYS / WEIR_NEVER mark defensive branches (SQLite's idiom).
#define WEIR_ALWAYS(x) (__builtin_expect(!!(x), 1))
#define WEIR_NEVER(x) (__builtin_expect(!!(x), 0))

#endif
