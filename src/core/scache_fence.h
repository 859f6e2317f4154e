// An asymmetric fence for the string cache's readers (scache.c): the
// rare side pays a fence on every thread of the process so that the
// frequent side needs none. CMake picks the file: scache_fence_linux.c
// (membarrier) or scache_fence_none.c.
#ifndef WEIR_CORE_SCACHE_FENCE_H
#define WEIR_CORE_SCACHE_FENCE_H

// Returns 1 when weir__fence_heavy() works (then readers may announce
// with a plain store), else 0. Called once.
int weir__fence_heavy_init(void);
// A full memory barrier on every running thread of the process, before
// it returns.
void weir__fence_heavy(void);

#endif
