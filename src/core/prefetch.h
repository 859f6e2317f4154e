// Prefetching ahead of the publish and dispatch paths. A prefetch for
// writing (x86 PREFETCHW) takes a line exclusive at once; a plain one
// fetches it shared, and the store then still waits for the other core
// to drop its copy. GCC's __builtin_prefetch(p, 1, ...) emits the plain
// one unless built for a CPU that has PREFETCHW, hence the asm, used
// where CPUID lists the instruction (weir__cpu_prefetchw).
#ifndef WEIR_CORE_PREFETCH_H
#define WEIR_CORE_PREFETCH_H

// 1 if the CPU has PREFETCHW (asked once; 0 off x86-64).
int weir__cpu_prefetchw(void);

static inline void
weir__prefetch_write(const void *p, int prefetchw)
{
#if defined(__x86_64__) && defined(__GNUC__)
	if (prefetchw) {
		__asm__ volatile("prefetchw %0" : : "m"(*(const char *) p));
		return;
	}
#else
	(void) prefetchw;
#endif
	__builtin_prefetch(p, 1, 3);
}

static inline void
weir__prefetch_read(const void *p)
{
	__builtin_prefetch(p, 0, 3);
}

#endif
