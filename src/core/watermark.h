// Watermarks of a subscription's queue: the pressure and drain
// transitions and their callbacks.
#ifndef WEIR_CORE_WATERMARK_H
#define WEIR_CORE_WATERMARK_H

#include <stdatomic.h>

#include <weir/weir.h>

// Points where a publisher calls the test hook: it has seen the depth
// at the high watermark but not yet claimed the pressure (SEEN), or has
// claimed it but not yet called on_pressure (CLAIMED). A test lets the
// loop run there, a window otherwise a few instructions wide.
enum { WEIR__WM_SEEN = 0, WEIR__WM_CLAIMED = 1 };

#ifdef WEIR_TESTING
typedef void (*weir__wm_hook_fn)(weir_subscr *sub, int point);
extern _Atomic(weir__wm_hook_fn) weir__wm_hook;
#endif

#endif
