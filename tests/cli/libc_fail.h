/*
 * libc allocation failure for the weir tool's units, which allocate
 * with libc, not weir's allocator (tests/support/fault_alloc.h). A test
 * links with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,
 * --wrap=strdup (weir_cli_unit_test() in CMakeLists.txt); lf_arm(n)
 * makes the n-th of those calls from then on return NULL (0: none).
 * Only the calls of objects linked into the test go through here;
 * jansson's own allocations (a shared library) do not.
 */
#ifndef WEIR_TEST_LIBC_FAIL_H
#define WEIR_TEST_LIBC_FAIL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);

/* Atomic: a command's bridge and store threads allocate too. */
static _Atomic long lf_calls, lf_fail_at;

static inline void
lf_arm(long n)
{
	lf_calls   = 0;
	lf_fail_at = n;
}

static inline int
lf_fail_now(void)
{
	return lf_fail_at > 0 && ++lf_calls == lf_fail_at;
}

void *
__wrap_malloc(size_t n)
{
	return lf_fail_now() ? NULL : __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t size)
{
	return lf_fail_now() ? NULL : __real_calloc(n, size);
}

void *
__wrap_realloc(void *p, size_t n)
{
	return lf_fail_now() ? NULL : __real_realloc(p, n);
}

char *
__wrap_strdup(const char *s)
{
	return lf_fail_now() ? NULL : __real_strdup(s);
}

/* For json_set_alloc_funcs: jansson's allocations fail in turn too (it
 * is a shared library: --wrap does not reach it, its own hook does). */
static inline void *
lf_json_malloc(size_t n)
{
	return lf_fail_now() ? NULL : __real_malloc(n);
}

static inline void
lf_json_free(void *p)
{
	free(p);
}

#endif
