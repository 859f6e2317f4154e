// Watermarks of a subscription's queue: the pressure and drain
// transitions and their callbacks.
#ifndef WEIR_CORE_WATERMARK_H
#define WEIR_CORE_WATERMARK_H

#include <stdatomic.h>

#include <weir/weir.h>

// The state word, weir_subscr.wm (watermark.c has the design notes).
enum {
	WEIR__WM_IDLE      = 0, // no pressure owed a drain
	WEIR__WM_RAISING   = 1, // a thread is delivering on_pressure
	WEIR__WM_PRESSURED = 2, // pressure delivered, drain not yet
	WEIR__WM_LOWERING  = 3  // a thread is delivering on_drain
};

// After an event entered the queue of @p sub, which has watermarks:
// raises the pressure if the depth is at the high watermark.
void weir__watermark_pushed(weir_subscr *sub);
// After an event left the queue of @p sub, which has watermarks:
// delivers the drain if pressured and the depth is at the low one.
void weir__watermark_popped(weir_subscr *sub);

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
