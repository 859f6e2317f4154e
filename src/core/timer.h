// Timers of a loop: a binary min-heap on due time.
#ifndef WEIR_CORE_TIMER_H
#define WEIR_CORE_TIMER_H

#include <stddef.h>
#include <stdint.h>

#include <weir/weir.h>

typedef struct weir__timers {
	weir_timer **heap;
	size_t       n;
	size_t       cap;
	weir_timer  *all; // every live timer, freed with the loop
	uint64_t     next_seq;
} weir__timers;

void weir__timers_init(weir__timers *ts);
void weir__timers_fini(weir__timers *ts);
// Milliseconds until the next timer is due (0 if due), -1 if none.
// The clock is read only when a timer is armed: a busy loop runs a pass
// per handful of events, and clock_gettime is not free.
int weir__timers_timeout(weir__timers *ts);
// Runs every due timer.
void weir__timers_run(weir__timers *ts);
// @p fin is called with the timer's arg if the loop is destroyed
// before the timer is stopped (internal timers that hold references).
void weir__timer_set_fin(weir_timer *t, void (*fin)(void *arg));

#endif
