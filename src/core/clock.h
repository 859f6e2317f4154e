// Clocks. weir__now_ns() stamps every published event, so it sits on
// the hot path: see clock_tsc.c and docs/core.md ("Event time").
#ifndef WEIR_CORE_CLOCK_H
#define WEIR_CORE_CLOCK_H

#include <stdint.h>

// The contract of weir__now_ns(): it agrees with CLOCK_REALTIME, read at
// the same moment, within WEIR__CLOCK_BOUND_NS; after a step of the wall
// clock it may be off by the step for up to WEIR__CLOCK_ANCHOR_NS of
// elapsed (TSC) time, and then agrees again. tests/core/clock_test.c
// holds it to this.
#define WEIR__CLOCK_BOUND_NS 50000
#define WEIR__CLOCK_ANCHOR_NS 1000000

// Unix time in nanoseconds for event stamps: wall-clock time, which
// goes back when the wall clock is stepped back.
int64_t weir__now_ns(void);
// Unix time in nanoseconds straight from clock_gettime().
int64_t weir__realtime_ns(void);
// Monotonic time in nanoseconds, for timers and latencies.
int64_t weir__mono_ns(void);
// Tells the CPU the caller is spinning (x86 `pause`), so a busy-wait
// leaves the pipeline to a sibling hyper-thread; a no-op elsewhere.
void weir__cpu_relax(void);

#ifdef WEIR_TESTING
// A fake time source: while one is set, the stamp clock of every thread
// reads its counter and its clocks from it instead of the hardware.
typedef struct weir__clock_fake {
	uint64_t ticks; // the cycle counter (TSC)
	int64_t  wall;  // CLOCK_REALTIME, unix ns
	int64_t  mono;  // CLOCK_MONOTONIC, ns
} weir__clock_fake;

// Sets (or with NULL clears) the fake source; the fake is borrowed and
// read on every clock call. Restarts the calling thread's calibration.
void weir__clock_test_fake(const weir__clock_fake *fake);
// Steps the real wall clock as weir sees it: @p ns is added to every
// CLOCK_REALTIME reading from now on (0 undoes every step).
void weir__clock_test_step(int64_t ns);
// The fake source, or NULL (for the clock files).
const weir__clock_fake *weir__clock_test_get(void);
// Forgets the calling thread's calibration (defined by the clock file).
void weir__clock_test_reset(void);
#endif

#endif
