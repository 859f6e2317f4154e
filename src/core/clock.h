// Clocks. weir__now_ns() stamps every published event, so it sits on
// the hot path: see clock_tsc.c.
#ifndef WEIR_CORE_CLOCK_H
#define WEIR_CORE_CLOCK_H

#include <stdint.h>

// Unix time in nanoseconds; never goes backwards within a thread.
int64_t weir__now_ns(void);
// Monotonic time in nanoseconds, for timers and latencies.
int64_t weir__mono_ns(void);
// Tells the CPU the caller is spinning (x86 `pause`), so a busy-wait
// leaves the pipeline to a sibling hyper-thread; a no-op elsewhere.
void weir__cpu_relax(void);

#endif
