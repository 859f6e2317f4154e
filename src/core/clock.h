// Clocks. weir__now_ns() stamps every published event, so it sits on
// the hot path: see clock_tsc.c.
#ifndef WEIR_CORE_CLOCK_H
#define WEIR_CORE_CLOCK_H

#include <stdint.h>

// Unix time in nanoseconds for event stamps (the TSC clock never goes
// backwards within a thread; clock_gettime may, on a clock step).
int64_t weir__now_ns(void);
// Unix time in nanoseconds straight from clock_gettime().
int64_t weir__realtime_ns(void);
// Monotonic time in nanoseconds, for timers and latencies.
int64_t weir__mono_ns(void);
// Tells the CPU the caller is spinning (x86 `pause`), so a busy-wait
// leaves the pipeline to a sibling hyper-thread; a no-op elsewhere.
void weir__cpu_relax(void);

#endif
